"""Account services: registration, edits and Check connection, with their audit trail."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from grants import services
from grants.models import AccessMethod, AuditAction, AuditEvent, AuditOutcome, AwsAccount

from .conftest import make_account

pytestmark = pytest.mark.django_db


def fields(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "account_id": "012345678901",
        "name": "payments",
        "owner_email": "ops@example.com",
        "default_region": "eu-west-1",
        "access_method": AccessMethod.HUB_ROLE,
        "hub_role_name": "OrganizationAccountAccessRole",
    }
    data.update(overrides)
    return data


def test_it_registers_an_account_and_audits_it(django_user_model) -> None:  # type: ignore[no-untyped-def]
    user = django_user_model.objects.create_superuser(username="alice")
    account = services.account_create(actor=user, **fields())
    assert account.account_id == "012345678901"  # the leading zero survives
    event = AuditEvent.objects.get()
    assert (event.action, event.outcome, event.actor, event.account) == (
        AuditAction.ACCOUNT_CREATE,
        AuditOutcome.SUCCESS,
        user,
        account,
    )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"account_id": "12345"}, "account_id"),
        ({"account_id": "1234567890123"}, "account_id"),
        ({"account_id": "12345678901a"}, "account_id"),
        ({"default_region": "Tokyo"}, "default_region"),
        ({"hub_role_name": ""}, "hub_role_name"),
        ({"hub_role_name": "has space"}, "hub_role_name"),
        ({"hub_role_name": "r" * 65}, "hub_role_name"),
        ({"hub_external_id": "x"}, "hub_external_id"),
        ({"access_method": AccessMethod.PROFILE, "hub_role_name": ""}, "profile_name"),
        ({"access_method": AccessMethod.EXTERNAL}, "hub_role_name"),
        ({"owner_email": "not-an-email"}, "owner_email"),
    ],
)
def test_it_rejects_invalid_accounts(overrides: dict, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        services.account_create(actor=None, **fields(**overrides))
    assert field in caught.value.message_dict
    assert not AwsAccount.objects.exists()
    assert not AuditEvent.objects.exists()


def test_it_rejects_a_second_record_of_the_same_account() -> None:
    services.account_create(actor=None, **fields())
    with pytest.raises(ValidationError) as caught:
        services.account_create(actor=None, **fields(name="other"))
    assert caught.value.message_dict["__all__"] == ["This AWS account is already registered."]


def test_it_records_what_an_edit_changed_and_forgets_the_last_check() -> None:
    account = make_account(last_check_ok=True, last_check_arn="arn:aws:sts::1:x")
    services.account_update(account=account, actor=None, default_region="eu-west-1")
    account.refresh_from_db()
    assert account.default_region == "eu-west-1"
    assert account.last_check_ok is None
    assert account.last_check_arn == ""
    assert AuditEvent.objects.get().message == "Changed default_region."


def test_it_writes_nothing_for_an_edit_that_changes_nothing() -> None:
    account = make_account()
    services.account_update(account=account, actor=None, name=account.name)
    assert not AuditEvent.objects.exists()


def test_check_saves_the_arn_the_portal_acts_as(moto_aws: None, piyo: AwsAccount) -> None:
    services.account_check(account=piyo, actor=None)
    piyo.refresh_from_db()
    assert piyo.last_check_ok is True
    assert piyo.last_check_arn.startswith("arn:aws:sts::111122223333:assumed-role/")
    assert piyo.last_check_error is None
    event = AuditEvent.objects.get(action=AuditAction.ACCOUNT_CHECK)
    assert event.outcome == AuditOutcome.SUCCESS
    assert event.target_arn == piyo.last_check_arn


def test_check_saves_every_error_detail(moto_aws: None, settings, piyo: AwsAccount) -> None:  # type: ignore[no-untyped-def]
    piyo.access_method = AccessMethod.PROFILE
    piyo.hub_role_name = ""
    piyo.profile_name = "missing-profile"
    piyo.save()
    services.account_check(account=piyo, actor=None)
    piyo.refresh_from_db()
    assert piyo.last_check_ok is False
    assert piyo.last_check_arn == ""
    assert piyo.last_check_error["client_error"] == "ProfileNotFound"
    event = AuditEvent.objects.get(action=AuditAction.ACCOUNT_CHECK)
    assert (event.outcome, event.error_code) == (AuditOutcome.FAILURE, "ProfileNotFound")


def test_check_fails_when_the_credentials_land_in_another_account(moto_aws: None) -> None:
    # The default chain here is moto's account 123456789012, not the recorded one.
    account = make_account(access_method=AccessMethod.DEFAULT_CHAIN, hub_role_name="")
    services.account_check(account=account, actor=None)
    account.refresh_from_db()
    assert account.last_check_ok is False
    assert account.last_check_error["client_error"] == ""
    assert account.last_check_error["http_status"] == 200
    assert "123456789012" in account.last_check_error["message"]
