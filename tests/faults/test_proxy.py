"""The fault proxy does what each fault kind promises, against a real moto server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError

from grants.aws import sandbox

from .proxy import FaultKind, FaultProxy, Rule

TRUST = '{"Version":"2012-10-17","Statement":[]}'


@pytest.fixture
def proxy(moto_upstream: str) -> Iterator[FaultProxy]:
    sandbox.reset(moto_upstream)
    proxy = FaultProxy(moto_upstream, max_hold=10)
    yield proxy
    proxy.stop()


def iam(endpoint_url: str, *, attempts: int = 1, read_timeout: float = 15) -> Any:
    """A client straight to `endpoint_url`; a short `read_timeout` for the hanging kinds
    only, as other agents may load this machine."""
    return botocore.session.Session().create_client(
        "iam",
        region_name="us-east-1",
        endpoint_url=endpoint_url,
        aws_access_key_id="proxy-test",
        aws_secret_access_key="proxy-test",
        config=Config(
            connect_timeout=5,
            read_timeout=read_timeout,
            retries={"mode": "standard", "total_max_attempts": attempts},
        ),
    )


def role_names(moto_upstream: str) -> list[str]:
    return [r["RoleName"] for r in iam(moto_upstream).list_roles()["Roles"]]


def test_a_call_without_a_rule_passes_through_and_is_named(proxy, moto_upstream) -> None:  # type: ignore[no-untyped-def]
    iam(proxy.url).create_role(RoleName="plain", AssumeRolePolicyDocument=TRUST)
    assert role_names(moto_upstream) == ["plain"]
    assert proxy.calls() == ["iam:CreateRole"]
    assert proxy.fired() == 0


def test_error_answers_internal_failure_and_moto_never_sees_the_call(proxy, moto_upstream) -> None:  # type: ignore[no-untyped-def]
    proxy.arm(Rule("iam:CreateRole", FaultKind.ERROR))
    with pytest.raises(ClientError) as caught:
        iam(proxy.url, attempts=2).create_role(RoleName="err", AssumeRolePolicyDocument=TRUST)
    assert caught.value.response["Error"]["Code"] == "InternalFailure"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert proxy.fired("iam:CreateRole") == 2  # the retry met the fault too
    assert role_names(moto_upstream) == []


def test_drop_applies_the_call_then_closes_without_an_answer(proxy, moto_upstream) -> None:  # type: ignore[no-untyped-def]
    proxy.arm(Rule("iam:CreateRole", FaultKind.DROP, times=1))
    with pytest.raises(ConnectionClosedError):
        iam(proxy.url).create_role(RoleName="dropped", AssumeRolePolicyDocument=TRUST)
    assert role_names(moto_upstream) == ["dropped"]


def test_hang_then_apply_lands_the_write_after_the_client_gave_up_and_before_its_next_call(
    proxy, moto_upstream
) -> None:  # type: ignore[no-untyped-def]
    proxy.arm(Rule("iam:CreateRole", FaultKind.HANG_THEN_APPLY))
    started = time.monotonic()
    with pytest.raises(ReadTimeoutError):
        iam(proxy.url, read_timeout=1).create_role(RoleName="late", AssumeRolePolicyDocument=TRUST)
    assert time.monotonic() - started < 5
    client = iam(proxy.url)
    # The very next read through the proxy already sees the late write.
    assert client.get_role(RoleName="late")["Role"]["RoleName"] == "late"


def test_hang_forever_never_applies_even_after_healing(proxy, moto_upstream) -> None:  # type: ignore[no-untyped-def]
    proxy.arm(Rule("iam:CreateRole", FaultKind.HANG_FOREVER))
    with pytest.raises(ReadTimeoutError):
        iam(proxy.url, read_timeout=1).create_role(RoleName="never", AssumeRolePolicyDocument=TRUST)
    proxy.heal(timeout=5)
    assert role_names(moto_upstream) == []
    iam(proxy.url).create_role(RoleName="after-heal", AssumeRolePolicyDocument=TRUST)
    assert role_names(moto_upstream) == ["after-heal"]


def test_nth_and_times_pick_which_occurrences_fail(proxy, moto_upstream) -> None:  # type: ignore[no-untyped-def]
    proxy.arm(Rule("iam:CreateRole", FaultKind.ERROR, nth=2, times=1))
    client = iam(proxy.url)
    client.create_role(RoleName="first", AssumeRolePolicyDocument=TRUST)
    with pytest.raises(ClientError):
        client.create_role(RoleName="second", AssumeRolePolicyDocument=TRUST)
    client.create_role(RoleName="third", AssumeRolePolicyDocument=TRUST)
    assert sorted(role_names(moto_upstream)) == ["first", "third"]


def test_body_contains_narrows_a_rule_to_one_request(proxy, moto_upstream) -> None:  # type: ignore[no-untyped-def]
    proxy.arm(Rule("iam:CreateRole", FaultKind.ERROR, body_contains="RoleName=bad"))
    client = iam(proxy.url)
    client.create_role(RoleName="good", AssumeRolePolicyDocument=TRUST)
    with pytest.raises(ClientError):
        client.create_role(RoleName="bad", AssumeRolePolicyDocument=TRUST)
    assert role_names(moto_upstream) == ["good"]


def test_heal_releases_a_request_held_for_a_client_that_waits_long(proxy, moto_upstream) -> None:  # type: ignore[no-untyped-def]
    import threading

    proxy.arm(Rule("*", FaultKind.HANG_FOREVER))
    patient = botocore.session.Session().create_client(
        "iam",
        region_name="us-east-1",
        endpoint_url=proxy.url,
        aws_access_key_id="proxy-test",
        aws_secret_access_key="proxy-test",
        config=Config(read_timeout=30, retries={"total_max_attempts": 1}),
    )
    errors: list[Exception] = []

    def call() -> None:
        try:
            patient.list_roles()
        except Exception as exc:
            errors.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    assert proxy.wait_fired("iam:ListRoles", timeout=5)
    started = time.monotonic()
    proxy.heal(timeout=5)
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert time.monotonic() - started < 5
    assert len(errors) == 1 and isinstance(errors[0], ConnectionClosedError)


def test_late_apply_lands_the_write_only_when_healed(proxy, moto_upstream) -> None:  # type: ignore[no-untyped-def]
    proxy.arm(Rule("iam:CreateRole", FaultKind.LATE_APPLY))
    client = iam(proxy.url)
    with pytest.raises(ReadTimeoutError):
        iam(proxy.url, read_timeout=1).create_role(RoleName="late", AssumeRolePolicyDocument=TRUST)
    assert [r["RoleName"] for r in client.list_roles()["Roles"]] == []
    proxy.heal(timeout=5)
    assert role_names(moto_upstream) == ["late"]
