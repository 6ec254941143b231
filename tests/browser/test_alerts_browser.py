"""In Chromium, on the sandbox: a grant breaks, Test access fails, the alert mail arrives."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page, expect

from .conftest import RunningPortal, account_admin_client, axe_serious_violations, log_in
from .test_test_access_browser import create_grant

pytestmark = pytest.mark.browser

SQS_FULL = "arn:aws:iam::aws:policy/AmazonSQSFullAccess"


def detach_role_permissions(portal: RunningPortal, role_name: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Outside the portal: piyo's administrator detaches the role's SQS permissions."""
    iam = account_admin_client(
        portal, monkeypatch, account_id="111122223333", service="iam", session_name="piyo-admin"
    )
    iam.detach_role_policy(RoleName=role_name, PolicyArn=SQS_FULL)


def wait_for_mail(page: Page, portal: RunningPortal, subject: str, count: int) -> None:
    """Reload the Mail page until `count` messages with `subject` are listed (the
    sandbox's db_worker sends them after Test access has answered)."""
    deadline = time.monotonic() + 60
    while True:
        page.goto(portal.url + "/sandbox/mail/")
        if page.get_by_role("link", name=subject).count() >= count:
            return
        assert time.monotonic() < deadline, page.content()
        time.sleep(1)


def test_a_broken_grant_shows_up_as_an_alert_mail_on_the_mail_page(
    page: Page, running_portal: RunningPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_in(page, running_portal)

    # The administrator subscribes to failures of every grant on the settings page.
    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_test_id("no-subscriptions")).to_be_visible()
    assert axe_serious_violations(page) == []
    page.get_by_label("All grants").check()
    page.get_by_label("Failures only").check()
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_test_id("subscriptions")).to_contain_text("All grants")
    expect(page.get_by_test_id("subscriptions")).to_contain_text("failures only")

    create_grant(page, running_portal, "piyo-alerted")
    page.get_by_role("button", name="Test access").click()
    expect(page.get_by_test_id("verification-outcome")).to_contain_text("Test access passed")

    detach_role_permissions(running_portal, "piyo-alerted", monkeypatch)
    page.get_by_role("button", name="Test access").click()
    expect(page.get_by_test_id("verification-outcome")).to_contain_text("Test access failed")
    # A second failure is no news: still one alert.
    page.get_by_role("button", name="Test access").click()
    expect(page.get_by_test_id("verification-outcome")).to_contain_text("Test access failed")

    subject = "[xacct] Grant started failing: piyo-alerted (piyo ← hoge)"
    page.get_by_role("link", name="Mail").click()
    wait_for_mail(page, running_portal, subject, 3)  # piyo's owner, hoge's owner, admin
    table = page.get_by_test_id("mail-table")
    for address in ("admin@example.com", "piyo@example.com", "hoge@example.com"):
        expect(table).to_contain_text(address)
    expect(page.get_by_role("link", name=subject)).to_have_count(3)
    assert axe_serious_violations(page) == []

    page.get_by_role("link", name=subject).first.click()
    text = page.get_by_test_id("mail-text")
    expect(text).to_contain_text("Failing step:")
    expect(text).to_contain_text("Fix:")
    expect(text).to_contain_text(f"{running_portal.url}/grants/")
    expect(
        page.frame_locator("iframe").get_by_role("heading", name="Grant started failing")
    ).to_be_visible()
    assert axe_serious_violations(page) == []

    page.get_by_role("link", name="Alerts").click()
    expect(page.get_by_role("heading", name="Alerts")).to_be_visible()
    row = page.get_by_test_id("alert-table").locator("tbody tr").first
    expect(row).to_contain_text("Grant started failing")
    expect(row).to_contain_text("3 addresses, including you")  # others' addresses not shown
    expect(page.get_by_test_id("alert-table").locator("tbody tr")).to_have_count(1)
    assert axe_serious_violations(page) == []

    # The same pages on a phone.
    message_url = page.url
    page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/alerts/", "/settings/alerts/", "/sandbox/mail/"):
        page.goto(running_portal.url + path)
        assert axe_serious_violations(page) == [], path
    page.goto(message_url)
    assert axe_serious_violations(page) == []
    assert page.console_errors == []  # type: ignore[attr-defined]
