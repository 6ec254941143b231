"""Finish or roll back operations whose worker died (for cron, every minute)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from grants import services
from grants.models import Operation, OperationState


class Command(BaseCommand):
    help = (
        "Pick up every operation (provision, revoke, re-apply, adopt) whose worker died "
        "(its lease expired) or that waited in the queue longer than the lease with no task "
        "left for it, and finish or roll it back here, reading AWS where an outcome is "
        "unknown. Exit status 1 if one is still open afterwards (AWS did not answer)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        handled = services.operations_recover()
        still_open = 0
        for op in Operation.objects.filter(pk__in=handled).select_related("grant"):
            line = f"#{op.pk} {op.get_kind_display()} of {op.grant.role_name}: {op.state}"
            if op.is_open:
                still_open += 1
                self.stdout.write(self.style.WARNING(f"{line} — {op.message}"))
            elif op.state == OperationState.SUCCEEDED:
                self.stdout.write(self.style.SUCCESS(line))
            else:
                self.stdout.write(self.style.ERROR(f"{line} — {op.message}"))
        self.stdout.write(f"{len(handled)} operation(s) recovered, {still_open} still open.")
        if still_open:
            raise SystemExit(1)
