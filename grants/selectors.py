"""Reads: live AWS lists the wizard offers (memoised for one request), and the state
of the background work the dashboard shows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.db.models import Count, Min, Q
from django.utils import timezone

from . import aws
from .models import SYSTEM_ACTOR, AwsAccount, Grant, GrantStatus, VerificationBatch

T = TypeVar("T")

LIVE_GRANT_STATUSES = [s for s in GrantStatus if s not in ("failed", "revoked", "expired")]


class LiveLookup:
    """Live AWS lists for one request: each asked once, failures kept as AwsError."""

    def __init__(self) -> None:
        self._cache: dict[tuple[Any, ...], Any] = {}

    def _get(self, key: tuple[Any, ...], fetch: Callable[[], T]) -> T:
        if key not in self._cache:
            try:
                self._cache[key] = fetch()
            except aws.AwsError as exc:
                self._cache[key] = exc
        value = self._cache[key]
        if isinstance(value, aws.AwsError):
            raise value
        return value

    def queue_names(self, account: AwsAccount, region: str) -> list[str]:
        return self._get(
            ("queues", account.access(), region),
            lambda: aws.queue_names(account.access(), region=region),
        )

    def user_names(self, account: AwsAccount) -> list[str]:
        return self._get(("users", account.access()), lambda: aws.user_names(account.access()))

    def role_names(self, account: AwsAccount) -> list[str]:
        return self._get(("roles", account.access()), lambda: aws.role_names(account.access()))

    def principal_arn(self, account: AwsAccount, principal_type: str, name: str) -> str | None:
        """The ARN of IAM user or role `name` in the account, None when it does not exist."""
        return self._get(
            ("principal", account.access(), principal_type, name),
            lambda: aws.principal_arn(account.access(), principal_type=principal_type, name=name),
        )


def role_name_taken_by_grant(account: AwsAccount, role_name: str) -> Grant | None:
    """A live grant of the portal's that already uses this role name (ignoring case)."""
    return (
        Grant.objects.filter(
            trusting_account=account,
            role_name__iexact=role_name,
            status__in=LIVE_GRANT_STATUSES,
        )
        .only("pk", "role_name")
        .first()
    )


@dataclass(frozen=True)
class BackgroundWork:
    """Where background work runs and, with the database backend, how the queue looks."""

    backend: str
    queued: int = 0
    running: int = 0
    failed_last_day: int = 0
    oldest_queued_at: datetime | None = None
    last_scheduled_batch: VerificationBatch | None = None
    recent_batches: tuple[VerificationBatch, ...] = ()

    @property
    def queued_for(self) -> timedelta | None:
        return timezone.now() - self.oldest_queued_at if self.oldest_queued_at else None


def background_work() -> BackgroundWork:
    """The task queue at a glance: a growing, ageing queue means no worker runs."""
    from .tasks import queued_in_database  # the task module imports the services

    batches = VerificationBatch.objects.all()
    in_database = queued_in_database()
    common = {
        "backend": "database" if in_database else "immediate",
        "last_scheduled_batch": batches.filter(actor__isnull=True, actor_name=SYSTEM_ACTOR).first(),
        "recent_batches": tuple(batches.annotate(item_count=Count("items"))[:5]),
    }
    if not in_database:
        return BackgroundWork(**common)
    from django_tasks_db.models import DBTaskResult

    stats = DBTaskResult.objects.aggregate(
        queued=Count("pk", filter=Q(status="READY")),
        running=Count("pk", filter=Q(status="RUNNING")),
        failed_last_day=Count(
            "pk",
            filter=Q(status="FAILED", finished_at__gte=timezone.now() - timedelta(days=1)),
        ),
        oldest_queued_at=Min("enqueued_at", filter=Q(status="READY")),
    )
    return BackgroundWork(**common, **stats)
