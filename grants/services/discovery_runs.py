"""Discovery across the organization: one run over every managed registered account,
its findings filtered for one results page, and importing from there."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, Exists, IntegerField, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone

from .. import aws
from ..models import (
    SYSTEM_ACTOR,
    AccessMethod,
    AwsAccount,
    DiscoveryAccountState,
    DiscoveryFinding,
    DiscoveryRisk,
    DiscoveryRun,
    DiscoveryRunAccount,
    Grant,
    GrantStatus,
    OrgStatus,
)
from .authz import require
from .discovery import discovered_roles, grant_import, role_risk

logger = logging.getLogger(__name__)

# Accounts read at once. Each reading thread waits on AWS (AssumeRole, then ListRoles
# pages), so 8 keeps a 50-account run to about 7 rounds without a burst of AssumeRole
# calls against STS's per-account request rate.
CONCURRENCY = 8
# One account's reads (AssumeRole and every ListRoles page) end within this many
# seconds; a request's own deadline (XACCT_REQUEST_AWS_DEADLINE_SECONDS) still wins
# when the run happens inside a request (the immediate task backend).
ACCOUNT_DEADLINE_SECONDS = 60.0
# A person's run goes ahead of scheduled verification batches (priority 0 and 10).
RUN_PRIORITY = 20
# Imports in one confirmed batch: each re-reads its account's roles live, in the request.
IMPORT_BATCH_MAX = 20

# Organization states in which the portal does not act in an account.
_NOT_IN_ORGANIZATION = {
    OrgStatus.LEFT: "it left the organization",
    OrgStatus.SUSPENDED: "it is suspended in the organization",
    OrgStatus.PENDING_CLOSURE: "it is being closed",
}
_OPEN = (DiscoveryAccountState.QUEUED, DiscoveryAccountState.RUNNING)
# Grants that stand for a role: the same as single-account discovery's "already a grant".
_GONE = (GrantStatus.REVOKED, GrantStatus.EXPIRED, GrantStatus.FAILED)


def _skip_reason(account: AwsAccount) -> str:
    if account.access_method == AccessMethod.EXTERNAL:
        return "External account: the portal does not act there and cannot read its roles."
    reason = _NOT_IN_ORGANIZATION.get(account.org_status)  # type: ignore[call-overload]
    if reason:
        return f"Skipped: {reason} ({OrgStatus(account.org_status).label.lower()})."
    return ""


def discovery_run_start(*, actor: AbstractBaseUser | None) -> DiscoveryRun:
    """Record a discovery run over every registered account and queue its task.

    Each account gets a row: queued when the portal acts there, skipped with the
    reason when it is external or has left, been suspended in or is leaving the
    organization (OrgStatus). With the database task backend a `db_worker` runs
    it; with the immediate backend it has run by the time this returns. Raises
    `PermissionDenied` without the grant manager role.
    """
    require(actor, "manage_grant")
    discovery_runs_reap(stale_after=timedelta(minutes=settings.XACCT_BATCH_ITEM_STALE_MINUTES))
    person = actor is not None and actor.is_authenticated
    now = timezone.now()
    with transaction.atomic():
        run = DiscoveryRun.objects.create(
            actor=actor if person else None,
            actor_name=actor.get_username() if person else SYSTEM_ACTOR,
        )
        rows = []
        for account in AwsAccount.objects.order_by("name"):
            reason = _skip_reason(account)
            rows.append(
                DiscoveryRunAccount(
                    run=run,
                    account=account,
                    account_name=account.name,
                    account_number=account.account_id,
                    ou_path=account.ou_path,
                    state=DiscoveryAccountState.SKIPPED if reason else DiscoveryAccountState.QUEUED,
                    finished_at=now if reason else None,
                    note=reason,
                )
            )
        DiscoveryRunAccount.objects.bulk_create(rows)
        if not any(row.state == DiscoveryAccountState.QUEUED for row in rows):
            run.finished_at = now
            run.save(update_fields=["finished_at"])
            return run
        transaction.on_commit(partial(_enqueue, run.pk))
    run.refresh_from_db()
    return run


def discovery_runs_reap(*, stale_after: timedelta) -> int:
    """Close the runs still open `stale_after` after they were created: the worker
    that took one was stopped, or no worker ever took it. Their open accounts are
    marked failed with the reason. Returns how many runs were closed."""
    cutoff = timezone.now() - stale_after
    stale = list(
        DiscoveryRun.objects.filter(finished_at__isnull=True, created_at__lt=cutoff).values_list(
            "pk", flat=True
        )
    )
    minutes = int(stale_after.total_seconds() // 60)
    for run_id in stale:
        _close(
            run_id,
            note=f"Abandoned: not read {minutes} minutes after the run started "
            "(no worker took it, or the worker stopped).",
        )
    return len(stale)


def _enqueue(run_id: int) -> None:
    from ..tasks import discovery_run_task  # the task module imports the services

    try:
        result = discovery_run_task.using(priority=RUN_PRIORITY).enqueue(run_id=run_id)
    except Exception as exc:
        logger.exception("Discovery run %s could not be queued.", run_id)
        _close(run_id, note=f"Could not be queued ({type(exc).__name__}); see the portal's log.")
        return
    DiscoveryRun.objects.filter(pk=run_id).update(task_id=str(result.id))


def _close(run_id: int, *, note: str) -> None:
    """Mark every account still open as failed with `note`, and finish the run."""
    now = timezone.now()
    DiscoveryRunAccount.objects.filter(run_id=run_id, state__in=_OPEN).update(
        state=DiscoveryAccountState.FAILED, finished_at=now, note=note
    )
    DiscoveryRun.objects.filter(pk=run_id, finished_at__isnull=True).update(finished_at=now)


def _read_roles(access: aws.AccountAccess) -> list[aws.RoleInfo]:
    """Runs on a pool thread: AWS only, no database."""
    with aws.deadline(seconds=ACCOUNT_DEADLINE_SECONDS):
        return aws.roles(access)


def discovery_run_execute(*, run_id: int) -> str:
    """Read every queued account of the run (a task's work) and record the findings.

    The run is claimed first (started_at set once): a task run twice reads
    nothing twice. Up to CONCURRENCY accounts are read at once on the gateway's
    thread pool (aws.Concurrent), each within ACCOUNT_DEADLINE_SECONDS; the
    findings are saved from this thread as each account answers. One account's
    AwsError (AccessDenied, a timeout…) is saved on its row with every detail
    and the others go on. Returns "finished", or "claimed" when another run had it.
    """
    claimed = DiscoveryRun.objects.filter(pk=run_id, started_at__isnull=True).update(
        started_at=timezone.now()
    )
    if not claimed:
        logger.warning("Discovery run %s was claimed already; not run again.", run_id)
        return "claimed"
    rows = list(
        DiscoveryRunAccount.objects.select_related("account").filter(
            run_id=run_id, state=DiscoveryAccountState.QUEUED
        )
    )
    registered = set(AwsAccount.objects.values_list("account_id", flat=True))
    try:
        pool = aws.Concurrent(max_workers=max(1, min(CONCURRENCY, len(rows))))
        for row in rows:
            if row.account is None:
                _finish(row, state=DiscoveryAccountState.SKIPPED, note="Deleted before its turn.")
                continue
            row.state, row.started_at = DiscoveryAccountState.RUNNING, timezone.now()
            row.save(update_fields=["state", "started_at"])
            pool.submit(
                _read_roles,
                row.account.access(),
                then=partial(_record, row, registered),
            )
        pool.run()
    finally:
        _close(
            run_id,
            note="The run stopped before this account was read; see the worker's log.",
        )
    return "finished"


def _finish(row: DiscoveryRunAccount, **fields: object) -> None:
    for name, value in fields.items():
        setattr(row, name, value)
    row.finished_at = timezone.now()
    row.save(update_fields=[*fields, "finished_at"])


def _record(
    row: DiscoveryRunAccount,
    registered: set[str],
    roles: list[aws.RoleInfo] | None,
    error: aws.AwsError | None,
) -> None:
    """Save one account's outcome (called on the run's own thread)."""
    assert row.account is not None
    if error is not None or roles is None:
        detail = error.detail if error is not None else None
        _finish(
            row,
            state=DiscoveryAccountState.FAILED,
            error=detail.as_dict() if detail else None,
            note=detail.message if detail else "No answer.",
        )
        return
    found = discovered_roles(account=row.account, roles=roles)
    findings = []
    for role in found:
        risk, reasons = role_risk(role=role, registered_account_ids=registered)
        findings.append(
            DiscoveryFinding(
                run_id=row.run_id,
                run_account=row,
                account=row.account,
                account_number=row.account_number,
                ou_path=row.ou_path,
                role_name=role.name,
                role_arn=role.arn,
                principals=role.principals,
                external_accounts=role.external_accounts,
                flags=role.risks,
                risk=risk,
                risk_reasons=reasons,
                portal_access=role.portal_access,
            )
        )
    with transaction.atomic():
        DiscoveryFinding.objects.bulk_create(findings)
        _finish(row, state=DiscoveryAccountState.READ, roles_read=len(roles))


# --- the results page ------------------------------------------------------------


def ou_prefixes(paths: list[str]) -> list[str]:
    """Every OU path in `paths` ("Root/Workloads/Prod") and each of its ancestors
    ("Root", "Root/Workloads"), sorted; blanks dropped. Pure."""
    prefixes: set[str] = set()
    for path in paths:
        parts = [p for p in path.split("/") if p]
        prefixes.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    return sorted(prefixes)


def _live_grant() -> Exists:
    return Exists(
        Grant.objects.filter(
            trusting_account=OuterRef("account"), role_name=OuterRef("role_name")
        ).exclude(status__in=_GONE)
    )


@dataclass(frozen=True)
class FindingFilters:
    """The results page's filters; "" means any. `managed`: "grant" (a grant of the
    portal stands for the role), "unmanaged" (neither a grant nor the portal's access
    role), "access" (a role the portal acts through)."""

    risk: str = ""
    account: int | None = None
    ou: str = ""
    managed: str = ""


def discovery_findings(*, run: DiscoveryRun, filters: FindingFilters) -> QuerySet[DiscoveryFinding]:
    """The run's findings that pass `filters`, riskiest first, then by account and role.

    Each carries `grant_pk` (the live grant that stands for the role now, read from
    the records at this moment, or None). The OU filter is a prefix on whole OU
    names: "Root/Workloads" matches "Root/Workloads" and "Root/Workloads/Prod",
    never "Root/WorkloadsOld". No AWS call.
    """
    grant_pk = (
        Grant.objects.filter(trusting_account=OuterRef("account"), role_name=OuterRef("role_name"))
        .exclude(status__in=_GONE)
        .order_by("-pk")
        .values("pk")[:1]
    )
    findings = (
        run.findings.select_related("account")
        .annotate(
            grant_pk=grant_pk,
            has_grant=_live_grant(),
            risk_order=Case(
                When(risk=DiscoveryRisk.HIGH, then=Value(0)),
                When(risk=DiscoveryRisk.MEDIUM, then=Value(1)),
                default=Value(2),
                output_field=IntegerField(),
            ),
        )
        .order_by("risk_order", "account_number", "role_name")
    )
    if filters.risk:
        findings = findings.filter(risk=filters.risk)
    if filters.account:
        findings = findings.filter(account_id=filters.account)
    if filters.ou:
        ou = filters.ou.strip("/")
        findings = findings.filter(Q(ou_path=ou) | Q(ou_path__startswith=ou + "/"))
    if filters.managed == "grant":
        findings = findings.filter(has_grant=True)
    elif filters.managed == "unmanaged":
        findings = findings.filter(has_grant=False, portal_access="")
    elif filters.managed == "access":
        findings = findings.exclude(portal_access="")
    return findings


def finding_importable(finding: DiscoveryFinding, *, grant_pk: int | None) -> bool:
    """Whether the import flow may be offered for `finding`: the same rule as
    single-account discovery (DiscoveredRole.importable). Pure."""
    return (
        not finding.portal_access
        and grant_pk is None
        and finding.account_id is not None
        and len(finding.external_accounts) == 1
        and "*" not in finding.principals
    )


@dataclass
class ImportOutcome:
    finding: DiscoveryFinding
    grant: Grant | None = None
    problem: str = ""


def discovery_findings_import(
    *, findings: list[DiscoveryFinding], actor: AbstractBaseUser | None
) -> list[ImportOutcome]:
    """Import each finding's role as a grant with the single-account import
    (grant_import: the same checks, the same audit record), one after the other.

    One refusal (ValidationError) or AWS failure is recorded in its outcome and
    the rest go on. Raises `PermissionDenied` without the grant manager role and
    `ValueError` for more than IMPORT_BATCH_MAX findings.
    """
    require(actor, "manage_grant")
    if len(findings) > IMPORT_BATCH_MAX:
        raise ValueError(f"Import at most {IMPORT_BATCH_MAX} roles at a time.")
    outcomes: list[ImportOutcome] = []
    for finding in findings:
        outcome = ImportOutcome(finding=finding)
        if finding.account is None:
            outcome.problem = "Its account is no longer registered."
        else:
            try:
                outcome.grant = grant_import(
                    account=finding.account, role_name=finding.role_name, actor=actor
                )
            except ValidationError as exc:
                outcome.problem = " ".join(exc.messages)
            except aws.AwsError as exc:
                detail = exc.detail
                outcome.problem = (
                    f"{detail.service}:{detail.operation} failed: "
                    f"{detail.code or detail.client_error}: {detail.message}"
                )
        outcomes.append(outcome)
    return outcomes
