"""Test access for a role grantee (issue 14, item 4): live as the role only with a profile.

Without a profile holding the role's credentials, Test access cannot act as the role:
it says so, runs the live calls as the portal (labelled as such) or nothing at all
for an external account, and names the fix. With a profile that becomes the role
(role_arn + source_profile here, as credential_source would on an EC2 instance), the
live calls run as the role.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from grants import aws
from grants.aws import sandbox
from grants.models import AccessMethod, VerificationOutcome

from .test_verification_pipeline import ROLE_ARN, iam, provisioned, verify

pytestmark = pytest.mark.django_db

APP_ROLE = "hoge-app-role"
APP_ROLE_ARN = f"arn:aws:iam::444455556666:role/{APP_ROLE}"
EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def app_role(hoge) -> None:  # type: ignore[no-untyped-def]
    iam(hoge, "create_role", RoleName=APP_ROLE, AssumeRolePolicyDocument=json.dumps(EC2_TRUST))


def role_grant(piyo, hoge, **overrides: Any):  # type: ignore[no-untyped-def]
    return provisioned(piyo, hoge, grantee_type="role", grantee_name=APP_ROLE, **overrides)


def test_without_a_profile_the_live_test_runs_as_the_portal_and_says_it_is_not_the_role(
    aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    app_role(hoge)
    verification, steps = verify(role_grant(piyo, hoge))
    assert verification.outcome == VerificationOutcome.PASSED_PORTAL
    assert "not the grantee role hoge-app-role" in verification.acted_as
    assert "needs a grantee profile holding its credentials" in verification.acted_as
    notes = " ".join(steps["assume"]["notes"])
    assert "Test access cannot run live as the role hoge-app-role" in notes
    # The role trusts EC2: its credentials come from the instance metadata.
    assert (
        f"role_arn = {APP_ROLE_ARN} with credential_source = Ec2InstanceMetadata where the "
        "portal runs as ec2.amazonaws.com does"
    ) in notes
    assert "run the hand-off kit's test where the role lives" in notes
    # Step 3 is still decided statically, from the role's own policies.
    assert steps["user_policy"]["status"] == "pass"
    assert "role chaining" in " ".join(steps["user_policy"]["notes"])


def test_a_user_grantee_without_a_profile_gets_no_role_wording(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    verification, steps = verify(provisioned(piyo, hoge))
    assert verification.outcome == VerificationOutcome.PASSED_PORTAL
    assert "grantee role" not in verification.acted_as
    assert "cannot run live as the role" not in " ".join(steps["assume"]["notes"])


def test_an_external_role_grantee_without_a_profile_is_checked_statically_only(
    aws_world, piyo
) -> None:  # type: ignore[no-untyped-def]
    from .conftest import make_account

    outside = make_account(
        account_id=sandbox.HOGE.account_id,
        name="hoge",
        access_method=AccessMethod.EXTERNAL,
        hub_role_name="",
    )
    verification, steps = verify(role_grant(piyo, outside))
    assert verification.outcome == VerificationOutcome.STATIC_ONLY
    step = steps["assume"]
    assert step["status"] == "skip"
    assert step["summary"].startswith(
        "Not run: Test access cannot run live as the role hoge-app-role of an external account"
    )
    assert "credential_source" in step["fix"]
    assert verification.queue_urls == []


@pytest.fixture
def role_profile(aws_world, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:  # type: ignore[no-untyped-def]
    """A profile on the portal host that becomes hoge-app-role (from hoge-app's keys)."""
    config, credentials = sandbox.write_aws_files(aws_world, tmp_path / "aws")
    with config.open("a") as out:
        out.write(
            f"\n[profile {APP_ROLE}]\nrole_arn = {APP_ROLE_ARN}\n"
            f"source_profile = {sandbox.GRANTEE_PROFILE}\nregion = {sandbox.REGION}\n"
        )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    aws.reset()
    return APP_ROLE


def test_with_a_profile_holding_the_roles_credentials_it_runs_as_the_role(
    aws_world, piyo, hoge, role_profile
) -> None:  # type: ignore[no-untyped-def]
    from moto.sts.models import sts_backends

    app_role(hoge)
    signers: list[str] = []

    def seen(request: Any, **kwargs: Any) -> None:
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
        if "piyo-sqs" in body:
            signers.append(request.headers["Authorization"].decode().split("Credential=")[1][:20])

    aws.gateway().events.register("before-send.sts.AssumeRole", seen)
    verification, steps = verify(role_grant(piyo, hoge, grantee_profile=role_profile))
    assert verification.outcome == VerificationOutcome.PASSED_GRANTEE, steps
    assert verification.acted_as == f"The grantee (profile {APP_ROLE})"
    assert "cannot run live as the role" not in " ".join(steps["assume"]["notes"])
    assert verification.assumed_role_arn.startswith(
        f"arn:aws:sts::111122223333:assumed-role/{ROLE_ARN.rsplit('/', 1)[1]}/"
    )
    # The piyo role was assumed with credentials moto issued for hoge-app-role.
    assert signers
    session = sts_backends["444455556666"]["aws"].get_assumed_role_from_access_key(signers[-1])
    assert session is not None and session.role_arn == APP_ROLE_ARN
