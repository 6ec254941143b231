"""System checks for a production deployment (`manage.py check --deploy`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks


@checks.register(deploy=True)
def check_task_backend(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Bulk verification must not run inside a web request in production."""
    from .tasks import queued_in_database  # the task module imports the services

    if queued_in_database() or settings.AWS_SANDBOX:
        return []
    return [
        checks.Warning(
            "Background work (Verify selected, scheduled re-verification, expiry) runs "
            "inside the web request that asks for it.",
            hint=(
                "Set XACCT_TASK_BACKEND=database and run `manage.py db_worker` "
                "(one or more, on any host)."
            ),
            id="grants.W001",
        )
    ]
