"""Run Test access for many grants: here and now, or queued for the task workers (cron)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from alerts.services import alert_batch_not_run
from grants import services
from grants.models import SYSTEM_ACTOR, AwsAccount, Grant, GrantStatus, VerificationBatch

VERIFIABLE = [GrantStatus.ACTIVE, GrantStatus.FAILING, GrantStatus.PARTIAL]


class Command(BaseCommand):
    help = (
        "Verify grants concurrently and report each result; exit status 1 when any "
        "verification failed, 0 when all passed. With --enqueue, queue them as a "
        "verification batch for the task workers instead and exit at once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--failing", action="store_true", help="Only grants whose last verification failed."
        )
        parser.add_argument(
            "--account", help="Only grants given or received by this account (ID or name)."
        )
        parser.add_argument(
            "--workers", type=int, help="Verifications at once (when run here, not queued)."
        )
        parser.add_argument(
            "--enqueue",
            action="store_true",
            help="Queue one task per grant for `db_worker` (the scheduled re-verification).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        grants = Grant.objects.select_related("trusting_account", "trusted_account").filter(
            status__in=VERIFIABLE
        )
        if options["failing"]:
            grants = grants.filter(Q(status=GrantStatus.FAILING) | Q(last_verification_ok=False))
        if options["account"]:
            account = AwsAccount.objects.filter(
                Q(account_id=options["account"]) | Q(name=options["account"])
            ).first()
            if account is None:
                raise CommandError(f"No registered account {options['account']!r}.")
            grants = grants.filter(Q(trusting_account=account) | Q(trusted_account=account))
        grants = list(grants.order_by("pk"))
        if options["enqueue"]:
            self._reap()  # also when there is nothing new to queue
        if not grants:
            self.stdout.write("No grants to verify.")
            return
        if options["enqueue"]:
            self._enqueue(grants)
            return
        verifications = services.grants_verify(
            grants=grants, actor=None, workers=options["workers"]
        )
        failed = 0
        for grant, verification in zip(grants, verifications, strict=True):
            if verification.passed:
                line = self.style.SUCCESS(
                    f"PASS  #{grant.pk} {grant.planned_role_arn}: "
                    f"{len(verification.queue_urls)} queue(s) ({verification.duration_ms} ms)"
                )
            elif verification.failed_step is None:
                line = self.style.WARNING(
                    f"STATIC #{grant.pk} {grant.planned_role_arn}: checked statically only, "
                    "nothing live could run"
                )
            else:
                failed += 1
                step = verification.failed_step or {}
                error = step.get("error") or {}
                code = error.get("code") or error.get("client_error") or ""
                line = self.style.ERROR(
                    f"FAIL  #{grant.pk} {grant.planned_role_arn}: {step.get('summary', '')}"
                    + (f" [{code}]" if code else "")
                )
            self.stdout.write(line)
        self.stdout.write(f"{len(verifications)} verified, {failed} failed.")
        if failed:
            raise SystemExit(1)

    def _reap(self) -> None:
        stale_after = timedelta(minutes=settings.XACCT_BATCH_ITEM_STALE_MINUTES)
        if given_up := services.verification_batches_reap(stale_after=stale_after):
            self.stdout.write(
                self.style.WARNING(f"Gave up {given_up} batch verification(s) nothing will finish.")
            )

    def _enqueue(self, grants: list[Grant]) -> None:
        open_batch = VerificationBatch.objects.filter(
            finished_at__isnull=True, actor__isnull=True, actor_name=SYSTEM_ACTOR
        ).first()
        if open_batch is not None:
            alert_batch_not_run(batch=open_batch, reason="The previous scheduled batch is open.")
            # Workers down or slow: queuing the same work again only piles it up.
            self.stdout.write(
                self.style.WARNING(
                    f"Batch {open_batch.pk} from an earlier run is still open; not queuing "
                    f"another: {open_batch.get_absolute_url()}"
                )
            )
            return
        batch = services.verification_batch_start(grants=grants, actor=None)
        state = "verified already" if batch.finished_at else "queued for the workers"
        self.stdout.write(
            f"Batch {batch.pk}: {len(grants)} grant(s) {state}; "
            f"progress at {batch.get_absolute_url()}"
        )
