"""Reads: live AWS lists the wizard offers (memoised for one request), and the state
of the background work the dashboard shows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db.models import Case, Count, IntegerField, Min, Q, Value, When
from django.urls import reverse
from django.utils import timezone

from . import access_map, aws
from .models import (
    SYSTEM_ACTOR,
    AwsAccount,
    Grant,
    GrantStatus,
    Verification,
    VerificationBatch,
    VerificationOutcome,
)

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

    def roles(self, account: AwsAccount) -> list[aws.RoleInfo]:
        """Every role of the account with its trust policy (iam:ListRoles, all pages)."""
        return self._get(("role-list", account.access()), lambda: aws.roles(account.access()))

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


# --- The access map and history at a glance (dashboard, grant page) -----------------

# The grants the access map draws: access that exists, or should. Drafts and grants
# being provisioned have no access yet; failed, revoked and expired ones none any
# more: drawing them would show access that is not there.
MAP_GRANT_STATUSES = (GrantStatus.ACTIVE, GrantStatus.FAILING, GrantStatus.PARTIAL)
STRIP_LENGTH = 30
DAILY_DAYS = 30


def expiring_within() -> timedelta:
    """XACCT_ALERT_EXPIRING_DAYS (days, default 7), read at call time."""
    return timedelta(days=getattr(settings, "XACCT_ALERT_EXPIRING_DAYS", 7))


def grant_health_q(health: str, *, now: datetime | None = None) -> Q:
    """The live grants of one map colour, each grant in exactly one (worst wins).

    In: a health of grants.access_map.HEALTHS ("failing", "unverified", "expiring",
    "passing"); `now` defaults to timezone.now(). Out: a Q over Grant. Failing:
    status failing or partial, or the last Test access failed. Not verified: no live
    verdict (never verified, or checked statically only). Expiring: passing and
    expiring within XACCT_ALERT_EXPIRING_DAYS. Raises KeyError for another health.
    """
    soon = (now or timezone.now()) + expiring_within()
    live = Q(status__in=MAP_GRANT_STATUSES)
    failing = Q(status__in=(GrantStatus.FAILING, GrantStatus.PARTIAL)) | Q(
        last_verification_ok=False
    )
    verified = live & ~failing & Q(last_verification_ok=True)
    return {
        "failing": live & failing,
        "unverified": live & ~failing & Q(last_verification_ok__isnull=True),
        "expiring": verified & Q(expires_at__lte=soon),
        "passing": verified & (Q(expires_at__isnull=True) | Q(expires_at__gt=soon)),
    }[health]


def access_map_data(*, now: datetime | None = None) -> access_map.AccessMap:
    """The dashboard's access map from two queries, whatever the number of grants.

    Out: grants.access_map.AccessMap of every registered account and one arrow per
    (trusted, trusting) pair of live grants, counted per health in SQL (GROUP BY).
    """
    now = now or timezone.now()
    accounts = [
        access_map.AccountRow(pk=pk, account_id=account_id, name=name, ou_path=ou_path)
        for pk, account_id, name, ou_path in AwsAccount.objects.order_by().values_list(
            "pk", "account_id", "name", "ou_path"
        )
    ]
    rows = (
        Grant.objects.filter(status__in=MAP_GRANT_STATUSES)
        .order_by()
        .values("trusting_account_id", "trusting_account__account_id", "trusted_aws_account_id")
        .annotate(**{h: Count("pk", filter=grant_health_q(h, now=now)) for h in access_map.HEALTHS})
    )
    pairs = [
        access_map.PairRow(
            trusting_account_pk=row["trusting_account_id"],
            trusting_account_id=row["trusting_account__account_id"],
            trusted_account_id=row["trusted_aws_account_id"],
            **{h: row[h] for h in access_map.HEALTHS},
        )
        for row in rows
    ]
    return access_map.build_access_map(
        accounts=accounts, pairs=pairs, list_url=reverse("grant_list")
    )


@dataclass(frozen=True)
class MapFilter:
    """The grant list's filter from a map arrow: trusting account (pk), trusted account
    ID, health. `params` holds only the valid ones; `q` is empty when none is."""

    q: Q
    params: dict[str, str]
    label: str

    def __bool__(self) -> bool:
        return bool(self.params)


def grant_map_filter(*, trusting: str, trusted: str, health: str) -> MapFilter:
    """Parse ?trusting=<account pk>&trusted=<12-digit ID>&health=<health> of the grant list.

    In: the raw query values (anything). Out: a MapFilter; values that are not a
    primary key in range, a 12-digit account ID, or a known health are ignored.
    One query for each account named (for the label).
    """
    # Live grants only, as the map counts them.
    q, params = Q(status__in=MAP_GRANT_STATUSES), {}
    words = ["live grants"]
    if health in access_map.HEALTHS:
        q &= grant_health_q(health)
        params["health"] = health
        words = [f"{access_map.HEALTH_LABELS[health]} grants"]
    if trusted.isascii() and trusted.isdigit() and len(trusted) == 12:
        q &= Q(trusted_aws_account_id=trusted)
        params["trusted"] = trusted
        source = AwsAccount.objects.filter(account_id=trusted).only("name", "account_id").first()
        words.append(f"from {source or trusted}")
    if trusting.isascii() and trusting.isdigit() and 0 < int(trusting) < 2**63:
        account = AwsAccount.objects.filter(pk=int(trusting)).only("name", "account_id").first()
        q &= Q(trusting_account_id=int(trusting))
        params["trusting"] = trusting
        words.append(f"to {account}" if account else "to an account no longer registered")
    if not params:
        return MapFilter(q=Q(), params={}, label="")
    return MapFilter(q=q, params=params, label=" ".join(words))


@dataclass(frozen=True)
class DayCount:
    """Verifications started on one day (portal time zone): passed, failed, static only."""

    day: date
    passed: int
    failed: int
    static_only: int

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.static_only


def verification_daily_counts(*, days: int = DAILY_DAYS) -> list[DayCount]:
    """Passes and failures per day over the last `days` days, today included, oldest first.

    Days are in the portal's current time zone (settings.TIME_ZONE); a day with no
    verification is there with zeros. One query: each day's bounds are computed here
    (midnight to midnight local time, so a 23- or 25-hour DST day counts right) and
    the database groups by the day a CASE puts each row in (on the started_at index).
    """
    tz = timezone.get_current_timezone()
    today = timezone.localdate()
    first = today - timedelta(days=days - 1)
    bounds = [
        datetime.combine(first + timedelta(days=n), time.min, tzinfo=tz) for n in range(days + 1)
    ]
    day_of = Case(
        *[When(started_at__lt=bounds[n + 1], then=Value(n)) for n in range(days)],
        output_field=IntegerField(),
    )
    rows = (
        Verification.objects.filter(started_at__gte=bounds[0], started_at__lt=bounds[-1])
        .order_by()
        .annotate(day=day_of)
        .values("day")
        .annotate(
            passed=Count("pk", filter=Q(outcome__in=VerificationOutcome.passing())),
            failed=Count("pk", filter=Q(outcome=VerificationOutcome.FAILED)),
            static_only=Count("pk", filter=Q(outcome=VerificationOutcome.STATIC_ONLY)),
        )
    )
    by_day = {row["day"]: row for row in rows}
    counts = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        row = by_day.get(offset, {})
        counts.append(
            DayCount(
                day=day,
                passed=row.get("passed", 0),
                failed=row.get("failed", 0),
                static_only=row.get("static_only", 0),
            )
        )
    return counts


def grant_verification_strip(*, grant_id: int, length: int = STRIP_LENGTH) -> list[Verification]:
    """The grant's last `length` verifications, oldest first (one query, few columns)."""
    latest = (
        Verification.objects.filter(grant_id=grant_id)
        .only("pk", "grant_id", "started_at", "duration_ms", "outcome", "actor_name")
        .order_by("-started_at", "-pk")[:length]
    )
    return list(reversed(latest))
