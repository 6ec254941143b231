"""Fixtures of the fault-injection suite: moto behind the fault proxy, and the checker."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from grants import aws
from grants.aws import sandbox
from grants.models import AwsAccount

from .checker import AwsReader
from .proxy import FaultProxy

# Small enough that a hung call costs under a second, large enough that a normal
# call rarely times out on a loaded 2-core machine (one that does is one more fault
# the operations must survive). botocore's own retry is off: a fault lasts until
# healed, so a retry would meet it again; the operations re-send on their own.
READ_TIMEOUT_SECONDS = 0.75
CONNECT_TIMEOUT_SECONDS = 1.0
TOTAL_MAX_ATTEMPTS = 1


@pytest.fixture(scope="module")
def moto_upstream() -> Iterator[str]:
    """One moto server per test module (reset before every test), access control off."""
    server, endpoint_url = sandbox.start_server(load_managed_policies=False)
    try:
        yield endpoint_url
    finally:
        # moto's backends are process-wide: leave none of this module's world behind.
        sandbox.reset(endpoint_url)
        server.stop()  # type: ignore[attr-defined]


@dataclass
class FaultWorld:
    """The seeded sandbox world behind the proxy, with what a test needs to reach it."""

    proxy: FaultProxy
    moto_url: str
    reader: AwsReader
    piyo: AwsAccount
    hoge: AwsAccount
    policy_arn: str  # a customer managed policy in piyo a grant can attach
    other_policy_arn: str  # another one, for drift


def managed_policy(name: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sqs:ListQueues", "Resource": "*"}],
            "Id": name,
        }
    )


def seed(reader: AwsReader) -> list[str]:
    """The part of the sandbox world the operations touch: the hub roles, the grantee
    hoge-app, and two customer managed policies in piyo (no AWS managed policies: loading
    them costs a second per account). Returns the policies' ARNs."""
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{sandbox.MANAGEMENT_ACCOUNT_ID}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    for account in (sandbox.PIYO, sandbox.HOGE):
        iam = reader.iam(account.account_id)
        iam.create_role(RoleName=sandbox.HUB_ROLE_NAME, AssumeRolePolicyDocument=trust)
    reader.iam(sandbox.HOGE.account_id).create_user(UserName=sandbox.GRANTEE_USER)
    iam = reader.iam(sandbox.PIYO.account_id)
    return [
        iam.create_policy(PolicyName=name, PolicyDocument=managed_policy(name))["Policy"]["Arn"]
        for name in ("fault-sqs-list", "fault-sqs-other")
    ]


@pytest.fixture
def fault_world(
    moto_upstream: str, settings, monkeypatch: pytest.MonkeyPatch, piyo, hoge
) -> Iterator[FaultWorld]:  # type: ignore[no-untyped-def]
    """A freshly seeded moto world; the portal reaches it only through the fault proxy."""
    sandbox.reset(moto_upstream)
    reader = AwsReader(moto_upstream)
    arns = seed(reader)
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    # Access control is off: any key acts in moto's default (management) account.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "portal")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "portal")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    proxy = FaultProxy(moto_upstream, max_hold=30)
    settings.AWS_ENDPOINT_URL = proxy.url
    settings.AWS_READ_TIMEOUT = READ_TIMEOUT_SECONDS
    settings.AWS_CONNECT_TIMEOUT = CONNECT_TIMEOUT_SECONDS
    settings.AWS_TOTAL_MAX_ATTEMPTS = TOTAL_MAX_ATTEMPTS
    aws.reset()
    try:
        yield FaultWorld(proxy, moto_upstream, reader, piyo, hoge, arns[0], arns[1])
    finally:
        proxy.stop()
        aws.reset()
