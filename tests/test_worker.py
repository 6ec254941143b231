"""Background work through django-tasks-db: real `manage.py db_worker` processes share a batch."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django_tasks_db.models import DBTaskResult

from grants import services
from grants.aws import sandbox
from grants.aws.core import call
from grants.models import Grant, GrantStatus, PermissionSet, Verification
from grants.services import authz

from .test_services_grants import draft, provisioned

BASE_DIR = Path(__file__).resolve().parents[1]
GRANTS = 200
WORKERS = ("worker-a", "worker-b")
QUEUES = ["notifications", "orders", "orders-dlq"]


def database_url() -> str:
    """This test's database (the test database, not the configured one) as a URL."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    assert db["ENGINE"] == "django.db.backends.postgresql", db["ENGINE"]
    user = quote(db["USER"] or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    return f"postgres://{user}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_two_worker_processes_verify_two_hundred_grants_each_exactly_once(
    sandbox_server, piyo, hoge, task_queue, tmp_path, django_user_model
) -> None:  # type: ignore[no-untyped-def]
    grants = []
    for n in range(GRANTS):
        # One application user per grant, as in a real fleet: AWS caps a user's inline
        # policies at 2,048 characters in all, so one user cannot hold 200 grants.
        grantee = f"app-{n:03d}"
        call(hoge.access(), "iam", "create_user", UserName=grantee)
        grant = provisioned(
            draft(
                piyo,
                hoge,
                role_name=f"worker-{n:03d}",
                grantee_name=grantee,
                # Least privilege, inline: this server has no AWS managed policies loaded.
                permission_set=PermissionSet.QUEUES,
                queue_names=QUEUES,
                queue_actions=["sqs:ReceiveMessage"],
                allow_list_queues=True,
            )
        )
        assert grant.status == GrantStatus.ACTIVE, grant.last_error
        grants.append(grant)

    # A verifier starts the batch: the workers check their role too.
    authz.roles_ensure()  # a transactional test's flush empties the groups
    verifier = django_user_model.objects.create_user("vera", password="x-correct-horse-4")
    verifier.groups.add(Group.objects.get(name=authz.VERIFIERS))
    batch = services.verification_batch_start(grants=grants, actor=verifier)
    assert DBTaskResult.objects.filter(status="READY").count() == GRANTS
    assert batch.finished_at is None

    env = {
        **os.environ,
        "DJANGO_DEBUG": "true",
        "DATABASE_URL": database_url(),
        "XACCT_TASK_BACKEND": "database",
        "XACCT_SANDBOX": "true",
        "XACCT_AWS_ENDPOINT_URL": sandbox_server.endpoint_url,
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    logs = {name: tmp_path / f"{name}.log" for name in WORKERS}
    processes = []
    try:
        for name in WORKERS:
            with logs[name].open("w") as log:
                processes.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "manage.py",
                            "db_worker",
                            "--batch",  # exit once the queue is empty
                            "--no-reload",
                            "--no-startup-delay",
                            "--interval",
                            "0.1",
                            "--worker-id",
                            name,
                        ],
                        cwd=BASE_DIR,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        for process in processes:
            process.wait(timeout=600)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    output = "\n".join(f"--- {name}\n{log.read_text()}" for name, log in logs.items())
    assert [p.returncode for p in processes] == [0, 0], output

    tasks = list(DBTaskResult.objects.all())
    assert len(tasks) == GRANTS
    assert Counter(t.status for t in tasks) == {"SUCCESSFUL": GRANTS}, output
    assert all(len(t.worker_ids) == 1 for t in tasks), "a task was claimed twice"
    shares = Counter(t.worker_ids[0] for t in tasks)
    assert set(shares) == set(WORKERS), shares  # both processes took part

    verifications = Verification.objects.filter(batch=batch)
    per_grant = Counter(verifications.values_list("grant_id", flat=True))
    assert per_grant == dict.fromkeys((g.pk for g in grants), 1)  # each exactly once
    assert set(verifications.values_list("outcome", flat=True)) == {"passed_portal"}
    assert set(verifications.values_list("actor_name", flat=True)) == {"vera"}
    items = batch.items.all()
    assert Counter(items.values_list("state", flat=True)) == {"verified": GRANTS}
    assert {i.task_id for i in items} == {str(t.id) for t in tasks}
    for verification in verifications:
        assert sorted(u.rsplit("/", 1)[1] for u in verification.queue_urls) == QUEUES
        assert verification.assumed_role_arn.startswith(
            f"arn:aws:sts::{sandbox.PIYO.account_id}:assumed-role/worker-"
        )

    batch.refresh_from_db()
    assert batch.finished_at is not None
    saved = Grant.objects.filter(pk__in=[g.pk for g in grants])
    assert saved.filter(last_verified_at__isnull=False, last_verification_ok=True).count() == GRANTS
    print(f"shares: {dict(shares)}")
