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
