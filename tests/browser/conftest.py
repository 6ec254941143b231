"""Browser tests: the real `manage.py sandbox` in a subprocess, driven by Debian's Chromium."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = os.environ.get("XACCT_CHROMIUM", "/usr/bin/chromium")
BASE_DIR = Path(__file__).resolve().parents[2]


@dataclass
class RunningPortal:
    url: str
    username: str
    password: str
    output: Path
    state_dir: Path
    database_url: str


def _is_postgres(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql://", "pgsql://"))


@contextmanager
def portal_database(tmp_path: Path) -> Iterator[str]:
    """The portal's own database, on the server the suite runs on (make test runs both).

    PostgreSQL: a fresh database on the DATABASE_URL server, dropped afterwards.
    Otherwise: a SQLite file in the module's temporary folder.
    """
    configured = os.environ.get("DATABASE_URL", "")
    if not _is_postgres(configured):
        yield f"sqlite:///{tmp_path / 'portal.sqlite3'}"
        return
    import psycopg
    from psycopg import sql

    name = f"xacct_browser_{secrets.token_hex(4)}"
    server = urlsplit(configured)
    admin_url = urlunsplit(server._replace(scheme="postgresql"))
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(server._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def running_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPortal]:
    """What `make run` starts, on a free port with its own database and state folder."""
    tmp_path = tmp_path_factory.mktemp("portal")
    with portal_database(tmp_path) as database_url:
        yield from _run_portal(tmp_path, database_url)


@pytest.fixture(scope="module")
def running_portal_with_worker(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningPortal]:
    """`manage.py sandbox --worker`: background work queued in the database for a db_worker."""
    tmp_path = tmp_path_factory.mktemp("portal")
    with portal_database(tmp_path) as database_url:
        yield from _run_portal(tmp_path, database_url, "--worker")


def _run_portal(tmp_path: Path, database_url: str, *options: str) -> Iterator[RunningPortal]:
    port = free_port()
    password = secrets.token_urlsafe(12)
    output = tmp_path / "sandbox.log"
    env = {
        **os.environ,
        "XACCT_SANDBOX": "true",
        "DJANGO_DEBUG": "true",
        "DATABASE_URL": database_url,
        "XACCT_SANDBOX_PASSWORD": password,
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    with output.open("w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                str(BASE_DIR / "manage.py"),
                "sandbox",
                "--addrport",
                f"127.0.0.1:{port}",
                "--state-dir",
                str(tmp_path / "state"),
                "--no-reload",  # one process, no file watcher polling the tree every second
                *options,
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                pytest.fail(f"manage.py sandbox exited early:\n{output.read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/login/", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the portal did not answer within 90 s:\n{output.read_text()}")
            time.sleep(0.3)
        yield RunningPortal(
            url=url,
            username="admin",
            password=password,
            output=output,
            state_dir=tmp_path / "state",
            database_url=database_url,
        )
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# Not session-scoped: while Playwright's sync API is open its asyncio loop counts as
# running, and Django refuses database calls in the test files after (SynchronousOnlyOperation).
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: `make test` installs Debian's chromium.")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.console_errors = []  # type: ignore[attr-defined]
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))  # type: ignore[attr-defined]
    yield page
    context.close()


def portal_query(portal: RunningPortal, query: str) -> list[tuple]:
    """Read the running portal's own database (SQLite file or PostgreSQL database)."""
    if portal.database_url.startswith("sqlite:///"):
        import sqlite3

        with sqlite3.connect(portal.database_url.removeprefix("sqlite:///")) as db:
            return db.execute(query).fetchall()
    import psycopg

    with psycopg.connect(portal.database_url.replace("postgres://", "postgresql://", 1)) as db:
        return db.execute(query).fetchall()


def log_in(page: Page, portal: RunningPortal) -> None:
    page.goto(portal.url + "/")
    page.get_by_label("Username").fill(portal.username)
    page.get_by_label("Password").fill(portal.password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(portal.url + "/")


AXE_SCRIPT = BASE_DIR / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS_IMPACTS = ("serious", "critical")


def axe_serious_violations(page: Page) -> list[str]:
    """Run axe-core (from npm, `make test` runs `npm ci`) on the page as it is now.

    In: a loaded page. Out: one line per serious or critical violation, "rule-id: targets"
    (empty when there are none). Fails the test when node_modules lacks axe-core.
    axe is evaluated through the DevTools protocol, which the portal's CSP does not govern,
    so the page itself is checked under its real CSP.
    """
    if not AXE_SCRIPT.exists():
        pytest.fail(f"{AXE_SCRIPT} is missing: `make test` installs it with `npm ci`.")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_SCRIPT.read_text())
    violations = page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact,
                targets: v.nodes.map(n => n.target.join(" ")),
            }));
        }"""
    )
    return [
        f"{v['id']} ({v['impact']}): {', '.join(v['targets'][:5])}"
        for v in violations
        if v["impact"] in SERIOUS_IMPACTS
    ]


def account_admin_client(
    portal: RunningPortal,
    monkeypatch: pytest.MonkeyPatch,
    *,
    account_id: str,
    service: str,
    session_name: str,
):  # type: ignore[no-untyped-def]
    """Outside the portal: plain boto3 as an account's administrator, acting through its
    hub role from the sandbox's xacct-portal profile (the files `make run` writes)."""
    import boto3

    config = portal.state_dir / "aws" / "config"
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(portal.state_dir / "aws" / "credentials"))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    sts = boto3.session.Session(profile_name="xacct-portal").client("sts")
    credentials = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole",
        RoleSessionName=session_name,
    )["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name="ap-northeast-1",
    ).client(service, endpoint_url=sts.meta.endpoint_url)
