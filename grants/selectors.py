"""Reads: live AWS lists the wizard offers, memoised for one request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from . import aws
from .models import AwsAccount, Grant, GrantStatus

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
