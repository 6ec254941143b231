"""Webhooks: signed JSON POSTs of alerts, retried with backoff, each delivery logged.

What a receiver gets is documented in docs/webhooks.md (schema version 1):
the body, `X-Xacct-Signature: sha256=<hex>` = HMAC-SHA256 with the webhook's
secret over `<X-Xacct-Timestamp>.<raw body>`, `X-Xacct-Event-Id` and
`X-Xacct-Delivery`. The secret is generated here, returned once to show to the
person who created (or rotated) it, and stored only Fernet-encrypted with a key
derived from XACCT_WEBHOOK_KEY or else SECRET_KEY (SECRET_KEY_FALLBACKS still
decrypt after a rotation of SECRET_KEY).

Sending happens on the task worker (alerts/tasks_webhooks.py), never in the web
request: `webhooks_enqueue` creates one WebhookDelivery per active webhook and
queues `webhook_deliver`, which makes one attempt and, on a 5xx, 408, 429,
timeout or connection error, queues the next one after a backoff
(XACCT_WEBHOOK_RETRY_DELAYS_SECONDS) until XACCT_WEBHOOK_MAX_ATTEMPTS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import urllib3
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from grants.models import AuditAction
from grants.services.authz import require

from .models import (
    Alert,
    AlertKind,
    DeliveryStatus,
    Webhook,
    WebhookDelivery,
    WebhookFormat,
)

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
SIGNATURE_HEADER = "X-Xacct-Signature"
TIMESTAMP_HEADER = "X-Xacct-Timestamp"
EVENT_ID_HEADER = "X-Xacct-Event-Id"
DELIVERY_HEADER = "X-Xacct-Delivery"
USER_AGENT = "xacct-portal-webhooks/1"
# How much of a receiver's answer is read (and kept in last_error): it is never needed whole.
RESPONSE_READ_CAP_BYTES = 4096
LAST_ERROR_CHARS = 1000
# Status codes that mean "try again later" although they are 4xx (RFC 9110 §15.5.9, RFC 6585 §4).
RETRYABLE_4XX = frozenset({408, 429})
WEBHOOK_FIELDS = ("name", "url", "body_format", "failures_only", "is_active")
_HKDF_INFO = b"xacct-portal webhook signing secrets v1"


class SecretUnavailable(Exception):
    """The stored secret cannot be decrypted: the key it was encrypted with is gone."""


# --- secrets -----------------------------------------------------------------


def _fernet_for(key_material: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
        key_material.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def _fernet() -> MultiFernet:
    """Encrypts with the current key; decrypts with it or with a fallback of SECRET_KEY."""
    configured = settings.XACCT_WEBHOOK_KEY
    materials = (
        [configured] if configured else [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    )
    return MultiFernet([_fernet_for(material) for material in materials])


def secret_encrypt(secret: str) -> bytes:
    """The Fernet token (bytes) stored in Webhook.secret_encrypted for `secret`."""
    return _fernet().encrypt(secret.encode())


def secret_decrypt(token: bytes | memoryview) -> str:
    """The webhook secret from its stored token.

    Raises SecretUnavailable when no configured key opens it: SECRET_KEY changed
    without the old one in SECRET_KEY_FALLBACKS, or XACCT_WEBHOOK_KEY changed.
    """
    try:
        return _fernet().decrypt(bytes(token)).decode()
    except (InvalidToken, ValueError) as exc:
        raise SecretUnavailable(
            "The webhook's secret cannot be decrypted: the portal's key (SECRET_KEY or "
            "XACCT_WEBHOOK_KEY) changed. "
            "Rotate the webhook's secret and give the new one to the receiver."
        ) from exc


def _new_secret() -> str:
    # 32 random bytes: RFC 2104 §3 asks for a key at least as long as the hash output.
    return secrets.token_urlsafe(32)


# --- validation ----------------------------------------------------------------


def webhook_url_validate(url: str) -> None:
    """Refuse a webhook URL that is not plain http(s) or that carries credentials.

    Raises ValidationError. A user name or password in the URL would be stored
    and shown in clear; a receiver authenticates requests by their signature.
    """
    URLValidator(schemes=["http", "https"])(url)
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        raise ValidationError(
            "Leave credentials out of the URL: the receiver checks the X-Xacct-Signature "
            "header instead.",
            code="credentials",
        )


def _clean(webhook: Webhook) -> None:
    webhook.full_clean()
    try:
        webhook_url_validate(webhook.url)
    except ValidationError as exc:
        raise ValidationError({"url": exc.messages}) from exc


# --- managing webhooks -----------------------------------------------------------


@transaction.atomic
def webhook_create(*, actor: AbstractBaseUser | None, **fields: Any) -> tuple[Webhook, str]:
    """Create a webhook from `fields` (name, url, body_format, failures_only, is_active).

    Returns the webhook and its signing secret in clear, which the caller shows
    once and keeps nowhere. Raises PermissionDenied without manage_account and
    ValidationError for a bad name or URL.
    """
    require(actor, "manage_account")
    secret = _new_secret()
    webhook = Webhook(
        **{name: fields[name] for name in WEBHOOK_FIELDS if name in fields},
        secret_encrypted=secret_encrypt(secret),
        created_by=actor if actor is not None and actor.pk else None,
    )
    _clean(webhook)
    webhook.save()
    logger.info("Webhook %s created by %s.", webhook.pk, actor)
    _audit(actor, AuditAction.WEBHOOK_CREATE, webhook, "added")
    return webhook, secret


@transaction.atomic
def webhook_update(*, webhook: Webhook, actor: AbstractBaseUser | None, **fields: Any) -> Webhook:
    """Change a webhook's name, URL, format, failures-only or active flag (not its secret).

    Raises PermissionDenied and ValidationError as webhook_create does.
    """
    require(actor, "manage_account")
    for name in WEBHOOK_FIELDS:
        if name in fields:
            setattr(webhook, name, fields[name])
    _clean(webhook)
    webhook.save()
    _audit(actor, AuditAction.WEBHOOK_UPDATE, webhook, "edited")
    return webhook


@transaction.atomic
def webhook_rotate_secret(*, webhook: Webhook, actor: AbstractBaseUser | None) -> str:
    """Replace the webhook's secret; return the new one in clear (to show once).

    Deliveries still waiting are signed with the new secret when they are sent.
    Raises PermissionDenied without manage_account.
    """
    require(actor, "manage_account")
    secret = _new_secret()
    webhook.secret_encrypted = secret_encrypt(secret)
    webhook.save(update_fields=["secret_encrypted", "updated_at"])
    logger.info("Webhook %s: secret rotated by %s.", webhook.pk, actor)
    _audit(actor, AuditAction.WEBHOOK_ROTATE, webhook, "secret rotated")
    return secret


@transaction.atomic
def webhook_delete(*, webhook: Webhook, actor: AbstractBaseUser | None) -> None:
    """Delete a webhook and its delivery log. Raises PermissionDenied without manage_account."""
    require(actor, "manage_account")
    _audit(actor, AuditAction.WEBHOOK_DELETE, webhook, "deleted")
    webhook.delete()


def _audit(actor: AbstractBaseUser | None, action: str, webhook: Webhook, what: str) -> None:
    """Audit a change to a webhook: its name and host, never its secret or its URL's path
    (a Slack incoming-webhook URL is itself a credential)."""
    from grants.services.audit import audit_record

    host = urlsplit(webhook.url).hostname or "?"
    audit_record(actor=actor, action=action, message=f"Webhook {webhook.name} ({host}) {what}.")


def webhook_send_test(*, webhook: Webhook, actor: AbstractBaseUser | None) -> WebhookDelivery:
    """Queue a test event (kind webhook.test) to this one webhook, active or not.

    The event is an Alert marked dispatched, so it goes to no one else; its
    delivery is logged like any other. Raises PermissionDenied without manage_account.
    """
    require(actor, "manage_account")
    who = actor.get_username() if actor is not None else "the portal"
    with transaction.atomic():
        alert = Alert.objects.create(
            kind=AlertKind.WEBHOOK_TEST,
            title=f"Test event for webhook {webhook.name}",
            body=f"{who} sent this test event from the xacct portal. No grant changed.",
            details={"webhook": webhook.name},
            dedupe_key=f"webhook.test:{webhook.pk}:{uuid.uuid4().hex}",
            dispatched_at=timezone.now(),
        )
        delivery = WebhookDelivery.objects.create(webhook=webhook, alert=alert)
    # Outside the transaction: an in-process backend sends at once, and no database
    # lock may be held while a receiver takes its time.
    _enqueue([delivery.pk])
    return delivery


# --- fan-out ---------------------------------------------------------------------


def webhooks_enqueue(*, alert: Alert) -> list[WebhookDelivery]:
    """One delivery of `alert` per active webhook that wants it, queued for the worker.

    A failures-only webhook gets only alerts whose kind is a failure. Calling it
    again for the same alert creates and queues nothing new (one delivery per
    webhook and alert). Returns the deliveries created by this call.
    """
    webhooks = Webhook.objects.filter(is_active=True)
    if not alert.is_failure:
        webhooks = webhooks.filter(failures_only=False)
    created: list[WebhookDelivery] = []
    for webhook in webhooks:
        try:
            with transaction.atomic():
                created.append(WebhookDelivery.objects.create(webhook=webhook, alert=alert))
        except IntegrityError:
            continue  # already there: a repeated dispatch
    _enqueue([delivery.pk for delivery in created])
    return created


def webhooks_retry_due(*, now: datetime | None = None) -> int:
    """Queue every delivery that is due and that nothing will run; return how many.

    Due: pending or retrying, next attempt at or before `now` (default: the
    current time). Skipped: deliveries with a task already waiting in the
    database queue (run later or not), so that cron with the workers down does
    not pile up tasks. For backends that cannot run a task later (immediate) and
    for attempts whose worker died (their claim runs out): run it every minute
    or so (`manage.py webhooks_retry`). A delivery queued twice is still sent
    once: webhook_deliver claims each attempt.
    """
    from grants.tasks import queued_in_database

    now = now or timezone.now()
    due = WebhookDelivery.objects.filter(
        status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING],
    ).filter(Q(next_attempt_at__lte=now) | Q(next_attempt_at__isnull=True))
    ids = list(due.order_by("pk").values_list("pk", flat=True)[:1000])
    if ids and queued_in_database():
        waiting = _queued_delivery_ids()
        ids = [pk for pk in ids if pk not in waiting]
    _enqueue(ids, now=True)
    return len(ids)


def _queued_delivery_ids() -> set[int]:
    """Deliveries whose task waits in django-tasks-db's queue (READY, due or later)."""
    from django.tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    from .tasks_webhooks import webhook_deliver_task

    queued = DBTaskResult.objects.filter(
        status=TaskResultStatus.READY, task_path=webhook_deliver_task.module_path
    ).values_list("args_kwargs", flat=True)
    return {
        kwargs["kwargs"].get("delivery_id")
        for kwargs in queued
        if isinstance(kwargs, dict) and isinstance(kwargs.get("kwargs"), dict)
    }


def _enqueue(ids: list[int], *, now: bool = False) -> None:
    """Queue a delivery task per id: after commit for workers, at once in-process."""
    from grants.tasks import queued_in_database

    from .tasks_webhooks import webhook_deliver_task

    def run() -> None:
        for delivery_id in ids:
            webhook_deliver_task.enqueue(delivery_id=delivery_id)

    if not ids:
        return
    if queued_in_database() and not now:
        transaction.on_commit(run)
    else:
        run()


def _enqueue_retry(delivery_id: int, run_after: datetime) -> None:
    """Queue the next attempt for `run_after` where the backend can wait that long.

    The immediate backend cannot: webhooks_retry_due picks the delivery up then.
    """
    from django.tasks import task_backends

    from .tasks_webhooks import webhook_deliver_task

    if task_backends["default"].supports_defer:
        webhook_deliver_task.using(run_after=run_after).enqueue(delivery_id=delivery_id)


# --- payload and signature ---------------------------------------------------------


def _portal_url(path: str) -> str:
    base = settings.XACCT_PUBLIC_URL.rstrip("/")
    return f"{base}{path}"


def _iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def event_id(alert: Alert) -> str:
    """The event's id: the same for every attempt and webhook, so receivers can dedupe."""
    return f"xacct-alert-{alert.pk}"


def webhook_payload(*, alert: Alert) -> dict[str, Any]:
    """The schema-version-1 event for `alert` (docs/webhooks.md lists every field)."""
    grant = alert.grant
    account = alert.account
    grant_doc = None
    if grant is not None:
        grant_doc = {
            "id": grant.pk,
            "url": _portal_url(grant.get_absolute_url()),
            "role_arn": grant.planned_role_arn,
            "trusting_account_id": grant.trusting_account.account_id,
            "trusted_account_id": grant.trusted_aws_account_id,
            "status": grant.status,
        }
    account_doc = None
    if account is not None:
        account_doc = {
            "id": account.pk,
            "url": _portal_url(account.get_absolute_url()),
            "account_id": account.account_id,
            "name": account.name,
        }
    link = grant_doc["url"] if grant_doc else account_doc["url"] if account_doc else None
    return {
        "schema_version": SCHEMA_VERSION,
        "id": event_id(alert),
        "kind": alert.kind,
        "kind_label": alert.get_kind_display(),
        "is_failure": alert.is_failure,
        "test": alert.kind == AlertKind.WEBHOOK_TEST,
        "created_at": _iso_utc(alert.created_at),
        "title": alert.title,
        "body": alert.body,
        "details": alert.details,
        "url": link,
        "grant": grant_doc,
        "account": account_doc,
    }


def _slack_escape(text: str) -> str:
    # Slack's three control characters in message text (api.slack.com, "Formatting text").
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(*, alert: Alert) -> dict[str, str]:
    """A Slack-compatible body: {"text": …} with the title in bold and a link to the grant."""
    event = webhook_payload(alert=alert)
    lines = [f"*{_slack_escape(alert.title)}*"]
    if alert.body:
        lines.append(_slack_escape(alert.body))
    if event["url"] and urlsplit(event["url"]).scheme in {"http", "https"}:
        lines.append(f"<{event['url']}|Open in xacct portal>")
    elif event["url"]:
        lines.append(f"xacct portal: {event['url']}")
    return {"text": "\n".join(lines)}


def webhook_body(*, webhook: Webhook, alert: Alert) -> bytes:
    """The raw request body (UTF-8 JSON) `webhook` receives for `alert`."""
    if webhook.body_format == WebhookFormat.SLACK:
        document: dict[str, Any] = slack_payload(alert=alert)
    else:
        document = webhook_payload(alert=alert)
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def webhook_signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>`, the X-Xacct-Signature value.

    `timestamp` is Unix time in seconds, sent as X-Xacct-Timestamp; signing it
    lets a receiver refuse a replayed request older than a few minutes.
    """
    material = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), material, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


# --- delivery --------------------------------------------------------------------


@dataclass(frozen=True)
class AttemptOutcome:
    """What one POST came to: an HTTP status, or an error before any answer."""

    http_status: int | None
    error: str
    duration_ms: int
    retry_after_seconds: float | None = None

    @property
    def delivered(self) -> bool:
        return self.http_status is not None and 200 <= self.http_status < 300

    @property
    def retryable(self) -> bool:
        if self.http_status is None:
            return True  # timeout, refused connection, reset: the receiver may come back
        return self.http_status >= 500 or self.http_status in RETRYABLE_4XX


@cache
def _pool() -> urllib3.PoolManager:
    # Built on first use, never at import; one pool a process (urllib3 pools are thread-safe).
    return urllib3.PoolManager(retries=False, headers={"User-Agent": USER_AGENT})


def _timeouts() -> urllib3.Timeout:
    return urllib3.Timeout(
        connect=settings.XACCT_WEBHOOK_CONNECT_TIMEOUT_SECONDS,
        read=settings.XACCT_WEBHOOK_TIMEOUT_SECONDS,
    )


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delay-seconds or HTTP-date, RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, (moment - timezone.now()).total_seconds())


def _post(*, url: str, body: bytes, headers: dict[str, str]) -> AttemptOutcome:
    """One POST: no retries, no redirects followed, at most RESPONSE_READ_CAP_BYTES read.

    Never raises for a network failure: the outcome carries it as `error`.
    """
    started = time.monotonic()

    def elapsed() -> int:
        return round((time.monotonic() - started) * 1000)

    try:
        response = _pool().request(
            "POST",
            url,
            body=body,
            headers=headers,
            timeout=_timeouts(),
            retries=False,
            redirect=False,
            preload_content=False,
        )
    except urllib3.exceptions.NewConnectionError as exc:  # a subclass of ConnectTimeoutError
        return AttemptOutcome(None, f"Connection failed: {_reason(exc)}", elapsed())
    except urllib3.exceptions.ConnectTimeoutError:
        limit = settings.XACCT_WEBHOOK_CONNECT_TIMEOUT_SECONDS
        return AttemptOutcome(None, f"Could not connect within {limit:g} s.", elapsed())
    except urllib3.exceptions.ReadTimeoutError:
        limit = settings.XACCT_WEBHOOK_TIMEOUT_SECONDS
        return AttemptOutcome(None, f"No answer within {limit:g} s.", elapsed())
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        return AttemptOutcome(None, f"Connection failed: {_reason(exc)}", elapsed())
    try:
        snippet = response.read(RESPONSE_READ_CAP_BYTES)
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        snippet = f"(the answer could not be read: {_reason(exc)})".encode()
    finally:
        response.close()
        response.release_conn()
    status = response.status
    if 200 <= status < 300:
        return AttemptOutcome(status, "", elapsed())
    text = snippet.decode("utf-8", errors="replace").strip()
    if 300 <= status < 400:
        where = response.headers.get("Location", "")
        error = f"HTTP {status}: redirected to {where or 'nowhere'}; redirects are not followed."
    else:
        error = f"HTTP {status}" + (f": {text}" if text else "")
    retry_after = _retry_after(response.headers.get("Retry-After"))
    return AttemptOutcome(status, error[:LAST_ERROR_CHARS], elapsed(), retry_after)


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    if isinstance(reason, socket.timeout):
        return "timed out"
    text = str(reason)
    # urllib3 prefixes the connection object's repr: keep the part a person can read.
    return text.split(": ", 1)[-1] if text.startswith("<") else text


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt (1-based), from
    XACCT_WEBHOOK_RETRY_DELAYS_SECONDS; the last delay repeats."""
    delays = settings.XACCT_WEBHOOK_RETRY_DELAYS_SECONDS
    return timedelta(seconds=float(delays[min(attempts, len(delays)) - 1]))


def _claim_lease() -> timedelta:
    # Longer than any attempt can take: connect, read, and the capped body.
    connect = settings.XACCT_WEBHOOK_CONNECT_TIMEOUT_SECONDS
    read = settings.XACCT_WEBHOOK_TIMEOUT_SECONDS
    return timedelta(seconds=2 * (connect + read) + 60)


def _finish(delivery: WebhookDelivery, attempt: int, **fields: Any) -> WebhookDelivery:
    """Save an attempt's outcome unless another worker's later attempt got there first."""
    WebhookDelivery.objects.filter(pk=delivery.pk, attempts=attempt).update(**fields)
    delivery.refresh_from_db()
    return delivery


def webhook_deliver(*, delivery_id: int) -> WebhookDelivery:
    """Make the next attempt of one delivery, if it is due; return the delivery as saved.

    Idempotent: a delivered or failed delivery, one not yet due, or one whose
    attempt another worker has claimed is returned untouched, so a duplicated
    task sends nothing twice. An attempt is claimed by a compare-and-set on
    `attempts` and holds the delivery (next_attempt_at in the future) while the
    POST is in flight, without a database transaction open across the network.

    2xx: delivered. 3xx and 4xx other than 408/429: failed, no retry. 5xx, 408,
    429, timeout or connection error: retried after retry_delay (or a longer
    Retry-After) until XACCT_WEBHOOK_MAX_ATTEMPTS, then failed. An inactive
    webhook, or a secret that no longer decrypts, fails the delivery unsent.
    Raises WebhookDelivery.DoesNotExist for an unknown id.
    """
    delivery = WebhookDelivery.objects.select_related(
        "webhook", "alert", "alert__grant__trusting_account", "alert__account"
    ).get(pk=delivery_id)
    now = timezone.now()
    if delivery.status in {DeliveryStatus.DELIVERED, DeliveryStatus.FAILED}:
        return delivery
    if delivery.next_attempt_at is not None and delivery.next_attempt_at > now:
        return delivery
    webhook = delivery.webhook
    attempt = delivery.attempts + 1
    claimed = WebhookDelivery.objects.filter(
        pk=delivery.pk,
        attempts=delivery.attempts,
        status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING],
    ).update(attempts=attempt, last_attempt_at=now, next_attempt_at=now + _claim_lease())
    if not claimed:
        delivery.refresh_from_db()
        return delivery
    is_test = delivery.alert.kind == AlertKind.WEBHOOK_TEST
    if not webhook.is_active and not is_test:
        return _finish(
            delivery,
            attempt,
            status=DeliveryStatus.FAILED,
            next_attempt_at=None,
            last_error="Not sent: the webhook is inactive.",
        )
    try:
        secret = secret_decrypt(webhook.secret_encrypted)
    except SecretUnavailable as exc:
        return _finish(
            delivery,
            attempt,
            status=DeliveryStatus.FAILED,
            next_attempt_at=None,
            last_error=str(exc),
        )
    body = webhook_body(webhook=webhook, alert=delivery.alert)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        SIGNATURE_HEADER: webhook_signature(secret=secret, timestamp=timestamp, body=body),
        TIMESTAMP_HEADER: str(timestamp),
        EVENT_ID_HEADER: event_id(delivery.alert),
        DELIVERY_HEADER: str(delivery.pk),
    }
    outcome = _post(url=webhook.url, body=body, headers=headers)
    finished = timezone.now()
    common: dict[str, Any] = {
        "last_http_status": outcome.http_status,
        "duration_ms": outcome.duration_ms,
        "last_error": outcome.error,
    }
    if outcome.delivered:
        logger.info("Webhook delivery %s delivered (attempt %s).", delivery.pk, attempt)
        return _finish(
            delivery,
            attempt,
            status=DeliveryStatus.DELIVERED,
            delivered_at=finished,
            next_attempt_at=None,
            **common,
        )
    if not outcome.retryable or attempt >= settings.XACCT_WEBHOOK_MAX_ATTEMPTS:
        logger.warning("Webhook delivery %s failed: %s", delivery.pk, outcome.error)
        return _finish(
            delivery, attempt, status=DeliveryStatus.FAILED, next_attempt_at=None, **common
        )
    wait = retry_delay(attempt)
    if outcome.retry_after_seconds is not None:
        # Honour a longer Retry-After, but never beyond the longest configured delay.
        longest = max(float(s) for s in settings.XACCT_WEBHOOK_RETRY_DELAYS_SECONDS)
        wait = max(wait, timedelta(seconds=min(outcome.retry_after_seconds, longest)))
    next_at = finished + wait
    delivery = _finish(
        delivery, attempt, status=DeliveryStatus.RETRYING, next_attempt_at=next_at, **common
    )
    if delivery.attempts == attempt and delivery.status == DeliveryStatus.RETRYING:
        _enqueue_retry(delivery.pk, next_at)
    return delivery
