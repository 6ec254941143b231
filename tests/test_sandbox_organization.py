"""The sandbox's AWS Organization, seen through plain boto3 (in-process and on moto's
server) and through the portal acting as its management account."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from grants import aws
from grants.aws import sandbox
from grants.models import AccessMethod, AwsAccount
from grants.services import organization as org

from .test_organization import org_world

pytestmark = pytest.mark.django_db

__all__ = ["org_world"]  # fixture


def client(service: str, endpoint_url: str | None = None, **keys: str):  # type: ignore[no-untyped-def]
    """Plain boto3 as the management account (the seed's keys are moto's default account).

    A new session each time: boto3's process-wide default session keeps the config file
    it first read, which an earlier test in this process may have pointed elsewhere."""
    return boto3.session.Session().client(
        service,
        region_name="us-east-1",
        endpoint_url=endpoint_url,
        aws_access_key_id=keys.get("access_key", "inspect"),
        aws_secret_access_key=keys.get("secret_key", "inspect"),
    )


def parent_path(organizations, child_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Names from the root down to the child's parent."""
    names: list[str] = []
    while True:
        parent = organizations.list_parents(ChildId=child_id)["Parents"][0]
        if parent["Type"] == "ROOT":
            return ["Root", *reversed(names)]
        unit = organizations.describe_organizational_unit(OrganizationalUnitId=parent["Id"])
        names.append(unit["OrganizationalUnit"]["Name"])
        child_id = parent["Id"]


def assert_the_seeded_organization(endpoint_url: str | None) -> None:
    organizations = client("organizations", endpoint_url)
    found = organizations.describe_organization()["Organization"]
    assert found["MasterAccountId"] == "123456789012"
    assert found["FeatureSet"] == "ALL"
    accounts = {a["Id"]: a for a in organizations.list_accounts()["Accounts"]}
    assert set(accounts) == {
        "123456789012",
        "111122223333",
        "444455556666",
        "555566667777",
        "777788889999",
    }
    assert accounts["111122223333"]["Name"] == "piyo"
    assert accounts["444455556666"]["Email"] == "hoge@example.com"
    assert parent_path(organizations, "111122223333") == ["Root", "Workloads", "Prod"]
    assert parent_path(organizations, "555566667777") == ["Root", "Workloads", "Prod"]
    assert parent_path(organizations, "444455556666") == ["Root", "Workloads", "Dev"]
    assert parent_path(organizations, "777788889999") == ["Root", "Vendors"]
    # The SCP hangs on Workloads/Dev only, and denies assuming roles outside the organization.
    dev = organizations.list_parents(ChildId="444455556666")["Parents"][0]["Id"]
    attached = organizations.list_policies_for_target(
        TargetId=dev, Filter="SERVICE_CONTROL_POLICY"
    )["Policies"]
    # FullAWSAccess hangs on every node, as in AWS.
    assert sorted(p["Name"] for p in attached) == [
        "DenyAssumeRoleOutsideOrganization",
        "FullAWSAccess",
    ]
    deny = next(p for p in attached if p["Name"] == "DenyAssumeRoleOutsideOrganization")
    document = json.loads(organizations.describe_policy(PolicyId=deny["Id"])["Policy"]["Content"])
    (statement,) = document["Statement"]
    assert statement["Effect"] == "Deny" and statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {
        "StringNotEquals": {"aws:ResourceOrgID": "${aws:PrincipalOrgID}"}
    }
    prod = organizations.list_parents(ChildId="111122223333")["Parents"][0]["Id"]
    on_prod = organizations.list_policies_for_target(
        TargetId=prod, Filter="SERVICE_CONTROL_POLICY"
    )["Policies"]
    assert "DenyAssumeRoleOutsideOrganization" not in [p["Name"] for p in on_prod]


def inside(account_id: str, endpoint_url: str | None = None):  # type: ignore[no-untyped-def]
    """A boto3 session in the account, through its OrganizationAccountAccessRole."""
    creds = client("sts", endpoint_url).assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole",
        RoleSessionName="inspect",
    )["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name="us-east-1",
    )


def assert_the_app_role(endpoint_url: str | None) -> None:
    iam = inside("444455556666", endpoint_url).client("iam", endpoint_url=endpoint_url)
    role = iam.get_role(RoleName="hoge-app-role")["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ]
    assert iam.list_role_policies(RoleName="hoge-app-role")["PolicyNames"] == []
    assert iam.list_attached_role_policies(RoleName="hoge-app-role")["AttachedPolicies"] == []
    profile = iam.get_instance_profile(InstanceProfileName="hoge-app-role")["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == ["hoge-app-role"]


def test_the_in_process_seed_builds_the_organization(org_world) -> None:  # type: ignore[no-untyped-def]
    assert_the_seeded_organization(None)
    assert_the_app_role(None)
    # piyo and hoge keep everything else the seed gives them.
    queues = inside("111122223333").client("sqs", region_name=sandbox.REGION).list_queues()
    assert len(queues["QueueUrls"]) == 3


def test_new_member_accounts_get_a_working_hub_role(org_world) -> None:  # type: ignore[no-untyped-def]
    for account_id in ("555566667777", "777788889999"):
        iam = inside(account_id).client("iam")
        names = iam.list_role_policies(RoleName="OrganizationAccountAccessRole")["PolicyNames"]
        assert names == ["administrator"], account_id


def test_without_the_organization_flag_no_organization_is_made(aws_world) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as caught:
        client("organizations").describe_organization()
    assert caught.value.response["Error"]["Code"] == "AWSOrganizationsNotInUseException"


def test_an_earlier_organization_leaves_no_membership_behind(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from moto import mock_aws
    from moto.organizations.models import organizations_backends

    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "false")
    with mock_aws():
        sandbox.seed(None, organization=True)
        assert "444455556666" in organizations_backends.master_accounts
    with mock_aws():
        sandbox.seed(None)
        hoge = inside("444455556666").client("organizations")
        with pytest.raises(ClientError) as caught:
            hoge.describe_organization()
        assert caught.value.response["Error"]["Code"] == "AWSOrganizationsNotInUseException"


@pytest.fixture
def org_server(org_sandbox_server) -> str:  # type: ignore[no-untyped-def]
    """moto's server seeded as `make run` seeds it, access control on; the portal acts as
    the sandbox's xacct-portal user (its profile). Its endpoint URL."""
    return org_sandbox_server.endpoint_url


def test_the_server_seed_builds_the_same_organization(org_server) -> None:  # type: ignore[no-untyped-def]
    sandbox.disable_access_control(org_server)  # inspect with any key
    assert_the_seeded_organization(org_server)
    assert_the_app_role(org_server)


def test_the_management_account_is_a_usable_source_with_access_control_on(
    org_server, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    source = org.sandbox_organization_register(sandbox.SandboxWorld(endpoint_url=org_server))
    assert source.account_id == "123456789012"
    assert source.access_method == AccessMethod.DEFAULT_CHAIN
    org.organization_sync(source=source, actor=None)
    listing = org.organization_accounts_list(source=source)
    assert {item.account.name for item in listing.accounts} == {
        "master",
        "piyo",
        "hoge",
        "fuga",
        "vendor-a",
    }
    hoge.refresh_from_db()
    assert hoge.ou_path == "Root/Workloads/Dev" and hoge.org_source == source
    result = org.organization_accounts_register(
        source=source, account_ids=["555566667777"], actor=None
    )
    fuga = result.created[0]
    assert aws.caller_identity(fuga.access()).account_id == "555566667777"
    assert AwsAccount.objects.filter(org_source=source).count() == 4


def test_discovery_reads_the_management_accounts_roles_with_access_control_on(
    org_server,
) -> None:  # type: ignore[no-untyped-def]
    from grants.services.discovery import account_discover

    source = org.sandbox_organization_register(sandbox.SandboxWorld(endpoint_url=org_server))
    roles = account_discover(account=source)  # raises AwsError (AccessDenied) without iam reads
    assert isinstance(roles, list)
