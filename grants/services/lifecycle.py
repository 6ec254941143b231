"""After a grant exists: revoke it (both halves), expire it, change its expiry."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.base_user import AbstractBaseUser
from django.utils import timezone

from .. import aws
from ..models import AuditAction, Grant, GrantStatus, OperationKind
from .audit import audit_record
from .authz import require
from .grants import grantee_policy_step
from .operations import (
    GrantBusy,
    NotRevocable,
    OperationRefused,
    StepSpec,
    _operation_begin,
    operation_run,
    operation_start,
)

__all__ = ["NotRevocable", "RevokeStep"]

REVOCABLE = (GrantStatus.ACTIVE, GrantStatus.FAILING, GrantStatus.PARTIAL)


# One AWS call of a revoke (grants.services.operations runs it).
RevokeStep = StepSpec


def revoke_plan(grant: Grant, *, live: bool = False) -> list[StepSpec]:
    """The calls that remove both halves: the grantee's policy first, then the role's
    policies, then the role. A target already gone counts as removed when run. Each
    step's key names what it removes, as provisioning names what it makes ("role",
    "attach:<arn>", "inline:<name>", "grantee-policy").

    With `live`, the role's policies are read from IAM (ListAttachedRolePolicies,
    ListRolePolicies), so that policies attached outside the portal do not block
    the role's deletion (DeleteRole needs a role with no policies: IAM API
    reference, DeleteRole); raises aws.AwsError when IAM cannot be read.
    """
    steps: list[StepSpec] = []
    trusted = grant.trusted_account
    if grant.trusted_is_managed and grant.grantee_name:
        assert trusted is not None
        steps.append(grantee_policy_step(grant, trusted, put=False))
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
            StepSpec(
                key=f"attach:{arn}",
                call="iam:DetachRolePolicy",
                account=trusting,
                target_arn=arn,
                summary=f"iam:DetachRolePolicy {arn} from {role}",
                params={"role_name": role, "policy_arn": arn},
            )
        )
    for name in inline:
        steps.append(
            StepSpec(
                key=f"inline:{name}",
                call="iam:DeleteRolePolicy",
                account=trusting,
                target_arn=grant.planned_role_arn,
                summary=f"iam:DeleteRolePolicy {name} from {role}",
                params={"role_name": role, "policy_name": name},
            )
        )
    steps.append(
        StepSpec(
            key="role",
            call="iam:DeleteRole",
            account=trusting,
            target_arn=grant.planned_role_arn,
            summary=f"iam:DeleteRole {role} in {trusting}",
            params={"name": role},
        )
    )
    return steps


def grant_revoke(*, grant: Grant, actor: AbstractBaseUser | None, expired: bool = False) -> Grant:
    """Revoke the grant as an operation: remove the grantee's policy, the role's policies
    (as found live when the operation runs) and the role; return the grant.

    Each call stands alone: after a failure the others still run, and the grant
    ends partial listing what remains (revoking again finishes the job);
    `expired` marks the expiry job's revoke (the grant ends expired). Raises
    `PermissionDenied` without the grant manager role, `OperationRefused` for a
    role the portal acts through (audited), `GrantBusy` when another operation on
    the grant is open ("already being revoked by alice since …"), `NotRevocable`
    when the grant has nothing to revoke. With the immediate task backend the
    operation has run when this returns; with the database backend it waits for
    a `db_worker`.
    """
    operation_start(
        grant=grant,
        kind=OperationKind.REVOKE,
        actor=actor,
        params={"expired": True} if expired else {},
    )
    grant.refresh_from_db()
    return grant


def grants_expire(*, now: datetime | None = None) -> list[Grant]:
    """Revoke every live grant past its expiry (`now`, default the current time) and
    return those this run revoked or tried to, with their outcome.

    The revokes run here, in this process (the caller is a task worker or the
    `expire_grants` command), not queued for other workers. A grant another operation
    holds is left to it; a grant on a role the portal acts through is refused
    (and audited) each time.
    """
    now = now or timezone.now()
    due = Grant.objects.select_related("trusting_account", "trusted_account").filter(
        status__in=REVOCABLE, expires_at__lte=now
    )
    done = []
    for grant in due:
        try:
            op = _operation_begin(
                grant=grant, kind=OperationKind.REVOKE, actor=None, params={"expired": True}
            )
        except (NotRevocable, GrantBusy, OperationRefused):
            continue
        # Run here, not queued: if this process dies, the lease (or, before the claim,
        # the queued operation's age) lets recovery finish it.
        operation_run(operation_id=op.pk)
        grant.refresh_from_db()
        done.append(grant)
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
