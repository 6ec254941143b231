"""Background work: batch items claimed once, abandoned work given up, no pile-ups, priorities."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from grants import services
from grants.models import (
    BatchItemState,
    Grant,
    GrantStatus,
    Operation,
    OperationKind,
    Verification,
    VerificationBatch,
    VerificationBatchItem,
)
from grants.services import authz
from grants.tasks import expire_grants, verify_batch_item

from .test_services_grants import draft, provisioned

pytestmark = pytest.mark.django_db(transaction=True)


def provision(piyo, hoge, name: str) -> Grant:  # type: ignore[no-untyped-def]
    grant = provisioned(draft(piyo, hoge, role_name=name))
    assert grant.status == GrantStatus.ACTIVE
    return grant


def test_an_item_is_verified_once_even_if_its_task_runs_twice(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge, "once")
    batch = services.verification_batch_start(grants=[grant, grant], actor=None)  # immediate
    item = VerificationBatchItem.objects.get(batch=batch)  # one item for a grant given twice
    assert batch.finished_at is not None
    assert item.state == BatchItemState.VERIFIED and item.task_id

    again = verify_batch_item.enqueue(item_id=item.pk)

    assert again.return_value == "claimed"
    assert Verification.objects.filter(batch=batch).count() == 1
    item.refresh_from_db()
    assert item.state == BatchItemState.VERIFIED


def test_a_batch_started_by_a_verifier_runs_as_them_and_stops_if_they_lose_the_role(
    aws_world, piyo, hoge, django_user_model, task_queue
) -> None:  # type: ignore[no-untyped-def]
    authz.roles_ensure()  # a transactional test's flush empties the groups
    verifier = django_user_model.objects.create_user("vera", password="x-correct-horse-1")
    verifier.groups.add(Group.objects.get(name=authz.VERIFIERS))
    first, second = provision(piyo, hoge, "first"), provision(piyo, hoge, "second")
    batch = services.verification_batch_start(grants=[first, second], actor=verifier)
    assert batch.actor_name == "vera"
    task_queue.run("--max-tasks", "1")  # the first grant, while vera is a verifier
    verifier.groups.clear()
    task_queue.run()

    first_item, second_item = batch.items.order_by("pk")
    assert first_item.state == BatchItemState.VERIFIED
    assert first_item.verification.actor == verifier
    assert second_item.state == BatchItemState.SKIPPED
    assert second_item.note == "vera may no longer run Test access."
    batch.refresh_from_db()
    assert batch.finished_at is not None


def test_a_deleted_starter_does_not_turn_the_batch_into_the_system(
    aws_world, piyo, hoge, django_user_model, task_queue
) -> None:  # type: ignore[no-untyped-def]
    admin = django_user_model.objects.create_superuser("ada", password="x-correct-horse-2")
    batch = services.verification_batch_start(grants=[provision(piyo, hoge, "g")], actor=admin)
    admin.delete()
    task_queue.run()
    item = batch.items.get()
    assert item.state == BatchItemState.SKIPPED
    assert item.note == "The user who started the batch (ada) was deleted."
    assert Verification.objects.count() == 0


def test_items_a_killed_worker_left_running_are_given_up_and_the_batch_closes(
    aws_world, piyo, hoge, task_queue
) -> None:  # type: ignore[no-untyped-def]
    grants = [provision(piyo, hoge, f"r{n}") for n in range(3)]
    batch = services.verification_batch_start(grants=grants, actor=None)
    first, second, third = batch.items.order_by("pk")
    long_ago = timezone.now() - timedelta(minutes=30)
    # A worker took the first item half an hour ago and died; another just took the second.
    VerificationBatchItem.objects.filter(pk=first.pk).update(
        state=BatchItemState.RUNNING, started_at=long_ago
    )
    VerificationBatchItem.objects.filter(pk=second.pk).update(
        state=BatchItemState.RUNNING, started_at=timezone.now()
    )

    assert services.verification_batches_reap(stale_after=timedelta(minutes=15)) == 1

    first.refresh_from_db()
    assert first.state == BatchItemState.SKIPPED
    assert first.note == "Abandoned: no result 15 minutes after a worker took it (it stopped?)."
    batch.refresh_from_db()
    assert batch.finished_at is None  # the second is still running, the third queued
    VerificationBatchItem.objects.filter(pk__in=[second.pk, third.pk]).update(
        state=BatchItemState.VERIFIED
    )
    services.verification_batches_reap(stale_after=timedelta(minutes=15))
    batch.refresh_from_db()
    assert batch.finished_at is not None


def test_items_that_could_not_be_queued_say_so_and_the_batch_closes(
    aws_world, piyo, hoge, task_queue, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from django_tasks_db.backend import DatabaseBackend

    grants = [provision(piyo, hoge, f"q{n}") for n in range(3)]
    real_enqueue = DatabaseBackend.enqueue
    calls = []

    def enqueue(self, task, args, kwargs):  # type: ignore[no-untyped-def]
        calls.append(kwargs)
        if len(calls) == 2:
            raise ConnectionError("queue unavailable")
        return real_enqueue(self, task, args, kwargs)

    monkeypatch.setattr(DatabaseBackend, "enqueue", enqueue)
    batch = services.verification_batch_start(grants=grants, actor=None)

    states = list(batch.items.order_by("pk").values_list("state", "note"))
    assert states[0] == (BatchItemState.QUEUED, "")
    assert (
        states[1:]
        == [
            (BatchItemState.SKIPPED, "Could not be queued (ConnectionError); see the portal's log.")
        ]
        * 2
    )
    task_queue.run()
    batch.refresh_from_db()
    assert batch.finished_at is not None
    assert batch.items.filter(state=BatchItemState.VERIFIED).count() == 1


def test_scheduled_enqueue_gives_up_stale_work_and_does_not_pile_up(
    aws_world, piyo, hoge, task_queue, capsys
) -> None:  # type: ignore[no-untyped-def]
    live = [provision(piyo, hoge, f"live-{n}") for n in range(3)]
    Grant.objects.filter(pk=live[0].pk).update(status=GrantStatus.REVOKED)

    call_command("verify_grants", "--enqueue")
    batch = VerificationBatch.objects.get()
    assert batch.actor is None and batch.started_by_system
    assert sorted(batch.items.values_list("grant_id", flat=True)) == [live[1].pk, live[2].pk]
    assert f"Batch {batch.pk}: 2 grant(s) queued for the workers" in capsys.readouterr().out
    queued = DBTaskResult.objects.all()
    assert {t.task_path for t in queued} == {"grants.tasks.verify_batch_item"}
    assert {t.priority for t in queued} == {0}  # the schedule queues behind people

    call_command("verify_grants", "--enqueue")  # an hour later, no worker ran meanwhile
    assert f"Batch {batch.pk} from an earlier run is still open" in capsys.readouterr().out
    assert VerificationBatch.objects.count() == 1
    assert DBTaskResult.objects.filter(task_path=verify_batch_item.module_path).count() == 2
    # What is queued besides: the alert that the scheduled verification could not run.
    assert DBTaskResult.objects.exclude(task_path=verify_batch_item.module_path).count() == 1

    # A worker took one item and died; the next scheduled run gives it up.
    item = batch.items.first()
    VerificationBatchItem.objects.filter(pk=item.pk).update(
        state=BatchItemState.RUNNING, started_at=timezone.now() - timedelta(hours=1)
    )
    DBTaskResult.objects.all().delete()
    VerificationBatchItem.objects.exclude(pk=item.pk).update(state=BatchItemState.VERIFIED)
    call_command("verify_grants", "--enqueue")
    out = capsys.readouterr().out
    assert "Gave up 1 batch verification(s) nothing will finish." in out
    assert VerificationBatch.objects.count() == 2
    assert "queued for the workers" in out


def test_expiry_goes_ahead_of_queued_verifications_and_is_not_queued_twice(
    aws_world, piyo, hoge, task_queue, capsys, django_user_model
) -> None:  # type: ignore[no-untyped-def]
    person = django_user_model.objects.create_superuser("pat", password="x-correct-horse-3")
    grants = [provision(piyo, hoge, f"e{n}") for n in range(3)]
    services.verification_batch_start(grants=grants, actor=person)
    Grant.objects.filter(pk=grants[0].pk).update(expires_at=timezone.now() - timedelta(minutes=1))

    call_command("expire_grants", "--enqueue")
    call_command("expire_grants", "--enqueue")
    out = capsys.readouterr().out
    assert out.count("Expiry queued as task") == 1
    assert "Expiry is queued already and no worker has run it yet." in out
    assert DBTaskResult.objects.filter(task_path=expire_grants.module_path).count() == 1
    assert set(
        DBTaskResult.objects.filter(task_path=verify_batch_item.module_path).values_list(
            "priority", flat=True
        )
    ) == {10}

    task_queue.run("--max-tasks", "1")

    expiry = DBTaskResult.objects.get(task_path=expire_grants.module_path)
    assert expiry.status == "SUCCESSFUL"  # first, though queued after the batch
    ready = DBTaskResult.objects.filter(status="READY")
    assert ready.filter(task_path=verify_batch_item.module_path).count() == 3
    # Besides the batch: the expired grant's alert, for the worker to send.
    assert [t.task_path for t in ready.exclude(task_path=verify_batch_item.module_path)] == [
        "alerts.tasks.alert_dispatch_task"
    ]
    assert Grant.objects.get(pk=grants[0].pk).status == GrantStatus.EXPIRED


def test_an_overlapping_expiry_run_skips_a_grant_another_revoke_has(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    taken, free = provision(piyo, hoge, "taken"), provision(piyo, hoge, "free")
    Grant.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    Operation.objects.create(grant=taken, kind=OperationKind.REVOKE)  # a revoke in progress

    expired = services.grants_expire()

    assert [g.pk for g in expired] == [free.pk]
    assert Grant.objects.get(pk=free.pk).status == GrantStatus.EXPIRED
    assert Grant.objects.get(pk=taken.pk).status == GrantStatus.ACTIVE


def test_queued_items_nothing_will_run_are_given_up_but_waiting_ones_are_kept(
    aws_world, piyo, hoge, task_queue
) -> None:  # type: ignore[no-untyped-def]
    grants = [provision(piyo, hoge, f"o{n}") for n in range(4)]
    batch = services.verification_batch_start(grants=grants, actor=None)
    waiting, lost, never_queued, switched = batch.items.order_by("pk")
    DBTaskResult.objects.filter(id=lost.task_id).delete()  # e.g. deleted in the admin
    VerificationBatchItem.objects.filter(pk=never_queued.pk).update(task_id="")
    # Queued before a switch away from the immediate backend: its id is no UUID.
    VerificationBatchItem.objects.filter(pk=switched.pk).update(task_id="x" * 32)
    DBTaskResult.objects.filter(id=switched.task_id).delete()
    stale_after = timedelta(minutes=15)

    assert services.verification_batches_reap(stale_after=stale_after) == 0  # too recent
    VerificationBatch.objects.update(created_at=timezone.now() - timedelta(hours=1))
    assert services.verification_batches_reap(stale_after=stale_after) == 3

    states = dict(batch.items.values_list("pk", "state"))
    assert states == {
        waiting.pk: BatchItemState.QUEUED,  # its task is still in the queue
        lost.pk: BatchItemState.SKIPPED,
        never_queued.pk: BatchItemState.SKIPPED,
        switched.pk: BatchItemState.SKIPPED,
    }
    assert batch.items.get(pk=lost.pk).note.startswith("Never run: no task was waiting")
    task_queue.run()
    batch.refresh_from_db()
    assert batch.finished_at is not None


def test_scheduled_enqueue_reaps_even_with_no_grant_to_verify(
    aws_world, piyo, hoge, task_queue, capsys
) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge, "lonely")
    batch = services.verification_batch_start(grants=[grant], actor=None)
    VerificationBatchItem.objects.update(
        state=BatchItemState.RUNNING, started_at=timezone.now() - timedelta(hours=1)
    )
    Grant.objects.update(status=GrantStatus.REVOKED)  # nothing live any more

    call_command("verify_grants", "--enqueue")

    out = capsys.readouterr().out
    assert "Gave up 1 batch verification(s) nothing will finish." in out
    assert "No grants to verify." in out
    batch.refresh_from_db()
    assert batch.finished_at is not None


def test_an_interrupted_verification_says_so_on_its_item(
    aws_world, piyo, hoge, task_queue, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from grants.services import verification

    batch = services.verification_batch_start(grants=[provision(piyo, hoge, "i")], actor=None)
    item = batch.items.get()

    def stopped(**kwargs):  # type: ignore[no-untyped-def]
        raise SystemExit(1)  # what db_worker does on a second SIGTERM

    monkeypatch.setattr(verification, "grant_verify", stopped)
    with pytest.raises(SystemExit):
        services.verification_batch_item_verify(item_id=item.pk)
    item.refresh_from_db()
    assert item.state == BatchItemState.SKIPPED
    assert item.note == ("Interrupted before it finished (the worker or the request was stopped).")
    batch.refresh_from_db()
    assert batch.finished_at is not None
