"""Account registry: register, edit, check the connection."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .. import aws
from ..aws import sandbox
from ..models import (
    AccessMethod,
    AuditAction,
    AuditOutcome,
    AwsAccount,
    Grant,
    GrantStatus,
)
from .audit import audit_record
from .authz import require

ACCOUNT_FIELDS = (
    "account_id",
    "name",
    "owner_email",
    "default_region",
    "partition",
    "access_method",
    "profile_name",
    "hub_role_name",
    "hub_external_id",
)


@transaction.atomic
def account_create(*, actor: AbstractBaseUser | None, **fields: Any) -> AwsAccount:
    """Register an AWS account."""
    require(actor, "manage_account")
    account = AwsAccount(**{name: fields[name] for name in ACCOUNT_FIELDS if name in fields})
    account.full_clean()
    account.save()
    audit_record(
        actor=actor,
        action=AuditAction.ACCOUNT_CREATE,
        account=account,
        message=f"Registered {account} ({account.get_access_method_display()}).",
    )
    return account


def account_has_live_grants(account: AwsAccount) -> bool:
    """Whether a grant still depends on the account's ID (either side)."""
    return (
        Grant.objects.filter(Q(trusting_account=account) | Q(trusted_account=account))
        .exclude(status__in=[GrantStatus.REVOKED, GrantStatus.EXPIRED, GrantStatus.FAILED])
        .exists()
    )


@transaction.atomic
def account_update(
    *, account: AwsAccount, actor: AbstractBaseUser | None, **fields: Any
) -> AwsAccount:
    """Change an account's record; a changed access method invalidates the last check."""
    require(actor, "manage_account")
    changed = [
        name for name in ACCOUNT_FIELDS if name in fields and getattr(account, name) != fields[name]
    ]
    if {"account_id", "partition"} & set(changed) and account_has_live_grants(account):
        raise ValidationError(
            {
                name: "Grants in this account are live: revoke them before changing it."
                for name in {"account_id", "partition"} & set(changed)
            }
        )
    for name in changed:
        setattr(account, name, fields[name])
    if not changed:
        return account
    account.last_checked_at = None
    account.last_check_ok = None
    account.last_check_arn = ""
    account.last_check_error = None
    account.full_clean()
    account.save()
    audit_record(
        actor=actor,
        action=AuditAction.ACCOUNT_UPDATE,
        account=account,
        message="Changed " + ", ".join(changed) + ".",
    )
    return account


def account_check(*, account: AwsAccount, actor: AbstractBaseUser | None) -> AwsAccount:
    """Call sts:GetCallerIdentity the way the portal acts in the account; save the outcome.

    Returns the account with last_check_* set: ok and the ARN, or the AWS error
    detail; an answer from another account than the recorded one fails the check
    with a detail that says AWS answered (HTTP 200, no error code). Raises
    PermissionDenied when the actor may not manage accounts.
    """
    require(actor, "manage_account")
    identity: aws.CallerIdentity | None = None
    error: aws.AwsErrorDetail | None = None
    try:
        identity = aws.caller_identity(account.access())
    except aws.AwsError as exc:
        error = exc.detail
    if identity is not None and identity.account_id != account.account_id:
        # AWS answered (HTTP 200): no AWS error code and no client-side error, only
        # an answer naming another account. The page must not say the call failed.
        error = aws.AwsErrorDetail(
            service="sts",
            operation="GetCallerIdentity",
            message=(
                f"AWS answered GetCallerIdentity with {identity.arn}: these credentials act "
                f"in account {identity.account_id}, not in {account.account_id}, the account "
                "recorded here. Fix the profile, hub role or account ID."
            ),
            http_status=200,
        )
    with transaction.atomic():
        account.last_checked_at = timezone.now()
        account.last_check_ok = error is None
        account.last_check_arn = identity.arn if identity is not None else ""
        account.last_check_error = error.as_dict() if error else None
        account.save(
            update_fields=[
                "last_checked_at",
                "last_check_ok",
                "last_check_arn",
                "last_check_error",
                "updated_at",
            ]
        )
        audit_record(
            actor=actor,
            action=AuditAction.ACCOUNT_CHECK,
            outcome=AuditOutcome.SUCCESS if error is None else AuditOutcome.FAILURE,
            account=account,
            target_arn=identity.arn if identity is not None else "",
            error=error,
            message=f"Acting as {identity.arn}." if error is None and identity else "",
        )
    return account


def sandbox_accounts_register(world: sandbox.SandboxWorld) -> dict[str, AwsAccount]:
    """Register the sandbox's example accounts, reached through their hub roles; by name."""
    return {
        account.name: account_create(
            actor=None,
            account_id=account.account_id,
            name=account.name,
            owner_email=account.owner_email,
            default_region=sandbox.REGION,
            access_method=AccessMethod.HUB_ROLE,
            hub_role_name=sandbox.HUB_ROLE_NAME,
        )
        for account in world.accounts
    }
