"""htmx requests get HX-Redirect, never a page to inject: session gone, 403, CSRF failure."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from grants.middleware import SEEN
from grants.models import AuditAction, AuditEvent
from grants.services import authz

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true", "HX-Current-URL": "http://testserver/grants/7/?tab=kit"}


def test_an_htmx_request_without_a_session_is_sent_to_log_in_from_the_page_it_came_from(
    client,
) -> None:  # type: ignore[no-untyped-def]
    response = client.post(reverse("grant_verify", args=[7]), headers=HTMX)
    assert response.status_code == 401
    assert response["HX-Redirect"] == "/login/?next=/grants/7/%3Ftab%3Dkit"
    assert b"<html" not in response.content


def test_a_plain_request_without_a_session_still_gets_the_ordinary_redirect(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post(reverse("grant_verify", args=[7]))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/grants/7/verify/")
    assert "HX-Redirect" not in response


def test_an_idle_session_ends_and_htmx_is_sent_to_log_in(user_client, settings) -> None:  # type: ignore[no-untyped-def]
    session = user_client.session
    session[SEEN] = time.time() - settings.XACCT_SESSION_IDLE_MINUTES * 60 - 5
    session.save()
    batch_poll = user_client.get(reverse("verification_batch", args=[3]), headers=HTMX)
    assert batch_poll.status_code == 401
    assert batch_poll["HX-Redirect"].startswith("/login/?next=/grants/7/")
    # The session really ended: the next page asks to log in too.
    assert user_client.get(reverse("dashboard")).status_code == 302


def test_the_htmx_current_url_of_another_site_is_not_followed(client) -> None:  # type: ignore[no-untyped-def]
    headers = {"HX-Request": "true", "HX-Current-URL": "https://evil.example/phish"}
    response = client.post(reverse("grant_verify", args=[7]), headers=headers)
    assert response["HX-Redirect"] == "/login/?next=/"


def test_another_redirect_to_htmx_becomes_a_whole_page_load(user_client, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    from tests.test_services_grants import draft

    grant = draft(piyo, hoge)  # a draft has nothing to test: the view redirects to it
    grant.save()
    response = user_client.post(reverse("grant_verify", args=[grant.pk]), headers=HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"] == grant.get_absolute_url()


def test_a_403_to_htmx_is_a_message_on_the_reloaded_page_and_is_audited(
    client, django_user_model
) -> None:  # type: ignore[no-untyped-def]
    authz.roles_ensure()  # a transactional test's flush empties the groups
    viewer = django_user_model.objects.create_user("vera", password="correct-horse-9")
    viewer.groups.add(Group.objects.get(name=authz.VIEWERS))
    client.force_login(viewer)
    response = client.post(reverse("grant_verify", args=[7]), headers=HTMX)
    assert response.status_code == 403
    assert response["HX-Redirect"] == "/grants/7/?tab=kit"
    assert b"<html" not in response.content
    assert AuditEvent.objects.filter(action=AuditAction.PERMISSION_DENIED).exists()
    page = client.get("/grants/7/?tab=kit")
    assert "Your role does not allow this" in page.content.decode()


def test_a_stale_csrf_token_to_htmx_is_a_message_and_a_reload(django_user_model) -> None:  # type: ignore[no-untyped-def]
    client = Client(enforce_csrf_checks=True)
    admin = django_user_model.objects.create_superuser("alice", password="correct-horse-9")
    client.force_login(admin)
    response = client.post(
        reverse("grant_verify", args=[7]), headers={**HTMX, "X-CSRFToken": "stale" * 8}
    )
    assert response.status_code == 403
    assert response["HX-Redirect"] == "/grants/7/?tab=kit"
    assert b"<html" not in response.content
    dashboard = client.get(reverse("dashboard")).content.decode()
    assert "security token no longer matched" in dashboard
