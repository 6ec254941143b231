"""Queue webhook deliveries that are due (for cron, beside recover_operations)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from alerts.webhooks import webhooks_retry_due


class Command(BaseCommand):
    help = (
        "Queue every webhook delivery whose next attempt is due and that no task holds: "
        "retries where the task backend cannot wait (immediate), and attempts whose "
        "worker died. A delivery queued twice is still sent once."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        count = webhooks_retry_due()
        self.stdout.write(f"{count} webhook deliver{'y' if count == 1 else 'ies'} queued.")
