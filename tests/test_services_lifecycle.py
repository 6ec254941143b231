"""Revoke, expiry and the hand-off kit."""

from __future__ import annotations

import json
from datetime import timedelta

import boto3
import pytest
from django.core.management import call_command
from django.utils import timezone

from grants import aws, handoff, services
from grants.aws import sandbox
from grants.models import AuditAction, AuditEvent, Grant, GrantStatus
from grants.tasks import expire_grants

from .test_services_grants import ROLE, draft, inject_failure, live_state

pytestmark = pytest.mark.django_db


def provision(piyo, hoge, **overrides) -> Grant:  # type: ignore[no-untyped-def]
    grant = services.grant_provision(grant=draft(piyo, hoge, **overrides), actor=None)
    assert grant.status == GrantStatus.ACTIVE, grant.last_error
    return grant


def assert_nothing_left(grant: Grant, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    live = live_state(grant, piyo, hoge)
    assert live["role"] is None
    assert live["user_policy"] is None


def test_revoke_removes_both_halves_and_audits_each_call(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    grant = services.grant_revoke(grant=grant, actor=None)
    assert grant.status == GrantStatus.REVOKED
    assert_nothing_left(grant, piyo, hoge)
    actions = list(
        AuditEvent.objects.filter(grant=grant).order_by("pk").values_list("action", flat=True)
    )
    assert actions[-4:] == [
        AuditAction.USER_POLICY_DELETE,
        AuditAction.ROLE_POLICY_DETACH,
        AuditAction.ROLE_DELETE,
        AuditAction.GRANT_REVOKE,
    ]


def test_revoke_also_removes_policies_attached_outside_the_portal(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    aws.role_policy_put(
        piyo.access(),
        role_name=ROLE,
        policy_name="added-by-hand",
        document=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sqs:ListQueues", "Resource": "*"}],
            }
        ),
    )
    grant = services.grant_revoke(grant=grant, actor=None)
    assert grant.status == GrantStatus.REVOKED
    assert_nothing_left(grant, piyo, hoge)


def test_a_failed_revoke_is_partial_and_revoking_again_finishes(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    inject_failure("DeleteRole", code="ServiceFailure")
    grant = provision(piyo, hoge)
    grant = services.grant_revoke(grant=grant, actor=None)
    assert grant.status == GrantStatus.PARTIAL
    assert grant.last_error["code"] == "ServiceFailure"
    assert live_state(grant, piyo, hoge)["role"] is not None
    assert live_state(grant, piyo, hoge)["user_policy"] is None
    # A partial revoke is not re-provisioned by accident.
    with pytest.raises(services.GrantBusy):
        services.grant_provision(grant=grant, actor=None)

    aws.reset()
    grant = services.grant_revoke(grant=grant, actor=None)
    assert grant.status == GrantStatus.REVOKED
    assert_nothing_left(grant, piyo, hoge)


def test_a_revoked_grant_cannot_be_revoked_again(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = services.grant_revoke(grant=provision(piyo, hoge), actor=None)
    with pytest.raises(services.NotRevocable):
        services.grant_revoke(grant=grant, actor=None)


def test_after_revoke_test_access_explains_the_role_is_missing(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = services.grant_revoke(grant=provision(piyo, hoge), actor=None)
    verification = services.grant_verify(grant=grant, actor=None)
    assert verification.steps[0]["summary"] == f"The role {ROLE} does not exist in {piyo}."
    grant.refresh_from_db()
    assert grant.status == GrantStatus.REVOKED


def test_the_revoke_plan_lists_the_calls_in_order(piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = draft(piyo, hoge)
    summaries = [step.summary for step in services.revoke_plan(grant)]
    assert summaries == [
        f"iam:DeleteUserPolicy xacct-assume-{ROLE} from user hoge-app in {hoge}",
        f"iam:DetachRolePolicy arn:aws:iam::aws:policy/AmazonSQSFullAccess from {ROLE}",
        f"iam:DeleteRole {ROLE} in {piyo}",
    ]


def test_expire_grants_revokes_only_grants_past_their_expiry(aws_world, piyo, hoge, capsys) -> None:  # type: ignore[no-untyped-def]
    past = provision(piyo, hoge, role_name="expired-one")
    future = provision(piyo, hoge, role_name="still-valid")
    Grant.objects.filter(pk=past.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    Grant.objects.filter(pk=future.pk).update(expires_at=timezone.now() + timedelta(days=1))
    call_command("expire_grants")
    out = capsys.readouterr().out
    assert f"EXPIRED  #{past.pk}" in out
    assert "1 due, 0 could not be fully revoked." in out
    past.refresh_from_db()
    future.refresh_from_db()
    assert past.status == GrantStatus.EXPIRED
    assert future.status == GrantStatus.ACTIVE
    assert_nothing_left(past, piyo, hoge)
    assert live_state(future, piyo, hoge)["role"] is not None


def test_expire_grants_runs_as_a_task(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    Grant.objects.filter(pk=grant.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    result = expire_grants.enqueue()
    assert result.return_value == 1
    grant.refresh_from_db()
    assert grant.status == GrantStatus.EXPIRED


@pytest.mark.django_db(transaction=True)
def test_expire_grants_enqueue_leaves_the_revoke_to_a_worker(
    aws_world, piyo, hoge, task_queue, capsys
) -> None:  # type: ignore[no-untyped-def]
    from django_tasks_db.models import DBTaskResult

    grant = services.grant_provision(grant=draft(piyo, hoge), actor=None)
    assert grant.status == GrantStatus.PROVISIONING  # its operation waits for a worker
    task_queue.run()
    grant.refresh_from_db()
    assert grant.status == GrantStatus.ACTIVE
    Grant.objects.filter(pk=grant.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    call_command("expire_grants", "--enqueue")
    queued = DBTaskResult.objects.get(task_path=expire_grants.module_path)
    assert f"Expiry queued as task {queued.id} (Ready)." in capsys.readouterr().out
    grant.refresh_from_db()
    assert grant.status == GrantStatus.ACTIVE  # nothing happens until a worker runs it

    task_queue.run()

    queued.refresh_from_db()
    assert queued.status == "SUCCESSFUL"
    assert queued.return_value == 1
    grant.refresh_from_db()
    assert grant.status == GrantStatus.EXPIRED
    assert_nothing_left(grant, piyo, hoge)


def test_expire_grants_exits_non_zero_when_a_revoke_fails(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    inject_failure("DeleteRole", code="ServiceFailure")
    grant = provision(piyo, hoge)
    Grant.objects.filter(pk=grant.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(SystemExit) as exited:
        call_command("expire_grants")
    assert exited.value.code == 1


def test_the_cli_profile_from_the_kit_works_in_an_unmodified_client(
    enforcing, piyo, hoge, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge, grantee_profile=sandbox.GRANTEE_PROFILE)
    config = tmp_path / "config"
    credentials = tmp_path / "credentials"
    access_key, secret_key = enforcing.keys[sandbox.GRANTEE_PROFILE]
    config.write_text(
        "[profile hoge-app]\nregion = ap-northeast-1\n\n" + handoff.cli_profile(grant)
    )
    credentials.write_text(
        f"[hoge-app]\naws_access_key_id = {access_key}\naws_secret_access_key = {secret_key}\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    session = boto3.session.Session(profile_name=ROLE)
    identity = session.client("sts").get_caller_identity()
    assert identity["Arn"].startswith(f"arn:aws:sts::111122223333:assumed-role/{ROLE}/")
    urls = session.client("sqs").list_queues()["QueueUrls"]
    assert sorted(u.rsplit("/", 1)[1] for u in urls) == sorted(sandbox.PIYO_QUEUES)


def test_the_kit_carries_external_id_mfa_and_region(piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = draft(piyo, hoge, external_id="xacct-9", require_mfa=True, grantee_profile="hoge-app")
    profile = handoff.cli_profile(grant)
    assert "external_id = xacct-9" in profile
    assert "mfa_serial = arn:" not in profile  # never guessed: read by handoff_kit (test_handoff)
    assert "source_profile = hoge-app" in profile
    assert "region = ap-northeast-1" in profile
    snippet = handoff.boto3_snippet(grant)
    assert 'ExternalId="xacct-9"' in snippet
    compile(snippet, "kit.py", "exec")  # the snippet is valid Python


def test_the_switch_role_link_warns_when_it_cannot_work(piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    plain = handoff.switch_role_link(draft(piyo, hoge))
    assert plain.url == (
        "https://signin.aws.amazon.com/switchrole?roleName=piyo-sqs-for-hoge"
        "&account=111122223333&displayName=piyo-sqs-for-hoge%40piyo"
    )
    assert plain.problems == ()
    long_path = handoff.switch_role_link(
        draft(piyo, hoge, role_path="/" + "p" * 50 + "/", external_id="x-1")
    )
    assert len(long_path.problems) == 2
    assert "external ID" in long_path.problems[0]
    assert "64 at most" in long_path.problems[1]


def test_expire_grants_says_which_revokes_wait_for_aws_and_exits_non_zero(
    aws_world, piyo, hoge, capsys
) -> None:  # type: ignore[no-untyped-def]
    from .test_services_operations import after_call_times_out, never_sent

    grant = provision(piyo, hoge)
    Grant.objects.filter(pk=grant.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    aws.reset()
    after_call_times_out("DeleteRole")
    never_sent("GetRole")  # whether DeleteRole took effect cannot be read
    with pytest.raises(SystemExit):
        call_command("expire_grants")
    out = capsys.readouterr().out
    assert f"WAITING  #{grant.pk}" in out
    assert "Waiting to find out whether iam:DeleteRole" in out

    aws.reset()
    services.operations_recover()
    grant.refresh_from_db()
    assert grant.status == GrantStatus.EXPIRED
    assert_nothing_left(grant, piyo, hoge)
