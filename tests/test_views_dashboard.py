"""The dashboard's access map and verifications per day, /map.svg, the grant list's
pair filter the map links to, and the grant page's strip of recent verifications."""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from grants.models import GrantStatus, VerificationOutcome

from .conftest import make_account
from .test_access_map import make_grant, verify

pytestmark = pytest.mark.django_db

SVG = "{http://www.w3.org/2000/svg}"


def edge_links(body: str) -> dict[tuple[str, ...], tuple[str, str]]:
    """(trusted ID, trusting ID) → (href, data-health) of each arrow on the page."""
    found = re.findall(
        r'<a href="([^"]+)" class="xmap-edge" data-health="(\w+)" '
        r'data-trusted="(\d{12})" data-trusting="(\d{12})"',
        body,
    )
    return {
        (trusted, trusting): (html.unescape(href), health)
        for href, health, trusted, trusting in found
    }


def test_the_map_draws_a_red_arrow_from_hoge_to_piyo_that_lists_the_failing_grant(
    user_client, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    failing = make_grant(piyo, hoge.account_id, trusted=hoge, status=GrantStatus.FAILING, ok=False)
    passing = make_grant(piyo, hoge.account_id, trusted=hoge)
    other_way = make_grant(hoge, piyo.account_id, trusted=piyo)
    body = user_client.get(reverse("dashboard")).content.decode()
    links = edge_links(body)
    href, health = links[(hoge.account_id, piyo.account_id)]
    assert health == "failing"
    assert href == f"/grants/?trusting={piyo.pk}&trusted={hoge.account_id}"
    assert links[(piyo.account_id, hoge.account_id)][1] == "passing"
    assert 'stroke="#b02a37"' in body and 'marker-end="url(#xmap-arrow-failing)"' in body

    listed = user_client.get(href).content.decode()
    assert failing.role_name in listed and passing.role_name in listed
    assert other_way.role_name not in listed
    assert f"Showing: live grants from {hoge} to {piyo}." in listed
    only_failing = user_client.get(href + "&health=failing").content.decode()
    assert failing.role_name in only_failing and passing.role_name not in only_failing
    assert f'href="{href.replace("&", "&amp;")}&amp;health=failing"' in body  # from the table


def test_an_account_links_to_its_grants_and_an_unregistered_id_to_its_trusted_grants(
    user_client, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    outside = make_grant(piyo, "999988887777", ok=None)
    make_grant(piyo, hoge.account_id, trusted=hoge)
    body = user_client.get(reverse("dashboard")).content.decode()
    assert (
        f'<a href="/grants/?account={piyo.pk}" class="xmap-node" data-account="{piyo.account_id}"'
        in body
    )
    assert (
        '<a href="/grants/?trusted=999988887777" class="xmap-node" data-account="999988887777"'
        in body
    )
    assert 'aria-label="999988887777 (not registered): its grants"' in body
    assert f'aria-label="piyo {piyo.account_id}: its grants"' in body
    listed = user_client.get("/grants/?trusted=999988887777").content.decode()
    assert outside.role_name in listed
    assert "Showing: live grants from 999988887777." in listed


def test_the_map_has_a_title_a_description_and_a_table_alternative(user_client, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    make_grant(piyo, hoge.account_id, trusted=hoge, ok=None)
    make_grant(piyo, hoge.account_id, trusted=hoge, expires_in=timedelta(days=2))
    body = user_client.get(reverse("dashboard")).content.decode()
    assert '<title id="xmap-title">Access map: 2 accounts, 2 live grants</title>' in body
    assert 'aria-labelledby="xmap-title xmap-desc"' in body
    table = body[body.index('data-testid="access-map-table"') :]
    table = table[: table.index("</details>")]
    assert f"<td>{hoge}</td><td>{piyo}</td>" in table
    cells = re.findall(r'<td class="text-end">(?:<a [^>]+>)?(\d+)', table)
    assert cells == ["0", "1", "1", "0", "2"]


def test_the_dashboard_says_when_there_is_nothing_to_draw(user_client, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    make_grant(piyo, hoge.account_id, trusted=hoge, status=GrantStatus.REVOKED, ok=False)
    body = user_client.get(reverse("dashboard")).content.decode()
    assert 'data-testid="access-map-empty"' in body
    assert "xmap-edge" not in body
    # The chart still shows thirty empty days.
    assert body.count('data-passed="0" data-failed="0"') == 30


def test_the_dashboard_markup_is_csp_clean(user_client, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = make_grant(piyo, hoge.account_id, trusted=hoge, status=GrantStatus.FAILING, ok=False)
    verify(grant, VerificationOutcome.FAILED, timezone.now())
    response = user_client.get(reverse("dashboard"))
    body = response.content.decode()
    assert "xmap-edge" in body and "data-day=" in body
    assert "style-src 'self'" in response["Content-Security-Policy"]
    assert not re.search(r"\sstyle=", body)  # no inline style attribute
    assert not re.search(r"<style", body)
    assert not re.search(r"<script(?![^>]*\ssrc=)", body)  # only external scripts
    assert not re.search(r"\son[a-z]+=", body)  # no inline event handlers
    assert "https://" not in body.split("<main", 1)[1]  # nothing from another origin


def test_the_chart_counts_passes_and_failures_per_day(user_client, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = make_grant(piyo, hoge.account_id, trusted=hoge)
    now = timezone.now()
    for outcome in ("passed_grantee", "passed_portal", "failed"):
        verify(grant, outcome, now)
    verify(grant, "failed", now - timedelta(days=3))
    body = user_client.get(reverse("dashboard")).content.decode()
    today = timezone.localdate()
    assert f'data-day="{today:%Y-%m-%d}" data-passed="2" data-failed="1"' in body
    three_ago = today - timedelta(days=3)
    assert f'data-day="{three_ago:%Y-%m-%d}" data-passed="0" data-failed="1"' in body
    assert f"{today:%Y-%m-%d}: 2 passed, 1 failed</title>" in body
    assert (
        f'<td>{today:%a %Y-%m-%d}</td><td class="text-end">2</td><td class="text-end">1</td>'
        in body
    )


def dashboard_queries(client) -> int:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    return len(queries)


def test_the_dashboard_runs_a_constant_number_of_queries(
    user_client, piyo, hoge, django_assert_num_queries
) -> None:  # type: ignore[no-untyped-def]
    grant = make_grant(piyo, hoge.account_id, trusted=hoge, status=GrantStatus.FAILING, ok=False)
    verify(grant, VerificationOutcome.FAILED, timezone.now())
    few = dashboard_queries(user_client)
    accounts = [piyo, hoge] + [
        make_account(account_id=f"{n:012d}", name=f"acct-{n:02d}") for n in range(18)
    ]
    now = timezone.now()
    for n in range(200):
        g = make_grant(
            accounts[n % 20],
            accounts[(n * 7 + 3) % 20].account_id,
            trusted=accounts[(n * 7 + 3) % 20],
            ok=[True, False, None][n % 3],
        )
        verify(g, VerificationOutcome.PASSED_GRANTEE, now - timedelta(days=n % 30))
    body = user_client.get(reverse("dashboard")).content.decode()
    assert body.count('class="xmap-edge"') > 20
    with django_assert_num_queries(few):
        user_client.get(reverse("dashboard"))


def test_the_map_is_also_a_standalone_svg_document(user_client, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    make_grant(piyo, hoge.account_id, trusted=hoge, status=GrantStatus.FAILING, ok=False)
    response = user_client.get(reverse("access_map_svg"))
    assert response["Content-Type"] == "image/svg+xml; charset=utf-8"
    root = ET.fromstring(response.content)
    assert root.tag == f"{SVG}svg"
    assert root.find(f"{SVG}title").text.startswith("Access map: 2 accounts, 1 live grant")
    edges = [a for a in root.iter(f"{SVG}a") if a.get("class") == "xmap-edge"]
    assert [(a.get("href"), a.get("data-health")) for a in edges] == [
        (f"/grants/?trusting={piyo.pk}&trusted={hoge.account_id}", "failing")
    ]


def test_the_map_is_refused_to_a_person_without_a_role(client, django_user_model) -> None:  # type: ignore[no-untyped-def]
    client.force_login(django_user_model.objects.create_user("nobody", password="x-pass-123456"))
    assert client.get(reverse("access_map_svg")).status_code == 403


def test_the_grant_list_ignores_malformed_map_filters(user_client, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = make_grant(piyo, hoge.account_id, trusted=hoge)
    response = user_client.get("/grants/?trusting=abc&trusted=12&health=purple")
    assert response.status_code == 200
    body = response.content.decode()
    assert grant.role_name in body and 'data-testid="map-filter"' not in body
    assert user_client.get(f"/grants/?trusting={2**63}").status_code == 400


def test_the_grant_list_keeps_the_map_filter_when_the_form_is_applied(
    user_client, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    make_grant(piyo, hoge.account_id, trusted=hoge)
    body = user_client.get(
        f"/grants/?trusting={piyo.pk}&trusted={hoge.account_id}&health=passing"
    ).content.decode()
    for name, value in (("trusting", piyo.pk), ("trusted", hoge.account_id), ("health", "passing")):
        assert f'<input type="hidden" name="{name}" value="{value}">' in body
    assert f"Showing: passing grants from {hoge} to {piyo}." in body


def test_the_grant_page_shows_a_strip_of_the_last_thirty_verifications(
    user_client, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    grant = make_grant(piyo, hoge.account_id, trusted=hoge)
    start = timezone.now() - timedelta(hours=40)
    for n in range(32):
        outcome = "failed" if n == 31 else ("static_only" if n == 30 else "passed_grantee")
        verify(grant, outcome, start + timedelta(hours=n), duration_ms=1000 + n)
    body = user_client.get(grant.get_absolute_url()).content.decode()
    strip = body[body.index('data-testid="verification-strip"') :]
    strip = strip[: strip.index("</ol>")]
    assert "Last 30 verifications, oldest first" in strip
    durations = re.findall(r'data-duration-ms="(\d+)"', strip)
    assert durations == [str(1000 + n) for n in range(2, 32)]
    assert re.findall(r'data-outcome="(\w+)"', strip)[-2:] == ["static_only", "failed"]
    assert "Failed, 1031 ms</span>" in strip
    assert "· 1031 ms · alice" in strip  # the title shown on hover


def test_a_grant_never_verified_has_no_strip(user_client, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = make_grant(piyo, hoge.account_id, trusted=hoge, ok=None)
    body = user_client.get(grant.get_absolute_url()).content.decode()
    assert 'data-testid="verification-strip"' not in body
