"""Test access: every failure kind fails the right step with the right explanation."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from grants import aws, policies, services
from grants.aws import core, sandbox
from grants.models import AuditAction, AuditEvent, Grant, GrantStatus, Verification

from .test_services_grants import ROLE
from .test_verification_pipeline import provisioned

pytestmark = pytest.mark.django_db


def provision(piyo, hoge, **overrides: Any) -> Grant:  # type: ignore[no-untyped-def]
    # Both halves made directly: these tests are about verification, not provisioning.
    return provisioned(piyo, hoge, **overrides)


def verify(grant: Grant) -> tuple[Verification, dict[str, dict]]:
    verification = services.grant_verify(grant=grant, actor=None)
    return verification, {step["key"]: step for step in verification.steps}


def iam(account, method: str, **params: Any) -> Any:  # type: ignore[no-untyped-def]
    return core.call(account.access(), "iam", method, **params)


def test_it_passes_and_lists_piyos_queues_as_the_grantee(enforcing, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge, grantee_profile=sandbox.GRANTEE_PROFILE)
    verification, _ = verify(grant)
    assert verification.passed, verification.steps
    assert [s["status"] for s in verification.steps] == ["pass"] * 5
    assert sorted(u.rsplit("/", 1)[1] for u in verification.queue_urls) == sorted(
        sandbox.PIYO_QUEUES
    )
    assert verification.acted_as == "The grantee (profile hoge-app)"
    assert verification.assumed_role_arn.startswith(
        f"arn:aws:sts::111122223333:assumed-role/{ROLE}/xacct-verify"
    )
    grant.refresh_from_db()
    assert (grant.status, grant.last_verification_ok) == (GrantStatus.ACTIVE, True)
    event = AuditEvent.objects.get(action=AuditAction.GRANT_VERIFY)
    assert event.outcome == "success" and event.request_id


def test_without_a_grantee_profile_it_acts_as_the_portal_in_the_trusted_account(
    aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    verification, _ = verify(grant)
    assert verification.passed
    assert verification.acted_as.startswith("The portal in hoge")


def test_a_deleted_user_policy_fails_the_policy_check_and_the_live_call(
    enforcing, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    assume_calls: list[str] = []
    aws.gateway().events.register(
        "before-call.sts.AssumeRole",
        lambda params, **kw: assume_calls.append(str(params["body"]["RoleArn"])),
    )
    grant = provision(piyo, hoge, grantee_profile=sandbox.GRANTEE_PROFILE)
    aws.user_policy_delete(
        hoge.access(), user_name=grant.grantee_name, policy_name=grant.user_policy_name
    )
    verification, steps = verify(grant)
    assert not verification.passed
    assert steps["user_policy"]["status"] == "fail"
    assert (
        steps["user_policy"]["summary"] == f"The user policy {grant.user_policy_name} is missing."
    )
    assume = steps["assume"]
    assert assume["status"] == "fail"
    assert assume["error"]["code"] == "AccessDenied"
    assert assume["error"]["http_status"] == 403
    assert assume["error"]["request_id"]
    assert "is missing" in assume["explanation"]
    grant.refresh_from_db()
    assert grant.status == GrantStatus.FAILING
    # The failing check explains the denial: no waiting for IAM propagation.
    assert assume_calls.count(grant.role_arn) == 1


def test_a_user_policy_aimed_at_another_role_is_named(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    other = policies.assume_role_policy(role_arn="arn:aws:iam::111122223333:role/other")
    aws.user_policy_put(
        hoge.access(),
        user_name=grant.grantee_name,
        policy_name=grant.user_policy_name,
        document=json.dumps(other),
    )
    _, steps = verify(grant)
    assert steps["user_policy"]["summary"].endswith("is aimed at another role.")


def test_detached_permissions_fail_the_permission_check_and_list_queues(
    enforcing, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge, grantee_profile=sandbox.GRANTEE_PROFILE)
    aws.role_policy_detach(piyo.access(), role_name=ROLE, policy_arn=grant.managed_policy_arns[0])
    verification, steps = verify(grant)
    assert steps["permissions"]["status"] == "fail"
    assert "do not allow sqs:ListQueues" in steps["permissions"]["summary"]
    assert steps["assume"]["status"] == "pass"
    listing = steps["list_queues"]
    assert listing["status"] == "fail"
    assert listing["error"]["code"] == "AccessDenied"
    assert "do not allow sqs:ListQueues" in listing["explanation"]
    assert verification.queue_urls == []


def test_a_trust_policy_for_another_account_is_caught_although_the_sandbox_lets_it_through(
    enforcing, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge, grantee_profile=sandbox.GRANTEE_PROFILE)
    elsewhere = policies.trust_policy(principal_arn="arn:aws:iam::999988887777:root")
    iam(piyo, "update_assume_role_policy", RoleName=ROLE, PolicyDocument=json.dumps(elsewhere))
    verification, steps = verify(grant)
    assert not verification.passed
    trust = steps["trust"]
    assert trust["status"] == "fail"
    assert (
        trust["summary"]
        == "The trust policy does not admit arn:aws:iam::444455556666:user/hoge-app."
    )
    assert "arn:aws:iam::999988887777:root" in trust["explanation"]
    # moto does not enforce trust policies: the live call passes, and the page says so.
    assert steps["assume"]["status"] == "pass"
    assert "does not enforce trust policies" in " ".join(steps["assume"]["notes"])


def test_a_deleted_role_is_explained_and_the_live_calls_are_not_run(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    aws.role_policy_detach(piyo.access(), role_name=ROLE, policy_arn=grant.managed_policy_arns[0])
    aws.role_delete(piyo.access(), name=ROLE)
    verification, steps = verify(grant)
    assert steps["trust"]["summary"] == f"The role {ROLE} does not exist in {piyo}."
    assert steps["trust"]["fix"] == "Provision the grant again, or revoke it."
    assert [steps[k]["status"] for k in ("permissions", "assume", "list_queues")] == ["skip"] * 3
    assert not verification.passed


def test_a_wrong_external_id_condition_is_caught(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge, external_id="xacct-right")
    wrong = policies.trust_policy(
        principal_arn="arn:aws:iam::444455556666:root", external_id="xacct-wrong"
    )
    iam(piyo, "update_assume_role_policy", RoleName=ROLE, PolicyDocument=json.dumps(wrong))
    _, steps = verify(grant)
    assert steps["trust"]["summary"] == "The external ID is wrong."
    assert "xacct-wrong" in steps["trust"]["explanation"]


def test_a_missing_external_id_condition_is_caught(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge, external_id="xacct-right")
    bare = policies.trust_policy(principal_arn="arn:aws:iam::444455556666:root")
    iam(piyo, "update_assume_role_policy", RoleName=ROLE, PolicyDocument=json.dumps(bare))
    _, steps = verify(grant)
    assert steps["trust"]["summary"] == "The trust policy no longer requires the external ID."


def test_an_external_id_the_grant_does_not_know_is_caught(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    required = policies.trust_policy(
        principal_arn="arn:aws:iam::444455556666:root", external_id="xacct-unknown"
    )
    iam(piyo, "update_assume_role_policy", RoleName=ROLE, PolicyDocument=json.dumps(required))
    _, steps = verify(grant)
    assert steps["trust"]["summary"] == (
        "The trust policy requires an external ID the grant does not have."
    )


def test_the_external_id_is_passed_to_assume_role(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    sent: list[dict] = []
    aws.gateway().events.register(
        "provide-client-params.sts.AssumeRole", lambda params, **kw: sent.append(dict(params))
    )
    grant = provision(piyo, hoge, external_id="xacct-right")
    verify(grant)
    grant_calls = [p for p in sent if p["RoleArn"] == grant.role_arn]
    assert grant_calls[0]["ExternalId"] == "xacct-right"
    assert grant_calls[0]["RoleSessionName"] == "xacct-verify"


def test_an_unreachable_endpoint_is_a_client_side_error(aws_world, piyo, hoge, settings) -> None:  # type: ignore[no-untyped-def]
    import socket

    grant = provision(piyo, hoge)
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    settings.AWS_ENDPOINT_URL = f"http://127.0.0.1:{port}"
    verification, steps = verify(grant)
    trust = steps["trust"]
    assert trust["error"]["client_error"] == "EndpointConnectionError"
    assert "could not be reached" in trust["explanation"]
    assert not verification.passed


def deny_assume_role_once() -> list[int]:
    """AssumeRole of the grant's role is denied the first time, as right after a change."""
    calls: list[int] = []

    def deny(params: dict, **kwargs: Any) -> Any:
        if f"role/{ROLE}" not in str(params.get("body")):
            return None
        calls.append(len(calls) + 1)
        if len(calls) > 1:
            return None
        http = AWSResponse("https://sts.amazonaws.com/", 403, {}, None)
        return http, {
            "Error": {"Code": "AccessDenied", "Message": "not yet", "Type": "Sender"},
            "ResponseMetadata": {"HTTPStatusCode": 403, "RequestId": "early"},
        }

    aws.gateway().events.register("before-call.sts.AssumeRole", deny)
    return calls


def test_access_denied_right_after_a_change_is_retried(aws_world, piyo, hoge, settings) -> None:  # type: ignore[no-untyped-def]
    settings.XACCT_VERIFY_PROPAGATION_RETRY_SECONDS = 5
    calls = deny_assume_role_once()
    grant = provision(piyo, hoge, grantee_profile="")
    verification, steps = verify(grant)
    assert verification.passed
    assert "IAM changes take a while to propagate" in steps["assume"]["notes"][0]
    assert calls == [1, 2]


def test_access_denied_long_after_a_change_is_not_retried(aws_world, piyo, hoge, settings) -> None:  # type: ignore[no-untyped-def]
    settings.XACCT_IAM_PROPAGATION_WINDOW_SECONDS = 0
    deny_assume_role_once()
    grant = provision(piyo, hoge, grantee_profile="")
    verification, steps = verify(grant)
    assert not verification.passed
    assert steps["assume"]["error"]["request_id"] == "early"


def test_verification_keeps_no_temporary_credentials(enforcing, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    captured: list[aws.AssumedRole] = []
    original = aws.role_assume

    def spy(*args: Any, **kwargs: Any) -> aws.AssumedRole:
        captured.append(original(*args, **kwargs))
        return captured[-1]

    grant = provision(piyo, hoge, grantee_profile=sandbox.GRANTEE_PROFILE)
    import grants.services.verification as module

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module.aws, "role_assume", spy)
        verification, _ = verify(grant)
    assert captured
    stored = json.dumps(
        [list(Verification.objects.values()), list(AuditEvent.objects.values("message"))],
        default=str,
    )
    for secret in (captured[0].access_key, captured[0].secret_key, captured[0].token):
        assert secret not in stored
    assert verification.assumed_role_arn in stored


def test_repeated_test_access_builds_no_new_botocore_session(enforcing, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    from unittest import mock

    import botocore.session

    grant = provision(piyo, hoge, grantee_profile=sandbox.GRANTEE_PROFILE)
    verify(grant)  # the first click resolves the grantee profile once
    with mock.patch.object(botocore.session, "Session", wraps=botocore.session.Session) as made:
        for _ in range(3):
            assert verify(grant)[0].passed
    assert made.call_count == 0
