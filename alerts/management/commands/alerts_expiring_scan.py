"""Alert grants that expire soon (for cron and the sandbox's schedule)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from alerts.services import alerts_expiring_scan


class Command(BaseCommand):
    help = (
        "Alert every live grant expiring within XACCT_ALERT_EXPIRING_DAYS (default 7), "
        "once per grant and expiry time. The e-mails go out on the task worker."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, help="Look this many days ahead instead.")

    def handle(self, *args: Any, **options: Any) -> None:
        alerts = alerts_expiring_scan(days=options["days"])
        for alert in alerts:
            self.stdout.write(alert.title)
        self.stdout.write(f"{len(alerts)} new expiry alert(s).")
