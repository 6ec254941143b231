"""Test access as a pipeline: verdicts that agree with AWS for the setups people really use.

Each case of issue 10 runs against in-process moto (access control on where the
live call must be denied as AWS would): permissions through groups, Deny
statements wherever they are attached, MFA in the trust policy, external trusted
accounts, orphaned principals, boundaries and SCPs.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import call_command

from grants import aws, services
from grants.aws import core, sandbox
from grants.models import AccessMethod, Grant, GrantStatus, Verification, VerificationOutcome

from .conftest import make_account
from .test_services_grants import ROLE, draft

pytestmark = pytest.mark.django_db

ROLE_ARN = f"arn:aws:iam::111122223333:role/{ROLE}"
HOGE_APP = "arn:aws:iam::444455556666:user/hoge-app"


def provisioned(piyo, hoge, **overrides: Any) -> Grant:  # type: ignore[no-untyped-def]
    """The grant's two halves made directly in the sandbox accounts, and its record active."""
    overrides.setdefault("grantee_profile", "")
    grant = draft(piyo, hoge, **overrides)
    arn, _ = aws.role_create(
        piyo.access(),
        name=grant.role_name,
        path=grant.role_path,
        trust_policy=json.dumps(grant.trust_policy),
        description=grant.role_description,
        max_session_duration=grant.max_session_duration,
        tags={"xacct:grant": "test"},
    )
    for policy_arn in grant.managed_policy_arns:
        aws.role_policy_attach(piyo.access(), role_name=grant.role_name, policy_arn=policy_arn)
    if hoge is not None and hoge.access_method != AccessMethod.EXTERNAL:
        aws.grantee_policy_put(
            hoge.access(),
            grantee_type=grant.grantee_type,
            grantee_name=grant.grantee_name,
            policy_name=grant.user_policy_name,
            document=json.dumps(grant.user_policy),
        )
    grant.role_arn = arn
    grant.status = GrantStatus.ACTIVE
    grant.save()
    return grant


def verify(grant: Grant) -> tuple[Verification, dict[str, dict]]:
    verification = services.grant_verify(grant=grant, actor=None)
    return verification, {step["key"]: step for step in verification.steps}


def iam(account, method: str, **params: Any) -> Any:  # type: ignore[no-untyped-def]
    return core.call(account.access(), "iam", method, **params)


def page_text(verification: Verification) -> str:
    return json.dumps(verification.steps)


ASSUME_THE_ROLE = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "AssumeIt", "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": ROLE_ARN}
    ],
}
DENY_ASSUME = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "DenyAssume",
            "Effect": "Deny",
            "Action": "sts:AssumeRole",
            "Resource": "arn:aws:iam::111122223333:role/*",
        }
    ],
}


def move_permission_to_group(hoge, grant: Grant, *, managed: bool) -> None:  # type: ignore[no-untyped-def]
    """hoge-app's sts:AssumeRole comes only from a group: the user policy is deleted."""
    aws.user_policy_delete(
        hoge.access(), user_name=grant.grantee_name, policy_name=grant.user_policy_name
    )
    iam(hoge, "create_group", GroupName="readers")
    iam(hoge, "add_user_to_group", GroupName="readers", UserName="hoge-app")
    if managed:
        arn = iam(
            hoge,
            "create_policy",
            PolicyName="assume-piyo",
            PolicyDocument=json.dumps(ASSUME_THE_ROLE),
        )["Policy"]["Arn"]
        iam(hoge, "attach_group_policy", GroupName="readers", PolicyArn=arn)
    else:
        iam(
            hoge,
            "put_group_policy",
            GroupName="readers",
            PolicyName="assume-piyo",
            PolicyDocument=json.dumps(ASSUME_THE_ROLE),
        )


@pytest.mark.parametrize("managed", [False, True], ids=["group-inline", "group-managed"])
def test_an_allow_through_a_group_passes_as_the_grantee(enforcing, piyo, hoge, managed) -> None:  # type: ignore[no-untyped-def]
    grant = provisioned(piyo, hoge, grantee_profile=sandbox.GRANTEE_PROFILE)
    move_permission_to_group(hoge, grant, managed=managed)
    verification, steps = verify(grant)
    assert verification.outcome == VerificationOutcome.PASSED_GRANTEE, verification.steps
    assert [s["status"] for s in verification.steps] == ["pass"] * 5
    assert "of group readers" in steps["user_policy"]["summary"]
    assert len(verification.queue_urls) == 3
    grant.refresh_from_db()
    assert (grant.status, grant.last_verification_ok) == (GrantStatus.ACTIVE, True)


def count_assume_calls() -> list[str]:
    calls: list[str] = []
    aws.gateway().events.register(
        "before-call.sts.AssumeRole",
        lambda params, **kw: calls.append(str(params["body"]["RoleArn"])),
    )
    return calls


def add_deny_group(hoge) -> None:  # type: ignore[no-untyped-def]
    iam(hoge, "create_group", GroupName="blockers")
    iam(hoge, "add_user_to_group", GroupName="blockers", UserName="hoge-app")
    iam(
        hoge,
        "put_group_policy",
        GroupName="blockers",
        PolicyName="deny-assume",
        PolicyDocument=json.dumps(DENY_ASSUME),
    )


@pytest.mark.parametrize("profile", [sandbox.GRANTEE_PROFILE, ""], ids=["grantee", "portal"])
def test_a_deny_in_a_group_fails_naming_the_group_and_the_policy(
    enforcing, piyo, hoge, profile, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.XACCT_VERIFY_PROPAGATION_RETRY_SECONDS = 5
    grant = provisioned(piyo, hoge, grantee_profile=profile)
    add_deny_group(hoge)
    calls = count_assume_calls()
    verification, steps = verify(grant)
    assert verification.outcome == VerificationOutcome.FAILED
    step = steps["user_policy"]
    assert step["status"] == "fail"
    assert step["summary"] == (
        "An explicit Deny in the inline policy deny-assume of group blockers blocks "
        f"sts:AssumeRole on {ROLE_ARN}."
    )
    assert '"DenyAssume"' in step["explanation"]
    assert "take hoge-app out of group blockers" in step["fix"]
    assert "eventually consistent" not in page_text(verification)
    # The stand-in enforces identity policies: no "does not enforce" excuse here.
    assert "does not enforce" not in page_text(verification)
    assert calls.count(ROLE_ARN) == 1  # no propagation retries
    if profile:
        assert steps["assume"]["status"] == "fail"
        assert steps["assume"]["error"]["code"] == "AccessDenied"
        assert "deny-assume of group blockers" in steps["assume"]["explanation"]
    else:
        assert "ran as the portal, not as the grantee" in " ".join(steps["assume"]["notes"])
    grant.refresh_from_db()
    assert (grant.status, grant.last_verification_ok) == (GrantStatus.FAILING, False)


@pytest.mark.parametrize("profile", [sandbox.GRANTEE_PROFILE, ""], ids=["grantee", "portal"])
def test_a_deny_in_a_managed_policy_fails_naming_it(enforcing, piyo, hoge, profile) -> None:  # type: ignore[no-untyped-def]
    grant = provisioned(piyo, hoge, grantee_profile=profile)
    arn = iam(hoge, "create_policy", PolicyName="no-piyo", PolicyDocument=json.dumps(DENY_ASSUME))[
        "Policy"
    ]["Arn"]
    iam(hoge, "attach_user_policy", UserName="hoge-app", PolicyArn=arn)
    calls = count_assume_calls()
    verification, steps = verify(grant)
    assert not verification.passed
    assert steps["user_policy"]["summary"] == (
        f"An explicit Deny in the managed policy {arn} of user hoge-app blocks "
        f"sts:AssumeRole on {ROLE_ARN}."
    )
    assert calls.count(ROLE_ARN) == 1


def test_an_mfa_condition_in_the_trust_policy_is_named_as_the_cause(enforcing, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = provisioned(piyo, hoge, grantee_profile=sandbox.GRANTEE_PROFILE)
    trust = json.loads(json.dumps(grant.trust_policy))
    trust["Statement"][0]["Condition"] = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    iam(piyo, "update_assume_role_policy", RoleName=ROLE, PolicyDocument=json.dumps(trust))
    verification, steps = verify(grant)
    assert verification.outcome == VerificationOutcome.FAILED
    step = steps["trust"]
    assert step["summary"] == "The trust policy requires MFA."
    assert "aws:MultiFactorAuthPresent" in step["explanation"]
    assert "--serial-number" in step["fix"] and "--token-code" in step["fix"]
    assert "not account" not in page_text(verification)
    # moto lets the live call through; the page says why that proves nothing.
    assert steps["assume"]["status"] == "pass"
    assert "does not enforce MFA conditions" in " ".join(steps["assume"]["notes"])


def test_an_external_trusted_account_without_a_profile_is_checked_statically_only(
    aws_world, piyo, client, django_user_model
) -> None:  # type: ignore[no-untyped-def]
    external = make_account(
        account_id=sandbox.HOGE.account_id,
        name="hoge-external",
        owner_email=sandbox.HOGE.owner_email,
        access_method=AccessMethod.EXTERNAL,
        hub_role_name="",
    )
    grant = provisioned(piyo, external)
    calls = count_assume_calls()
    listed: list[str] = []
    aws.gateway().events.register("before-call.sqs.ListQueues", lambda **kw: listed.append("x"))
    verification, steps = verify(grant)
    assert verification.outcome == VerificationOutcome.STATIC_ONLY
    assert not verification.passed
    assert calls == [] and listed == []
    assert [steps[k]["status"] for k in ("assume", "list_queues")] == ["skip", "skip"]
    assert "No queues" not in page_text(verification)
    grant.refresh_from_db()
    assert grant.last_verification_ok is None
    assert grant.status == GrantStatus.ACTIVE
    user = django_user_model.objects.create_superuser(username="bob", password="correct-horse-9")
    client.force_login(user)
    body = client.get(grant.get_absolute_url()).content.decode()
    assert "checked statically only" in body
    assert "No queues" not in body and "Test access passed" not in body
    out = io.StringIO()
    call_command("verify_grants", "--workers", "1", stdout=out)  # exit 1 only on a failure
    assert f"STATIC #{grant.pk}" in out.getvalue()
    assert "1 verified, 0 failed." in out.getvalue()


def test_an_orphaned_principal_in_the_trust_policy_is_explained(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = provisioned(piyo, hoge, trust_scope="principal", trusted_principal_arn=HOGE_APP)
    orphaned = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "AIDAJQABLZS4A3QDU576Q"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam(piyo, "update_assume_role_policy", RoleName=ROLE, PolicyDocument=json.dumps(orphaned))
    verification, steps = verify(grant)
    assert not verification.passed
    assert steps["trust"]["summary"] == (
        "The trust policy names a deleted principal (AIDAJQABLZS4A3QDU576Q)."
    )
    assert "Re-apply the recorded trust policy" in steps["trust"]["fix"]


def test_a_role_grantee_is_evaluated_with_its_role_policies_and_the_chaining_limit(
    aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    trust_ec2 = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    aws.role_create(
        hoge.access(),
        name="hoge-worker",
        path="/",
        trust_policy=json.dumps(trust_ec2),
        description="",
        max_session_duration=3600,
        tags={},
    )
    grant = provisioned(piyo, hoge, grantee_type="role", grantee_name="hoge-worker")
    verification, steps = verify(grant)
    assert verification.outcome == VerificationOutcome.PASSED_PORTAL, verification.steps
    step = steps["user_policy"]
    assert f"the inline policy {grant.user_policy_name} of role hoge-worker" in step["summary"]
    assert "role chaining" in " ".join(step["notes"])
    aws.role_policy_delete(
        hoge.access(), role_name="hoge-worker", policy_name=grant.user_policy_name
    )
    _, steps = verify(grant)
    assert (
        steps["user_policy"]["summary"] == f"The user policy {grant.user_policy_name} is missing."
    )


def test_the_reads_and_the_live_calls_run_concurrently(enforcing, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    """With every AWS call held 0.3 s, Test access takes a few rounds, not a call count."""
    import threading
    import time

    lock, calls, in_flight, peak, holding = threading.Lock(), [], [0], [0], threading.Event()

    def slow(**kwargs: Any) -> None:
        if not holding.is_set():
            return
        with lock:
            calls.append(kwargs.get("event_name", ""))
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.3)
        with lock:
            in_flight[0] -= 1

    aws.gateway().events.register("before-call", slow)  # clients copy hooks when made
    grant = provisioned(piyo, hoge, grantee_profile=sandbox.GRANTEE_PROFILE)
    services.grant_verify(grant=grant, actor=None)  # warm: hub-role credentials, clients
    holding.set()
    started = time.monotonic()
    verification, _ = verify(grant)
    elapsed = time.monotonic() - started
    assert verification.passed, verification.steps
    assert len(calls) >= 10
    assert peak[0] >= 6
    # Sequential would take 0.3 s per call; the critical path is three rounds.
    assert elapsed < 0.3 * len(calls) / 2


def test_policies_that_cannot_be_read_fail_the_step_with_the_error(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    from botocore.awsrequest import AWSResponse

    def deny(**kwargs: Any) -> Any:
        http = AWSResponse("https://iam.amazonaws.com/", 403, {}, None)
        return http, {
            "Error": {"Code": "AccessDenied", "Message": "no reading", "Type": "Sender"},
            "ResponseMetadata": {"HTTPStatusCode": 403, "RequestId": "r-9"},
        }

    aws.gateway().events.register("before-call.iam.ListUserPolicies", deny)  # before any client
    grant = provisioned(piyo, hoge)
    verification, steps = verify(grant)
    step = steps["user_policy"]
    assert step["status"] == "fail"
    assert step["summary"] == "Could not read the grantee's policies."
    assert step["error"]["code"] == "AccessDenied"
    assert (
        "Could not read the inline policies of user hoge-app (AccessDenied)" in step["explanation"]
    )
    assert not verification.passed


def test_a_grant_that_requires_mfa_is_checked_statically_only(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = provisioned(piyo, hoge, require_mfa=True)
    calls = count_assume_calls()
    verification, steps = verify(grant)
    assert verification.outcome == VerificationOutcome.STATIC_ONLY, verification.steps
    assert steps["trust"]["status"] == "pass"
    assert "--serial-number" in " ".join(steps["trust"]["notes"])
    assert steps["assume"]["status"] == "skip"
    assert "requires MFA and Test access has no MFA device" in steps["assume"]["summary"]
    assert calls.count(ROLE_ARN) == 0
