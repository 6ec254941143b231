"""The Condition element, operator family by operator family.

Cases follow AWS's "IAM JSON policy elements: Condition operators" page and its
examples: each case is one Allow statement with one Condition block, evaluated for one
request context; the statement either allows or stops on its condition.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from grants.policies import (
    DecisionKind,
    PolicyKind,
    PolicySource,
    Request,
    evaluate_policies,
    parse_operator,
)

USER = "arn:aws:iam::444455556666:user/hoge-app"


def allows(condition: dict, context: dict[str, Any], *, effect: str = "Allow") -> bool:
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": effect, "Action": "s3:GetObject", "Resource": "*", "Condition": condition}
        ],
    }
    source = PolicySource(PolicyKind.USER_INLINE, "under-test", document, "user hoge-app")
    decision = evaluate_policies(Request(USER, "s3:GetObject", "*", context), [source])
    if decision.allowed:
        assert decision.kind == DecisionKind.ALLOW
    else:
        assert decision.kind == DecisionKind.CONDITION_UNMET
        assert decision.unmet, "an unmet condition is named"
    return decision.allowed


def case(id_: str, condition: dict, context: dict[str, Any], expected: bool) -> Any:
    return pytest.param(condition, context, expected, id=id_)


STRING = [
    case(
        "StringEquals-equal",
        {"StringEquals": {"aws:PrincipalTag/job": "admin"}},
        {"aws:PrincipalTag/job": "admin"},
        True,
    ),
    case(
        "StringEquals-different",
        {"StringEquals": {"aws:PrincipalTag/job": "admin"}},
        {"aws:PrincipalTag/job": "dev"},
        False,
    ),
    case(
        "StringEquals-case-sensitive",
        {"StringEquals": {"aws:PrincipalTag/job": "admin"}},
        {"aws:PrincipalTag/job": "Admin"},
        False,
    ),
    case(
        "StringEquals-missing-key", {"StringEquals": {"aws:PrincipalTag/job": "admin"}}, {}, False
    ),
    case(
        "StringEquals-values-are-OR",
        {"StringEquals": {"aws:PrincipalTag/job": ["dev", "admin"]}},
        {"aws:PrincipalTag/job": "admin"},
        True,
    ),
    case(
        "StringEquals-no-wildcards",
        {"StringEquals": {"s3:prefix": "home/*"}},
        {"s3:prefix": "home/jane"},
        False,
    ),
    case(
        "StringEquals-star-literally",
        {"StringEquals": {"s3:prefix": "home/*"}},
        {"s3:prefix": "home/*"},
        True,
    ),
    case(
        "StringEquals-bool-context",
        {"StringEquals": {"aws:SecureTransport": "true"}},
        {"aws:SecureTransport": True},
        True,
    ),
    case(
        "StringEquals-number-context",
        {"StringEquals": {"s3:max-keys": "10"}},
        {"s3:max-keys": 10},
        True,
    ),
    case(
        "StringEquals-multivalued-context-any",
        {"StringEquals": {"aws:TagKeys": "env"}},
        {"aws:TagKeys": ["owner", "env"]},
        True,
    ),
    case(
        "StringEquals-key-case-insensitive",
        {"StringEquals": {"AWS:PrincipalTag/JOB": "admin"}},
        {"aws:principaltag/job": "admin"},
        True,
    ),
    case(
        "StringNotEquals-different",
        {"StringNotEquals": {"aws:PrincipalTag/job": "admin"}},
        {"aws:PrincipalTag/job": "dev"},
        True,
    ),
    case(
        "StringNotEquals-equal",
        {"StringNotEquals": {"aws:PrincipalTag/job": "admin"}},
        {"aws:PrincipalTag/job": "admin"},
        False,
    ),
    case(
        "StringNotEquals-missing-key-true",
        {"StringNotEquals": {"aws:PrincipalTag/job": "admin"}},
        {},
        True,
    ),
    case(
        "StringNotEquals-values-are-NOR-hit",
        {"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1", "ap-northeast-1"]}},
        {"aws:RequestedRegion": "ap-northeast-1"},
        False,
    ),
    case(
        "StringNotEquals-values-are-NOR-miss",
        {"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1", "ap-northeast-1"]}},
        {"aws:RequestedRegion": "us-east-1"},
        True,
    ),
    case(
        "StringEqualsIgnoreCase-equal",
        {"StringEqualsIgnoreCase": {"aws:PrincipalTag/job": "ADMIN"}},
        {"aws:PrincipalTag/job": "admin"},
        True,
    ),
    case(
        "StringEqualsIgnoreCase-different",
        {"StringEqualsIgnoreCase": {"aws:PrincipalTag/job": "ADMIN"}},
        {"aws:PrincipalTag/job": "admins"},
        False,
    ),
    case(
        "StringNotEqualsIgnoreCase-equal",
        {"StringNotEqualsIgnoreCase": {"aws:PrincipalTag/job": "ADMIN"}},
        {"aws:PrincipalTag/job": "admin"},
        False,
    ),
    case(
        "StringNotEqualsIgnoreCase-different",
        {"StringNotEqualsIgnoreCase": {"aws:PrincipalTag/job": "ADMIN"}},
        {"aws:PrincipalTag/job": "dev"},
        True,
    ),
    case(
        "StringLike-star",
        {"StringLike": {"s3:prefix": "home/*"}},
        {"s3:prefix": "home/jane/notes"},
        True,
    ),
    case(
        "StringLike-star-miss",
        {"StringLike": {"s3:prefix": "home/*"}},
        {"s3:prefix": "public/x"},
        False,
    ),
    case(
        "StringLike-question-mark", {"StringLike": {"s3:prefix": "v?"}}, {"s3:prefix": "v2"}, True
    ),
    case(
        "StringLike-question-mark-one-char",
        {"StringLike": {"s3:prefix": "v?"}},
        {"s3:prefix": "v22"},
        False,
    ),
    case(
        "StringLike-case-sensitive",
        {"StringLike": {"s3:prefix": "Home/*"}},
        {"s3:prefix": "home/x"},
        False,
    ),
    case("StringLike-missing-key", {"StringLike": {"s3:prefix": "*"}}, {}, False),
    case(
        "StringNotLike-match",
        {"StringNotLike": {"s3:prefix": "private/*"}},
        {"s3:prefix": "private/a"},
        False,
    ),
    case(
        "StringNotLike-no-match",
        {"StringNotLike": {"s3:prefix": "private/*"}},
        {"s3:prefix": "public/a"},
        True,
    ),
    case("StringNotLike-missing-key-true", {"StringNotLike": {"s3:prefix": "private/*"}}, {}, True),
    case(
        "keys-in-one-operator-are-AND",
        {"StringEquals": {"aws:PrincipalTag/job": "admin", "aws:PrincipalTag/team": "ops"}},
        {"aws:PrincipalTag/job": "admin", "aws:PrincipalTag/team": "dev"},
        False,
    ),
    case(
        "keys-in-one-operator-all-hold",
        {"StringEquals": {"aws:PrincipalTag/job": "admin", "aws:PrincipalTag/team": "ops"}},
        {"aws:PrincipalTag/job": "admin", "aws:PrincipalTag/team": "ops"},
        True,
    ),
    case(
        "operators-are-AND",
        {
            "StringEquals": {"aws:PrincipalTag/job": "admin"},
            "Bool": {"aws:SecureTransport": "true"},
        },
        {"aws:PrincipalTag/job": "admin", "aws:SecureTransport": False},
        False,
    ),
]

NUMERIC = [
    case(
        "NumericLessThan-below",
        {"NumericLessThan": {"s3:max-keys": "10"}},
        {"s3:max-keys": 5},
        True,
    ),
    case(
        "NumericLessThan-equal",
        {"NumericLessThan": {"s3:max-keys": "10"}},
        {"s3:max-keys": 10},
        False,
    ),
    case("NumericLessThan-missing", {"NumericLessThan": {"s3:max-keys": "10"}}, {}, False),
    case(
        "NumericLessThanEquals-equal",
        {"NumericLessThanEquals": {"s3:max-keys": "10"}},
        {"s3:max-keys": "10"},
        True,
    ),
    case(
        "NumericLessThanEquals-above",
        {"NumericLessThanEquals": {"s3:max-keys": "10"}},
        {"s3:max-keys": 11},
        False,
    ),
    case(
        "NumericGreaterThan-above",
        {"NumericGreaterThan": {"s3:max-keys": "10"}},
        {"s3:max-keys": 11},
        True,
    ),
    case(
        "NumericGreaterThan-equal",
        {"NumericGreaterThan": {"s3:max-keys": "10"}},
        {"s3:max-keys": 10},
        False,
    ),
    case(
        "NumericGreaterThanEquals-equal",
        {"NumericGreaterThanEquals": {"s3:max-keys": "10"}},
        {"s3:max-keys": 10},
        True,
    ),
    case(
        "NumericGreaterThanEquals-below",
        {"NumericGreaterThanEquals": {"s3:max-keys": "10"}},
        {"s3:max-keys": 9},
        False,
    ),
    case(
        "NumericEquals-string-context",
        {"NumericEquals": {"s3:max-keys": "10"}},
        {"s3:max-keys": "10"},
        True,
    ),
    case(
        "NumericEquals-float-equal",
        {"NumericEquals": {"s3:max-keys": "10"}},
        {"s3:max-keys": 10.0},
        True,
    ),
    case(
        "NumericEquals-different",
        {"NumericEquals": {"s3:max-keys": "10"}},
        {"s3:max-keys": 11},
        False,
    ),
    case(
        "NumericEquals-not-a-number",
        {"NumericEquals": {"s3:max-keys": "10"}},
        {"s3:max-keys": "ten"},
        False,
    ),
    case(
        "NumericNotEquals-different",
        {"NumericNotEquals": {"s3:max-keys": "10"}},
        {"s3:max-keys": 11},
        True,
    ),
    case(
        "NumericNotEquals-equal",
        {"NumericNotEquals": {"s3:max-keys": "10"}},
        {"s3:max-keys": 10},
        False,
    ),
    case("NumericNotEquals-missing-true", {"NumericNotEquals": {"s3:max-keys": "10"}}, {}, True),
    case(
        "NumericLessThan-decimal",
        {"NumericLessThan": {"s3:max-keys": "2"}},
        {"s3:max-keys": "1.5"},
        True,
    ),
    case(
        "NumericGreaterThan-values-OR",
        {"NumericGreaterThan": {"s3:max-keys": ["100", "3"]}},
        {"s3:max-keys": 5},
        True,
    ),
]

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

DATE = [
    case(
        "DateLessThan-before",
        {"DateLessThan": {"aws:CurrentTime": "2026-06-30T00:00:00Z"}},
        {"aws:CurrentTime": NOW},
        True,
    ),
    case(
        "DateLessThan-after",
        {"DateLessThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"}},
        {"aws:CurrentTime": NOW},
        False,
    ),
    case(
        "DateLessThan-missing",
        {"DateLessThan": {"aws:CurrentTime": "2026-06-30T00:00:00Z"}},
        {},
        False,
    ),
    case(
        "DateGreaterThan-epoch-policy",
        {"DateGreaterThan": {"aws:CurrentTime": "1735689600"}},
        {"aws:CurrentTime": NOW},
        True,
    ),
    case(
        "DateGreaterThan-epoch-context",
        {"DateGreaterThan": {"aws:EpochTime": "2027-01-01T00:00:00Z"}},
        {"aws:EpochTime": 1767225600},
        False,
    ),
    case(
        "DateEquals-same-instant-other-zone",
        {"DateEquals": {"aws:TokenIssueTime": "2026-03-01T21:00:00+09:00"}},
        {"aws:TokenIssueTime": "2026-03-01T12:00:00Z"},
        True,
    ),
    case(
        "DateEquals-different",
        {"DateEquals": {"aws:TokenIssueTime": "2026-03-01T21:00:00+09:00"}},
        {"aws:TokenIssueTime": "2026-03-01T21:00:00Z"},
        False,
    ),
    case(
        "DateNotEquals-missing-true",
        {"DateNotEquals": {"aws:TokenIssueTime": "2026-03-01T00:00:00Z"}},
        {},
        True,
    ),
    case(
        "DateNotEquals-equal",
        {"DateNotEquals": {"aws:CurrentTime": "2026-03-01T12:00:00Z"}},
        {"aws:CurrentTime": NOW},
        False,
    ),
    case(
        "DateLessThanEquals-equal",
        {"DateLessThanEquals": {"aws:CurrentTime": "2026-03-01T12:00:00Z"}},
        {"aws:CurrentTime": NOW},
        True,
    ),
    case(
        "DateGreaterThanEquals-equal",
        {"DateGreaterThanEquals": {"aws:CurrentTime": "2026-03-01T12:00:00Z"}},
        {"aws:CurrentTime": NOW},
        True,
    ),
    case(
        "DateGreaterThanEquals-before",
        {"DateGreaterThanEquals": {"aws:CurrentTime": "2026-03-02"}},
        {"aws:CurrentTime": NOW},
        False,
    ),
    case(
        "Date-naive-context-is-utc",
        {"DateLessThan": {"aws:CurrentTime": "2026-03-01T12:00:01Z"}},
        {"aws:CurrentTime": datetime(2026, 3, 1, 12, 0)},
        True,
    ),
    case(
        "Date-unparseable-context",
        {"DateLessThan": {"aws:CurrentTime": "2026-06-30T00:00:00Z"}},
        {"aws:CurrentTime": "yesterday"},
        False,
    ),
]

BOOL = [
    case(
        "Bool-true", {"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": True}, True
    ),
    case(
        "Bool-false-context",
        {"Bool": {"aws:SecureTransport": "true"}},
        {"aws:SecureTransport": False},
        False,
    ),
    case(
        "Bool-string-context-any-case",
        {"Bool": {"aws:SecureTransport": "true"}},
        {"aws:SecureTransport": "TRUE"},
        True,
    ),
    case(
        "Bool-json-true-value",
        {"Bool": {"aws:SecureTransport": True}},
        {"aws:SecureTransport": "true"},
        True,
    ),
    case("Bool-missing-mfa-key", {"Bool": {"aws:MultiFactorAuthPresent": "true"}}, {}, False),
    case(
        "Bool-false-expected",
        {"Bool": {"aws:MultiFactorAuthPresent": "false"}},
        {"aws:MultiFactorAuthPresent": False},
        True,
    ),
    case(
        "Bool-not-a-boolean",
        {"Bool": {"aws:SecureTransport": "true"}},
        {"aws:SecureTransport": "yes"},
        False,
    ),
]

BINARY = [
    case(
        "BinaryEquals-bytes",
        {"BinaryEquals": {"key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}},
        {"key": b"BinaryValueInBase64"},
        True,
    ),
    case(
        "BinaryEquals-base64-context",
        {"BinaryEquals": {"key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}},
        {"key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="},
        True,
    ),
    case(
        "BinaryEquals-other-bytes",
        {"BinaryEquals": {"key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}},
        {"key": b"other"},
        False,
    ),
    case(
        "BinaryEquals-bad-base64-policy",
        {"BinaryEquals": {"key": "not base64!"}},
        {"key": b"x"},
        False,
    ),
    case(
        "BinaryEquals-missing", {"BinaryEquals": {"key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}, {}, False
    ),
]

IP = [
    case(
        "IpAddress-in-range",
        {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
        {"aws:SourceIp": "203.0.113.5"},
        True,
    ),
    case(
        "IpAddress-out-of-range",
        {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
        {"aws:SourceIp": "198.51.100.1"},
        False,
    ),
    case("IpAddress-missing", {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {}, False),
    case(
        "IpAddress-single-address",
        {"IpAddress": {"aws:SourceIp": "203.0.113.7"}},
        {"aws:SourceIp": "203.0.113.7"},
        True,
    ),
    case(
        "IpAddress-ranges-OR",
        {"IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"]}},
        {"aws:SourceIp": "203.0.113.9"},
        True,
    ),
    case(
        "IpAddress-ipv6-in-range",
        {"IpAddress": {"aws:SourceIp": "2001:DB8:1234:5678::/64"}},
        {"aws:SourceIp": "2001:db8:1234:5678::1"},
        True,
    ),
    case(
        "IpAddress-ipv6-out-of-range",
        {"IpAddress": {"aws:SourceIp": "2001:DB8:1234:5678::/64"}},
        {"aws:SourceIp": "2001:db8:1234:9999::1"},
        False,
    ),
    case(
        "IpAddress-v4-against-v6-range",
        {"IpAddress": {"aws:SourceIp": "2001:DB8::/32"}},
        {"aws:SourceIp": "203.0.113.5"},
        False,
    ),
    case(
        "IpAddress-not-an-address",
        {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
        {"aws:SourceIp": "localhost"},
        False,
    ),
    case(
        "NotIpAddress-outside",
        {"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
        {"aws:SourceIp": "198.51.100.1"},
        True,
    ),
    case(
        "NotIpAddress-inside",
        {"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
        {"aws:SourceIp": "203.0.113.1"},
        False,
    ),
    case(
        "NotIpAddress-missing-true", {"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {}, True
    ),
]

TOPIC = "arn:aws:sns:us-east-1:123456789012:TopicA"

ARN = [
    case(
        "ArnEquals-equal", {"ArnEquals": {"aws:SourceArn": TOPIC}}, {"aws:SourceArn": TOPIC}, True
    ),
    case(
        "ArnEquals-different",
        {"ArnEquals": {"aws:SourceArn": TOPIC}},
        {"aws:SourceArn": TOPIC + "B"},
        False,
    ),
    case(
        "ArnEquals-wildcard-segment",
        {"ArnEquals": {"aws:SourceArn": "arn:aws:sqs:*:111122223333:q"}},
        {"aws:SourceArn": "arn:aws:sqs:ap-northeast-1:111122223333:q"},
        True,
    ),
    case(
        "ArnLike-role-prefix",
        {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/app-*"}},
        {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/app-x"},
        True,
    ),
    case(
        "ArnLike-case-sensitive",
        {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/App"}},
        {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/app"},
        False,
    ),
    case(
        "ArnLike-star-does-not-cross-segments",
        {"ArnLike": {"aws:SourceArn": "arn:aws:s3:*:bucket"}},
        {"aws:SourceArn": "arn:aws:s3:::bucket"},
        False,
    ),
    case(
        "ArnLike-empty-segments",
        {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::bucket*"}},
        {"aws:SourceArn": "arn:aws:s3:::bucket-1"},
        True,
    ),
    case(
        "ArnLike-resource-part-keeps-colons",
        {"ArnLike": {"aws:SourceArn": "arn:aws:logs:us-east-1:123456789012:log-group:*"}},
        {"aws:SourceArn": "arn:aws:logs:us-east-1:123456789012:log-group:app:stream"},
        True,
    ),
    case(
        "ArnLike-not-an-arn",
        {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::*"}},
        {"aws:SourceArn": "bucket"},
        False,
    ),
    case("ArnLike-missing", {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::*"}}, {}, False),
    case(
        "ArnNotEquals-different",
        {"ArnNotEquals": {"aws:SourceArn": TOPIC}},
        {"aws:SourceArn": TOPIC + "B"},
        True,
    ),
    case(
        "ArnNotEquals-equal",
        {"ArnNotEquals": {"aws:SourceArn": TOPIC}},
        {"aws:SourceArn": TOPIC},
        False,
    ),
    case(
        "ArnNotLike-match",
        {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/admin-*"}},
        {"aws:PrincipalArn": "arn:aws:iam::1:role/admin-a"},
        False,
    ),
    case(
        "ArnNotLike-missing-true",
        {"ArnNotLike": {"aws:SourceArn": "arn:aws:iam::*:role/admin-*"}},
        {},
        True,
    ),
]

NULL = [
    case("Null-true-key-absent", {"Null": {"aws:TokenIssueTime": "true"}}, {}, True),
    case(
        "Null-true-key-present",
        {"Null": {"aws:TokenIssueTime": "true"}},
        {"aws:TokenIssueTime": NOW},
        False,
    ),
    case(
        "Null-false-key-present",
        {"Null": {"aws:TokenIssueTime": "false"}},
        {"aws:TokenIssueTime": NOW},
        True,
    ),
    case("Null-false-key-absent", {"Null": {"aws:TokenIssueTime": "false"}}, {}, False),
    case("Null-empty-list-is-null", {"Null": {"aws:TagKeys": "true"}}, {"aws:TagKeys": []}, True),
    case(
        "Null-json-boolean",
        {"Null": {"aws:TokenIssueTime": False}},
        {"aws:TokenIssueTime": NOW},
        True,
    ),
]

IF_EXISTS = [
    case(
        "StringEqualsIfExists-absent",
        {"StringEqualsIfExists": {"ec2:InstanceType": "t3.micro"}},
        {},
        True,
    ),
    case(
        "StringEqualsIfExists-present-equal",
        {"StringEqualsIfExists": {"ec2:InstanceType": "t3.micro"}},
        {"ec2:InstanceType": "t3.micro"},
        True,
    ),
    case(
        "StringEqualsIfExists-present-different",
        {"StringEqualsIfExists": {"ec2:InstanceType": "t3.micro"}},
        {"ec2:InstanceType": "m5.large"},
        False,
    ),
    case(
        "NumericLessThanIfExists-absent",
        {"NumericLessThanIfExists": {"s3:max-keys": "10"}},
        {},
        True,
    ),
    case("BoolIfExists-absent", {"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}}, {}, True),
    case(
        "BoolIfExists-present-false",
        {"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}},
        {"aws:MultiFactorAuthPresent": False},
        False,
    ),
    case(
        "ArnLikeIfExists-present-other",
        {"ArnLikeIfExists": {"aws:SourceArn": "arn:aws:s3:::a*"}},
        {"aws:SourceArn": "arn:aws:s3:::b"},
        False,
    ),
    case(
        "IpAddressIfExists-absent",
        {"IpAddressIfExists": {"aws:SourceIp": "203.0.113.0/24"}},
        {},
        True,
    ),
    case(
        "DateLessThanIfExists-present-after",
        {"DateLessThanIfExists": {"aws:CurrentTime": "2026-01-01T00:00:00Z"}},
        {"aws:CurrentTime": NOW},
        False,
    ),
]

SETS = [
    case(
        "ForAllValues-all-in-set",
        {"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "cost"]}},
        {"aws:TagKeys": ["env"]},
        True,
    ),
    case(
        "ForAllValues-one-outside",
        {"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "cost"]}},
        {"aws:TagKeys": ["env", "owner"]},
        False,
    ),
    case(
        "ForAllValues-missing-key-true",
        {"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "cost"]}},
        {},
        True,
    ),
    case(
        "ForAllValues-empty-set-true",
        {"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "cost"]}},
        {"aws:TagKeys": []},
        True,
    ),
    case(
        "ForAllValues-single-value",
        {"ForAllValues:StringEquals": {"aws:TagKeys": ["env"]}},
        {"aws:TagKeys": "env"},
        True,
    ),
    case(
        "ForAllValues-StringLike",
        {"ForAllValues:StringLike": {"aws:TagKeys": "dev-*"}},
        {"aws:TagKeys": ["dev-a", "dev-b"]},
        True,
    ),
    case(
        "ForAllValues-StringLike-one-outside",
        {"ForAllValues:StringLike": {"aws:TagKeys": "dev-*"}},
        {"aws:TagKeys": ["dev-a", "prod"]},
        False,
    ),
    case(
        "ForAllValues-StringNotEquals-none-listed",
        {"ForAllValues:StringNotEquals": {"aws:TagKeys": "secret"}},
        {"aws:TagKeys": ["a", "b"]},
        True,
    ),
    case(
        "ForAllValues-StringNotEquals-one-listed",
        {"ForAllValues:StringNotEquals": {"aws:TagKeys": "secret"}},
        {"aws:TagKeys": ["a", "secret"]},
        False,
    ),
    case(
        "ForAnyValue-one-matches",
        {"ForAnyValue:StringEquals": {"aws:TagKeys": "env"}},
        {"aws:TagKeys": ["env", "x"]},
        True,
    ),
    case(
        "ForAnyValue-none-matches",
        {"ForAnyValue:StringEquals": {"aws:TagKeys": "env"}},
        {"aws:TagKeys": ["x"]},
        False,
    ),
    case(
        "ForAnyValue-missing-key-false",
        {"ForAnyValue:StringEquals": {"aws:TagKeys": "env"}},
        {},
        False,
    ),
    case(
        "ForAnyValue-empty-set-false",
        {"ForAnyValue:StringEquals": {"aws:TagKeys": "env"}},
        {"aws:TagKeys": []},
        False,
    ),
    case(
        "ForAnyValue-StringNotEquals-one-other",
        {"ForAnyValue:StringNotEquals": {"aws:TagKeys": "env"}},
        {"aws:TagKeys": ["env", "x"]},
        True,
    ),
    case(
        "ForAnyValue-StringNotEquals-all-listed",
        {"ForAnyValue:StringNotEquals": {"aws:TagKeys": "env"}},
        {"aws:TagKeys": ["env"]},
        False,
    ),
    case(
        "ForAnyValue-IfExists-missing",
        {"ForAnyValue:StringEqualsIfExists": {"aws:TagKeys": "env"}},
        {},
        True,
    ),
]


@pytest.mark.parametrize(
    ("condition", "context", "expected"),
    STRING + NUMERIC + DATE + BOOL + BINARY + IP + ARN + NULL + IF_EXISTS + SETS,
)
def test_condition_operator(condition: dict, context: dict[str, Any], expected: bool) -> None:
    assert allows(condition, context) is expected


# A Deny's condition decides whether the Deny applies (AWS's MFA examples).
DENY_CASES = [
    # Deny unless MFA, written with BoolIfExists: long-term keys (key absent) are denied.
    case(
        "BoolIfExists-false-denies-without-mfa",
        {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
        {},
        True,
    ),
    case(
        "BoolIfExists-false-spares-mfa",
        {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
        {"aws:MultiFactorAuthPresent": True},
        False,
    ),
    # The pitfall AWS documents: plain Bool false never matches when the key is absent.
    case(
        "Bool-false-misses-absent-key", {"Bool": {"aws:MultiFactorAuthPresent": "false"}}, {}, False
    ),
    case(
        "StringNotEquals-region-denies-others",
        {"StringNotEquals": {"aws:RequestedRegion": ["ap-northeast-1"]}},
        {"aws:RequestedRegion": "us-east-1"},
        True,
    ),
    case(
        "StringNotEquals-region-spares-listed",
        {"StringNotEquals": {"aws:RequestedRegion": ["ap-northeast-1"]}},
        {"aws:RequestedRegion": "ap-northeast-1"},
        False,
    ),
]


@pytest.mark.parametrize(("condition", "context", "denied"), DENY_CASES)
def test_deny_condition_decides_whether_the_deny_applies(
    condition: dict, context: dict[str, Any], denied: bool
) -> None:
    allow = {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    deny = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Guard",
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": condition,
            }
        ],
    }
    decision = evaluate_policies(
        Request(USER, "s3:GetObject", "*", context),
        [
            PolicySource(
                PolicyKind.USER_MANAGED, "arn:aws:iam::aws:policy/AdministratorAccess", allow
            ),
            PolicySource(PolicyKind.GROUP_INLINE, "guard", deny, "group developers"),
        ],
    )
    assert decision.explicit_deny is denied
    assert decision.allowed is (not denied)
    if denied:
        assert decision.deciding[0].sid == "Guard"


@pytest.mark.parametrize(
    ("operator", "parsed"),
    [
        pytest.param("StringLike", ("StringLike", "", False), id="plain"),
        pytest.param("StringLikeIfExists", ("StringLike", "", True), id="if-exists"),
        pytest.param(
            "ForAllValues:StringEquals", ("StringEquals", "ForAllValues", False), id="for-all"
        ),
        pytest.param(
            "ForAnyValue:ArnLikeIfExists", ("ArnLike", "ForAnyValue", True), id="for-any-if-exists"
        ),
        pytest.param("Null", ("Null", "", False), id="null"),
        pytest.param("NullIfExists", None, id="null-has-no-if-exists"),
        pytest.param("ForSomeValues:StringEquals", None, id="unknown-set-operator"),
        pytest.param("StringSortOf", None, id="unknown-operator"),
    ],
)
def test_operators_parse_as_aws_spells_them(operator: str, parsed: tuple | None) -> None:
    result = parse_operator(operator)
    if parsed is None:
        assert result is None
    else:
        assert result is not None
        assert (result.base, result.set_operator, result.if_exists) == parsed


def test_an_unknown_operator_stops_an_allow_and_names_it() -> None:
    document = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "*",
                "Resource": "*",
                "Condition": {"StringSortOf": {"aws:PrincipalTag/x": "y"}},
            }
        ]
    }
    decision = evaluate_policies(
        Request(USER, "s3:GetObject", "*", {"aws:PrincipalTag/x": "y"}),
        [PolicySource(PolicyKind.USER_INLINE, "odd", document, "user hoge-app")],
    )
    assert decision.kind == DecisionKind.CONDITION_UNMET
    assert [(u.operator, u.key) for u in decision.unmet] == [("StringSortOf", "aws:PrincipalTag/x")]
    assert any("not evaluated here" in note for note in decision.notes)


def test_an_unknown_operator_makes_a_deny_apply() -> None:
    allow = {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    deny = {
        "Statement": [
            {
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {"StringSortOf": {"aws:PrincipalTag/x": "y"}},
            }
        ]
    }
    decision = evaluate_policies(
        Request(USER, "s3:GetObject", "*"),
        [
            PolicySource(PolicyKind.USER_INLINE, "all", allow),
            PolicySource(PolicyKind.USER_INLINE, "odd", deny),
        ],
    )
    assert decision.kind == DecisionKind.EXPLICIT_DENY
    assert decision.policy is not None and decision.policy.name == "odd"
    assert any("cautiously" in note for note in decision.notes)


def test_every_failing_condition_is_named_not_just_the_first() -> None:
    document = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"sts:ExternalId": "x-1"},
                    "Bool": {"aws:MultiFactorAuthPresent": "true"},
                },
            }
        ]
    }
    decision = evaluate_policies(
        Request(USER, "sts:AssumeRole", "*"),
        [PolicySource(PolicyKind.USER_INLINE, "p", document)],
    )
    assert decision.unmet_keys == ("sts:ExternalId", "aws:MultiFactorAuthPresent")
    assert [u.operator for u in decision.unmet] == ["StringEquals", "Bool"]


# AWS's "Multivalued context key examples": a Deny with a set operator, and how each
# request context is judged (match = the Deny applies).
MULTIVALUED_DENY_TABLE = [
    case(
        "ForAllValues-NotLike-key1-prefixed-not-denied",
        {"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}},
        {"aws:TagKeys": ["key1:legal"]},
        False,
    ),
    case(
        "ForAllValues-NotLike-all-key1-not-denied",
        {"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}},
        {"aws:TagKeys": ["key1:hr", "key1:personnel"]},
        False,
    ),
    case(
        "ForAllValues-NotLike-other-key-denied",
        {"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}},
        {"aws:TagKeys": ["key2:audit"]},
        True,
    ),
    case(
        "ForAllValues-NotLike-no-key-denied",
        {"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}},
        {},
        True,
    ),
    case(
        "ForAnyValue-Equals-webserver-denied",
        {"ForAnyValue:StringEquals": {"aws:TagKeys": ["webserver"]}},
        {"aws:TagKeys": ["webserver", "other"]},
        True,
    ),
    case(
        "ForAnyValue-Equals-other-not-denied",
        {"ForAnyValue:StringEquals": {"aws:TagKeys": ["webserver"]}},
        {"aws:TagKeys": ["other"]},
        False,
    ),
    case(
        "ForAnyValue-Equals-no-key-not-denied",
        {"ForAnyValue:StringEquals": {"aws:TagKeys": ["webserver"]}},
        {},
        False,
    ),
]


@pytest.mark.parametrize(("condition", "context", "denied"), MULTIVALUED_DENY_TABLE)
def test_multivalued_deny_examples_from_aws(
    condition: dict, context: dict[str, Any], denied: bool
) -> None:
    deny = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Deny", "Action": "iam:Tag*", "Resource": "*", "Condition": condition},
            {"Effect": "Allow", "Action": "iam:Tag*", "Resource": "*"},
        ],
    }
    decision = evaluate_policies(
        Request(USER, "iam:TagRole", "*", context),
        [PolicySource(PolicyKind.USER_INLINE, "tags", deny, "user hoge-app")],
    )
    assert decision.explicit_deny is denied
    assert decision.allowed is not denied
