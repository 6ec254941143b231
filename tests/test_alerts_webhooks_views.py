"""Webhook pages: Account managers only; the secret shown once; the delivery log."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from alerts import webhooks
from alerts.models import Alert, AlertKind, DeliveryStatus, Webhook, WebhookDelivery
from grants.services import authz

from .webhook_receiver import Answer, receiver_fixture  # noqa: F401  (the receiver fixture)

pytestmark = pytest.mark.django_db


def person(django_user_model, username: str, group: str | None):  # type: ignore[no-untyped-def]
    authz.roles_ensure()
    user = django_user_model.objects.create_user(username, password="x-correct-horse-4")
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def manager_client(client, django_user_model):  # type: ignore[no-untyped-def]
    client.force_login(person(django_user_model, "mia", authz.ACCOUNT_MANAGERS))
    return client


def secret_on(html: str) -> str:
    match = re.search(r'data-testid="webhook-secret">([^<]+)<', html)
    assert match, "no secret on the page"
    return match.group(1)


def create(client, url: str, **fields: object):  # type: ignore[no-untyped-def]
    data = {"name": "ops", "url": url, "body_format": "json", "is_active": "on", **fields}
    return client.post(reverse("webhook_create"), data)


# --- permissions -------------------------------------------------------------------------


@pytest.mark.parametrize("group", [None, authz.VIEWERS, authz.VERIFIERS, authz.GRANT_MANAGERS])
def test_only_account_managers_reach_the_webhook_pages(client, django_user_model, group) -> None:  # type: ignore[no-untyped-def]
    webhook, _ = webhooks.webhook_create(actor=None, name="ops", url="https://hooks.example.com/x")
    client.force_login(person(django_user_model, "vic", group))
    pages = [
        ("get", reverse("webhook_list")),
        ("get", reverse("webhook_create")),
        ("post", reverse("webhook_create")),
        ("get", reverse("webhook_detail", args=[webhook.pk])),
        ("get", reverse("webhook_edit", args=[webhook.pk])),
        ("post", reverse("webhook_edit", args=[webhook.pk])),
        ("get", reverse("webhook_delete", args=[webhook.pk])),
        ("post", reverse("webhook_delete", args=[webhook.pk])),
        ("post", reverse("webhook_rotate", args=[webhook.pk])),
        ("post", reverse("webhook_test", args=[webhook.pk])),
    ]
    for method, url in pages:
        response = getattr(client, method)(url, {"name": "x", "url": "https://e.com/"})
        assert response.status_code == 403, (method, url)
    assert Webhook.objects.get().secret_encrypted == webhook.secret_encrypted
    assert not WebhookDelivery.objects.exists()


def test_a_person_logged_out_is_sent_to_log_in(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get(reverse("webhook_list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_nav_links_to_webhooks_for_account_managers_only(
    manager_client, client, django_user_model
) -> None:  # type: ignore[no-untyped-def]
    assert reverse("webhook_list") in manager_client.get(reverse("dashboard")).content.decode()
    other = client_for(django_user_model, "gus", authz.GRANT_MANAGERS)
    assert reverse("webhook_list") not in other.get(reverse("dashboard")).content.decode()


def client_for(django_user_model, username: str, group: str):  # type: ignore[no-untyped-def]
    from django.test import Client

    other = Client()
    other.force_login(person(django_user_model, username, group))
    return other


# --- the secret, once ---------------------------------------------------------------------


def test_the_secret_is_shown_once_on_creation_and_never_again(manager_client, receiver) -> None:  # type: ignore[no-untyped-def]
    response = create(manager_client, receiver.url)

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    secret = secret_on(response.content.decode())
    webhook = Webhook.objects.get()
    assert webhooks.secret_decrypt(webhook.secret_encrypted) == secret
    assert webhook.created_by.get_username() == "mia"
    for url in (
        reverse("webhook_list"),
        reverse("webhook_detail", args=[webhook.pk]),
        reverse("webhook_edit", args=[webhook.pk]),
        reverse("webhook_delete", args=[webhook.pk]),
    ):
        page = manager_client.get(url)
        assert page.status_code == 200, url
        assert secret not in page.content.decode(), url

    # Nor once the log has a delivery in it.
    manager_client.post(reverse("webhook_test", args=[webhook.pk]))
    assert secret not in manager_client.get(webhook.get_absolute_url()).content.decode()


def test_the_admin_never_shows_the_secret(admin_client, receiver) -> None:  # type: ignore[no-untyped-def]
    from django.contrib import admin

    webhook, secret = webhooks.webhook_create(actor=None, name="ops", url=receiver.url)
    page = admin_client.get(f"/admin/alerts/webhook/{webhook.pk}/change/", follow=True)
    if Webhook in admin.site._registry:
        assert page.status_code == 200
    else:
        assert page.status_code == 404
    assert secret not in page.content.decode()


def test_rotating_shows_a_new_secret_once_and_the_old_one_stops_signing(
    manager_client, receiver
) -> None:  # type: ignore[no-untyped-def]
    old = secret_on(create(manager_client, receiver.url).content.decode())
    webhook = Webhook.objects.get()

    assert manager_client.get(reverse("webhook_rotate", args=[webhook.pk])).status_code == 405
    response = manager_client.post(reverse("webhook_rotate", args=[webhook.pk]))

    new = secret_on(response.content.decode())
    assert new != old
    assert "no-store" in response["Cache-Control"]
    webhook.refresh_from_db()
    assert webhooks.secret_decrypt(webhook.secret_encrypted) == new
    assert new not in manager_client.get(webhook.get_absolute_url()).content.decode()


# --- create, edit, delete ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://me:pw@hooks.example.com/x", "Leave credentials out of the URL"),
        ("ftp://hooks.example.com/x", "Enter a valid URL"),
    ],
)
def test_a_bad_url_is_refused_with_the_reason(manager_client, url, message) -> None:  # type: ignore[no-untyped-def]
    response = create(manager_client, url)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert 'data-testid="webhook-secret"' not in response.content.decode()
    assert not Webhook.objects.exists()


def test_editing_changes_the_settings_but_not_the_secret(manager_client, receiver) -> None:  # type: ignore[no-untyped-def]
    webhook, secret = webhooks.webhook_create(actor=None, name="ops", url=receiver.url)

    response = manager_client.post(
        reverse("webhook_edit", args=[webhook.pk]),
        {
            "name": "chat",
            "url": "https://hooks.example.com/chat",
            "body_format": "slack",
            "failures_only": "on",
        },
    )

    assert response.status_code == 302
    webhook.refresh_from_db()
    assert (webhook.name, webhook.url, webhook.body_format) == (
        "chat",
        "https://hooks.example.com/chat",
        "slack",
    )
    assert webhook.failures_only is True
    assert webhook.is_active is False  # unticked
    assert webhooks.secret_decrypt(webhook.secret_encrypted) == secret


def test_delete_asks_first_then_deletes_with_the_log(manager_client, receiver) -> None:  # type: ignore[no-untyped-def]
    webhook, _ = webhooks.webhook_create(actor=None, name="ops", url=receiver.url)
    webhooks.webhook_send_test(webhook=webhook, actor=None)

    page = manager_client.get(reverse("webhook_delete", args=[webhook.pk]))
    assert page.status_code == 200
    assert "Delete webhook ops?" in page.content.decode()
    assert "1 delivery" in page.content.decode()
    assert Webhook.objects.exists()

    response = manager_client.post(reverse("webhook_delete", args=[webhook.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("webhook_list")
    assert not Webhook.objects.exists()
    assert not WebhookDelivery.objects.exists()


# --- test event and the delivery log ------------------------------------------------------------


def test_send_test_event_posts_to_the_receiver_and_the_log_shows_it(
    manager_client, receiver
) -> None:  # type: ignore[no-untyped-def]
    webhook, _ = webhooks.webhook_create(actor=None, name="ops", url=receiver.url)

    response = manager_client.post(reverse("webhook_test", args=[webhook.pk]), follow=True)

    assert len(receiver.requests) == 1  # immediate task backend in tests
    html = response.content.decode()
    assert "Test event queued for ops" in html
    assert 'class="badge text-bg-success" data-testid="delivery-status">Delivered<' in html
    assert Alert.objects.get().kind == AlertKind.WEBHOOK_TEST


def test_the_log_shows_a_failed_delivery_in_red_with_its_error(manager_client, receiver) -> None:  # type: ignore[no-untyped-def]
    receiver.answer(Answer(404, b"unknown hook"))
    webhook, _ = webhooks.webhook_create(actor=None, name="ops", url=receiver.url)
    webhooks.webhook_send_test(webhook=webhook, actor=None)

    html = manager_client.get(webhook.get_absolute_url()).content.decode()

    assert 'class="badge text-bg-danger" data-testid="delivery-status">Failed<' in html
    assert "HTTP 404: unknown hook" in html


def test_the_log_is_paginated_and_has_an_empty_state(manager_client, receiver) -> None:  # type: ignore[no-untyped-def]
    webhook, _ = webhooks.webhook_create(actor=None, name="ops", url=receiver.url)
    html = manager_client.get(webhook.get_absolute_url()).content.decode()
    assert 'data-testid="delivery-empty"' in html

    for n in range(30):
        alert = Alert.objects.create(
            kind=AlertKind.GRANT_FAILING, title=f"alert {n:02d}", dedupe_key=f"k{n}"
        )
        WebhookDelivery.objects.create(webhook=webhook, alert=alert, status=DeliveryStatus.PENDING)

    first = manager_client.get(webhook.get_absolute_url()).content.decode()
    second = manager_client.get(webhook.get_absolute_url() + "?page=2").content.decode()
    assert first.count('data-testid="delivery-status"') == 25
    assert second.count('data-testid="delivery-status"') == 5
    assert "Page 1 of 2" in first
    assert "alert 29" in first and "alert 29" not in second
    assert "alert 00" in second


def test_the_list_shows_each_webhook_and_an_empty_state(manager_client, receiver) -> None:  # type: ignore[no-untyped-def]
    assert (
        'data-testid="webhook-empty"'
        in manager_client.get(reverse("webhook_list")).content.decode()
    )
    webhooks.webhook_create(actor=None, name="ops", url=receiver.url, is_active=False)
    html = manager_client.get(reverse("webhook_list")).content.decode()
    assert "ops" in html and receiver.url in html and "Inactive" in html


def test_each_change_to_a_webhook_is_audited_without_its_secret_or_path(manager_client) -> None:  # type: ignore[no-untyped-def]
    from grants.models import AuditAction, AuditEvent

    url = "https://hooks.slack.com/services/T000/B000/XXXXSECRETPATH"
    secret = secret_on(create(manager_client, url).content.decode())
    webhook = Webhook.objects.get()
    rotated = secret_on(
        manager_client.post(reverse("webhook_rotate", args=[webhook.pk])).content.decode()
    )
    manager_client.post(
        reverse("webhook_edit", args=[webhook.pk]),
        {"name": "chat", "url": url, "body_format": "slack", "is_active": "on"},
    )
    manager_client.post(reverse("webhook_delete", args=[webhook.pk]))

    events = list(AuditEvent.objects.order_by("pk"))
    assert [e.action for e in events] == [
        AuditAction.WEBHOOK_CREATE,
        AuditAction.WEBHOOK_ROTATE,
        AuditAction.WEBHOOK_UPDATE,
        AuditAction.WEBHOOK_DELETE,
    ]
    assert {e.actor_name for e in events} == {"mia"}
    assert "hooks.slack.com" in events[0].message
    for event in events:
        for leak in (secret, rotated, "XXXXSECRETPATH"):
            assert leak not in event.message
