"""Alerts: turn a grant's state changes into one Alert each, and fan them out.

Creating an Alert happens in the transaction of the change it reports (the caller's);
`Alert.dedupe_key` (unique) makes a change produce at most one, however often or
concurrently it is reported. Once that transaction commits, a task on the worker
e-mails the recipients and hands the alert to the webhooks: never the web request.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.mail import EmailMultiAlternatives, mailers
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from grants.models import Grant, GrantStatus, Operation, Verification, VerificationOutcome

from .models import Alert, AlertKind, Subscription, SubscriptionScope

if TYPE_CHECKING:
    from grants.models import AwsAccount, VerificationBatch

logger = logging.getLogger(__name__)

# Grants whose verification results are news: a revoked or expired grant is meant to fail.
WATCHED = (GrantStatus.ACTIVE, GrantStatus.FAILING)
LIVE = (GrantStatus.ACTIVE, GrantStatus.FAILING, GrantStatus.PARTIAL)
DECISIVE = (*VerificationOutcome.passing(), VerificationOutcome.FAILED)


# -- creating alerts ------------------------------------------------------------------------


def _alert_create(
    *,
    kind: AlertKind,
    dedupe_key: str,
    title: str,
    body: str = "",
    details: dict[str, Any] | None = None,
    grant: Grant | None = None,
    account: AwsAccount | None = None,
) -> Alert | None:
    """Save one alert unless its dedupe key exists; queue its dispatch after commit.

    Returns the new Alert, or None when this change was alerted already (the unique
    key refused it: a repeat, or a concurrent report of the same change). Runs in a
    savepoint, so a refusal leaves the caller's transaction usable.
    """
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                kind=kind,
                dedupe_key=dedupe_key[:300],
                title=title[:300],
                body=body,
                details=details or {},
                grant=grant,
                account=account,
            )
    except IntegrityError:
        return None
    alert_id = alert.pk
    transaction.on_commit(lambda: _dispatch_enqueue(alert_id=alert_id, attempt=1))
    return alert


def _grant_label(grant: Grant) -> str:
    trusted = grant.trusted_account.name if grant.trusted_account else grant.trusted_aws_account_id
    return f"{grant.role_name} ({grant.trusting_account.name} ← {trusted})"


def _previous_decisive(verification: Verification) -> Verification | None:
    """The grant's verification before this one that passed or failed (static-only skipped)."""
    return (
        Verification.objects.filter(grant_id=verification.grant_id, outcome__in=DECISIVE)
        .exclude(pk=verification.pk)
        .filter(
            Q(started_at__lt=verification.started_at)
            | Q(started_at=verification.started_at, pk__lt=verification.pk)
        )
        .order_by("-started_at", "-pk")
        .first()
    )


def alert_grant_verified(*, grant: Grant, verification: Verification) -> Alert | None:
    """Alert when a saved verification changes whether the grant works.

    Takes the grant and its just-saved Verification (call it in the transaction that
    saved it). Passing (or never verified) → failed gives a "started failing" alert
    with the failing step, its explanation and fix; failed → passed gives a
    "passes again" alert. The change is read from the grant's own verification
    history (the decisive verification before this one), so a hundred failures in a
    row alert once, and a static-only check ("checked statically only": neither pass
    nor fail) never alerts nor breaks a run. Grants that are not active or failing
    (revoked, expired, partial, provisioning) never alert from a verification.
    Returns the new Alert, or None when nothing changed or it was alerted already.
    """
    if verification.outcome not in DECISIVE:
        return None
    status = Grant.objects.filter(pk=grant.pk).values_list("status", flat=True).first()
    if status not in WATCHED:
        return None
    previous = _previous_decisive(verification)
    passed = verification.outcome in VerificationOutcome.passing()
    was_passing = previous is None or previous.outcome in VerificationOutcome.passing()
    if passed == was_passing:
        return None  # the first verification passing is no news either
    # Keyed on the verification it changed from: concurrent reports of the same change
    # name the same predecessor and make one alert.
    after = previous.pk if previous is not None else 0
    label = _grant_label(grant)
    if passed:
        return _alert_create(
            kind=AlertKind.GRANT_RECOVERED,
            dedupe_key=f"grant.recovered:{grant.pk}:after:{after}",
            title=f"{label}: {verification.get_outcome_display()}",
            body=f"{verification.get_outcome_display()}; "
            f"{len(verification.queue_urls)} queue(s) listed.",
            details={"verification_id": verification.pk, "outcome": verification.outcome},
            grant=grant,
        )
    step = verification.failed_step or {}
    error = step.get("error") or {}
    return _alert_create(
        kind=AlertKind.GRANT_FAILING,
        dedupe_key=f"grant.failing:{grant.pk}:after:{after}",
        title=f"{label}: {step.get('title') or 'Test access'} failed",
        body=step.get("summary", ""),
        details={
            "verification_id": verification.pk,
            "step": {
                "title": step.get("title", ""),
                "summary": step.get("summary", ""),
                "explanation": step.get("explanation", ""),
                "fix": step.get("fix", ""),
            },
            # The AWS error's identifying parts only (what CloudTrail lookups need).
            "error": {
                key: error.get(key, "")
                for key in ("service", "operation", "code", "message", "request_id")
                if error.get(key)
            },
        },
        grant=grant,
    )


def alert_drift_found(*, grant: Grant, items: list[dict[str, Any]]) -> Alert | None:
    """Alert when a drift check finds differences the previous check did not.

    Call it in a transaction, before the check's `items` (DriftItem dicts: part,
    change, diff) replace the saved ones: the grant row is locked and its previous
    drift read, so the same differences found again (or by a concurrent check) do
    not alert twice, while differences that come back after a clean check do.
    Only live grants (active, failing, partial) alert. Returns the new Alert or None.
    """
    row = (
        Grant.objects.select_for_update()
        .filter(pk=grant.pk)
        .values("status", "drift", "drift_checked_at")
        .first()
    )
    if not items or row is None or row["status"] not in LIVE or row["drift"] == items:
        return None
    since = row["drift_checked_at"].isoformat() if row["drift_checked_at"] else "never"
    parts = sorted({f"{item['part']} {item['change']}" for item in items})
    return _alert_create(
        kind=AlertKind.DRIFT_FOUND,
        dedupe_key=f"grant.drift:{grant.pk}:{since}",
        title=f"{_grant_label(grant)}: {', '.join(parts)}",
        body=f"{len(items)} difference(s) between AWS and the record.",
        details={"drift": items},
        grant=grant,
    )


def alert_operation_finished(
    *, op: Operation, state: str, message: str, grant: Grant
) -> Alert | None:
    """Alert on how an operation ended, in the transaction that records it.

    `state` is the operation's final OperationState value and `message` its closing
    words (what is left in AWS, for a partial one). A revoke or provision
    left partial alerts once per operation; a revoke that succeeded alerts the grant
    revoked (or expired, for the expiry job's revoke) once per grant. Other endings
    (succeeded provisions, clean rollbacks, re-apply, adopt) return None.
    """
    label = _grant_label(grant)
    if state == "partial":
        return _alert_create(
            kind=AlertKind.OPERATION_PARTIAL,
            dedupe_key=f"operation.partial:{op.pk}",
            title=f"{label}: {op.get_kind_display().lower()} left partial",
            body=message,
            details={"operation_id": op.pk, "message": message},
            grant=grant,
        )
    if state != "succeeded" or op.kind != "revoke" or op.params.get("cleanup"):
        return None
    expired = bool(op.params.get("expired"))
    kind = AlertKind.GRANT_EXPIRED if expired else AlertKind.GRANT_REVOKED
    return _alert_create(
        kind=kind,
        dedupe_key=f"{kind.value}:{grant.pk}",
        title=f"{label}: " + ("role and user policy removed" if expired else f"by {op.actor_name}"),
        body=f"Removed {grant.planned_role_arn} and its user policy "
        f"({'expiry' if expired else 'by ' + op.actor_name}).",
        details={"operation_id": op.pk, "actor": op.actor_name},
        grant=grant,
    )


def alerts_expiring_scan(*, now: datetime | None = None, days: int | None = None) -> list[Alert]:
    """Alert every live grant whose expiry falls within `days` (default
    XACCT_ALERT_EXPIRING_DAYS, 7) of `now`; once per grant per expiry time.

    Run on a schedule (the sandbox's loop, the expiry task). Changing a grant's expiry
    makes it alertable again. Returns the alerts created by this run.
    """
    now = now or timezone.now()
    days = settings.XACCT_ALERT_EXPIRING_DAYS if days is None else days
    due = Grant.objects.select_related("trusting_account", "trusted_account").filter(
        status__in=LIVE, expires_at__gt=now, expires_at__lte=now + timedelta(days=days)
    )
    created = []
    for grant in due:
        assert grant.expires_at is not None
        with transaction.atomic():
            alert = _alert_create(
                kind=AlertKind.GRANT_EXPIRING,
                dedupe_key=f"grant.expiring:{grant.pk}:{grant.expires_at.isoformat()}",
                title=f"{_grant_label(grant)} expires {grant.expires_at:%Y-%m-%d %H:%M} UTC",
                body="Set a later expiry to keep it; at expiry the role and the user policy "
                "are removed.",
                details={"expires_at": grant.expires_at.isoformat()},
                grant=grant,
            )
        if alert is not None:
            created.append(alert)
    return created


def alert_batch_not_run(*, batch: VerificationBatch, reason: str) -> Alert | None:
    """Alert that a scheduled verification could not run because `batch` (a system
    batch) is still open, or its work could not be queued; once per batch."""
    return _alert_create(
        kind=AlertKind.BATCH_NOT_RUN,
        dedupe_key=f"batch.not_run:{batch.pk}",
        title=f"Batch {batch.pk} still open",
        body=reason,
        details={"batch_id": batch.pk, "reason": reason},
    )


# -- who is told ----------------------------------------------------------------------------


def alert_recipients(*, alert: Alert) -> list[str]:
    """The e-mail addresses to tell about the alert, de-duplicated (ignoring case), sorted.

    Subscriptions of active users with an e-mail who may view grants: all grants;
    grants they created; grants whose trusting or trusted account is the subscribed
    one (or an account-level alert's account); "failures only" skips recoveries and
    revokes (AlertKind.is_failure). Plus the owner e-mail of the trusting and the
    trusted account of the alert's grant (or of its account).
    """
    grant = alert.grant
    accounts = []
    if grant is not None:
        accounts = [grant.trusting_account, grant.trusted_account]
    elif alert.account is not None:
        accounts = [alert.account]
    account_ids = [a.pk for a in accounts if a is not None]
    matches = Q(scope=SubscriptionScope.ALL) | Q(
        scope=SubscriptionScope.ACCOUNT, account_id__in=account_ids
    )
    if grant is not None and grant.created_by_id is not None:
        matches |= Q(scope=SubscriptionScope.MINE, user_id=grant.created_by_id)
    subscriptions = Subscription.objects.filter(matches, user__is_active=True).exclude(
        user__email=""
    )
    if not alert.is_failure:
        subscriptions = subscriptions.filter(failures_only=False)
    users = (
        get_user_model()
        .objects.filter(pk__in=subscriptions.values("user_id"))
        .prefetch_related("groups__permissions", "user_permissions")
    )
    addresses = [user.email for user in users if user.has_perm("grants.view_grant")]
    addresses += [a.owner_email for a in accounts if a is not None and a.owner_email]
    unique: dict[str, str] = {}
    for address in addresses:
        unique.setdefault(address.strip().lower(), address.strip())
    return sorted(unique.values(), key=str.lower)


# -- sending --------------------------------------------------------------------------------


def _dispatch_enqueue(*, alert_id: int, attempt: int) -> None:
    """Queue the dispatch task; a retry waits `XACCT_ALERT_EMAIL_RETRY_SECONDS` * 2^(n-2)
    where the backend can defer (the database backend), else runs at once."""
    from .tasks import alert_dispatch_task

    task = alert_dispatch_task
    if attempt > 1 and task.get_backend().supports_defer:
        delay = settings.XACCT_ALERT_EMAIL_RETRY_SECONDS * 2 ** (attempt - 2)
        task = task.using(run_after=timezone.now() + timedelta(seconds=delay))
    try:
        task.enqueue(alert_id=alert_id, attempt=attempt)
    except Exception:
        # The change is committed; a lost dispatch must not break the request that made it.
        logger.exception("Alert %s: dispatch could not be queued.", alert_id)


def alert_email_message(*, alert: Alert, recipient: str) -> EmailMultiAlternatives:
    """The e-mail for one recipient: plain text and HTML from templates/alerts/email/.

    Subject "[xacct] <kind>: <title>"; the body links to the grant with
    XACCT_PUBLIC_URL and carries the failing step, its explanation and fix. Only what
    the Alert records goes in: never a credential.
    """
    link = ""
    if alert.grant_id is not None:
        link = settings.XACCT_PUBLIC_URL.rstrip("/") + alert.grant.get_absolute_url()
    context = {
        "alert": alert,
        "grant": alert.grant,
        "link": link,
        "alerts_link": settings.XACCT_PUBLIC_URL.rstrip("/") + "/alerts/",
        "settings_link": settings.XACCT_PUBLIC_URL.rstrip("/") + "/settings/alerts/",
        "step": alert.details.get("step"),
        "error": alert.details.get("error"),
        "drift": alert.details.get("drift"),
    }
    subject = f"[xacct] {alert.get_kind_display()}: {alert.title}".replace("\n", " ")[:250]
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("alerts/email/alert.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[recipient],
    )
    message.attach_alternative(render_to_string("alerts/email/alert.html", context), "text/html")
    return message


def alert_dispatch(*, alert_id: int, attempt: int = 1) -> Alert | None:
    """Tell the recipients about an alert (the task's work; never in a web request).

    Attempt 1 claims the alert (sets dispatched_at; a second run of the same task
    finds it claimed and does nothing), hands it to the webhooks, then e-mails each
    recipient separately (no one sees another's address). Addresses that got it are
    added to `email_recipients`; failures are written to `email_error` and retried
    by a later attempt, up to XACCT_ALERT_EMAIL_ATTEMPTS in all, for the addresses
    still waiting. SMTP errors never propagate. Returns the alert, or None if gone
    or claimed already.
    """
    now = timezone.now()
    claimed = attempt > 1 or Alert.objects.filter(pk=alert_id, dispatched_at__isnull=True).update(
        dispatched_at=now
    )
    if not claimed:
        return None
    alert = (
        Alert.objects.select_related("grant__trusting_account", "grant__trusted_account", "account")
        .filter(pk=alert_id)
        .first()
    )
    if alert is None:
        return None
    if attempt == 1:
        _webhooks_enqueue(alert)
    sent = set(alert.email_recipients)
    waiting = [r for r in alert_recipients(alert=alert) if r not in sent]
    errors = _send(alert, waiting)
    delivered = [r for r in waiting if r not in errors]
    alert.email_recipients = [*alert.email_recipients, *delivered]
    if errors:
        lines = [f"{r}: {e}" for r, e in errors.items()]
        final = attempt >= settings.XACCT_ALERT_EMAIL_ATTEMPTS
        alert.email_error = (
            f"Attempt {attempt} of {settings.XACCT_ALERT_EMAIL_ATTEMPTS} at "
            f"{now:%Y-%m-%d %H:%M:%S} UTC"
            + (" (last; giving up)" if final else "; will retry")
            + ":\n"
            + "\n".join(lines)
        )
    else:
        alert.email_error = ""
    Alert.objects.filter(pk=alert.pk).update(
        email_recipients=alert.email_recipients, email_error=alert.email_error
    )
    if errors and attempt < settings.XACCT_ALERT_EMAIL_ATTEMPTS:
        _dispatch_enqueue(alert_id=alert.pk, attempt=attempt + 1)
    return alert


def _send(alert: Alert, recipients: list[str]) -> dict[str, str]:
    """Send one message per recipient over one connection; the errors by recipient."""
    if not recipients:
        return {}
    errors: dict[str, str] = {}
    try:
        connection = mailers.default
        connection.open()
    except Exception as exc:  # a misconfigured mailer too: recorded, retried, never raised
        return {r: _describe(exc) for r in recipients}
    try:
        for recipient in recipients:
            try:
                connection.send_messages([alert_email_message(alert=alert, recipient=recipient)])
            except (smtplib.SMTPException, OSError) as exc:
                errors[recipient] = _describe(exc)
    finally:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            connection.close()
    return errors


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500] or type(exc).__name__


def _webhooks_enqueue(alert: Alert) -> None:
    try:
        from .webhooks import webhooks_enqueue
    except ImportError:
        return
    try:
        webhooks_enqueue(alert=alert)
    except Exception:
        logger.exception("Alert %s: the webhooks could not be queued.", alert.pk)


# -- subscriptions --------------------------------------------------------------------------


def subscription_create(
    *,
    user: Any,
    scope: str,
    account: AwsAccount | None = None,
    failures_only: bool = False,
) -> Subscription:
    """Subscribe `user` to alerts by e-mail: all grants, grants they created, or grants
    touching `account`; `failures_only` leaves out recoveries and revokes. Returns the
    saved Subscription; raises ValidationError for a duplicate or an account given
    with the wrong scope (the model's constraints)."""
    subscription = Subscription(
        user=user, scope=scope, account=account, failures_only=failures_only
    )
    subscription.full_clean()
    subscription.save()
    return subscription


def subscription_delete(*, subscription: Subscription, user: Any) -> None:
    """Delete one of `user`'s own subscriptions; PermissionDenied for anyone else's."""
    if subscription.user_id != user.pk:
        raise PermissionDenied("This subscription belongs to someone else.")
    subscription.delete()


def alerts_undispatched_enqueue(*, older_than_seconds: float = 120.0) -> int:
    """Queue the dispatch of alerts nobody claimed; return how many were queued.

    An alert is saved with its state change and its dispatch is queued after the
    commit; if that queueing failed, or the queue lost the task, `dispatched_at`
    stays empty. Alerts older than `older_than_seconds` (seconds; younger ones
    probably have a task waiting) are queued again for cron
    (`manage.py alerts_deliver_pending`). A dispatch queued twice sends once:
    `alert_dispatch` claims the alert.
    """
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    ids = list(
        Alert.objects.filter(dispatched_at__isnull=True, created_at__lte=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)[:1000]
    )
    for alert_id in ids:
        _dispatch_enqueue(alert_id=alert_id, attempt=1)
    return len(ids)
