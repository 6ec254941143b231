"""In Chromium: Verify selected queues a batch that a real db_worker runs (`sandbox --worker`)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .conftest import RunningPortal, log_in, portal_query
from .test_test_access_browser import create_grant, delete_user_policy

pytestmark = pytest.mark.browser


def test_verify_selected_runs_on_the_worker_and_the_page_follows_it(
    page: Page, running_portal_with_worker: RunningPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    portal = running_portal_with_worker
    assert "run by a db_worker beside the portal" in portal.output.read_text()
    log_in(page, portal)
    for name in ("batch-one", "batch-two", "batch-three"):
        create_grant(page, portal, name)
    delete_user_policy(portal, "xacct-assume-batch-two", monkeypatch)

    page.locator("#nav").get_by_role("link", name="Grants").click()
    page.get_by_label("Select batch-one").check()
    page.get_by_label("Select batch-two").check()
    page.get_by_role("button", name="Verify selected").click()

    expect(page.get_by_role("heading", name="Verifying 2 grants")).to_be_visible()
    # Mark this page: the progress must arrive by htmx polling, not a reload.
    page.evaluate("window.xacctNoReload = true")
    summary = page.get_by_test_id("batch-summary")
    expect(summary).to_have_text("Finished: 2 verified, 1 failed.", timeout=60_000)
    assert page.evaluate("window.xacctNoReload") is True

    progress = page.get_by_test_id("batch-progress")
    expect(progress.locator("tr", has_text="batch-one")).to_contain_text("Passed")
    expect(progress.locator("tr", has_text="batch-two")).to_contain_text("Failed")
    expect(progress.locator("tr", has_text="batch-two")).to_contain_text(
        "The user policy xacct-assume-batch-two is missing."
    )
    expect(progress).not_to_contain_text("batch-three")  # not selected, not verified
    assert page.console_errors == []  # type: ignore[attr-defined]

    # The worker ran them, not the web request: two task results, both done.
    tasks = portal_query(
        portal,
        "SELECT task_path, status FROM django_tasks_database_dbtaskresult "
        "WHERE task_path = 'grants.tasks.verify_batch_item'",
    )
    assert tasks == [("grants.tasks.verify_batch_item", "SUCCESSFUL")] * 2

    page.locator("#nav").get_by_role("link", name="Grants").click()
    expect(page.locator("tr", has_text="batch-two")).to_contain_text("Failing verification")
    expect(page.locator("tr", has_text="batch-one")).to_contain_text("Active")
