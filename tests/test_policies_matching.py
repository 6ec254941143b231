"""Action, Resource, NotAction, NotResource and policy variables (identity-based policies).

Cases follow AWS's "IAM JSON policy elements: Action / NotAction / Resource /
NotResource" and "IAM policy elements: Variables and tags" pages.
"""

from __future__ import annotations

from typing import Any

import pytest

from grants.policies import DecisionKind, PolicyKind, PolicySource, Request, evaluate_policies

USER = "arn:aws:iam::444455556666:user/hoge-app"
PATH_USER = "arn:aws:iam::444455556666:user/division/team/jane"
SESSION = "arn:aws:sts::444455556666:assumed-role/app/i-0123"
ROLE = "arn:aws:iam::111122223333:role/piyo-sqs"
QUEUE = "arn:aws:sqs:ap-northeast-1:111122223333:orders"


def decide(
    statement: dict | list,
    *,
    action: str,
    resource: str = "*",
    principal: str = USER,
    context: dict[str, Any] | None = None,
    version: str | None = "2012-10-17",
):
    document: dict[str, Any] = {"Statement": statement}
    if version is not None:
        document["Version"] = version
    source = PolicySource(PolicyKind.USER_INLINE, "under-test", document, "user hoge-app")
    return evaluate_policies(Request(principal, action, resource, context or {}), [source])


def allow(**element: Any) -> dict:
    return {"Effect": "Allow", **element}


ACTIONS = [
    pytest.param("sqs:*", "sqs:ListQueues", True, id="service-wildcard"),
    pytest.param("*", "iam:CreateUser", True, id="star-is-every-action"),
    pytest.param("SQS:listqueues", "sqs:ListQueues", True, id="actions-ignore-case"),
    pytest.param("sqs:List*", "sqs:ListQueues", True, id="prefix-wildcard"),
    pytest.param("sqs:List*", "sqs:ReceiveMessage", False, id="prefix-wildcard-miss"),
    pytest.param("sqs:*Queue*", "sqs:GetQueueUrl", True, id="infix-wildcard"),
    pytest.param("s?s:ListQueues", "sqs:ListQueues", True, id="question-mark"),
    pytest.param("s?s:ListQueues", "ssss:ListQueues", False, id="question-mark-one-char"),
    pytest.param("sts:AssumeRole", "sts:AssumeRoleWithSAML", False, id="no-implicit-prefix"),
    pytest.param("sts:AssumeRole*", "sts:AssumeRoleWithSAML", True, id="explicit-prefix"),
    pytest.param(["s3:GetObject", "sts:AssumeRole"], "sts:AssumeRole", True, id="list-any"),
    pytest.param(["s3:GetObject", "sqs:*"], "sts:AssumeRole", False, id="list-none"),
    pytest.param("sqs", "sqs:ListQueues", False, id="service-alone-is-not-a-wildcard"),
]


@pytest.mark.parametrize(("pattern", "action", "expected"), ACTIONS)
def test_action_matching(pattern: Any, action: str, expected: bool) -> None:
    decision = decide([allow(Action=pattern, Resource="*")], action=action)
    assert decision.allowed is expected
    assert decision.kind == (DecisionKind.ALLOW if expected else DecisionKind.NO_ALLOW)


RESOURCES = [
    pytest.param("*", ROLE, True, id="star"),
    pytest.param(ROLE, ROLE, True, id="exact"),
    pytest.param(
        "arn:aws:iam::111122223333:role/Piyo-sqs", ROLE, False, id="arns-are-case-sensitive"
    ),
    pytest.param("arn:aws:iam::111122223333:role/*", ROLE, True, id="role-wildcard"),
    pytest.param("arn:aws:iam::111122223333:role/piyo-???", ROLE, True, id="question-marks"),
    pytest.param("arn:aws:sqs:*", QUEUE, True, id="star-crosses-colons"),
    pytest.param("arn:aws:iam::999988887777:role/*", ROLE, False, id="other-account"),
    pytest.param([QUEUE, ROLE], ROLE, True, id="list-any"),
    pytest.param(
        "arn:aws:sqs:ap-northeast-1:111122223333:*", "*", False, id="request-star-needs-star"
    ),
]


@pytest.mark.parametrize(("pattern", "resource", "expected"), RESOURCES)
def test_resource_matching(pattern: Any, resource: str, expected: bool) -> None:
    action = "sts:AssumeRole"
    decision = decide([allow(Action=action, Resource=pattern)], action=action, resource=resource)
    assert decision.allowed is expected


NOT_ELEMENTS = [
    pytest.param(
        allow(NotAction="iam:*", Resource="*"),
        "sqs:ListQueues",
        "*",
        True,
        id="NotAction-other-service",
    ),
    pytest.param(
        allow(NotAction="iam:*", Resource="*"),
        "iam:CreateUser",
        "*",
        False,
        id="NotAction-listed-service",
    ),
    pytest.param(
        allow(NotAction=["iam:*", "sts:*"], Resource="*"),
        "sts:AssumeRole",
        "*",
        False,
        id="NotAction-list",
    ),
    pytest.param(
        allow(NotAction="IAM:*", Resource="*"),
        "iam:CreateUser",
        "*",
        False,
        id="NotAction-ignores-case",
    ),
    pytest.param(
        allow(Action="sts:AssumeRole", NotResource="arn:aws:iam::111122223333:role/admin"),
        "sts:AssumeRole",
        ROLE,
        True,
        id="NotResource-other",
    ),
    pytest.param(
        allow(Action="sts:AssumeRole", NotResource="arn:aws:iam::111122223333:role/*"),
        "sts:AssumeRole",
        ROLE,
        False,
        id="NotResource-listed",
    ),
    pytest.param(
        allow(NotAction="s3:*", NotResource="arn:aws:s3:::*"),
        "sqs:ListQueues",
        QUEUE,
        True,
        id="NotAction-with-NotResource",
    ),
]


@pytest.mark.parametrize(("statement", "action", "resource", "expected"), NOT_ELEMENTS)
def test_not_action_and_not_resource(
    statement: dict, action: str, resource: str, expected: bool
) -> None:
    assert decide([statement], action=action, resource=resource).allowed is expected


@pytest.mark.parametrize(
    ("resource", "denied"),
    [
        pytest.param(ROLE, False, id="the-one-role-spared"),
        pytest.param("arn:aws:iam::111122223333:role/other", True, id="every-other-role-denied"),
    ],
)
def test_deny_with_not_resource_denies_everything_else(resource: str, denied: bool) -> None:
    statements = [
        allow(Action="sts:AssumeRole", Resource="*"),
        {"Sid": "OnlyPiyo", "Effect": "Deny", "Action": "sts:AssumeRole", "NotResource": ROLE},
    ]
    decision = decide(statements, action="sts:AssumeRole", resource=resource)
    assert decision.explicit_deny is denied
    assert decision.allowed is not denied


SHAPES = [
    pytest.param(
        {"Effect": "Allow", "Action": "sqs:ListQueues", "Resource": "*"},
        True,
        id="statement-as-one-object",
    ),
    pytest.param([{"Action": "sqs:ListQueues", "Resource": "*"}], False, id="no-effect-ignored"),
    pytest.param(
        [{"Effect": "allow", "Action": "sqs:ListQueues", "Resource": "*"}],
        False,
        id="effect-is-case-sensitive",
    ),
    pytest.param([{"Effect": "Allow", "Resource": "*"}], False, id="no-action-matches-nothing"),
    pytest.param(
        ["not a statement", allow(Action="sqs:ListQueues", Resource="*")],
        True,
        id="junk-statement-skipped",
    ),
    pytest.param(
        [
            allow(
                Action="sqs:ListQueues",
                Resource="*",
                Principal={"AWS": "arn:aws:iam::999988887777:root"},
            )
        ],
        True,
        id="principal-ignored-in-identity-policy",
    ),
]


@pytest.mark.parametrize(("statement", "expected"), SHAPES)
def test_statement_shapes(statement: Any, expected: bool) -> None:
    assert decide(statement, action="sqs:ListQueues").allowed is expected


HOME = "arn:aws:s3:::bucket/home/${aws:username}/*"

VARIABLES = [
    pytest.param(
        HOME,
        USER,
        "arn:aws:s3:::bucket/home/hoge-app/notes",
        {},
        "2012-10-17",
        True,
        id="username-own-folder",
    ),
    pytest.param(
        HOME,
        USER,
        "arn:aws:s3:::bucket/home/jane/notes",
        {},
        "2012-10-17",
        False,
        id="username-other-folder",
    ),
    pytest.param(
        HOME,
        PATH_USER,
        "arn:aws:s3:::bucket/home/jane/notes",
        {},
        "2012-10-17",
        True,
        id="username-drops-the-path",
    ),
    pytest.param(
        HOME,
        SESSION,
        "arn:aws:s3:::bucket/home/app/notes",
        {},
        "2012-10-17",
        False,
        id="no-username-for-a-role-session",
    ),
    pytest.param(
        "arn:aws:s3:::bucket/home/${aws:username, 'shared'}/*",
        SESSION,
        "arn:aws:s3:::bucket/home/shared/x",
        {},
        "2012-10-17",
        True,
        id="default-value",
    ),
    pytest.param(
        "arn:aws:s3:::bucket/home/${aws:username, 'shared'}/*",
        USER,
        "arn:aws:s3:::bucket/home/shared/x",
        {},
        "2012-10-17",
        False,
        id="default-unused-when-present",
    ),
    pytest.param(
        HOME,
        USER,
        "arn:aws:s3:::bucket/home/${aws:username}/x",
        {},
        "2008-10-17",
        True,
        id="version-2008-reads-literally",
    ),
    pytest.param(
        HOME,
        USER,
        "arn:aws:s3:::bucket/home/hoge-app/x",
        {},
        "2008-10-17",
        False,
        id="version-2008-no-substitution",
    ),
    pytest.param(
        HOME,
        USER,
        "arn:aws:s3:::bucket/home/hoge-app/x",
        {},
        None,
        False,
        id="no-version-no-substitution",
    ),
    pytest.param(
        "arn:aws:s3:::bucket/${AWS:UserName}/*",
        USER,
        "arn:aws:s3:::bucket/hoge-app/x",
        {},
        "2012-10-17",
        True,
        id="variable-key-ignores-case",
    ),
    pytest.param(
        "arn:aws:s3:::bucket/${*}literal",
        USER,
        "arn:aws:s3:::bucket/*literal",
        {},
        "2012-10-17",
        True,
        id="special-star-literal",
    ),
    pytest.param(
        "arn:aws:s3:::bucket/${*}literal",
        USER,
        "arn:aws:s3:::bucket/xliteral",
        {},
        "2012-10-17",
        False,
        id="special-star-is-no-wildcard",
    ),
    pytest.param(
        "arn:aws:s3:::bucket/a${?}",
        USER,
        "arn:aws:s3:::bucket/a?",
        {},
        "2012-10-17",
        True,
        id="special-question-mark",
    ),
    pytest.param(
        "arn:aws:s3:::bucket/a${?}",
        USER,
        "arn:aws:s3:::bucket/ab",
        {},
        "2012-10-17",
        False,
        id="special-question-mark-is-no-wildcard",
    ),
    pytest.param(
        "arn:aws:s3:::bucket/${$}HOME",
        USER,
        "arn:aws:s3:::bucket/$HOME",
        {},
        "2012-10-17",
        True,
        id="special-dollar",
    ),
    pytest.param(
        "arn:aws:s3:::bucket/${aws:PrincipalTag/team}/*",
        USER,
        "arn:aws:s3:::bucket/ops/x",
        {"aws:PrincipalTag/team": "ops"},
        "2012-10-17",
        True,
        id="principal-tag",
    ),
    pytest.param(
        "arn:aws:s3:::bucket/${aws:PrincipalTag/team}/*",
        USER,
        "arn:aws:s3:::bucket/ops/x",
        {},
        "2012-10-17",
        False,
        id="principal-tag-missing",
    ),
    pytest.param(
        "arn:aws:s3:::bucket/${aws:PrincipalTag/team}/x",
        USER,
        "arn:aws:s3:::bucket/ops/x",
        {"aws:PrincipalTag/team": "*"},
        "2012-10-17",
        False,
        id="substituted-star-is-literal",
    ),
    pytest.param(
        "arn:aws:sqs:*:${aws:PrincipalAccount}:*",
        USER,
        "arn:aws:sqs:ap-northeast-1:444455556666:q",
        {},
        "2012-10-17",
        True,
        id="principal-account-filled-in",
    ),
    pytest.param(
        "arn:aws:s3:::bucket/${aws:userid}/*",
        USER,
        "arn:aws:s3:::bucket/AIDAEXAMPLE/x",
        {"aws:userid": "AIDAEXAMPLE"},
        "2012-10-17",
        True,
        id="userid-from-context",
    ),
    pytest.param(
        ["arn:aws:s3:::bucket/${aws:PrincipalTag/team}/*", "arn:aws:s3:::public/*"],
        USER,
        "arn:aws:s3:::public/x",
        {},
        "2012-10-17",
        True,
        id="other-resource-entries-still-match",
    ),
]


@pytest.mark.parametrize(
    ("pattern", "principal", "resource", "context", "version", "expected"), VARIABLES
)
def test_policy_variables_in_resource(
    pattern: Any, principal: str, resource: str, context: dict, version: str | None, expected: bool
) -> None:
    decision = decide(
        [allow(Action="s3:GetObject", Resource=pattern)],
        action="s3:GetObject",
        resource=resource,
        principal=principal,
        context=context,
        version=version,
    )
    assert decision.allowed is expected


def test_an_unresolvable_variable_is_noted() -> None:
    decision = decide(
        [allow(Action="s3:GetObject", Resource=HOME)],
        action="s3:GetObject",
        resource="arn:aws:s3:::bucket/home/app/x",
        principal=SESSION,
    )
    assert decision.kind == DecisionKind.NO_ALLOW
    assert any("policy variable" in note for note in decision.notes)


CONDITION_VARIABLES = [
    pytest.param(
        {"aws:ResourceTag/team": "ops", "aws:PrincipalTag/team": "ops"}, True, id="tags-equal"
    ),
    pytest.param(
        {"aws:ResourceTag/team": "dev", "aws:PrincipalTag/team": "ops"}, False, id="tags-differ"
    ),
    pytest.param({"aws:ResourceTag/team": "ops"}, False, id="principal-tag-missing"),
]


@pytest.mark.parametrize(("context", "expected"), CONDITION_VARIABLES)
def test_policy_variables_in_condition_values(context: dict, expected: bool) -> None:
    statement = allow(
        Action="ec2:StartInstances",
        Resource="*",
        Condition={"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}},
    )
    decision = decide([statement], action="ec2:StartInstances", context=context)
    assert decision.allowed is expected


@pytest.mark.parametrize(
    ("condition", "principal", "context", "expected"),
    [
        pytest.param(
            {"StringEquals": {"aws:PrincipalAccount": "444455556666"}},
            USER,
            {},
            True,
            id="principal-account",
        ),
        pytest.param(
            {"StringEquals": {"aws:PrincipalType": "User"}},
            USER,
            {},
            True,
            id="principal-type-user",
        ),
        pytest.param(
            {"StringEquals": {"aws:PrincipalType": "AssumedRole"}},
            SESSION,
            {},
            True,
            id="principal-type-session",
        ),
        pytest.param(
            {"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::444455556666:role/app"}},
            SESSION,
            {},
            True,
            id="session-principal-arn-is-the-role",
        ),
        pytest.param(
            {"StringEquals": {"aws:username": "hoge-app"}}, USER, {}, True, id="username-filled-in"
        ),
        pytest.param(
            {"StringEquals": {"aws:username": "someone"}},
            USER,
            {"aws:username": "someone"},
            True,
            id="caller-context-wins",
        ),
        pytest.param(
            {"Null": {"aws:username": "true"}}, SESSION, {}, True, id="no-username-for-sessions"
        ),
        pytest.param(
            {"Null": {"aws:CurrentTime": "true"}}, USER, {}, True, id="no-clock-unless-given"
        ),
    ],
)
def test_keys_aws_fills_in(condition: dict, principal: str, context: dict, expected: bool) -> None:
    statement = allow(Action="s3:GetObject", Resource="*", Condition=condition)
    decision = decide([statement], action="s3:GetObject", principal=principal, context=context)
    assert decision.allowed is expected
