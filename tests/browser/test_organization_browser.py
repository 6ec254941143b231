"""In Chromium: from the sandbox's management account, import accounts of its organization,
register a whole OU, and filter the registry by OU path."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .conftest import RunningPortal, log_in

pytestmark = pytest.mark.browser


def test_it_imports_the_sandbox_organizations_accounts(
    page: Page, running_portal: RunningPortal
) -> None:
    log_in(page, running_portal)
    # The sandbox's first scheduled job reads its organization: piyo and hoge get OU paths.
    table = page.get_by_test_id("account-table")
    hoge = table.locator("tr", has_text="444455556666")
    for _ in range(60):
        page.goto(running_portal.url + "/accounts/")
        if "Root/Workloads/Dev" in hoge.inner_text():
            break
        page.wait_for_timeout(1000)
    expect(hoge).to_contain_text("Root/Workloads/Dev")
    table.get_by_role("link", name="management", exact=True).click()
    expect(page.get_by_test_id("account-ou")).to_have_text("Root")
    page.get_by_role("link", name="Organization accounts").click()

    accounts = page.get_by_test_id("organization-accounts")
    expect(accounts.locator("tr", has_text="111122223333")).to_contain_text("registered as piyo")
    vendor = accounts.locator("tr", has_text="777788889999")
    expect(vendor).to_contain_text("Root/Vendors")
    expect(vendor).to_contain_text("not registered")

    # One account by hand, then the whole Workloads OU (fuga is the one left there).
    page.get_by_label("Register vendor-a (777788889999)").check()
    page.get_by_role("button", name="Register", exact=True).click()
    expect(page.locator(".alert-success")).to_contain_text("Registered 1 account(s): vendor-a")
    expect(accounts.locator("tr", has_text="777788889999")).to_contain_text(
        "registered as vendor-a"
    )
    unit = page.get_by_label("Whole organizational unit")
    unit.select_option(label="Root/Workloads (3 accounts)")
    page.get_by_role("button", name="Register", exact=True).click()
    expect(page.locator(".alert-success")).to_contain_text("fuga (555566667777)")
    expect(page.locator(".alert-info")).to_contain_text("piyo (111122223333)")

    page.get_by_role("button", name="Re-sync registered accounts").click()
    expect(page.locator(".alert-success")).to_contain_text("0 marked as left")

    page.goto(running_portal.url + "/accounts/")
    page.get_by_label("OU path (with the OUs below it)").select_option("Root/Workloads")
    page.get_by_role("button", name="Search").click()
    rows = page.get_by_test_id("account-table").locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(page.get_by_test_id("account-table")).not_to_contain_text("vendor-a")
    assert page.console_errors == []  # type: ignore[attr-defined]
