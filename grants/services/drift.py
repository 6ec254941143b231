"""Drift: live IAM state against the record; re-apply the record or adopt what is live."""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.utils import timezone

from .. import aws, policies
from ..models import AuditAction, AuditOutcome, Grant, GrantStatus
from .audit import audit_record
from .authz import require
from .grants import GRANT_TAG, GRANTEE_POLICY_ACTIONS, PORTAL_TAG


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


def _require_live(grant: Grant) -> None:
    if grant.status not in LIVE or grant.revoke_requested_at is not None:
        raise ValueError(
            f"A {grant.get_status_display().lower()} grant has no live state to reconcile."
        )


def grant_reapply(*, grant: Grant, actor: AbstractBaseUser | None) -> Grant:
    """Make IAM match the record again, one audited call per difference."""
    require(actor, "manage_grant")
    _require_live(grant)
    trusting = grant.trusting_account
    access = trusting.access()
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
    calls: list[tuple[str, Any, str, Any]] = []  # action, account, summary, call
    if live.role is None:
        calls.append(
            (
                AuditAction.ROLE_CREATE,
                trusting,
                f"iam:CreateRole {role}",
                lambda: aws.role_create(
                    access,
                    name=role,
                    path=grant.role_path,
                    trust_policy=policies.render(grant.trust_policy),
                    description=grant.role_description,
                    max_session_duration=grant.max_session_duration,
                    tags={PORTAL_TAG: "xacct-portal", GRANT_TAG: str(grant.pk)},
                )[1],
            )
        )
    else:
        if live.role.trust_policy != grant.trust_policy:
            calls.append(
                (
                    AuditAction.ROLE_TRUST_UPDATE,
                    trusting,
                    f"iam:UpdateAssumeRolePolicy {role}",
                    lambda: aws.role_trust_update(
                        access, role_name=role, document=policies.render(grant.trust_policy)
                    ),
                )
            )
        if not grant.imported_at:
            calls.append(
                (
                    AuditAction.ROLE_TAG,
                    trusting,
                    f"iam:TagRole {role}",
                    lambda: aws.role_tag(
                        access,
                        role_name=role,
                        tags={PORTAL_TAG: "xacct-portal", GRANT_TAG: str(grant.pk)},
                    ),
                )
            )
    for arn in sorted(set(live.attached) - set(grant.managed_policy_arns)):
        calls.append(
            (
                AuditAction.ROLE_POLICY_DETACH,
                trusting,
                f"iam:DetachRolePolicy {arn}",
                lambda arn=arn: aws.role_policy_detach(access, role_name=role, policy_arn=arn),
            )
        )
    for arn in grant.managed_policy_arns:
        if arn not in live.attached:
            calls.append(
                (
                    AuditAction.ROLE_POLICY_ATTACH,
                    trusting,
                    f"iam:AttachRolePolicy {arn}",
                    lambda arn=arn: aws.role_policy_attach(access, role_name=role, policy_arn=arn),
                )
            )
    for name in sorted(set(live.inline) - {grant.inline_policy_name}):
        calls.append(
            (
                AuditAction.ROLE_POLICY_DELETE,
                trusting,
                f"iam:DeleteRolePolicy {name}",
                lambda name=name: aws.role_policy_delete(access, role_name=role, policy_name=name),
            )
        )
    if grant.inline_policy and live.inline.get(grant.inline_policy_name) != grant.inline_policy:
        calls.append(
            (
                AuditAction.ROLE_POLICY_PUT,
                trusting,
                f"iam:PutRolePolicy {grant.inline_policy_name}",
                lambda: aws.role_policy_put(
                    access,
                    role_name=role,
                    policy_name=grant.inline_policy_name,
                    document=policies.render(grant.inline_policy),
                ),
            )
        )
    if grant.trusted_is_managed and grant.grantee_name and live.grantee_policy != grant.user_policy:
        trusted = grant.trusted_account
        assert trusted is not None
        put = partial(
            aws.grantee_policy_put,
            trusted.access(),
            grantee_type=grant.grantee_type,
            grantee_name=grant.grantee_name,
            policy_name=grant.user_policy_name,
            document=policies.render(grant.user_policy),
        )
        action = GRANTEE_POLICY_ACTIONS[grant.grantee_type][0]
        calls.append((action, trusted, f"put {grant.user_policy_name}", put))

    failure: aws.AwsErrorDetail | None = None
    for action, account, summary, run in calls:
        try:
            request_id = run()
        except aws.AwsError as exc:
            failure = exc.detail
            audit_record(
                actor=actor,
                action=action,
                outcome=AuditOutcome.FAILURE,
                account=account,
                grant=grant,
                target_arn=grant.planned_role_arn,
                error=exc.detail,
            )
            break
        audit_record(
            actor=actor,
            action=action,
            account=account,
            grant=grant,
            target_arn=grant.planned_role_arn,
            request_id=request_id,
            message=summary,
        )
    audit_record(
        actor=actor,
        action=AuditAction.GRANT_REAPPLY,
        outcome=AuditOutcome.FAILURE if failure else AuditOutcome.SUCCESS,
        account=trusting,
        grant=grant,
        target_arn=grant.planned_role_arn,
        error=failure,
        message="" if failure else f"{len(calls)} call(s).",
    )
    if failure is not None:
        raise aws.AwsError(failure)
    return grant_drift_check(grant=grant, actor=actor)


def grant_adopt_live(*, grant: Grant, actor: AbstractBaseUser | None) -> Grant:
    """Make the record match IAM: the live documents become the recorded ones."""
    require(actor, "manage_grant")
    _require_live(grant)
    live = _live_state(grant)
    if live.role is None:
        raise ValueError("The role does not exist: there is no live state to adopt.")
    before = {
        "trust_policy": grant.trust_policy,
        "managed_policy_arns": grant.managed_policy_arns,
        "inline_policy": grant.inline_policy,
        "user_policy": grant.user_policy,
    }
    grant.trust_policy = live.role.trust_policy
    # The recorded conditions follow the adopted trust policy.
    keys = policies.condition_keys(live.role.trust_policy)
    grant.external_id = (keys.get("sts:externalid") or [""])[0]
    grant.require_mfa = "aws:multifactorauthpresent" in keys
    grant.managed_policy_arns = sorted(live.attached)
    if live.inline:
        name = grant.inline_policy_name if grant.inline_policy_name in live.inline else ""
        name = name or sorted(live.inline)[0]
        grant.inline_policy_name, grant.inline_policy = name, live.inline[name]
    else:
        grant.inline_policy_name, grant.inline_policy = "", None
    if live.grantee_policy is not None:
        grant.user_policy = live.grantee_policy
    grant.save(
        update_fields=[
            "trust_policy",
            "external_id",
            "require_mfa",
            "managed_policy_arns",
            "inline_policy_name",
            "inline_policy",
            "user_policy",
            "updated_at",
        ]
    )
    changed = [key for key, value in before.items() if getattr(grant, key) != value]
    audit_record(
        actor=actor,
        action=AuditAction.GRANT_ADOPT,
        account=grant.trusting_account,
        grant=grant,
        target_arn=grant.planned_role_arn,
        message="Adopted live " + (", ".join(changed) if changed else "state (no change)") + ".",
    )
    return grant_drift_check(grant=grant, actor=actor)
