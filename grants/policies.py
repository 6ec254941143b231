"""Pure IAM policy documents: build them, measure them. No AWS, no Django."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
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


# --- evaluation ----------------------------------------------------------------------
#
# A deliberately small evaluator: enough to tell whether a document allows one
# principal one action on one resource under given context keys. Statements
# with condition operators it does not know are reported, and treated as not
# matching for Allow and as matching for Deny (the cautious reading).

_KNOWN_OPERATORS = {
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "Bool",
    "ArnEquals",
    "ArnLike",
    "ArnNotEquals",
    "ArnNotLike",
}


@dataclass(frozen=True)
class Decision:
    """The outcome of evaluating documents for one request."""

    allowed: bool
    explicit_deny: bool = False
    matched: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    # Condition keys the allowing statements require (e.g. sts:ExternalId).
    required_keys: tuple[str, ...] = ()


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _glob(pattern: str, value: str, *, case: bool = True) -> bool:
    """IAM wildcard match: * any run of characters, ? one character."""
    regex = "".join(
        ".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in str(pattern)
    )
    return re.fullmatch(regex, value, 0 if case else re.IGNORECASE) is not None


def action_matches(statement: dict, action: str) -> bool:
    if "NotAction" in statement:
        return not any(_glob(p, action, case=False) for p in _as_list(statement["NotAction"]))
    return any(_glob(p, action, case=False) for p in _as_list(statement.get("Action")))


def _resource_matches(statement: dict, resource: str) -> bool:
    if "NotResource" in statement:
        return not any(_glob(p, resource) for p in _as_list(statement["NotResource"]))
    if "Resource" not in statement:
        return True  # trust policies name no resource
    return any(_glob(p, resource) for p in _as_list(statement["Resource"]))


def principal_admits(principal_block: Any, principal_arn: str) -> bool:
    """Whether a Principal element admits the calling principal.

    An account (its ID or its root ARN) admits every principal of that
    account: the account's own policies then decide.
    """
    if principal_block == "*":
        return True
    if not isinstance(principal_block, dict):
        return False
    account = principal_arn.split(":")[4] if principal_arn.count(":") >= 5 else ""
    partition = principal_arn.split(":")[1] if principal_arn.startswith("arn:") else "aws"
    for entry in _as_list(principal_block.get("AWS")):
        if entry == "*":
            return True
        if entry in (account, f"arn:{partition}:iam::{account}:root"):
            return True
        if entry == principal_arn:
            return True
    return False


def _condition_holds(condition: dict, context: dict[str, Any]) -> tuple[bool | None, list[str]]:
    """(True/False, or None when an operator is unknown; the keys the condition reads)."""
    keys: list[str] = []
    for raw_operator, tests in condition.items():
        if_exists = raw_operator.endswith("IfExists")
        operator = raw_operator.removesuffix("IfExists")
        if operator not in _KNOWN_OPERATORS:
            return None, keys
        for key, expected in tests.items():
            keys.append(key)
            lookup = {k.lower(): v for k, v in context.items()}
            if key.lower() not in lookup:
                if if_exists or operator.startswith(("StringNot", "ArnNot")):
                    continue
                return False, keys
            actual = str(lookup[key.lower()])
            values = [str(v) for v in _as_list(expected)]
            if operator == "StringEquals" or operator == "ArnEquals":
                ok = actual in values
            elif operator == "StringEqualsIgnoreCase":
                ok = actual.lower() in (v.lower() for v in values)
            elif operator == "StringNotEquals" or operator == "ArnNotEquals":
                ok = actual not in values
            elif operator in ("StringLike", "ArnLike"):
                ok = any(_glob(v, actual) for v in values)
            elif operator in ("StringNotLike", "ArnNotLike"):
                ok = not any(_glob(v, actual) for v in values)
            else:  # Bool
                ok = actual.lower() in (v.lower() for v in values)
            if not ok:
                return False, keys
    return True, keys


def evaluate(
    documents: list[dict],
    *,
    action: str,
    resource: str = "*",
    principal_arn: str | None = None,
    context: dict[str, Any] | None = None,
) -> Decision:
    """Whether the documents allow `action` on `resource` (for `principal_arn` in a trust policy).

    Explicit Deny wins; otherwise any matching Allow allows.
    """
    context = context or {}
    allowed = False
    matched: list[str] = []
    notes: list[str] = []
    required: list[str] = []
    for document in documents:
        for index, statement in enumerate(_as_list(document.get("Statement"))):
            if not isinstance(statement, dict):
                continue
            if principal_arn is not None:
                if "NotPrincipal" in statement:
                    notes.append("NotPrincipal is not evaluated here.")
                    continue
                if not principal_admits(statement.get("Principal"), principal_arn):
                    continue
            if not (action_matches(statement, action) and _resource_matches(statement, resource)):
                continue
            holds, keys = _condition_holds(statement.get("Condition") or {}, context)
            label = statement.get("Sid") or f"statement {index + 1}"
            effect = statement.get("Effect")
            if holds is None:
                notes.append(f"{label}: a condition operator is not evaluated here.")
                if effect == "Deny":
                    return Decision(False, True, (label,), tuple(notes), tuple(required))
                continue
            if not holds:
                if effect == "Allow":
                    notes.append(
                        f"{label} would allow, but its condition on {', '.join(keys)} fails."
                    )
                continue
            if effect == "Deny":
                return Decision(False, True, (label,), tuple(notes), tuple(required))
            if effect == "Allow":
                allowed = True
                matched.append(label)
                required.extend(keys)
    return Decision(allowed, False, tuple(matched), tuple(notes), tuple(dict.fromkeys(required)))


def condition_keys(document: dict, *, action: str = "sts:AssumeRole") -> dict[str, list[str]]:
    """Condition keys the document's Allow statements for `action` test, with their values."""
    found: dict[str, list[str]] = {}
    for statement in _as_list(document.get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        if not action_matches(statement, action):
            continue
        for tests in (statement.get("Condition") or {}).values():
            for key, value in tests.items():
                found.setdefault(key.lower(), []).extend(str(v) for v in _as_list(value))
    return found
