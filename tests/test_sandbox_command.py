"""`manage.py sandbox --worker` as a process: it starts its children and takes them down with it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
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


def test_two_sigterms_still_stop_the_portal_and_its_worker(tmp_path: Path) -> None:
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
    log = tmp_path / "sandbox.log"
    with log.open("w") as output:
        sandbox = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "sandbox",
                "--worker",
                "--addrport",
                f"127.0.0.1:{port}",
                "--state-dir",
                str(state_dir),
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 90
        while len(processes_with(str(state_dir))) < 3 or not _answers(port):
            assert sandbox.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        assert "run by a db_worker beside the portal" in log.read_text()

        sandbox.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        sandbox.send_signal(signal.SIGTERM)  # as when make and uv both pass it on
        sandbox.wait(timeout=60)

        deadline = time.monotonic() + 15
        while processes_with(str(state_dir)) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert processes_with(str(state_dir)) == [], log.read_text()
    finally:
        for pid in [sandbox.pid, *processes_with(str(state_dir))]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False
