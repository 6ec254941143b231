"""Test access with AWS Organizations (moto's Organizations API, in-process).

The organization is built like the sandbox's (issue 14, item 6): the management
account 123456789012 (the portal's own identity), OUs Workloads, Workloads/Dev and
Workloads/Prod, hoge in Workloads/Dev and piyo in Workloads/Prod; accounts are
registered with the management account as their org_source. moto never enforces
SCPs, so the verdicts here come from the portal's reading of them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from grants import aws
from grants.aws import operations, sandbox
from grants.models import AccessMethod, AwsAccount, OrgStatus, VerificationOutcome

from .conftest import make_account
from .test_verification_pipeline import ROLE_ARN, iam, provisioned, verify

pytestmark = pytest.mark.django_db

MANAGEMENT = "123456789012"
DENY_OUTSIDE_ORGANIZATION = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "DenyAssumeRoleOutsideOrganization",
            "Effect": "Deny",
            "Action": "sts:AssumeRole",
            "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:ResourceOrgID": "${aws:PrincipalOrgID}"}},
        }
    ],
}
DENY_ASSUME = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "NoAssume", "Effect": "Deny", "Action": "sts:AssumeRole", "Resource": "*"}
    ],
}
DENY_LIST_QUEUES = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Deny", "Action": "sqs:ListQueues", "Resource": "*"}],
}
ONLY_S3 = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}


@dataclass
class Organization:
    management: AwsAccount
    organization_id: str
    units: dict[str, str] = field(default_factory=dict)  # "" for the root, "Workloads/Dev"…

    def call(self, operation: str, **params: Any) -> Any:
        return aws.core.call(self.management.access(), "organizations", operation, **params)

    def scp(self, name: str, document: dict, *, at: str) -> str:
        """Create an SCP and attach it to the OU path `at` ("" the root, or an account ID)."""
        policy_id = self.call(
            "create_policy",
            Content=json.dumps(document),
            Description=name,
            Name=name,
            Type="SERVICE_CONTROL_POLICY",
        )["Policy"]["PolicySummary"]["Id"]
        self.call("attach_policy", PolicyId=policy_id, TargetId=self.units.get(at, at))
        return policy_id

    def register(self, account: AwsAccount, path: str) -> None:
        """Record the account as an organization sync would: org_source, IDs and path."""
        units = path.split("/")
        entity = [
            self.units[""],
            *(self.units["/".join(units[: n + 1])] for n in range(len(units))),
        ]
        account.org_source = self.management
        account.organization_id = self.organization_id
        account.ou_path = f"Root/{path}"
        account.org_entity_path = "/".join([self.organization_id, *entity]) + "/"
        account.org_status = OrgStatus.ACTIVE
        account.save()


def _forget_memberships() -> None:
    # moto keeps a process-wide map of member accounts that outlives mock_aws.
    from moto.organizations.models import organizations_backends

    organizations_backends.master_accounts.clear()


@pytest.fixture
def organization(aws_world, piyo, hoge, monkeypatch: pytest.MonkeyPatch) -> Iterator[Organization]:  # type: ignore[no-untyped-def]
    """hoge in Workloads/Dev and piyo in Workloads/Prod of the management account's
    organization (moto draws member IDs at random: its generator is handed ours)."""
    from moto.organizations import utils

    _forget_memberships()
    operations.scp_cache_clear()
    management = make_account(
        account_id=MANAGEMENT,
        name="management",
        access_method=AccessMethod.DEFAULT_CHAIN,
        hub_role_name="",
    )
    org = Organization(management, "")
    org.organization_id = org.call("create_organization", FeatureSet="ALL")["Organization"]["Id"]
    org.units[""] = org.call("list_roots")["Roots"][0]["Id"]
    for path in ("Workloads", "Workloads/Dev", "Workloads/Prod"):
        parent, _, name = path.rpartition("/")
        org.units[path] = org.call(
            "create_organizational_unit", ParentId=org.units[parent], Name=name
        )["OrganizationalUnit"]["Id"]
    pending = [sandbox.HOGE.account_id, sandbox.PIYO.account_id]
    drawn = utils.make_random_account_id
    monkeypatch.setattr(
        utils, "make_random_account_id", lambda: pending.pop(0) if pending else drawn()
    )
    for account, path in ((hoge, "Workloads/Dev"), (piyo, "Workloads/Prod")):
        org.call("create_account", AccountName=account.name, Email=account.owner_email)
        org.call(
            "move_account",
            AccountId=account.account_id,
            SourceParentId=org.units[""],
            DestinationParentId=org.units[path],
        )
        org.register(account, path)
    try:
        yield org
    finally:
        _forget_memberships()
        operations.scp_cache_clear()


def take_out(org: Organization, account: AwsAccount) -> None:
    """The account leaves the organization (and its record says so)."""
    org.call("remove_account_from_organization", AccountId=account.account_id)
    account.organization_id = ""
    account.ou_path = ""
    account.org_entity_path = ""
    account.org_status = OrgStatus.LEFT
    account.save()


def notes(step: dict) -> str:
    return " ".join(step["notes"])


# --- the seeded SCP's shape: hoge may not assume roles outside the organization ---------


def test_a_role_outside_the_organization_is_denied_by_the_scp_on_the_accounts_ou(
    organization, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    policy_id = organization.scp(
        "DenyAssumeRoleOutsideOrganization", DENY_OUTSIDE_ORGANIZATION, at="Workloads/Dev"
    )
    take_out(organization, piyo)
    verification, steps = verify(provisioned(piyo, hoge))
    assert verification.outcome == VerificationOutcome.FAILED
    step = steps["user_policy"]
    assert step["status"] == "fail"
    assert step["summary"] == (
        f"An explicit Deny in the service control policy DenyAssumeRoleOutsideOrganization "
        f"({policy_id}) attached to OU Workloads/Dev blocks sts:AssumeRole on {ROLE_ARN}."
    )
    assert 'Statement "DenyAssumeRoleOutsideOrganization"' in step["explanation"]
    assert step["fix"] == (
        "Ask the organization's administrators to change the SCP "
        f"DenyAssumeRoleOutsideOrganization ({policy_id}) attached to OU Workloads/Dev so "
        "that it allows this call, or to move the account out of OU Workloads/Dev."
    )
    assert "read through management (123456789012), the account it was registered from" in notes(
        step
    )
    # moto let the live call through: the page says the stand-in does not enforce SCPs.
    assert "does not enforce service control policies" in notes(steps["assume"])
    # The trusting account, outside any organization, has none.
    assert "piyo is not in an AWS Organization: no SCPs apply." in notes(steps["permissions"])


def test_a_role_inside_the_organization_passes_the_same_scp(organization, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    organization.scp(
        "DenyAssumeRoleOutsideOrganization", DENY_OUTSIDE_ORGANIZATION, at="Workloads/Dev"
    )
    verification, steps = verify(provisioned(piyo, hoge))
    assert verification.outcome == VerificationOutcome.PASSED_PORTAL, steps
    assert steps["user_policy"]["status"] == "pass"
    assert "DenyAssumeRoleOutsideOrganization" in notes(steps["user_policy"])


def test_an_scp_inherited_from_a_parent_ou_is_named_with_that_ou(organization, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    policy_id = organization.scp("no-assume", DENY_ASSUME, at="Workloads")
    verification, steps = verify(provisioned(piyo, hoge))
    assert verification.outcome == VerificationOutcome.FAILED
    assert (
        f"no-assume ({policy_id}) attached to OU Workloads blocks"
        in (steps["user_policy"]["summary"])
    )


def test_an_ou_whose_scps_allow_nothing_for_the_call_is_an_implicit_deny(
    organization, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    dev = organization.units["Workloads/Dev"]
    organization.scp("s3-only", ONLY_S3, at="Workloads/Dev")
    organization.call("detach_policy", PolicyId="p-FullAWSAccess", TargetId=dev)
    verification, steps = verify(provisioned(piyo, hoge))
    assert verification.outcome == VerificationOutcome.FAILED
    step = steps["user_policy"]
    assert step["summary"] == (
        "No service control policy attached to OU Workloads/Dev allows sts:AssumeRole."
    )
    assert "implicit deny" in step["explanation"]
    assert "FullAWSAccess" in step["fix"]


def test_the_trusting_accounts_scps_bound_the_roles_list_queues(organization, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    policy_id = organization.scp("no-listing", DENY_LIST_QUEUES, at="Workloads/Prod")
    verification, steps = verify(provisioned(piyo, hoge))
    assert verification.outcome == VerificationOutcome.FAILED
    step = steps["permissions"]
    assert step["status"] == "fail"
    assert (
        f"no-listing ({policy_id}) attached to OU Workloads/Prod blocks sqs:ListQueues"
        in (step["summary"])
    )
    assert "move the account out of OU Workloads/Prod" in step["fix"]
    assert steps["user_policy"]["status"] == "pass"


def test_an_scp_attached_to_the_account_itself_is_named_so(organization, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    policy_id = organization.scp("no-assume", DENY_ASSUME, at=hoge.account_id)
    _, steps = verify(provisioned(piyo, hoge))
    step = steps["user_policy"]
    assert f"no-assume ({policy_id}) attached to the account hoge (444455556666)" in step["summary"]
    assert step["fix"].endswith("or to detach it from the account.")


def test_ou_names_come_from_the_api_when_the_record_has_no_path(organization, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    hoge.ou_path = ""
    hoge.save()
    organization.scp("no-assume", DENY_ASSUME, at="Workloads/Dev")
    _, steps = verify(provisioned(piyo, hoge))
    assert "attached to OU Workloads/Dev blocks" in steps["user_policy"]["summary"]


# --- when the portal cannot read the organization -------------------------------------


def test_scps_the_portal_cannot_read_are_said_not_read_never_none(organization, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    organization.scp(
        "DenyAssumeRoleOutsideOrganization", DENY_OUTSIDE_ORGANIZATION, at="Workloads/Dev"
    )
    hoge.org_source = None  # registered by hand: only its own access is left
    hoge.organization_id = hoge.ou_path = hoge.org_entity_path = ""
    hoge.org_status = ""
    hoge.save()
    verification, steps = verify(provisioned(piyo, hoge))
    text = notes(steps["user_policy"])
    assert "SCPs not read (" in text
    assert "they are not accounted for" in text
    assert "no SCPs" not in text
    assert verification.outcome == VerificationOutcome.PASSED_PORTAL


def test_a_reader_that_may_not_read_hands_over_to_the_next(organization, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    refused = make_account(
        account_id="999900001111",
        name="refusing-admin",
        access_method=AccessMethod.HUB_ROLE,
        hub_role_name=sandbox.HUB_ROLE_NAME,
    )
    hoge.org_source = refused  # its reads fail: moto has no organization there
    hoge.save()
    piyo.org_source = organization.management
    piyo.save()  # the management account reads piyo's organization: a reader for hoge too
    organization.scp("no-assume", DENY_ASSUME, at="Workloads/Dev")
    _, steps = verify(provisioned(piyo, hoge))
    assert "no-assume" in steps["user_policy"]["summary"], steps["user_policy"]["notes"]
    assert "read through management (123456789012), which reads organization" in notes(
        steps["user_policy"]
    )


def test_scp_documents_are_read_once_within_the_cache_time(organization, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    organization.scp("no-listing", DENY_LIST_QUEUES, at="Workloads/Prod")
    described: list[str] = []
    client = aws.gateway().client(organization.management.access(), "organizations")
    client.meta.events.register(
        "provide-client-params.organizations.DescribePolicy",
        lambda params, **kwargs: described.append(params["PolicyId"]),
    )
    grant = provisioned(piyo, hoge)
    verify(grant)
    first = sorted(described)
    assert "p-FullAWSAccess" in first
    verify(grant)
    assert sorted(described) == first


# --- organization-aware trust ----------------------------------------------------------


def trust_inside(org_id: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "HogeInsideMyOrganization",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": org_id}},
            }
        ],
    }


def with_trust(piyo, hoge, document: dict):  # type: ignore[no-untyped-def]
    grant = provisioned(piyo, hoge)
    iam(
        piyo,
        "update_assume_role_policy",
        RoleName=grant.role_name,
        PolicyDocument=json.dumps(document),
    )
    return grant


def test_a_trust_on_the_organization_passes_for_a_member(organization, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = with_trust(piyo, hoge, trust_inside(organization.organization_id))
    verification, steps = verify(grant)
    assert steps["trust"]["status"] == "pass"
    assert verification.outcome == VerificationOutcome.PASSED_PORTAL


def test_a_trust_on_another_organization_fails_explaining_the_condition(
    organization, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    grant = with_trust(piyo, hoge, trust_inside("o-zz99zz99zz"))
    verification, steps = verify(grant)
    step = steps["trust"]
    assert step["status"] == "fail"
    assert "admits only principals of a given organization or OU" in step["summary"]
    assert "aws:PrincipalOrgID" in step["explanation"]
    assert "the ID of the caller's organization" in step["explanation"]
    assert verification.outcome == VerificationOutcome.FAILED


def test_a_trust_on_the_organization_is_undetermined_when_membership_is_unread(
    organization, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    hoge.org_source = None
    hoge.organization_id = hoge.ou_path = hoge.org_entity_path = ""
    hoge.org_status = ""
    hoge.save()
    # Only hoge's own access is left, which here may not even describe its organization,
    # and the record holds nothing: hoge's organization stays unknown.
    refuse_describe_organization()
    grant = with_trust(piyo, hoge, trust_inside(organization.organization_id))
    verification, steps = verify(grant)
    step = steps["trust"]
    assert step["status"] == "warn"
    assert step["summary"] == (
        "The verdict on sts:AssumeRole depends on organization membership the portal could "
        "not read."
    )
    assert 'Statement "HogeInsideMyOrganization"' in step["explanation"]
    assert "Register the organization's management account" in step["fix"]
    assert verification.outcome != VerificationOutcome.FAILED


def test_an_scp_turning_on_the_roles_organization_is_undetermined_when_it_is_unread(
    organization, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    organization.scp(
        "DenyAssumeRoleOutsideOrganization", DENY_OUTSIDE_ORGANIZATION, at="Workloads/Dev"
    )
    # piyo registered by hand: only its own access reads its organization, which moto
    # (like AWS for a member) does not let it walk, nor here describe; its record holds
    # nothing.
    refuse_describe_organization()
    piyo.org_source = None
    piyo.organization_id = piyo.ou_path = piyo.org_entity_path = ""
    piyo.org_status = ""
    piyo.save()
    verification, steps = verify(provisioned(piyo, hoge))
    step = steps["user_policy"]
    assert step["status"] == "warn"
    assert step["summary"] == (
        "The verdict on sts:AssumeRole depends on organization membership the portal could "
        "not read."
    )
    assert "aws:ResourceOrgID" in step["explanation"]
    assert 'Statement "DenyAssumeRoleOutsideOrganization"' in step["explanation"]
    assert "SCPs not read (" in " ".join(steps["permissions"]["notes"])
    assert verification.outcome != VerificationOutcome.FAILED


def refuse_describe_organization() -> None:
    """DescribeOrganization answers AccessDeniedException to clients made from now on
    (the management account's, made by the fixture, still reads)."""
    from botocore.awsrequest import AWSResponse

    def deny(**kwargs: Any) -> Any:
        http = AWSResponse("https://organizations.us-east-1.amazonaws.com/", 400, {}, None)
        return http, {
            "Error": {"Code": "AccessDeniedException", "Message": "no", "Type": "Sender"},
            "ResponseMetadata": {"HTTPStatusCode": 400, "RequestId": "r-1"},
        }

    aws.gateway().events.register("before-call.organizations.DescribeOrganization", deny)


def test_a_member_that_may_only_describe_its_organization_still_gives_its_id(
    organization, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    hoge.org_source = None  # registered by hand, its record knows nothing of the organization
    hoge.organization_id = hoge.ou_path = hoge.org_entity_path = ""
    hoge.org_status = ""
    hoge.save()
    grant = with_trust(piyo, hoge, trust_inside(organization.organization_id))
    verification, steps = verify(grant)
    assert steps["trust"]["status"] == "pass"
    text = notes(steps["user_policy"])
    assert "SCPs not read (" in text
    assert f"It is in organization {organization.organization_id}." in text
    assert verification.outcome == VerificationOutcome.PASSED_PORTAL
