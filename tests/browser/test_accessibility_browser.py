"""In Chromium: no serious axe-core violation on any page, at 1366x768 and 390x844; layout fits."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect

from .conftest import RunningPortal, axe_serious_violations, log_in
from .test_test_access_browser import create_grant, delete_user_policy

pytestmark = pytest.mark.browser

WIDE = {"width": 1366, "height": 768}
NARROW = {"width": 390, "height": 844}


@dataclass
class World:
    """URLs of pages that need data behind them (made once per module)."""

    active_grant: str
    failed_grant: str
    batch: str
    account: str


@pytest.fixture(scope="module")
def world(running_portal: RunningPortal, browser: Browser) -> Iterator[World]:
    """An active grant, a grant whose Test access failed, and a batch that verified both."""
    context = browser.new_context(viewport=WIDE)
    page = context.new_page()
    page.set_default_timeout(20_000)
    log_in(page, running_portal)
    create_grant(page, running_portal, "a11y-active")
    active = page.url
    # An expiry within 7 days: the dashboard then shows its (yellow) "Expiring" count.
    soon = datetime.now(UTC) + timedelta(days=3)
    page.get_by_label("Expires at (UTC)").fill(soon.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Save expiry").click()
    create_grant(page, running_portal, "a11y-failed")
    failed = page.url
    with pytest.MonkeyPatch.context() as monkeypatch:
        delete_user_policy(running_portal, "xacct-assume-a11y-failed", monkeypatch)
    page.get_by_role("button", name="Test access").click()
    expect(page.get_by_test_id("verification-outcome")).to_contain_text(
        "Test access failed", timeout=30_000
    )
    # Drift shown: the page then offers Re-apply (the yellow button) and Adopt.
    page.get_by_role("button", name="Check drift").click()
    expect(page.get_by_test_id("drift")).to_contain_text("Checked")
    expect(page.locator(".btn-outline-warning").first).to_be_visible()  # in axe's view below
    page.goto(running_portal.url + "/grants/")
    page.get_by_label("Select a11y-active").check()
    page.get_by_label("Select a11y-failed").check()
    page.get_by_role("button", name="Verify selected").click()
    expect(page.get_by_test_id("batch-summary")).to_contain_text("Finished", timeout=60_000)
    batch = page.url
    page.goto(running_portal.url + "/")
    expect(page.get_by_test_id("count-expiring")).to_have_text("1")
    page.goto(running_portal.url + "/accounts/")
    page.get_by_role("link", name="piyo", exact=True).first.click()
    account = page.url
    # Discovery's results page (reached by GET after the POST) and Check connection's answer.
    page.get_by_role("button", name="Discover cross-account roles").click()
    expect(page.get_by_test_id("discovered-roles")).to_be_visible()
    context.close()
    yield World(active_grant=active, failed_grant=failed, batch=batch, account=account)


def open_page(browser: Browser, viewport: dict[str, int], portal: RunningPortal) -> Page:
    page = browser.new_context(viewport=viewport).new_page()
    page.set_default_timeout(20_000)
    log_in(page, portal)
    return page


def static_pages(portal: RunningPortal, world: World) -> dict[str, str]:
    return {
        "dashboard": portal.url + "/",
        "accounts list": portal.url + "/accounts/",
        "account detail": world.account,
        "account form (new)": portal.url + "/accounts/new/",
        "account form (edit)": world.account + "edit/",
        "grants list": portal.url + "/grants/",
        "grant detail (active)": world.active_grant,
        "grant detail (failed Test access)": world.failed_grant,
        "revoke confirmation": world.active_grant + "revoke/",
        "re-apply confirmation": world.failed_grant + "reapply/",
        "adopt confirmation": world.failed_grant + "adopt/",
        "discovery results": world.account + "discover/",
        "batch page": world.batch,
        "audit": portal.url + "/audit/",
    }


@pytest.mark.parametrize("viewport", [WIDE, NARROW], ids=["1366x768", "390x844"])
def test_no_page_has_a_serious_or_critical_axe_violation(
    browser: Browser, running_portal: RunningPortal, world: World, viewport: dict[str, int]
) -> None:
    found: dict[str, list[str]] = {}
    page = open_page(browser, viewport, running_portal)
    for name, url in static_pages(running_portal, world).items():
        page.goto(url)
        found[name] = axe_serious_violations(page)

    # The wizard, step by step, as a new user fills it in.
    page.goto(running_portal.url + "/grants/new/")
    found["wizard step 1"] = axe_serious_violations(page)
    page.get_by_label("Trusting account").select_option(label="piyo (111122223333)")
    page.get_by_label("Role name").fill("a11y-wizard")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_test_id("wizard-step")).to_have_text("Trusted party")
    found["wizard step 2"] = axe_serious_violations(page)
    page.get_by_label("Trusted account", exact=True).select_option(label="hoge (444455556666)")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_test_id("wizard-step")).to_have_text("Permissions")
    found["wizard step 3"] = axe_serious_violations(page)
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_test_id("wizard-step")).to_have_text("Grantee")
    found["wizard step 4"] = axe_serious_violations(page)
    page.get_by_label("Grantee IAM user").select_option("hoge-app")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_test_id("wizard-step")).to_have_text("Review")
    found["wizard review"] = axe_serious_violations(page)

    # A failed Test access as it renders in place (htmx), not only after a reload.
    page.goto(world.failed_grant)
    page.get_by_role("button", name="Test access").click()
    expect(page.get_by_test_id("verification-outcome")).to_contain_text(
        "Test access failed", timeout=30_000
    )
    found["Test access failure panel"] = axe_serious_violations(page)
    page.context.close()

    anonymous = browser.new_context(viewport=viewport).new_page()
    anonymous.goto(running_portal.url + "/login/")
    found["login"] = axe_serious_violations(anonymous)
    anonymous.context.close()

    report = {name: lines for name, lines in found.items() if lines}
    assert report == {}, "\n".join(
        f"{name}:\n  " + "\n  ".join(lines) for name, lines in report.items()
    )
    assert len(found) == 21  # every page above was checked


def page_overflow(page: Page) -> int:
    """How many CSS pixels the document is wider than the window (0: no sideways scrolling)."""
    return page.evaluate("Math.max(0, document.documentElement.scrollWidth - window.innerWidth)")


def widest_elements(page: Page) -> list[str]:
    """The innermost elements reaching past the window's right edge (for the failure message)."""
    return page.evaluate(
        """() => [...document.querySelectorAll("body *")]
            .filter(e => !e.closest(".table-responsive, pre"))
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
            .filter(e => ![...e.children].some(
                c => c.getBoundingClientRect().right > window.innerWidth + 1))
            .slice(0, 4)
            .map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")
                 + (e.className && typeof e.className === "string"
                    ? "." + e.className.trim().split(/\\s+/).join(".") : "")
                 + " " + JSON.stringify((e.textContent || "").trim().slice(0, 40)))"""
    )


def test_pages_reflow_at_390_px_without_sideways_scrolling(
    browser: Browser, running_portal: RunningPortal, world: World
) -> None:
    page = open_page(browser, NARROW, running_portal)
    overflow: dict[str, int] = {}
    culprits: dict[str, list[str]] = {}

    def measure(name: str) -> None:
        overflow[name] = page_overflow(page)
        if overflow[name]:
            culprits[name] = widest_elements(page)

    for name, url in static_pages(running_portal, world).items():
        page.goto(url)
        measure(name)
    page.goto(world.failed_grant)
    page.get_by_role("button", name="Test access").click()
    expect(page.get_by_test_id("verification-outcome")).to_contain_text(
        "Test access failed", timeout=30_000
    )
    measure("Test access failure panel")
    page.context.close()
    assert {name: px for name, px in overflow.items() if px} == {}, culprits
    assert {"dashboard", "grant detail (active)", "batch page"} <= overflow.keys()


def test_grants_table_and_audit_request_ids_fit_at_1366_px(
    browser: Browser, running_portal: RunningPortal, world: World
) -> None:
    page = open_page(browser, WIDE, running_portal)
    page.goto(running_portal.url + "/grants/")
    table = page.get_by_test_id("grant-table")
    # Nothing of the table is hidden behind a horizontal scrollbar of its wrapper.
    assert table.evaluate("t => t.parentElement.scrollWidth <= t.parentElement.clientWidth")
    button = table.locator("tr", has_text="a11y-active").get_by_role("button", name="Test access")
    box = button.bounding_box()
    assert box is not None and box["x"] + box["width"] <= WIDE["width"]
    assert page_overflow(page) == 0

    for url in (running_portal.url + "/audit/", world.failed_grant):
        page.goto(url)
        cells = page.locator(".request-id")
        assert cells.count() > 0, url
        for index in range(cells.count()):
            cell = cells.nth(index)
            # The whole request ID is laid out inside its cell: nothing cut off or scrolled.
            assert cell.evaluate("c => c.scrollWidth <= c.clientWidth"), (url, cell.inner_text())
            assert cell.is_visible()
        assert page.evaluate(
            "[...document.querySelectorAll('.table-responsive')]"
            ".every(w => w.scrollWidth <= w.clientWidth)"
        ), url
    page.context.close()
