"""Background work on Django's tasks framework.

The backend is XACCT_TASK_BACKEND: "immediate" runs a task where it is
enqueued; "database" (django-tasks-db) queues it for `manage.py db_worker`
processes. Arguments are ids, never model instances: a task may run on
another host, minutes later.
"""

from __future__ import annotations

from django.tasks import task, task_backends

from alerts.services import alerts_expiring_scan

from . import services


def queued_in_database() -> bool:
    """Whether tasks wait in the database for `db_worker` (else they run at once)."""
    from django_tasks_db.backend import DatabaseBackend

    return isinstance(task_backends["default"], DatabaseBackend)


@task
def verify_batch_item(*, item_id: int) -> str:
    """Test access for one grant of a verification batch; the item's final state."""
    return services.verification_batch_item_verify(item_id=item_id)


# A person waits on the grant page for this: ahead of verification batches.
@task(priority=60)
def operation_run(*, operation_id: int) -> str:
    """Run or resume one operation (provision, revoke, re-apply, adopt); its final state.

    A task that finds the operation held by a live worker, or finished, leaves it.
    """
    from .models import Operation

    try:
        return services.operation_run(operation_id=operation_id).state
    except Operation.DoesNotExist:
        return "gone"


# Expired access must go first, ahead of any re-verification batch in the queue.
@task(priority=50)
def expire_grants() -> int:
    """Revoke every grant past its expiry, then alert those expiring soon; how many were due."""
    due = len(services.grants_expire())
    alerts_expiring_scan()
    return due


# A person waits on the results page: ahead of verification batches, behind expiry.
@task(priority=20)
def discovery_run_task(*, run_id: int) -> str:
    """Discovery across every managed account (grants.services.discovery_runs); the outcome."""
    from .services.discovery_runs import discovery_run_execute

    return discovery_run_execute(run_id=run_id)
