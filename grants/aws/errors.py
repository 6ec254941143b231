"""The one error type the gateway raises, built from any botocore failure."""

from __future__ import annotations

import html
import re
from dataclasses import asdict, dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

_XML_CODE = re.compile(r"<Code>([^<]*)</Code>")
_XML_MESSAGE = re.compile(r"<Message>([^<]*)</Message>")
_XML_TYPE = re.compile(r"<Type>([^<]*)</Type>")


@dataclass(frozen=True)
class AwsErrorDetail:
    """Everything known about one failed AWS call, safe to store and render."""

    service: str
    operation: str
    message: str
    code: str = ""
    error_type: str = ""
    http_status: int | None = None
    request_id: str = ""
    # The botocore exception class for failures that never reached AWS
    # (no network, timeout, missing credentials, invalid parameters).
    client_error: str = ""

    @property
    def is_client_side(self) -> bool:
        return bool(self.client_error)

    @property
    def hint(self) -> str:
        return error_hint(self)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AwsErrorDetail:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


class AwsError(Exception):
    """An AWS call failed; `detail` says how."""

    def __init__(self, detail: AwsErrorDetail) -> None:
        super().__init__(f"{detail.service}:{detail.operation} failed: {detail.message}")
        self.detail = detail

    @property
    def code(self) -> str:
        return self.detail.code


def error_hint(detail: AwsErrorDetail) -> str:
    """A plain explanation, with the fix, of an AWS error whose message alone misleads;
    "" for every other error.

    MalformedPolicyDocument "Invalid principal in policy": IAM resolves each user
    or role ARN of a trust policy when the policy is saved and refuses ones that
    do not exist (IAM User Guide, "AWS JSON policy elements: Principal").
    """
    if detail.code == "MalformedPolicyDocument" and "invalid principal" in detail.message.lower():
        return (
            "The trust policy names an IAM user or role that does not exist (IAM checks every "
            "principal ARN when the policy is saved). Check the ARN's account, path and name, "
            "or create the principal first; trusting the whole account (…:root) needs no "
            "existing principal."
        )
    return ""


def error_from_exception(exc: Exception, *, service: str, operation: str) -> AwsError:
    """Translate a botocore exception (or a plain network error) into AwsError."""
    if isinstance(exc, ClientError):
        return AwsError(_detail_from_client_error(exc, service=service, operation=operation))
    kind = type(exc).__name__ if isinstance(exc, BotoCoreError | OSError) else "ClientError"
    return AwsError(
        AwsErrorDetail(
            service=service,
            operation=operation,
            message=str(exc) or kind,
            client_error=kind,
        )
    )


def _detail_from_client_error(exc: ClientError, *, service: str, operation: str) -> AwsErrorDetail:
    response: dict[str, Any] = exc.response or {}
    error = response.get("Error", {})
    metadata = response.get("ResponseMetadata", {})
    headers = {k.lower(): v for k, v in (metadata.get("HTTPHeaders") or {}).items()}
    code = str(error.get("Code", ""))
    message = str(error.get("Message", ""))
    error_type = str(error.get("Type", ""))
    # moto's SQS denial under access control arrives as Code "403" with the
    # real error serialised as XML inside Message.
    if code.isdigit() and message.lstrip().startswith("<"):
        inner_code = _XML_CODE.search(message)
        inner_message = _XML_MESSAGE.search(message)
        inner_type = _XML_TYPE.search(message)
        code = inner_code.group(1) if inner_code else code
        error_type = inner_type.group(1) if inner_type else error_type
        message = html.unescape(inner_message.group(1)) if inner_message else message
    request_id = (
        metadata.get("RequestId")
        or headers.get("x-amzn-requestid")
        or headers.get("x-amz-request-id")
        or ""
    )
    return AwsErrorDetail(
        service=service,
        operation=operation,
        message=message or code or str(exc),
        code=code,
        error_type=error_type,
        http_status=metadata.get("HTTPStatusCode"),
        request_id=str(request_id),
    )
