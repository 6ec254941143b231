"""In Chromium against `manage.py sandbox`: a failed Test access's audit row carries the request
ID the panel shows (found again by the request-ID filter); Copy buttons need JavaScript."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from .conftest import RunningPortal, log_in
from .test_test_access_browser import create_grant, delete_user_policy

pytestmark = pytest.mark.browser


def test_a_failed_test_access_is_found_in_the_audit_log_by_the_panels_request_id(
    page: Page, running_portal: RunningPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_in(page, running_portal)
    create_grant(page, running_portal, "piyo-audited")
    delete_user_policy(running_portal, "xacct-assume-piyo-audited", monkeypatch)
    page.get_by_role("button", name="Test access").first.click()
    error = page.get_by_test_id("step-error").first
    expect(error).to_be_visible(timeout=30_000)
    request_id = error.locator("dt:text-is('Request ID') + dd").inner_text().strip()
    code = error.locator("dt:text-is('AWS error code') + dd").inner_text().strip()
    assert len(request_id) > 10 and code == "AccessDenied"

    page.goto(running_portal.url + "/audit/")
    page.get_by_label("Request ID").fill(request_id)
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Access tested")
    expect(rows.first).to_contain_text(request_id)
    expect(rows.first.get_by_test_id("audit-error-code")).to_have_text("AccessDenied")
    expect(rows.first.get_by_test_id("audit-http-status")).to_have_text("HTTP 403")


def test_copy_buttons_show_only_with_javascript(
    browser: Browser, page: Page, running_portal: RunningPortal
) -> None:
    log_in(page, running_portal)
    create_grant(page, running_portal, "piyo-copyable")
    grant_url = page.url.split("#")[0]
    copy = page.locator("[data-copy-target]")
    assert copy.count() > 0
    # Revealed by static/js/portal.js (some sit in collapsed sections: check the attribute).
    assert not any(copy.nth(n).evaluate("el => el.hidden") for n in range(copy.count()))

    context = browser.new_context(java_script_enabled=False)
    try:
        plain = context.new_page()
        log_in(plain, running_portal)
        plain.goto(grant_url)
        expect(plain.get_by_test_id("grant-status")).to_be_visible()
        copy = plain.locator("[data-copy-target]")
        assert copy.count() > 0
        for n in range(copy.count()):
            expect(copy.nth(n)).to_be_hidden()
    finally:
        context.close()
