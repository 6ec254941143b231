"""Operations: every change of a grant in AWS runs as a recorded plan of steps.

Provision (and retry), revoke (and expiry), re-apply and adopt are each one
`Operation` with ordered `OperationStep`s. A task worker claims the operation
with a lease, saves each step's intent (SENT) before its AWS call and the result
(DONE with the request ID, or FAILED with the error) after. Anyone who picks the
operation up later (another worker, `recover_operations`) resumes from the
records. An outcome that is not known (a timeout or dropped connection after
the request may have been sent, or a step found SENT on resume) is settled by
reading AWS, never assumed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from alerts.services import alert_operation_finished

from .. import aws
from ..models import (
    SYSTEM_ACTOR,
    AuditAction,
    AuditOutcome,
    AwsAccount,
    Grant,
    GrantStatus,
    Operation,
    OperationKind,
    OperationState,
    OperationStep,
    StepState,
)
from .audit import audit_record
from .authz import require
from .guardrails import portal_access_refusal

log = logging.getLogger(__name__)

PORTAL_TAG = "xacct:managed-by"
GRANT_TAG = "xacct:grant"

# How often one step is sent before its failure stands (an unknown outcome found
# not to have taken effect is sent again).
MAX_STEP_ATTEMPTS = 3
# How often an operation is picked up before it stops waiting for AWS to answer
# and finishes with what it can prove.
MAX_OPERATION_ATTEMPTS = 10

# Client-side failures that prove the request never left the portal; every other
# client-side failure (timeouts, dropped connections) may follow a request AWS
# received and applied (botocore retries, too), so its outcome is unknown.
_NOT_SENT = frozenset(
    {
        "ParamValidationError",
        "NoCredentialsError",
        "PartialCredentialsError",
        "ProfileNotFound",
        "NoRegionError",
        "AccountNotManaged",
    }
)

# The calls whose "not found" answer means the goal (the thing gone) is reached.
_REMOVALS = frozenset(
    {"iam:DeleteRole", "iam:DetachRolePolicy", "iam:DeleteRolePolicy", "iam:DeleteUserPolicy"}
)
_UNDO = {
    "iam:CreateRole": "iam:DeleteRole",
    "iam:AttachRolePolicy": "iam:DetachRolePolicy",
    "iam:PutRolePolicy": "iam:DeleteRolePolicy",
    "iam:PutUserPolicy": "iam:DeleteUserPolicy",
}


class GrantBusy(Exception):
    """Another operation on this grant is queued or running, or its state allows no such
    change; the message says which ("already being revoked by alice since …")."""


class NotRevocable(Exception):
    """The grant is in no state to revoke (already revoked or expired, or never made)."""


class OperationRefused(Exception):
    """The operation would touch a role the portal acts through (grants.services.guardrails)."""


@dataclass(frozen=True)
class StepSpec:
    """One planned AWS call: what it is, where, and its JSON-safe parameters (never keys)."""

    key: str
    call: str
    account: AwsAccount
    target_arn: str
    summary: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def undo_call(self) -> str:
        return _UNDO.get(self.call, "")

    @property
    def action(self) -> str:
        """The audit action of the call (e.g. "iam.CreateRole")."""
        return self.call.replace(":", ".")

    @property
    def undo_action(self) -> str:
        return self.undo_call.replace(":", ".")


def _action(call: str) -> str:
    return call.replace(":", ".")


def _lease() -> timedelta:
    return timedelta(seconds=settings.XACCT_OPERATION_LEASE_SECONDS)


def _actor_name(actor: AbstractBaseUser | None) -> str:
    return actor.get_username() if actor is not None else SYSTEM_ACTOR


def _real_actor(actor: AbstractBaseUser | None) -> Any:
    return actor if actor is not None and actor.is_authenticated else None


# --- starting -------------------------------------------------------------------------

_DOING = {
    OperationKind.PROVISION: "create",
    OperationKind.REVOKE: "revoke",
    OperationKind.REAPPLY: "re-apply",
    OperationKind.ADOPT: "adopt",
}
_SUMMARY_ACTION = {
    OperationKind.PROVISION: AuditAction.GRANT_PROVISION,
    OperationKind.REVOKE: AuditAction.GRANT_REVOKE,
    OperationKind.REAPPLY: AuditAction.GRANT_REAPPLY,
    OperationKind.ADOPT: AuditAction.GRANT_ADOPT,
}


def _summary_action(kind: str, params: dict[str, Any]) -> str:
    if kind == OperationKind.REVOKE and params.get("expired"):
        return AuditAction.GRANT_EXPIRE
    return _SUMMARY_ACTION[OperationKind(kind)]


def operation_refusal(*, grant: Grant, kind: str, actor: AbstractBaseUser | None) -> str:
    """Why `kind` must not run on `grant` because its role is one the portal acts through,
    or "" when it may. A refusal is audited (outcome failure) before it is returned."""
    account = grant.trusting_account
    refusal = portal_access_refusal(
        account_id=account.account_id,
        role_name=grant.role_name,
        doing=_DOING[OperationKind(kind)],
    )
    if refusal:
        audit_record(
            actor=actor,
            action=_summary_action(kind, {}),
            outcome=AuditOutcome.FAILURE,
            account=account,
            grant=grant if grant.pk else None,
            target_arn=grant.planned_role_arn,
            message=f"Refused: {refusal}",
        )
    return refusal


def open_operation(grant: Grant) -> Operation | None:
    """The grant's queued or running operation, if any."""
    return grant.operations.filter(state__in=Operation.OPEN).order_by("-pk").first()


def busy_message(grant: Grant) -> str:
    """What is happening to the grant right now, for a person whose request lost the race."""
    op = open_operation(grant)
    if op is not None:
        since = timezone.localtime(op.started_at or op.created_at)
        return (
            f"{grant.role_name} is already being {op.verb} by {op.actor_name} "
            f"since {since:%Y-%m-%d %H:%M:%S %Z} (operation #{op.pk}); wait for it to finish."
        )
    last = grant.operations.order_by("-pk").first()
    if last is not None:
        return (
            f"{grant.role_name} was just {last.verb} by {last.actor_name} "
            f"({last.get_state_display().lower()}); reload the page to see it."
        )
    return f"{grant.role_name} is being changed by another request; reload the page."


def operation_start(
    *,
    grant: Grant,
    kind: str,
    actor: AbstractBaseUser | None,
    params: dict[str, Any] | None = None,
) -> Operation:
    """Record an operation on a saved `grant` with its planned steps, in one transaction,
    and enqueue `grants.tasks.operation_run` for it (once committed).

    `kind` is an `OperationKind`; `params` JSON-safe options (`{"expired": True}` for
    the expiry job's revoke). Raises `PermissionDenied` without the grant manager
    role, `OperationRefused` for a role the portal acts through (audited),
    `GrantBusy` when another operation on the grant is open or the grant's state
    does not allow `kind`, `NotRevocable` for a revoke of a grant with nothing to
    revoke, `ValueError` for a re-apply or adopt of a grant that is not live.
    With the immediate task backend the operation has run when this returns.
    """
    op = _operation_begin(grant=grant, kind=kind, actor=actor, params=params)
    _enqueue(op)
    return op


def _operation_begin(
    *,
    grant: Grant,
    kind: str,
    actor: AbstractBaseUser | None,
    params: dict[str, Any] | None,
) -> Operation:
    """`operation_start` without the enqueue: for a caller that runs it itself."""
    require(actor, "manage_grant")
    kind = OperationKind(kind)
    params = dict(params or {})
    refusal = operation_refusal(grant=grant, kind=kind, actor=actor)
    if refusal:
        raise OperationRefused(refusal)
    specs = _static_plan(grant, kind)
    try:
        with transaction.atomic():
            _claim_grant(grant, kind)
            return _operation_create(grant, kind, actor, params, specs)
    except IntegrityError:
        raise GrantBusy(busy_message(grant)) from None


def _claim_grant(grant: Grant, kind: str) -> None:
    """Move the grant into the state the operation needs, as one conditional UPDATE
    (so that of two requests at once exactly one passes), or raise."""
    from .drift import LIVE
    from .lifecycle import REVOCABLE

    grants = Grant.objects.filter(pk=grant.pk)
    if kind == OperationKind.PROVISION:
        try:
            with transaction.atomic():
                claimed = (
                    grants.filter(
                        status__in=[GrantStatus.FAILED, GrantStatus.PARTIAL, GrantStatus.DRAFT]
                    )
                    .filter(Q(revoke_requested_at__isnull=True) | ~Q(status=GrantStatus.PARTIAL))
                    .update(status=GrantStatus.PROVISIONING, revoke_requested_at=None)
                )
        except IntegrityError:
            # A failed grant is not live; provisioning makes it live again, which the
            # unique live role name per account refuses while another grant has it.
            raise GrantBusy(
                f"Another grant now uses the role name {grant.role_name} in "
                f"{grant.trusting_account}; revoke one of them first."
            ) from None
        if not claimed:
            current = Grant.objects.get(pk=grant.pk)
            if open_operation(current) is not None:
                raise GrantBusy(busy_message(current))
            if current.status == GrantStatus.PARTIAL:
                raise GrantBusy(
                    f"{current.role_name} was partly revoked: revoke it again to finish; "
                    "provisioning it again is not offered."
                )
            if current.status in (GrantStatus.ACTIVE, GrantStatus.FAILING):
                raise GrantBusy(f"{current.role_name} is already created and active.")
            raise GrantBusy(
                f"{current.role_name} is {current.get_status_display().lower()}; nothing to do."
            )
        grant.status = GrantStatus.PROVISIONING
        grant.revoke_requested_at = None
    elif kind == OperationKind.REVOKE:
        now = timezone.now()
        if not grants.filter(status__in=REVOCABLE).update(revoke_requested_at=now):
            current = Grant.objects.get(pk=grant.pk)
            if open_operation(current) is not None:
                raise GrantBusy(busy_message(current))
            raise NotRevocable(
                f"{current.role_name} is {current.get_status_display().lower()}: "
                + (
                    "it was already revoked."
                    if current.status in (GrantStatus.REVOKED, GrantStatus.EXPIRED)
                    else "there is nothing to revoke."
                )
            )
        grant.revoke_requested_at = now
    else:
        # A no-op write that still takes the row (and SQLite's write lock) with a
        # condition evaluated on the current data.
        if not grants.filter(status__in=LIVE).update(updated_at=timezone.now()):
            current = Grant.objects.get(pk=grant.pk)
            if open_operation(current) is not None:
                raise GrantBusy(busy_message(current))
            raise ValueError(
                f"A {current.get_status_display().lower()} grant has no live state to reconcile."
            )


def _operation_create(
    grant: Grant,
    kind: str,
    actor: AbstractBaseUser | None,
    params: dict[str, Any],
    specs: list[StepSpec],
) -> Operation:
    op = Operation.objects.create(
        grant=grant,
        kind=kind,
        actor=_real_actor(actor),
        actor_name=_actor_name(actor),
        params=params,
    )
    _steps_create(op, specs, start=1)
    return op


def _steps_create(op: Operation, specs: list[StepSpec], *, start: int) -> None:
    OperationStep.objects.bulk_create(
        OperationStep(
            operation=op,
            position=start + index,
            key=spec.key[:300],
            call=spec.call,
            undo_call=spec.undo_call,
            account=spec.account,
            target_arn=spec.target_arn[:2048],
            summary=spec.summary,
            params=spec.params,
        )
        for index, spec in enumerate(specs)
    )


def _enqueue(op: Operation) -> None:
    """Queue the operation's task: after commit for workers, at once where tasks run
    in-process (tests), so that the operation has run when the caller returns."""
    from ..tasks import queued_in_database

    if queued_in_database():
        transaction.on_commit(lambda: _enqueue_now(op.pk))
    else:
        _enqueue_now(op.pk)


def _enqueue_now(operation_id: int) -> None:
    from ..tasks import operation_run as operation_task

    result = operation_task.enqueue(operation_id=operation_id)
    Operation.objects.filter(pk=operation_id, task_id="").update(task_id=str(result.id)[:64])


def _static_plan(grant: Grant, kind: str) -> list[StepSpec]:
    """The steps known before AWS is read; re-apply and adopt plan when they run."""
    if kind == OperationKind.PROVISION:
        from .grants import grant_plan

        return grant_plan(grant)
    if kind == OperationKind.REVOKE:
        from .lifecycle import revoke_plan

        return revoke_plan(grant)
    return []


# --- running ----------------------------------------------------------------------------


class _Stop(Exception):
    """Stop running this operation for now (lease lost, or AWS cannot be read)."""


def _lease_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:200]


def operation_run(*, operation_id: int, now: datetime | None = None) -> Operation:
    """Claim the operation's lease and run or resume its steps; return it as it ends.

    The claim is one conditional UPDATE: an operation that is queued, or running
    with an expired lease (its worker died), is taken; any other (finished, or held
    by a live worker) is returned unchanged. `now` (default: the current time) is
    when the claim happens. Raises `Operation.DoesNotExist` for an unknown id.
    Never raises for an AWS failure: the outcome is saved on the operation, its
    steps and the grant, and every call is audited with its request ID.
    """
    return _operation_claim_and_run(operation_id, now or timezone.now())[0]


def _operation_claim_and_run(operation_id: int, now: datetime) -> tuple[Operation, bool]:
    """`operation_run`, also saying whether this call claimed the operation."""
    owner = _lease_owner()
    claimed = (
        Operation.objects.filter(pk=operation_id)
        .filter(
            Q(state=OperationState.QUEUED)
            | Q(state=OperationState.RUNNING, lease_expires_at__lt=now)
            | Q(state=OperationState.RUNNING, lease_expires_at__isnull=True)
        )
        .update(
            state=OperationState.RUNNING,
            lease_owner=owner,
            lease_expires_at=now + _lease(),
            attempts=F("attempts") + 1,
            started_at=Coalesce(F("started_at"), Value(now)),
        )
    )
    op = Operation.objects.select_related(
        "grant", "grant__trusting_account", "grant__trusted_account", "actor"
    ).get(pk=operation_id)
    if not claimed:
        return op, False
    runner = _Runner(op, owner)
    try:
        runner.run()
    except _Stop:
        pass
    except Exception as exc:
        log.exception("Operation %s stopped by an unexpected error", operation_id)
        runner.release(f"Interrupted by an unexpected error ({type(exc).__name__}); resumed later.")
    op.refresh_from_db()
    return op, True


def operations_recover(*, now: datetime | None = None) -> list[int]:
    """Finish or roll back every operation nobody is working on; return their ids.

    Picked up: running operations whose lease expired before `now` (default: the
    current time; their worker died or gave up waiting for AWS), and operations
    queued for longer than the lease (`XACCT_OPERATION_LEASE_SECONDS`) whose task
    is no longer waiting in the queue. Each is run here, in this process
    (`manage.py recover_operations` under cron, or a worker), not re-enqueued:
    a stopped worker pool must not keep it stuck.
    """
    now = now or timezone.now()
    running = Operation.objects.filter(state=OperationState.RUNNING).filter(
        Q(lease_expires_at__lt=now) | Q(lease_expires_at__isnull=True)
    )
    queued = Operation.objects.filter(state=OperationState.QUEUED, created_at__lt=now - _lease())
    candidates = list(running.order_by("pk").values_list("pk", flat=True))
    candidates += [
        pk
        for pk, task_id in queued.order_by("pk").values_list("pk", "task_id")
        if not _task_waiting(task_id)
    ]
    handled = []
    for pk in candidates:
        try:
            _op, claimed = _operation_claim_and_run(pk, now)
        except Operation.DoesNotExist:
            continue
        if claimed:
            handled.append(pk)
    return handled + _sweep_late_writes(now)


def _sweep_deadline() -> datetime:
    return timezone.now() + timedelta(seconds=settings.XACCT_OPERATION_SWEEP_SECONDS)


def _was_unknown(step: OperationStep) -> bool:
    """Whether the step's outcome was ever unknown (a timeout, a dropped connection)."""
    return bool(step.error) and _outcome_unknown(aws.AwsErrorDetail.from_dict(step.error))


def _sweep_late_writes(now: datetime) -> list[int]:
    """Remove what a write the client gave up on left in AWS after its provision was
    rolled back; return the ids of the clean-up operations run.

    Such a write can land after every read of the rollback (a request held by the
    network, then delivered). Each rolled-back provision with an unknown outcome is
    looked at again on every recovery pass until `XACCT_OPERATION_SWEEP_SECONDS`
    after it ended (and at least once): a role tagged `xacct:grant` with its grant's
    id, or the grantee policy exactly as this grant wrote it and recorded by no live
    grant, is removed by a revoke-like operation; the grant stays failed.
    """
    ran: list[int] = []
    pending = Operation.objects.filter(
        kind=OperationKind.PROVISION,
        state=OperationState.ROLLED_BACK,
        params__has_key="sweep_until",
    ).select_related("grant", "grant__trusting_account", "grant__trusted_account")
    for op in pending:
        grant = op.grant
        try:
            leftovers = (
                _late_leftovers(grant)
                if grant.status == GrantStatus.FAILED and open_operation(grant) is None
                else []
            )
        except aws.AwsError:
            continue  # AWS cannot be read now: the next pass looks again
        if leftovers:
            try:
                with transaction.atomic():
                    cleanup = _operation_create(
                        grant, OperationKind.REVOKE, None, {"cleanup": True, "of": op.pk}, leftovers
                    )
            except IntegrityError:
                continue
            _operation_claim_and_run(cleanup.pk, now)
            ran.append(cleanup.pk)
        if datetime.fromisoformat(op.params["sweep_until"]) < now:
            params = {k: v for k, v in op.params.items() if k != "sweep_until"}
            Operation.objects.filter(pk=op.pk).update(params=params)
    return ran


def _late_leftovers(grant: Grant) -> list[StepSpec]:
    """The removals a failed grant needs: its tagged role (with the role's policies as
    found live) and the grantee policy it wrote, if no live grant records that policy.
    Raises aws.AwsError when AWS cannot be read."""
    from .lifecycle import revoke_plan

    role = aws.role_get(grant.trusting_account.access(), grant.role_name)
    role_ours = role is not None and role.tags.get(GRANT_TAG) == str(grant.pk)
    grantee_ours = False
    trusted = grant.trusted_account
    if grant.trusted_is_managed and grant.grantee_name and trusted is not None:
        live = aws.grantee_policy(
            trusted.access(),
            grantee_type=grant.grantee_type,
            grantee_name=grant.grantee_name,
            policy_name=grant.user_policy_name,
        )
        recorded_elsewhere = (
            Grant.objects.filter(
                trusted_account=trusted,
                grantee_type=grant.grantee_type,
                grantee_name=grant.grantee_name,
                user_policy_name=grant.user_policy_name,
            )
            .exclude(pk=grant.pk)
            .exclude(status__in=[GrantStatus.FAILED, GrantStatus.REVOKED, GrantStatus.EXPIRED])
            .exists()
        )
        grantee_ours = live == grant.user_policy and not recorded_elsewhere
    if not (role_ours or grantee_ours):
        return []
    specs = revoke_plan(grant, live=role_ours)
    if not role_ours:
        specs = [s for s in specs if s.key == "grantee-policy"]
    if not grantee_ours:
        specs = [s for s in specs if s.key != "grantee-policy"]
    return specs


def operation_stalled(op: Operation, *, now: datetime | None = None) -> bool:
    """Whether nobody is working on an open operation: running with its lease expired
    before `now` (default: the current time), or queued for longer than the lease."""
    now = now or timezone.now()
    if op.state == OperationState.RUNNING:
        return op.lease_expires_at is None or op.lease_expires_at < now
    return op.state == OperationState.QUEUED and op.created_at < now - _lease()


def operation_resume(*, operation: Operation, actor: AbstractBaseUser | None) -> bool:
    """Queue a stalled operation's task again (see `operation_stalled`); return whether
    it was queued. The task's lease claim makes a second runner a no-op. Raises
    `PermissionDenied` without the grant manager role."""
    require(actor, "manage_grant")
    if not operation.is_open or not operation_stalled(operation):
        return False
    _enqueue(operation)
    return True


def _task_waiting(task_id: str) -> bool:
    """Whether the operation's task still waits in the database queue for a worker."""
    from ..tasks import queued_in_database

    if not task_id or not queued_in_database():
        return False
    from django_tasks_db.models import DBTaskResult

    try:
        return DBTaskResult.objects.filter(id=task_id, status="READY").exists()
    except (ValueError, ValidationError):  # a task id from another backend
        return False


class _Runner:
    """Runs one claimed operation; every state change is saved before the next call."""

    def __init__(self, op: Operation, owner: str) -> None:
        self.op = op
        self.owner = owner
        self.grant: Grant = op.grant
        self.actor = op.actor
        self.giving_up = op.attempts > MAX_OPERATION_ATTEMPTS

    # -- lease ---------------------------------------------------------------------

    def renew(self) -> None:
        renewed = Operation.objects.filter(
            pk=self.op.pk, lease_owner=self.owner, state=OperationState.RUNNING
        ).update(lease_expires_at=timezone.now() + _lease())
        if not renewed:
            raise _Stop("lease lost")

    def release(self, message: str) -> None:
        """Leave the operation open for the next worker or recovery pass."""
        Operation.objects.filter(
            pk=self.op.pk, lease_owner=self.owner, state=OperationState.RUNNING
        ).update(lease_expires_at=timezone.now(), message=message)

    def pause(self, step: OperationStep, exc: aws.AwsError) -> None:
        detail = exc.detail
        self.release(
            f"Waiting to find out whether {step.call} on {step.target_arn} took effect: "
            f"reading AWS failed ({detail.code or detail.client_error}: {detail.message}). "
            "It is read again on the next recovery pass (every minute)."
        )
        raise _Stop("cannot read AWS")

    def wait_if_aws_did_not_answer(self, exc: aws.AwsError) -> None:
        """A read that timed out (or met a 5xx) is tried again by the next recovery pass
        rather than ending the operation; nothing has changed in AWS yet."""
        if self.giving_up or not _outcome_unknown(exc.detail):
            return
        detail = exc.detail
        self.release(
            f"Reading the live state failed ({detail.code or detail.client_error}: "
            f"{detail.message}); it is read again on the next recovery pass (every minute)."
        )
        raise _Stop("cannot read AWS")

    # -- the whole run ----------------------------------------------------------------

    def run(self) -> None:
        op = self.op
        if not op.steps.filter(~Q(state=StepState.PLANNED)).exists():
            # The registry may have changed since the operation was queued.
            refusal = portal_access_refusal(
                account_id=self.grant.trusting_account.account_id,
                role_name=self.grant.role_name,
                doing=_DOING[OperationKind(op.kind)],
            )
            if refusal:
                self.finish_refused(refusal)
                return
            if not self.plan():
                return
        if op.kind == OperationKind.ADOPT:
            self.adopt()
            return
        if not op.rolling_back:
            failed = self.forward()
            if failed is None:
                self.finish_success()
                return
            if op.kind == OperationKind.PROVISION:
                op.rolling_back = True
                op.error = failed.error
                op.save(update_fields=["rolling_back", "error"])
            else:
                self.finish_failure()
                return
        self.rollback()
        self.finish_rollback()

    def steps(self) -> list[OperationStep]:
        return list(self.op.steps.select_related("account").order_by("position"))

    def plan(self) -> bool:
        """Plan from what AWS holds now (revoke, re-apply); False when the run ended."""
        op = self.op
        if op.params.get("cleanup"):
            return True  # the sweep planned exactly what it found
        try:
            if op.kind == OperationKind.REVOKE:
                from .lifecycle import revoke_plan

                specs = revoke_plan(self.grant, live=True)
            elif op.kind == OperationKind.REAPPLY:
                from .drift import reapply_plan

                specs = reapply_plan(self.grant)
            else:
                return True
        except aws.AwsError as exc:
            if op.kind == OperationKind.REVOKE:
                return True  # the recorded plan stands; a missing target counts as removed
            self.wait_if_aws_did_not_answer(exc)
            op.error = exc.detail.as_dict()
            op.save(update_fields=["error"])
            self.finish(OperationState.FAILED, f"Reading the live state failed: {exc}")
            return False
        except ValueError as exc:
            self.finish(OperationState.FAILED, str(exc))
            return False
        with transaction.atomic():
            op.steps.all().delete()
            _steps_create(op, specs, start=1)
        return True

    # -- forward -----------------------------------------------------------------------

    def forward(self) -> OperationStep | None:
        """Run the steps in order; return the first failed one (provision, re-apply) or,
        for a revoke, the first failure after trying every step."""
        first_failure: OperationStep | None = None
        for step in self.steps():
            if step.state in (StepState.DONE, StepState.SKIPPED):
                continue
            if step.state == StepState.FAILED:
                first_failure = first_failure or step
                if self.op.kind != OperationKind.REVOKE:
                    return step
                continue
            if step.state in (StepState.SENT, StepState.UNKNOWN) and self.settle(step):
                continue
            if step.state == StepState.PLANNED:
                self.send_until_known(step)
            if step.state in (StepState.FAILED, StepState.UNKNOWN):
                first_failure = first_failure or step
                if self.op.kind != OperationKind.REVOKE:
                    return step
                if step.call == "iam:DeleteRole":
                    break
        return first_failure

    def settle(self, step: OperationStep) -> bool:
        """Read AWS to learn whether a SENT or UNKNOWN step took effect; True when it did.

        Otherwise the step is left PLANNED (send it again), FAILED (it did not take
        effect, and was sent as often as allowed) or, when the operation is giving
        up and AWS cannot be read, UNKNOWN (counted as failed; a rollback undoes it
        in case). Pauses the run (leaving it to recovery) when AWS cannot be read.
        """
        try:
            effect = _took_effect(step)
        except aws.AwsError as exc:
            if self.giving_up:
                step.state = StepState.UNKNOWN
                step.note = f"Could not read AWS to settle the outcome: {exc}"
                step.save(update_fields=["state", "note"])
                return False
            self.pause(step, exc)
            raise  # pragma: no cover - pause always raises
        if effect:
            step.state = StepState.DONE
            step.finished_at = timezone.now()
            step.note = "Outcome was unknown; reading AWS showed the call took effect."
            step.save(update_fields=["state", "finished_at", "note"])
            self.audit_step(step, step.call, note=step.note)
            self.after_done(step)
            return True
        if step.attempts >= MAX_STEP_ATTEMPTS or self.giving_up:
            step.state = StepState.FAILED
            step.note = "Outcome was unknown; reading AWS showed the call did not take effect."
            step.finished_at = timezone.now()
            step.save(update_fields=["state", "note", "finished_at"])
            return False
        step.state = StepState.PLANNED
        step.note = (
            "Outcome was unknown; reading AWS showed the call did not take effect: sent again."
        )
        step.save(update_fields=["state", "note"])
        return False

    def send_until_known(self, step: OperationStep) -> None:
        """Send the step (again while it is found not to have taken effect) until its
        outcome is known: DONE or FAILED, or UNKNOWN when giving up."""
        while True:
            self.renew()
            step.state = StepState.SENT
            step.sent_at = timezone.now()
            step.attempts += 1
            step.save(update_fields=["state", "sent_at", "attempts"])
            try:
                request_id, note = _execute(step, self.grant)
            except aws.AwsError as exc:
                step.error = exc.detail.as_dict()
                step.request_id = exc.detail.request_id[:128]
                if not _outcome_unknown(exc.detail):
                    step.state = StepState.FAILED
                    step.finished_at = timezone.now()
                    step.save(update_fields=["state", "error", "request_id", "finished_at"])
                    self.audit_step(step, step.call, error=exc.detail)
                    return
                step.state = StepState.UNKNOWN
                step.save(update_fields=["state", "error", "request_id"])
                self.audit_step(step, step.call, error=exc.detail, note="outcome unknown")
                if self.settle(step) or step.state != StepState.PLANNED:
                    return
                continue
            step.state = StepState.DONE
            step.request_id = request_id[:128]
            step.error = None
            step.note = note
            step.finished_at = timezone.now()
            step.save(update_fields=["state", "request_id", "error", "note", "finished_at"])
            self.audit_step(step, step.call, request_id=request_id, note=note)
            self.after_done(step)
            return

    def after_done(self, step: OperationStep) -> None:
        if step.call == "iam:CreateRole" and step.account_id == self.grant.trusting_account_id:
            arn = self.grant.planned_role_arn if not self.grant.role_arn else self.grant.role_arn
            Grant.objects.filter(pk=self.grant.pk).update(role_arn=arn)
            self.grant.role_arn = arn

    # -- rollback ----------------------------------------------------------------------

    def rollback(self) -> None:
        """Undo, in reverse, every step whose effect may be in AWS."""
        maybe_applied = (StepState.DONE, StepState.UNKNOWN, StepState.SENT, StepState.UNDOING)
        for step in reversed(self.steps()):
            if step.state not in maybe_applied or not step.undo_call:
                continue
            if step.state == StepState.UNDOING and self.prove_gone(step):
                continue
            self.undo(step)

    def prove_gone(self, step: OperationStep) -> bool:
        """Whether reading AWS proves the step's effect absent (marks it UNDONE)."""
        try:
            present = _took_effect(step)
        except aws.AwsError as exc:
            if self.giving_up:
                return False
            self.pause(step, exc)
            raise  # pragma: no cover
        if present:
            return False
        step.state = StepState.UNDONE
        step.finished_at = timezone.now()
        step.note = (step.note + " " if step.note else "") + "Reading AWS proved it gone."
        step.save(update_fields=["state", "finished_at", "note"])
        return True

    def undo(self, step: OperationStep) -> None:
        for _ in range(MAX_STEP_ATTEMPTS):
            self.renew()
            step.state = StepState.UNDOING
            step.save(update_fields=["state"])
            try:
                request_id = _undo(step)
            except aws.AwsError as exc:
                if _outcome_unknown(exc.detail) and self.prove_gone(step):
                    return
                if _outcome_unknown(exc.detail) and not self.giving_up:
                    continue
                step.state = StepState.UNDO_FAILED
                step.error = exc.detail.as_dict()
                step.note = "Could not undo; the resource may still be in AWS."
                step.save(update_fields=["state", "error", "note"])
                self.audit_step(step, step.undo_call, error=exc.detail)
                return
            step.state = StepState.UNDONE
            step.finished_at = timezone.now()
            step.save(update_fields=["state", "finished_at"])
            self.audit_step(step, step.undo_call, request_id=request_id)
            return
        step.state = StepState.UNDO_FAILED
        step.note = "Could not prove the undo took effect; the resource may still be in AWS."
        step.save(update_fields=["state", "note"])

    # -- adopt -------------------------------------------------------------------------

    def adopt(self) -> None:
        from .drift import adopt_live_state

        try:
            changed = adopt_live_state(self.grant)
        except aws.AwsError as exc:
            self.wait_if_aws_did_not_answer(exc)
            self.op.error = exc.detail.as_dict()
            self.op.save(update_fields=["error"])
            self.finish(OperationState.FAILED, f"Reading the live state failed: {exc}")
            return
        except ValueError as exc:
            self.finish(OperationState.FAILED, str(exc))
            return
        message = "Adopted live " + (", ".join(changed) if changed else "state (no change)") + "."
        self.finish(OperationState.SUCCEEDED, message, audit_message=message)
        self.drift_check()

    # -- finishing -----------------------------------------------------------------------

    def finish(
        self,
        state: str,
        message: str,
        *,
        grant_fields: dict[str, Any] | None = None,
        audit_message: str = "",
        error: aws.AwsErrorDetail | None = None,
    ) -> None:
        """Close the operation (if this worker still holds it) and save the grant, together."""
        with transaction.atomic():
            closed = Operation.objects.filter(
                pk=self.op.pk, lease_owner=self.owner, state=OperationState.RUNNING
            ).update(
                state=state,
                message=message,
                finished_at=timezone.now(),
                lease_expires_at=None,
                error=error.as_dict() if error else self.op.error,
            )
            if not closed:
                raise _Stop("lease lost")
            if grant_fields:
                for name, value in grant_fields.items():
                    setattr(self.grant, name, value)
                self.grant.save(update_fields=[*grant_fields, "updated_at"])
            alert_operation_finished(op=self.op, state=state, message=message, grant=self.grant)
        audit_record(
            actor=self.actor,
            action=_summary_action(self.op.kind, self.op.params),
            outcome=AuditOutcome.SUCCESS
            if state == OperationState.SUCCEEDED
            else AuditOutcome.FAILURE,
            account=self.grant.trusting_account,
            grant=self.grant,
            target_arn=self.grant.planned_role_arn,
            error=error,
            message=audit_message or message,
        )

    def finish_refused(self, refusal: str) -> None:
        fields = {}
        if self.op.kind == OperationKind.PROVISION:
            fields = {"status": GrantStatus.FAILED, "role_arn": ""}
        self.finish(
            OperationState.REFUSED,
            refusal,
            grant_fields=fields,
            audit_message=f"Refused: {refusal}",
        )

    def finish_success(self) -> None:
        op, grant = self.op, self.grant
        if op.kind == OperationKind.PROVISION:
            keys = [s.key for s in self.steps()]
            arn = grant.role_arn or grant.planned_role_arn
            self.finish(
                OperationState.SUCCEEDED,
                f"Created {arn}.",
                grant_fields={
                    "status": GrantStatus.ACTIVE,
                    "last_error": None,
                    "role_arn": arn,
                    "applied_steps": keys,
                },
                audit_message=f"Provisioned {grant}.",
            )
        elif op.kind == OperationKind.REVOKE and op.params.get("cleanup"):
            removed = "; ".join(s.summary for s in self.steps())
            self.finish(
                OperationState.SUCCEEDED,
                f"Removed what a write that landed after the rollback left in AWS: {removed}.",
                grant_fields={"applied_steps": []},
            )
        elif op.kind == OperationKind.REVOKE:
            expired = bool(op.params.get("expired"))
            self.finish(
                OperationState.SUCCEEDED,
                f"{'Expired' if expired else 'Revoked'} {grant.planned_role_arn}.",
                grant_fields={
                    "status": GrantStatus.EXPIRED if expired else GrantStatus.REVOKED,
                    "last_error": None,
                    "applied_steps": [],
                },
                audit_message=f"Removed {grant.planned_role_arn} and its user policy.",
            )
        else:
            count = len(self.steps())
            self.finish(
                OperationState.SUCCEEDED,
                f"Re-applied the recorded state ({count} call{'s' if count != 1 else ''}).",
                audit_message=f"{count} call(s).",
            )
            self.drift_check()

    def finish_failure(self) -> None:
        """A revoke or re-apply with a failed step: nothing is undone; say what remains."""
        op = self.op
        steps = self.steps()
        failed = [s for s in steps if s.state in (StepState.FAILED, StepState.UNKNOWN)]
        remaining = [s for s in steps if s.state not in (StepState.DONE, StepState.SKIPPED)]
        detail = next((s.error_detail for s in failed if s.error), None)
        if op.kind == OperationKind.REVOKE:
            listed = "; ".join(s.summary for s in remaining)
            self.finish(
                OperationState.PARTIAL,
                f"Some calls failed; still in AWS: {listed}. Revoke again to finish.",
                grant_fields={
                    "status": GrantStatus.PARTIAL,
                    "last_error": detail.as_dict() if detail else _plain_error(failed),
                    "applied_steps": [s.key for s in remaining],
                },
                error=detail,
            )
        else:
            self.finish(
                OperationState.FAILED,
                "Re-applying stopped at "
                + (failed[0].summary if failed else "a call")
                + f": {detail.message if detail else 'it did not take effect'}.",
                error=detail,
            )
            self.drift_check()

    def finish_rollback(self) -> None:
        steps = self.steps()
        failed = next((s for s in steps if s.state in (StepState.FAILED, StepState.UNKNOWN)), None)
        detail = failed.error_detail if failed is not None and failed.error else None
        error = detail.as_dict() if detail else (_plain_error([failed]) if failed else None)
        left = [s for s in steps if s.state in (StepState.UNDO_FAILED, StepState.UNKNOWN)]
        left += [s for s in steps if s.state == StepState.DONE and not s.undo_call]
        if not left:
            undone = sum(1 for s in steps if s.state == StepState.UNDONE)
            self.finish(
                OperationState.ROLLED_BACK,
                "Provisioning failed"
                + (f" at {failed.call}" if failed else "")
                + "; everything was rolled back "
                + f"({undone} call{'s' if undone != 1 else ''} undone).",
                grant_fields={
                    "status": GrantStatus.FAILED,
                    "last_error": error,
                    "role_arn": "",
                    "applied_steps": [],
                },
                error=detail,
            )
            if any(_was_unknown(s) for s in steps):
                # A write the client gave up on may still land after this: look again.
                params = {**self.op.params, "sweep_until": _sweep_deadline().isoformat()}
                Operation.objects.filter(pk=self.op.pk).update(params=params)
            return
        listed = "; ".join(f"{s.summary} ({s.get_state_display().lower()})" for s in left)
        self.finish(
            OperationState.PARTIAL,
            "Provisioning failed and the rollback could not prove everything gone: "
            f"{listed}. Retry finishes the grant; Revoke removes what is there.",
            grant_fields={
                "status": GrantStatus.PARTIAL,
                "last_error": error,
                "applied_steps": [s.key for s in left],
            },
            error=detail,
        )

    def drift_check(self) -> None:
        from .drift import grant_drift_check

        # The operation's outcome stands if AWS cannot be read; Check drift runs again.
        with contextlib.suppress(aws.AwsError):
            grant_drift_check(grant=self.grant, actor=None)

    # -- audit -----------------------------------------------------------------------------

    def audit_step(
        self,
        step: OperationStep,
        call: str,
        *,
        request_id: str = "",
        error: aws.AwsErrorDetail | None = None,
        note: str = "",
    ) -> None:
        summary = step.summary if call == step.call else f"{call} (undo of: {step.summary})"
        audit_record(
            actor=self.actor,
            action=_action(call),
            outcome=AuditOutcome.FAILURE if error else AuditOutcome.SUCCESS,
            account=step.account,
            grant=self.grant,
            target_arn=step.target_arn,
            error=error,
            request_id=request_id,
            message=f"{summary}{f' — {note}' if note else ''}",
        )


def _plain_error(steps: list[OperationStep | None]) -> dict[str, Any] | None:
    step = next((s for s in steps if s is not None), None)
    if step is None:
        return None
    return aws.AwsErrorDetail(
        service=step.call.split(":")[0],
        operation=step.call.split(":")[-1],
        message=step.note or "The call did not take effect.",
    ).as_dict()


def _outcome_unknown(detail: aws.AwsErrorDetail) -> bool:
    """Whether a failed call may still have taken effect in AWS.

    AWS answering with an HTTP status below 500 is definite (botocore's standard
    retry mode retries 5xx and connection errors, so a final 4xx after an
    applied first attempt comes out as EntityAlreadyExists or NoSuchEntity,
    which the steps handle). 5xx answers, timeouts and dropped connections are
    not (AWS docs, "Error retries and exponential backoff").
    """
    if detail.http_status is not None:
        return detail.http_status >= 500
    return detail.client_error not in _NOT_SENT


# --- the calls -------------------------------------------------------------------------


def _access(step: OperationStep) -> aws.AccountAccess:
    if step.account is None:
        raise aws.AwsError(
            aws.AwsErrorDetail(
                service="portal",
                operation="ResolveAccount",
                message="The account of this step is no longer registered.",
                client_error="AccountNotManaged",
            )
        )
    return step.account.access()


def _execute(step: OperationStep, grant: Grant) -> tuple[str, str]:
    """Make the step's call; return its request ID and a note. Raises aws.AwsError."""
    access = _access(step)
    p = step.params
    call = step.call
    try:
        if call == "iam:CreateRole":
            try:
                _arn, request_id = aws.role_create(
                    access,
                    name=p["name"],
                    path=p["path"],
                    trust_policy=p["trust_policy"],
                    description=p["description"],
                    max_session_duration=p["max_session_duration"],
                    tags=p["tags"],
                )
            except aws.AwsError as exc:
                if exc.code != "EntityAlreadyExists":
                    raise
                existing = aws.role_get(access, p["name"])
                if existing is None or existing.tags.get(GRANT_TAG) != p["tags"].get(GRANT_TAG):
                    raise
                return exc.detail.request_id, (
                    "The role already existed, tagged with this grant: an earlier attempt made it."
                )
            return request_id, ""
        if call == "iam:AttachRolePolicy":
            return aws.role_policy_attach(
                access, role_name=p["role_name"], policy_arn=p["policy_arn"]
            ), ""
        if call == "iam:PutRolePolicy":
            return aws.role_policy_put(
                access,
                role_name=p["role_name"],
                policy_name=p["policy_name"],
                document=p["document"],
            ), ""
        if call == "iam:PutUserPolicy":
            return aws.user_policy_put(
                access,
                user_name=p["user_name"],
                policy_name=p["policy_name"],
                document=p["document"],
            ), ""
        if call == "iam:UpdateAssumeRolePolicy":
            return aws.role_trust_update(
                access, role_name=p["role_name"], document=p["document"]
            ), ""
        if call == "iam:TagRole":
            return aws.role_tag(access, role_name=p["role_name"], tags=p["tags"]), ""
        return _remove(call, access, p), ""
    except aws.AwsError as exc:
        if call in _REMOVALS and exc.code == "NoSuchEntity":
            return exc.detail.request_id, "Already gone."
        raise


def _remove(call: str, access: aws.AccountAccess, p: dict[str, Any]) -> str:
    if call == "iam:DeleteRole":
        return aws.role_delete(access, name=p.get("name") or p["role_name"])
    if call == "iam:DetachRolePolicy":
        return aws.role_policy_detach(access, role_name=p["role_name"], policy_arn=p["policy_arn"])
    if call == "iam:DeleteRolePolicy":
        return aws.role_policy_delete(
            access, role_name=p["role_name"], policy_name=p["policy_name"]
        )
    if call == "iam:DeleteUserPolicy":
        return aws.user_policy_delete(
            access, user_name=p["user_name"], policy_name=p["policy_name"]
        )
    raise ValueError(f"Unknown call {call}")


def _undo(step: OperationStep) -> str:
    """Make the call that undoes a DONE step; "not found" counts as undone."""
    access = _access(step)
    p = dict(step.params)
    if step.call == "iam:CreateRole":
        p = {"name": p["name"]}
    try:
        return _remove(step.undo_call, access, p)
    except aws.AwsError as exc:
        if exc.code == "NoSuchEntity":
            return exc.detail.request_id
        raise


def _took_effect(step: OperationStep) -> bool:
    """Read AWS: whether the step's call is in effect now (for a removal: the thing is
    gone). Reads GetRole (with the `xacct:grant` tag), ListAttachedRolePolicies,
    GetRolePolicy and GetUserPolicy. Raises aws.AwsError when AWS cannot be read."""
    access = _access(step)
    p = step.params
    call = step.call
    if call == "iam:CreateRole":
        role = aws.role_get(access, p["name"])
        return role is not None and role.tags.get(GRANT_TAG) == p["tags"].get(GRANT_TAG)
    if call == "iam:DeleteRole":
        return aws.role_get(access, p.get("name") or p["role_name"]) is None
    if call in ("iam:AttachRolePolicy", "iam:DetachRolePolicy"):
        if aws.role_get(access, p["role_name"]) is None:
            attached = False
        else:
            attached = p["policy_arn"] in aws.role_attached_policy_arns(
                access, role_name=p["role_name"]
            )
        return attached if call == "iam:AttachRolePolicy" else not attached
    if call in ("iam:PutRolePolicy", "iam:DeleteRolePolicy"):
        live = aws.role_inline_policy(
            access, role_name=p["role_name"], policy_name=p["policy_name"]
        )
        if call == "iam:DeleteRolePolicy":
            return live is None
        return live == json.loads(p["document"])
    if call in ("iam:PutUserPolicy", "iam:DeleteUserPolicy"):
        live = aws.user_policy(access, user_name=p["user_name"], policy_name=p["policy_name"])
        if call == "iam:DeleteUserPolicy":
            return live is None
        return live == json.loads(p["document"])
    if call == "iam:UpdateAssumeRolePolicy":
        role = aws.role_get(access, p["role_name"])
        return role is not None and role.trust_policy == json.loads(p["document"])
    if call == "iam:TagRole":
        role = aws.role_get(access, p["role_name"])
        return role is not None and all(role.tags.get(k) == v for k, v in p["tags"].items())
    raise ValueError(f"Unknown call {call}")


def operation_steps_view(op: Operation) -> list[OperationStep]:
    """The operation's steps in order, with their accounts (for pages)."""
    return list(op.steps.select_related("account").order_by("position"))
