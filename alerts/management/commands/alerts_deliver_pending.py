"""Queue alerts and webhook deliveries that nothing will send (for cron, every minute)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from alerts.services import alerts_undispatched_enqueue
from alerts.webhooks import webhooks_retry_due


class Command(BaseCommand):
    help = (
        "Queue the dispatch of alerts whose dispatch was lost (older than --older-than "
        "seconds and never claimed) and every webhook delivery whose next attempt is due. "
        "Each is still sent once if queued twice."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", type=float, default=120.0, metavar="SECONDS")

    def handle(self, *args: Any, **options: Any) -> None:
        alerts = alerts_undispatched_enqueue(older_than_seconds=options["older_than"])
        deliveries = webhooks_retry_due()
        self.stdout.write(
            f"{alerts} alert{'' if alerts == 1 else 's'} and "
            f"{deliveries} webhook deliver{'y' if deliveries == 1 else 'ies'} queued."
        )
