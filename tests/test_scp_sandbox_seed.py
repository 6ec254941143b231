"""The sandbox's own organization (sandbox.seed(organization=True), in-process): a grant
denied by its seeded SCP is explained as such (issue 14, "Done when").

The seed puts hoge in Workloads/Dev under an SCP that denies sts:AssumeRole on roles
outside the organization; a role in an account outside the organization, assumed from
hoge, is therefore denied by that SCP, while a role in piyo (Workloads/Prod) is not.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from moto import mock_aws
from moto.iam.models import IAMBackend

from grants import aws
from grants.aws import operations, sandbox
from grants.models import AwsAccount, VerificationOutcome
from grants.services.organization import organization_sync, sandbox_organization_register

from .conftest import _init_sqs_managed_policies, make_account
from .test_services_grants import ROLE
from .test_verification_pipeline import provisioned, verify

pytestmark = pytest.mark.django_db

OUTSIDER = "999988887777"


@pytest.fixture
def org_world(monkeypatch: pytest.MonkeyPatch) -> Iterator[sandbox.SandboxWorld]:
    """In-process moto seeded like the sandbox with its organization, access control off."""
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setattr(IAMBackend, "_init_aws_policies", _init_sqs_managed_policies)
    operations.scp_cache_clear()
    try:
        with mock_aws():
            world = sandbox.seed(None, organization=True)
            access_key, secret_key = world.keys[sandbox.PORTAL_PROFILE]
            monkeypatch.setenv("AWS_ACCESS_KEY_ID", access_key)
            monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret_key)
            aws.reset()
            yield world
    finally:
        sandbox.forget_organizations()
        operations.scp_cache_clear()


@pytest.fixture
def registered(org_world, piyo, hoge) -> AwsAccount:  # type: ignore[no-untyped-def]
    """The management account registered, then a sync records the organization's facts on
    piyo and hoge (org_source, OU path, entity path), as the schedule does."""
    management = sandbox_organization_register(org_world)
    organization_sync(source=management, actor=None)
    return management


def test_a_role_outside_the_organization_assumed_from_hoge_is_denied_by_the_seeded_scp(
    org_world, registered, hoge
) -> None:  # type: ignore[no-untyped-def]
    hoge.refresh_from_db()
    assert hoge.ou_path.endswith("Workloads/Dev")
    outsider = make_account(account_id=OUTSIDER, name="outsider")
    verification, steps = verify(provisioned(outsider, hoge))
    assert verification.outcome == VerificationOutcome.FAILED
    step = steps["user_policy"]
    assert step["status"] == "fail"
    assert step["summary"] == (
        f"An explicit Deny in the service control policy {sandbox.SCP_NAME} ({org_world.scp_id}) "
        f"attached to OU Workloads/Dev blocks sts:AssumeRole on "
        f"arn:aws:iam::{OUTSIDER}:role/{ROLE}."
    )
    assert "move the account out of OU Workloads/Dev" in step["fix"]
    assert "outsider is not in an AWS Organization: no SCPs apply." in " ".join(
        steps["permissions"]["notes"]
    )


def test_a_role_inside_the_organization_assumed_from_hoge_is_allowed_by_the_same_scp(
    org_world, registered, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    piyo.refresh_from_db()
    hoge.refresh_from_db()
    verification, steps = verify(provisioned(piyo, hoge))
    assert verification.outcome == VerificationOutcome.PASSED_PORTAL, steps
    assert sandbox.SCP_NAME in " ".join(steps["user_policy"]["notes"])


@pytest.fixture
def org_server(org_sandbox_server) -> sandbox.SandboxWorld:  # type: ignore[no-untyped-def]
    """The sandbox as `make run` has it: a moto server seeded with the organization,
    access control on, the portal acting as its own user (profile xacct-portal)."""
    return org_sandbox_server.world


def test_in_the_running_sandbox_the_portal_reads_the_seeded_scp_through_management(
    org_server, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    management = sandbox_organization_register(org_server)
    organization_sync(source=management, actor=None)
    piyo.refresh_from_db()
    hoge.refresh_from_db()
    grant = provisioned(piyo, hoge, permission_set="queues", queue_names=["orders"])
    aws.role_policy_put(
        piyo.access(),
        role_name=grant.role_name,
        policy_name=grant.inline_policy_name,
        document=json.dumps(grant.inline_policy),
    )
    verification, steps = verify(grant)
    notes = " ".join(steps["user_policy"]["notes"])
    assert f"{sandbox.SCP_NAME} ({org_server.scp_id}) at OU Workloads/Dev" in notes
    assert "read through management (123456789012)" in notes
    assert verification.outcome == VerificationOutcome.PASSED_PORTAL, steps
