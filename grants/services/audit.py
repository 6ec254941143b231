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
    service: str = "",
    operation: str = "",
) -> AuditEvent:
    """Append one audit event and return it.

    `error` (the gateway's AwsErrorDetail of a failed call) fills service,
    operation, error code (the AWS code, or the client-side error class),
    HTTP status and request ID, so the row can be matched to the call in
    CloudTrail (its `requestID` field). Without `error`, `request_id`,
    `service` and `operation` name the call a success made, when there is one
    (an action named after its call, such as "iam.CreateRole", names it).
    The message is the error's message when `error` is given, else `message`.
    """
    if error is None and not (service or operation):
        # Actions named after the AWS call they record ("iam.CreateRole") name it.
        prefix, _, name = action.partition(".")
        if name[:1].isupper():
            service, operation = prefix, name
    return AuditEvent.objects.create(
        grant=grant,
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_name=actor.get_username() if actor is not None else "system",
        action=action,
        outcome=outcome,
        account=account,
        target_arn=target_arn,
        service=(error.service if error else service)[:64],
        operation=(error.operation if error else operation)[:128],
        http_status=error.http_status if error else None,
        request_id=(error.request_id if error else request_id)[:128],
        error_code=(error.code or error.client_error)[:128] if error else "",
        message=error.message if error else message,
    )
