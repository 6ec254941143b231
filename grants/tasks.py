"""Background tasks (Django's tasks framework; immediate unless a worker backend is set)."""

from __future__ import annotations

from django.tasks import task

from . import services


@task
def expire_grants() -> int:
    """Revoke every grant past its expiry; return how many were due."""
    return len(services.grants_expire())
