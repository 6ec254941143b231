"""Pure policy builders: the exact documents the portal sends to IAM."""

from __future__ import annotations

import pytest

from grants import policies


def test_trust_policy_delegates_to_the_trusted_account() -> None:
    document = policies.trust_policy(principal_arn="arn:aws:iam::444455556666:root")
    assert document == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def test_trust_policy_adds_external_id_and_mfa_conditions() -> None:
    document = policies.trust_policy(
        principal_arn="arn:aws:iam::444455556666:user/hoge-app",
        external_id="xacct-123",
        require_mfa=True,
    )
    assert document["Statement"][0]["Condition"] == {
        "StringEquals": {"sts:ExternalId": "xacct-123"},
        "Bool": {"aws:MultiFactorAuthPresent": "true"},
    }


def test_trust_policy_refuses_a_wildcard_principal() -> None:
    with pytest.raises(ValueError, match="wildcard"):
        policies.trust_policy(principal_arn="*")


def test_queue_policy_grants_only_the_chosen_actions_on_the_chosen_queues() -> None:
    arn = policies.queue_arn("ap-northeast-1", "111122223333", "orders")
    document = policies.queue_access_policy(
        queue_arns=[arn], actions=["sqs:SendMessage", "sqs:ReceiveMessage"], allow_list_queues=False
    )
    assert document["Statement"] == [
        {
            "Sid": "ChosenQueues",
            "Effect": "Allow",
            "Action": ["sqs:ReceiveMessage", "sqs:SendMessage"],
            "Resource": ["arn:aws:sqs:ap-northeast-1:111122223333:orders"],
        }
    ]


def test_queue_policy_allows_list_queues_only_on_star() -> None:
    document = policies.queue_access_policy(queue_arns=[], actions=[], allow_list_queues=True)
    assert document["Statement"] == [
        {"Sid": "ListQueues", "Effect": "Allow", "Action": "sqs:ListQueues", "Resource": "*"}
    ]


def test_user_policy_allows_assume_role_on_exactly_the_role() -> None:
    role = policies.role_arn("111122223333", "/xacct/", "reader")
    assert role == "arn:aws:iam::111122223333:role/xacct/reader"
    assert policies.assume_role_policy(role_arn=role)["Statement"] == [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role}
    ]


def test_arns_follow_the_partition() -> None:
    assert (
        policies.account_root_arn("1" * 12, partition="aws-cn")
        == "arn:aws-cn:iam::111111111111:root"
    )
    assert (
        policies.aws_managed_policy_arn("AmazonSQSFullAccess", partition="aws-us-gov")
        == "arn:aws-us-gov:iam::aws:policy/AmazonSQSFullAccess"
    )


def test_size_ignores_whitespace() -> None:
    document = {"Version": "2012-10-17", "Statement": []}
    assert policies.size(document) == len('{"Version":"2012-10-17","Statement":[]}')
    assert policies.size(document) < len(policies.render(document))


def test_it_rejects_characters_iam_does_not_accept() -> None:
    assert policies.has_valid_characters({"Sid": "café"})
    assert not policies.has_valid_characters({"Sid": "日本"})


# --- evaluation ---------------------------------------------------------------

HOGE_APP = "arn:aws:iam::444455556666:user/hoge-app"
ROLE_ARN = "arn:aws:iam::111122223333:role/piyo-sqs"


def test_whole_account_trust_admits_any_principal_of_that_account() -> None:
    trust = policies.trust_policy(principal_arn="arn:aws:iam::444455556666:root")
    assert policies.evaluate([trust], action="sts:AssumeRole", principal_arn=HOGE_APP).allowed
    other = "arn:aws:iam::999988887777:user/mallory"
    assert not policies.evaluate([trust], action="sts:AssumeRole", principal_arn=other).allowed


def test_a_bare_account_id_principal_is_the_account() -> None:
    trust = {
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ["444455556666"]}, "Action": "sts:AssumeRole"}
        ]
    }
    assert policies.evaluate([trust], action="sts:AssumeRole", principal_arn=HOGE_APP).allowed


def test_a_principal_arn_trust_admits_only_that_principal() -> None:
    trust = policies.trust_policy(principal_arn=HOGE_APP)
    assert policies.evaluate([trust], action="sts:AssumeRole", principal_arn=HOGE_APP).allowed
    other = "arn:aws:iam::444455556666:user/someone-else"
    assert not policies.evaluate([trust], action="sts:AssumeRole", principal_arn=other).allowed


def test_external_id_must_match() -> None:
    trust = policies.trust_policy(principal_arn=HOGE_APP, external_id="xacct-1")
    decide = lambda ctx: policies.evaluate(  # noqa: E731
        [trust], action="sts:AssumeRole", principal_arn=HOGE_APP, context=ctx
    )
    assert decide({"sts:ExternalId": "xacct-1"}).allowed
    assert decide({"sts:ExternalId": "xacct-1"}).required_keys == ("sts:ExternalId",)
    assert not decide({"sts:ExternalId": "wrong"}).allowed
    assert not decide({}).allowed
    assert "condition on sts:ExternalId fails" in decide({}).notes[0]


def test_mfa_condition_fails_for_long_term_credentials() -> None:
    trust = policies.trust_policy(principal_arn=HOGE_APP, require_mfa=True)
    assert not policies.evaluate([trust], action="sts:AssumeRole", principal_arn=HOGE_APP).allowed
    assert policies.evaluate(
        [trust],
        action="sts:AssumeRole",
        principal_arn=HOGE_APP,
        context={"aws:MultiFactorAuthPresent": "true"},
    ).allowed


def test_identity_policies_match_wildcard_actions_and_resources() -> None:
    full = {"Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]}
    assert policies.evaluate([full], action="sqs:ListQueues").allowed
    listing = {"Statement": [{"Effect": "Allow", "Action": "SQS:List*", "Resource": "*"}]}
    assert policies.evaluate([listing], action="sqs:ListQueues").allowed
    queue_only = policies.queue_access_policy(
        queue_arns=["arn:aws:sqs:ap-northeast-1:111122223333:orders"],
        actions=["sqs:ReceiveMessage"],
        allow_list_queues=False,
    )
    assert not policies.evaluate([queue_only], action="sqs:ListQueues").allowed


def test_an_explicit_deny_wins() -> None:
    allow = {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    deny = {"Statement": [{"Effect": "Deny", "NotAction": "iam:*", "Resource": "*"}]}
    decision = policies.evaluate([allow, deny], action="sqs:ListQueues")
    assert not decision.allowed
    assert decision.explicit_deny


def test_user_policy_must_aim_at_this_role() -> None:
    policy = policies.assume_role_policy(role_arn=ROLE_ARN)
    assert policies.evaluate([policy], action="sts:AssumeRole", resource=ROLE_ARN).allowed
    other = "arn:aws:iam::111122223333:role/another"
    assert not policies.evaluate([policy], action="sts:AssumeRole", resource=other).allowed


def test_unknown_condition_operators_are_reported_not_trusted() -> None:
    document = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sqs:ListQueues",
                "Resource": "*",
                "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
            }
        ]
    }
    decision = policies.evaluate([document], action="sqs:ListQueues")
    assert not decision.allowed
    assert "not evaluated" in decision.notes[0]


def test_condition_keys_lists_what_a_trust_policy_requires() -> None:
    trust = policies.trust_policy(principal_arn=HOGE_APP, external_id="x-1", require_mfa=True)
    assert policies.condition_keys(trust) == {
        "sts:externalid": ["x-1"],
        "aws:multifactorauthpresent": ["true"],
    }
