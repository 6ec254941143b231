"""Accounts from AWS Organizations: the gateway's reads and the services, on moto's
Organizations API (in-process), seeded like the sandbox's organization."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from moto import mock_aws
from moto.iam.models import IAMBackend

from grants import aws
from grants.aws import sandbox
from grants.models import AccessMethod, AuditAction, AuditEvent, AuditOutcome, AwsAccount, OrgStatus
from grants.services import authz
from grants.services import organization as org

from .conftest import _init_sqs_managed_policies, make_account
from .test_authorization import role_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def org_world(monkeypatch: pytest.MonkeyPatch) -> Iterator[sandbox.SandboxWorld]:
    """In-process moto seeded like `make run`: the example accounts and the organization;
    the portal's default chain is the management account's xacct-portal user."""
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setattr(IAMBackend, "_init_aws_policies", _init_sqs_managed_policies)
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


@pytest.fixture
def management(org_world) -> AwsAccount:  # type: ignore[no-untyped-def]
    return make_account(
        account_id=sandbox.MANAGEMENT_ACCOUNT_ID,
        name="management",
        owner_email="management@example.com",
        access_method=AccessMethod.DEFAULT_CHAIN,
        hub_role_name="",
    )


def organizations_client() -> Any:
    """Plain boto3 as the management account (moto's default account)."""
    return boto3.client(
        "organizations",
        region_name="us-east-1",
        aws_access_key_id="seed",
        aws_secret_access_key="seed",
    )


def answer_error(operation: str, code: str, message: str, status: int = 400) -> None:
    """AWS answers `operation` with this error (every attempt: it goes through retries)."""

    def handler(**kwargs: Any) -> Any:
        http = AWSResponse("https://organizations.us-east-1.amazonaws.com/", status, {}, None)
        return http, {
            "Error": {"Code": code, "Message": message, "Type": "Sender"},
            "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "req-org-1"},
        }

    aws.reset()  # clients copy the session's handlers when made: make them anew
    aws.gateway().events.register(f"before-call.organizations.{operation}", handler)


# --- the gateway ---------------------------------------------------------------------


def test_the_tree_places_every_account_under_its_ou_with_name_and_entity_paths(
    org_world, management
) -> None:  # type: ignore[no-untyped-def]
    tree = aws.organization_tree(management.access())
    paths = {account.account_id: account.ou_path for account in tree.accounts}
    assert paths == {
        "123456789012": "Root",
        "111122223333": "Root/Workloads/Prod",
        "555566667777": "Root/Workloads/Prod",
        "444455556666": "Root/Workloads/Dev",
        "777788889999": "Root/Vendors",
    }
    ids = org_world.unit_ids
    hoge = next(a for a in tree.accounts if a.account_id == "444455556666")
    assert hoge.entity_path == (
        f"{org_world.organization_id}/{ids['']}/{ids['Workloads']}/{ids['Workloads/Dev']}/"
    )
    assert hoge.email == "hoge@example.com" and hoge.status == "ACTIVE"
    assert [unit.path for unit in tree.units] == [
        "Root",
        "Root/Vendors",
        "Root/Workloads",
        "Root/Workloads/Dev",
        "Root/Workloads/Prod",
    ]
    assert tree.organization.management_account_id == "123456789012"


def test_every_page_of_a_large_ou_is_read(org_world, management) -> None:  # type: ignore[no-untyped-def]
    # AWS (and moto) answer ListAccountsForParent 20 accounts a page at most.
    client = organizations_client()
    vendors = org_world.unit_ids["Vendors"]
    root = org_world.unit_ids[""]
    for n in range(23):
        account_id = client.create_account(AccountName=f"bulk-{n}", Email=f"bulk{n}@example.com")[
            "CreateAccountStatus"
        ]["AccountId"]
        client.move_account(AccountId=account_id, SourceParentId=root, DestinationParentId=vendors)
    tree = aws.organization_tree(management.access())
    in_vendors = [a for a in tree.accounts if a.ou_path == "Root/Vendors"]
    assert len(in_vendors) == 24


def test_a_failed_read_leaves_the_gateway_as_aws_error(org_world, management) -> None:  # type: ignore[no-untyped-def]
    answer_error("ListAccountsForParent", "TooManyRequestsException", "Rate exceeded")
    with pytest.raises(aws.AwsError) as caught:
        aws.organization_tree(management.access())
    assert caught.value.detail.code == "TooManyRequestsException"
    assert caught.value.detail.operation == "ListAccountsForParent"


# --- listing -------------------------------------------------------------------------


def test_the_listing_says_which_accounts_are_registered(org_world, management, piyo) -> None:  # type: ignore[no-untyped-def]
    listing = org.organization_accounts_list(source=management)
    registered = {
        item.account.account_id: item.registered for item in listing.accounts if item.registered
    }
    assert registered == {"111122223333": piyo, "123456789012": management}
    by_path = dict(listing.units_with_sizes)
    assert {unit.path: size for unit, size in by_path.items()} == {
        "Root": 5,
        "Root/Vendors": 1,
        "Root/Workloads": 3,
        "Root/Workloads/Dev": 1,
        "Root/Workloads/Prod": 2,
    }


def test_a_suspended_account_is_listed_as_suspended(org_world, management) -> None:  # type: ignore[no-untyped-def]
    organizations_client().close_account(AccountId=sandbox.VENDOR_A.account_id)
    listing = org.organization_accounts_list(source=management)
    vendor = next(i for i in listing.accounts if i.account.account_id == "777788889999")
    assert vendor.status == OrgStatus.SUSPENDED


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("ACTIVE", OrgStatus.ACTIVE),
        ("PENDING_CLOSURE", OrgStatus.PENDING_CLOSURE),
        ("SUSPENDED", OrgStatus.SUSPENDED),
        ("CLOSED", OrgStatus.SUSPENDED),
        ("PENDING_ACTIVATION", OrgStatus.ACTIVE),
        ("SOMETHING_NEW", OrgStatus.SUSPENDED),
    ],
)
def test_the_api_state_maps_to_the_record_status(state: str, expected: OrgStatus) -> None:
    assert org.org_status_from_api(state) == expected


def test_a_member_account_that_is_no_delegated_administrator_is_explained(
    org_world, management, piyo
) -> None:  # type: ignore[no-untyped-def]
    answer_error(
        "ListRoots", "AccessDeniedException", "You don't have permissions to access this resource."
    )
    with pytest.raises(org.OrganizationUnavailable) as caught:
        org.organization_accounts_list(source=piyo)
    assert caught.value.detail.code == "AccessDeniedException"
    assert caught.value.detail.request_id == "req-org-1"
    assert "not its management account (123456789012)" in caught.value.explanation
    assert "delegated administrator" in caught.value.explanation


def test_moto_s_member_answer_is_explained_the_same_way(org_world, management, piyo) -> None:  # type: ignore[no-untyped-def]
    # moto lets a member list the roots but has no tree for it (ParentNotFoundException).
    with pytest.raises(org.OrganizationUnavailable) as caught:
        org.organization_accounts_list(source=piyo)
    assert "is a member of organization" in caught.value.explanation


def test_an_account_outside_any_organization_is_explained(moto_aws, piyo) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(org.OrganizationUnavailable) as caught:
        org.organization_accounts_list(source=piyo)
    assert caught.value.detail.code == "AWSOrganizationsNotInUseException"
    assert "is not in an AWS Organization" in caught.value.explanation


def test_a_management_identity_without_read_permissions_is_explained(org_world, management) -> None:  # type: ignore[no-untyped-def]
    answer_error("DescribeOrganization", "AccessDeniedException", "not authorized")
    with pytest.raises(org.OrganizationUnavailable) as caught:
        org.organization_accounts_list(source=management)
    assert "AWSOrganizationsReadOnlyAccess" in caught.value.explanation


# --- registration --------------------------------------------------------------------


def test_registering_an_ou_takes_every_account_below_it(
    org_world, management, django_user_model
) -> None:  # type: ignore[no-untyped-def]
    manager = role_user(django_user_model, authz.ACCOUNT_MANAGERS)
    result = org.organization_accounts_register(
        source=management, ou_id=org_world.unit_ids["Workloads"], actor=manager
    )
    created = {a.account_id: a for a in result.created}
    assert set(created) == {"111122223333", "555566667777", "444455556666"}
    fuga = created["555566667777"]
    assert fuga.name == "fuga"
    assert fuga.owner_email == "fuga@example.com"
    assert fuga.access_method == AccessMethod.HUB_ROLE
    assert fuga.hub_role_name == "OrganizationAccountAccessRole"
    assert fuga.default_region == management.default_region
    assert fuga.ou_path == "Root/Workloads/Prod"
    assert fuga.org_status == OrgStatus.ACTIVE
    assert fuga.org_source == management
    assert fuga.organization_id == org_world.organization_id
    assert not AwsAccount.objects.filter(account_id="777788889999").exists()
    events = AuditEvent.objects.filter(action=AuditAction.ACCOUNT_CREATE, actor=manager)
    assert events.count() == 3
    assert "from organization" in events.get(account=fuga).message


def test_a_registered_account_is_reached_through_its_hub_role(org_world, management) -> None:  # type: ignore[no-untyped-def]
    result = org.organization_accounts_register(
        source=management, account_ids=["777788889999"], actor=None
    )
    vendor = result.created[0]
    identity = aws.caller_identity(vendor.access())
    assert identity.arn.startswith(
        "arn:aws:sts::777788889999:assumed-role/OrganizationAccountAccessRole/"
    )


def test_already_registered_accounts_keep_their_record_and_get_the_organization_facts(
    org_world, management, piyo
) -> None:  # type: ignore[no-untyped-def]
    result = org.organization_accounts_register(
        source=management, account_ids=["111122223333", "555566667777"], actor=None
    )
    assert [a.account_id for a in result.created] == ["555566667777"]
    assert result.updated == [piyo]
    piyo.refresh_from_db()
    assert piyo.name == "piyo" and piyo.hub_role_name == sandbox.HUB_ROLE_NAME
    assert piyo.ou_path == "Root/Workloads/Prod"
    assert AwsAccount.objects.filter(account_id="111122223333").count() == 1


def test_a_name_already_taken_gets_the_account_id(org_world, management) -> None:  # type: ignore[no-untyped-def]
    make_account(account_id="999999999999", name="FUGA", owner_email="", hub_role_name="r")
    result = org.organization_accounts_register(
        source=management, account_ids=["555566667777"], hub_role_name="ReadOnlyHub", actor=None
    )
    assert result.created[0].name == "fuga-555566667777"
    assert result.created[0].hub_role_name == "ReadOnlyHub"


def test_one_bad_choice_registers_nothing(org_world, management) -> None:  # type: ignore[no-untyped-def]
    before = AwsAccount.objects.count()
    with pytest.raises(ValidationError, match="Not in organization"):
        org.organization_accounts_register(
            source=management, account_ids=["555566667777", "000000000001"], actor=None
        )
    organizations_client().close_account(AccountId=sandbox.VENDOR_A.account_id)
    with pytest.raises(ValidationError, match="suspended"):
        org.organization_accounts_register(
            source=management, account_ids=["555566667777", "777788889999"], actor=None
        )
    assert AwsAccount.objects.count() == before


def test_the_management_account_is_not_registered_through_a_hub_role(org_world, management) -> None:  # type: ignore[no-untyped-def]
    # Read from a delegated administrator: the organization's management account is fuga.
    def describe(**kwargs: Any) -> Any:
        http = AWSResponse("https://organizations.us-east-1.amazonaws.com/", 200, {}, None)
        return http, {
            "Organization": {"Id": org_world.organization_id, "MasterAccountId": "555566667777"},
            "ResponseMetadata": {"HTTPStatusCode": 200},
        }

    aws.reset()
    aws.gateway().events.register("before-call.organizations.DescribeOrganization", describe)
    with pytest.raises(ValidationError, match="management account"):
        org.organization_accounts_register(
            source=management, account_ids=["555566667777"], actor=None
        )
    result = org.organization_accounts_register(
        source=management, ou_id=org_world.unit_ids["Workloads/Prod"], actor=None
    )
    assert [a.account_id for a in result.created] == ["111122223333"]
    assert result.skipped == [("555566667777", "the management account")]


def test_an_invalid_hub_role_registers_nothing(org_world, management) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError):
        org.organization_accounts_register(
            source=management,
            ou_id=org_world.unit_ids["Workloads/Prod"],
            hub_role_name="bad name!",
            actor=None,
        )
    assert not AwsAccount.objects.filter(account_id__in=["111122223333", "555566667777"]).exists()


def test_an_ou_skips_suspended_accounts_and_says_so(org_world, management) -> None:  # type: ignore[no-untyped-def]
    organizations_client().close_account(AccountId=sandbox.VENDOR_A.account_id)
    result = org.organization_accounts_register(
        source=management, ou_id=org_world.unit_ids[""], actor=None
    )
    assert {a.account_id for a in result.created} == {
        "111122223333",
        "555566667777",
        "444455556666",
    }
    assert result.updated == [management]
    assert result.skipped == [("777788889999", "suspended")]


def test_nothing_chosen_or_an_unknown_ou_is_refused(org_world, management) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match="Choose accounts"):
        org.organization_accounts_register(source=management, actor=None)
    with pytest.raises(ValidationError, match="No organizational unit"):
        org.organization_accounts_register(source=management, ou_id="ou-zzzz-00000000", actor=None)


def test_the_services_refuse_people_who_may_not_manage_accounts(
    org_world, management, django_user_model
) -> None:  # type: ignore[no-untyped-def]
    viewer = role_user(django_user_model, authz.GRANT_MANAGERS)
    with pytest.raises(PermissionDenied):
        org.organization_accounts_list(source=management, actor=viewer)
    with pytest.raises(PermissionDenied):
        org.organization_accounts_register(
            source=management, ou_id=org_world.unit_ids[""], actor=viewer
        )
    with pytest.raises(PermissionDenied):
        org.organization_sync(source=management, actor=viewer)
    assert AwsAccount.objects.count() == 1


# --- re-sync -------------------------------------------------------------------------


def test_an_account_that_left_is_marked_left_and_kept(org_world, management) -> None:  # type: ignore[no-untyped-def]
    org.organization_accounts_register(
        source=management, ou_id=org_world.unit_ids["Workloads"], actor=None
    )
    organizations_client().remove_account_from_organization(AccountId=sandbox.FUGA.account_id)
    result = org.organization_sync(source=management, actor=None)
    assert [a.account_id for a in result.left] == ["555566667777"]
    fuga = AwsAccount.objects.get(account_id="555566667777")
    assert fuga.org_status == OrgStatus.LEFT
    assert fuga.ou_path == "Root/Workloads/Prod"  # the last place it was seen
    event = AuditEvent.objects.filter(account=fuga, action=AuditAction.ACCOUNT_UPDATE).first()
    assert "marked as left" in event.message
    # A second pass has nothing new to say.
    again = org.organization_sync(source=management, actor=None)
    assert again.left == [] and again.changed == []


def test_a_sync_updates_moved_and_suspended_accounts(org_world, management) -> None:  # type: ignore[no-untyped-def]
    org.organization_accounts_register(
        source=management, ou_id=org_world.unit_ids["Workloads"], actor=None
    )
    org.organization_sync(source=management, actor=None)  # the management account's facts
    client = organizations_client()
    ids = org_world.unit_ids
    client.move_account(
        AccountId="555566667777",
        SourceParentId=ids["Workloads/Prod"],
        DestinationParentId=ids["Workloads/Dev"],
    )
    client.close_account(AccountId="444455556666")
    result = org.organization_sync(source=management, actor=None)
    assert {a.account_id for a in result.changed} == {"555566667777", "444455556666"}
    fuga = AwsAccount.objects.get(account_id="555566667777")
    assert fuga.ou_path == "Root/Workloads/Dev"
    assert fuga.org_entity_path.endswith(f"/{ids['Workloads/Dev']}/")
    assert AwsAccount.objects.get(account_id="444455556666").org_status == OrgStatus.SUSPENDED


def test_a_sync_that_cannot_read_changes_nothing_and_is_audited(org_world, management) -> None:  # type: ignore[no-untyped-def]
    org.organization_accounts_register(
        source=management, ou_id=org_world.unit_ids["Vendors"], actor=None
    )
    answer_error("ListRoots", "AccessDeniedException", "denied")
    result = org.organization_sync(source=management, actor=None)
    assert result.error is not None and result.error.code == "AccessDeniedException"
    assert AwsAccount.objects.get(account_id="777788889999").org_status == OrgStatus.ACTIVE
    failure = AuditEvent.objects.get(outcome=AuditOutcome.FAILURE)
    assert failure.account == management and failure.error_code == "AccessDeniedException"


def test_the_command_syncs_every_source_and_fails_when_one_fails(
    org_world, management, capsys
) -> None:  # type: ignore[no-untyped-def]
    org.organization_accounts_register(
        source=management, ou_id=org_world.unit_ids["Vendors"], actor=None
    )
    organizations_client().remove_account_from_organization(AccountId=sandbox.VENDOR_A.account_id)
    call_command("sync_organizations")
    out = capsys.readouterr().out
    assert "SYNCED   management" in out and "LEFT   vendor-a (777788889999)" in out
    answer_error("ListRoots", "AccessDeniedException", "denied")
    with pytest.raises(SystemExit) as exited:
        call_command("sync_organizations", "--source", "management")
    assert exited.value.code == 1
    assert "FAILED   management: AccessDeniedException" in capsys.readouterr().out


def test_the_sandbox_source_is_the_management_account_and_syncs_the_examples(
    org_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    source = org.sandbox_organization_register(org_world)
    assert source.access_method == AccessMethod.DEFAULT_CHAIN
    assert not AwsAccount.objects.exclude(ou_path="").exists()  # no AWS call yet
    org.organization_sync(source=source, actor=None)
    piyo.refresh_from_db()
    hoge.refresh_from_db()
    assert (piyo.ou_path, hoge.ou_path) == ("Root/Workloads/Prod", "Root/Workloads/Dev")
    assert hoge.org_source == source
    assert list(org.organization_sources()) == [source]
