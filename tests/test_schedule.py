"""The documented schedule (deploy/crontab) names real commands with valid options."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from django.core.management import get_commands, load_command_class

CRONTAB = Path(__file__).resolve().parents[1] / "deploy" / "crontab"


def scheduled_commands() -> list[list[str]]:
    jobs = []
    for line in CRONTAB.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#") or "=" in line.split()[0]:
            continue
        fields = line.split(None, 5)
        assert len(fields) == 6, f"not a cron line: {line!r}"
        words = shlex.split(fields[5])
        jobs.append(words[words.index("manage.py") + 1 :])
    return jobs


def test_the_crontab_schedules_recovery_expiry_reverification_and_pruning() -> None:
    names = [job[0] for job in scheduled_commands()]
    assert names == [
        "recover_operations",
        "expire_grants",
        "verify_grants",
        "sync_organizations",
        "alerts_deliver_pending",
        "prune_db_task_results",
    ]


@pytest.mark.parametrize("job", scheduled_commands(), ids=lambda job: job[0])
def test_each_scheduled_command_exists_and_accepts_its_options(job: list[str], task_queue) -> None:  # type: ignore[no-untyped-def]
    # task_queue: the database backend, as in production
    name, *arguments = job
    command = load_command_class(get_commands()[name], name)
    parser = command.create_parser("manage.py", name)
    options = vars(parser.parse_args(arguments))  # exits (SystemExit) on a bad option
    if name in ("expire_grants", "verify_grants"):
        assert options["enqueue"] is True  # cron only queues; the workers do the work
