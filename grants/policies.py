"""Pure IAM policy documents: build them, measure them. No AWS, no Django."""

from __future__ import annotations

import json
import re
from typing import Any

VERSION = "2012-10-17"

# AWS's default quotas (GetAccountSummary gives an account's actual ones).
TRUST_POLICY_MAX = 2048
ROLE_INLINE_POLICIES_MAX = 10240
USER_INLINE_POLICIES_MAX = 2048
MANAGED_POLICIES_PER_ROLE_MAX = 10

SQS_FULL_ACCESS = "AmazonSQSFullAccess"
SQS_READ_ONLY_ACCESS = "AmazonSQSReadOnlyAccess"

# Queue-level actions an administrator can grant on chosen queues.
QUEUE_ACTIONS = (
    "sqs:SendMessage",
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "sqs:ListDeadLetterSourceQueues",
    "sqs:PurgeQueue",
)

_POLICY_CHARS = re.compile(r"^[\t\n\r\u0020-\u00ff]*\Z")


def aws_managed_policy_arn(name: str, *, partition: str = "aws") -> str:
    return f"arn:{partition}:iam::aws:policy/{name}"


def account_root_arn(account_id: str, *, partition: str = "aws") -> str:
    return f"arn:{partition}:iam::{account_id}:root"


def role_arn(account_id: str, path: str, name: str, *, partition: str = "aws") -> str:
    return f"arn:{partition}:iam::{account_id}:role{path}{name}"


def queue_arn(region: str, account_id: str, name: str, *, partition: str = "aws") -> str:
    return f"arn:{partition}:sqs:{region}:{account_id}:{name}"


def trust_policy(*, principal_arn: str, external_id: str = "", require_mfa: bool = False) -> dict:
    """Who may assume the role: one principal, optionally with ExternalId and MFA conditions."""
    if principal_arn.strip() == "*":
        raise ValueError("A wildcard principal would let anyone assume the role.")
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": principal_arn},
        "Action": "sts:AssumeRole",
    }
    condition: dict[str, dict[str, str]] = {}
    if external_id:
        condition["StringEquals"] = {"sts:ExternalId": external_id}
    if require_mfa:
        # Absent for long-term credentials, so Bool (not BoolIfExists) denies them.
        condition["Bool"] = {"aws:MultiFactorAuthPresent": "true"}
    if condition:
        statement["Condition"] = condition
    return {"Version": VERSION, "Statement": [statement]}


def queue_access_policy(
    *, queue_arns: list[str], actions: list[str], allow_list_queues: bool = True
) -> dict:
    """Least privilege: the chosen actions on the chosen queues (ListQueues needs "*")."""
    statements: list[dict[str, Any]] = []
    if queue_arns and actions:
        statements.append(
            {
                "Sid": "ChosenQueues",
                "Effect": "Allow",
                "Action": sorted(actions),
                "Resource": sorted(queue_arns),
            }
        )
    if allow_list_queues:
        statements.append(
            {"Sid": "ListQueues", "Effect": "Allow", "Action": "sqs:ListQueues", "Resource": "*"}
        )
    return {"Version": VERSION, "Statement": statements}


def assume_role_policy(*, role_arn: str) -> dict:
    """The user policy in the trusted account: sts:AssumeRole on exactly this role."""
    return {
        "Version": VERSION,
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}],
    }


def render(document: dict) -> str:
    """The JSON sent to AWS and shown for review: the same text, byte for byte."""
    return json.dumps(document, indent=2)


def size(document: dict) -> int:
    """Characters as IAM counts them for quotas: whitespace not counted."""
    return len(re.sub(r"\s", "", json.dumps(document, separators=(",", ":"))))


def has_valid_characters(document: dict) -> bool:
    return bool(_POLICY_CHARS.match(json.dumps(document, ensure_ascii=False)))
