"""Benchmark: the audit list's last page against the Django admin changelist's, 100,000 events.

Builds 100,000 audit events (spread over 200 grants with realistic policy
documents, 3 accounts) in a throw-away SQLite file, then times, interleaved in
the same run, GET of the last page of /audit/ (25 a page) and of the admin's
AuditEvent changelist (100 a page), both through the whole middleware stack
as a logged-in superuser. Prints the medians and their ratio.

    DJANGO_DEBUG=true uv run python bench/audit_bench.py [--runs 15] [--events 100000]
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
_DB_DIR = tempfile.mkdtemp(prefix="audit-bench-")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xacct_portal.settings")
os.environ.setdefault("DJANGO_DEBUG", "true")
os.environ["DATABASE_URL"] = f"sqlite:///{_DB_DIR}/bench.sqlite3"

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import reset_queries  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402

from grants.models import (  # noqa: E402
    AuditAction,
    AuditEvent,
    AuditOutcome,
    AwsAccount,
    Grant,
    GrantStatus,
    PermissionSet,
)

GRANTS = 200


def _policy(index: int) -> dict:
    """A document the size of a real least-privilege grant's (a few kB)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": f"Queue{n}",
                "Effect": "Allow",
                "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
                "Resource": f"arn:aws:sqs:ap-northeast-1:111122223333:queue-{index}-{n}",
            }
            for n in range(20)
        ],
    }


def build(events: int) -> None:
    """Accounts, grants with their documents, and `events` audit events a second apart."""
    accounts = [
        AwsAccount.objects.create(
            account_id=f"{n:012d}", name=f"account-{n}", default_region="ap-northeast-1"
        )
        for n in (111122223333, 444455556666, 123456789012)
    ]
    grants = Grant.objects.bulk_create(
        Grant(
            trusting_account=accounts[0],
            trusted_account=accounts[1],
            trusted_aws_account_id=accounts[1].account_id,
            role_name=f"role-{n}",
            region="ap-northeast-1",
            permission_set=PermissionSet.QUEUES,
            user_policy_name=f"assume-role-{n}",
            trust_policy=_policy(n),
            inline_policy=_policy(n),
            user_policy=_policy(n),
            applied_steps=[{"call": "iam:CreateRole", "request_id": "x" * 36}] * 10,
            status=GrantStatus.ACTIVE,
            role_arn=f"arn:aws:iam::111122223333:role/role-{n}",
        )
        for n in range(GRANTS)
    )
    start = timezone.now() - timedelta(seconds=events)
    actions = [AuditAction.GRANT_VERIFY, AuditAction.ROLE_CREATE, AuditAction.ACCOUNT_CHECK]
    batch = []
    for n in range(events):
        grant = grants[n % GRANTS]
        failed = n % 7 == 0
        batch.append(
            AuditEvent(
                actor_name="alice",
                action=actions[n % 3],
                outcome=AuditOutcome.FAILURE if failed else AuditOutcome.SUCCESS,
                account=accounts[n % 3],
                grant=grant,
                target_arn=grant.role_arn,
                service="sts" if failed else "iam",
                operation="AssumeRole" if failed else "CreateRole",
                http_status=403 if failed else None,
                request_id=f"{n:08x}-0000-4000-8000-000000000000",
                error_code="AccessDenied" if failed else "",
                message="User is not authorized to perform: sts:AssumeRole" if failed else "Done.",
            )
        )
        if len(batch) == 5000:
            AuditEvent.objects.bulk_create(batch)
            batch = []
    AuditEvent.objects.bulk_create(batch)
    # created_at is auto_now_add: spread the events in time as a real log is.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE grants_auditevent SET created_at = datetime(%s, '+' || id || ' seconds')",
            [start.strftime("%Y-%m-%d %H:%M:%S")],
        )
        cursor.execute("ANALYZE")


def timed(client: Client, url: str, expect: str) -> float:
    reset_queries()
    started = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - started) * 1000
    body = response.content.decode()
    assert response.status_code == 200, (url, response.status_code)
    assert expect in body, (url, expect)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--events", type=int, default=100_000)
    options = parser.parse_args()
    setup_test_environment()
    call_command("migrate", verbosity=0)
    print(f"Building {options.events:,} audit events over {GRANTS} grants…", flush=True)
    build(options.events)
    user = get_user_model().objects.create_superuser("bench", password="bench-password-1")
    client = Client()
    client.force_login(user)
    # The oldest event is on the last page of both lists (newest first).
    oldest = AuditEvent.objects.order_by("created_at", "pk").first()
    assert oldest is not None
    expected = {"portal": oldest.request_id, "admin": f"/auditevent/{oldest.pk}/change/"}
    portal_url = f"/audit/?page={-(-options.events // 25)}"
    admin_url = f"/admin/grants/auditevent/?p={-(-options.events // 100)}"
    timed(client, portal_url, expected["portal"])  # warm up templates and caches
    timed(client, admin_url, expected["admin"])
    portal, admin = [], []
    for _ in range(options.runs):
        portal.append(timed(client, portal_url, expected["portal"]))
        admin.append(timed(client, admin_url, expected["admin"]))
    p, a = statistics.median(portal), statistics.median(admin)
    print(f"{options.events:,} events, {options.runs} runs each, medians:")
    print(f"  audit list, last page  {p:8.1f} ms   ({portal_url})")
    print(f"  admin changelist, last {a:8.1f} ms   ({admin_url})")
    print(f"  ratio audit/admin      {p / a:8.2f}x")


if __name__ == "__main__":
    main()
