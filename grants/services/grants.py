"""Grants: build the documents, plan the calls, provision with rollback."""

from __future__ import annotations

import json
from datetime import datetime

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from .. import policies
from ..models import (
    AuditAction,
    AwsAccount,
    Grant,
    GranteeType,
    GrantStatus,
    OperationKind,
    PermissionSet,
    TrustScope,
)
from .authz import require
from .guardrails import portal_access_refusal
from .operations import (
    GRANT_TAG,
    PORTAL_TAG,
    GrantBusy,
    OperationRefused,
    StepSpec,
    _enqueue,
    _operation_create,
    operation_refusal,
    operation_start,
)

__all__ = ["GRANT_TAG", "PORTAL_TAG", "GrantBusy", "ProvisioningStep"]


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
    principal_org_id: str = "",
    principal_org_paths: list[str] | None = None,
) -> Grant:
    """An unsaved grant with its documents built exactly as they will be sent.

    `principal_org_id` (o-…) and `principal_org_paths` (entity paths) add the organization
    conditions aws:PrincipalOrgID / aws:PrincipalOrgPaths to the trust policy (see
    `policies.trust_policy`); the record keeps them in that document only.
    """
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
            principal_arn=trusted_principal_arn,
            external_id=external_id,
            require_mfa=require_mfa,
            principal_org_id=principal_org_id,
            principal_org_paths=principal_org_paths or (),
        ),
        user_policy=policies.assume_role_policy(role_arn=role_arn),
        expires_at=expires_at,
        created_by=created_by,
    )


def _has_org_condition(document: object) -> bool:
    """Whether a trust policy tests aws:PrincipalOrgID or aws:PrincipalOrgPaths anywhere."""
    text = json.dumps(document).lower()
    return "aws:principalorgid" in text or "aws:principalorgpaths" in text


def grant_warnings(grant: Grant) -> list[str]:
    """What a reviewer should think twice about before creating the grant."""
    warnings: list[str] = []
    if grant.trust_scope == TrustScope.ACCOUNT and not (grant.external_id or grant.require_mfa):
        warnings.append(
            f"The role trusts the whole account {grant.trusted_aws_account_id} with neither an "
            "external ID nor MFA: any principal there whose own policy allows sts:AssumeRole "
            "on it can assume it."
            + (
                " The organization condition does not narrow that: every principal of an "
                "account inside the organization meets it; it only stops the trust once the "
                "account leaves."
                if _has_org_condition(grant.trust_policy)
                else ""
            )
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


# One planned AWS call of a provisioning (grants.services.operations runs it).
ProvisioningStep = StepSpec


def grant_plan(grant: Grant) -> list[StepSpec]:
    """The ordered AWS calls that provision the grant, with the parameters each is sent
    with (documents rendered exactly as reviewed; no credentials)."""
    trusting = grant.trusting_account
    role_arn = grant.planned_role_arn
    steps = [
        StepSpec(
            key="role",
            call="iam:CreateRole",
            account=trusting,
            target_arn=role_arn,
            summary=(
                f"iam:CreateRole {grant.role_path}{grant.role_name} in {trusting} with the trust "
                f"policy, MaxSessionDuration={grant.max_session_duration} and the portal's tags"
            ),
            params={
                "name": grant.role_name,
                "path": grant.role_path,
                "trust_policy": policies.render(grant.trust_policy),
                "description": grant.role_description,
                "max_session_duration": grant.max_session_duration,
                "tags": {PORTAL_TAG: "xacct-portal", GRANT_TAG: str(grant.pk)},
            },
        )
    ]
    for arn in grant.managed_policy_arns:
        steps.append(
            StepSpec(
                key=f"attach:{arn}",
                call="iam:AttachRolePolicy",
                account=trusting,
                target_arn=arn,
                summary=f"iam:AttachRolePolicy {arn} to {grant.role_name}",
                params={"role_name": grant.role_name, "policy_arn": arn},
            )
        )
    if grant.inline_policy:
        steps.append(
            StepSpec(
                key=f"inline:{grant.inline_policy_name}",
                call="iam:PutRolePolicy",
                account=trusting,
                target_arn=role_arn,
                summary=f"iam:PutRolePolicy {grant.inline_policy_name} on {grant.role_name}",
                params={
                    "role_name": grant.role_name,
                    "policy_name": grant.inline_policy_name,
                    "document": policies.render(grant.inline_policy),
                },
            )
        )
    if grant.trusted_is_managed:
        trusted = grant.trusted_account
        assert trusted is not None
        steps.append(grantee_policy_step(grant, trusted, put=True))
    return steps


def grantee_policy_step(grant: Grant, trusted: AwsAccount, *, put: bool) -> StepSpec:
    """The call that puts (or deletes) the grantee's policy in the trusted account."""
    user = grant.grantee_type == GranteeType.USER
    action = GRANTEE_POLICY_ACTIONS[grant.grantee_type][0 if put else 1]
    call = AuditAction(action).label
    params: dict[str, str] = {"policy_name": grant.user_policy_name}
    params["user_name" if user else "role_name"] = grant.grantee_name
    if put:
        params["document"] = policies.render(grant.user_policy)
    target = (
        f"arn:{trusted.partition}:iam::{trusted.account_id}:"
        f"{grant.grantee_type}/{grant.grantee_name}"
    )
    if put:
        summary = (
            f"{call} {grant.user_policy_name} on {grant.grantee_type} "
            f"{grant.grantee_name} in {trusted}: sts:AssumeRole on {grant.planned_role_arn}"
        )
    else:
        summary = (
            f"{call} {grant.user_policy_name} from {grant.grantee_type} "
            f"{grant.grantee_name} in {trusted}"
        )
    return StepSpec(
        key="grantee-policy",
        call=call,
        account=trusted,
        target_arn=target,
        summary=summary,
        params=params,
    )


# The audited (put, delete) actions of the grantee's policy, by kind of grantee.
GRANTEE_POLICY_ACTIONS = {
    GranteeType.USER: (AuditAction.USER_POLICY_PUT, AuditAction.USER_POLICY_DELETE),
    GranteeType.ROLE: (AuditAction.ROLE_POLICY_PUT, AuditAction.ROLE_POLICY_DELETE),
}


def grant_provision(*, grant: Grant, actor: AbstractBaseUser | None) -> Grant:
    """Provision a grant as an operation (grants.services.operations); return the grant.

    An unsaved `grant` (the wizard's reviewed draft) is saved as provisioning
    together with its operation, once per wizard run (`request_token`): a second
    submit of the same run returns the grant the first one saved (compare its pk
    with the draft's to tell). A saved failed or partial grant is provisioned again
    (retry): every call is made again, and a role this grant created earlier
    (tagged `xacct:grant`) is adopted. If a call fails, the calls made are undone
    in reverse: the grant ends failed (nothing left in AWS) or partial (an undo
    could not be proven).

    Raises `PermissionDenied` without the grant manager role, `ValidationError`
    for an invalid draft or a role name the portal already manages,
    `OperationRefused` for a role the portal acts through, `GrantBusy` when the
    grant is being changed or not in a state to provision. With the immediate
    task backend the operation has run when this returns; with the database
    backend it waits for a `db_worker`.
    """
    require(actor, "manage_grant")
    if grant.pk is not None:
        operation_start(grant=grant, kind=OperationKind.PROVISION, actor=actor)
        grant.refresh_from_db()
        return grant
    existing = (
        Grant.objects.filter(request_token=grant.request_token).first()
        if grant.request_token
        else None
    )
    if existing is not None:
        return existing
    if operation_refusal(grant=grant, kind=OperationKind.PROVISION, actor=actor):
        raise OperationRefused(
            portal_access_refusal(
                account_id=grant.trusting_account.account_id,
                role_name=grant.role_name,
                doing="create",
            )
        )
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
            # The plan's tags carry the grant's id: plan once it is saved.
            op = _operation_create(grant, OperationKind.PROVISION, actor, {}, grant_plan(grant))
    except IntegrityError:
        # A concurrent submit of the same wizard run won the race, or another
        # run took the role name meanwhile.
        grant.pk = None
        existing = Grant.objects.filter(request_token=grant.request_token).first()
        if existing is None:
            raise ValidationError(
                "The portal already manages a role of this name in the trusting account."
            ) from None
        return existing
    _enqueue(op)
    grant.refresh_from_db()
    return grant
