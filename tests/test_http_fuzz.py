"""Bad input over HTTP gets a clear 4xx, never a 5xx: named cases, then hypothesis."""

from __future__ import annotations

import pytest
from django.urls import reverse

from grants.middleware import INTEGER_MAX, INTEGER_MIN, out_of_range_integer

pytestmark = pytest.mark.django_db

TOO_BIG = "99999999999999999999"


def test_an_unknown_wizard_step_is_a_400_with_a_message(user_client) -> None:  # type: ignore[no-untyped-def]
    user_client.get(reverse("grant_create"))
    response = user_client.post(
        reverse("grant_create"), {"grant_wizard-current_step": "bogus_step"}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "unknown wizard step" in body
    assert 'name="grant_wizard-current_step"' in body  # the first step, to continue from


def test_a_wizard_post_without_its_step_is_a_400(user_client) -> None:  # type: ignore[no-untyped-def]
    response = user_client.post(reverse("grant_create"), {"role-role_name": "x"})
    assert response.status_code == 400


def test_a_known_wizard_step_still_validates(user_client) -> None:  # type: ignore[no-untyped-def]
    response = user_client.post(
        reverse("grant_create"), {"grant_wizard-current_step": "role", "role-role_name": ""}
    )
    assert response.status_code == 200
    assert "unknown wizard step" not in response.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "/admin/grants/auditevent/?grant=" + TOO_BIG,
        "/admin/grants/auditevent/?account=-" + TOO_BIG,
        "/admin/grants/auditevent/?actor=9223372036854775808",
        "/admin/grants/auditevent/?grant__in=1," + TOO_BIG,
        "/admin/auth/user/?grant=" + TOO_BIG,
        "/audit/?grant=" + TOO_BIG,
        "/grants/?account=" + TOO_BIG,
        "/accounts/?page=" + TOO_BIG,
    ],
)
def test_an_out_of_range_integer_in_a_query_is_a_400(user_client, url: str) -> None:  # type: ignore[no-untyped-def]
    response = user_client.get(url)
    assert response.status_code == 400
    assert "out of range" in response.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "/admin/grants/auditevent/?grant=9223372036854775807",
        "/admin/grants/auditevent/?grant=abc",
        "/grants/?account=abc",
        "/grants/?page=-1",
        "/audit/?page=abc",
        "/audit/?account=abc",
        "/accounts/?q=" + TOO_BIG,  # free text: a number to search for
    ],
)
def test_in_range_or_non_integer_query_values_are_not_refused(user_client, url: str) -> None:  # type: ignore[no-untyped-def]
    assert user_client.get(url).status_code in (200, 302)


def test_an_anonymous_visitor_is_sent_to_log_in_first(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/grants/?account=" + TOO_BIG)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_huge_ids_in_urls_are_404(user_client) -> None:  # type: ignore[no-untyped-def]
    for url in (
        f"/grants/{TOO_BIG}/",
        f"/accounts/{TOO_BIG}/",
        f"/verifications/batch/{TOO_BIG}/",
        f"/admin/grants/auditevent/{TOO_BIG}/change/",
    ):
        assert user_client.get(url).status_code in (302, 404), url


def test_the_range_check_parses_as_int_does() -> None:
    assert out_of_range_integer("grant", str(INTEGER_MAX + 1))
    assert out_of_range_integer("grant", str(INTEGER_MIN - 1))
    assert out_of_range_integer("grant", " 9_223_372_036_854_775_808 ")
    assert not out_of_range_integer("grant", str(INTEGER_MAX))
    assert not out_of_range_integer("grant", str(INTEGER_MIN))
    assert not out_of_range_integer("grant", "1e30")
    assert not out_of_range_integer("q", TOO_BIG)
    assert out_of_range_integer("pk__in", f"1,{TOO_BIG}")
