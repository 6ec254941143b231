"""In Chromium: a grant broken outside the portal turns its arrow on the dashboard's access
map red, and clicking the arrow lists the failing grant."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .conftest import RunningPortal, account_admin_client, axe_serious_violations, log_in
from .test_test_access_browser import create_grant

pytestmark = pytest.mark.browser

PIYO, HOGE = "111122223333", "444455556666"
SQS_FULL_ACCESS = "arn:aws:iam::aws:policy/AmazonSQSFullAccess"


def piyo_admin_iam(portal: RunningPortal, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Outside the portal: piyo's administrator, acting through piyo's hub role (plain boto3)."""
    return account_admin_client(
        portal, monkeypatch, account_id=PIYO, service="iam", session_name="piyo-admin"
    )


def click_on_the_arrow(page: Page, arrow_selector: str) -> None:
    """A real mouse click on the arrow's stroke, a third of the way along (not its label)."""
    arrow = page.locator(arrow_selector).locator("path").first
    arrow.scroll_into_view_if_needed()
    x, y = arrow.evaluate(
        """path => {
            const point = path.getPointAtLength(path.getTotalLength() / 3);
            const m = path.getScreenCTM();
            return [point.x * m.a + point.y * m.c + m.e, point.x * m.b + point.y * m.d + m.f];
        }"""
    )
    page.mouse.click(x, y)


def test_a_broken_grant_turns_its_arrow_red_and_the_arrow_lists_it(
    page: Page, running_portal: RunningPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_in(page, running_portal)
    expect(page.get_by_test_id("access-map-empty")).to_be_visible()
    create_grant(page, running_portal, "piyo-map")
    page.get_by_role("button", name="Test access").click()
    expect(page.get_by_test_id("verification-outcome")).to_contain_text("Test access passed")

    arrow = f'a.xmap-edge[data-trusted="{HOGE}"][data-trusting="{PIYO}"]'
    page.goto(running_portal.url + "/")
    expect(page.locator(arrow)).to_have_attribute("data-health", "passing")

    # Outside the portal, piyo's administrator detaches the role's permission policy.
    piyo_admin_iam(running_portal, monkeypatch).detach_role_policy(
        RoleName="piyo-map", PolicyArn=SQS_FULL_ACCESS
    )
    page.locator("#nav").get_by_role("link", name="Grants").click()
    page.get_by_role("link", name="piyo-map").first.click()
    page.get_by_role("button", name="Test access").click()
    expect(page.get_by_test_id("verification-outcome")).to_contain_text("Test access failed")
    expect(page.get_by_test_id("grant-status")).to_have_text("Failing verification")

    page.goto(running_portal.url + "/")
    expect(page.locator(arrow)).to_have_attribute("data-health", "failing")
    stroke = page.locator(arrow).locator("path").first
    expect(stroke).to_have_attribute("stroke", "#b02a37")
    assert (
        page.locator(arrow).evaluate("a => getComputedStyle(a.querySelector('path')).stroke")
        == "rgb(176, 42, 55)"
    )  # drawn red, not only labelled so
    expect(page.get_by_test_id("access-map-legend")).to_contain_text("failing: 1")
    assert axe_serious_violations(page) == []

    click_on_the_arrow(page, arrow)
    page.wait_for_url("**/grants/?trusting=*&trusted=444455556666")
    expect(page.get_by_test_id("map-filter")).to_contain_text(
        "live grants from hoge (444455556666) to piyo (111122223333)"
    )
    rows = page.get_by_test_id("grant-table").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("piyo-map")
    expect(rows.first).to_contain_text("Failing verification")

    # The grant page shows the pass and the failure as its history strip.
    rows.first.get_by_role("link", name="piyo-map").click()
    strip = page.get_by_test_id("verification-strip").locator("li")
    expect(strip).to_have_count(2)
    expect(strip.nth(0)).to_have_attribute("data-outcome", "passed_grantee")
    expect(strip.nth(1)).to_have_attribute("data-outcome", "failed")
    assert page.console_errors == []  # type: ignore[attr-defined]
