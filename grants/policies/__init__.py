"""Pure IAM policy documents: build them, measure them, evaluate them. No AWS, no Django.

The builders live here; the evaluation engine in `evaluation` (with `conditions`,
`matching`, `principals` and the data types in `model`), re-exported below.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from grants.policies.conditions import KNOWN_OPERATORS, evaluate_condition, parse_operator
from grants.policies.evaluation import (
    action_applies,
    evaluate_policies,
    evaluate_request,
    has_unknown,
    request_context,
    scp_levels_of,
)
from grants.policies.matching import as_list
from grants.policies.model import (
    UNKNOWN,
    Decision,
    DecisionKind,
    Evaluation,
    PolicyKind,
    PolicySource,
    Request,
    StatementRef,
    UnmetCondition,
)
from grants.policies.principals import Caller, match_principal, parse_caller
from grants.policies.trust_conditions import org_condition

__all__ = [
    "KNOWN_OPERATORS",
    "UNKNOWN",
    "Caller",
    "Decision",
    "DecisionKind",
    "Evaluation",
    "PolicyKind",
    "PolicySource",
    "Request",
    "StatementRef",
    "UnmetCondition",
    "account_root_arn",
    "action_matches",
    "assume_role_policy",
    "aws_managed_policy_arn",
    "condition_keys",
    "evaluate",
    "evaluate_condition",
    "evaluate_policies",
    "evaluate_request",
    "has_unknown",
    "has_valid_characters",
    "match_principal",
    "parse_caller",
    "parse_operator",
    "principal_admits",
    "queue_access_policy",
    "queue_arn",
    "render",
    "request_context",
    "role_arn",
    "scp_levels_of",
    "size",
    "trust_policy",
]

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


def trust_policy(
    *,
    principal_arn: str,
    external_id: str = "",
    require_mfa: bool = False,
    principal_org_id: str = "",
    principal_org_paths: Sequence[str] = (),
) -> dict:
    """Who may assume the role: one principal, optionally with ExternalId and MFA conditions,
    and with the organization the principal's account must be in (`principal_org_id`,
    aws:PrincipalOrgID) or where in it (`principal_org_paths`, aws:PrincipalOrgPaths): see
    `trust_conditions.org_condition`. Raises ValueError for a wildcard principal or a
    malformed organization ID or path."""
    if principal_arn.strip() == "*":
        raise ValueError("A wildcard principal would let anyone assume the role.")
    org = org_condition(org_id=principal_org_id, org_paths=principal_org_paths)
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": principal_arn},
        "Action": "sts:AssumeRole",
    }
    condition: dict[str, dict[str, Any]] = {}
    if external_id:
        condition["StringEquals"] = {"sts:ExternalId": external_id}
    if require_mfa:
        # Absent for long-term credentials, so Bool (not BoolIfExists) denies them.
        condition["Bool"] = {"aws:MultiFactorAuthPresent": "true"}
    for operator, tests in org.items():
        condition.setdefault(operator, {}).update(tests)
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
# The small API older callers use, on top of the engine.


def action_matches(statement: dict, action: str) -> bool:
    """Whether a statement's Action (or NotAction) covers `action` (case-insensitive)."""
    return action_applies(statement, action)


def principal_admits(principal_block: Any, principal_arn: str) -> bool:
    """Whether a Principal element names the caller `principal_arn`.

    An account (its ID or its root ARN) admits every principal of that account: the
    account's own policies then decide. Rules: `principals` module docstring.
    """
    return match_principal(principal_block, parse_caller(principal_arn)).matched


def evaluate(
    documents: list[dict],
    *,
    action: str,
    resource: str = "*",
    principal_arn: str | None = None,
    context: dict[str, Any] | None = None,
) -> Decision:
    """Whether the documents allow `action` on `resource`, decided by the engine.

    With `principal_arn` the documents are read as trust policies (their Principal must
    name the caller); without it as identity-based policies. Explicit Deny wins;
    otherwise any matching Allow allows. Out: a Decision (`allowed`, `explicit_deny`,
    `matched`, `notes`, `required_keys`, and the engine's fields).
    """
    kind = PolicyKind.TRUST if principal_arn is not None else PolicyKind.USER_INLINE
    sources = [
        PolicySource(kind=kind, name="" if len(documents) == 1 else f"#{i + 1}", document=doc)
        for i, doc in enumerate(documents)
    ]
    request = Request(
        principal_arn=principal_arn or "", action=action, resource=resource, context=context or {}
    )
    return evaluate_policies(request, sources)


def condition_keys(document: dict, *, action: str = "sts:AssumeRole") -> dict[str, list[str]]:
    """Condition keys the document's Allow statements for `action` test, with their values.

    Out: lower-cased key -> the values written for it, as strings.
    """
    found: dict[str, list[str]] = {}
    for statement in as_list(document.get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        if not action_matches(statement, action):
            continue
        for tests in (statement.get("Condition") or {}).values():
            if not isinstance(tests, dict):
                continue
            for key, value in tests.items():
                found.setdefault(key.lower(), []).extend(str(v) for v in as_list(value))
    return found
