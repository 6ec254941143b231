"""evaluate_request: AWS's policy evaluation logic across every policy that applies.

Cases follow AWS's "Policy evaluation logic", "Determining whether a request is allowed
or denied within an account", "Cross-account policy evaluation logic", "Permissions
boundaries for IAM entities" and "SCP evaluation" pages, and the faults of issue 10
(a grant whose permission comes from a group; a Deny in a group; an MFA trust).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from grants.policies import (
    DecisionKind,
    Evaluation,
    PolicyKind,
    PolicySource,
    Request,
    StatementRef,
    evaluate_request,
    trust_policy,
)

TRUSTING = "111122223333"
TRUSTED = "444455556666"
ROLE = f"arn:aws:iam::{TRUSTING}:role/piyo-sqs"
USER = f"arn:aws:iam::{TRUSTED}:user/hoge-app"
LOCAL_USER = f"arn:aws:iam::{TRUSTING}:user/piyo-admin"
LOCAL_SESSION = f"arn:aws:sts::{TRUSTING}:assumed-role/ops/alice"
QUEUE = f"arn:aws:sqs:ap-northeast-1:{TRUSTING}:orders"
STRANGER_ROOT = "arn:aws:iam::999988887777:root"
ASSUME = "sts:AssumeRole"


def doc(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: str = ASSUME, resource: Any = ROLE, **extra: Any) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str = ASSUME, resource: Any = ROLE, **extra: Any) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def user_inline(*statements: dict, name: str = "assume-piyo") -> PolicySource:
    return PolicySource(PolicyKind.USER_INLINE, name, doc(*statements), "user hoge-app")


def user_managed(*statements: dict, name: str = "assume-piyo") -> PolicySource:
    arn = f"arn:aws:iam::{TRUSTED}:policy/{name}"
    return PolicySource(PolicyKind.USER_MANAGED, arn, doc(*statements), "user hoge-app")


def group_inline(*statements: dict, name: str = "assume-piyo") -> PolicySource:
    return PolicySource(PolicyKind.GROUP_INLINE, name, doc(*statements), "group developers")


def group_managed(*statements: dict, name: str = "deny-assume") -> PolicySource:
    arn = f"arn:aws:iam::{TRUSTED}:policy/{name}"
    return PolicySource(PolicyKind.GROUP_MANAGED, arn, doc(*statements), "group developers")


def boundary(*statements: dict) -> PolicySource:
    arn = f"arn:aws:iam::{TRUSTED}:policy/dev-boundary"
    return PolicySource(PolicyKind.BOUNDARY, arn, doc(*statements), "user hoge-app")


def scp(name: str, *statements: dict, where: str = "") -> PolicySource:
    return PolicySource(PolicyKind.SCP, name, doc(*statements), where)


FULL_AWS_ACCESS = doc({"Effect": "Allow", "Action": "*", "Resource": "*"})


def full_access(where: str) -> PolicySource:
    return PolicySource(PolicyKind.SCP, "FullAWSAccess", FULL_AWS_ACCESS, where)


def trust(principal: str = f"arn:aws:iam::{TRUSTED}:root", **options: Any) -> PolicySource:
    return PolicySource(
        PolicyKind.TRUST,
        "piyo-sqs",
        trust_policy(principal_arn=principal, **options),
        "role piyo-sqs",
    )


def run(
    *,
    identity: Sequence[PolicySource] | None = (),
    resource_policy: PolicySource | None = None,
    bound: PolicySource | None = None,
    scps: Sequence[Sequence[PolicySource]] | None = None,
    principal: str = USER,
    action: str = ASSUME,
    resource: str = ROLE,
    context: dict[str, Any] | None = None,
) -> Evaluation:
    return evaluate_request(
        Request(principal, action, resource, context or {}),
        identity=identity,
        resource_policy=resource_policy,
        boundary=bound,
        scps=scps,
    )


# --- explicit Deny wins, whichever policy holds it ------------------------------------

DENY_ASSUME = deny(resource=f"arn:aws:iam::{TRUSTING}:role/*", Sid="DenyAssume")

PRECEDENCE = [
    pytest.param(
        dict(identity=[user_inline(allow()), group_managed(DENY_ASSUME)]),
        DecisionKind.EXPLICIT_DENY,
        PolicyKind.GROUP_MANAGED,
        id="group-managed-deny-beats-user-inline-allow",
    ),
    pytest.param(
        dict(identity=[group_inline(allow()), user_managed(DENY_ASSUME, name="no-roles")]),
        DecisionKind.EXPLICIT_DENY,
        PolicyKind.USER_MANAGED,
        id="user-managed-deny-beats-group-inline-allow",
    ),
    pytest.param(
        dict(identity=[user_inline(allow(), deny())]),
        DecisionKind.EXPLICIT_DENY,
        PolicyKind.USER_INLINE,
        id="deny-in-the-same-policy",
    ),
    pytest.param(
        dict(identity=[user_inline(allow())], bound=boundary(allow(resource="*"), DENY_ASSUME)),
        DecisionKind.EXPLICIT_DENY,
        PolicyKind.BOUNDARY,
        id="deny-in-the-boundary",
    ),
    pytest.param(
        dict(
            identity=[user_inline(allow())],
            scps=[[full_access("root"), scp("no-assume", DENY_ASSUME, where="OU ou-x1")]],
        ),
        DecisionKind.EXPLICIT_DENY,
        PolicyKind.SCP,
        id="deny-list-scp",
    ),
    pytest.param(
        dict(
            identity=[user_inline(allow())],
            resource_policy=PolicySource(
                PolicyKind.TRUST,
                "piyo-sqs",
                doc(
                    {"Effect": "Allow", "Principal": {"AWS": TRUSTED}, "Action": ASSUME},
                    {"Effect": "Deny", "Principal": {"AWS": USER}, "Action": ASSUME},
                ),
                "role piyo-sqs",
            ),
        ),
        DecisionKind.EXPLICIT_DENY,
        PolicyKind.TRUST,
        id="deny-in-the-trust-policy",
    ),
    pytest.param(
        dict(identity=[group_inline(allow())], resource_policy=trust()),
        DecisionKind.ALLOW,
        PolicyKind.GROUP_INLINE,
        id="group-inline-allow-alone-suffices",
    ),
    pytest.param(
        dict(identity=[group_managed(allow(), name="assume-piyo")], resource_policy=trust()),
        DecisionKind.ALLOW,
        PolicyKind.GROUP_MANAGED,
        id="group-managed-allow-alone-suffices",
    ),
    pytest.param(
        dict(identity=[user_managed(allow())], resource_policy=trust()),
        DecisionKind.ALLOW,
        PolicyKind.USER_MANAGED,
        id="user-managed-allow",
    ),
    pytest.param(
        dict(identity=[group_inline(allow(resource=f"arn:aws:iam::{TRUSTING}:role/other"))]),
        DecisionKind.NO_ALLOW,
        PolicyKind.GROUP_INLINE,
        id="allow-aimed-at-another-role",
    ),
]


@pytest.mark.parametrize(("setup", "kind", "policy_kind"), PRECEDENCE)
def test_precedence(setup: dict, kind: DecisionKind, policy_kind: PolicyKind | None) -> None:
    setup.setdefault("resource_policy", trust())
    decision = run(**setup).decision
    assert decision.kind == kind
    assert decision.allowed is (kind == DecisionKind.ALLOW)
    assert (decision.policy.kind if decision.policy else None) == policy_kind


def test_the_deny_that_won_is_named_with_its_policy_and_attachment() -> None:
    evaluation = run(
        identity=[user_inline(allow()), group_managed(DENY_ASSUME)], resource_policy=trust()
    )
    deciding = evaluation.decision.deciding
    assert [ref.label() for ref in deciding] == [
        'statement "DenyAssume" of the managed policy '
        f"arn:aws:iam::{TRUSTED}:policy/deny-assume of group developers"
    ]
    assert evaluation.decision.explicit_deny
    assert evaluation.identity is not None and evaluation.identity.explicit_deny


def test_a_deny_that_does_not_match_the_resource_does_not_count() -> None:
    other_roles = deny(resource=f"arn:aws:iam::{TRUSTING}:role/admin-*")
    decision = run(
        identity=[user_inline(allow()), group_managed(other_roles)], resource_policy=trust()
    ).decision
    assert decision.allowed


def test_every_allowing_statement_is_named() -> None:
    decision = run(
        identity=[user_inline(allow(Sid="Mine")), group_inline(allow(Sid="Team"))],
        resource_policy=trust(),
    ).decision
    assert [ref.short_label() for ref in decision.deciding] == ["Mine", "Team", "statement 1"]
    assert decision.deciding[2].source.kind == PolicyKind.TRUST


# --- permissions boundaries -----------------------------------------------------------

BOUNDARIES = [
    pytest.param([allow()], boundary(allow(resource="*")), DecisionKind.ALLOW, id="both-allow"),
    pytest.param(
        [allow()],
        boundary(allow("s3:*", "*")),
        DecisionKind.BOUNDARY,
        id="boundary-allows-other-things",
    ),
    pytest.param([allow()], boundary(), DecisionKind.BOUNDARY, id="boundary-with-no-statement"),
    pytest.param(
        [allow("s3:*", "*")],
        boundary(allow(resource="*")),
        DecisionKind.NO_ALLOW,
        id="boundary-alone-grants-nothing",
    ),
    pytest.param([], boundary(allow(resource="*")), DecisionKind.NO_ALLOW, id="no-identity-policy"),
    pytest.param(
        [allow()],
        boundary(allow(resource="*", Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}})),
        DecisionKind.BOUNDARY,
        id="boundary-condition-unmet",
    ),
    pytest.param(
        [allow(), DENY_ASSUME],
        boundary(allow(resource="*")),
        DecisionKind.EXPLICIT_DENY,
        id="identity-deny-within-boundary",
    ),
]


@pytest.mark.parametrize(("statements", "bound", "kind"), BOUNDARIES)
def test_permissions_boundary(
    statements: list[dict], bound: PolicySource, kind: DecisionKind
) -> None:
    identity = [user_inline(*statements)] if statements else []
    evaluation = run(identity=identity, bound=bound, resource_policy=trust())
    assert evaluation.decision.kind == kind
    assert evaluation.identity is not None and evaluation.identity.kind == kind
    if kind == DecisionKind.BOUNDARY:
        assert evaluation.decision.policy == bound
        assert any("permissions boundary" in note for note in evaluation.decision.notes)


def test_a_boundary_condition_names_its_key() -> None:
    bound = boundary(
        allow(resource="*", Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}})
    )
    decision = run(identity=[user_inline(allow())], bound=bound, resource_policy=trust()).decision
    assert decision.unmet_keys == ("aws:MultiFactorAuthPresent",)
    assert decision.unmet[0].statement.source.kind == PolicyKind.BOUNDARY


# --- service control policies ---------------------------------------------------------

ALLOW_SQS_ONLY = {"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}
REGION_GUARD = {
    "Sid": "OnlyTokyo",
    "Effect": "Deny",
    "Action": "*",
    "Resource": "*",
    "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["ap-northeast-1"]}},
}

SCPS = [
    pytest.param(None, {}, DecisionKind.ALLOW, None, id="not-in-an-organization"),
    pytest.param(
        [[full_access("root")], [full_access("account 444455556666")]],
        {},
        DecisionKind.ALLOW,
        None,
        id="full-aws-access-everywhere",
    ),
    pytest.param(
        [
            [full_access("root")],
            [scp("sqs-only", ALLOW_SQS_ONLY, where="OU ou-x1")],
            [full_access("account")],
        ],
        {},
        DecisionKind.SCP,
        "sqs-only",
        id="allow-list-ou-level-blocks",
    ),
    pytest.param(
        [[full_access("root")], []], {}, DecisionKind.SCP, None, id="level-with-no-scp-blocks"
    ),
    pytest.param(
        [[full_access("root"), scp("region-guard", REGION_GUARD, where="root")]],
        {"aws:RequestedRegion": "us-east-1"},
        DecisionKind.EXPLICIT_DENY,
        "region-guard",
        id="region-guard-denies-other-regions",
    ),
    pytest.param(
        [[full_access("root"), scp("region-guard", REGION_GUARD, where="root")]],
        {"aws:RequestedRegion": "ap-northeast-1"},
        DecisionKind.ALLOW,
        None,
        id="region-guard-spares-tokyo",
    ),
    pytest.param(
        [[scp("sqs-only", ALLOW_SQS_ONLY, where="root"), full_access("root")]],
        {},
        DecisionKind.ALLOW,
        None,
        id="one-allow-per-level-suffices",
    ),
]


@pytest.mark.parametrize(("scps", "context", "kind", "deciding_scp"), SCPS)
def test_service_control_policies(
    scps: Any, context: dict, kind: DecisionKind, deciding_scp: str | None
) -> None:
    evaluation = run(
        identity=[user_inline(allow())], resource_policy=trust(), scps=scps, context=context
    )
    decision = evaluation.decision
    assert decision.kind == kind
    if deciding_scp:
        assert decision.policy is not None and decision.policy.name == deciding_scp
        assert decision.policy.kind == PolicyKind.SCP


def test_an_scp_level_that_blocks_is_named_in_a_note() -> None:
    scps = [[full_access("root")], [scp("sqs-only", ALLOW_SQS_ONLY, where="OU ou-x1")]]
    decision = run(identity=[user_inline(allow())], resource_policy=trust(), scps=scps).decision
    assert any("OU ou-x1" in note and ASSUME in note for note in decision.notes)


def test_scps_allowing_do_not_grant_without_an_identity_policy() -> None:
    decision = run(identity=[], resource_policy=trust(), scps=[[full_access("root")]]).decision
    assert decision.kind == DecisionKind.NO_ALLOW


# --- cross-account and same-account ---------------------------------------------------

CROSS_ACCOUNT = [
    pytest.param([group_inline(allow())], trust(), {}, DecisionKind.ALLOW, id="both-allow"),
    pytest.param([], trust(), {}, DecisionKind.NO_ALLOW, id="trust-allows-identity-does-not"),
    pytest.param(
        [user_inline(allow())],
        trust("arn:aws:iam::999988887777:root"),
        {},
        DecisionKind.NO_ALLOW,
        id="identity-allows-trust-names-another-account",
    ),
    pytest.param(
        [user_inline(allow())], trust(USER), {}, DecisionKind.ALLOW, id="trust-names-the-user"
    ),
    pytest.param(
        [], trust(USER), {}, DecisionKind.NO_ALLOW, id="named-user-still-needs-identity-allow"
    ),
    pytest.param(
        [user_inline(allow())],
        trust(require_mfa=True),
        {},
        DecisionKind.CONDITION_UNMET,
        id="mfa-required",
    ),
    pytest.param(
        [user_inline(allow())],
        trust(require_mfa=True),
        {"aws:MultiFactorAuthPresent": True},
        DecisionKind.ALLOW,
        id="mfa-present",
    ),
    pytest.param(
        [user_inline(allow())],
        trust(external_id="xacct-1"),
        {},
        DecisionKind.CONDITION_UNMET,
        id="external-id-missing",
    ),
    pytest.param(
        [user_inline(allow())],
        trust(external_id="xacct-1"),
        {"sts:ExternalId": "wrong"},
        DecisionKind.CONDITION_UNMET,
        id="external-id-wrong",
    ),
    pytest.param(
        [user_inline(allow())],
        trust(external_id="xacct-1"),
        {"sts:ExternalId": "xacct-1"},
        DecisionKind.ALLOW,
        id="external-id-right",
    ),
    pytest.param([user_inline(allow())], None, {}, DecisionKind.NO_ALLOW, id="no-resource-policy"),
]


@pytest.mark.parametrize(("identity", "resource_policy", "context", "kind"), CROSS_ACCOUNT)
def test_cross_account_needs_both_sides(
    identity: list[PolicySource],
    resource_policy: PolicySource | None,
    context: dict,
    kind: DecisionKind,
) -> None:
    evaluation = run(identity=identity, resource_policy=resource_policy, context=context)
    assert evaluation.cross_account
    assert evaluation.decision.kind == kind
    assert evaluation.decision.allowed is (kind == DecisionKind.ALLOW)


def test_mfa_trust_names_the_mfa_key_and_the_trust_policy() -> None:
    evaluation = run(identity=[user_inline(allow())], resource_policy=trust(require_mfa=True))
    decision = evaluation.decision
    assert decision.unmet_keys == ("aws:MultiFactorAuthPresent",)
    assert decision.unmet[0].operator == "Bool"
    assert decision.policy is not None and decision.policy.kind == PolicyKind.TRUST
    assert (
        evaluation.resource is not None and evaluation.resource.kind == DecisionKind.CONDITION_UNMET
    )
    assert evaluation.identity is not None and evaluation.identity.allowed


def test_when_both_sides_fail_the_trust_policy_is_reported_and_each_side_kept() -> None:
    evaluation = run(identity=[], resource_policy=trust(require_mfa=True))
    assert evaluation.decision.kind == DecisionKind.CONDITION_UNMET
    assert evaluation.identity is not None and evaluation.identity.kind == DecisionKind.NO_ALLOW


def test_an_allowed_cross_account_request_names_both_sides() -> None:
    decision = run(identity=[group_inline(allow(Sid="Team"))], resource_policy=trust()).decision
    kinds = [ref.source.kind for ref in decision.deciding]
    assert kinds == [PolicyKind.GROUP_INLINE, PolicyKind.TRUST]
    assert decision.policy is not None and decision.policy.kind == PolicyKind.GROUP_INLINE


SAME_ACCOUNT = [
    pytest.param(
        LOCAL_USER, [], trust(LOCAL_USER), DecisionKind.ALLOW, id="trust-naming-the-user-suffices"
    ),
    pytest.param(
        LOCAL_USER,
        [],
        trust(f"arn:aws:iam::{TRUSTING}:root"),
        DecisionKind.NO_ALLOW,
        id="trust-naming-the-account-needs-identity",
    ),
    pytest.param(
        LOCAL_USER,
        [user_inline(allow())],
        trust(f"arn:aws:iam::{TRUSTING}:root"),
        DecisionKind.ALLOW,
        id="account-trust-with-identity-allow",
    ),
    pytest.param(
        LOCAL_USER,
        [user_inline(allow())],
        trust(USER),
        DecisionKind.NO_ALLOW,
        id="trust-is-required-even-in-the-same-account",
    ),
    pytest.param(
        LOCAL_SESSION,
        [],
        trust(LOCAL_SESSION),
        DecisionKind.ALLOW,
        id="trust-naming-the-session-suffices",
    ),
]


@pytest.mark.parametrize(("principal", "identity", "resource_policy", "kind"), SAME_ACCOUNT)
def test_same_account_assume_role(
    principal: str, identity: list[PolicySource], resource_policy: PolicySource, kind: DecisionKind
) -> None:
    evaluation = run(principal=principal, identity=identity, resource_policy=resource_policy)
    assert not evaluation.cross_account
    assert evaluation.decision.kind == kind


def queue_policy(principal: Any) -> PolicySource:
    statement = {"Effect": "Allow", "Principal": principal, "Action": "sqs:*", "Resource": QUEUE}
    return PolicySource(PolicyKind.RESOURCE, "orders", doc(statement), "queue orders")


LOCAL_ROLE = f"arn:aws:iam::{TRUSTING}:role/ops"
S3_ONLY = PolicySource(PolicyKind.BOUNDARY, "s3-only", doc(allow("s3:*", "*")), "role ops")

RESOURCE_POLICIES = [
    pytest.param(
        LOCAL_USER,
        [],
        queue_policy({"AWS": LOCAL_USER}),
        None,
        DecisionKind.ALLOW,
        id="names-the-user-grants-alone",
    ),
    pytest.param(
        LOCAL_USER,
        [],
        queue_policy({"AWS": LOCAL_USER}),
        S3_ONLY,
        DecisionKind.ALLOW,
        id="user-grant-not-limited-by-boundary",
    ),
    pytest.param(
        LOCAL_SESSION,
        [],
        queue_policy({"AWS": LOCAL_ROLE}),
        None,
        DecisionKind.ALLOW,
        id="names-the-role-grants-its-session",
    ),
    pytest.param(
        LOCAL_SESSION,
        [],
        queue_policy({"AWS": LOCAL_ROLE}),
        S3_ONLY,
        DecisionKind.BOUNDARY,
        id="role-grant-limited-by-boundary",
    ),
    pytest.param(
        LOCAL_SESSION,
        [],
        queue_policy({"AWS": LOCAL_SESSION}),
        S3_ONLY,
        DecisionKind.ALLOW,
        id="session-grant-not-limited-by-boundary",
    ),
    pytest.param(
        LOCAL_USER,
        [],
        queue_policy({"AWS": TRUSTING}),
        None,
        DecisionKind.NO_ALLOW,
        id="names-the-account-needs-identity",
    ),
    pytest.param(
        LOCAL_USER,
        [user_inline(allow("sqs:*", "*"))],
        queue_policy({"AWS": "arn:aws:iam::999988887777:root"}),
        None,
        DecisionKind.ALLOW,
        id="identity-allow-suffices-without-resource-allow",
    ),
    pytest.param(
        USER,
        [user_inline(allow("sqs:*", "*"))],
        queue_policy({"AWS": TRUSTED}),
        None,
        DecisionKind.ALLOW,
        id="cross-account-queue-both-allow",
    ),
    pytest.param(
        USER,
        [],
        queue_policy({"AWS": USER}),
        None,
        DecisionKind.NO_ALLOW,
        id="cross-account-queue-needs-identity",
    ),
]


@pytest.mark.parametrize(("principal", "identity", "policy", "bound", "kind"), RESOURCE_POLICIES)
def test_resource_based_policies(
    principal: str,
    identity: list[PolicySource],
    policy: PolicySource,
    bound: PolicySource | None,
    kind: DecisionKind,
) -> None:
    evaluation = run(
        principal=principal,
        identity=identity,
        resource_policy=policy,
        bound=bound,
        action="sqs:SendMessage",
        resource=QUEUE,
    )
    assert evaluation.decision.kind == kind


def test_scps_limit_a_same_account_resource_grant_too() -> None:
    evaluation = run(
        principal=LOCAL_USER,
        identity=[],
        resource_policy=queue_policy({"AWS": LOCAL_USER}),
        scps=[[scp("s3-only", allow("s3:*", "*"), where="root")]],
        action="sqs:SendMessage",
        resource=QUEUE,
    )
    assert evaluation.decision.kind == DecisionKind.SCP


@pytest.mark.parametrize(
    ("resource", "cross"),
    [
        pytest.param(ROLE, True, id="role-in-another-account"),
        pytest.param(f"arn:aws:iam::{TRUSTED}:role/local", False, id="role-in-the-same-account"),
        pytest.param("*", False, id="star-is-same-account"),
        pytest.param("arn:aws:s3:::bucket/key", False, id="arn-without-account"),
    ],
)
def test_cross_account_is_read_from_the_resource_arn(resource: str, cross: bool) -> None:
    assert run(identity=[], resource=resource).cross_account is cross


def test_an_unknown_identity_side_rests_on_the_trust_policy_and_says_so() -> None:
    evaluation = run(identity=None, resource_policy=trust())
    assert evaluation.identity is None
    assert evaluation.decision.allowed
    assert any("not evaluated" in note for note in evaluation.decision.notes)


def test_an_empty_identity_side_is_evaluated_and_allows_nothing() -> None:
    evaluation = run(identity=[], resource_policy=trust())
    assert evaluation.identity is not None
    assert evaluation.identity.kind == DecisionKind.NO_ALLOW
    assert not evaluation.decision.allowed


def test_orphaned_principals_reach_the_final_decision() -> None:
    source = PolicySource(
        PolicyKind.TRUST,
        "piyo-sqs",
        doc({"Effect": "Allow", "Principal": {"AWS": "AIDACKCEVSQ6C2EXAMPLE"}, "Action": ASSUME}),
        "role piyo-sqs",
    )
    decision = run(identity=[user_inline(allow())], resource_policy=source).decision
    assert decision.kind == DecisionKind.NO_ALLOW
    assert decision.orphaned_principals == ("AIDACKCEVSQ6C2EXAMPLE",)


def test_the_deny_only_boundary_with_no_allow_blocks_even_a_matching_identity_allow() -> None:
    bound = boundary(deny("s3:*", "*"))
    decision = run(identity=[user_inline(allow())], bound=bound, resource_policy=trust()).decision
    assert decision.kind == DecisionKind.BOUNDARY


# --- labels ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "label"),
    [
        pytest.param(
            user_inline(name="assume-piyo"),
            "the inline policy assume-piyo of user hoge-app",
            id="user-inline",
        ),
        pytest.param(
            group_inline(name="deny-assume"),
            "the inline policy deny-assume of group developers",
            id="group-inline",
        ),
        pytest.param(
            group_managed(),
            f"the managed policy arn:aws:iam::{TRUSTED}:policy/deny-assume of group developers",
            id="group-managed",
        ),
        pytest.param(
            PolicySource(
                PolicyKind.ROLE_MANAGED,
                "arn:aws:iam::aws:policy/AmazonSQSFullAccess",
                {},
                "role app",
            ),
            "the managed policy arn:aws:iam::aws:policy/AmazonSQSFullAccess of role app",
            id="role-managed",
        ),
        pytest.param(
            boundary(),
            f"the permissions boundary arn:aws:iam::{TRUSTED}:policy/dev-boundary of user hoge-app",
            id="boundary",
        ),
        pytest.param(
            scp("deny-assume", where="OU ou-x1"),
            "the service control policy deny-assume attached to OU ou-x1",
            id="scp",
        ),
        pytest.param(trust(), "the trust policy of role piyo-sqs", id="trust"),
        pytest.param(
            queue_policy("*"), "the resource-based policy orders of queue orders", id="resource"
        ),
    ],
)
def test_policy_labels(source: PolicySource, label: str) -> None:
    assert source.label() == label


@pytest.mark.parametrize(
    ("ref", "label"),
    [
        pytest.param(
            StatementRef(group_inline(name="deny-assume"), 0, "DenyAssume"),
            'statement "DenyAssume" of the inline policy deny-assume of group developers',
            id="with-sid",
        ),
        pytest.param(
            StatementRef(trust(), 1),
            "statement 2 of the trust policy of role piyo-sqs",
            id="without-sid-1-based",
        ),
    ],
)
def test_statement_labels(ref: StatementRef, label: str) -> None:
    assert ref.label() == label


@pytest.mark.parametrize(
    ("bound", "denied"),
    [
        pytest.param(None, False, id="listed-principal-spared-without-boundary"),
        pytest.param(
            boundary(allow(resource="*")), True, id="listed-principal-denied-with-boundary"
        ),
    ],
)
def test_deny_with_not_principal_always_applies_to_a_bounded_principal(
    bound: PolicySource | None, denied: bool
) -> None:
    source = PolicySource(
        PolicyKind.TRUST,
        "piyo-sqs",
        doc(
            {"Effect": "Allow", "Principal": {"AWS": TRUSTED}, "Action": ASSUME},
            {
                "Sid": "OnlyHoge",
                "Effect": "Deny",
                "NotPrincipal": {"AWS": [USER, f"arn:aws:iam::{TRUSTED}:root"]},
                "Action": ASSUME,
            },
        ),
        "role piyo-sqs",
    )
    decision = run(identity=[user_inline(allow())], resource_policy=source, bound=bound).decision
    assert decision.explicit_deny is denied
    assert decision.allowed is not denied


@pytest.mark.parametrize(
    ("document", "allowed"),
    [
        pytest.param(
            '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "sts:AssumeRole",'
            f' "Resource": "{ROLE}"}}}}',
            True,
            id="json-text",
        ),
        pytest.param(
            "%7B%22Statement%22%3A%20%7B%22Effect%22%3A%20%22Allow%22%2C%20%22Action%22%3A%20"
            "%22sts%3AAssumeRole%22%2C%20%22Resource%22%3A%20%22%2A%22%7D%7D",
            True,
            id="url-encoded-json-as-iam-returns-it",
        ),
        pytest.param("not json", False, id="not-a-document"),
    ],
)
def test_documents_given_as_text_are_parsed(document: Any, allowed: bool) -> None:
    source = PolicySource(PolicyKind.USER_INLINE, "text", document, "user hoge-app")
    decision = run(identity=[source], resource_policy=trust()).decision
    assert decision.allowed is allowed
    if not allowed:
        assert any("not a JSON policy document" in note for note in decision.notes)


@pytest.mark.parametrize(
    ("flat", "kind"),
    [
        pytest.param(
            [full_access("root r-1"), full_access("account 444455556666")],
            DecisionKind.ALLOW,
            id="every-target-allows",
        ),
        pytest.param(
            [
                full_access("root r-1"),
                scp("sqs-only", ALLOW_SQS_ONLY, where="organizational_unit ou-x1"),
                full_access("account 444455556666"),
            ],
            DecisionKind.SCP,
            id="an-ou-allowing-only-sqs-blocks",
        ),
        pytest.param(
            [
                full_access("organizational_unit ou-x1"),
                scp("sqs-only", ALLOW_SQS_ONLY, where="organizational_unit ou-x1"),
            ],
            DecisionKind.ALLOW,
            id="one-allow-among-a-targets-scps-suffices",
        ),
    ],
)
def test_a_flat_list_of_scps_is_grouped_into_levels_by_target(
    flat: list[PolicySource], kind: DecisionKind
) -> None:
    decision = run(identity=[user_inline(allow())], resource_policy=trust(), scps=flat).decision
    assert decision.kind == kind
    if kind == DecisionKind.SCP:
        assert decision.policy is not None and decision.policy.name == "sqs-only"


KEY = f"arn:aws:kms:ap-northeast-1:{TRUSTING}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.mark.parametrize(
    ("key_policy_principal", "kind"),
    [
        pytest.param(
            f"arn:aws:iam::{TRUSTING}:root", DecisionKind.ALLOW, id="key-policy-delegates-to-iam"
        ),
        pytest.param(
            f"arn:aws:iam::{TRUSTING}:user/key-admin",
            DecisionKind.NO_ALLOW,
            id="key-policy-names-someone-else",
        ),
    ],
)
def test_a_kms_key_policy_is_required_even_in_the_same_account(
    key_policy_principal: str, kind: DecisionKind
) -> None:
    key_policy = PolicySource(
        PolicyKind.RESOURCE,
        "default",
        doc(
            {
                "Effect": "Allow",
                "Principal": {"AWS": key_policy_principal},
                "Action": "kms:*",
                "Resource": "*",
            }
        ),
        "key 1234abcd",
    )
    evaluation = run(
        principal=LOCAL_USER,
        identity=[user_inline(allow("kms:*", "*"))],
        resource_policy=key_policy,
        action="kms:Decrypt",
        resource=KEY,
    )
    assert evaluation.decision.kind == kind


GRANTEE_ROLE = f"arn:aws:iam::{TRUSTED}:role/apps/batch"
GRANTEE_SESSION = f"arn:aws:sts::{TRUSTED}:assumed-role/batch/nightly"


def role_policy(kind: PolicyKind, *statements: dict) -> PolicySource:
    return PolicySource(kind, "assume-piyo", doc(*statements), "role batch")


ROLE_GRANTEES = [
    pytest.param(
        GRANTEE_SESSION,
        GRANTEE_ROLE,
        PolicyKind.ROLE_INLINE,
        DecisionKind.ALLOW,
        id="session-trust-names-role",
    ),
    pytest.param(
        GRANTEE_ROLE,
        GRANTEE_ROLE,
        PolicyKind.ROLE_MANAGED,
        DecisionKind.ALLOW,
        id="role-arn-trust-names-role",
    ),
    pytest.param(
        GRANTEE_SESSION,
        f"arn:aws:iam::{TRUSTED}:root",
        PolicyKind.ROLE_MANAGED,
        DecisionKind.ALLOW,
        id="session-trust-names-account",
    ),
    pytest.param(
        GRANTEE_SESSION,
        f"arn:aws:iam::{TRUSTED}:role/other",
        PolicyKind.ROLE_INLINE,
        DecisionKind.NO_ALLOW,
        id="trust-names-another-role",
    ),
    pytest.param(
        GRANTEE_SESSION,
        USER,
        PolicyKind.ROLE_INLINE,
        DecisionKind.NO_ALLOW,
        id="trust-names-a-user",
    ),
]


@pytest.mark.parametrize(("principal", "trusted", "kind", "expected"), ROLE_GRANTEES)
def test_role_grantees(
    principal: str, trusted: str, kind: PolicyKind, expected: DecisionKind
) -> None:
    evaluation = run(
        principal=principal,
        identity=[role_policy(kind, allow(Sid="AssumePiyo"))],
        resource_policy=trust(trusted),
    )
    assert evaluation.cross_account
    assert evaluation.decision.kind == expected
    if expected == DecisionKind.ALLOW:
        words = "inline" if kind == PolicyKind.ROLE_INLINE else "managed"
        assert evaluation.decision.deciding[0].label() == (
            f'statement "AssumePiyo" of the {words} policy assume-piyo of role batch'
        )


def test_a_trust_policy_that_admits_nobody_is_named_as_lacking_the_allow() -> None:
    evaluation = run(identity=[user_inline(allow())], resource_policy=trust(STRANGER_ROOT))
    assert evaluation.decision.kind == DecisionKind.NO_ALLOW
    assert evaluation.decision.policy is not None
    assert evaluation.decision.policy.kind == PolicyKind.TRUST


def test_no_allow_among_several_identity_policies_names_no_single_policy() -> None:
    evaluation = run(
        identity=[user_inline(allow("s3:*", "*")), group_inline(allow("sqs:*", "*"))],
        resource_policy=trust(),
    )
    assert evaluation.decision.kind == DecisionKind.NO_ALLOW
    assert evaluation.decision.policy is None
