"""Webhook deliveries on the task worker (Django's tasks framework, as in grants/tasks.py).

Arguments are ids, never model instances: a task may run on another host, minutes later.
"""

from __future__ import annotations

from django.tasks import task

from .models import WebhookDelivery


# Below alert dispatch (55): the alert's e-mails are not held up by a slow receiver.
@task(priority=40)
def webhook_deliver_task(*, delivery_id: int) -> str:
    """One attempt of one webhook delivery (alerts.webhooks.webhook_deliver); its status
    afterwards ("delivered", "retrying", "failed", "pending"), or "gone"."""
    from .webhooks import webhook_deliver

    try:
        return webhook_deliver(delivery_id=delivery_id).status
    except WebhookDelivery.DoesNotExist:
        return "gone"
