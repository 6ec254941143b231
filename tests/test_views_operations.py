"""The grant page follows operations (htmx, and a plain refresh without JS); the messages
say what happened; with the database backend no AWS change happens in the request."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from grants import aws, services
from grants.aws import sandbox
from grants.models import Grant, GrantStatus, Operation, OperationKind, OperationState

from .test_services_grants import ROLE, draft, inject_failure

pytestmark = pytest.mark.django_db


def provision(piyo, hoge, **overrides) -> Grant:  # type: ignore[no-untyped-def]
    grant = services.grant_provision(grant=draft(piyo, hoge, **overrides), actor=None)
    assert grant.status == GrantStatus.ACTIVE
    return grant


def running_revoke(grant: Grant, *, actor_name: str = "bob", lease_seconds: int = 60) -> Operation:
    now = timezone.now()
    return Operation.objects.create(
        grant=grant,
        kind=OperationKind.REVOKE,
        state=OperationState.RUNNING,
        actor_name=actor_name,
        started_at=now,
        lease_owner="worker-1",
        lease_expires_at=now + timedelta(seconds=lease_seconds),
    )


def test_the_grant_page_follows_a_running_operation_with_and_without_js(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    running_revoke(grant)
    body = user_client.get(grant.get_absolute_url()).content.decode()
    fragment = reverse("grant_operation", args=[grant.pk])
    assert f'hx-get="{fragment}" hx-trigger="every 1s"' in body
    assert '<noscript><meta http-equiv="refresh" content="2">' in body
    assert "Being revoked" in body
    # While it runs, neither a second revoke nor a retry is offered.
    assert reverse("grant_revoke", args=[grant.pk]) not in body
    assert reverse("grant_retry", args=[grant.pk]) not in body


def test_the_progress_fragment_polls_while_running_and_reloads_the_page_when_done(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    op = running_revoke(grant)
    url = reverse("grant_operation", args=[grant.pk])
    running = user_client.get(url, headers={"HX-Request": "true"})
    assert running.status_code == 200
    assert "HX-Refresh" not in running
    assert 'data-operation-state="running"' in running.content.decode()
    assert "hx-trigger" in running.content.decode()

    Operation.objects.filter(pk=op.pk).update(state=OperationState.SUCCEEDED, message="Done.")
    done = user_client.get(url, headers={"HX-Request": "true"})
    assert done["HX-Refresh"] == "true"
    assert "hx-trigger" not in done.content.decode()


def test_a_finished_operation_is_shown_without_polling(user_client, aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    body = user_client.get(grant.get_absolute_url()).content.decode()
    assert 'data-operation-state="succeeded"' in body
    assert "http-equiv" not in body and 'hx-trigger="every 1s"' not in body
    assert "iam:CreateRole" in body  # the steps, with their request IDs
    assert "request ID" in body


def test_a_revoke_while_another_is_running_says_who_is_revoking(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    running_revoke(grant, actor_name="bob")
    response = user_client.post(reverse("grant_revoke", args=[grant.pk]), follow=True)
    assert "is already being revoked by bob since" in response.content.decode()
    grant.refresh_from_db()
    assert grant.status == GrantStatus.ACTIVE
    assert aws.role_get(piyo.access(), ROLE) is not None


def test_a_second_revoke_after_the_first_finished_says_it_was_already_revoked(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    url = reverse("grant_revoke", args=[grant.pk])
    first = user_client.post(url, follow=True).content.decode()
    second = user_client.post(url, follow=True).content.decode()
    assert f"Revoked {grant.role_arn}." in first
    assert "it was already revoked" in second
    assert "cannot be revoked now" not in second


def test_revoking_the_portals_hub_role_is_refused_with_the_reason(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    grant = draft(piyo, hoge, role_name=sandbox.HUB_ROLE_NAME)
    grant.status = GrantStatus.ACTIVE
    grant.save()
    response = user_client.post(reverse("grant_revoke", args=[grant.pk]), follow=True)
    assert "is the role the portal acts through" in response.content.decode()
    assert aws.role_get(piyo.access(), sandbox.HUB_ROLE_NAME) is not None


def test_a_stalled_operation_says_so_and_can_be_resumed(user_client, aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    op = running_revoke(grant, lease_seconds=-5)  # its worker died
    body = user_client.get(grant.get_absolute_url()).content.decode()
    assert 'data-testid="operation-stalled"' in body
    assert "recover_operations" in body
    response = user_client.post(reverse("grant_operation_resume", args=[grant.pk]), follow=True)
    assert "Revoke of piyo-sqs-for-hoge resumed." in response.content.decode()
    op.refresh_from_db()
    grant.refresh_from_db()
    assert op.state == OperationState.SUCCEEDED  # the immediate backend ran it
    assert grant.status == GrantStatus.REVOKED


def test_resume_does_nothing_while_a_worker_holds_the_operation(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    op = running_revoke(grant)
    response = user_client.post(reverse("grant_operation_resume", args=[grant.pk]), follow=True)
    assert "Nothing to resume" in response.content.decode()
    op.refresh_from_db()
    assert (op.state, op.attempts) == (OperationState.RUNNING, 0)


def test_a_partly_revoked_grant_offers_revoke_again_not_retry(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    inject_failure("DeleteRole", code="ServiceFailure")
    grant = provision(piyo, hoge)
    response = user_client.post(reverse("grant_revoke", args=[grant.pk]), follow=True)
    body = response.content.decode()
    assert "Some calls failed; still in AWS: iam:DeleteRole" in body
    assert "Revoke again" in body
    assert reverse("grant_retry", args=[grant.pk]) not in body


def test_a_partly_provisioned_grant_offers_retry_and_revoke(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    inject_failure("PutUserPolicy")
    inject_failure("DetachRolePolicy", code="ServiceFailure")
    grant = services.grant_provision(grant=draft(piyo, hoge), actor=None)
    assert grant.status == GrantStatus.PARTIAL
    body = user_client.get(grant.get_absolute_url()).content.decode()
    assert reverse("grant_retry", args=[grant.pk]) in body
    assert "Revoke what is there" in body


@pytest.mark.django_db(transaction=True)
def test_with_the_database_backend_a_revoke_request_only_queues(
    user_client, aws_world, piyo, hoge, task_queue
) -> None:  # type: ignore[no-untyped-def]
    grant = services.grant_provision(grant=draft(piyo, hoge), actor=None)
    task_queue.run()
    grant.refresh_from_db()
    assert grant.status == GrantStatus.ACTIVE

    response = user_client.post(reverse("grant_revoke", args=[grant.pk]), follow=True)

    body = response.content.decode()
    assert "Revoke of piyo-sqs-for-hoge is queued: this page follows its progress." in body
    assert "Waiting for a worker to take it" in body
    assert aws.role_get(piyo.access(), ROLE) is not None  # nothing changed in the request
    task_queue.run()
    grant.refresh_from_db()
    assert grant.status == GrantStatus.REVOKED
    assert aws.role_get(piyo.access(), ROLE) is None


def test_the_revoke_confirmation_says_a_revoke_is_under_way(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    running_revoke(grant, actor_name="bob")
    body = user_client.get(reverse("grant_revoke", args=[grant.pk])).content.decode()
    assert 'data-testid="revoke-busy"' in body
    assert "already being revoked by bob" in body
    assert "Revoke grant</button>" not in body


def test_the_revoke_confirmation_of_the_portals_hub_role_offers_no_button(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    grant = draft(piyo, hoge, role_name=sandbox.HUB_ROLE_NAME)
    grant.status = GrantStatus.ACTIVE
    grant.save()
    body = user_client.get(reverse("grant_revoke", args=[grant.pk])).content.decode()
    assert 'data-testid="revoke-refused"' in body
    assert "Revoke grant</button>" not in body
