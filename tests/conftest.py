"""Shared fixtures: AWS is faked with moto per test, never for the whole session."""

from __future__ import annotations

import functools
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from django.core.management import call_command
from moto import mock_aws
from moto.iam.models import AWSManagedPolicy, IAMBackend

from grants import aws
from grants.aws import operations as aws_operations
from grants.aws import sandbox
from grants.models import AccessMethod, AwsAccount

# The slowest test files, slowest first (by the wall time `--durations` measured for
# each on the 2-core machine). `make test` runs xdist with `--dist loadfile
# --no-loadscope-reorder`: files are handed out in collection order, so these start
# first and the many quick files fill the gaps at the end, instead of a four-minute
# file starting last while the other process idles (xdist's default order puts the
# files with the fewest tests, often the slowest, last).
# test_worker's two worker processes load both cores: beside it starts the fuzz (no timing
# bound) rather than the deadline tests.
SLOW_FILES_FIRST = (
    "tests/test_worker.py",
    "tests/test_forms_fuzz.py",
    "tests/test_view_deadlines.py",
    "tests/browser/test_accessibility_browser.py",
    "tests/test_sandbox_command.py",
    "tests/test_deploy.py",
    "tests/faults/test_matrix_revoke.py",
    "tests/browser/test_grant_wizard_browser.py",
    "tests/browser/test_revoke_browser.py",
    "tests/browser/test_session_browser.py",
    "tests/browser/test_verify_selected_browser.py",
    "tests/browser/test_handoff_browser.py",
    "tests/browser/test_screenshots_browser.py",
    "tests/browser/test_accounts_browser.py",
    "tests/faults/test_sigkill.py",
    "tests/test_reauthentication.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Move the files of SLOW_FILES_FIRST to the front, in that order, and then every
    browser test file; each file's tests keep their order, as do the other files."""

    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        if path in SLOW_FILES_FIRST:
            return SLOW_FILES_FIRST.index(path)
        if path.startswith("tests/browser/"):
            return len(SLOW_FILES_FIRST)
        return len(SLOW_FILES_FIRST) + 1

    items.sort(key=rank)  # stable


@pytest.fixture(scope="session")
def django_db_modify_db_settings(
    django_db_modify_db_settings_parallel_suffix: None,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A file database for tests: verifications write from several threads at once,
    which SQLite's shared in-memory database refuses ("table is locked").

    Like pytest-django's own fixture, it keeps each xdist process's test database
    apart (test_postgres_gw0, …); the SQLite file lies in the process's own folder."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database.setdefault("TEST", {})["NAME"] = str(
            tmp_path_factory.mktemp("db") / "test.sqlite3"
        )


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings) -> None:  # type: ignore[no-untyped-def]
    """Hash test passwords with MD5: PBKDF2's work factor costs ~0.5 s of CPU per user made
    or log-in checked, hundreds of times a run (Django's docs, "Speeding up the tests").
    The browser tests' portals run with the real settings."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_gateway(settings) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Every test starts with no cached session, credentials or clients, the portal's
    or plain boto3's: boto3's process-wide default session keeps the config file it
    first read, which an earlier test may have pointed elsewhere (AWS_CONFIG_FILE)."""
    settings.AWS_ENDPOINT_URL = ""
    settings.AWS_SANDBOX = False
    aws.reset()
    boto3.DEFAULT_SESSION = None
    yield
    aws.reset()
    boto3.DEFAULT_SESSION = None


@pytest.fixture
def hung_endpoint() -> Iterator[str]:
    """An endpoint URL on 127.0.0.1 that accepts every connection and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        listener.close()


@pytest.fixture
def moto_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """In-process moto with fake default credentials (account 123456789012)."""
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield


SQS_MANAGED_POLICIES = ("AmazonSQSFullAccess", "AmazonSQSReadOnlyAccess")


@functools.cache
def _sqs_managed_policy_data() -> dict[str, dict]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    parsed = json.loads(aws_managed_policies_data)
    return {name: parsed[name] for name in SQS_MANAGED_POLICIES}


def _init_sqs_managed_policies(backend: IAMBackend) -> list[AWSManagedPolicy]:
    """moto's own SQS managed policies only: loading all ~1,300 costs a second per account."""
    return [
        AWSManagedPolicy.from_data(name, backend.account_id, backend.region_name, data)
        for name, data in _sqs_managed_policy_data().items()
    ]


@pytest.fixture
def aws_world(monkeypatch: pytest.MonkeyPatch) -> Iterator[sandbox.SandboxWorld]:
    """In-process moto seeded like the sandbox (SQS managed policies loaded), access control off.

    The portal's default chain is the management account's xacct-portal user.
    """
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setattr(IAMBackend, "_init_aws_policies", _init_sqs_managed_policies)
    with mock_aws():
        world = sandbox.seed(None)
        access_key, secret_key = world.keys[sandbox.PORTAL_PROFILE]
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", access_key)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret_key)
        aws.reset()
        yield world


@pytest.fixture
def enforcing(aws_world, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    """moto checks identity policies (as the sandbox does); hoge-app has a local profile."""
    from moto import settings as moto_settings
    from moto.core.authorization import ActionAuthenticatorMixin

    world = aws_world
    world.endpoint_url = ""
    config_path, credentials_path = sandbox.write_aws_files(world, tmp_path / "aws")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config_path))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials_path))
    aws.reset()
    monkeypatch.setattr(moto_settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)
    monkeypatch.setattr(ActionAuthenticatorMixin, "request_count", 0)
    return world


@dataclass
class Sandbox:
    world: sandbox.SandboxWorld
    endpoint_url: str
    config_path: Path
    credentials_path: Path


@contextmanager
def _seeded_server(
    monkeypatch: pytest.MonkeyPatch, settings, tmp_path: Path, *, organization: bool
) -> Iterator[Sandbox]:  # type: ignore[no-untyped-def]
    server, endpoint_url = sandbox.start_server(load_managed_policies=False)
    try:
        # moto's backends are process-wide: start from nothing whatever ran before here.
        sandbox.reset(endpoint_url)
        world = sandbox.seed(endpoint_url, organization=organization)
        config_path, credentials_path = sandbox.write_aws_files(world, tmp_path / "aws")
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_CONFIG_FILE", str(config_path))
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials_path))
        monkeypatch.setenv("AWS_PROFILE", sandbox.PORTAL_PROFILE)
        settings.AWS_ENDPOINT_URL = endpoint_url
        settings.AWS_SANDBOX = True
        aws.reset()
        aws_operations.scp_cache_clear()
        sandbox.enable_access_control(endpoint_url)
        yield Sandbox(world, endpoint_url, config_path, credentials_path)
    finally:
        # moto's access-control switch is process-global: turn it off for later tests.
        sandbox.disable_access_control(endpoint_url)
        sandbox.reset(endpoint_url)
        server.stop()  # type: ignore[attr-defined]


@pytest.fixture
def sandbox_server(monkeypatch: pytest.MonkeyPatch, settings, tmp_path: Path) -> Iterator[Sandbox]:  # type: ignore[no-untyped-def]
    """A seeded moto server on 127.0.0.1, access control on; the portal acts as in `make run`."""
    with _seeded_server(monkeypatch, settings, tmp_path, organization=False) as seeded:
        yield seeded


@pytest.fixture
def org_sandbox_server(
    monkeypatch: pytest.MonkeyPatch, settings, tmp_path: Path
) -> Iterator[Sandbox]:  # type: ignore[no-untyped-def]
    """`sandbox_server` with the AWS Organization `make run` seeds (OUs, the Dev SCP)."""
    with _seeded_server(monkeypatch, settings, tmp_path, organization=True) as seeded:
        yield seeded


class TaskQueue:
    """django-tasks-db's queue in the test database; `run()` is one `db_worker --batch`."""

    def run(self, *options: str) -> None:
        call_command(
            "db_worker", "--batch", "--no-reload", "--no-startup-delay", "--interval", "0", *options
        )


@pytest.fixture
def task_queue(settings) -> TaskQueue:  # type: ignore[no-untyped-def]
    """Tasks wait in the database (as in production) until `task_queue.run()` works them off."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    return TaskQueue()


def make_account(**overrides: object) -> AwsAccount:
    fields: dict[str, object] = {
        "account_id": sandbox.PIYO.account_id,
        "name": sandbox.PIYO.name,
        "owner_email": sandbox.PIYO.owner_email,
        "default_region": sandbox.REGION,
        "access_method": AccessMethod.HUB_ROLE,
        "hub_role_name": sandbox.HUB_ROLE_NAME,
    }
    fields.update(overrides)
    account = AwsAccount(**fields)
    account.full_clean()
    account.save()
    return account


@pytest.fixture
def piyo(db) -> AwsAccount:  # type: ignore[no-untyped-def]
    return make_account()


@pytest.fixture
def hoge(db) -> AwsAccount:  # type: ignore[no-untyped-def]
    return make_account(
        account_id=sandbox.HOGE.account_id,
        name=sandbox.HOGE.name,
        owner_email=sandbox.HOGE.owner_email,
    )


@pytest.fixture
def user_client(client, django_user_model):  # type: ignore[no-untyped-def]
    """A logged-in administrator: every role (tests of the roles use their own users)."""
    user = django_user_model.objects.create_superuser(username="alice", password="correct-horse-9")
    client.force_login(user)
    client.user = user
    return client
