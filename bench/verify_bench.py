"""Benchmark: Test access with the shared gateway vs. a fresh botocore session per click.

Runs against in-process moto (no network), so it measures the portal's own cost:
session and client reuse is the difference between the two columns.

    DJANGO_DEBUG=true uv run python bench/verify_bench.py [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xacct_portal.settings")
os.environ.setdefault("DJANGO_DEBUG", "true")
os.environ["DATABASE_URL"] = "sqlite:///:memory:"
os.environ["AWS_ACCESS_KEY_ID"] = os.environ["AWS_SECRET_ACCESS_KEY"] = "bench"
for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
    os.environ.pop(name, None)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from moto import mock_aws  # noqa: E402

from grants import aws, services  # noqa: E402
from grants.aws import sandbox  # noqa: E402
from grants.models import PermissionSet, TrustScope  # noqa: E402


def timed(runs: int, grant, *, fresh: bool) -> list[float]:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(runs):
        if fresh:
            aws.reset()  # what a new boto3 Session per click would cost
        started = time.perf_counter()
        verification = services.grant_verify(grant=grant, actor=None)
        samples.append((time.perf_counter() - started) * 1000)
        assert verification.passed, verification.steps
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    call_command("migrate", verbosity=0)
    with mock_aws(config={"iam": {"load_aws_managed_policies": True}}):
        world = sandbox.seed(None)
        os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"] = world.keys[
            sandbox.PORTAL_PROFILE
        ]
        aws.reset()
        accounts = services.sandbox_accounts_register(world)
        draft = services.grant_draft(
            trusting_account=accounts["piyo"],
            role_name="bench-role",
            role_path="/",
            role_description="",
            trusted_account=accounts["hoge"],
            trusted_aws_account_id=sandbox.HOGE.account_id,
            trust_scope=TrustScope.ACCOUNT,
            trusted_principal_arn="",
            external_id="",
            require_mfa=False,
            permission_set=PermissionSet.SQS_FULL,
            region=sandbox.REGION,
            max_session_duration=3600,
            grantee_type="user",
            grantee_name=sandbox.GRANTEE_USER,
            user_policy_name="xacct-assume-bench-role",
        )
        grant = services.grant_provision(grant=draft, actor=None)
        timed(2, grant, fresh=False)  # warm up imports and moto
        shared = timed(runs, grant, fresh=False)
        fresh = timed(runs, grant, fresh=True)
    med_shared, med_fresh = statistics.median(shared), statistics.median(fresh)
    print(f"Test access, {runs} runs each, in-process moto (median / p90 ms):")
    print(
        f"  shared gateway (sessions and clients reused): {med_shared:7.1f} / "
        f"{statistics.quantiles(shared, n=10)[-1]:7.1f}"
    )
    print(
        f"  fresh botocore session per click (baseline):  {med_fresh:7.1f} / "
        f"{statistics.quantiles(fresh, n=10)[-1]:7.1f}"
    )
    print(f"  baseline / shared: {med_fresh / med_shared:.1f}x")


if __name__ == "__main__":
    main()
