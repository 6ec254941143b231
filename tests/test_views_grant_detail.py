"""The grant page: recorded and observed state in words, and revoked grants' Test access."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from grants import aws, services
from grants.models import GrantStatus

from .test_services_drift_discovery import provision

pytestmark = pytest.mark.django_db

# Internal operation step keys must never reach the page.
STEP_KEY = re.compile(r"<code[^>]*>\s*(role|grantee-policy|attach:arn:[^<]*)\s*</code>")


def page(client, grant) -> str:  # type: ignore[no-untyped-def]
    return client.get(reverse("grant_detail", args=[grant.pk])).content.decode()


def section(body: str, testid: str) -> str:
    start = body.index(f'data-testid="{testid}"')
    return body[start : body.index("</ul>", start)]


def test_a_failed_test_access_shows_the_role_as_found_not_as_missing(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    aws.user_policy_delete(
        hoge.access(), user_name=grant.grantee_name, policy_name=grant.user_policy_name
    )
    verification = services.grant_verify(grant=grant, actor=None)
    assert not verification.passed
    grant.refresh_from_db()
    body = page(user_client, grant)
    observed = section(body, "observed-state")
    assert f"Role found in {piyo.name}" in observed
    assert "by Test access" in observed
    assert "(not in AWS" not in body
    assert 'data-testid="role-absent"' not in body
    assert not STEP_KEY.search(body)


def test_a_drift_check_names_the_missing_user_policy_with_its_time(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    aws.user_policy_delete(
        hoge.access(), user_name=grant.grantee_name, policy_name=grant.user_policy_name
    )
    grant = services.grant_drift_check(grant=grant, actor=None)
    observed = section(page(user_client, grant), "observed-state")
    assert f"User policy {grant.user_policy_name} missing" in observed
    assert f"at {grant.drift_checked_at:%H:%M} by drift check" in observed


def test_a_reapply_refreshes_the_observed_state(user_client, aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    aws.user_policy_delete(
        hoge.access(), user_name=grant.grantee_name, policy_name=grant.user_policy_name
    )
    grant = services.grant_drift_check(grant=grant, actor=None)
    user_client.post(reverse("grant_reapply", args=[grant.pk]))
    observed = section(page(user_client, grant), "observed-state")
    assert "missing" not in observed
    assert "Live IAM matched the record" in observed


def test_a_partial_grant_lists_what_is_left_in_words(user_client, aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    arn = grant.managed_policy_arns[0]
    grant.status = GrantStatus.PARTIAL
    grant.applied_steps = ["role", f"attach:{arn}", "grantee-policy"]
    grant.save()
    body = page(user_client, grant)
    recorded = section(body, "recorded-state")
    assert f"Role {grant.role_name} in {piyo.name}" in recorded
    assert f"Managed policy {arn.rsplit('/', 1)[-1]} attached to {grant.role_name}" in recorded
    assert f"User policy {grant.user_policy_name} on IAM user {grant.grantee_name}" in recorded
    assert not STEP_KEY.search(body)
    assert "attach:arn:" not in body


def test_a_revoked_grant_offers_to_confirm_access_is_gone_without_a_kit(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    grant = services.grant_revoke(grant=grant, actor=None)
    assert grant.status == GrantStatus.REVOKED
    body = page(user_client, grant)
    assert "Confirm access is gone" in body
    assert "Hand-off kit" not in body
    # Not built at all: no MFA-device read for access that is gone.
    assert user_client.get(grant.get_absolute_url()).context["kit"] is None
    response = user_client.post(reverse("grant_verify", args=[grant.pk]), follow=True)
    body = response.content.decode()
    verdict = body[body.index('data-testid="gone-verdict"') :].split("</strong>", 1)[0]
    assert "Access is gone, as expected" in verdict
    assert "<strong>Fix:</strong>" not in body
    assert "Re-apply the recorded" not in body
    assert "alert alert-success d-flex" in body


def test_an_active_grant_keeps_test_access_and_its_kit(user_client, aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    body = page(user_client, grant)
    assert "Confirm access is gone" not in body
    assert "Hand-off kit" in body


def test_reapply_and_adopt_are_links_to_their_confirmation_pages(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    aws.user_policy_delete(
        hoge.access(), user_name=grant.grantee_name, policy_name=grant.user_policy_name
    )
    grant = services.grant_drift_check(grant=grant, actor=None)
    body = page(user_client, grant)
    assert f'href="{reverse("grant_reapply", args=[grant.pk])}"' in body
    assert f'href="{reverse("grant_adopt", args=[grant.pk])}"' in body
    assert 'value="reapply"' not in body


def test_an_expired_grant_offers_to_confirm_access_is_gone_without_a_kit(
    user_client, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from django.utils import timezone

    from .test_services_grants import draft

    grant = draft(piyo, hoge)
    grant.status = GrantStatus.EXPIRED
    grant.expires_at = timezone.now() - timedelta(hours=1)
    grant.save()
    body = page(user_client, grant)
    assert "Confirm access is gone" in body
    assert "Hand-off kit" not in body
