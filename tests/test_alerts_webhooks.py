"""Webhooks: signed POSTs to a real HTTP server on 127.0.0.1, retries, the delivery log."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from alerts import webhooks
from alerts.models import (
    Alert,
    AlertKind,
    DeliveryStatus,
    Webhook,
    WebhookDelivery,
    WebhookFormat,
)
from alerts.tasks_webhooks import webhook_deliver_task
from grants.aws import sandbox
from grants.models import Grant, GrantStatus, PermissionSet

from .webhook_receiver import Answer, receiver_fixture  # noqa: F401  (the receiver fixture)

pytestmark = pytest.mark.django_db

ROLE_ARN = f"arn:aws:iam::{sandbox.PIYO.account_id}:role/piyo-sqs-for-hoge"


@pytest.fixture(autouse=True)
def _fast_webhooks(settings):  # type: ignore[no-untyped-def]
    settings.XACCT_PUBLIC_URL = "https://xacct.example.com"
    settings.XACCT_WEBHOOK_TIMEOUT_SECONDS = 2.0
    settings.XACCT_WEBHOOK_CONNECT_TIMEOUT_SECONDS = 2.0
    settings.XACCT_WEBHOOK_MAX_ATTEMPTS = 4
    settings.XACCT_WEBHOOK_RETRY_DELAYS_SECONDS = [30, 120, 600]


def make_grant(piyo, hoge) -> Grant:  # type: ignore[no-untyped-def]
    return Grant.objects.create(
        trusting_account=piyo,
        role_name="piyo-sqs-for-hoge",
        region=sandbox.REGION,
        trusted_account=hoge,
        trusted_aws_account_id=hoge.account_id,
        trusted_principal_arn=f"arn:aws:iam::{hoge.account_id}:root",
        permission_set=PermissionSet.SQS_FULL,
        user_policy_name="xacct-assume-piyo-sqs-for-hoge",
        trust_policy={},
        user_policy={},
        status=GrantStatus.FAILING,
        role_arn=ROLE_ARN,
    )


def make_alert(grant: Grant | None, kind: str = AlertKind.GRANT_FAILING, n: int = 1) -> Alert:
    return Alert.objects.create(
        kind=kind,
        grant=grant,
        title="piyo-sqs-for-hoge in piyo started failing",
        body="AssumeRole was denied <because> the trust policy & its conditions.",
        details={"step": "assume_role", "fix": "Add the trusted account to the trust policy."},
        dedupe_key=f"{kind}:{grant.pk if grant else 0}:{n}",
    )


def make_webhook(url: str, **fields) -> tuple[Webhook, str]:  # type: ignore[no-untyped-def]
    return webhooks.webhook_create(actor=None, name=fields.pop("name", "ops"), url=url, **fields)


def expected_signature(secret: str, timestamp: str, body: bytes) -> str:
    material = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), material, hashlib.sha256).hexdigest()


# --- signing and the documented body -----------------------------------------------------


def test_it_posts_a_body_whose_signature_verifies_with_the_secret(receiver, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    _, secret = make_webhook(receiver.url)
    alert = make_alert(make_grant(piyo, hoge))

    [delivery] = webhooks.webhooks_enqueue(alert=alert)  # immediate backend: sent now

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.attempts == 1
    assert delivery.last_http_status == 200
    assert delivery.delivered_at is not None
    assert delivery.duration_ms is not None
    [request] = receiver.requests
    timestamp = request.headers["x-xacct-timestamp"]
    assert abs(int(timestamp) - time.time()) < 60
    assert request.headers["x-xacct-signature"] == expected_signature(
        secret, timestamp, request.body
    )
    # The timestamp is part of what is signed: another timestamp does not verify.
    assert request.headers["x-xacct-signature"] != expected_signature(
        secret, str(int(timestamp) - 600), request.body
    )
    assert request.headers["x-xacct-signature"] != expected_signature(
        "another-secret", timestamp, request.body
    )
    assert request.headers["x-xacct-event-id"] == f"xacct-alert-{alert.pk}"
    assert request.headers["x-xacct-delivery"] == str(delivery.pk)
    assert request.headers["content-type"] == "application/json; charset=utf-8"


def test_the_json_body_follows_schema_version_1(receiver, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    make_webhook(receiver.url)
    grant = make_grant(piyo, hoge)
    alert = make_alert(grant)

    webhooks.webhooks_enqueue(alert=alert)

    event = json.loads(receiver.requests[0].body)
    assert event["schema_version"] == 1
    assert event["id"] == f"xacct-alert-{alert.pk}"
    assert event["kind"] == "grant.failing"
    assert event["is_failure"] is True
    assert event["test"] is False
    assert event["created_at"].endswith("Z")
    assert event["created_at"] == alert.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert event["title"] == alert.title
    assert event["body"] == alert.body
    assert event["details"] == alert.details
    assert event["url"] == f"https://xacct.example.com/grants/{grant.pk}/"
    assert event["grant"] == {
        "id": grant.pk,
        "url": f"https://xacct.example.com/grants/{grant.pk}/",
        "role_arn": ROLE_ARN,
        "trusting_account_id": sandbox.PIYO.account_id,
        "trusted_account_id": sandbox.HOGE.account_id,
        "status": "failing",
    }
    assert event["account"] is None


def test_a_slack_webhook_gets_text_with_a_link_and_is_signed_too(receiver, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    _, secret = make_webhook(receiver.url, body_format=WebhookFormat.SLACK)
    grant = make_grant(piyo, hoge)

    webhooks.webhooks_enqueue(alert=make_alert(grant))

    [request] = receiver.requests
    document = json.loads(request.body)
    assert list(document) == ["text"]
    text = document["text"]
    assert text.startswith("*piyo-sqs-for-hoge in piyo started failing*\n")
    # Slack's control characters are escaped; the link uses Slack's <url|label> form.
    assert "denied &lt;because&gt; the trust policy &amp; its conditions." in text
    assert text.endswith(f"<https://xacct.example.com/grants/{grant.pk}/|Open in xacct portal>")
    assert request.headers["x-xacct-signature"] == expected_signature(
        secret, request.headers["x-xacct-timestamp"], request.body
    )


# --- retries -----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_after_a_500_the_worker_retries_later_and_logs_the_delivery(
    receiver, piyo, hoge, task_queue
) -> None:  # type: ignore[no-untyped-def]
    receiver.answer(Answer(500, b"database on fire"))
    _, secret = make_webhook(receiver.url)
    alert = make_alert(make_grant(piyo, hoge))

    [delivery] = webhooks.webhooks_enqueue(alert=alert)
    assert receiver.requests == []  # queued, not sent in the caller
    task_queue.run()

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.RETRYING
    assert delivery.attempts == 1
    assert delivery.last_http_status == 500
    assert delivery.last_error == "HTTP 500: database on fire"
    wait = delivery.next_attempt_at - delivery.last_attempt_at
    assert timedelta(seconds=29) < wait < timedelta(seconds=35)
    retry = DBTaskResult.objects.get(status="READY")
    assert retry.task_path == webhook_deliver_task.module_path
    assert retry.run_after == delivery.next_attempt_at

    task_queue.run()  # not due yet: the worker leaves it
    assert len(receiver.requests) == 1

    # Thirty seconds later.
    past = timezone.now() - timedelta(seconds=1)
    DBTaskResult.objects.filter(pk=retry.pk).update(run_after=past)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=past)
    task_queue.run()

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.attempts == 2
    assert delivery.last_http_status == 200
    assert delivery.last_error == ""
    assert delivery.next_attempt_at is None
    first, second = receiver.requests
    assert first.body == second.body
    assert first.headers["x-xacct-event-id"] == second.headers["x-xacct-event-id"]
    assert second.headers["x-xacct-signature"] == expected_signature(
        secret, second.headers["x-xacct-timestamp"], second.body
    )


def test_without_a_deferring_backend_the_retry_sweep_sends_it_when_due(
    receiver, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    receiver.answer(Answer(503))
    make_webhook(receiver.url)
    [delivery] = webhooks.webhooks_enqueue(alert=make_alert(make_grant(piyo, hoge)))
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.RETRYING

    assert webhooks.webhooks_retry_due() == 0
    assert len(receiver.requests) == 1

    assert webhooks.webhooks_retry_due(now=delivery.next_attempt_at) == 1
    # The sweep queued it; the attempt itself waits for the real clock to pass next_attempt_at.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    assert webhooks.webhooks_retry_due() == 1

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert len(receiver.requests) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
def test_a_4xx_fails_the_delivery_without_retrying(receiver, piyo, hoge, status) -> None:  # type: ignore[no-untyped-def]
    receiver.answer(Answer(status, b"no such hook"))
    make_webhook(receiver.url)
    [delivery] = webhooks.webhooks_enqueue(alert=make_alert(make_grant(piyo, hoge)))

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 1
    assert delivery.last_http_status == status
    assert delivery.last_error == f"HTTP {status}: no such hook"
    assert delivery.next_attempt_at is None
    assert webhooks.webhooks_retry_due(now=timezone.now() + timedelta(days=1)) == 0
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_408_429_and_5xx_are_retried(receiver, piyo, hoge, status) -> None:  # type: ignore[no-untyped-def]
    receiver.answer(Answer(status))
    make_webhook(receiver.url)
    [delivery] = webhooks.webhooks_enqueue(alert=make_alert(make_grant(piyo, hoge)))

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.RETRYING
    assert delivery.last_http_status == status


def test_a_longer_retry_after_is_honoured_up_to_the_longest_delay(receiver, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    receiver.answer(
        Answer(429, headers={"Retry-After": "300"}), Answer(429, headers={"Retry-After": "99999"})
    )
    make_webhook(receiver.url)
    [delivery] = webhooks.webhooks_enqueue(alert=make_alert(make_grant(piyo, hoge)))
    delivery.refresh_from_db()
    wait = delivery.next_attempt_at - delivery.last_attempt_at
    assert timedelta(seconds=299) < wait < timedelta(seconds=305)

    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    delivery = webhooks.webhook_deliver(delivery_id=delivery.pk)
    wait = delivery.next_attempt_at - delivery.last_attempt_at
    assert timedelta(seconds=599) < wait < timedelta(seconds=605)  # capped at 600


def test_the_delivery_fails_after_the_last_attempt(receiver, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    receiver.answer(*[Answer(500)] * 4)
    make_webhook(receiver.url)
    [delivery] = webhooks.webhooks_enqueue(alert=make_alert(make_grant(piyo, hoge)))
    waits = []
    for _ in range(3):
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.RETRYING
        waits.append(round((delivery.next_attempt_at - delivery.last_attempt_at).total_seconds()))
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        webhooks.webhook_deliver(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert waits == [30, 120, 600]
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 4
    assert delivery.next_attempt_at is None
    assert len(receiver.requests) == 4


# --- bounded in time and size ---------------------------------------------------------------


def test_a_receiver_that_never_answers_is_given_up_after_the_read_timeout(
    hung_endpoint, settings, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    settings.XACCT_WEBHOOK_TIMEOUT_SECONDS = 0.5
    make_webhook(f"{hung_endpoint}/hook")
    started = time.monotonic()
    [delivery] = webhooks.webhooks_enqueue(alert=make_alert(make_grant(piyo, hoge)))
    elapsed = time.monotonic() - started

    delivery.refresh_from_db()
    assert elapsed < 3
    assert delivery.status == DeliveryStatus.RETRYING
    assert delivery.last_http_status is None
    assert delivery.last_error == "No answer within 0.5 s."
    assert 400 <= delivery.duration_ms < 3000


def test_a_refused_connection_is_retried_with_the_error_logged(piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    make_webhook(f"http://127.0.0.1:{port}/hook")
    [delivery] = webhooks.webhooks_enqueue(alert=make_alert(make_grant(piyo, hoge)))

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.RETRYING
    assert delivery.last_error.startswith("Connection failed:")
    assert "refused" in delivery.last_error.lower()


def test_only_the_start_of_a_large_answer_is_read(receiver, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    receiver.answer(Answer(500, b"x" * 2_000_000))
    make_webhook(receiver.url)
    [delivery] = webhooks.webhooks_enqueue(alert=make_alert(make_grant(piyo, hoge)))

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.RETRYING
    assert delivery.last_error.startswith("HTTP 500: xxxx")
    assert len(delivery.last_error) <= webhooks.LAST_ERROR_CHARS


def test_a_redirect_is_not_followed(receiver, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    receiver.answer(Answer(307, headers={"Location": f"{receiver.url}/elsewhere"}))
    make_webhook(receiver.url)
    [delivery] = webhooks.webhooks_enqueue(alert=make_alert(make_grant(piyo, hoge)))

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.last_http_status == 307
    assert "redirects are not followed" in delivery.last_error
    assert [r.path for r in receiver.requests] == ["/hook"]


# --- who gets what, once ---------------------------------------------------------------------


def test_an_inactive_webhook_gets_nothing(receiver, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    make_webhook(receiver.url, is_active=False)
    assert webhooks.webhooks_enqueue(alert=make_alert(make_grant(piyo, hoge))) == []
    assert receiver.requests == []
    assert not WebhookDelivery.objects.exists()


def test_a_webhook_deactivated_before_the_attempt_gets_nothing(
    receiver, piyo, hoge, task_queue
) -> None:  # type: ignore[no-untyped-def]
    webhook, _ = make_webhook(receiver.url)
    [delivery] = webhooks.webhooks_enqueue(alert=make_alert(make_grant(piyo, hoge)))
    webhooks.webhook_update(webhook=webhook, actor=None, is_active=False)

    delivery = webhooks.webhook_deliver(delivery_id=delivery.pk)

    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.last_error == "Not sent: the webhook is inactive."
    assert receiver.requests == []


def test_a_failures_only_webhook_is_not_told_about_a_recovery(receiver, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    make_webhook(receiver.url, name="failures", failures_only=True)
    grant = make_grant(piyo, hoge)

    assert webhooks.webhooks_enqueue(alert=make_alert(grant, AlertKind.GRANT_RECOVERED)) == []
    assert len(webhooks.webhooks_enqueue(alert=make_alert(grant, AlertKind.GRANT_FAILING))) == 1
    assert [json.loads(r.body)["kind"] for r in receiver.requests] == ["grant.failing"]


def test_a_duplicated_task_or_dispatch_sends_once(receiver, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    make_webhook(receiver.url)
    alert = make_alert(make_grant(piyo, hoge))
    [delivery] = webhooks.webhooks_enqueue(alert=alert)

    assert webhooks.webhooks_enqueue(alert=alert) == []  # the dispatch ran twice
    webhook_deliver_task.enqueue(delivery_id=delivery.pk)  # the task ran twice
    webhooks.webhook_deliver(delivery_id=delivery.pk)

    assert len(receiver.requests) == 1
    assert WebhookDelivery.objects.get().attempts == 1


def test_an_attempt_claimed_by_another_worker_is_left_to_it(
    receiver, piyo, hoge, task_queue
) -> None:  # type: ignore[no-untyped-def]
    make_webhook(receiver.url)
    [delivery] = webhooks.webhooks_enqueue(alert=make_alert(make_grant(piyo, hoge)))
    # Another worker has just claimed attempt 1 (its POST is in flight).
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        attempts=1, next_attempt_at=timezone.now() + timedelta(seconds=90)
    )

    delivery = webhooks.webhook_deliver(delivery_id=delivery.pk)

    assert delivery.attempts == 1
    assert delivery.status == DeliveryStatus.PENDING
    assert receiver.requests == []


def test_a_test_event_goes_to_that_webhook_only(receiver, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    webhook, _ = make_webhook(receiver.url)
    make_webhook(receiver.url.replace("/hook", "/other"), name="other")

    delivery = webhooks.webhook_send_test(webhook=webhook, actor=None)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    [request] = receiver.requests
    assert request.path == "/hook"
    event = json.loads(request.body)
    assert (event["kind"], event["test"], event["grant"]) == ("webhook.test", True, None)
    assert delivery.alert.dispatched_at is not None  # no e-mail fan-out picks it up


# --- the secret ------------------------------------------------------------------------------


def test_the_secret_is_stored_encrypted_only(receiver) -> None:  # type: ignore[no-untyped-def]
    webhook, secret = make_webhook(receiver.url)

    assert len(secret) >= 43
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM alerts_webhook WHERE id = %s", [webhook.pk])
        row = cursor.fetchone()
    stored = b"".join(
        bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()
        for value in row
    )
    assert secret.encode() not in stored
    assert webhooks.secret_decrypt(Webhook.objects.get().secret_encrypted) == secret


def test_each_webhook_gets_its_own_secret(receiver) -> None:  # type: ignore[no-untyped-def]
    _, first = make_webhook(receiver.url, name="one")
    _, second = make_webhook(receiver.url, name="two")
    assert first != second


def test_rotating_the_secret_signs_later_deliveries_with_the_new_one(receiver, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    webhook, old = make_webhook(receiver.url)
    new = webhooks.webhook_rotate_secret(webhook=webhook, actor=None)
    assert new != old

    webhooks.webhooks_enqueue(alert=make_alert(make_grant(piyo, hoge)))

    [request] = receiver.requests
    timestamp = request.headers["x-xacct-timestamp"]
    assert request.headers["x-xacct-signature"] == expected_signature(new, timestamp, request.body)
    assert request.headers["x-xacct-signature"] != expected_signature(old, timestamp, request.body)


def test_a_changed_secret_key_fails_the_delivery_with_advice(
    receiver, piyo, hoge, settings
) -> None:  # type: ignore[no-untyped-def]
    make_webhook(receiver.url)
    settings.SECRET_KEY = "a-brand-new-secret-key-for-this-portal-0123456789"

    [delivery] = webhooks.webhooks_enqueue(alert=make_alert(make_grant(piyo, hoge)))

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert "Rotate the webhook's secret" in delivery.last_error
    assert receiver.requests == []


def test_the_old_secret_key_in_the_fallbacks_still_opens_the_secret(receiver, settings) -> None:  # type: ignore[no-untyped-def]
    webhook, secret = make_webhook(receiver.url)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-brand-new-secret-key-for-this-portal-0123456789"

    assert webhooks.secret_decrypt(Webhook.objects.get(pk=webhook.pk).secret_encrypted) == secret


def test_a_configured_webhook_key_is_used_instead_of_the_secret_key(receiver, settings) -> None:  # type: ignore[no-untyped-def]
    settings.XACCT_WEBHOOK_KEY = "a-dedicated-webhook-key"
    webhook, secret = make_webhook(receiver.url)
    settings.SECRET_KEY = "a-brand-new-secret-key-for-this-portal-0123456789"

    assert webhooks.secret_decrypt(Webhook.objects.get(pk=webhook.pk).secret_encrypted) == secret
    settings.XACCT_WEBHOOK_KEY = "another-key"
    with pytest.raises(webhooks.SecretUnavailable):
        webhooks.secret_decrypt(Webhook.objects.get(pk=webhook.pk).secret_encrypted)


# --- validation and permissions -------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example.com/x",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "https://user:password@hooks.example.com/x",
        "https://token@hooks.example.com/x",
        "hooks.example.com/x",
    ],
)
def test_a_url_that_is_not_plain_http_or_carries_credentials_is_refused(url) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as caught:
        make_webhook(url)
    assert "url" in caught.value.message_dict
    assert not Webhook.objects.exists()


def test_a_person_without_manage_account_may_not_manage_webhooks(
    receiver, django_user_model
) -> None:  # type: ignore[no-untyped-def]
    from django.contrib.auth.models import Group

    from grants.services import authz

    authz.roles_ensure()
    viewer = django_user_model.objects.create_user("vic", password="x-correct-horse-4")
    viewer.groups.add(Group.objects.get(name=authz.GRANT_MANAGERS))
    webhook, _ = make_webhook(receiver.url)

    with pytest.raises(PermissionDenied):
        webhooks.webhook_create(actor=viewer, name="x", url=receiver.url)
    for call in (
        webhooks.webhook_rotate_secret,
        webhooks.webhook_delete,
        webhooks.webhook_send_test,
    ):
        with pytest.raises(PermissionDenied):
            call(webhook=webhook, actor=viewer)
    with pytest.raises(PermissionDenied):
        webhooks.webhook_update(webhook=webhook, actor=viewer, is_active=False)
    assert Webhook.objects.get().is_active


# --- with the alert dispatch -----------------------------------------------------------------


def test_an_alert_dispatched_by_the_worker_reaches_every_active_webhook_once(
    receiver, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    from alerts.services import alert_dispatch

    _, secret = make_webhook(receiver.url)
    make_webhook(receiver.url.replace("/hook", "/paused"), name="paused", is_active=False)
    alert = make_alert(make_grant(piyo, hoge))

    alert_dispatch(alert_id=alert.pk)
    alert_dispatch(alert_id=alert.pk)  # a duplicated dispatch task

    [request] = receiver.requests
    assert request.path == "/hook"
    assert json.loads(request.body)["id"] == f"xacct-alert-{alert.pk}"
    assert request.headers["x-xacct-signature"] == expected_signature(
        secret, request.headers["x-xacct-timestamp"], request.body
    )
    assert WebhookDelivery.objects.get().status == DeliveryStatus.DELIVERED


def test_the_webhooks_retry_command_sends_what_is_due_and_says_how_many(
    receiver, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    from io import StringIO

    from django.core.management import call_command

    receiver.answer(Answer(502))
    make_webhook(receiver.url)
    [delivery] = webhooks.webhooks_enqueue(alert=make_alert(make_grant(piyo, hoge)))
    out = StringIO()
    call_command("webhooks_retry", stdout=out)
    assert out.getvalue() == "0 webhook deliveries queued.\n"

    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    out = StringIO()
    call_command("webhooks_retry", stdout=out)

    assert out.getvalue() == "1 webhook delivery queued.\n"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 2)


@pytest.mark.django_db(transaction=True)
def test_the_retry_sweep_does_not_pile_up_tasks_for_deliveries_already_queued(
    receiver, piyo, hoge, task_queue
) -> None:  # type: ignore[no-untyped-def]
    receiver.answer(Answer(500))
    make_webhook(receiver.url)
    [delivery] = webhooks.webhooks_enqueue(alert=make_alert(make_grant(piyo, hoge)))
    assert webhooks.webhooks_retry_due() == 0  # its first task waits in the queue
    task_queue.run()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.RETRYING
    later = delivery.next_attempt_at + timedelta(seconds=1)
    assert webhooks.webhooks_retry_due(now=later) == 0  # the deferred retry is queued

    # The queued retry is lost (its worker's database was restored, say): the sweep requeues.
    DBTaskResult.objects.filter(status="READY").delete()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    assert webhooks.webhooks_retry_due() == 1
    assert webhooks.webhooks_retry_due() == 0
    task_queue.run()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 2)
