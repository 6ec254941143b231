"""Background work on Django's tasks framework.

The backend is XACCT_TASK_BACKEND: "immediate" runs a task where it is
enqueued; "database" (django-tasks-db) queues it for `manage.py db_worker`
processes. Arguments are ids, never model instances: a task may run on
another host, minutes later.
"""

from __future__ import annotations

from django.tasks import task

from . import services


@task
def verify_batch_grant(*, batch_id: int, grant_id: int) -> str:
    """Test access for one grant of a verification batch; the outcome, or "skipped"."""
    verification = services.verification_batch_grant_verify(batch_id=batch_id, grant_id=grant_id)
    return verification.outcome if verification is not None else "skipped"


@task
def expire_grants() -> int:
    """Revoke every grant past its expiry; return how many were due."""
    return len(services.grants_expire())
