"""Operations: intent saved before each AWS call, unknown outcomes settled by reading AWS,
dead workers' operations recovered, the portal's own access roles never touched."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
from django.db import IntegrityError, transaction
from django.utils import timezone

from grants import aws, services
from grants.aws import sandbox
from grants.models import (
    AuditAction,
    AuditEvent,
    AuditOutcome,
    Grant,
    GrantStatus,
    Operation,
    OperationKind,
    OperationState,
    StepState,
)

from .test_services_grants import draft, inject_failure, live_state

pytestmark = pytest.mark.django_db


def after_call_times_out(operation: str, *, times: int = 1) -> list[str]:
    """AWS applies `operation`, then the client gives up waiting for the answer."""
    seen: list[str] = []

    def fail(**kwargs: Any) -> None:
        if len(seen) < times:
            seen.append(operation)
            raise ReadTimeoutError(endpoint_url="https://iam.amazonaws.com/")

    aws.gateway().events.register(f"after-call.iam.{operation}", fail)
    return seen


def never_sent(operation: str, *, times: int = 100) -> list[str]:
    """`operation` fails on the client before it is sent (every attempt, `times` times)."""
    seen: list[str] = []

    def fail(**kwargs: Any) -> None:
        if len(seen) < times:
            seen.append(operation)
            raise EndpointConnectionError(endpoint_url="https://iam.amazonaws.com/")

    aws.gateway().events.register(f"before-send.iam.{operation}", fail)
    return seen


class WorkerDied(BaseException):
    """Stands for the worker process being killed at this point (nothing catches it)."""


def worker_dies(event: str, operation: str) -> None:
    """The worker stops dead at `event` (before-send: nothing sent; after-call: applied)."""

    def die(**kwargs: Any) -> None:
        raise WorkerDied(operation)

    aws.gateway().events.register(f"{event}.iam.{operation}", die)


def provision(piyo, hoge, **overrides) -> Grant:  # type: ignore[no-untyped-def]
    return services.grant_provision(grant=draft(piyo, hoge, **overrides), actor=None)


def last_operation(grant: Grant) -> Operation:
    return grant.operations.order_by("-pk").first()  # type: ignore[return-value]


def expire_lease(op: Operation) -> None:
    Operation.objects.filter(pk=op.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )


# --- the happy paths -------------------------------------------------------------------


def test_a_provision_is_recorded_step_by_step_with_request_ids(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    op = last_operation(grant)
    assert grant.status == GrantStatus.ACTIVE
    assert (op.kind, op.state, op.attempts) == (OperationKind.PROVISION, "succeeded", 1)
    steps = list(op.steps.order_by("position"))
    assert [s.call for s in steps] == [
        "iam:CreateRole",
        "iam:AttachRolePolicy",
        "iam:PutUserPolicy",
    ]
    assert all(s.state == StepState.DONE and s.request_id and s.sent_at for s in steps)
    assert op.lease_expires_at is None and op.finished_at is not None
    # No credentials in what is kept: only names and documents.
    assert "secret" not in str([s.params for s in steps]).lower()


def test_a_revoke_is_an_operation_and_ends_revoked(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = services.grant_revoke(grant=provision(piyo, hoge), actor=None)
    op = last_operation(grant)
    assert (op.kind, op.state) == (OperationKind.REVOKE, OperationState.SUCCEEDED)
    assert grant.status == GrantStatus.REVOKED
    assert [s.call for s in op.steps.order_by("position")] == [
        "iam:DeleteUserPolicy",
        "iam:DetachRolePolicy",
        "iam:DeleteRole",
    ]
    assert live_state(grant, piyo, hoge)["role"] is None


# --- unknown outcomes -----------------------------------------------------------------------


def test_a_create_role_applied_after_the_client_gave_up_is_recorded_not_rolled_back(
    aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    seen = after_call_times_out("CreateRole")
    grant = provision(piyo, hoge)
    assert seen == ["CreateRole"]
    assert grant.status == GrantStatus.ACTIVE, last_operation(grant).message
    create = last_operation(grant).steps.get(call="iam:CreateRole")
    assert create.state == StepState.DONE
    assert "took effect" in create.note
    assert create.attempts == 1  # settled by reading AWS, not sent again
    live = live_state(grant, piyo, hoge)
    assert live["role"].tags["xacct:grant"] == str(grant.pk)
    assert live["user_policy"] == grant.user_policy


def test_a_user_policy_applied_after_the_client_gave_up_is_recorded(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    after_call_times_out("PutUserPolicy")
    grant = provision(piyo, hoge)
    assert grant.status == GrantStatus.ACTIVE
    step = last_operation(grant).steps.get(call="iam:PutUserPolicy")
    assert step.state == StepState.DONE and "took effect" in step.note
    assert live_state(grant, piyo, hoge)["user_policy"] == grant.user_policy


def test_a_call_never_sent_is_found_absent_sent_again_and_then_rolled_back(
    aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    never_sent("PutUserPolicy")
    grant = provision(piyo, hoge)
    op = last_operation(grant)
    assert op.state == OperationState.ROLLED_BACK
    assert grant.status == GrantStatus.FAILED
    step = op.steps.get(call="iam:PutUserPolicy")
    assert step.state == StepState.FAILED
    assert step.attempts == 3
    assert "did not take effect" in step.note
    assert step.error["client_error"] == "EndpointConnectionError"
    # The role and its policy were undone and reading AWS shows them gone.
    assert set(op.steps.exclude(pk=step.pk).values_list("state", flat=True)) == {"undone"}
    live = live_state(grant, piyo, hoge)
    assert live["role"] is None and live["user_policy"] is None


def test_a_call_that_fails_once_before_sending_is_sent_again_and_succeeds(
    aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    # botocore's own retry takes the second attempt: the step stays one send.
    never_sent("AttachRolePolicy", times=2)
    grant = provision(piyo, hoge)
    assert grant.status == GrantStatus.ACTIVE
    attach = last_operation(grant).steps.get(call="iam:AttachRolePolicy")
    assert attach.state == StepState.DONE
    assert attach.attempts == 2


def test_a_delete_role_applied_after_the_client_gave_up_still_ends_revoked(
    aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    aws.reset()  # hooks reach clients made after they are registered
    after_call_times_out("DeleteRole")
    grant = services.grant_revoke(grant=grant, actor=None)
    assert grant.status == GrantStatus.REVOKED
    step = last_operation(grant).steps.get(call="iam:DeleteRole")
    assert step.state == StepState.DONE and "took effect" in step.note


def test_a_rollback_that_cannot_prove_the_role_gone_leaves_the_grant_partial(
    aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    inject_failure("PutUserPolicy")
    never_sent("DeleteRole")
    grant = provision(piyo, hoge)
    op = last_operation(grant)
    assert op.state == OperationState.PARTIAL
    assert grant.status == GrantStatus.PARTIAL
    assert "could not prove everything gone" in op.message
    assert grant.applied_steps == ["role"]
    assert op.steps.get(call="iam:CreateRole").state == StepState.UNDO_FAILED
    assert live_state(grant, piyo, hoge)["role"] is not None  # and the record says so

    aws.reset()  # healed: Revoke removes what is there
    grant = services.grant_revoke(grant=grant, actor=None)
    assert grant.status == GrantStatus.REVOKED
    assert live_state(grant, piyo, hoge)["role"] is None


def test_when_aws_cannot_be_read_the_operation_waits_for_recovery_then_finishes(
    aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    after_call_times_out("CreateRole")
    never_sent("GetRole")
    grant = provision(piyo, hoge)
    op = last_operation(grant)
    assert op.state == OperationState.RUNNING  # not assumed either way
    assert grant.status == GrantStatus.PROVISIONING
    assert "Waiting to find out whether iam:CreateRole" in op.message
    assert op.steps.get(call="iam:CreateRole").state == StepState.UNKNOWN

    aws.reset()  # AWS answers again
    assert services.operations_recover() == [op.pk]
    op.refresh_from_db()
    grant.refresh_from_db()
    assert op.state == OperationState.SUCCEEDED and op.attempts == 2
    assert grant.status == GrantStatus.ACTIVE


# --- a worker that died ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "applied"), [("after-call", True), ("before-send", False)], ids=["applied", "unsent"]
)
def test_a_sent_step_of_a_dead_worker_is_settled_by_reading_aws_and_finished(
    aws_world, piyo, hoge, event, applied
) -> None:  # type: ignore[no-untyped-def]
    worker_dies(event, "PutUserPolicy")
    provision(piyo, hoge)  # the task backend records the task as failed
    grant = Grant.objects.get()
    op = last_operation(grant)
    assert op.state == OperationState.RUNNING
    assert op.steps.get(call="iam:PutUserPolicy").state == StepState.SENT
    assert (live_state(grant, piyo, hoge)["user_policy"] is not None) is applied

    aws.reset()
    assert services.operations_recover() == []  # its lease has not run out yet
    expire_lease(op)
    assert services.operations_recover() == [op.pk]

    op.refresh_from_db()
    grant.refresh_from_db()
    assert op.state == OperationState.SUCCEEDED
    assert grant.status == GrantStatus.ACTIVE
    step = op.steps.get(call="iam:PutUserPolicy")
    assert step.attempts == (1 if applied else 2)
    assert live_state(grant, piyo, hoge)["user_policy"] == grant.user_policy


def test_recovery_after_the_lease_runs_out_finds_the_operation_at_a_later_time(
    aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    aws.reset()
    worker_dies("after-call", "DeleteRole")
    services.grant_revoke(grant=grant, actor=None)
    op = last_operation(grant)
    aws.reset()
    Operation.objects.filter(pk=op.pk).update(lease_expires_at=timezone.now() + timedelta(hours=1))
    assert services.operations_recover() == []
    later = timezone.now() + timedelta(hours=2)
    assert services.operations_recover(now=later) == [op.pk]
    grant.refresh_from_db()
    assert grant.status == GrantStatus.REVOKED


def test_an_operation_queued_with_no_task_left_is_run_by_recovery(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    op = Operation.objects.create(grant=grant, kind=OperationKind.REVOKE)
    assert services.operations_recover() == []  # not older than the lease yet
    Operation.objects.filter(pk=op.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    assert services.operations_recover() == [op.pk]
    grant.refresh_from_db()
    assert grant.status == GrantStatus.REVOKED


def test_an_operation_held_by_a_live_worker_or_finished_is_left_alone(
    aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    done = last_operation(grant)
    assert services.operation_run(operation_id=done.pk).attempts == 1  # finished: untouched
    held = Operation.objects.create(
        grant=grant,
        kind=OperationKind.REVOKE,
        state=OperationState.RUNNING,
        lease_owner="another-worker",
        lease_expires_at=timezone.now() + timedelta(seconds=60),
    )
    again = services.operation_run(operation_id=held.pk)
    assert (again.state, again.attempts, again.lease_owner) == ("running", 0, "another-worker")
    grant.refresh_from_db()
    assert grant.status == GrantStatus.ACTIVE


# --- one operation at a time ----------------------------------------------------------------


def test_at_most_one_open_operation_per_grant(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    Operation.objects.create(grant=grant, kind=OperationKind.REVOKE)
    with pytest.raises(IntegrityError), transaction.atomic():
        Operation.objects.create(grant=grant, kind=OperationKind.REAPPLY)
    # Finished operations do not count.
    assert Operation.objects.filter(grant=grant).count() == 2


def test_a_second_operation_is_refused_naming_the_one_under_way(
    aws_world, piyo, hoge, django_user_model
) -> None:  # type: ignore[no-untyped-def]
    alice = django_user_model.objects.create_superuser(username="alice", password="x-horse-9")
    grant = provision(piyo, hoge)
    Operation.objects.create(
        grant=grant,
        kind=OperationKind.REVOKE,
        state=OperationState.RUNNING,
        actor=alice,
        actor_name="alice",
        started_at=timezone.now(),
        lease_expires_at=timezone.now() + timedelta(seconds=60),
    )
    with pytest.raises(services.GrantBusy, match="already being revoked by alice since"):
        services.grant_revoke(grant=grant, actor=None)
    with pytest.raises(services.GrantBusy, match="already being revoked by alice"):
        services.grant_reapply(grant=grant, actor=None)
    grant.refresh_from_db()
    assert grant.status == GrantStatus.ACTIVE


def test_a_revoked_grant_is_not_revoked_again(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = services.grant_revoke(grant=provision(piyo, hoge), actor=None)
    with pytest.raises(services.NotRevocable, match="already revoked"):
        services.grant_revoke(grant=grant, actor=None)


def test_an_active_grant_is_not_provisioned_again(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    with pytest.raises(services.GrantBusy, match="already created and active"):
        services.grant_provision(grant=grant, actor=None)


# --- the portal's own access ------------------------------------------------------------------


def hub_role_grant(piyo, hoge) -> Grant:  # type: ignore[no-untyped-def]
    """A grant record of the role the portal acts through in piyo (as an old import made)."""
    grant = draft(piyo, hoge, role_name=sandbox.HUB_ROLE_NAME)
    grant.status = GrantStatus.ACTIVE
    grant.save()
    return grant


def test_revoking_the_portals_hub_role_is_refused_and_audited(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = hub_role_grant(piyo, hoge)
    with pytest.raises(services.OperationRefused, match="the role the portal acts through"):
        services.grant_revoke(grant=grant, actor=None)
    assert aws.role_get(piyo.access(), sandbox.HUB_ROLE_NAME) is not None
    assert not grant.operations.exists()
    refused = AuditEvent.objects.get(grant=grant, action=AuditAction.GRANT_REVOKE)
    assert refused.outcome == AuditOutcome.FAILURE
    assert refused.message.startswith("Refused: ")
    assert not AuditEvent.objects.filter(grant=grant, action__startswith="iam.").exists()


@pytest.mark.parametrize("start", ["grant_reapply", "grant_adopt_live"])
def test_reapplying_or_adopting_the_portals_hub_role_is_refused(
    aws_world, piyo, hoge, start
) -> None:  # type: ignore[no-untyped-def]
    grant = hub_role_grant(piyo, hoge)
    with pytest.raises(services.OperationRefused):
        getattr(services, start)(grant=grant, actor=None)
    assert not grant.operations.exists()


def test_the_expiry_job_skips_the_portals_hub_role(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = hub_role_grant(piyo, hoge)
    Grant.objects.filter(pk=grant.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert services.grants_expire() == []
    assert aws.role_get(piyo.access(), sandbox.HUB_ROLE_NAME) is not None
    grant.refresh_from_db()
    assert grant.status == GrantStatus.ACTIVE


def test_creating_a_grant_on_the_portals_hub_role_is_refused_before_anything_is_saved(
    aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(services.OperationRefused):
        provision(piyo, hoge, role_name=sandbox.HUB_ROLE_NAME)
    assert not Grant.objects.exists()
    assert AuditEvent.objects.filter(
        action=AuditAction.GRANT_PROVISION, outcome=AuditOutcome.FAILURE
    ).exists()


# --- re-apply and adopt ------------------------------------------------------------------------


def test_a_reapply_that_fails_stops_and_says_where(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    aws.reset()
    inject_failure("PutUserPolicy")
    aws.user_policy_delete(
        hoge.access(), user_name=grant.grantee_name, policy_name=grant.user_policy_name
    )
    grant = services.grant_reapply(grant=grant, actor=None)
    op = last_operation(grant)
    assert op.state == OperationState.FAILED
    assert "iam:PutUserPolicy" in op.message and "injected LimitExceeded" in op.message
    assert grant.status == GrantStatus.ACTIVE  # nothing was undone
    assert any(item["part"] == "user policy" for item in grant.drift)


def test_an_operation_queued_before_its_role_became_a_portal_role_is_refused_when_run(
    aws_world, piyo, hoge, settings
) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    op = Operation.objects.create(grant=grant, kind=OperationKind.REVOKE)
    settings.XACCT_PORTAL_ACCESS_ROLES = [grant.role_name.upper()]  # named in the registry since
    op = services.operation_run(operation_id=op.pk)
    assert op.state == OperationState.REFUSED
    assert "the role the portal acts through" in op.message
    assert not op.steps.exclude(state="planned").exists()  # no call was made
    grant.refresh_from_db()
    assert grant.status == GrantStatus.ACTIVE
    assert live_state(grant, piyo, hoge)["role"] is not None


def test_a_partial_revoke_records_what_is_still_in_aws_by_name(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    inject_failure("DeleteRole", code="ServiceFailure")
    grant = services.grant_revoke(grant=provision(piyo, hoge), actor=None)
    assert grant.status == GrantStatus.PARTIAL
    assert grant.applied_steps == ["role"]  # the user policy and the attachment are gone
    assert grant.last_error["code"] == "ServiceFailure"
    assert "still in AWS: iam:DeleteRole piyo-sqs-for-hoge" in last_operation(grant).message


def test_after_many_attempts_with_aws_unreadable_the_operation_ends_partial_and_says_so(
    aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    from grants.services.operations import MAX_OPERATION_ATTEMPTS

    after_call_times_out("CreateRole")
    never_sent("GetRole")
    never_sent("DeleteRole")
    grant = provision(piyo, hoge)
    op = last_operation(grant)
    assert op.state == OperationState.RUNNING
    Operation.objects.filter(pk=op.pk).update(attempts=MAX_OPERATION_ATTEMPTS)
    expire_lease(op)

    assert services.operations_recover() == [op.pk]  # AWS still cannot be read

    op.refresh_from_db()
    grant.refresh_from_db()
    assert op.state == OperationState.PARTIAL
    assert "could not prove everything gone" in op.message
    assert grant.status == GrantStatus.PARTIAL and grant.applied_steps == ["role"]
    assert op.steps.get(call="iam:CreateRole").state == StepState.UNDO_FAILED
    # The record is right: the role is there, and Revoke removes it once AWS answers.
    aws.reset()
    assert live_state(grant, piyo, hoge)["role"] is not None
    assert services.grant_revoke(grant=grant, actor=None).status == GrantStatus.REVOKED
    assert live_state(grant, piyo, hoge)["role"] is None


# --- writes that land after the rollback -------------------------------------------------------


def rolled_back_after_an_unknown_outcome(piyo, hoge) -> Grant:  # type: ignore[no-untyped-def]
    """A provision whose PutUserPolicy never got an answer, rolled back: nothing proven there."""
    never_sent("PutUserPolicy")
    grant = provision(piyo, hoge)
    op = last_operation(grant)
    assert (op.state, grant.status) == (OperationState.ROLLED_BACK, GrantStatus.FAILED)
    assert "sweep_until" in op.params
    aws.reset()
    return grant


def test_a_user_policy_landing_after_the_rollback_is_removed_by_recovery(
    aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    grant = rolled_back_after_an_unknown_outcome(piyo, hoge)
    # The held request arrives now.
    aws.user_policy_put(
        hoge.access(),
        user_name=grant.grantee_name,
        policy_name=grant.user_policy_name,
        document=json.dumps(grant.user_policy),
    )
    cleaned = services.operations_recover()
    assert len(cleaned) == 1
    cleanup = Operation.objects.get(pk=cleaned[0])
    assert (cleanup.kind, cleanup.state) == (OperationKind.REVOKE, OperationState.SUCCEEDED)
    assert [s.call for s in cleanup.steps.all()] == ["iam:DeleteUserPolicy"]
    grant.refresh_from_db()
    assert grant.status == GrantStatus.FAILED
    assert live_state(grant, piyo, hoge)["user_policy"] is None


def test_a_tagged_role_landing_after_the_rollback_is_removed_by_recovery(
    aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    grant = rolled_back_after_an_unknown_outcome(piyo, hoge)
    create = last_operation(grant).steps.get(call="iam:CreateRole")
    aws.role_create(piyo.access(), **create.params)  # the same request, landing late
    later = timezone.now() + timedelta(days=1)
    assert len(services.operations_recover(now=later)) == 1
    assert live_state(grant, piyo, hoge)["role"] is None
    # Past its window the provision is no longer looked at.
    provision_op = grant.operations.get(kind=OperationKind.PROVISION)
    assert "sweep_until" not in provision_op.params
    assert services.operations_recover(now=later) == []


def test_the_sweep_leaves_a_role_and_policy_another_grant_now_records(
    aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    failed = rolled_back_after_an_unknown_outcome(piyo, hoge)
    again = provision(piyo, hoge)  # a new grant of the same role name and user policy
    assert again.status == GrantStatus.ACTIVE and again.pk != failed.pk
    assert services.operations_recover() == []
    live = live_state(again, piyo, hoge)
    assert live["role"] is not None and live["user_policy"] == again.user_policy


def test_an_adopt_whose_reads_time_out_waits_for_recovery_then_finishes(
    aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    aws.reset()
    never_sent("ListRolePolicies")
    grant = services.grant_adopt_live(grant=grant, actor=None)
    op = last_operation(grant)
    assert (op.kind, op.state) == (OperationKind.ADOPT, OperationState.RUNNING)
    assert "Reading the live state failed" in op.message
    aws.reset()
    assert services.operations_recover() == [op.pk]
    op.refresh_from_db()
    assert op.state == OperationState.SUCCEEDED
