"""The organization pages: list, register, re-sync; the registry's OU path column and filter."""

from __future__ import annotations

import time

import pytest
from botocore.awsrequest import AWSResponse
from django.test import Client
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from grants import aws
from grants.aws import sandbox
from grants.models import AuditAction, AuditEvent, AwsAccount, OrgStatus
from grants.services import authz

from .conftest import make_account
from .test_authorization import role_user
from .test_http_fuzz import FUZZ
from .test_http_fuzz import value as fuzz_value
from .test_organization import management, org_world, organizations_client

pytestmark = pytest.mark.django_db

__all__ = ["management", "org_world"]  # fixtures


def manager_client(django_user_model) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(role_user(django_user_model, authz.ACCOUNT_MANAGERS))
    return client


def test_the_page_lists_the_organization_with_ou_paths_and_status(
    org_world, management, piyo, django_user_model
) -> None:  # type: ignore[no-untyped-def]
    organizations_client().close_account(AccountId=sandbox.VENDOR_A.account_id)
    page = manager_client(django_user_model).get(
        reverse("organization_accounts", args=[management.pk])
    )
    body = page.content.decode()
    assert page.status_code == 200
    assert org_world.organization_id in body
    assert 'data-account-id="555566667777"' in body and "Root/Workloads/Prod" in body
    assert "Suspended" in body
    assert "registered as piyo" in body
    # Only active, unregistered, non-management accounts can be ticked.
    assert 'value="555566667777"' in body and 'value="444455556666"' in body
    assert 'value="111122223333"' not in body
    assert 'value="777788889999"' not in body
    assert 'value="123456789012"' not in body
    assert "Root/Workloads (3 accounts)" in body


def test_registering_chosen_accounts_redirects_with_what_was_done(
    org_world, management, django_user_model
) -> None:  # type: ignore[no-untyped-def]
    client = manager_client(django_user_model)
    response = client.post(
        reverse("organization_register", args=[management.pk]),
        {
            "account_ids": ["555566667777", "444455556666"],
            "hub_role_name": "OrganizationAccountAccessRole",
            "default_region": "eu-west-1",
        },
        follow=True,
    )
    body = response.content.decode()
    assert "Registered 2 account(s)" in body
    fuga = AwsAccount.objects.get(account_id="555566667777")
    assert fuga.default_region == "eu-west-1" and fuga.ou_path == "Root/Workloads/Prod"
    assert "registered as fuga" in body


def test_registering_a_whole_ou(org_world, management, django_user_model) -> None:  # type: ignore[no-untyped-def]
    client = manager_client(django_user_model)
    client.post(
        reverse("organization_register", args=[management.pk]),
        {
            "ou_id": org_world.unit_ids["Workloads"],
            "hub_role_name": "OrganizationAccountAccessRole",
            "default_region": sandbox.REGION,
        },
    )
    assert set(
        AwsAccount.objects.filter(ou_path__startswith="Root/Workloads").values_list(
            "name", flat=True
        )
    ) == {"piyo", "fuga", "hoge"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Choose accounts, an organizational unit, or both."),
        ({"account_ids": ["12345"]}, "Not a 12-digit account ID"),
        ({"ou_id": "Workloads"}, "Not a root or organizational unit ID"),
        ({"account_ids": ["555566667777"], "hub_role_name": "bad name!"}, "hub role"),
        ({"account_ids": ["000000000001"]}, "Not in organization"),
    ],
)
def test_bad_input_registers_nothing_and_says_why(
    org_world, management, django_user_model, data, message
) -> None:  # type: ignore[no-untyped-def]
    posted = {"hub_role_name": "OrganizationAccountAccessRole", "default_region": "us-east-1"}
    posted.update(data)
    response = manager_client(django_user_model).post(
        reverse("organization_register", args=[management.pk]), posted
    )
    assert response.status_code == 200
    body = response.content.decode()
    if message == "hub role":
        assert "is-invalid" in body and 'id="id_hub_role_name"' in body
    else:
        assert message in body
    assert AwsAccount.objects.count() == 1


def test_an_account_that_cannot_read_the_organization_shows_the_error_and_why(
    moto_aws, piyo, django_user_model
) -> None:  # type: ignore[no-untyped-def]
    body = (
        manager_client(django_user_model)
        .get(reverse("organization_accounts", args=[piyo.pk]))
        .content.decode()
    )
    assert 'data-testid="aws-error"' in body
    assert "AWSOrganizationsNotInUseException" in body
    assert "is not in an AWS Organization" in body
    assert 'data-testid="organization-accounts"' not in body


def test_an_empty_organization_says_so(org_world, management, django_user_model) -> None:  # type: ignore[no-untyped-def]
    def no_roots(**kwargs):  # type: ignore[no-untyped-def]
        http = AWSResponse("https://organizations.us-east-1.amazonaws.com/", 200, {}, None)
        return http, {"Roots": [], "ResponseMetadata": {"HTTPStatusCode": 200}}

    aws.reset()
    aws.gateway().events.register("before-call.organizations.ListRoots", no_roots)
    body = (
        manager_client(django_user_model)
        .get(reverse("organization_accounts", args=[management.pk]))
        .content.decode()
    )
    assert 'data-testid="organization-empty"' in body


def test_resync_marks_an_account_that_left(org_world, management, django_user_model) -> None:  # type: ignore[no-untyped-def]
    client = manager_client(django_user_model)
    client.post(
        reverse("organization_register", args=[management.pk]),
        {
            "account_ids": ["777788889999"],
            "hub_role_name": "OrganizationAccountAccessRole",
            "default_region": sandbox.REGION,
        },
    )
    organizations_client().remove_account_from_organization(AccountId="777788889999")
    response = client.post(reverse("organization_sync", args=[management.pk]), follow=True)
    assert "1 marked as left" in response.content.decode()
    vendor = AwsAccount.objects.get(account_id="777788889999")
    assert vendor.org_status == OrgStatus.LEFT
    listing = client.get(reverse("account_list")).content.decode()
    assert "Left the organization" in listing


def test_a_failed_resync_shows_the_explanation(moto_aws, piyo, django_user_model) -> None:  # type: ignore[no-untyped-def]
    response = manager_client(django_user_model).post(
        reverse("organization_sync", args=[piyo.pk]), follow=True
    )
    body = response.content.decode()
    assert "Re-sync failed (AWSOrganizationsNotInUseException)" in body
    assert AuditEvent.objects.filter(action=AuditAction.ACCOUNT_UPDATE, outcome="failure").exists()


@pytest.mark.parametrize("role", [authz.VIEWERS, authz.VERIFIERS, authz.GRANT_MANAGERS])
def test_only_account_managers_may_use_the_organization_pages(
    org_world, management, django_user_model, role
) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(role_user(django_user_model, role))
    assert client.get(reverse("organization_accounts", args=[management.pk])).status_code == 403
    register = client.post(
        reverse("organization_register", args=[management.pk]),
        {"ou_id": org_world.unit_ids[""], "hub_role_name": "X", "default_region": "us-east-1"},
    )
    assert register.status_code == 403
    assert client.post(reverse("organization_sync", args=[management.pk])).status_code == 403
    assert AwsAccount.objects.count() == 1
    detail = client.get(reverse("account_detail", args=[management.pk])).content.decode()
    assert "Organization accounts" not in detail


def test_register_and_sync_answer_post_only(org_world, management, django_user_model) -> None:  # type: ignore[no-untyped-def]
    client = manager_client(django_user_model)
    for name in ("organization_register", "organization_sync"):
        assert client.get(reverse(name, args=[management.pk])).status_code == 405


def test_an_external_account_is_no_source(db, django_user_model) -> None:  # type: ignore[no-untyped-def]
    external = make_account(access_method="external", hub_role_name="")
    response = manager_client(django_user_model).get(
        reverse("organization_accounts", args=[external.pk])
    )
    assert response.status_code == 302 and response.url == external.get_absolute_url()


# --- the registry --------------------------------------------------------------------


def test_the_registry_filters_by_ou_path_prefix(db, user_client) -> None:  # type: ignore[no-untyped-def]
    make_account(account_id="111111111111", name="prod", ou_path="Root/Workloads/Prod")
    make_account(account_id="222222222222", name="dev", ou_path="Root/Workloads/Dev")
    make_account(account_id="333333333333", name="old", ou_path="Root/WorkloadsOld")
    make_account(account_id="444444444444", name="vendor", ou_path="Root/Vendors")
    make_account(account_id="555555555555", name="loose")

    def names(**query: str) -> list[str]:
        page = user_client.get(reverse("account_list"), query)
        return [account.name for account in page.context["page"]]

    assert names(ou="Root/Workloads") == ["dev", "prod"]
    assert names(ou="Root/Workloads/") == ["dev", "prod"]
    assert names(ou="Root/Workloads/Dev") == ["dev"]
    assert names(ou="Root") == ["dev", "old", "prod", "vendor"]
    assert names(ou="Root/Nowhere") == []
    assert names() == ["dev", "loose", "old", "prod", "vendor"]
    body = user_client.get(reverse("account_list")).content.decode()
    for option in ("Root", "Root/Workloads", "Root/Workloads/Dev", "Root/WorkloadsOld"):
        assert f'<option value="{option}"' in body
    empty = user_client.get(reverse("account_list"), {"ou": "Root/Nowhere"}).content.decode()
    assert "No account matches in OU path Root/Nowhere" in empty


def test_the_registry_shows_the_ou_path_and_a_non_active_status(db, user_client) -> None:  # type: ignore[no-untyped-def]
    make_account(ou_path="Root/Workloads/Prod", org_status=OrgStatus.SUSPENDED)
    make_account(account_id="999999999999", name="active-one", org_status=OrgStatus.ACTIVE)
    make_account(account_id="888888888888", name="not-from-an-organization")
    body = user_client.get(reverse("account_list")).content.decode()
    assert "Root/Workloads/Prod" in body
    assert 'class="badge text-bg-warning" data-testid="account-org-status">Suspended<' in body
    assert 'class="badge text-bg-success" data-testid="account-org-status">Active<' in body
    assert body.count('data-testid="account-org-status"') == 2


def test_the_account_page_shows_the_organization_facts(org_world, management, user_client) -> None:  # type: ignore[no-untyped-def]
    from grants.services import organization as org

    org.organization_sync(source=management, actor=None)
    management.refresh_from_db()
    body = user_client.get(management.get_absolute_url()).content.decode()
    assert org_world.organization_id in body
    assert 'data-testid="account-ou">Root<' in body
    assert management.org_entity_path in body
    assert "Organization accounts" in body


FUZZ_SETTINGS = settings(FUZZ, max_examples=60)
REGISTER_FIELDS = ["account_ids", "ou_id", "hub_role_name", "default_region"]


FIELD = st.one_of(fuzz_value, st.lists(fuzz_value, max_size=3))


@FUZZ_SETTINGS
@given(
    fields=st.fixed_dictionaries({}, optional=dict.fromkeys(REGISTER_FIELDS, FIELD)),
    ou=fuzz_value,
)
def test_no_register_post_or_ou_filter_gets_a_5xx(
    org_world, management, user_client, fields, ou
) -> None:  # type: ignore[no-untyped-def]
    response = user_client.post(reverse("organization_register", args=[management.pk]), fields)
    assert response.status_code < 500, response.content[:500]
    listing = user_client.get(reverse("account_list"), {"ou": ou})
    assert listing.status_code < 500


def test_the_page_answers_in_time_when_aws_hangs(
    hung_endpoint, settings, monkeypatch, user_client
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    settings.AWS_ENDPOINT_URL = hung_endpoint
    settings.XACCT_REQUEST_AWS_DEADLINE_SECONDS = 2.0
    aws.reset()
    source = make_account(
        account_id=sandbox.MANAGEMENT_ACCOUNT_ID,
        name="management",
        access_method="default_chain",
        hub_role_name="",
    )
    started = time.monotonic()
    body = user_client.get(reverse("organization_accounts", args=[source.pk])).content.decode()
    assert time.monotonic() - started < 5
    assert "AWS did not answer within 2 s" in body
