"""The suite runs on the database DATABASE_URL names (SQLite by default, PostgreSQL too)."""

from __future__ import annotations

import os

from django.db import connection


def test_it_runs_on_the_configured_database() -> None:
    url = os.environ.get("DATABASE_URL", "sqlite")
    expected = "postgresql" if url.startswith(("postgres", "pgsql")) else "sqlite"
    assert connection.vendor == expected
