"""The access map (pure layout and the SQL that feeds it), the daily chart and the strip."""

from __future__ import annotations

import itertools
import math
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from grants import access_map, history_chart, selectors
from grants.access_map import (
    AccountRow,
    PairRow,
    build_access_map,
    render_svg,
    render_table_rows,
)
from grants.models import AwsAccount, Grant, GrantStatus, Verification, VerificationOutcome

_names = itertools.count()


def make_grant(
    trusting: AwsAccount,
    trusted_id: str,
    *,
    trusted: AwsAccount | None = None,
    status: str = GrantStatus.ACTIVE,
    ok: bool | None = True,
    expires_in: timedelta | None = None,
) -> Grant:
    """A grant record only (no AWS): status, last verdict and expiry as given."""
    now = timezone.now()
    return Grant.objects.create(
        trusting_account=trusting,
        role_name=f"role-{next(_names)}",
        region="ap-northeast-1",
        trusted_account=trusted,
        trusted_aws_account_id=trusted_id,
        trusted_principal_arn=f"arn:aws:iam::{trusted_id}:root",
        permission_set="sqs_full",
        user_policy_name="assume",
        trust_policy={},
        user_policy={},
        status=status,
        last_verification_ok=ok,
        last_verified_at=None if ok is None else now,
        expires_at=now + expires_in if expires_in is not None else None,
    )


def account(pk: int, name: str, ou_path: str = "") -> AccountRow:
    return AccountRow(pk=pk, account_id=f"{pk:012d}", name=name, ou_path=ou_path)


def pair(trusting: int, trusted: int, **counts: int) -> PairRow:
    return PairRow(
        trusting_account_pk=trusting,
        trusting_account_id=f"{trusting:012d}",
        trusted_account_id=f"{trusted:012d}",
        **counts,
    )


# --- Pure layout -----------------------------------------------------------------


def test_an_arrow_takes_the_colour_of_its_worst_grant_and_counts_each_health() -> None:
    built = build_access_map(
        accounts=[account(1, "piyo"), account(2, "hoge")],
        pairs=[pair(1, 2, failing=1, expiring=2, passing=5)],
    )
    (edge,) = built.edges
    assert (edge.trusted.name, edge.trusting.name) == ("hoge", "piyo")
    assert edge.worst == "failing"
    assert edge.colour == access_map.HEALTH_COLOURS["failing"]
    assert edge.total == 8
    assert edge.summary == "1 failing, 2 expiring, 5 passing"
    pair_url = "/grants/?trusting=1&trusted=000000000002"
    assert edge.href == pair_url
    assert edge.cells == [
        ("failing", 1, f"{pair_url}&health=failing"),
        ("unverified", 0, f"{pair_url}&health=unverified"),
        ("expiring", 2, f"{pair_url}&health=expiring"),
        ("passing", 5, f"{pair_url}&health=passing"),
    ]


@pytest.mark.parametrize(
    ("counts", "worst"),
    [
        ({"unverified": 1, "expiring": 3, "passing": 1}, "unverified"),
        ({"expiring": 1, "passing": 9}, "expiring"),
        ({"passing": 2}, "passing"),
    ],
)
def test_the_worst_health_wins_in_order_failing_unverified_expiring_passing(
    counts: dict[str, int], worst: str
) -> None:
    built = build_access_map(
        accounts=[account(1, "a"), account(2, "b")], pairs=[pair(1, 2, **counts)]
    )
    assert built.edges[0].worst == worst


def test_a_self_edge_and_an_empty_pair_draw_no_arrow() -> None:
    built = build_access_map(
        accounts=[account(1, "a"), account(2, "b")],
        pairs=[pair(1, 1, failing=3), pair(2, 1)],
    )
    assert built.edges == []
    assert [n.name for n in built.nodes] == ["a", "b"]


def test_an_unregistered_trusted_account_is_a_node_without_a_primary_key() -> None:
    outsider = PairRow(
        trusting_account_pk=1,
        trusting_account_id="000000000001",
        trusted_account_id="999988887777",
        passing=1,
    )
    built = build_access_map(accounts=[account(1, "piyo")], pairs=[outsider])
    node = next(n for n in built.nodes if n.account_id == "999988887777")
    assert node.pk is None and not node.registered
    assert node.display == "999988887777"
    assert built.nodes[-1] is node  # unregistered IDs come after the registered accounts


def test_the_layout_is_deterministic_and_ordered_by_ou_path_then_name() -> None:
    accounts = [
        account(1, "zeta", "Root/Prod"),
        account(2, "alpha"),
        account(3, "beta", "Root/Dev"),
        account(4, "gamma", "Root/Prod"),
    ]
    pairs = [pair(1, 2, passing=1), pair(2, 1, failing=1), pair(3, 4, unverified=2)]
    first = build_access_map(accounts=accounts, pairs=pairs)
    again = build_access_map(accounts=list(reversed(accounts)), pairs=list(reversed(pairs)))
    assert [n.name for n in first.nodes] == ["beta", "gamma", "zeta", "alpha"]
    assert [(n.x, n.y) for n in first.nodes] == [(n.x, n.y) for n in again.nodes]
    assert [e.path for e in first.edges] == [e.path for e in again.edges]
    # The first node sits at 12 o'clock, straight above the centre.
    assert first.nodes[0].x == pytest.approx(first.width / 2)
    assert first.nodes[0].y < first.height / 2


def _control_point(path: str) -> tuple[float, float]:
    match = re.search(r"Q([-\d.]+),([-\d.]+)", path)
    assert match
    return float(match[1]), float(match[2])


def test_opposite_arrows_between_two_accounts_bow_to_opposite_sides() -> None:
    built = build_access_map(
        accounts=[account(1, "a"), account(2, "b")],
        pairs=[pair(1, 2, passing=1), pair(2, 1, failing=1)],
    )
    forward, backward = built.edges
    assert forward.path != backward.path
    a, b = built.nodes
    # The control points sit on either side of the line a-b (cross products of opposite sign).
    sides = []
    for edge in (forward, backward):
        cx, cy = _control_point(edge.path)
        sides.append((b.x - a.x) * (cy - a.y) - (b.y - a.y) * (cx - a.x))
    assert sides[0] * sides[1] < 0


def test_failing_arrows_are_drawn_last_so_they_stay_on_top() -> None:
    built = build_access_map(
        accounts=[account(n, f"acct-{n}") for n in range(1, 5)],
        pairs=[pair(1, 2, failing=1), pair(2, 3, passing=4), pair(3, 4, unverified=1)],
    )
    assert [e.worst for e in built.edges] == ["passing", "unverified", "failing"]


def test_two_hundred_grants_over_twenty_accounts_fit_with_few_label_collisions() -> None:
    accounts = [account(n, f"workload-account-{n:02d}") for n in range(1, 21)]
    pairs = [
        pair(trusting, trusted, passing=1 + (trusting * trusted) % 3)
        for trusting in range(1, 21)
        for trusted in range(1, 21)
        if trusting != trusted and (trusting + trusted) % 4 == 0
    ]
    built = build_access_map(accounts=accounts, pairs=pairs)
    assert len(built.nodes) == 20
    # Neighbouring accounts are at least NODE_SPACING apart along the ring (less the chord).
    a, b = built.nodes[0], built.nodes[1]
    assert math.hypot(a.x - b.x, a.y - b.y) > access_map.NODE_SPACING * 0.95
    # Every node stays inside the canvas with room for its label.
    for node in built.nodes:
        assert access_map.LABEL_MARGIN - 1 <= node.x <= built.width - access_map.LABEL_MARGIN + 1
    labels = {(e.label_x, e.label_y) for e in built.edges}
    assert len(labels) == len(built.edges)  # no two labels at the same spot


def test_an_empty_map_has_no_edges_and_keeps_its_accounts() -> None:
    built = build_access_map(accounts=[account(1, "piyo")], pairs=[])
    assert built.edges == [] and built.grant_count == 0
    assert [n.name for n in built.nodes] == ["piyo"]


def test_the_svg_escapes_what_records_hold_and_has_no_style_attribute() -> None:
    hostile = '<script>alert("x")</script> & "quoted"'
    built = build_access_map(
        accounts=[account(1, hostile, ou_path='Root/"Prod"'), account(2, "hoge")],
        pairs=[pair(1, 2, failing=1)],
        list_url="/portal/grants/",
    )
    svg = render_svg(built)
    assert "<script" not in svg and 'alert("x")' not in svg
    assert "&lt;script&gt;alert(&quot;x&quot;)" in svg
    assert "Root/&quot;Prod&quot;" in svg
    assert 'href="/portal/grants/?trusting=1&amp;trusted=000000000002"' in svg
    assert "style=" not in svg
    rows = render_table_rows(built)
    assert "<script" not in rows and "&lt;script&gt;" in rows
    assert (
        '<a href="/portal/grants/?trusting=1&amp;trusted=000000000002&amp;health=failing">1</a>'
        in rows
    )
    assert svg.count("<a ") == 2 * len(built.edges) + len(built.nodes)
    # Locale-proof coordinates: a dot, never a comma, as the decimal mark.
    assert not re.search(r'(?:cx|cy|x|y)="\d+,\d', svg)


def test_a_long_account_name_is_shortened_on_the_map() -> None:
    node = build_access_map(accounts=[account(1, "a" * 40)], pairs=[]).nodes[0]
    assert node.short_name == "a" * 17 + "…"
    assert node.display == f"{'a' * 40} (000000000001)"


# --- The SQL that feeds it ---------------------------------------------------------


@pytest.mark.django_db
def test_pairs_are_counted_per_health_in_sql_and_dead_grants_are_left_out(piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    make_grant(piyo, hoge.account_id, trusted=hoge, status=GrantStatus.FAILING, ok=False)
    make_grant(piyo, hoge.account_id, trusted=hoge, status=GrantStatus.PARTIAL, ok=None)
    make_grant(piyo, hoge.account_id, trusted=hoge, ok=None)  # never verified
    make_grant(piyo, hoge.account_id, trusted=hoge, expires_in=timedelta(days=3))
    make_grant(piyo, hoge.account_id, trusted=hoge, expires_in=timedelta(days=30))
    make_grant(piyo, hoge.account_id, trusted=hoge)
    for gone in (GrantStatus.REVOKED, GrantStatus.EXPIRED, GrantStatus.FAILED, GrantStatus.DRAFT):
        make_grant(piyo, hoge.account_id, trusted=hoge, status=gone, ok=False)
    make_grant(hoge, "999988887777", ok=False)  # to an unregistered account
    make_grant(piyo, piyo.account_id, trusted=piyo, ok=False)  # same account: no arrow

    built = selectors.access_map_data()
    edges = {(e.trusted.account_id, e.trusting.account_id): e for e in built.edges}
    assert set(edges) == {(hoge.account_id, piyo.account_id), ("999988887777", hoge.account_id)}
    to_piyo = edges[(hoge.account_id, piyo.account_id)]
    assert to_piyo.counts == {"failing": 2, "unverified": 1, "expiring": 1, "passing": 2}
    assert to_piyo.trusting.pk == piyo.pk and to_piyo.trusted.pk == hoge.pk
    assert edges[("999988887777", hoge.account_id)].worst == "failing"


@pytest.mark.django_db
def test_expiring_reads_the_alert_setting_at_call_time(settings, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    make_grant(piyo, hoge.account_id, trusted=hoge, expires_in=timedelta(days=10))
    assert selectors.access_map_data().edges[0].worst == "passing"
    settings.XACCT_ALERT_EXPIRING_DAYS = 14
    assert selectors.access_map_data().edges[0].worst == "expiring"
    del settings.XACCT_ALERT_EXPIRING_DAYS
    assert selectors.expiring_within() == timedelta(days=7)


@pytest.mark.django_db
def test_each_health_filter_lists_exactly_the_grants_the_map_counts(piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    make_grant(piyo, hoge.account_id, trusted=hoge, status=GrantStatus.FAILING, ok=False)
    make_grant(piyo, hoge.account_id, trusted=hoge, ok=False, expires_in=timedelta(days=1))
    make_grant(piyo, hoge.account_id, trusted=hoge, ok=None, expires_in=timedelta(days=1))
    make_grant(piyo, hoge.account_id, trusted=hoge, expires_in=timedelta(days=1))
    make_grant(piyo, hoge.account_id, trusted=hoge)
    make_grant(piyo, hoge.account_id, trusted=hoge, status=GrantStatus.REVOKED)
    counts = selectors.access_map_data().edges[0].counts
    for health in access_map.HEALTHS:
        assert Grant.objects.filter(selectors.grant_health_q(health)).count() == counts[health]
    assert counts == {"failing": 2, "unverified": 1, "expiring": 1, "passing": 1}


@pytest.mark.django_db
def test_the_map_filter_ignores_malformed_values(piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    empty = selectors.grant_map_filter(trusting="x", trusted="12345", health="bad")
    assert not empty and empty.params == {}
    full = selectors.grant_map_filter(
        trusting=str(piyo.pk), trusted=hoge.account_id, health="failing"
    )
    assert full.params == {
        "trusting": str(piyo.pk),
        "trusted": hoge.account_id,
        "health": "failing",
    }
    assert full.label == f"failing grants from {hoge} to {piyo}"
    huge = selectors.grant_map_filter(trusting=str(2**63), trusted="٤٤٤٤٥٥٥٥٦٦٦٦", health="")
    assert huge.params == {}


# --- Verifications per day and the strip --------------------------------------------


def verify(grant: Grant, outcome: str, at: datetime, duration_ms: int = 100) -> Verification:
    return Verification.objects.create(
        grant=grant, actor_name="alice", started_at=at, duration_ms=duration_ms, outcome=outcome
    )


@pytest.mark.django_db
def test_daily_counts_cover_thirty_days_with_zero_days_and_today_last(piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = make_grant(piyo, hoge.account_id, trusted=hoge)
    now = timezone.now()
    verify(grant, VerificationOutcome.PASSED_GRANTEE, now)
    verify(grant, VerificationOutcome.PASSED_PORTAL, now)
    verify(grant, VerificationOutcome.FAILED, now)
    verify(grant, VerificationOutcome.STATIC_ONLY, now - timedelta(days=2))
    verify(grant, VerificationOutcome.FAILED, now - timedelta(days=29))
    verify(grant, VerificationOutcome.FAILED, now - timedelta(days=31))  # too old
    days = selectors.verification_daily_counts()
    assert len(days) == 30
    assert days[-1].day == timezone.localdate()
    assert (days[-1].passed, days[-1].failed, days[-1].static_only) == (2, 1, 0)
    assert days[-3].static_only == 1
    assert days[0].failed == 1
    assert sum(d.total for d in days) == 5
    assert [d.total for d in days[1:-3]] == [0] * 26


@pytest.mark.django_db
def test_daily_counts_use_the_portal_time_zone(settings, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    settings.TIME_ZONE = "Asia/Tokyo"
    tokyo = ZoneInfo("Asia/Tokyo")
    grant = make_grant(piyo, hoge.account_id, trusted=hoge)
    today = timezone.localdate()
    # 00:30 in Tokyo today is still yesterday in UTC.
    verify(
        grant,
        VerificationOutcome.FAILED,
        datetime.combine(today, datetime.min.time(), tokyo) + timedelta(minutes=30),
    )
    days = selectors.verification_daily_counts()
    assert days[-1].day == today and days[-1].failed == 1
    assert days[-2].failed == 0


@pytest.mark.django_db
def test_the_strip_holds_the_last_thirty_verifications_oldest_first(piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = make_grant(piyo, hoge.account_id, trusted=hoge)
    other = make_grant(piyo, hoge.account_id, trusted=hoge)
    start = timezone.now() - timedelta(hours=40)
    for n in range(35):
        verify(
            grant,
            VerificationOutcome.FAILED if n % 5 == 0 else VerificationOutcome.PASSED_GRANTEE,
            start + timedelta(hours=n),
            duration_ms=n,
        )
    verify(other, VerificationOutcome.FAILED, timezone.now())
    strip = selectors.grant_verification_strip(grant_id=grant.pk)
    assert [v.duration_ms for v in strip] == list(range(5, 35))
    assert all(v.grant_id == grant.pk for v in strip)


def test_the_daily_chart_scales_to_the_busiest_day_and_stacks_failures_at_the_bottom() -> None:
    today = timezone.localdate()
    counts = [
        selectors.DayCount(day=today - timedelta(days=2), passed=0, failed=0, static_only=0),
        selectors.DayCount(day=today - timedelta(days=1), passed=3, failed=1, static_only=0),
        selectors.DayCount(day=today, passed=1, failed=1, static_only=0),
    ]
    chart = history_chart.daily_chart(counts)
    empty, busiest, last = chart.bars
    assert chart.peak == 4 and empty.segments == []
    failed, passed = busiest.segments
    assert (failed.kind, passed.kind) == ("failed", "passed")
    assert failed.y > passed.y  # failures below passes (SVG y grows downwards)
    assert failed.height + passed.height == pytest.approx(history_chart.PLOT_HEIGHT)
    assert sum(s.height for s in last.segments) == pytest.approx(history_chart.PLOT_HEIGHT / 2)
    assert last.tick and not busiest.tick
    assert busiest.summary == "3 passed, 1 failed"
