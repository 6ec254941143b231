"""The grant list, dashboard and batch pages say what is true: sorts, card links, progress."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from grants.models import (
    BatchItemState,
    Grant,
    GrantStatus,
    Verification,
    VerificationBatch,
    VerificationBatchItem,
    VerificationOutcome,
)
from grants.views import grantee_phrase

from .test_services_grants import draft

pytestmark = pytest.mark.django_db


def live(piyo, hoge, name: str, last_verified_at=None, **fields: object) -> Grant:  # type: ignore[no-untyped-def]
    grant = draft(piyo, hoge, role_name=name, **fields)
    grant.status = GrantStatus.ACTIVE
    grant.last_verified_at = last_verified_at
    grant.save()
    return grant


def listed(client, **query: str) -> list[str]:  # type: ignore[no-untyped-def]
    response = client.get(reverse("grant_list"), query)
    return [grant.role_name for grant in response.context["page"].object_list]


def test_sort_by_expiry_puts_never_expiring_grants_last(user_client, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    now = timezone.now()
    live(piyo, hoge, "never")
    live(piyo, hoge, "later", expires_at=now + timedelta(days=30))
    live(piyo, hoge, "soon", expires_at=now + timedelta(days=1))
    assert listed(user_client, sort="expiry") == ["soon", "later", "never"]


def test_sort_by_role_ignores_case(user_client, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    for name in ("beta", "Alpha", "charlie", "Delta"):
        live(piyo, hoge, name)
    assert listed(user_client, sort="role") == ["Alpha", "beta", "charlie", "Delta"]


def test_an_unknown_sort_falls_back_to_newest_first(user_client, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    live(piyo, hoge, "first")
    live(piyo, hoge, "second")
    response = user_client.get(reverse("grant_list"), {"sort": "bogus"})
    assert [g.role_name for g in response.context["page"].object_list] == ["second", "first"]
    assert response.context["sort"] == "newest"


def test_the_never_verified_card_links_to_exactly_the_grants_it_counts(
    user_client, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    live(piyo, hoge, "unverified")
    live(piyo, hoge, "verified", last_verified_at=timezone.now())
    draft(piyo, hoge, role_name="a-draft").save()  # not live: not counted
    dashboard = user_client.get(reverse("dashboard"))
    assert dashboard.context["counts"]["unverified"] == 1
    body = dashboard.content.decode()
    link = re.search(r'href="([^"]+)"[^>]*data-testid="view-unverified"', body)
    assert link is not None
    response = user_client.get(link.group(1).replace("&amp;", "&"))
    assert [g.role_name for g in response.context["page"].object_list] == ["unverified"]
    assert "live grants never verified" in response.content.decode()


def test_the_expiring_card_links_to_exactly_the_grants_it_counts(user_client, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    now = timezone.now()
    live(piyo, hoge, "in-three-days", expires_at=now + timedelta(days=3))
    live(piyo, hoge, "tomorrow", expires_at=now + timedelta(days=1))
    live(piyo, hoge, "next-month", expires_at=now + timedelta(days=30))
    live(piyo, hoge, "never")
    dashboard = user_client.get(reverse("dashboard"))
    assert dashboard.context["counts"]["expiring"] == 2
    link = re.search(r'href="([^"]+)"[^>]*data-testid="view-expiring"', dashboard.content.decode())
    assert link is not None
    response = user_client.get(link.group(1).replace("&amp;", "&"))
    assert [g.role_name for g in response.context["page"].object_list] == [
        "tomorrow",
        "in-three-days",
    ]


def test_the_batch_bar_shows_passed_and_failed_in_proportion(user_client, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    batch = VerificationBatch.objects.create(finished_at=timezone.now())
    outcomes = {"ok": VerificationOutcome.PASSED_GRANTEE, "bad": VerificationOutcome.FAILED}
    for name, outcome in outcomes.items():
        grant = live(piyo, hoge, name)
        steps = [{"key": "assume", "status": "fail" if name == "bad" else "pass", "summary": "x"}]
        verification = Verification.objects.create(
            grant=grant, actor_name="a", started_at=timezone.now(), outcome=outcome, steps=steps
        )
        VerificationBatchItem.objects.create(
            batch=batch,
            grant=grant,
            grant_label=name,
            state=BatchItemState.VERIFIED,
            verification=verification,
        )
    body = user_client.get(reverse("verification_batch", args=[batch.pk])).content.decode()
    bars = re.findall(r'class="progress-bar w-(\d+) bg-(\w+)[^"]*" data-segment="(\w+)"', body)
    assert bars == [("50", "success", "passed"), ("50", "danger", "failed")]
    assert "1 passed, 1 failed" in body


def test_the_grantee_phrase_names_the_user_and_account() -> None:
    grant = Grant(grantee_type="user", grantee_name="hoge-app", trusted_aws_account_id="7" * 12)
    assert grantee_phrase(grant) == "IAM user hoge-app in 777777777777"
    unnamed = Grant(grantee_type="user", grantee_name="", trusted_aws_account_id="7" * 12)
    assert grantee_phrase(unnamed) == "the IAM user the trusted account chooses, in 777777777777"


def test_copy_buttons_are_rendered_hidden_for_the_script_to_reveal(user_client, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = live(piyo, hoge, "copyable")
    body = user_client.get(grant.get_absolute_url()).content.decode()
    buttons = re.findall(r"<button[^>]*data-copy-target[^>]*>", body)
    assert buttons, "the grant page has Copy buttons"
    assert all(" hidden " in button for button in buttons)
