"""After a grant exists: revoke it (both halves), expire it, change its expiry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from .. import aws
from ..models import AuditAction, AuditOutcome, AwsAccount, Grant, GrantStatus
from .audit import audit_record
from .authz import require
from .grants import GRANTEE_POLICY_ACTIONS

REVOCABLE = (GrantStatus.ACTIVE, GrantStatus.FAILING, GrantStatus.PARTIAL)


@dataclass(frozen=True)
class RevokeStep:
    """One AWS call of a revoke; a missing target counts as already removed."""

    action: str
    account: AwsAccount
    target_arn: str
    summary: str
    run: Callable[[], str] = field(repr=False)


def revoke_plan(grant: Grant, *, live: bool = False) -> list[RevokeStep]:
    """The calls that remove both halves: the grantee's policy first, then the role.

    With `live`, the role's policies are read from IAM, so that policies
    attached outside the portal do not block the role's deletion.
    """
    steps: list[RevokeStep] = []
    trusted = grant.trusted_account
    if grant.trusted_is_managed and grant.grantee_name:
        assert trusted is not None
        run = partial(
            aws.grantee_policy_delete,
            trusted.access(),
            grantee_type=grant.grantee_type,
            grantee_name=grant.grantee_name,
            policy_name=grant.user_policy_name,
        )
        action = GRANTEE_POLICY_ACTIONS[grant.grantee_type][1]
        verb = AuditAction(action).label
        steps.append(
            RevokeStep(
                action=action,
                account=trusted,
                target_arn=(
                    f"arn:{trusted.partition}:iam::{trusted.account_id}:"
                    f"{grant.grantee_type}/{grant.grantee_name}"
                ),
                summary=(
                    f"{verb} {grant.user_policy_name} from {grant.grantee_type} "
                    f"{grant.grantee_name} in {trusted}"
                ),
                run=run,
            )
        )
    trusting = grant.trusting_account
    access = trusting.access()
    role = grant.role_name
    managed = list(grant.managed_policy_arns)
    inline = [grant.inline_policy_name] if grant.inline_policy_name else []
    if live:
        if aws.role_get(access, role) is None:
            return steps
        managed = aws.role_attached_policy_arns(access, role_name=role)
        inline = list(aws.role_inline_policies(access, role_name=role))
    for arn in managed:
        steps.append(
            RevokeStep(
                action=AuditAction.ROLE_POLICY_DETACH,
                account=trusting,
                target_arn=arn,
                summary=f"iam:DetachRolePolicy {arn} from {role}",
                run=partial(aws.role_policy_detach, access, role_name=role, policy_arn=arn),
            )
        )
    for name in inline:
        steps.append(
            RevokeStep(
                action=AuditAction.ROLE_POLICY_DELETE,
                account=trusting,
                target_arn=grant.planned_role_arn,
                summary=f"iam:DeleteRolePolicy {name} from {role}",
                run=partial(aws.role_policy_delete, access, role_name=role, policy_name=name),
            )
        )
    steps.append(
        RevokeStep(
            action=AuditAction.ROLE_DELETE,
            account=trusting,
            target_arn=grant.planned_role_arn,
            summary=f"iam:DeleteRole {role} in {trusting}",
            run=partial(aws.role_delete, access, name=role),
        )
    )
    return steps


class NotRevocable(Exception):
    """The grant is in no state to revoke."""


def grant_revoke(*, grant: Grant, actor: AbstractBaseUser | None, expired: bool = False) -> Grant:
    """Remove the user policy, the role's policies and the role; record every call.

    Calls run on after a failure (each removal stands alone); if any failed the
    grant is partial with the error, and revoking again finishes the job.
    """
    require(actor, "manage_grant")
    # Claim the grant atomically: a second revoke or the expiry job running at
    # the same time finds it claimed; a partial revoke may be retried.
    claimed = (
        Grant.objects.filter(pk=grant.pk, status__in=REVOCABLE)
        .filter(Q(revoke_requested_at__isnull=True) | Q(status=GrantStatus.PARTIAL))
        .update(revoke_requested_at=Coalesce(F("revoke_requested_at"), Value(timezone.now())))
    )
    if not claimed:
        raise NotRevocable(
            f"A {grant.get_status_display().lower()} grant cannot be revoked now "
            "(already revoked, or being revoked)."
        )
    grant.refresh_from_db(fields=["revoke_requested_at"])
    failure: aws.AwsErrorDetail | None = None
    try:
        steps = revoke_plan(grant, live=True)
    except aws.AwsError as exc:
        # The role side could not be read: still remove the grantee's policy.
        steps, failure = revoke_plan(grant, live=False)[:1], exc.detail
        if not (grant.trusted_is_managed and grant.grantee_name):
            steps = []
    for step in steps:
        try:
            request_id = step.run()
        except aws.AwsError as exc:
            if exc.code == "NoSuchEntity":
                continue
            failure = failure or exc.detail
            audit_record(
                actor=actor,
                action=step.action,
                outcome=AuditOutcome.FAILURE,
                account=step.account,
                grant=grant,
                target_arn=step.target_arn,
                error=exc.detail,
            )
            if step.action == AuditAction.ROLE_DELETE:
                break
            continue
        audit_record(
            actor=actor,
            action=step.action,
            account=step.account,
            grant=grant,
            target_arn=step.target_arn,
            request_id=request_id,
            message=step.summary,
        )
    if failure is None:
        grant.status = GrantStatus.EXPIRED if expired else GrantStatus.REVOKED
        grant.last_error = None
        grant.applied_steps = []
    else:
        grant.status = GrantStatus.PARTIAL
        grant.last_error = failure.as_dict()
    grant.save(update_fields=["status", "last_error", "applied_steps", "updated_at"])
    audit_record(
        actor=actor,
        action=AuditAction.GRANT_EXPIRE if expired else AuditAction.GRANT_REVOKE,
        outcome=AuditOutcome.FAILURE if failure else AuditOutcome.SUCCESS,
        account=grant.trusting_account,
        grant=grant,
        target_arn=grant.planned_role_arn,
        error=failure,
        message="" if failure else f"Removed {grant.planned_role_arn} and its user policy.",
    )
    return grant


def grants_expire(*, now: datetime | None = None) -> list[Grant]:
    """Revoke every live grant past its expiry; return those this run revoked (or tried to),
    with their outcome. A grant another revoke has claimed is left to it."""
    now = now or timezone.now()
    due = Grant.objects.select_related("trusting_account", "trusted_account").filter(
        status__in=REVOCABLE, expires_at__lte=now
    )
    done = []
    for grant in due:
        try:
            done.append(grant_revoke(grant=grant, actor=None, expired=True))
        except NotRevocable:
            continue  # another revoke (a person, or an overlapping run) has it
    return done


def grant_expiry_set(
    *, grant: Grant, expires_at: datetime | None, actor: AbstractBaseUser | None
) -> Grant:
    """Set or clear the expiry of a grant."""
    require(actor, "manage_grant")
    grant.expires_at = expires_at
    grant.save(update_fields=["expires_at", "updated_at"])
    audit_record(
        actor=actor,
        action=AuditAction.GRANT_UPDATE,
        account=grant.trusting_account,
        grant=grant,
        target_arn=grant.planned_role_arn,
        message=(
            f"Expiry set to {expires_at:%Y-%m-%d %H:%M} UTC." if expires_at else "Expiry cleared."
        ),
    )
    return grant
