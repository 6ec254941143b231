"""In Chromium: log in to the sandbox portal, see both accounts, check a connection."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from grants.services.authz import ROLE_PERMISSIONS

from .conftest import RunningPortal, log_in, portal_query

pytestmark = pytest.mark.browser


def test_it_checks_the_connection_to_piyo(page: Page, running_portal: RunningPortal) -> None:
    page.goto(running_portal.url + "/accounts/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/accounts/"))

    log_in(page, running_portal)
    expect(page.get_by_test_id("sandbox-banner")).to_contain_text("Sandbox")
    page.get_by_role("link", name="Accounts", exact=True).click()

    table = page.get_by_test_id("account-table")
    expect(table).to_contain_text("piyo")
    expect(table).to_contain_text("111122223333")
    expect(table).to_contain_text("hoge")
    expect(table).to_contain_text("444455556666")

    piyo_row = table.locator("tr", has_text="111122223333")
    piyo_row.get_by_role("button", name="Check connection").click()

    arn = page.get_by_test_id("caller-arn")
    expect(arn).to_have_text(
        re.compile(r"^arn:aws:sts::111122223333:assumed-role/OrganizationAccountAccessRole/.+")
    )
    expect(page.locator(".alert-success")).to_contain_text("Connected to piyo")
    assert page.console_errors == []  # type: ignore[attr-defined]


def test_it_shows_field_errors_when_registering_a_bad_account(
    page: Page, running_portal: RunningPortal
) -> None:
    log_in(page, running_portal)
    page.goto(running_portal.url + "/accounts/new/")
    page.locator("#id_account_id").fill("12345")
    page.locator("#id_name").fill("broken")
    page.locator("#id_default_region").fill("ap-northeast-1")
    page.get_by_role("button", name="Register").click()
    expect(page.locator("#id_account_id ~ .invalid-feedback")).to_contain_text("exactly 12 digits")
    expect(page.locator(".invalid-feedback")).to_have_count(1)
    assert page.console_errors == []  # type: ignore[attr-defined]


def test_it_prints_what_a_newcomer_needs(running_portal: RunningPortal) -> None:
    printed = running_portal.output.read_text()
    assert f"Portal:            http://{running_portal.url.removeprefix('http://')}/" in printed
    assert f"admin / {running_portal.password}" in printed
    assert re.search(r"Sandbox endpoint:  http://127\.0\.0\.1:\d+", printed)
    assert "aws --profile hoge-app sts get-caller-identity" in printed


def test_the_portal_keeps_its_records_in_the_configured_database(
    running_portal: RunningPortal,
) -> None:
    """`make test` runs the browser tests on SQLite and again on PostgreSQL."""
    accounts = portal_query(running_portal, "SELECT name FROM grants_awsaccount ORDER BY name")
    groups = portal_query(running_portal, "SELECT name FROM auth_group ORDER BY name")
    # The example accounts and the organization's management account (its source).
    assert [name for (name,) in accounts] == ["hoge", "management", "piyo"]
    # The roles for people survive the sandbox's fresh start on either database.
    assert [name for (name,) in groups] == sorted(ROLE_PERMISSIONS)


def test_the_browser_gets_the_policy_and_refuses_inline_script(
    page: Page, running_portal: RunningPortal
) -> None:
    response = page.goto(running_portal.url + "/login/")
    assert response is not None
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    # The vendored scripts load from 'self' (htmx is there) ...
    assert page.evaluate("typeof window.htmx") == "object"
    # ... but an inline script is refused by Chromium itself.
    page.evaluate(
        """() => { const s = document.createElement('script');
                   s.textContent = 'window.inlineRan = true';
                   document.head.appendChild(s); }"""
    )
    assert page.evaluate("window.inlineRan === undefined")
    page.wait_for_timeout(200)  # the console message arrives asynchronously
    violations = page.console_errors  # type: ignore[attr-defined]
    assert any("Content Security Policy" in message for message in violations), violations


def test_discovery_labels_the_hub_role_and_offers_no_import(
    page: Page, running_portal: RunningPortal
) -> None:
    log_in(page, running_portal)
    page.goto(running_portal.url + "/accounts/")
    page.get_by_test_id("account-table").get_by_role("link", name="piyo").click()
    page.get_by_role("button", name="Discover cross-account roles").click()
    hub = page.locator('tr[data-role="OrganizationAccountAccessRole"]')
    expect(hub.get_by_test_id("portal-access-role")).to_have_text("the portal's access role")
    expect(hub.get_by_test_id("portal-access-explanation")).to_contain_text("cut the portal off")
    expect(hub.get_by_role("button", name="Import as grant")).to_have_count(0)
    assert page.console_errors == []  # type: ignore[attr-defined]


def test_background_work_runs_on_a_worker_by_default(running_portal: RunningPortal) -> None:
    printed = running_portal.output.read_text()
    assert "run by a db_worker beside the portal (as in production)" in printed
    assert "Scheduled jobs:    every 60 s, recover_operations and expire_grants" in printed
