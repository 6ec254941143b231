"""Benchmark: the dashboard with its access map, 200 grants over 20 accounts.

Builds 20 accounts (one in five unregistered trusted IDs kept as plain IDs), 200
grants spread over about 150 account pairs in every health (failing, never
verified, expiring, passing) and 30 verifications per grant over the last 30
days (6,000), in a throw-away SQLite file. Then times, interleaved in the same
run, as a logged-in superuser through the whole middleware stack:

- GET /            the dashboard with the access map and the verifications per day
- GET /            the same dashboard with the map and the chart left out (baseline)
- GET /map.svg     the access map alone
- GET /grants/     the grant list's first page (another baseline)

and prints the medians, the map's own cost (dashboard minus baseline) and the
number of SQL queries of each page.

    DJANGO_DEBUG=true uv run python bench/map_bench.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
_DB_DIR = tempfile.mkdtemp(prefix="map-bench-")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xacct_portal.settings")
os.environ.setdefault("DJANGO_DEBUG", "true")
os.environ["DATABASE_URL"] = f"sqlite:///{_DB_DIR}/bench.sqlite3"

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402

from grants import access_map, selectors  # noqa: E402
from grants.models import (  # noqa: E402
    AwsAccount,
    Grant,
    GrantStatus,
    PermissionSet,
    Verification,
    VerificationOutcome,
)

ACCOUNTS = 20
GRANTS = 200
VERIFICATIONS_PER_GRANT = 30


def build() -> None:
    """16 registered accounts and 4 unregistered trusted IDs; 200 grants; 6,000 verifications."""
    registered = [
        AwsAccount.objects.create(
            account_id=f"{100000000000 + n * 1111:012d}",
            name=f"workload-{n:02d}",
            default_region="ap-northeast-1",
            ou_path=f"Root/{['Prod', 'Dev', 'Shared'][n % 3]}",
        )
        for n in range(16)
    ]
    outsiders = [f"{900000000000 + n * 7777:012d}" for n in range(ACCOUNTS - 16)]
    trusted_ids = [a.account_id for a in registered] + outsiders
    now = timezone.now()
    grants = []
    for n in range(GRANTS):
        trusting = registered[n % 16]
        trusted_id = trusted_ids[(n * 7 + 3) % ACCOUNTS]
        if trusted_id == trusting.account_id:
            trusted_id = trusted_ids[(n * 7 + 4) % ACCOUNTS]
        health = n % 10
        grants.append(
            Grant(
                trusting_account=trusting,
                trusted_account=next((a for a in registered if a.account_id == trusted_id), None),
                trusted_aws_account_id=trusted_id,
                trusted_principal_arn=f"arn:aws:iam::{trusted_id}:root",
                role_name=f"role-{n}",
                region="ap-northeast-1",
                permission_set=PermissionSet.SQS_FULL,
                user_policy_name=f"assume-role-{n}",
                trust_policy={"Version": "2012-10-17", "Statement": []},
                user_policy={"Version": "2012-10-17", "Statement": []},
                status=GrantStatus.FAILING if health == 0 else GrantStatus.ACTIVE,
                last_verification_ok=False if health == 0 else (None if health == 1 else True),
                last_verified_at=None if health == 1 else now,
                expires_at=now + timedelta(days=3) if health == 2 else None,
                role_arn=f"arn:aws:iam::{trusting.account_id}:role/role-{n}",
            )
        )
    grants = Grant.objects.bulk_create(grants)
    outcomes = [VerificationOutcome.PASSED_GRANTEE] * 8 + [
        VerificationOutcome.FAILED,
        VerificationOutcome.STATIC_ONLY,
    ]
    Verification.objects.bulk_create(
        Verification(
            grant=grant,
            actor_name="schedule",
            started_at=now - timedelta(days=v, minutes=g),
            duration_ms=40 + (g * 7 + v) % 200,
            outcome=outcomes[(g + v) % 10],
        )
        for g, grant in enumerate(grants)
        for v in range(VERIFICATIONS_PER_GRANT)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def timed(client: Client, url: str, expect: str) -> float:
    started = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, (url, response.status_code)
    assert expect in response.content.decode(), (url, expect)
    return elapsed


def queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    return len(captured)


def _no_map() -> access_map.AccessMap:
    return access_map.build_access_map(accounts=[], pairs=[])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    options = parser.parse_args()
    setup_test_environment()
    call_command("migrate", verbosity=0)
    print(
        f"Building {ACCOUNTS} accounts, {GRANTS} grants, "
        f"{GRANTS * VERIFICATIONS_PER_GRANT:,} verifications…",
        flush=True,
    )
    build()
    user = get_user_model().objects.create_superuser("bench", password="bench-password-1")
    client = Client()
    client.force_login(user)
    built = selectors.access_map_data()
    without = mock.patch.multiple(
        "grants.views.selectors",
        access_map_data=_no_map,
        verification_daily_counts=lambda: [],
    )
    pages = {
        "dashboard with map": (lambda: timed(client, "/", 'class="xmap-edge"')),
        "dashboard without": None,
        "map.svg alone": (lambda: timed(client, "/map.svg", 'class="xmap-edge"')),
        "grant list": (lambda: timed(client, "/grants/", "role-")),
    }

    def dashboard_without() -> float:
        with without:
            return timed(client, "/", "access-map-empty")

    pages["dashboard without"] = dashboard_without
    for run in pages.values():
        run()  # warm up templates and caches
    times: dict[str, list[float]] = {name: [] for name in pages}
    for _ in range(options.runs):
        for name, run in pages.items():
            times[name].append(run())
    medians = {name: statistics.median(values) for name, values in times.items()}
    counts = {
        "dashboard with map": queries(client, "/"),
        "map.svg alone": queries(client, "/map.svg"),
        "grant list": queries(client, "/grants/"),
    }
    with without:
        counts["dashboard without"] = queries(client, "/")
    print(
        f"{len(built.nodes)} accounts on the map, {len(built.edges)} arrows, "
        f"{built.grant_count} live grants; {options.runs} runs each, medians:"
    )
    for name, median in medians.items():
        print(f"  {name:20} {median:8.1f} ms   {counts[name]:3d} queries")
    cost = medians["dashboard with map"] - medians["dashboard without"]
    print(f"  map + chart cost     {cost:8.1f} ms   (dashboard with minus without)")
    worst = max(medians["map.svg alone"], medians["dashboard with map"])
    print(f"  target: the map under 300 ms server time: {'met' if worst < 300 else 'NOT met'}")


if __name__ == "__main__":
    main()
