"""Login throttling, session timeouts, and an audit log that cannot be rewritten."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from grants import services
from grants.middleware import SEEN, STARTED
from grants.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(django_user_model):  # type: ignore[no-untyped-def]
    return django_user_model.objects.create_superuser(username="alice", password="correct-horse-9")


def test_a_failed_login_is_audited(client, alice) -> None:  # type: ignore[no-untyped-def]
    client.post(reverse("login"), {"username": "alice", "password": "wrong"})
    event = AuditEvent.objects.get(action=AuditAction.LOGIN_FAILED)
    assert event.actor_name == "alice"
    assert "wrong" not in event.message  # the attempted password is never recorded


def test_repeated_failures_lock_the_username_out(client, alice, settings) -> None:  # type: ignore[no-untyped-def]
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": "alice", "password": "wrong"})
    locked = client.post(reverse("login"), {"username": "alice", "password": "correct-horse-9"})
    assert locked.status_code == 429
    assert "Too many failed log-in attempts" in locked.content.decode()
    assert AuditEvent.objects.filter(action=AuditAction.LOCKED_OUT).exists()
    assert client.get(reverse("dashboard")).status_code == 302  # still not logged in


def test_a_successful_login_resets_the_failure_count(client, alice) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3):
        client.post(reverse("login"), {"username": "alice", "password": "wrong"})
    response = client.post(reverse("login"), {"username": "alice", "password": "correct-horse-9"})
    assert response.status_code == 302


def age_session(client, **offsets: float) -> None:  # type: ignore[no-untyped-def]
    session = client.session
    for key, seconds in offsets.items():
        session[key] = time.time() - seconds
    session.save()


def test_an_idle_session_is_logged_out(client, alice, settings) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    assert client.get(reverse("dashboard")).status_code == 200
    age_session(client, **{SEEN: settings.XACCT_SESSION_IDLE_MINUTES * 60 + 5})
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    assert client.get(reverse("dashboard")).status_code == 302


def test_a_session_past_its_absolute_limit_is_logged_out(client, alice, settings) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    client.get(reverse("dashboard"))
    age_session(client, **{STARTED: settings.XACCT_SESSION_MAX_HOURS * 3600 + 5, SEEN: 1})
    assert client.get(reverse("dashboard")).status_code == 302


def test_an_active_session_stays(client, alice) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    for _ in range(3):
        assert client.get(reverse("dashboard")).status_code == 200


def test_audit_events_cannot_be_changed_or_deleted() -> None:
    event = services.audit_record(actor=None, action="account.update", message="original")
    event.message = "rewritten"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(message="rewritten")
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).message == "original"


def test_deleting_a_user_keeps_their_audit_events(alice) -> None:  # type: ignore[no-untyped-def]
    services.audit_record(actor=alice, action="account.update", message="by alice")
    get_user_model().objects.filter(pk=alice.pk).delete()
    event = AuditEvent.objects.get()
    assert (event.actor, event.actor_name, event.message) == (None, "alice", "by alice")


def test_the_admin_cannot_edit_or_delete_audit_events(client, django_user_model) -> None:  # type: ignore[no-untyped-def]
    admin = django_user_model.objects.create_superuser(username="root", password="x")
    client.force_login(admin)
    event = services.audit_record(actor=None, action="account.update", message="kept")
    change = client.post(f"/admin/grants/auditevent/{event.pk}/change/", {"message": "x"})
    delete = client.post(f"/admin/grants/auditevent/{event.pk}/delete/", {"post": "yes"})
    assert change.status_code in (302, 403)
    assert delete.status_code == 403
    assert AuditEvent.objects.get(pk=event.pk).message == "kept"
