"""In Chromium against `manage.py sandbox` (what `make run` starts): a session that ends in
another tab sends Test access to the login page, and visitors get the portal's own error pages."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .conftest import RunningPortal, log_in
from .test_test_access_browser import create_grant

pytestmark = pytest.mark.browser


def test_test_access_after_logging_out_in_another_tab_lands_on_the_login_page(
    page: Page, running_portal: RunningPortal
) -> None:
    log_in(page, running_portal)
    create_grant(page, running_portal, "piyo-session-ends")
    grant_url = page.url.split("#")[0]
    other_tab = page.context.new_page()
    other_tab.goto(running_portal.url + "/")
    other_tab.get_by_role("button", name="Log out").click()
    other_tab.wait_for_url(re.compile(r"/login/"))

    page.get_by_role("button", name="Test access").first.click()

    page.wait_for_url(re.compile(r"/login/\?next="))
    assert page.url.endswith("/login/?next=" + grant_url.removeprefix(running_portal.url))
    # A whole login page, not one injected into the Test access panel.
    expect(page.locator("form input[name=password]")).to_have_count(1)
    expect(page.get_by_test_id("grant-status")).to_have_count(0)
    page.get_by_label("Username").fill(running_portal.username)
    page.get_by_label("Password").fill(running_portal.password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(grant_url)
    expect(page.get_by_test_id("grant-status")).to_be_visible()


def test_unknown_pages_and_missing_records_get_the_friendly_404(
    page: Page, running_portal: RunningPortal
) -> None:
    log_in(page, running_portal)
    for path in ("/no-such-page/", "/grants/9999/"):
        response = page.goto(running_portal.url + path)
        assert response is not None and response.status == 404
        expect(page.get_by_test_id("not-found")).to_contain_text(path)
        assert "URLconf" not in page.content()
        assert "DEBUG = True" not in page.content()


def test_a_form_sent_with_a_stale_csrf_token_gets_the_friendly_page(
    page: Page, running_portal: RunningPortal
) -> None:
    log_in(page, running_portal)
    page.goto(running_portal.url + "/accounts/")
    page.get_by_role("link", name="piyo").first.click()
    # Log out and in again in another tab: the security token changes under this page.
    other_tab = page.context.new_page()
    other_tab.goto(running_portal.url + "/")
    other_tab.get_by_role("button", name="Log out").click()
    log_in(other_tab, running_portal)

    page.get_by_role("button", name="Check connection").click()

    expect(page.get_by_test_id("csrf-failure")).to_be_visible()
    assert "CSRF verification failed" not in page.content()
