"""Revoke, re-apply and adopt need a recently entered password."""

from __future__ import annotations

import pytest
from django.urls import reverse

from grants.middleware import AUTHENTICATED
from grants.models import AuditAction, AuditEvent, AuditOutcome, Grant, GrantStatus

from .test_services_grants import draft

pytestmark = pytest.mark.django_db


@pytest.fixture
def stale_client(client, django_user_model, piyo, hoge):  # type: ignore[no-untyped-def]
    """A grant manager whose password was entered long ago."""
    user = django_user_model.objects.create_superuser(username="bob", password="pass-word-77")
    client.force_login(user)
    session = client.session
    session[AUTHENTICATED] = 0
    session.save()
    grant = draft(piyo, hoge)
    grant.status = GrantStatus.ACTIVE
    grant.save()
    client.grant = grant
    return client


def test_revoke_asks_for_the_password_first(stale_client) -> None:  # type: ignore[no-untyped-def]
    grant = stale_client.grant
    url = reverse("grant_revoke", args=[grant.pk])
    response = stale_client.post(url)
    assert response.status_code == 302
    assert response.url.startswith(reverse("reauthenticate") + "?next=")
    grant.refresh_from_db()
    assert grant.status == GrantStatus.ACTIVE  # nothing happened


def test_a_wrong_password_is_refused(stale_client) -> None:  # type: ignore[no-untyped-def]
    response = stale_client.post(reverse("reauthenticate"), {"password": "nope", "next": "/"})
    assert "That is not your password." in response.content.decode()


def test_the_right_password_returns_to_the_action(stale_client, aws_world) -> None:  # type: ignore[no-untyped-def]
    grant = stale_client.grant
    url = reverse("grant_revoke", args=[grant.pk])
    response = stale_client.post(
        reverse("reauthenticate"), {"password": "pass-word-77", "next": url}
    )
    assert response.status_code == 302
    assert response.url == url
    assert stale_client.get(url).status_code == 200  # the confirmation page now shows


def test_reapply_asks_for_the_password_first(stale_client) -> None:  # type: ignore[no-untyped-def]
    grant = stale_client.grant
    response = stale_client.post(reverse("grant_drift", args=[grant.pk]), {"action": "reapply"})
    assert response.url.startswith(reverse("reauthenticate"))


def test_reauthentication_never_redirects_off_site(stale_client) -> None:  # type: ignore[no-untyped-def]
    response = stale_client.post(
        reverse("reauthenticate"), {"password": "pass-word-77", "next": "https://evil.example/"}
    )
    assert response.url == reverse("dashboard")
    assert Grant.objects.count() == 1


def reauthenticate(client, password: str, **extra: str):  # type: ignore[no-untyped-def]
    return client.post(reverse("reauthenticate"), {"password": password, "next": "/"}, **extra)


def test_every_wrong_password_is_audited(stale_client) -> None:  # type: ignore[no-untyped-def]
    reauthenticate(stale_client, "nope")
    event = AuditEvent.objects.get(action=AuditAction.LOGIN_FAILED)
    assert event.actor_name == "bob"
    assert event.outcome == AuditOutcome.FAILURE
    assert "re-authentication" in event.message
    assert "nope" not in event.message  # the attempted password is never recorded


def test_wrong_passwords_lock_out_even_the_right_one(stale_client, settings) -> None:  # type: ignore[no-untyped-def]
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert reauthenticate(stale_client, "nope").status_code == 200
    # The failure that reaches the limit already answers with the lockout, as at log-in.
    assert reauthenticate(stale_client, "nope").status_code == 429
    locked = reauthenticate(stale_client, "pass-word-77")
    assert locked.status_code == 429
    assert "Too many wrong passwords" in locked.content.decode()
    session = stale_client.session
    assert session[AUTHENTICATED] == 0  # not confirmed
    assert AuditEvent.objects.filter(action=AuditAction.LOCKED_OUT, actor_name="bob").exists()
    assert (
        AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED).count()
        == settings.AXES_FAILURE_LIMIT + 1
    )


def test_one_failure_short_of_the_limit_lets_the_right_password_in(stale_client, settings) -> None:  # type: ignore[no-untyped-def]
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        reauthenticate(stale_client, "nope")
    response = reauthenticate(stale_client, "pass-word-77")
    assert response.status_code == 302
    assert stale_client.session[AUTHENTICATED] > 0


def test_reauthentication_failures_count_towards_the_login_lockout(stale_client, settings) -> None:  # type: ignore[no-untyped-def]
    """The same counter per username and address: guessing here ends at the login too."""
    for _ in range(settings.AXES_FAILURE_LIMIT):
        reauthenticate(stale_client, "nope")
    stale_client.logout()
    login = stale_client.post(reverse("login"), {"username": "bob", "password": "pass-word-77"})
    assert login.status_code == 429


def test_the_lockout_is_per_address(stale_client, settings) -> None:  # type: ignore[no-untyped-def]
    for _ in range(settings.AXES_FAILURE_LIMIT):
        reauthenticate(stale_client, "nope")
    elsewhere = reauthenticate(stale_client, "pass-word-77", REMOTE_ADDR="10.0.0.9")
    assert elsewhere.status_code == 302
