"""Alerts on state changes: one per change, never per verification."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from alerts import services
from alerts.models import Alert, AlertKind
from grants.models import Grant, GrantStatus, Verification, VerificationOutcome

from .test_services_grants import draft

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
    assert "Live sts:AssumeRole" in alert.title
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
