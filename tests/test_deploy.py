"""The documented production environment passes Django's deployment checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]


def test_check_deploy_is_clean_in_production(tmp_path: Path) -> None:
    result = _check_deploy(production_env(tmp_path, XACCT_TASK_BACKEND="database"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_warns_when_background_work_would_run_in_requests(tmp_path: Path) -> None:
    result = _check_deploy(production_env(tmp_path, XACCT_TASK_BACKEND="immediate"))
    assert result.returncode != 0
    assert "grants.W001" in result.stderr + result.stdout
    assert "db_worker" in result.stderr + result.stdout


def test_an_unknown_task_backend_is_refused(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XACCT_",))}
    env.update(DJANGO_DEBUG="true", XACCT_TASK_BACKEND="celery")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "XACCT_TASK_BACKEND must be one of immediate, database, not 'celery'" in result.stderr


def production_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """The documented production environment, none of this shell's portal settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "XACCT_", "DATABASE_URL"))
    }
    env.update(
        DJANGO_SECRET_KEY="x" * 20 + "production-secret-key-with-enough-entropy-3f9a7c1e",
        DJANGO_ALLOWED_HOSTS="portal.example.com",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        **settings,
    )
    return env


def _check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "XACCT_"))}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "Set DJANGO_SECRET_KEY" in result.stderr


def test_gunicorn_serves_the_portal_and_its_static_files(tmp_path: Path) -> None:
    import re
    import socket
    import time
    import urllib.request

    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "XACCT_", "DATABASE_URL"))
    }
    env.update(
        DJANGO_SECRET_KEY="production-secret-key-with-enough-entropy-" + "7" * 20,
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SECURE_SSL_REDIRECT="false",  # plain HTTP on loopback for the test
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )
    static_root = tmp_path / "static"
    for command in (["migrate", "--no-input"], ["collectstatic", "--no-input"]):
        subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=BASE_DIR,
            env={**env, "DJANGO_STATIC_ROOT": str(static_root)},
            check=True,
            capture_output=True,
            timeout=120,
        )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "xacct_portal.wsgi",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
        ],
        cwd=BASE_DIR,
        env={**env, "DJANGO_STATIC_ROOT": str(static_root)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2) as page:
                    body = page.read().decode()
                    headers = page.headers
                break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not answer"
                time.sleep(0.3)
        assert "Log in" in body
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        css = re.search(r'href="(/static/vendor/bootstrap/bootstrap\.min\.[0-9a-f]+\.css)"', body)
        assert css, "static files are served under hashed names"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{css.group(1)}", timeout=5) as asset:
            assert asset.status == 200
            assert "max-age" in asset.headers["Cache-Control"]
    finally:
        server.terminate()
        server.wait(timeout=10)
