"""Properties of the IAM evaluation engine that hold for any input (hypothesis)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grants.policies import (
    DecisionKind,
    Evaluation,
    PolicyKind,
    PolicySource,
    Request,
    evaluate_condition,
    evaluate_policies,
    evaluate_request,
)
from grants.policies.matching import glob

PROPERTIES = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

USER = "arn:aws:iam::444455556666:user/hoge-app"
ROLE = "arn:aws:iam::111122223333:role/piyo-sqs"

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.text(max_size=20),
        st.sampled_from(["*", "Allow", "Deny", "sts:AssumeRole", ROLE, "${aws:username}"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.one_of(
                st.text(max_size=12),
                st.sampled_from(
                    ["Effect", "Action", "Resource", "Principal", "Condition", "StringLike"]
                ),
            ),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=20,
)

ascii_words = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="*?"),
    min_size=1,
    max_size=24,
)


@PROPERTIES
@given(document=json_values, context=st.dictionaries(st.text(max_size=12), json_values))
def test_no_document_or_context_makes_the_engine_raise(document: Any, context: dict) -> None:
    statement_document = {"Version": "2012-10-17", "Statement": document}
    evaluation = evaluate_request(
        Request(USER, "sts:AssumeRole", ROLE, context),
        identity=[PolicySource(PolicyKind.USER_INLINE, "fuzz", statement_document)],
        resource_policy=PolicySource(PolicyKind.TRUST, "piyo-sqs", statement_document),
        boundary=PolicySource(PolicyKind.BOUNDARY, "b", statement_document),
        scps=[[PolicySource(PolicyKind.SCP, "s", statement_document)]],
    )
    assert isinstance(evaluation, Evaluation)
    assert evaluation.decision.allowed is (evaluation.decision.kind == DecisionKind.ALLOW)


statements = st.fixed_dictionaries(
    {
        "Effect": st.sampled_from(["Allow", "Deny"]),
        "Action": st.sampled_from(["*", "sts:*", "sts:AssumeRole", "sqs:*", "s3:GetObject"]),
        "Resource": st.sampled_from(["*", ROLE, "arn:aws:iam::111122223333:role/*", "x"]),
    },
    optional={
        "Condition": st.sampled_from(
            [
                {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
                {"StringEquals": {"aws:username": "hoge-app"}},
                {"StringNotEquals": {"aws:username": "hoge-app"}},
            ]
        )
    },
)


@PROPERTIES
@given(found=st.lists(statements, max_size=6), mfa=st.booleans())
def test_a_matching_unconditional_deny_always_wins(found: list[dict], mfa: bool) -> None:
    guard = {"Sid": "Guard", "Effect": "Deny", "Action": "sts:AssumeRole", "Resource": ROLE}
    sources = [
        PolicySource(PolicyKind.USER_INLINE, "random", {"Statement": found}),
        PolicySource(PolicyKind.GROUP_MANAGED, "guard", {"Statement": [guard]}),
    ]
    decision = evaluate_policies(
        Request(USER, "sts:AssumeRole", ROLE, {"aws:MultiFactorAuthPresent": mfa}), sources
    )
    assert decision.kind == DecisionKind.EXPLICIT_DENY
    assert "Guard" in decision.matched


@PROPERTIES
@given(found=st.lists(statements, max_size=6))
def test_adding_an_allow_never_takes_access_away(found: list[dict]) -> None:
    request = Request(USER, "sts:AssumeRole", ROLE)
    before = evaluate_policies(
        request, [PolicySource(PolicyKind.USER_INLINE, "p", {"Statement": found})]
    )
    extra = {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": ROLE}
    after = evaluate_policies(
        request, [PolicySource(PolicyKind.USER_INLINE, "p", {"Statement": [*found, extra]})]
    )
    assert after.allowed or after.explicit_deny
    if before.allowed:
        assert after.allowed


@PROPERTIES
@given(word=ascii_words)
def test_a_pattern_without_wildcards_matches_only_itself(word: str) -> None:
    assert glob(word, word)
    assert glob("*", word)
    assert not glob(word, word + "x")
    assert glob(word[:-1] + "?", word)


@PROPERTIES
@given(word=st.text(alphabet="abcdefghijklmnopqrstuvwxyz:", min_size=1, max_size=20))
def test_actions_match_in_any_case(word: str) -> None:
    assert glob(word.upper(), word, case=False)
    assert not glob(word.upper(), word) or word.upper() == word


NEGATIONS = [
    ("StringEquals", "StringNotEquals"),
    ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"),
    ("StringLike", "StringNotLike"),
    ("NumericEquals", "NumericNotEquals"),
    ("DateEquals", "DateNotEquals"),
    ("IpAddress", "NotIpAddress"),
    ("ArnLike", "ArnNotLike"),
    ("ArnEquals", "ArnNotEquals"),
]

condition_values = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["10", "10.0", "203.0.113.0/24", "203.0.113.5", "2026-01-01T00:00:00Z"]),
    st.sampled_from(["arn:aws:iam::1:role/a", "arn:aws:iam::*:role/*", "a*", "A"]),
)


@PROPERTIES
@given(
    pair=st.sampled_from(NEGATIONS),
    expected=st.lists(condition_values, min_size=1, max_size=3),
    actual=condition_values,
)
def test_a_negated_operator_is_the_opposite_for_a_present_key(
    pair: tuple[str, str], expected: list[str], actual: str
) -> None:
    positive, negative = pair
    context = {"k": actual}
    holds = evaluate_condition({positive: {"k": expected}}, context, variables=True).holds
    negated = evaluate_condition({negative: {"k": expected}}, context, variables=True).holds
    assert negated is (not holds)


@PROPERTIES
@given(
    operator=st.sampled_from(["StringEquals", "StringLike", "StringNotEquals", "ArnLike"]),
    expected=st.lists(condition_values, min_size=1, max_size=3),
    actual=condition_values,
)
def test_set_operators_on_one_value_agree_with_the_plain_operator(
    operator: str, expected: list[str], actual: str
) -> None:
    plain = evaluate_condition({operator: {"k": expected}}, {"k": actual}, variables=True).holds
    for prefix in ("ForAllValues", "ForAnyValue"):
        qualified = {f"{prefix}:{operator}": {"k": expected}}
        assert evaluate_condition(qualified, {"k": [actual]}, variables=True).holds is plain
