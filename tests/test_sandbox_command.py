"""`manage.py sandbox` as a process: by default a db_worker beside the portal and expiry on a
timer; it starts its children and takes them down with it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]


def processes_with(marker: str) -> list[int]:
    """Live processes whose environment mentions `marker` (the sandbox's own state folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                status = (entry / "status").read_text()
                if "State:\tZ" not in status:
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def start_sandbox(tmp_path: Path, *options: str) -> tuple[subprocess.Popen, int, Path, Path]:
    """`manage.py sandbox` on a free port; (process, port, state folder, log file)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    state_dir = tmp_path / "state"
    env = {
        **os.environ,
        "XACCT_SANDBOX": "true",
        "DJANGO_DEBUG": "true",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite3'}",
        "XACCT_STATE_MARKER": str(state_dir),  # inherited by the children
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("XACCT_TASK_BACKEND", None)
    log = tmp_path / "sandbox.log"
    with log.open("w") as output:
        sandbox = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "sandbox",
                "--addrport",
                f"127.0.0.1:{port}",
                "--state-dir",
                str(state_dir),
                *options,
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return sandbox, port, state_dir, log


def commands_with(marker: str) -> list[str]:
    """Command lines of the live processes `processes_with(marker)` finds."""
    lines = []
    for pid in processes_with(marker):
        with contextlib.suppress(OSError):
            lines.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
    return lines


def wait_until_served(sandbox: subprocess.Popen, port: int, log: Path, worker: bool) -> None:
    marker = str(log.parent / "state")
    deadline = time.monotonic() + 90
    while (
        worker and not any("db_worker" in line for line in commands_with(marker))
    ) or not _answers(port):
        assert sandbox.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.5)


def kill_all(sandbox: subprocess.Popen, state_dir: Path) -> None:
    for pid in [sandbox.pid, *processes_with(str(state_dir))]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def expiry_runs(database: Path) -> list[str]:
    """Statuses of the expiry tasks queued in the sandbox portal's database."""
    with contextlib.closing(sqlite3.connect(database, timeout=10)) as db:
        return [
            status
            for (status,) in db.execute(
                "SELECT status FROM django_tasks_database_dbtaskresult WHERE task_path = ?",
                ("grants.tasks.expire_grants",),
            )
        ]


def test_by_default_a_worker_runs_expiry_and_two_sigterms_stop_everything(
    tmp_path: Path,
) -> None:
    sandbox, port, state_dir, log = start_sandbox(tmp_path, "--schedule-interval", "1")
    try:
        wait_until_served(sandbox, port, log, worker=True)
        assert "run by a db_worker beside the portal" in log.read_text()
        assert "Scheduled jobs:    every 1 s" in log.read_text()

        # The sandbox's timer queues expiry; the worker (not the portal) runs it.
        deadline = time.monotonic() + 60
        while "SUCCESSFUL" not in expiry_runs(tmp_path / "portal.sqlite3"):
            assert time.monotonic() < deadline, (expiry_runs(tmp_path / "portal.sqlite3"), log)
            time.sleep(1)

        sandbox.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        sandbox.send_signal(signal.SIGTERM)  # as when make and uv both pass it on
        sandbox.wait(timeout=60)

        deadline = time.monotonic() + 15
        while processes_with(str(state_dir)) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert processes_with(str(state_dir)) == [], log.read_text()
    finally:
        kill_all(sandbox, state_dir)


def test_immediate_runs_no_worker(tmp_path: Path) -> None:
    sandbox, port, state_dir, log = start_sandbox(
        tmp_path, "--immediate", "--schedule-interval", "0", "--no-reload"
    )
    try:
        wait_until_served(sandbox, port, log, worker=False)
        time.sleep(2)  # a worker, were one started, would be up by now
        commands = commands_with(str(state_dir))
        assert any("runserver" in line and "--noreload" in line for line in commands), commands
        assert not any("db_worker" in line for line in commands), commands
        text = log.read_text()
        assert "immediate, inside the request (--immediate: for tests only)" in text
        assert "Scheduled jobs:    off" in text
        sandbox.send_signal(signal.SIGTERM)
        sandbox.wait(timeout=60)
    finally:
        kill_all(sandbox, state_dir)


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False
