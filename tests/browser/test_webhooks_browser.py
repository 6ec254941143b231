"""In Chromium, on the sandbox with its db_worker: add a webhook, copy its secret once,
send a test event that the worker POSTs to a receiver on 127.0.0.1, read the log."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest
from playwright.sync_api import Browser, Page, expect

from ..webhook_receiver import receiver_fixture  # noqa: F401  (the receiver fixture)
from .conftest import RunningPortal, axe_serious_violations, log_in

pytestmark = pytest.mark.browser

VIEWPORTS = [{"width": 1366, "height": 768}, {"width": 390, "height": 844}]


def no_serious_axe_violations(browser: Browser, portal: RunningPortal, url: str) -> None:
    for viewport in VIEWPORTS:
        page = browser.new_context(viewport=viewport).new_page()
        log_in(page, portal)
        page.goto(url)
        assert axe_serious_violations(page) == [], (url, viewport)
        page.context.close()


def test_an_account_manager_adds_a_webhook_and_the_worker_delivers_a_signed_test_event(
    page: Page, browser: Browser, running_portal_with_worker: RunningPortal, receiver
) -> None:  # type: ignore[no-untyped-def]
    portal = running_portal_with_worker
    log_in(page, portal)
    page.goto(portal.url + "/accounts/")
    page.get_by_role("link", name="Webhooks").click()
    expect(page.get_by_test_id("webhook-empty")).to_be_visible()
    no_serious_axe_violations(browser, portal, page.url)

    page.get_by_role("link", name="Add webhook").click()
    page.get_by_label("Name").fill("ops-chat")
    page.get_by_label("URL").fill(receiver.url)
    expect(page.get_by_label("xacct JSON (documented schema)")).to_be_checked()
    expect(page.get_by_label("Active (an inactive webhook receives nothing)")).to_be_checked()
    page.get_by_role("button", name="Add webhook").click()

    expect(page.get_by_role("heading", name="Webhook ops-chat added")).to_be_visible()
    secret = page.get_by_test_id("webhook-secret").inner_text().strip()
    assert len(secret) >= 43
    expect(page.get_by_role("button", name="Copy")).to_be_visible()  # JavaScript revealed it
    assert axe_serious_violations(page) == []
    page.get_by_role("link", name="I have copied it").click()

    detail = page.url
    assert secret not in page.content()
    expect(page.get_by_test_id("delivery-empty")).to_be_visible()
    page.get_by_role("button", name="Send test event").click()
    expect(page.get_by_role("alert")).to_contain_text("Test event queued for ops-chat")

    deadline = time.monotonic() + 30
    while "Delivered" not in page.get_by_test_id("delivery-log").inner_text():
        assert time.monotonic() < deadline, "the worker did not deliver within 30 s"
        time.sleep(0.5)
        page.reload()
    assert secret not in page.content()
    [request] = receiver.requests
    timestamp = request.headers["x-xacct-timestamp"]
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256)
    assert request.headers["x-xacct-signature"] == f"sha256={expected.hexdigest()}"

    for url in (detail, detail + "edit/", detail + "delete/"):
        no_serious_axe_violations(browser, portal, url)
        page.goto(url)
        assert secret not in page.content()

    page.goto(detail + "delete/")
    page.get_by_role("button", name="Delete webhook").click()
    expect(page.get_by_role("alert")).to_contain_text("Deleted webhook ops-chat")
    expect(page.get_by_test_id("webhook-empty")).to_be_visible()
