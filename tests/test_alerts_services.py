"""Alerts on state changes: one per change, never per verification."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from alerts import services
from alerts.models import Alert, AlertKind
from grants import aws
from grants import services as grants_services
from grants.models import (
    SYSTEM_ACTOR,
    Grant,
    GrantStatus,
    Verification,
    VerificationBatch,
    VerificationBatchItem,
    VerificationOutcome,
)

from .test_services_grants import draft, inject_failure, provisioned

pytestmark = pytest.mark.django_db

FAILED_STEP = {
    "key": "assume",
    "title": "Live sts:AssumeRole",
    "status": "fail",
    "summary": "AssumeRole was denied.",
    "explanation": "The grantee's user policy does not allow sts:AssumeRole on the role.",
    "fix": "Re-apply the grant's user policy.",
    "error": {
        "service": "sts",
        "operation": "AssumeRole",
        "code": "AccessDenied",
        "message": "User is not authorized",
        "request_id": "req-123",
    },
    "notes": [],
}


def saved_grant(piyo, hoge, **overrides: Any) -> Grant:  # type: ignore[no-untyped-def]
    status = overrides.pop("status", GrantStatus.ACTIVE)
    grant = draft(piyo, hoge, **overrides)
    grant.status = status
    grant.save()
    return grant


def verify(grant: Grant, outcome: str, *, at: Any = None) -> Alert | None:
    """Record one verification as grant_verify does and report it."""
    failed = outcome == VerificationOutcome.FAILED
    verification = Verification.objects.create(
        grant=grant,
        actor_name="system",
        started_at=at or timezone.now(),
        outcome=outcome,
        steps=[FAILED_STEP] if failed else [{"key": "role", "status": "pass", "title": "Role"}],
    )
    return services.alert_grant_verified(grant=grant, verification=verification)


def test_a_hundred_failures_in_a_row_alert_once_and_the_recovery_once_more(piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = saved_grant(piyo, hoge)
    start = timezone.now()
    assert verify(grant, VerificationOutcome.PASSED_GRANTEE, at=start) is None
    made = [
        verify(grant, VerificationOutcome.FAILED, at=start + timedelta(seconds=n))
        for n in range(1, 101)
    ]
    assert [a.kind for a in made if a is not None] == [AlertKind.GRANT_FAILING]
    assert made[0] is not None and all(a is None for a in made[1:])
    recovered = verify(grant, VerificationOutcome.PASSED_PORTAL, at=start + timedelta(seconds=200))
    assert recovered is not None and recovered.kind == AlertKind.GRANT_RECOVERED
    assert (
        verify(grant, VerificationOutcome.PASSED_GRANTEE, at=start + timedelta(seconds=201)) is None
    )
    assert Alert.objects.count() == 2


def test_the_failing_alert_carries_the_failing_step_explanation_and_fix(piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = saved_grant(piyo, hoge)
    alert = verify(grant, VerificationOutcome.FAILED)
    assert alert is not None
    assert alert.grant == grant
    assert alert.title == f"{grant.role_name} (piyo ← hoge): Live sts:AssumeRole failed"
    assert alert.details["step"]["explanation"] == FAILED_STEP["explanation"]
    assert alert.details["step"]["fix"] == FAILED_STEP["fix"]
    assert alert.details["error"]["request_id"] == "req-123"


def test_failing_again_after_a_recovery_alerts_again(piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = saved_grant(piyo, hoge)
    start = timezone.now()
    kinds = []
    for n, outcome in enumerate(["failed", "passed_grantee", "failed", "failed"]):
        alert = verify(grant, outcome, at=start + timedelta(seconds=n))
        kinds.append(alert.kind if alert else None)
    assert kinds == [
        AlertKind.GRANT_FAILING,
        AlertKind.GRANT_RECOVERED,
        AlertKind.GRANT_FAILING,
        None,
    ]


def test_checked_statically_only_is_neither_pass_nor_fail(piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = saved_grant(piyo, hoge)
    start = timezone.now()
    assert verify(grant, VerificationOutcome.FAILED, at=start) is not None
    assert verify(grant, VerificationOutcome.STATIC_ONLY, at=start + timedelta(seconds=1)) is None
    # Still failing: the static-only run in between changed nothing.
    assert verify(grant, VerificationOutcome.FAILED, at=start + timedelta(seconds=2)) is None
    assert Alert.objects.count() == 1


def test_a_revoked_grant_failing_its_check_is_no_news(piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = saved_grant(piyo, hoge, status=GrantStatus.REVOKED)
    assert verify(grant, VerificationOutcome.FAILED) is None
    assert not Alert.objects.exists()


def test_the_same_change_reported_twice_makes_one_alert(piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = saved_grant(piyo, hoge)
    verification = Verification.objects.create(
        grant=grant,
        actor_name="system",
        started_at=timezone.now(),
        outcome=VerificationOutcome.FAILED,
        steps=[FAILED_STEP],
    )
    first = services.alert_grant_verified(grant=grant, verification=verification)
    again = services.alert_grant_verified(grant=grant, verification=verification)
    assert first is not None and again is None
    assert Alert.objects.count() == 1


# -- the other kinds, each once ---------------------------------------------------------------


def test_drift_alerts_when_differences_appear_not_while_they_stay(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = provisioned(draft(piyo, hoge))
    arn = grant.managed_policy_arns[0]
    Alert.objects.all().delete()
    grants_services.grant_drift_check(grant=grant, actor=None)
    assert not Alert.objects.exists()  # no drift: no news

    aws.role_policy_detach(piyo.access(), role_name=grant.role_name, policy_arn=arn)
    grants_services.grant_drift_check(grant=grant, actor=None)
    grants_services.grant_drift_check(grant=grant, actor=None)
    alert = Alert.objects.get()
    assert alert.kind == AlertKind.DRIFT_FOUND
    assert alert.details["drift"][0]["part"] == "permission policies"
    assert arn in alert.details["drift"][0]["diff"]

    # Put right, then broken again: that is a new change.
    aws.role_policy_attach(piyo.access(), role_name=grant.role_name, policy_arn=arn)
    grants_services.grant_drift_check(grant=grant, actor=None)
    aws.role_policy_detach(piyo.access(), role_name=grant.role_name, policy_arn=arn)
    grants_services.grant_drift_check(grant=grant, actor=None)
    assert Alert.objects.filter(kind=AlertKind.DRIFT_FOUND).count() == 2


def test_a_revoke_alerts_revoked_once(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = provisioned(draft(piyo, hoge))
    grants_services.grant_revoke(grant=grant, actor=None)
    alert = Alert.objects.get()
    assert alert.kind == AlertKind.GRANT_REVOKED
    assert alert.grant == grant
    assert alert.title == f"{grant.role_name} (piyo ← hoge): by system"


def test_a_revoke_left_partial_alerts_partial(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    inject_failure("DeleteRole", code="ServiceFailure")
    grant = grants_services.grant_provision(grant=draft(piyo, hoge), actor=None)
    grant = grants_services.grant_revoke(grant=grant, actor=None)
    assert grant.status == GrantStatus.PARTIAL
    alert = Alert.objects.get()
    assert alert.kind == AlertKind.OPERATION_PARTIAL
    assert "iam:DeleteRole" in alert.body


def test_expiry_alerts_expired_not_revoked(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = provisioned(draft(piyo, hoge))
    Grant.objects.filter(pk=grant.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    grants_services.grants_expire()
    assert list(Alert.objects.values_list("kind", flat=True)) == [AlertKind.GRANT_EXPIRED]


def test_a_grant_expiring_within_the_window_alerts_once_per_expiry_time(
    piyo, hoge, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.XACCT_ALERT_EXPIRING_DAYS = 7
    now = timezone.now()
    soon = saved_grant(piyo, hoge, role_name="soon")
    later = saved_grant(piyo, hoge, role_name="later")
    gone = saved_grant(piyo, hoge, role_name="gone", status=GrantStatus.REVOKED)
    Grant.objects.filter(pk__in=[soon.pk, gone.pk]).update(expires_at=now + timedelta(days=3))
    Grant.objects.filter(pk=later.pk).update(expires_at=now + timedelta(days=10))

    made = services.alerts_expiring_scan(now=now)
    assert [a.grant for a in made] == [soon]
    assert made[0].kind == AlertKind.GRANT_EXPIRING
    assert services.alerts_expiring_scan(now=now + timedelta(hours=1)) == []

    # A new expiry time is a new change.
    Grant.objects.filter(pk=soon.pk).update(expires_at=now + timedelta(days=5))
    assert len(services.alerts_expiring_scan(now=now)) == 1
    # The window is configurable.
    assert [a.grant for a in services.alerts_expiring_scan(now=now, days=11)] == [later]


def test_a_scheduled_batch_that_cannot_run_alerts_once(piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = saved_grant(piyo, hoge)
    # The hourly batch is still waiting for workers (none running) when cron comes again.
    stuck = VerificationBatch.objects.create(actor=None, actor_name=SYSTEM_ACTOR)
    VerificationBatchItem.objects.create(batch=stuck, grant=grant, grant_label="waiting")
    call_command("verify_grants", "--enqueue", stdout=io.StringIO())
    call_command("verify_grants", "--enqueue", stdout=io.StringIO())
    alert = Alert.objects.get()
    assert alert.kind == AlertKind.BATCH_NOT_RUN
    assert alert.details["batch_id"] == stuck.pk


def test_the_expiry_job_and_the_command_also_alert_upcoming_expiry(piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    from grants.tasks import expire_grants

    first = saved_grant(piyo, hoge, role_name="first")
    Grant.objects.filter(pk=first.pk).update(expires_at=timezone.now() + timedelta(days=2))
    expire_grants.enqueue()  # the immediate backend runs it here
    assert list(Alert.objects.values_list("grant", "kind")) == [
        (first.pk, AlertKind.GRANT_EXPIRING)
    ]

    second = saved_grant(piyo, hoge, role_name="second")
    Grant.objects.filter(pk=second.pk).update(expires_at=timezone.now() + timedelta(days=9))
    out = io.StringIO()
    call_command("alerts_expiring_scan", stdout=out)
    assert "0 new expiry alert(s)." in out.getvalue()
    call_command("alerts_expiring_scan", "--days", "10", stdout=out)
    assert "second (piyo ← hoge) expires" in out.getvalue()
    assert Alert.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_workers_reporting_the_same_breakage_at_once_make_one_alert(piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    import threading

    from django.db import connection, transaction

    grant = saved_grant(piyo, hoge)
    start = timezone.now()
    verify(grant, VerificationOutcome.PASSED_GRANTEE, at=start)
    barrier = threading.Barrier(2)
    made: list[Alert | None] = []

    def worker(n: int) -> None:
        try:
            # Together (SQLite's writers then queue; PostgreSQL's overlap).
            barrier.wait(timeout=10)
            with transaction.atomic():
                verification = Verification.objects.create(
                    grant=grant,
                    actor_name="system",
                    started_at=start + timedelta(seconds=1, microseconds=n),
                    outcome=VerificationOutcome.FAILED,
                    steps=[FAILED_STEP],
                )
                made.append(services.alert_grant_verified(grant=grant, verification=verification))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(made) == 2
    assert Alert.objects.filter(kind=AlertKind.GRANT_FAILING).count() == 1


def test_alerts_whose_dispatch_was_lost_are_sent_by_the_pending_sweep(
    piyo, hoge, mailoutbox
) -> None:  # type: ignore[no-untyped-def]
    grant = saved_grant(piyo, hoge)
    old = timezone.now() - timedelta(minutes=5)
    lost = Alert.objects.create(
        kind=AlertKind.GRANT_FAILING, grant=grant, title="lost", dedupe_key="a"
    )
    young = Alert.objects.create(
        kind=AlertKind.GRANT_FAILING, grant=grant, title="new", dedupe_key="b"
    )
    sent = Alert.objects.create(
        kind=AlertKind.GRANT_FAILING, grant=grant, title="sent", dedupe_key="c", dispatched_at=old
    )
    Alert.objects.filter(pk__in=[lost.pk, sent.pk]).update(created_at=old)
    out = io.StringIO()
    call_command("alerts_deliver_pending", stdout=out)
    assert out.getvalue().startswith("1 alert and 0 webhook deliveries queued.")
    lost.refresh_from_db()
    young.refresh_from_db()
    sent.refresh_from_db()
    assert lost.dispatched_at is not None
    assert sorted(lost.email_recipients) == sorted([piyo.owner_email, hoge.owner_email])
    assert young.dispatched_at is None
    assert sent.dispatched_at == old
    assert {m.subject for m in mailoutbox} and all("lost" in m.subject for m in mailoutbox)
    # Claimed now: a second sweep queues nothing.
    call_command("alerts_deliver_pending", stdout=out)
    assert Alert.objects.filter(dispatched_at__isnull=True).get() == young
