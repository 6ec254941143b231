"""Test access over HTTP, the grants list, the dashboard, bulk verification and verify_grants."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from grants import aws
from grants.models import Grant, GrantStatus, Verification

from .test_services_grants import draft, provisioned

pytestmark = pytest.mark.django_db


def provision(piyo, hoge, name: str = "piyo-sqs-for-hoge") -> Grant:  # type: ignore[no-untyped-def]
    grant = provisioned(draft(piyo, hoge, role_name=name))
    assert grant.status == GrantStatus.ACTIVE
    return grant


def test_test_access_without_javascript_redirects_to_the_result(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    response = user_client.post(reverse("grant_verify", args=[grant.pk]), follow=True)
    body = response.content.decode()
    assert "Test access passed: 3 queue(s)." in body
    for name in ("orders", "notifications", "orders-dlq"):
        assert f"/111122223333/{name}</code>" in body
    assert Verification.objects.get().actor == user_client.user


def test_test_access_with_htmx_returns_the_panel_in_place(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    response = user_client.post(reverse("grant_verify", args=[grant.pk]), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="verification"')
    assert "Test access passed" in body


def test_test_access_from_a_list_row_returns_the_row(user_client, aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    url = reverse("grant_verify", args=[grant.pk]) + "?compact=1"
    body = user_client.post(url, HTTP_HX_REQUEST="true").content.decode()
    assert body.lstrip().startswith(f'<tr data-grant="{grant.pk}">')
    assert "passed" in body


def test_a_failure_shows_every_error_detail_and_the_explanation(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    aws.user_policy_delete(
        hoge.access(), user_name=grant.grantee_name, policy_name=grant.user_policy_name
    )
    aws.role_policy_detach(
        piyo.access(), role_name=grant.role_name, policy_arn=grant.managed_policy_arns[0]
    )
    aws.role_delete(piyo.access(), name=grant.role_name)
    body = user_client.post(reverse("grant_verify", args=[grant.pk]), follow=True).content.decode()
    assert "Test access failed" in body
    assert f"The role {grant.role_name} does not exist" in body
    assert f"The user policy {grant.user_policy_name} is missing." in body
    assert "Provision the grant again, or revoke it." in body


def test_a_failed_provisioning_has_nothing_to_test(user_client, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = draft(piyo, hoge)
    grant.status = GrantStatus.FAILED
    grant.save()
    response = user_client.post(reverse("grant_verify", args=[grant.pk]), follow=True)
    assert "has nothing to test" in response.content.decode()
    assert not Verification.objects.exists()


def make_grants(piyo, hoge, count: int, start: int = 0) -> None:  # type: ignore[no-untyped-def]
    grants = []
    for n in range(start, start + count):
        grant = draft(piyo, hoge, role_name=f"role-{n:04d}")
        grant.status = GrantStatus.ACTIVE
        grants.append(grant)
    Grant.objects.bulk_create(grants)


def list_queries(client, **params) -> int:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("grant_list"), params)
    assert response.status_code == 200
    return len(queries)


def test_the_grant_list_runs_a_constant_number_of_queries(user_client, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    make_grants(piyo, hoge, 1)
    one = list_queries(user_client)
    make_grants(piyo, hoge, 199, start=1)
    assert Grant.objects.count() == 200
    two_hundred = list_queries(user_client)
    assert one == two_hundred
    assert list_queries(user_client, page=8) == one


def test_the_grant_list_filters_searches_and_sorts(user_client, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    make_grants(piyo, hoge, 3)
    Grant.objects.filter(role_name="role-0001").update(status=GrantStatus.FAILING)
    body = user_client.get(reverse("grant_list"), {"status": "failing"}).content.decode()
    assert "role-0001" in body and "role-0002" not in body
    body = user_client.get(reverse("grant_list"), {"q": "0002"}).content.decode()
    assert "role-0002" in body and "role-0001" not in body
    body = user_client.get(reverse("grant_list"), {"sort": "role"}).content.decode()
    assert body.index("role-0000") < body.index("role-0002")
    body = user_client.get(reverse("grant_list"), {"q": "nothing-like-this"}).content.decode()
    assert "No grant matches these filters." in body


def test_the_dashboard_counts_grants(user_client, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from django.utils import timezone

    make_grants(piyo, hoge, 4)
    Grant.objects.filter(role_name="role-0000").update(
        status=GrantStatus.FAILING, last_verification_ok=False, last_verified_at=timezone.now()
    )
    Grant.objects.filter(role_name="role-0001").update(
        expires_at=timezone.now() + timedelta(days=2)
    )
    response = user_client.get(reverse("dashboard"))
    assert response.context["counts"] == {"active": 3, "failing": 1, "unverified": 3, "expiring": 1}


def test_the_dashboard_says_background_work_runs_in_the_request_by_default(user_client) -> None:  # type: ignore[no-untyped-def]
    body = user_client.get(reverse("dashboard")).content.decode()
    assert "Tasks run immediately, inside the request" in body
    assert "Scheduled re-verification (<code>verify_grants --enqueue</code>): never run." in body


@pytest.mark.django_db(transaction=True)
def test_the_dashboard_shows_the_queue_and_warns_when_work_waits(
    user_client, aws_world, piyo, hoge, task_queue
) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    for name in ("q1", "q2"):
        provision(piyo, hoge, name)
    call_command("verify_grants", "--enqueue")
    response = user_client.get(reverse("dashboard"))
    body = response.content.decode()
    background = response.context["background"]
    assert (background.queued, background.running, background.failed_last_day) == (2, 0, 0)
    assert '<strong data-testid="tasks-queued">2</strong> queued' in body
    assert "(still running)" in body
    assert "waited over 5 minutes" not in body
    assert "/admin/django_tasks_database/dbtaskresult/" in body  # alice is staff

    DBTaskResult.objects.update(enqueued_at=timezone.now() - timedelta(minutes=10))
    body = user_client.get(reverse("dashboard")).content.decode()
    assert "Work has waited over 5 minutes: is a <code>db_worker</code> running?" in body

    task_queue.run()
    background = user_client.get(reverse("dashboard")).context["background"]
    assert (background.queued, background.oldest_queued_at) == (0, None)
    assert background.last_scheduled_batch.finished_at is not None
    assert [b.item_count for b in background.recent_batches] == [2]


def test_verify_selected_runs_a_batch_and_shows_each_result(
    user_client, aws_world, piyo, hoge, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    first, second = provision(piyo, hoge, "one"), provision(piyo, hoge, "two")
    # The tasks are enqueued once the batch is committed (the immediate backend runs them).
    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.post(reverse("grants_verify_bulk"), {"grant": [first.pk, second.pk]})
    body = user_client.get(response.url).content.decode()
    assert "Finished: 2 verified, <strong>0 failed</strong>." in body
    assert Verification.objects.filter(batch__isnull=False).count() == 2


def test_verify_selected_needs_a_selection(user_client) -> None:  # type: ignore[no-untyped-def]
    response = user_client.post(reverse("grants_verify_bulk"), {}, follow=True)
    assert "Select at least one active grant to verify." in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_verify_grants_verifies_fifty_grants_concurrently(aws_world, piyo, hoge, capsys) -> None:  # type: ignore[no-untyped-def]
    grants = [provision(piyo, hoge, f"bulk-{n:02d}") for n in range(50)]
    call_command("verify_grants", "--workers", "4")
    out = capsys.readouterr().out
    assert out.count("PASS  #") == 50
    assert "50 verified, 0 failed." in out
    assert Verification.objects.filter(outcome="passed_portal").count() == 50

    aws.role_policy_detach(
        piyo.access(), role_name=grants[7].role_name, policy_arn=grants[7].managed_policy_arns[0]
    )
    with pytest.raises(SystemExit) as exited:
        call_command("verify_grants", "--account", "piyo")
    assert exited.value.code == 1
    out = capsys.readouterr().out
    assert f"FAIL  #{grants[7].pk}" in out
    assert "50 verified, 1 failed." in out

    with pytest.raises(SystemExit):
        call_command("verify_grants", "--failing")
    assert "1 verified, 1 failed." in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_a_queued_batch_waits_for_a_worker_then_shows_every_result(
    user_client, aws_world, piyo, hoge, task_queue
) -> None:  # type: ignore[no-untyped-def]
    from django_tasks_db.models import DBTaskResult

    grants = [provision(piyo, hoge, f"bg-{n}") for n in range(6)]
    response = user_client.post(reverse("grants_verify_bulk"), {"all": "1"})
    batch_url = response.url
    body = user_client.get(batch_url, HTTP_HX_REQUEST="true").content.decode()
    assert "Queued: waiting for a worker" in body
    assert 'hx-trigger="every 1s"' in body
    assert body.count('data-item-state="queued"') == 6
    assert DBTaskResult.objects.filter(status="READY").count() == 6
    assert Verification.objects.count() == 0

    task_queue.run()

    body = user_client.get(batch_url, HTTP_HX_REQUEST="true").content.decode()
    assert "Finished: 6 verified, <strong>0 failed</strong>." in body
    assert 'hx-trigger="every 1s"' not in body
    assert body.count('data-item-state="verified"') == 6
    assert Verification.objects.count() == len(grants)
    assert DBTaskResult.objects.filter(status="SUCCESSFUL").count() == 6


@pytest.mark.django_db(transaction=True)
def test_a_batch_where_nothing_moves_says_a_worker_may_be_missing(
    user_client, aws_world, piyo, hoge, task_queue
) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from django.utils import timezone

    from grants.models import VerificationBatch

    provision(piyo, hoge)
    batch_url = user_client.post(reverse("grants_verify_bulk"), {"all": "1"}).url
    assert "Nothing has moved" not in user_client.get(batch_url).content.decode()
    VerificationBatch.objects.update(created_at=timezone.now() - timedelta(minutes=2))
    body = user_client.get(batch_url).content.decode()
    assert "Nothing has moved for over a minute" in body
    assert "manage.py db_worker" in body

    task_queue.run()
    assert "Nothing has moved" not in user_client.get(batch_url).content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_batch_records_why_a_deleted_grant_and_a_crashed_task_were_not_verified(
    user_client, aws_world, piyo, hoge, task_queue, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from django_tasks_db.models import DBTaskResult

    from grants.models import VerificationBatch
    from grants.services import verification

    kept, deleted, crashing = (provision(piyo, hoge, name) for name in ("kept", "gone", "crash"))
    user_client.post(reverse("grants_verify_bulk"), {"all": "1"})
    Grant.objects.filter(pk=deleted.pk).delete()
    real_verify = verification.grant_verify

    def verify(*, grant, actor, batch):  # type: ignore[no-untyped-def]
        if grant.pk == crashing.pk:
            raise RuntimeError("simulated crash")
        return real_verify(grant=grant, actor=actor, batch=batch)

    monkeypatch.setattr(verification, "grant_verify", verify)
    task_queue.run()

    batch = VerificationBatch.objects.get()
    assert batch.finished_at is not None
    notes = {item.grant_label.split()[0]: (item.state, item.note) for item in batch.items.all()}
    assert notes == {
        "kept": ("verified", ""),
        "gone": ("skipped", "The grant was deleted before its turn."),
        "crash": (
            "skipped",
            "The verification stopped with an error (RuntimeError); see the log of the worker "
            "(or web process) that ran it.",
        ),
    }
    assert list(batch.verifications.values_list("grant_id", flat=True)) == [kept.pk]
    failed = DBTaskResult.objects.get(status="FAILED")
    assert "simulated crash" in failed.traceback
    body = user_client.get(batch.get_absolute_url()).content.decode()
    assert "Finished: 1 verified, <strong>0 failed</strong>, 2 not verified." in body
    assert "2 grants could not be verified; the table says why." in body
    assert "The grant was deleted before its turn." in body


def test_a_failed_test_access_is_audited_with_the_error_the_panel_shows(
    user_client, enforcing, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    from grants.aws import sandbox
    from grants.models import AuditAction, AuditEvent

    from .test_services_verification import ROLE
    from .test_services_verification import provision as provision_directly

    grant = provision_directly(piyo, hoge, grantee_profile=sandbox.GRANTEE_PROFILE)
    aws.role_policy_detach(piyo.access(), role_name=ROLE, policy_arn=grant.managed_policy_arns[0])
    panel = user_client.post(reverse("grant_verify", args=[grant.pk]), HTTP_HX_REQUEST="true")
    steps = {step["key"]: step for step in Verification.objects.get().steps}
    # A static check fails first; the AWS error is the live ListQueues's.
    assert steps["permissions"]["status"] == "fail" and not steps["permissions"]["error"]
    shown = steps["list_queues"]["error"]
    assert shown["request_id"] and shown["request_id"] in panel.content.decode()
    event = AuditEvent.objects.get(action=AuditAction.GRANT_VERIFY)
    assert (event.service, event.operation) == ("sqs", "ListQueues")
    assert (event.error_code, event.http_status) == ("AccessDenied", shown["http_status"])
    assert event.request_id == shown["request_id"]
    assert event.outcome == "failure"


def test_a_passed_test_access_is_audited_with_the_assume_role_request_id(
    user_client, enforcing, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    from grants.aws import sandbox
    from grants.models import AuditAction, AuditEvent

    from .test_services_verification import provision as provision_directly

    grant = provision_directly(piyo, hoge, grantee_profile=sandbox.GRANTEE_PROFILE)
    user_client.post(reverse("grant_verify", args=[grant.pk]))
    event = AuditEvent.objects.get(action=AuditAction.GRANT_VERIFY)
    assert event.outcome == "success"
    assert (event.service, event.operation, event.error_code) == ("sts", "AssumeRole", "")
    assert len(event.request_id) >= 20
