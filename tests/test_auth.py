"""Every page requires login; the login and logout pages work."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

pytestmark = pytest.mark.django_db


def portal_paths() -> list[str]:
    """One concrete path per portal URL pattern (numeric arguments filled with 1)."""
    paths: list[str] = []

    def walk(patterns: list, prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if str(pattern.pattern).startswith("admin/"):
                    continue
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                route = prefix + str(pattern.pattern)
                paths.append("/" + route.replace("<int:pk>", "1"))

    walk(get_resolver().url_patterns, "")
    return [p for p in paths if p not in ("/login/", "/logout/")]


def test_the_walk_finds_the_portal_pages() -> None:
    assert {"/", "/accounts/", "/accounts/1/check/", "/audit/"} <= set(portal_paths())


@pytest.mark.parametrize("path", portal_paths())
def test_it_sends_anonymous_users_to_login(client, path: str) -> None:  # type: ignore[no-untyped-def]
    for method in (client.get, client.post):
        response = method(path)
        assert response.status_code == 302, path
        assert response.url.startswith(reverse("login") + "?next=")


def test_it_logs_in_and_out(client, django_user_model) -> None:  # type: ignore[no-untyped-def]
    django_user_model.objects.create_user(username="alice", password="correct-horse-9")
    response = client.post(reverse("login"), {"username": "alice", "password": "correct-horse-9"})
    assert response.status_code == 302
    # Logged in but given no role yet: refused, with a page that says why.
    refused = client.get(reverse("dashboard"))
    assert refused.status_code == 403
    assert "no role" in refused.content.decode()
    client.post(reverse("logout"))
    assert client.get(reverse("dashboard")).status_code == 302


def test_it_rejects_a_wrong_password(client, django_user_model) -> None:  # type: ignore[no-untyped-def]
    django_user_model.objects.create_user(username="alice", password="correct-horse-9")
    response = client.post(reverse("login"), {"username": "alice", "password": "wrong"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_the_admin_is_for_superusers_only(client, django_user_model) -> None:  # type: ignore[no-untyped-def]
    user = django_user_model.objects.create_user(username="bob", password="x")
    client.force_login(user)
    assert client.get("/admin/").status_code == 302
    admin = django_user_model.objects.create_superuser(username="root", password="x")
    client.force_login(admin)
    assert client.get("/admin/").status_code == 200


def test_pages_carry_a_strict_content_security_policy(client) -> None:  # type: ignore[no-untyped-def]
    csp = client.get(reverse("login"))["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
