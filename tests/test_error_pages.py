"""The portal's own 403/404/500/CSRF pages, and `make run` serving them (DEBUG off)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from grants.management.commands.sandbox import _production_like_web
from xacct_portal import errors

pytestmark = pytest.mark.django_db
BASE_DIR = Path(__file__).resolve().parents[1]


@pytest.fixture
def production(settings):  # type: ignore[no-untyped-def]
    settings.DEBUG = False
    return settings


def test_an_unknown_address_gets_the_friendly_404_not_the_url_list(production, user_client) -> None:  # type: ignore[no-untyped-def]
    response = user_client.get("/no-such-page/")
    body = response.content.decode()
    assert response.status_code == 404
    assert 'data-testid="not-found"' in body
    assert "/no-such-page/" in body
    assert "URLconf" not in body and "grants/&lt;int:pk&gt;" not in body


def test_a_missing_grant_gets_the_friendly_404(production, user_client) -> None:  # type: ignore[no-untyped-def]
    response = user_client.get(reverse("grant_detail", args=[9999]))
    assert response.status_code == 404
    assert 'data-testid="not-found"' in response.content.decode()


def test_a_stale_csrf_token_gets_the_friendly_page_not_djangos(
    production, django_user_model
) -> None:  # type: ignore[no-untyped-def]
    client = Client(enforce_csrf_checks=True)
    client.force_login(django_user_model.objects.create_superuser("al", password="x-horse-9"))
    response = client.post(reverse("account_create"), {"csrfmiddlewaretoken": "stale" * 8})
    body = response.content.decode()
    assert response.status_code == 403
    assert 'data-testid="csrf-failure"' in body
    assert "CSRF verification failed" not in body


def test_a_refused_role_gets_the_friendly_403(production, client, django_user_model) -> None:  # type: ignore[no-untyped-def]
    client.force_login(django_user_model.objects.create_user("nobody", password="x-horse-9"))
    response = client.get(reverse("audit_list"))
    assert response.status_code == 403
    assert "you have no role yet" in response.content.decode()


def test_a_server_error_gets_the_friendly_500_without_any_context() -> None:
    response = errors.server_error(RequestFactory().get("/"))
    body = response.content.decode()
    assert response.status_code == 500
    assert 'data-testid="server-error"' in body
    assert "Traceback" not in body


def test_the_sandbox_serves_its_portal_with_debug_off_over_plain_http() -> None:
    env = _production_like_web("127.0.0.1:8000")
    assert env["DJANGO_DEBUG"] == "false"
    assert env["DJANGO_SECURE_SSL_REDIRECT"] == "false"
    assert env["DJANGO_SECURE_COOKIES"] == "false"
    assert len(env["DJANGO_SECRET_KEY"]) >= 50
    assert env["DJANGO_ALLOWED_HOSTS"] == "localhost,127.0.0.1,[::1]"
    assert _production_like_web("0.0.0.0:8080")["DJANGO_ALLOWED_HOSTS"] == "*"
    assert _production_like_web("10.0.0.5:8080")["DJANGO_ALLOWED_HOSTS"].endswith(",10.0.0.5")


def test_the_sandboxs_settings_serve_static_files_without_collectstatic() -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "XACCT_"))},
        **_production_like_web("127.0.0.1:8000"),
        "XACCT_SANDBOX": "true",
    }
    probe = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DEBUG, s.WHITENOISE_USE_FINDERS, s.STORAGES['staticfiles']['BACKEND'], "
        "s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        env={**env, "DJANGO_SETTINGS_MODULE": "xacct_portal.settings"},
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == [
        "False",
        "True",
        "django.contrib.staticfiles.storage.StaticFilesStorage",
        "False",
        "False",
    ]
