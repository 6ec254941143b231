"""A worker killed (SIGKILL) in the middle of an AWS call leaves nothing stuck or orphaned.

The operation runs in a real `manage.py db_worker` process (database task
backend, the test database); the proxy holds one call, the worker is killed
while it waits, the proxy is healed (a hang-then-apply write lands then, after
its sender died), recovery runs, and AWS and the records must agree.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from grants import services
from grants.models import Grant, GrantStatus, Operation

from ..test_worker import database_url
from .checker import disagreements
from .proxy import FaultKind, Rule
from .scenarios import new_grant, recover, settled

BASE_DIR = Path(__file__).resolve().parents[2]
# Long enough that the worker is still waiting on the held call when it is killed.
WORKER_READ_TIMEOUT_SECONDS = 20

pytestmark = pytest.mark.django_db(transaction=True)


def start_worker(world, log_path: Path) -> subprocess.Popen:  # type: ignore[no-untyped-def]
    env = {
        **os.environ,
        "DJANGO_DEBUG": "true",
        "DATABASE_URL": database_url(),
        "XACCT_TASK_BACKEND": "database",
        "XACCT_AWS_ENDPOINT_URL": world.proxy.url,
        "XACCT_AWS_READ_TIMEOUT": str(WORKER_READ_TIMEOUT_SECONDS),
        "XACCT_AWS_TOTAL_MAX_ATTEMPTS": "1",
        "AWS_ACCESS_KEY_ID": "portal",
        "AWS_SECRET_ACCESS_KEY": "portal",
    }
    for name in ("DJANGO_SETTINGS_MODULE", "AWS_PROFILE", "AWS_CONFIG_FILE"):
        env.pop(name, None)
    env.pop("AWS_SHARED_CREDENTIALS_FILE", None)
    with log_path.open("w") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "db_worker",
                "--batch",
                "--no-reload",
                "--no-startup-delay",
                "--interval",
                "0.1",
                "--worker-id",
                "doomed",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def kill_during(world, call: str, kind: FaultKind, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Run the queued operation in a worker; SIGKILL it while `call` is held."""
    log_path = tmp_path / "worker.log"
    world.proxy.arm(Rule(call, kind))
    worker = start_worker(world, log_path)
    try:
        held = world.proxy.wait_fired(call, timeout=120)
        assert held, f"the worker never made {call}:\n{log_path.read_text()}"
        assert worker.poll() is None, log_path.read_text()
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
        assert worker.returncode == -signal.SIGKILL
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=30)
    world.proxy.heal()


# Each call once (a worker's start costs seconds): a write that lands after its sender
# died, and one that never lands.
CREATE_CELLS = [
    ("iam:CreateRole", FaultKind.HANG_THEN_APPLY),
    ("iam:PutUserPolicy", FaultKind.HANG_FOREVER),
]
REVOKE_CELLS = [
    ("iam:DeleteUserPolicy", FaultKind.HANG_FOREVER),
    ("iam:DeleteRole", FaultKind.HANG_THEN_APPLY),
]


@pytest.mark.parametrize(("call", "kind"), CREATE_CELLS, ids=lambda v: str(v))
def test_a_worker_killed_mid_create_is_recovered_without_disagreement(
    fault_world, task_queue, tmp_path: Path, call: str, kind: FaultKind
) -> None:  # type: ignore[no-untyped-def]
    grant = services.grant_provision(grant=new_grant(fault_world), actor=None)
    operation = Operation.objects.get(grant=grant)
    assert operation.state == "queued"

    kill_during(fault_world, call, kind, tmp_path)
    operation.refresh_from_db()
    assert operation.state == "running"  # the dead worker's lease still holds it

    recovered = recover()
    task_queue.run()
    assert operation.pk in recovered
    assert disagreements(fault_world.reader) == []
    grant.refresh_from_db()
    assert grant.status in (GrantStatus.ACTIVE, GrantStatus.FAILED), grant.status


@pytest.mark.parametrize(("call", "kind"), REVOKE_CELLS, ids=lambda v: str(v))
def test_a_worker_killed_mid_revoke_is_recovered_without_disagreement(
    fault_world, task_queue, tmp_path: Path, call: str, kind: FaultKind
) -> None:  # type: ignore[no-untyped-def]
    grant = services.grant_provision(grant=new_grant(fault_world), actor=None)
    task_queue.run()
    settled(grant, GrantStatus.ACTIVE)
    services.grant_revoke(grant=Grant.objects.get(pk=grant.pk), actor=None)
    operation = Operation.objects.filter(grant=grant).order_by("-pk").first()
    assert operation is not None and operation.kind == "revoke"

    kill_during(fault_world, call, kind, tmp_path)

    recovered = recover()
    task_queue.run()
    assert operation.pk in recovered
    assert disagreements(fault_world.reader) == []
    grant.refresh_from_db()
    assert grant.status in (GrantStatus.REVOKED, GrantStatus.ACTIVE), grant.status
