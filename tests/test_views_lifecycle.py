"""Revoke confirmation, expiry form, hand-off kit on the page, audit filters and CSV export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from grants import services
from grants.models import AuditEvent, Grant, GrantStatus

from .test_services_grants import ROLE, draft

pytestmark = pytest.mark.django_db


def provision(piyo, hoge, **overrides) -> Grant:  # type: ignore[no-untyped-def]
    return services.grant_provision(grant=draft(piyo, hoge, **overrides), actor=None)


def test_revoke_asks_for_confirmation_listing_the_calls(user_client, aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    body = user_client.get(reverse("grant_revoke", args=[grant.pk])).content.decode()
    assert f"iam:DeleteRole {ROLE}" in body
    assert "iam:DeleteUserPolicy" in body
    grant.refresh_from_db()
    assert grant.status == GrantStatus.ACTIVE  # a GET changes nothing


def test_revoke_on_post(user_client, aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    response = user_client.post(reverse("grant_revoke", args=[grant.pk]), follow=True)
    assert f"Revoked {grant.role_arn}." in response.content.decode()
    grant.refresh_from_db()
    assert grant.status == GrantStatus.REVOKED
    assert AuditEvent.objects.filter(grant=grant, action="grant.revoke").get().actor == (
        user_client.user
    )


def test_the_grant_page_shows_the_hand_off_kit(user_client, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = draft(piyo, hoge, external_id="xacct-7")
    grant.status = GrantStatus.ACTIVE
    grant.save()
    body = user_client.get(grant.get_absolute_url()).content.decode()
    assert f"role_arn = arn:aws:iam::111122223333:role/{ROLE}" in body
    assert "external_id = xacct-7" in body
    assert "https://signin.aws.amazon.com/switchrole?roleName=" in body
    assert "The role requires an external ID, which the console cannot pass" in body
    assert "sqs.get_paginator(&quot;list_queues&quot;)" in body


def test_an_external_trusted_account_gets_the_user_policy_to_hand_over(user_client, piyo) -> None:  # type: ignore[no-untyped-def]
    grant = draft(piyo, None, trusted_aws_account_id="999988887777", grantee_name="")
    grant.status = GrantStatus.ACTIVE
    grant.save()
    body = user_client.get(grant.get_absolute_url()).content.decode()
    assert "User policy for the administrator of 999988887777" in body


def test_the_expiry_can_be_set_and_must_be_in_the_future(user_client, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = draft(piyo, hoge)
    grant.status = GrantStatus.ACTIVE
    grant.save()
    url = reverse("grant_expiry", args=[grant.pk])
    response = user_client.post(url, {"expires_at": "2001-01-01T00:00"}, follow=True)
    assert "The expiry must be in the future." in response.content.decode()
    future = (timezone.now() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    user_client.post(url, {"expires_at": future})
    grant.refresh_from_db()
    assert grant.expires_at is not None
    assert AuditEvent.objects.filter(grant=grant, action="grant.update").exists()


def test_the_audit_page_filters_and_exports_csv(user_client, aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    other = provision(piyo, hoge, role_name="other-role")
    response = user_client.get(
        reverse("audit_list"), {"grant": grant.pk, "action": "iam.CreateRole"}
    )
    assert len(response.context["page"].object_list) == 1
    export = user_client.get(reverse("audit_list"), {"grant": other.pk, "format": "csv"})
    assert export["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert {row["grant"] for row in rows} == {str(other.pk)}
    assert [row["action"] for row in rows][:2] == ["iam.CreateRole", "iam.AttachRolePolicy"]
    assert all(row["request_id"] for row in rows if row["action"].startswith("iam."))


def test_the_audit_csv_neutralises_formulas(user_client) -> None:  # type: ignore[no-untyped-def]
    services.audit_record(actor=None, action="account.update", message="=HYPERLINK(1)")
    export = user_client.get(reverse("audit_list"), {"format": "csv"})
    assert "'=HYPERLINK(1)" in b"".join(export.streaming_content).decode()


def test_reapply_asks_for_confirmation_listing_the_calls(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    from grants import aws

    grant = provision(piyo, hoge)
    aws.user_policy_delete(
        hoge.access(), user_name=grant.grantee_name, policy_name=grant.user_policy_name
    )
    url = reverse("grant_reapply", args=[grant.pk])
    body = user_client.get(url).content.decode()
    assert "iam:PutUserPolicy" in body
    assert "iam:CreateRole" not in body  # the role is there: only the missing half
    # A GET changes nothing in AWS.
    assert (
        aws.user_policy(
            hoge.access(), user_name=grant.grantee_name, policy_name=grant.user_policy_name
        )
        is None
    )
    response = user_client.post(url, follow=True)
    assert "Re-applied the recorded state." in response.content.decode()
    assert (
        aws.user_policy(
            hoge.access(), user_name=grant.grantee_name, policy_name=grant.user_policy_name
        )
        == grant.user_policy
    )


def test_reapply_with_nothing_to_do_says_so(user_client, aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    body = user_client.get(reverse("grant_reapply", args=[grant.pk])).content.decode()
    assert "re-applying would make no call" in body


def test_adopt_asks_for_confirmation_listing_the_record_changes(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    from grants import aws
    from grants.models import PermissionSet

    grant = provision(
        piyo,
        hoge,
        permission_set=PermissionSet.QUEUES,
        queue_names=["orders"],
        queue_actions=["sqs:ReceiveMessage"],
        allow_list_queues=True,
    )
    assert grant.status == GrantStatus.ACTIVE, grant.last_error
    aws.role_policy_delete(piyo.access(), role_name=ROLE, policy_name=grant.inline_policy_name)
    url = reverse("grant_adopt", args=[grant.pk])
    body = user_client.get(url).content.decode()
    assert "Specific queues (least-privilege inline policy)" in body  # recorded now
    assert "Custom managed policy ARNs" in body  # what the live role has
    grant.refresh_from_db()
    assert grant.permission_set == PermissionSet.QUEUES  # a GET changes nothing
    response = user_client.post(url, follow=True)
    assert "The record now matches the live state." in response.content.decode()
    grant.refresh_from_db()
    assert grant.permission_set == PermissionSet.CUSTOM
    assert grant.inline_policy is None


def test_adopt_of_a_missing_role_is_refused_on_the_confirmation_page(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    from grants import aws

    grant = provision(piyo, hoge)
    for arn in aws.role_attached_policy_arns(piyo.access(), role_name=ROLE):
        aws.role_policy_detach(piyo.access(), role_name=ROLE, policy_arn=arn)
    aws.role_delete(piyo.access(), name=ROLE)
    body = user_client.get(reverse("grant_adopt", args=[grant.pk])).content.decode()
    assert "there is no live state to adopt" in body
    assert "Adopt live state</button>" not in body


def test_reapply_and_adopt_need_a_recent_password(
    client, django_user_model, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    from grants.middleware import AUTHENTICATED

    grant = provision(piyo, hoge)
    user = django_user_model.objects.create_superuser(username="bob", password="correct-horse-9")
    client.force_login(user)
    session = client.session
    session[AUTHENTICATED] = 0
    session.save()
    for name in ("grant_reapply", "grant_adopt"):
        response = client.get(reverse(name, args=[grant.pk]))
        assert response.status_code == 302
        assert reverse("reauthenticate") in response["Location"]
