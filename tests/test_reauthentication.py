"""Revoke, re-apply and adopt need a recently entered password."""

from __future__ import annotations

import pytest
from django.urls import reverse

from grants.middleware import AUTHENTICATED
from grants.models import Grant, GrantStatus

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
