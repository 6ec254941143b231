"""Benchmark: a verification batch through real `db_worker` processes, 1 worker vs 2.

Everything runs on this machine: a moto server on 127.0.0.1 (the sandbox,
access control on), a SQLite file (or DATABASE_URL when it is PostgreSQL) and
the workers as subprocesses. The moto server shares this process, so the
figure is how far the portal's side scales, not AWS's.

    DJANGO_DEBUG=true uv run python bench/worker_bench.py [--grants 60] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))
STATE = Path(tempfile.mkdtemp(prefix="xacct-worker-bench-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xacct_portal.settings")
os.environ.setdefault("DJANGO_DEBUG", "true")
if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
    os.environ["DATABASE_URL"] = f"sqlite:///{STATE / 'bench.sqlite3'}"
os.environ["XACCT_TASK_BACKEND"] = "database"
os.environ["XACCT_SANDBOX"] = "true"
for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
    os.environ.pop(name, None)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import override_settings  # noqa: E402

from grants import aws, services  # noqa: E402
from grants.aws import sandbox  # noqa: E402
from grants.aws.core import call  # noqa: E402
from grants.models import (  # noqa: E402
    BatchItemState,
    Grant,
    PermissionSet,
    TrustScope,
)

IMMEDIATE_TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


def setup_world(grant_count: int) -> tuple[object, list[Grant]]:
    server, endpoint = sandbox.start_server(load_managed_policies=False)
    world = sandbox.seed(endpoint)
    config, credentials = sandbox.write_aws_files(world, STATE / "aws")
    os.environ.update(
        AWS_CONFIG_FILE=str(config),
        AWS_SHARED_CREDENTIALS_FILE=str(credentials),
        AWS_PROFILE=sandbox.PORTAL_PROFILE,
        XACCT_AWS_ENDPOINT_URL=endpoint,
    )
    settings.AWS_ENDPOINT_URL = endpoint
    aws.reset()
    sandbox.enable_access_control(endpoint)
    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    accounts = services.sandbox_accounts_register(world)
    piyo, hoge = accounts["piyo"], accounts["hoge"]
    grants = []
    for n in range(grant_count):
        grantee = f"bench-app-{n:03d}"
        call(hoge.access(), "iam", "create_user", UserName=grantee)
        grant = services.grant_draft(
            trusting_account=piyo,
            role_name=f"bench-{n:03d}",
            role_path="/",
            role_description="worker benchmark",
            trusted_account=hoge,
            trusted_aws_account_id=hoge.account_id,
            trust_scope=TrustScope.ACCOUNT,
            trusted_principal_arn="",
            external_id="",
            require_mfa=False,
            permission_set=PermissionSet.QUEUES,
            queue_names=["orders"],
            queue_actions=["sqs:ReceiveMessage"],
            allow_list_queues=True,
            region=sandbox.REGION,
            max_session_duration=3600,
            grantee_type="user",
            grantee_name=grantee,
            user_policy_name=f"xacct-assume-bench-{n:03d}",
        )
        # Provisioning is an operation for the workers too: run it here, not in the timing.
        with override_settings(TASKS=IMMEDIATE_TASKS):
            grant = services.grant_provision(grant=grant, actor=None)
        assert grant.status == "active", grant.last_error
        grants.append(grant)
    return server, grants


def run_batch(grants: list[Grant], workers: int) -> float:
    batch = services.verification_batch_start(grants=grants, actor=None)
    started = time.perf_counter()
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "db_worker",
                "--batch",
                "--no-reload",
                "--no-startup-delay",
                "--interval",
                "0.1",
                "--verbosity",
                "0",
            ],
            cwd=BASE_DIR,
            env=os.environ.copy(),
        )
        for _ in range(workers)
    ]
    for process in processes:
        process.wait(timeout=1800)
    elapsed = time.perf_counter() - started
    states = set(batch.items.values_list("state", flat=True))
    assert states == {BatchItemState.VERIFIED}, states
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--grants", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=2)
    options = parser.parse_args()
    server, grants = setup_world(options.grants)
    database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    print(f"{options.grants} grants per batch, {database}, {os.cpu_count()} CPUs")
    timings: dict[int, list[float]] = {1: [], 2: []}
    try:
        for _ in range(options.rounds):
            for workers in (1, 2):  # interleaved, so drift in the machine hits both
                timings[workers].append(run_batch(grants, workers))
    finally:
        server.stop()  # type: ignore[attr-defined]
        shutil.rmtree(STATE, ignore_errors=True)
    for workers, samples in timings.items():
        median = statistics.median(samples)
        print(
            f"  {workers} worker(s): median {median:.1f} s "
            f"({options.grants / median:.1f} grants/s) over {len(samples)} batches"
        )
    ratio = statistics.median(timings[1]) / statistics.median(timings[2])
    print(f"  2 workers vs 1: {ratio:.2f}x the throughput")


if __name__ == "__main__":
    main()
