"""Re-sync accounts from AWS Organizations (for cron); exit status 1 if a source failed."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from grants import aws
from grants.models import AwsAccount
from grants.services.organization import organization_sources, organization_sync

# One source's reads (a few per OU) end within this many seconds.
SOURCE_DEADLINE_SECONDS = 120.0


class Command(BaseCommand):
    help = (
        "For every account an organization was listed from (or --source NAME): read the "
        "organization and update the OU path and status of its registered accounts; "
        "accounts it no longer lists are marked as left."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--source",
            action="append",
            default=[],
            metavar="NAME",
            help="Only this source account (its name in the portal); repeatable.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        sources = list(organization_sources())
        if options["source"]:
            sources = list(AwsAccount.objects.filter(name__in=options["source"]))
            missing = set(options["source"]) - {source.name for source in sources}
            if missing:
                raise CommandError(f"No registered account named {', '.join(sorted(missing))}.")
        failed = 0
        for source in sources:
            with aws.deadline(seconds=SOURCE_DEADLINE_SECONDS):
                result = organization_sync(source=source, actor=None)
            if result.error is not None:
                failed += 1
                code = result.error.code or result.error.client_error
                self.stdout.write(
                    self.style.ERROR(
                        f"FAILED   {source.name}: {code}: "
                        f"{result.explanation or result.error.message}"
                    )
                )
                continue
            self.stdout.write(
                self.style.SUCCESS(
                    f"SYNCED   {source.name} ({result.organization_id}): "
                    f"{len(result.changed)} changed, {result.unchanged} unchanged, "
                    f"{len(result.left)} left"
                )
            )
            for account in result.left:
                self.stdout.write(f"  LEFT   {account}")
        self.stdout.write(f"{len(sources)} source(s), {failed} failed.")
        if failed:
            raise SystemExit(1)
