"""Account pages: list, register, edit, detail and the Check connection button."""

from __future__ import annotations

import pytest
from django.urls import reverse

from grants.models import AccessMethod, AuditEvent, AwsAccount

from .conftest import make_account

pytestmark = pytest.mark.django_db


def form_data(**overrides: str) -> dict[str, str]:
    data = {
        "account_id": "444455556666",
        "name": "hoge",
        "owner_email": "hoge@example.com",
        "default_region": "ap-northeast-1",
        "partition": "aws",
        "access_method": AccessMethod.HUB_ROLE,
        "profile_name": "",
        "hub_role_name": "OrganizationAccountAccessRole",
        "hub_external_id": "",
    }
    data.update(overrides)
    return data


def test_it_shows_an_empty_state(user_client) -> None:  # type: ignore[no-untyped-def]
    response = user_client.get(reverse("account_list"))
    assert b"No AWS accounts registered yet" in response.content


def test_it_lists_accounts_with_their_connection_state(user_client, piyo) -> None:  # type: ignore[no-untyped-def]
    response = user_client.get(reverse("account_list"))
    body = response.content.decode()
    assert "piyo" in body
    assert "111122223333" in body
    assert "not checked" in body


def test_it_searches_accounts(user_client, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    body = user_client.get(reverse("account_list"), {"q": "4444"}).content.decode()
    assert "hoge" in body
    assert "piyo@example.com" not in body


def test_it_paginates_accounts(user_client) -> None:  # type: ignore[no-untyped-def]
    for n in range(30):
        make_account(account_id=f"{n:012d}", name=f"acct-{n:02d}")
    first = user_client.get(reverse("account_list")).content.decode()
    second = user_client.get(reverse("account_list"), {"page": 2}).content.decode()
    assert "acct-00" in first and "acct-29" not in first
    assert "acct-29" in second
    assert "Page 2 of 2" in second


def test_it_registers_an_account(user_client) -> None:  # type: ignore[no-untyped-def]
    response = user_client.post(reverse("account_create"), form_data())
    account = AwsAccount.objects.get()
    assert response.status_code == 302
    assert response.url == account.get_absolute_url()
    assert account.account_id == "444455556666"
    assert AuditEvent.objects.get().actor == user_client.user


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"account_id": "44445555666"}, "exactly 12 digits"),
        ({"default_region": "tokyo"}, "region code"),
        ({"hub_role_name": ""}, "Name the role the portal assumes"),
        ({"access_method": AccessMethod.PROFILE, "hub_role_name": ""}, "Name the AWS profile"),
        ({"hub_external_id": "a b"}, "external ID is 2–1224"),
    ],
)
def test_it_shows_field_errors(user_client, overrides, message) -> None:  # type: ignore[no-untyped-def]
    response = user_client.post(reverse("account_create"), form_data(**overrides))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not AwsAccount.objects.exists()


def test_it_refuses_a_duplicate_account_id(user_client, hoge) -> None:  # type: ignore[no-untyped-def]
    response = user_client.post(reverse("account_create"), form_data(name="other"))
    assert "already registered" in response.content.decode()
    assert AwsAccount.objects.count() == 1


def test_it_edits_an_account(user_client, piyo) -> None:  # type: ignore[no-untyped-def]
    data = form_data(account_id=piyo.account_id, name="piyo-prod")
    response = user_client.post(reverse("account_edit", args=[piyo.pk]), data)
    assert response.status_code == 302
    piyo.refresh_from_db()
    assert piyo.name == "piyo-prod"


def test_an_invalid_edit_changes_nothing(user_client, piyo) -> None:  # type: ignore[no-untyped-def]
    data = form_data(account_id="123", name="renamed")
    response = user_client.post(reverse("account_edit", args=[piyo.pk]), data)
    assert response.status_code == 200
    piyo.refresh_from_db()
    assert (piyo.name, piyo.account_id) == ("piyo", "111122223333")


def test_check_connection_shows_the_assumed_role_arn(user_client, moto_aws, piyo) -> None:  # type: ignore[no-untyped-def]
    response = user_client.post(reverse("account_check", args=[piyo.pk]), follow=True)
    body = response.content.decode()
    assert "arn:aws:sts::111122223333:assumed-role/OrganizationAccountAccessRole/" in body


def test_check_connection_shows_every_error_detail(user_client, sandbox_server, piyo) -> None:  # type: ignore[no-untyped-def]
    piyo.hub_role_name = "NoSuchHubRole"  # the portal user may only assume the hub role
    piyo.save()
    response = user_client.post(reverse("account_check", args=[piyo.pk]), follow=True)
    body = response.content.decode()
    assert "sts:AssumeRole" in body
    assert "AccessDenied" in body
    assert "403" in body
    assert "Sender" in body
    piyo.refresh_from_db()
    assert piyo.last_check_error["request_id"] in body


def test_check_connection_is_post_only(user_client, piyo) -> None:  # type: ignore[no-untyped-def]
    assert user_client.get(reverse("account_check", args=[piyo.pk])).status_code == 405


def test_check_connection_does_not_act_in_an_external_account(user_client, moto_aws) -> None:  # type: ignore[no-untyped-def]
    account = make_account(access_method=AccessMethod.EXTERNAL, hub_role_name="")
    response = user_client.post(reverse("account_check", args=[account.pk]), follow=True)
    assert "the portal does not act there" in response.content.decode()
    account.refresh_from_db()
    assert account.last_checked_at is None


def test_the_audit_page_filters_by_outcome(user_client, moto_aws, piyo) -> None:  # type: ignore[no-untyped-def]
    user_client.post(reverse("account_check", args=[piyo.pk]))
    body = user_client.get(reverse("audit_list"), {"outcome": "failure"}).content.decode()
    assert "Nothing recorded yet" in body
    body = user_client.get(reverse("audit_list"), {"outcome": "success"}).content.decode()
    assert "Connection checked" in body


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"account_id": "４４４４５５５５６６６６"}, "FULLWIDTH DIGIT FOUR"),
        ({"account_id": "٤٤٤٤٥٥٥٥٦٦٦٦"}, "ARABIC-INDIC DIGIT FOUR"),
        ({"partition": "aws-cn"}, "is in the aws partition, but the account is in aws-cn"),
        ({"default_region": "cn-north-1"}, "is in the aws-cn partition, but the account is in aws"),
        ({"hub_role_name": "naïve"}, "LATIN SMALL LETTER I WITH DIAERESIS"),
        ({"hub_external_id": "ｅｘｔｅｒｎａｌ"}, "FULLWIDTH LATIN SMALL LETTER E"),
    ],
)
def test_it_refuses_what_aws_would(user_client, overrides, message) -> None:  # type: ignore[no-untyped-def]
    response = user_client.post(reverse("account_create"), form_data(**overrides))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not AwsAccount.objects.exists()


def test_it_registers_an_account_in_another_partition(user_client) -> None:  # type: ignore[no-untyped-def]
    data = form_data(partition="aws-us-gov", default_region="us-gov-west-1")
    response = user_client.post(reverse("account_create"), data)
    assert response.status_code == 302
    assert AwsAccount.objects.get().default_region == "us-gov-west-1"


def test_check_connection_in_another_account_says_aws_answered_not_that_it_got_no_answer(
    user_client, moto_aws
) -> None:  # type: ignore[no-untyped-def]
    # The default chain here is moto's account 123456789012, not the recorded one.
    account = make_account(access_method=AccessMethod.DEFAULT_CHAIN, hub_role_name="")
    response = user_client.post(reverse("account_check", args=[account.pk]), follow=True)
    body = response.content.decode()
    assert "never got an answer" not in body
    assert "Could not connect" not in body
    assert "AWS answered as arn:aws:sts::123456789012:" in body
    assert "AWS answered, but not as expected" in body
    assert "act in account 123456789012, not in 111122223333" in body


@pytest.mark.parametrize(
    ("overrides", "field_label"),
    [
        (
            {
                "access_method": AccessMethod.PROFILE,
                "profile_name": "piyo-admin",
                "hub_role_name": "PortalHub",
            },
            "Hub role name",
        ),
        (
            {"access_method": AccessMethod.DEFAULT_CHAIN, "hub_external_id": "vendor-77"},
            "external ID",
        ),
        ({"access_method": AccessMethod.EXTERNAL, "profile_name": "hoge-admin"}, "Profile name"),
    ],
)
def test_a_value_typed_for_an_access_method_not_chosen_is_reported_not_dropped(
    user_client, overrides, field_label
) -> None:  # type: ignore[no-untyped-def]
    response = user_client.post(reverse("account_create"), form_data(**overrides))
    assert response.status_code == 200
    body = response.content.decode()
    assert "is filled in, but only" in body
    assert field_label.lower() in body.lower()
    assert not AwsAccount.objects.exists()


def test_the_prefilled_hub_role_is_cleared_quietly_for_another_access_method(user_client) -> None:  # type: ignore[no-untyped-def]
    data = form_data(access_method=AccessMethod.DEFAULT_CHAIN)  # hub role left as prefilled
    response = user_client.post(reverse("account_create"), data)
    assert response.status_code == 302
    account = AwsAccount.objects.get()
    assert account.access_method == AccessMethod.DEFAULT_CHAIN
    assert account.hub_role_name == ""
