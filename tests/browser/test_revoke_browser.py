"""In Chromium: revoke a grant; the role is gone and Test access says so."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .conftest import RunningPortal, log_in
from .test_test_access_browser import create_grant

pytestmark = pytest.mark.browser


def test_revoke_removes_the_role_and_test_access_explains_it(
    page: Page, running_portal: RunningPortal
) -> None:
    log_in(page, running_portal)
    create_grant(page, running_portal, "piyo-to-revoke")
    page.get_by_role("link", name="Revoke", exact=True).click()
    expect(page.get_by_test_id("revoke-plan")).to_contain_text("iam:DeleteRole piyo-to-revoke")
    page.get_by_role("button", name="Revoke grant").click()
    expect(page.get_by_test_id("grant-status")).to_have_text("Revoked")

    page.get_by_role("button", name="Test access").click()
    trust = page.locator('[data-step="trust"]')
    expect(trust).to_have_attribute("data-status", "fail")
    expect(trust).to_contain_text("The role piyo-to-revoke does not exist in piyo (111122223333).")
    assert page.console_errors == []  # type: ignore[attr-defined]
