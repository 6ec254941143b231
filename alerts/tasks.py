"""Alert fan-out on the task worker (Django's tasks framework, as in grants/tasks.py)."""

from __future__ import annotations

from django.tasks import task

from . import services


# Behind a person's operation, ahead of verification batches.
@task(priority=55)
def alert_dispatch_task(*, alert_id: int, attempt: int = 1) -> str:
    """E-mail an alert's recipients and hand it to the webhooks; "sent", "retrying",
    "failed" or "skipped" (gone, or dispatched by another run)."""
    alert = services.alert_dispatch(alert_id=alert_id, attempt=attempt)
    if alert is None:
        return "skipped"
    if not alert.email_error:
        return "sent"
    return "failed" if "giving up" in alert.email_error else "retrying"


@task(priority=45)
def alerts_expiring_scan_task() -> int:
    """Alert grants expiring within XACCT_ALERT_EXPIRING_DAYS; how many alerts were made."""
    return len(services.alerts_expiring_scan())
