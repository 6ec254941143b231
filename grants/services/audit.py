"""The append-only audit log."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser

from .. import aws
from ..models import (
    AuditEvent,
    AuditOutcome,
    AwsAccount,
    Grant,
)


def audit_record(
    *,
    actor: AbstractBaseUser | None,
    action: str,
    outcome: str = AuditOutcome.SUCCESS,
    account: AwsAccount | None = None,
    grant: Grant | None = None,
    target_arn: str = "",
    error: aws.AwsErrorDetail | None = None,
    message: str = "",
    request_id: str = "",
) -> AuditEvent:
    """Append one audit event."""
    return AuditEvent.objects.create(
        grant=grant,
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_name=actor.get_username() if actor is not None else "system",
        action=action,
        outcome=outcome,
        account=account,
        target_arn=target_arn,
        request_id=(error.request_id if error else request_id)[:128],
        error_code=(error.code or error.client_error)[:128] if error else "",
        message=error.message if error else message,
    )
