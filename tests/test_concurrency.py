"""Concurrent admins on the same grant: each on its own database connection, at the same moment.

The claims are single conditional UPDATEs; on PostgreSQL the row lock makes a
second claimant wait for the first and then find the row no longer matches.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from grants import aws, services
from grants.models import (
    AuditAction,
    AuditEvent,
    AuditOutcome,
    Grant,
    GrantStatus,
    Operation,
    OperationState,
)

from .test_services_grants import ROLE, draft, inject_failure

pytestmark = pytest.mark.django_db(transaction=True)

ADMINS = 4


def at_once(work: Callable[[], Any], times: int = ADMINS) -> list[Any]:
    """Run `work` in `times` threads released together; return each result or exception."""
    barrier = threading.Barrier(times)
    results: list[Any] = [None] * times

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = work()
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()  # each thread opened its own

    threads = [threading.Thread(target=run, args=(i,)) for i in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def kinds(results: list[Any]) -> Counter[str]:
    return Counter(type(r).__name__ for r in results)


def test_the_same_grant_revoked_by_four_admins_at_once_is_revoked_once(
    aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    grant = services.grant_provision(grant=draft(piyo, hoge), actor=None)
    assert grant.status == GrantStatus.ACTIVE

    results = at_once(
        lambda: services.grant_revoke(grant=Grant.objects.get(pk=grant.pk), actor=None)
    )

    winners = [r for r in results if isinstance(r, Grant)]
    losers = [r for r in results if not isinstance(r, Grant)]
    assert len(winners) == 1, results
    # Each loser is told what happened: still being revoked, or already revoked.
    assert all(isinstance(r, services.GrantBusy | services.NotRevocable) for r in losers), results
    for loser in losers:
        assert "already being revoked by system since" in str(
            loser
        ) or "it was already revoked" in str(loser), loser
    grant.refresh_from_db()
    assert grant.status == GrantStatus.REVOKED
    assert aws.role_get(piyo.access(), ROLE) is None
    deletes = AuditEvent.objects.filter(grant=grant, action=AuditAction.ROLE_DELETE)
    assert list(deletes.values_list("outcome", flat=True)) == [AuditOutcome.SUCCESS]


def test_the_same_wizard_submitted_four_times_at_once_creates_one_grant(
    aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    token = uuid.uuid4()

    def submit() -> Grant:
        grant = draft(piyo, hoge)
        grant.request_token = token
        return services.grant_provision(grant=grant, actor=None)

    results = at_once(submit)

    assert kinds(results) == {"Grant": ADMINS}, results
    assert len({r.pk for r in results}) == 1
    assert Grant.objects.count() == 1
    assert aws.role_get(piyo.access(), ROLE) is not None


def test_a_failed_grant_retried_by_four_admins_at_once_is_provisioned_once(
    aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    inject_failure("PutUserPolicy")
    failed = services.grant_provision(grant=draft(piyo, hoge), actor=None)
    assert failed.status == GrantStatus.FAILED
    aws.reset()  # the injected failure is gone

    results = at_once(
        lambda: services.grant_provision(grant=Grant.objects.get(pk=failed.pk), actor=None)
    )

    assert kinds(results) == {"Grant": 1, "GrantBusy": ADMINS - 1}, results
    failed.refresh_from_db()
    assert failed.status == GrantStatus.ACTIVE
    creates = AuditEvent.objects.filter(
        grant=failed, action=AuditAction.ROLE_CREATE, outcome=AuditOutcome.SUCCESS
    )
    assert creates.count() == 2  # the first attempt (rolled back) and the one retry


def test_four_admins_starting_different_operations_at_once_get_one_and_are_told_which(
    aws_world, piyo, hoge, task_queue
) -> None:  # type: ignore[no-untyped-def]
    from .test_services_grants import provisioned

    grant = provisioned(draft(piyo, hoge))
    revoke, reapply, adopt = (
        services.grant_revoke,
        services.grant_reapply,
        services.grant_adopt_live,
    )
    starts = iter([revoke, reapply, adopt, revoke])
    lock = threading.Lock()

    def start() -> Grant:
        with lock:
            begin = next(starts)
        return begin(grant=Grant.objects.get(pk=grant.pk), actor=None)

    results = at_once(start)

    assert kinds(results)["Grant"] == 1, results
    losers = [r for r in results if not isinstance(r, Grant)]
    assert all(isinstance(r, services.GrantBusy) for r in losers), results
    opened = Operation.objects.get(grant=grant, state=OperationState.QUEUED)
    for loser in losers:
        assert f"is already being {opened.verb} by system since" in str(loser), loser
    task_queue.run()
    opened.refresh_from_db()
    assert opened.state == OperationState.SUCCEEDED


def test_recovery_started_four_times_at_once_finishes_a_dead_workers_operation_once(
    aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    from .test_services_operations import expire_lease, worker_dies

    worker_dies("after-call", "PutUserPolicy")
    services.grant_provision(grant=draft(piyo, hoge), actor=None)
    grant = Grant.objects.get()
    operation = Operation.objects.get(grant=grant)
    assert operation.state == OperationState.RUNNING
    aws.reset()
    expire_lease(operation)

    results = at_once(services.operations_recover)

    assert sorted(results, key=len) == [[], [], [], [operation.pk]], results
    operation.refresh_from_db()
    grant.refresh_from_db()
    assert (operation.state, operation.attempts) == (OperationState.SUCCEEDED, 2)
    assert grant.status == GrantStatus.ACTIVE
    puts = AuditEvent.objects.filter(
        grant=grant, action=AuditAction.USER_POLICY_PUT, outcome=AuditOutcome.SUCCESS
    )
    assert puts.count() == 1  # settled once, by reading AWS; never sent twice
