"""Revoke every grant past its expiry (for cron); exit status 1 if a revoke failed."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from grants import services
from grants.models import GrantStatus
from grants.tasks import expire_grants, queued_in_database


class Command(BaseCommand):
    help = (
        "Revoke grants whose expiry has passed: user policy, role policies and role. "
        "With --enqueue, queue the job for the task workers instead and exit at once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--enqueue", action="store_true", help="Queue the job for `db_worker` (cron)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["enqueue"]:
            if _already_queued():
                self.stdout.write("Expiry is queued already and no worker has run it yet.")
                return
            result = expire_grants.enqueue()
            self.stdout.write(f"Expiry queued as task {result.id} ({result.status.label}).")
            return
        grants = services.grants_expire()
        failed = [g for g in grants if g.status != GrantStatus.EXPIRED]
        for grant in grants:
            waiting = services.open_operation(grant)
            if grant.status == GrantStatus.EXPIRED:
                self.stdout.write(self.style.SUCCESS(f"EXPIRED  #{grant.pk} {grant.role_arn}"))
            elif waiting is not None:
                # AWS did not answer whether a call took effect: recovery finishes it.
                self.stdout.write(
                    self.style.WARNING(
                        f"WAITING  #{grant.pk} {grant.planned_role_arn}: {waiting.message}"
                    )
                )
            else:
                error = grant.last_error or {}
                self.stdout.write(
                    self.style.ERROR(
                        f"PARTIAL  #{grant.pk} {grant.planned_role_arn}: "
                        f"{error.get('code') or error.get('client_error')}: {error.get('message')}"
                    )
                )
        self.stdout.write(f"{len(grants)} due, {len(failed)} could not be fully revoked.")
        if failed:
            raise SystemExit(1)


def _already_queued() -> bool:
    """Cron every few minutes with the workers down must not pile up expiry jobs."""
    from django_tasks_db.models import DBTaskResult

    return (
        queued_in_database()
        and DBTaskResult.objects.ready().filter(task_path=expire_grants.module_path).exists()
    )
