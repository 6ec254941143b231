"""Drift: live IAM state against the record; re-apply the record or adopt what is live."""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from alerts.services import alert_drift_found

from .. import aws, policies
from ..models import (
    AuditAction,
    AuditOutcome,
    Grant,
    GrantStatus,
    OperationKind,
    PermissionSet,
)
from .audit import audit_record
from .authz import require
from .grants import GRANT_TAG, PORTAL_TAG, grantee_policy_step
from .operations import StepSpec, operation_start


@dataclass(frozen=True)
class DriftItem:
    """One part of the grant whose live state differs from the record."""

    part: str
    change: str  # "missing", "changed" or "extra"
    diff: str


@dataclass
class LiveState:
    role: aws.RoleInfo | None
    attached: list[str]
    inline: dict[str, dict]
    grantee_policy: dict | None


def _live_state(grant: Grant) -> LiveState:
    access = grant.trusting_account.access()
    role = aws.role_get(access, grant.role_name)
    attached: list[str] = []
    inline: dict[str, dict] = {}
    if role is not None:
        attached = aws.role_attached_policy_arns(access, role_name=grant.role_name)
        inline = aws.role_inline_policies(access, role_name=grant.role_name)
    grantee_policy = None
    if grant.trusted_is_managed and grant.grantee_name:
        assert grant.trusted_account is not None
        grantee_policy = aws.grantee_policy(
            grant.trusted_account.access(),
            grantee_type=grant.grantee_type,
            grantee_name=grant.grantee_name,
            policy_name=grant.user_policy_name,
        )
    return LiveState(role, attached, inline, grantee_policy)


def _diff(recorded: Any, live: Any, label: str) -> str:
    before = policies.render(recorded).splitlines() if recorded is not None else []
    after = policies.render(live).splitlines() if live is not None else []
    return "\n".join(
        difflib.unified_diff(before, after, f"recorded {label}", f"live {label}", lineterm="")
    )


def _compare(grant: Grant, live: LiveState) -> list[DriftItem]:
    items: list[DriftItem] = []
    if live.role is None:
        items.append(DriftItem("role", "missing", f"The role {grant.role_name} does not exist."))
    else:
        if live.role.trust_policy != grant.trust_policy:
            items.append(
                DriftItem(
                    "trust policy",
                    "changed",
                    _diff(grant.trust_policy, live.role.trust_policy, "trust policy"),
                )
            )
        recorded_managed, live_managed = set(grant.managed_policy_arns), set(live.attached)
        for arn in sorted(recorded_managed - live_managed):
            items.append(DriftItem("permission policies", "missing", f"- attached {arn}"))
        for arn in sorted(live_managed - recorded_managed):
            items.append(DriftItem("permission policies", "extra", f"+ attached {arn}"))
        recorded_inline = (
            {grant.inline_policy_name: grant.inline_policy} if grant.inline_policy else {}
        )
        for name in sorted(set(recorded_inline) | set(live.inline)):
            mine, theirs = recorded_inline.get(name), live.inline.get(name)
            if mine != theirs:
                change = "missing" if theirs is None else "extra" if mine is None else "changed"
                items.append(
                    DriftItem("permission policies", change, _diff(mine, theirs, f"inline {name}"))
                )
        wanted_tags = {PORTAL_TAG: "xacct-portal", GRANT_TAG: str(grant.pk)}
        if (
            any(live.role.tags.get(k) != v for k, v in wanted_tags.items())
            and not grant.imported_at
        ):
            items.append(
                DriftItem(
                    "tags",
                    "changed",
                    _diff(wanted_tags, {k: live.role.tags.get(k) for k in wanted_tags}, "tags"),
                )
            )
    if grant.trusted_is_managed and grant.grantee_name and live.grantee_policy != grant.user_policy:
        change = "missing" if live.grantee_policy is None else "changed"
        items.append(
            DriftItem(
                "user policy", change, _diff(grant.user_policy, live.grantee_policy, "user policy")
            )
        )
    return items


def grant_drift_check(*, grant: Grant, actor: AbstractBaseUser | None) -> Grant:
    """Compare live IAM with the record; save the differences on the grant."""
    require(actor, "verify_grant")
    try:
        items = [asdict(item) for item in _compare(grant, _live_state(grant))]
    except aws.AwsError as exc:
        audit_record(
            actor=actor,
            action=AuditAction.GRANT_DRIFT,
            outcome=AuditOutcome.FAILURE,
            account=grant.trusting_account,
            grant=grant,
            error=exc.detail,
        )
        raise
    with transaction.atomic():
        alert_drift_found(grant=grant, items=items)  # reads the drift this check replaces
        grant.drift, grant.drift_checked_at = items, timezone.now()
        grant.save(update_fields=["drift", "drift_checked_at"])
    audit_record(
        actor=actor,
        action=AuditAction.GRANT_DRIFT,
        account=grant.trusting_account,
        grant=grant,
        target_arn=grant.planned_role_arn,
        message=f"{len(items)} difference(s)." if items else "No drift.",
    )
    return grant


LIVE = (GrantStatus.ACTIVE, GrantStatus.FAILING, GrantStatus.PARTIAL)


def reapply_plan(grant: Grant) -> list[StepSpec]:
    """The calls that make IAM match the record again, one per difference found live.

    Reads the role, its policies and the grantee's policy (raises aws.AwsError
    when IAM cannot be read); raises ValueError when the role belongs to another
    grant (its `xacct:grant` tag names it).
    """
    trusting = grant.trusting_account
    live = _live_state(grant)
    if (
        live.role is not None
        and not grant.imported_at
        and live.role.tags.get(GRANT_TAG) not in (None, str(grant.pk))
    ):
        raise ValueError(
            f"The role {grant.role_name} belongs to grant #{live.role.tags[GRANT_TAG]}; "
            "re-applying this one would overwrite it."
        )
    role = grant.role_name
    arn = grant.planned_role_arn
    tags = {PORTAL_TAG: "xacct-portal", GRANT_TAG: str(grant.pk)}
    specs: list[StepSpec] = []
    if live.role is None:
        specs.append(
            StepSpec(
                key="role",
                call="iam:CreateRole",
                account=trusting,
                target_arn=arn,
                summary=f"iam:CreateRole {role}",
                params={
                    "name": role,
                    "path": grant.role_path,
                    "trust_policy": policies.render(grant.trust_policy),
                    "description": grant.role_description,
                    "max_session_duration": grant.max_session_duration,
                    "tags": tags,
                },
            )
        )
    else:
        if live.role.trust_policy != grant.trust_policy:
            specs.append(
                StepSpec(
                    key="trust",
                    call="iam:UpdateAssumeRolePolicy",
                    account=trusting,
                    target_arn=arn,
                    summary=f"iam:UpdateAssumeRolePolicy {role}",
                    params={"role_name": role, "document": policies.render(grant.trust_policy)},
                )
            )
        if not grant.imported_at and any(live.role.tags.get(k) != v for k, v in tags.items()):
            specs.append(
                StepSpec(
                    key="tags",
                    call="iam:TagRole",
                    account=trusting,
                    target_arn=arn,
                    summary=f"iam:TagRole {role}",
                    params={"role_name": role, "tags": tags},
                )
            )
    for policy_arn in sorted(set(live.attached) - set(grant.managed_policy_arns)):
        specs.append(
            StepSpec(
                key=f"detach:{policy_arn}",
                call="iam:DetachRolePolicy",
                account=trusting,
                target_arn=arn,
                summary=f"iam:DetachRolePolicy {policy_arn}",
                params={"role_name": role, "policy_arn": policy_arn},
            )
        )
    for policy_arn in grant.managed_policy_arns:
        if policy_arn not in live.attached:
            specs.append(
                StepSpec(
                    key=f"attach:{policy_arn}",
                    call="iam:AttachRolePolicy",
                    account=trusting,
                    target_arn=arn,
                    summary=f"iam:AttachRolePolicy {policy_arn}",
                    params={"role_name": role, "policy_arn": policy_arn},
                )
            )
    for name in sorted(set(live.inline) - {grant.inline_policy_name}):
        specs.append(
            StepSpec(
                key=f"delete-inline:{name}",
                call="iam:DeleteRolePolicy",
                account=trusting,
                target_arn=arn,
                summary=f"iam:DeleteRolePolicy {name}",
                params={"role_name": role, "policy_name": name},
            )
        )
    if grant.inline_policy and live.inline.get(grant.inline_policy_name) != grant.inline_policy:
        specs.append(
            StepSpec(
                key=f"inline:{grant.inline_policy_name}",
                call="iam:PutRolePolicy",
                account=trusting,
                target_arn=arn,
                summary=f"iam:PutRolePolicy {grant.inline_policy_name}",
                params={
                    "role_name": role,
                    "policy_name": grant.inline_policy_name,
                    "document": policies.render(grant.inline_policy),
                },
            )
        )
    if grant.trusted_is_managed and grant.grantee_name and live.grantee_policy != grant.user_policy:
        trusted = grant.trusted_account
        assert trusted is not None
        specs.append(grantee_policy_step(grant, trusted, put=True))
    return specs


def grant_reapply(*, grant: Grant, actor: AbstractBaseUser | None) -> Grant:
    """Make IAM match the record again as an operation (one audited call per
    difference found live when it runs), then check drift; return the grant.

    A failed call stops the operation (nothing is undone: the record is the goal)
    and its error is on the operation. Raises `PermissionDenied` without the grant
    manager role, `OperationRefused` for a role the portal acts through,
    `GrantBusy` when another operation is open, `ValueError` when the grant is
    not live.
    """
    operation_start(grant=grant, kind=OperationKind.REAPPLY, actor=actor)
    grant.refresh_from_db()
    return grant


# What the record says for each field adopt can change, in the job's words.
ADOPT_FIELDS = {
    "trust_policy": "Trust policy",
    "external_id": "External ID",
    "require_mfa": "MFA required",
    "permission_set": "Permissions",
    "managed_policy_arns": "Attached managed policies",
    "inline_policy_name": "Inline policy name",
    "inline_policy": "Inline policy",
    "user_policy": "User policy",
}


@dataclass(frozen=True)
class RecordChange:
    """One recorded field adopt would change: its label and both values as text."""

    field: str
    label: str
    recorded: str
    live: str


def _permission_set_of(grant: Grant, attached: list[str], inline: dict[str, dict]) -> str:
    """The permission set a role with these policies really has (PermissionSet values)."""
    partition = grant.trusting_account.partition
    if not inline and len(attached) == 1:
        for name, value in (
            (policies.SQS_FULL_ACCESS, PermissionSet.SQS_FULL),
            (policies.SQS_READ_ONLY_ACCESS, PermissionSet.SQS_READ_ONLY),
        ):
            if attached[0] == policies.aws_managed_policy_arn(name, partition=partition):
                return value
    if inline and not attached and grant.permission_set == PermissionSet.QUEUES:
        return PermissionSet.QUEUES
    return PermissionSet.CUSTOM


def _adopted_values(grant: Grant, live: LiveState) -> dict[str, Any]:
    if live.role is None:
        raise ValueError("The role does not exist: there is no live state to adopt.")
    keys = policies.condition_keys(live.role.trust_policy)
    values: dict[str, Any] = {
        "trust_policy": live.role.trust_policy,
        # The recorded conditions follow the adopted trust policy.
        "external_id": (keys.get("sts:externalid") or [""])[0],
        "require_mfa": "aws:multifactorauthpresent" in keys,
        "permission_set": _permission_set_of(grant, sorted(live.attached), live.inline),
        "managed_policy_arns": sorted(live.attached),
        "inline_policy_name": "",
        "inline_policy": None,
        "user_policy": grant.user_policy if live.grantee_policy is None else live.grantee_policy,
    }
    if live.inline:
        name = grant.inline_policy_name if grant.inline_policy_name in live.inline else ""
        name = name or sorted(live.inline)[0]
        values["inline_policy_name"], values["inline_policy"] = name, live.inline[name]
    return values


def _as_text(grant: Grant, field_name: str, value: Any) -> str:
    if field_name == "permission_set":
        return str(PermissionSet(value).label)
    if field_name == "require_mfa":
        return "yes" if value else "no"
    if isinstance(value, dict):
        return policies.render(value)
    if isinstance(value, list):
        return "\n".join(value) or "none"
    return str(value) if value not in ("", None) else "none"


def adopt_preview(grant: Grant) -> list[RecordChange]:
    """The recorded fields adopting the live state would change, read from IAM now.

    Returns one RecordChange per differing field (empty: the record already
    matches); raises aws.AwsError when IAM cannot be read, ValueError when the
    role does not exist.
    """
    values = _adopted_values(grant, _live_state(grant))
    return [
        RecordChange(
            field_name,
            label,
            _as_text(grant, field_name, getattr(grant, field_name)),
            _as_text(grant, field_name, values[field_name]),
        )
        for field_name, label in ADOPT_FIELDS.items()
        if getattr(grant, field_name) != values[field_name]
    ]


def adopt_live_state(grant: Grant) -> list[str]:
    """Make the record match IAM: the live documents become the recorded ones, and
    the permission set says what the live role really has.

    Returns the names of the recorded fields that changed; raises aws.AwsError when
    IAM cannot be read, ValueError when the role does not exist.
    """
    values = _adopted_values(grant, _live_state(grant))
    changed = [key for key in ADOPT_FIELDS if getattr(grant, key) != values[key]]
    for key, value in values.items():
        setattr(grant, key, value)
    grant.save(update_fields=[*ADOPT_FIELDS, "updated_at"])
    return changed


def grant_adopt_live(*, grant: Grant, actor: AbstractBaseUser | None) -> Grant:
    """Make the record match IAM as an operation (reads only), then check drift;
    return the grant. Raises as `grant_reapply` does."""
    operation_start(grant=grant, kind=OperationKind.ADOPT, actor=actor)
    grant.refresh_from_db()
    return grant
