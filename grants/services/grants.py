"""Grants: build the documents, plan the calls, provision with rollback."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from .. import aws, policies
from ..models import (
    AuditAction,
    AuditOutcome,
    AwsAccount,
    Grant,
    GranteeType,
    GrantStatus,
    PermissionSet,
    TrustScope,
)
from .audit import audit_record
from .authz import require

# --- grants ----------------------------------------------------------------------

PORTAL_TAG = "xacct:managed-by"
GRANT_TAG = "xacct:grant"


def grant_draft(
    *,
    trusting_account: AwsAccount,
    role_name: str,
    role_path: str,
    role_description: str,
    trusted_account: AwsAccount | None,
    trusted_aws_account_id: str,
    trust_scope: str,
    trusted_principal_arn: str,
    external_id: str,
    require_mfa: bool,
    permission_set: str,
    region: str,
    max_session_duration: int,
    grantee_type: str,
    grantee_name: str,
    user_policy_name: str,
    grantee_profile: str = "",
    queue_names: list[str] | None = None,
    queue_actions: list[str] | None = None,
    allow_list_queues: bool = True,
    custom_policy_arns: list[str] | None = None,
    expires_at: datetime | None = None,
    created_by: AbstractBaseUser | None = None,
) -> Grant:
    """An unsaved grant with its documents built exactly as they will be sent."""
    partition = trusting_account.partition
    if trust_scope == TrustScope.ACCOUNT:
        trusted_principal_arn = policies.account_root_arn(
            trusted_aws_account_id, partition=partition
        )
    role_arn = policies.role_arn(
        trusting_account.account_id, role_path, role_name, partition=partition
    )
    managed: list[str] = []
    inline: dict | None = None
    inline_name = ""
    if permission_set == PermissionSet.SQS_FULL:
        managed = [policies.aws_managed_policy_arn(policies.SQS_FULL_ACCESS, partition=partition)]
    elif permission_set == PermissionSet.SQS_READ_ONLY:
        managed = [
            policies.aws_managed_policy_arn(policies.SQS_READ_ONLY_ACCESS, partition=partition)
        ]
    elif permission_set == PermissionSet.CUSTOM:
        managed = list(custom_policy_arns or [])
    else:
        inline_name = "xacct-queue-access"
        inline = policies.queue_access_policy(
            queue_arns=[
                policies.queue_arn(region, trusting_account.account_id, name, partition=partition)
                for name in queue_names or []
            ],
            actions=list(queue_actions or []),
            allow_list_queues=allow_list_queues,
        )
    return Grant(
        trusting_account=trusting_account,
        role_name=role_name,
        role_path=role_path,
        role_description=role_description,
        max_session_duration=max_session_duration,
        region=region,
        trusted_account=trusted_account,
        trusted_aws_account_id=trusted_aws_account_id,
        trust_scope=trust_scope,
        trusted_principal_arn=trusted_principal_arn,
        external_id=external_id,
        require_mfa=require_mfa,
        permission_set=permission_set,
        managed_policy_arns=managed,
        inline_policy_name=inline_name,
        inline_policy=inline,
        grantee_type=grantee_type,
        grantee_name=grantee_name,
        user_policy_name=user_policy_name,
        grantee_profile=grantee_profile,
        trust_policy=policies.trust_policy(
            principal_arn=trusted_principal_arn, external_id=external_id, require_mfa=require_mfa
        ),
        user_policy=policies.assume_role_policy(role_arn=role_arn),
        expires_at=expires_at,
        created_by=created_by,
    )


def grant_warnings(grant: Grant) -> list[str]:
    """What a reviewer should think twice about before creating the grant."""
    warnings: list[str] = []
    if grant.trust_scope == TrustScope.ACCOUNT and not (grant.external_id or grant.require_mfa):
        warnings.append(
            f"The role trusts the whole account {grant.trusted_aws_account_id} with neither an "
            "external ID nor MFA: any principal there whose own policy allows sts:AssumeRole "
            "on it can assume it."
        )
    if len(grant.role_path) - 1 + len(grant.role_name) > 64:
        warnings.append(
            "Path and role name exceed 64 characters: the console's switch-role link will not work."
        )
    if grant.external_id:
        warnings.append(
            "The role requires an external ID: the console's switch-role link cannot pass one, "
            "so the grantee must use the CLI or an SDK."
        )
    if grant.permission_set == PermissionSet.QUEUES and not _allows_list_queues(grant):
        warnings.append(
            "The role cannot call sqs:ListQueues, so Test access will not be able to list queues."
        )
    if not grant.trusted_is_managed:
        warnings.append(
            f"Account {grant.trusted_aws_account_id} is not managed by the portal: nothing is "
            "written there. Hand the user policy below to its administrator."
        )
    return warnings


def _allows_list_queues(grant: Grant) -> bool:
    statements = (grant.inline_policy or {}).get("Statement", [])
    return any(s.get("Action") == "sqs:ListQueues" for s in statements)


def grant_size_errors(grant: Grant) -> list[str]:
    """IAM quotas the documents would break (AWS's default quotas)."""
    errors: list[str] = []
    checks = [
        ("Trust policy", grant.trust_policy, policies.TRUST_POLICY_MAX),
        ("User policy", grant.user_policy, policies.USER_INLINE_POLICIES_MAX),
    ]
    if grant.inline_policy:
        checks.append(
            ("Role inline policy", grant.inline_policy, policies.ROLE_INLINE_POLICIES_MAX)
        )
    for label, document, limit in checks:
        size = policies.size(document)
        if size > limit:
            errors.append(f"{label} is {size} characters; IAM allows {limit}.")
        if not policies.has_valid_characters(document):
            errors.append(f"{label} holds characters IAM does not accept in policy documents.")
    if len(grant.managed_policy_arns) > policies.MANAGED_POLICIES_PER_ROLE_MAX:
        errors.append(
            f"{len(grant.managed_policy_arns)} managed policies; a role takes at most "
            f"{policies.MANAGED_POLICIES_PER_ROLE_MAX}."
        )
    return errors


@dataclass(frozen=True)
class ProvisioningStep:
    """One AWS call of a grant's provisioning, and the call that undoes it."""

    key: str
    action: str
    undo_action: str
    account: AwsAccount
    target_arn: str
    summary: str
    run: Callable[[], str] = field(repr=False)
    undo: Callable[[], str] = field(repr=False)


def grant_plan(grant: Grant) -> list[ProvisioningStep]:
    """The ordered AWS calls that provision the grant."""
    trusting = grant.trusting_account
    access = trusting.access()
    role_arn = grant.planned_role_arn

    def create_role() -> str:
        return _role_create_or_adopt(grant)

    steps = [
        ProvisioningStep(
            key="role",
            action=AuditAction.ROLE_CREATE,
            undo_action=AuditAction.ROLE_DELETE,
            account=trusting,
            target_arn=role_arn,
            summary=(
                f"iam:CreateRole {grant.role_path}{grant.role_name} in {trusting} with the trust "
                f"policy, MaxSessionDuration={grant.max_session_duration} and the portal's tags"
            ),
            run=create_role,
            undo=lambda: aws.role_delete(access, name=grant.role_name),
        )
    ]
    for arn in grant.managed_policy_arns:
        steps.append(
            ProvisioningStep(
                key=f"attach:{arn}",
                action=AuditAction.ROLE_POLICY_ATTACH,
                undo_action=AuditAction.ROLE_POLICY_DETACH,
                account=trusting,
                target_arn=arn,
                summary=f"iam:AttachRolePolicy {arn} to {grant.role_name}",
                run=partial(
                    aws.role_policy_attach, access, role_name=grant.role_name, policy_arn=arn
                ),
                undo=partial(
                    aws.role_policy_detach, access, role_name=grant.role_name, policy_arn=arn
                ),
            )
        )
    if grant.inline_policy:
        steps.append(
            ProvisioningStep(
                key=f"inline:{grant.inline_policy_name}",
                action=AuditAction.ROLE_POLICY_PUT,
                undo_action=AuditAction.ROLE_POLICY_DELETE,
                account=trusting,
                target_arn=role_arn,
                summary=f"iam:PutRolePolicy {grant.inline_policy_name} on {grant.role_name}",
                run=partial(
                    aws.role_policy_put,
                    access,
                    role_name=grant.role_name,
                    policy_name=grant.inline_policy_name,
                    document=policies.render(grant.inline_policy),
                ),
                undo=partial(
                    aws.role_policy_delete,
                    access,
                    role_name=grant.role_name,
                    policy_name=grant.inline_policy_name,
                ),
            )
        )
    if grant.trusted_is_managed:
        trusted = grant.trusted_account
        assert trusted is not None
        trusted_access = trusted.access()
        grantee = {
            "grantee_type": grant.grantee_type,
            "grantee_name": grant.grantee_name,
            "policy_name": grant.user_policy_name,
        }
        run = partial(
            aws.grantee_policy_put,
            trusted_access,
            document=policies.render(grant.user_policy),
            **grantee,
        )
        undo = partial(aws.grantee_policy_delete, trusted_access, **grantee)
        action, undo_action = GRANTEE_POLICY_ACTIONS[grant.grantee_type]
        verb = AuditAction(action).label
        steps.append(
            ProvisioningStep(
                key="grantee-policy",
                action=action,
                undo_action=undo_action,
                account=trusted,
                target_arn=(
                    f"arn:{trusted.partition}:iam::{trusted.account_id}:"
                    f"{grant.grantee_type}/{grant.grantee_name}"
                ),
                summary=(
                    f"{verb} {grant.user_policy_name} on {grant.grantee_type} "
                    f"{grant.grantee_name} in {trusted}: sts:AssumeRole on {role_arn}"
                ),
                run=run,
                undo=undo,
            )
        )
    return steps


def _role_create_or_adopt(grant: Grant) -> str:
    """Create the role, or adopt one this grant created in an earlier, interrupted run."""
    access = grant.trusting_account.access()
    try:
        arn, request_id = aws.role_create(
            access,
            name=grant.role_name,
            path=grant.role_path,
            trust_policy=policies.render(grant.trust_policy),
            description=grant.role_description,
            max_session_duration=grant.max_session_duration,
            tags={PORTAL_TAG: "xacct-portal", GRANT_TAG: str(grant.pk)},
        )
    except aws.AwsError as exc:
        if exc.code != "EntityAlreadyExists":
            raise
        existing = aws.role_get(access, grant.role_name)
        if existing is None or existing.tags.get(GRANT_TAG) != str(grant.pk):
            raise
        arn, request_id = existing.arn, exc.detail.request_id
    grant.role_arn = arn
    return request_id


# The audited (put, delete) actions of the grantee's policy, by kind of grantee.
GRANTEE_POLICY_ACTIONS = {
    GranteeType.USER: (AuditAction.USER_POLICY_PUT, AuditAction.USER_POLICY_DELETE),
    GranteeType.ROLE: (AuditAction.ROLE_POLICY_PUT, AuditAction.ROLE_POLICY_DELETE),
}


class GrantBusy(Exception):
    """Another request is provisioning or changing this grant right now."""


def grant_provision(*, grant: Grant, actor: AbstractBaseUser | None) -> Grant:
    """Save the reviewed grant (once per wizard run) and make its AWS calls in order.

    If a call fails, the calls before it are undone in reverse; the grant ends
    failed (nothing left in AWS) or partial (an undo failed too), with every
    call in the audit log. A failed or partial grant can be provisioned again.
    """
    require(actor, "manage_grant")
    if grant.pk is None:
        existing = (
            Grant.objects.filter(request_token=grant.request_token).first()
            if grant.request_token
            else None
        )
        if existing is not None:
            return existing
        grant.status = GrantStatus.PROVISIONING
        try:
            grant.full_clean()
        except ValidationError:
            # The same wizard run, submitted concurrently, may have saved the
            # grant (and so taken its role name) since the look-up above.
            existing = Grant.objects.filter(request_token=grant.request_token).first()
            if grant.request_token and existing is not None:
                return existing
            raise
        try:
            with transaction.atomic():
                grant.save()
        except IntegrityError:
            # A concurrent submit of the same wizard run won the race, or another
            # run took the role name meanwhile.
            existing = Grant.objects.filter(request_token=grant.request_token).first()
            if existing is None:
                raise ValidationError(
                    "The portal already manages a role of this name in the trusting account."
                ) from None
            return existing
    else:
        try:
            with transaction.atomic():
                claimed = Grant.objects.filter(
                    pk=grant.pk,
                    status__in=[GrantStatus.FAILED, GrantStatus.PARTIAL, GrantStatus.DRAFT],
                    revoke_requested_at__isnull=True,
                ).update(status=GrantStatus.PROVISIONING)
        except IntegrityError:
            raise GrantBusy(
                f"Another grant now uses the role name {grant.role_name} in "
                f"{grant.trusting_account}; revoke one of them first."
            ) from None
        if not claimed:
            raise GrantBusy(f"{grant} is {grant.get_status_display().lower()}; nothing to do.")
        grant.status = GrantStatus.PROVISIONING

    applied: list[str] = list(grant.applied_steps)
    steps = grant_plan(grant)
    failure: aws.AwsErrorDetail | None = None
    try:
        for step in steps:
            if step.key in applied and step.key != "role":
                continue
            try:
                request_id = step.run()
            except aws.AwsError as exc:
                failure = exc.detail
                _audit_step(grant, step, step.action, actor, error=exc.detail)
                break
            if step.key not in applied:
                applied.append(step.key)
            _save_progress(grant, applied)
            _audit_step(grant, step, step.action, actor, request_id=request_id)
    except Exception:
        # Never leave a grant stuck in "provisioning": what was applied stays
        # recorded, and the grant can be retried or revoked.
        Grant.objects.filter(pk=grant.pk).update(
            status=GrantStatus.PARTIAL, applied_steps=applied, role_arn=grant.role_arn
        )
        raise

    if failure is None:
        grant.status = GrantStatus.ACTIVE
        grant.last_error = None
        grant.role_arn = grant.role_arn or grant.planned_role_arn
        grant.save(
            update_fields=["status", "last_error", "role_arn", "applied_steps", "updated_at"]
        )
        audit_record(
            actor=actor,
            action=AuditAction.GRANT_PROVISION,
            account=grant.trusting_account,
            grant=grant,
            target_arn=grant.role_arn,
            message=f"Provisioned {grant}.",
        )
        return grant

    undo_failures = _undo(grant, [s for s in reversed(steps) if s.key in applied], applied, actor)
    grant.status = GrantStatus.PARTIAL if undo_failures else GrantStatus.FAILED
    grant.last_error = failure.as_dict()
    if not applied:
        grant.role_arn = ""
    grant.save(update_fields=["status", "last_error", "role_arn", "applied_steps", "updated_at"])
    audit_record(
        actor=actor,
        action=AuditAction.GRANT_PROVISION,
        outcome=AuditOutcome.FAILURE,
        account=grant.trusting_account,
        grant=grant,
        target_arn=grant.planned_role_arn,
        error=failure,
    )
    return grant


def _undo(
    grant: Grant,
    steps: list[ProvisioningStep],
    applied: list[str],
    actor: AbstractBaseUser | None,
) -> list[aws.AwsErrorDetail]:
    failures: list[aws.AwsErrorDetail] = []
    for step in steps:
        try:
            request_id = step.undo()
        except aws.AwsError as exc:
            if exc.code == "NoSuchEntity":
                applied.remove(step.key)
                _save_progress(grant, applied)
                continue
            failures.append(exc.detail)
            _audit_step(grant, step, step.undo_action, actor, error=exc.detail)
            continue
        applied.remove(step.key)
        _save_progress(grant, applied)
        _audit_step(grant, step, step.undo_action, actor, request_id=request_id)
    return failures


def _save_progress(grant: Grant, applied: list[str]) -> None:
    grant.applied_steps = list(applied)
    grant.save(update_fields=["applied_steps", "role_arn", "updated_at"])


def _audit_step(
    grant: Grant,
    step: ProvisioningStep,
    action: str,
    actor: AbstractBaseUser | None,
    *,
    request_id: str = "",
    error: aws.AwsErrorDetail | None = None,
) -> None:
    audit_record(
        actor=actor,
        action=action,
        outcome=AuditOutcome.FAILURE if error else AuditOutcome.SUCCESS,
        account=step.account,
        grant=grant,
        target_arn=step.target_arn,
        error=error,
        request_id=request_id,
        message="" if error else step.summary,
    )
