"""In Chromium: the grant page says what AWS held when, and Re-apply/Adopt confirm first."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .conftest import RunningPortal, axe_serious_violations, log_in
from .test_test_access_browser import create_grant, delete_user_policy

pytestmark = pytest.mark.browser


def test_the_page_shows_what_test_access_and_drift_saw_and_reapply_confirms_first(
    page: Page, running_portal: RunningPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_in(page, running_portal)
    create_grant(page, running_portal, "piyo-observed")
    delete_user_policy(running_portal, "xacct-assume-piyo-observed", monkeypatch)

    page.get_by_role("button", name="Test access").click()
    expect(page.locator('[data-step="trust"]')).to_have_attribute("data-status", "pass")
    observed = page.get_by_test_id("observed-state")
    # Swapped in with the result, no reload: the role was found, at a time, by Test access.
    expect(observed).to_contain_text("Role found in piyo")
    expect(observed).to_contain_text("by Test access")
    expect(page.get_by_test_id("role-absent")).to_have_count(0)
    expect(page.get_by_text("(not in AWS")).to_have_count(0)
    expect(page.locator("code", has_text="grantee-policy")).to_have_count(0)

    page.get_by_role("button", name="Check drift").click()
    expect(observed).to_contain_text("User policy xacct-assume-piyo-observed missing")
    expect(observed).to_contain_text("by drift check")
    assert axe_serious_violations(page) == []

    page.get_by_role("link", name="Re-apply recorded state…").click()
    expect(page.get_by_test_id("confirm-plan")).to_contain_text("iam:PutUserPolicy")
    assert axe_serious_violations(page) == []
    page.get_by_role("link", name="Cancel").click()  # nothing changed: drift still there
    expect(observed).to_contain_text("User policy xacct-assume-piyo-observed missing")

    page.get_by_role("link", name="Re-apply recorded state…").click()
    page.get_by_role("button", name="Re-apply").click()
    # The worker re-applies, then checks drift; the page follows it and shows the result.
    progress = page.get_by_test_id("operation-progress")
    expect(progress).to_have_attribute("data-operation-state", "succeeded", timeout=30_000)
    expect(observed).to_contain_text("Live IAM matched the record", timeout=30_000)
    expect(observed).not_to_contain_text("missing")
    assert page.console_errors == []  # type: ignore[attr-defined]


def test_adopt_lists_the_record_changes_before_making_them(
    page: Page, running_portal: RunningPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_in(page, running_portal)
    create_grant(page, running_portal, "piyo-adopt")
    delete_user_policy(running_portal, "xacct-assume-piyo-adopt", monkeypatch)
    page.get_by_role("button", name="Check drift").click()
    page.get_by_role("link", name="Adopt live state…").click()
    expect(page.get_by_role("heading", name="Adopt the live state of piyo-adopt?")).to_be_visible()
    # The user policy is gone live; adopt keeps the recorded one (nothing to adopt there).
    expect(page.get_by_test_id("confirm-nothing")).to_be_visible()
    page.get_by_role("button", name="Adopt live state").click()
    progress = page.get_by_test_id("operation-progress")
    expect(progress).to_have_attribute("data-operation-state", "succeeded", timeout=30_000)
    expect(page.get_by_test_id("operation-summary")).to_contain_text("Adopt")
    assert page.console_errors == []  # type: ignore[attr-defined]
