"""In Chromium: revoke a grant; the role is gone and "Confirm access is gone" says so."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .conftest import RunningPortal, log_in, portal_query
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
    expect(page.get_by_test_id("grant-status")).to_have_text("Revoked", timeout=30_000)

    expect(page.get_by_text("Hand-off kit")).to_have_count(0)
    page.get_by_role("button", name="Confirm access is gone").click()
    trust = page.locator('[data-step="trust"]')
    expect(trust).to_have_attribute("data-status", "fail")
    expect(trust).to_contain_text("The role piyo-to-revoke does not exist in piyo (111122223333).")
    # The denial is the expected outcome: said so, with no fix to "repair" it.
    expect(page.get_by_test_id("gone-verdict")).to_have_text("Access is gone, as expected")
    expect(page.get_by_text("Fix:")).to_have_count(0)
    assert page.console_errors == []  # type: ignore[attr-defined]


def test_on_the_worker_the_grant_page_follows_provisioning_and_revoke_to_the_end(
    page: Page, running_portal_with_worker: RunningPortal
) -> None:
    portal = running_portal_with_worker
    log_in(page, portal)
    page.goto(portal.url + "/grants/new/")
    page.get_by_label("Trusting account").select_option(label="piyo (111122223333)")
    page.get_by_label("Role name").fill("piyo-on-the-worker")
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Trusted account", exact=True).select_option(label="hoge (444455556666)")
    page.get_by_role("button", name="Next").click()
    page.get_by_role("button", name="Next").click()  # SQS full access in ap-northeast-1
    page.get_by_label("Grantee IAM user").select_option("hoge-app")
    page.get_by_role("button", name="Next").click()
    page.get_by_role("button", name="Create grant").click()

    # The request only queued the work: the page says so and follows it to the end.
    expect(page.get_by_text("this page follows its progress")).to_be_visible()
    expect(page.get_by_test_id("grant-status")).to_have_text("Active", timeout=30_000)
    progress = page.get_by_test_id("operation-progress")
    expect(progress).to_have_attribute("data-operation-state", "succeeded")
    expect(progress.locator("li[data-step-state=done]")).to_have_count(3)

    page.get_by_role("link", name="Revoke", exact=True).click()
    page.get_by_role("button", name="Revoke grant").click()
    expect(page.get_by_test_id("grant-status")).to_have_text("Revoked", timeout=30_000)
    expect(page.get_by_test_id("operation-summary")).to_contain_text("Revoke")
    assert page.console_errors == []  # type: ignore[attr-defined]

    tasks = portal_query(
        portal,
        "SELECT status FROM django_tasks_database_dbtaskresult "
        "WHERE task_path = 'grants.tasks.operation_run'",
    )
    assert tasks == [("SUCCESSFUL",), ("SUCCESSFUL",)]  # the worker did the AWS calls
