"""Every page answers in time with AWS hung: one deadline bounds a request's AWS calls."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from django.test import Client
from django.urls import reverse

from grants import aws
from grants.models import AwsAccount, GrantStatus

from .test_services_grants import draft

pytestmark = pytest.mark.django_db


@pytest.fixture
def hung_aws(settings, monkeypatch: pytest.MonkeyPatch, hung_endpoint: str) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The portal pointed at an endpoint on 127.0.0.1 that never answers."""
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    settings.AWS_ENDPOINT_URL = hung_endpoint
    aws.reset()
    try:
        yield hung_endpoint
    finally:
        aws.reset()


def timed(call: Callable[[], object]) -> tuple[object, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def account_check(client: Client, piyo: AwsAccount, grant_pk: int) -> object:
    return client.post(reverse("account_check", args=[piyo.pk]), follow=True)


def account_discover(client: Client, piyo: AwsAccount, grant_pk: int) -> object:
    return client.post(reverse("account_discover", args=[piyo.pk]))


def account_import(client: Client, piyo: AwsAccount, grant_pk: int) -> object:
    return client.post(reverse("account_import", args=[piyo.pk]), {"role_name": "r"}, follow=True)


def drift_check(client: Client, piyo: AwsAccount, grant_pk: int) -> object:
    return client.post(reverse("grant_drift", args=[grant_pk]), {"action": "check"}, follow=True)


def access_test(client: Client, piyo: AwsAccount, grant_pk: int) -> object:
    return client.post(reverse("grant_verify", args=[grant_pk]), follow=True)


def wizard_role_step(client: Client, piyo: AwsAccount, grant_pk: int) -> object:
    # The role step looks the trusting account's roles up live.
    return client.post(
        reverse("grant_create"),
        {
            "grant_wizard-current_step": "role",
            "role-trusting_account": str(piyo.pk),
            "role-role_name": "new-role",
            "role-role_path": "/",
        },
    )


PAGES = [account_check, account_discover, account_import, drift_check, access_test]


@pytest.fixture
def active_grant(piyo, hoge):  # type: ignore[no-untyped-def]
    grant = draft(piyo, hoge)
    grant.status = GrantStatus.ACTIVE
    grant.role_arn = grant.planned_role_arn
    grant.save()
    return grant


@pytest.mark.parametrize("page", [*PAGES, wizard_role_step], ids=lambda page: page.__name__)
def test_a_page_that_calls_aws_answers_by_the_deadline_and_says_why(  # type: ignore[no-untyped-def]
    user_client, hung_aws, settings, piyo, active_grant, page
) -> None:
    settings.XACCT_REQUEST_AWS_DEADLINE_SECONDS = 1.5
    response, seconds = timed(lambda: page(user_client, piyo, active_grant.pk))
    assert response.status_code < 500
    # The deadline plus the time to render: not the 8 s a hung call takes with retries.
    assert seconds < 4, seconds
    body = response.content.decode()
    assert "did not answer within" in body or "DeadlineExceeded" in body, body[-3000:]


def test_without_the_request_deadline_a_hung_page_takes_longer(  # type: ignore[no-untyped-def]
    user_client, hung_aws, settings, piyo, active_grant
) -> None:
    """The control: what the middleware saves (hub role, then IAM: two calls of ~2 s)."""
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "AwsDeadline" not in m]
    settings.AWS_READ_TIMEOUT = 1.0
    settings.AWS_CONNECT_TIMEOUT = 1.0
    aws.reset()
    response, seconds = timed(lambda: account_discover(user_client, piyo, active_grant.pk))
    assert response.status_code == 200
    assert seconds >= 1.9, seconds


def test_with_the_default_settings_discovery_answers_within_12_seconds(  # type: ignore[no-untyped-def]
    user_client, hung_aws, piyo, active_grant
) -> None:
    response, seconds = timed(lambda: account_discover(user_client, piyo, active_grant.pk))
    assert response.status_code == 200
    assert seconds < 12, seconds
    body = response.content.decode()
    assert "sts" in body and ("Timeout" in body or "did not answer within" in body)
