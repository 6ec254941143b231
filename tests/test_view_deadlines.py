"""Every page answers within 12 seconds while AWS hangs (accepts, never answers).

The portal runs with its normal timeouts from settings (connect, read and
attempts are not shrunk here: the point is that the portal bounds itself) and
with background work queued for a worker (the database task backend), as in
production. The data each page needs is prepared while the endpoint is healthy;
then the fault proxy holds every request (hang forever) and the page is timed,
with the gateway's cached credentials forgotten, so the hub role has to be
assumed again (the worst case, as in a freshly started portal process).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from grants import aws, services
from grants.aws import sandbox
from grants.middleware import AUTHENTICATED
from grants.models import AwsAccount, Grant, GrantStatus

from .faults.checker import AwsReader
from .faults.conftest import seed
from .faults.proxy import FaultKind, FaultProxy, Rule
from .test_services_grants import draft

pytestmark = pytest.mark.django_db

DEADLINE_SECONDS = 12.0
IMMEDIATE_BACKEND = "django.tasks.backends.immediate.ImmediateBackend"
IMPORTABLE_ROLE = "legacy-reader"


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    server, endpoint_url = sandbox.start_server(load_managed_policies=False)
    try:
        yield endpoint_url
    finally:
        server.stop()  # type: ignore[attr-defined]


@dataclass
class World:
    proxy: FaultProxy
    client: Client
    piyo: AwsAccount
    hoge: AwsAccount
    grant: Grant  # active
    failed: Grant | None = None


def _fail_a_grant(w: World) -> None:
    """A grant whose provisioning failed (so Retry applies), made while AWS answers."""
    with (
        override_settings(TASKS={"default": {"BACKEND": IMMEDIATE_BACKEND}}),
        w.proxy.faults(Rule("iam:PutUserPolicy", FaultKind.ERROR)),
    ):
        failed = services.grant_provision(
            grant=_queues_grant(w.piyo, w.hoge, "deadline-failed"), actor=None
        )
    failed.refresh_from_db()
    assert failed.status == GrantStatus.FAILED, failed.status
    w.failed = failed


def _queues_grant(piyo: AwsAccount, hoge: AwsAccount, role_name: str) -> Grant:
    return draft(
        piyo,
        hoge,
        role_name=role_name,
        permission_set="queues",
        queue_names=["orders"],
        queue_actions=["sqs:ReceiveMessage"],
        allow_list_queues=True,
    )


@pytest.fixture
def world(
    moto_server: str, settings, monkeypatch: pytest.MonkeyPatch, user_client, piyo, hoge
) -> Iterator[World]:  # type: ignore[no-untyped-def]
    """The sandbox world behind the proxy, an active and a failed grant, and a role
    discovery can import; background work queued in the database from now on."""
    sandbox.reset(moto_server)
    reader = AwsReader(moto_server)
    seed(reader)
    piyo_iam = reader.iam(sandbox.PIYO.account_id)
    piyo_iam.create_role(
        RoleName=IMPORTABLE_ROLE,
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{sandbox.HOGE.account_id}:root"},
                        "Action": "sts:AssumeRole",
                        "Condition": {"StringEquals": {"sts:ExternalId": "legacy-0001"}},
                    }
                ],
            }
        ),
    )
    reader.client_in(sandbox.PIYO.account_id, "sqs").create_queue(QueueName="orders")
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "portal")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "portal")
    proxy = FaultProxy(moto_server, max_hold=60)
    settings.AWS_ENDPOINT_URL = proxy.url
    aws.reset()
    try:
        grant = services.grant_provision(grant=_queues_grant(piyo, hoge, "deadline"), actor=None)
        grant.refresh_from_db()
        assert grant.status == GrantStatus.ACTIVE, grant.last_error
        settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
        session = user_client.session
        session[AUTHENTICATED] = time.time()
        session.save()
        yield World(proxy, user_client, piyo, hoge, grant)
    finally:
        proxy.stop()
        aws.reset()


WIZARD = reverse("grant_create")


def _wizard_step(w: World, name: str) -> dict[str, Any]:
    data = {
        "role": {"trusting_account": w.piyo.pk, "role_name": "deadline-new", "role_path": "/"},
        "trusted": {"trusted_account": w.hoge.pk, "trust_scope": "account"},
        "permissions": {
            "permission_set": "queues",
            "region": sandbox.REGION,
            "max_session_duration": 3600,
            "queue_names": "orders",
            "queue_actions": "sqs:ReceiveMessage",
            "allow_list_queues": "on",
        },
        "grantee": {"grantee_name": sandbox.GRANTEE_USER, "user_policy_name": "xacct-assume-new"},
        "review": {},
    }[name]
    return {
        "grant_wizard-current_step": name,
        **{f"{name}-{key}": value for key, value in data.items()},
    }


WIZARD_STEPS = ["role", "trusted", "permissions", "grantee", "review"]


def _walk_wizard_to(w: World, name: str) -> None:
    """Pass the steps before `name` while AWS answers."""
    w.client.get(WIZARD)
    for earlier in WIZARD_STEPS[: WIZARD_STEPS.index(name)]:
        response = w.client.post(WIZARD, _wizard_step(w, earlier))
        assert response.status_code == 200, (earlier, response.status_code)
        form = response.context["form"]
        assert form.prefix != earlier or not form.errors, (earlier, form.errors)


@dataclass(frozen=True)
class Page:
    """A request to time: `prepare` runs while AWS answers, `request` while it hangs."""

    name: str
    request: Callable[[World], Any]
    prepare: Callable[[World], None] = lambda w: None
    # Whether the page reads AWS in the request (it must then have met the hung endpoint).
    calls_aws: bool = False


def _batch_page(w: World) -> Any:
    batch = services.verification_batch_start(grants=[w.grant], actor=w.client.user)  # type: ignore[attr-defined]
    return w.client.get(reverse("verification_batch", args=[batch.pk]))


PAGES = [
    Page("dashboard", lambda w: w.client.get(reverse("dashboard"))),
    Page("account list", lambda w: w.client.get(reverse("account_list"))),
    Page("account detail", lambda w: w.client.get(reverse("account_detail", args=[w.piyo.pk]))),
    Page(
        "check connection",
        lambda w: w.client.post(reverse("account_check", args=[w.piyo.pk])),
        calls_aws=True,
    ),
    Page(
        "discover",
        lambda w: w.client.post(reverse("account_discover", args=[w.piyo.pk])),
        calls_aws=True,
    ),
    Page(
        "import",
        lambda w: w.client.post(
            reverse("account_import", args=[w.piyo.pk]), {"role_name": IMPORTABLE_ROLE}
        ),
        calls_aws=True,
    ),
    Page("grant list", lambda w: w.client.get(reverse("grant_list"))),
    Page("grant detail", lambda w: w.client.get(reverse("grant_detail", args=[w.grant.pk]))),
    Page(
        "operation progress", lambda w: w.client.get(reverse("grant_operation", args=[w.grant.pk]))
    ),
    Page(
        "test access",
        lambda w: w.client.post(reverse("grant_verify", args=[w.grant.pk])),
        calls_aws=True,
    ),
    Page(
        "check drift",
        lambda w: w.client.post(reverse("grant_drift", args=[w.grant.pk]), {"action": "check"}),
        calls_aws=True,
    ),
    Page(
        "re-apply",
        lambda w: w.client.post(reverse("grant_drift", args=[w.grant.pk]), {"action": "reapply"}),
    ),
    Page(
        "adopt live state",
        lambda w: w.client.post(reverse("grant_drift", args=[w.grant.pk]), {"action": "adopt"}),
    ),
    Page("revoke confirmation", lambda w: w.client.get(reverse("grant_revoke", args=[w.grant.pk]))),
    Page("revoke", lambda w: w.client.post(reverse("grant_revoke", args=[w.grant.pk]))),
    Page(
        "retry",
        lambda w: w.client.post(reverse("grant_retry", args=[w.failed.pk])),  # type: ignore[union-attr]
        _fail_a_grant,
    ),
    Page(
        "verify selected",
        lambda w: w.client.post(reverse("grants_verify_bulk"), {"grant": [w.grant.pk]}),
    ),
    Page("verification batch", _batch_page),
    Page("audit log", lambda w: w.client.get(reverse("audit_list"))),
    Page("wizard start", lambda w: w.client.get(WIZARD)),
    *(
        Page(
            f"wizard {name} step",
            lambda w, name=name: w.client.post(WIZARD, _wizard_step(w, name)),
            lambda w, name=name: _walk_wizard_to(w, name),
            calls_aws=name != "review",
        )
        for name in WIZARD_STEPS
    ),
]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_the_page_answers_within_twelve_seconds_while_aws_hangs(world: World, page: Page) -> None:
    page.prepare(world)
    aws.reset()  # a fresh process: the hub roles must be assumed again
    before = len(world.proxy.calls())
    world.proxy.arm(Rule("*", FaultKind.HANG_FOREVER))
    started = time.monotonic()
    response = page.request(world)
    elapsed = time.monotonic() - started
    calls = world.proxy.calls()[before:]
    world.proxy.heal()
    assert calls or not page.calls_aws, f"{page.name} never reached the hung endpoint"
    assert response.status_code < 500, response.status_code
    assert elapsed < DEADLINE_SECONDS, (
        f"{page.name} took {elapsed:.1f} s with AWS hung ({len(calls)} held request(s): "
        f"{sorted(set(calls))})"
    )
