"""In Chromium: the README's screenshots, made from the running sandbox portal.

`XACCT_UPDATE_SCREENSHOTS=1` writes them to docs/screenshots/ (commit them); otherwise they go
to a temporary folder, so a CI run never changes the work tree, and are only checked.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from .conftest import BASE_DIR, RunningPortal, log_in
from .test_test_access_browser import create_grant, delete_user_policy

pytestmark = pytest.mark.browser

VIEWPORT = {"width": 1366, "height": 768}
SCREENSHOTS = ("dashboard", "wizard-review", "test-access-failed", "grants-list")


def png_facts(path: Path) -> tuple[int, int, int]:
    """Width and height in pixels, and how many distinct byte values the pixel rows hold.

    In: a PNG file written by Chromium (8-bit RGB or RGBA, not interlaced). Raises
    AssertionError when the file is not such a PNG (signature, IHDR, IDAT from the PNG spec).
    """
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    offset, idat, width, height = 8, b"", 0, 0
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        body = data[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        offset += 12 + length
    rows = zlib.decompress(idat)
    assert len(rows) == height * (1 + width * channels), "truncated pixel data"
    return width, height, len(set(rows))


def target_folder(tmp_path: Path) -> Path:
    if os.environ.get("XACCT_UPDATE_SCREENSHOTS") == "1":
        return BASE_DIR / "docs" / "screenshots"
    return tmp_path


def shoot(page: Page, folder: Path, name: str) -> None:
    page.wait_for_load_state("networkidle")
    page.screenshot(path=folder / f"{name}.png", animations="disabled", caret="hide")


def test_the_readme_screenshots_show_the_main_journey(
    browser: Browser,
    running_portal: RunningPortal,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = target_folder(tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(20_000)
    log_in(page, running_portal)

    create_grant(page, running_portal, "piyo-sqs-for-hoge")
    page.get_by_role("button", name="Test access").click()
    expect(page.get_by_test_id("verification-outcome")).to_contain_text(
        "Test access passed", timeout=30_000
    )
    create_grant(page, running_portal, "piyo-orders-reader")
    delete_user_policy(running_portal, "xacct-assume-piyo-orders-reader", monkeypatch)
    page.get_by_role("button", name="Test access").click()
    expect(page.get_by_test_id("verification-outcome")).to_contain_text(
        "Test access failed", timeout=30_000
    )
    page.locator('[data-step="assume"]').scroll_into_view_if_needed()
    page.get_by_role("heading", name="Test access", exact=True).evaluate(
        "h => window.scrollTo(0, h.getBoundingClientRect().top + window.scrollY - 8)"
    )
    shoot(page, folder, "test-access-failed")

    page.goto(running_portal.url + "/")
    shoot(page, folder, "dashboard")
    page.goto(running_portal.url + "/grants/")
    expect(page.get_by_test_id("grant-table")).to_contain_text("piyo-orders-reader")
    shoot(page, folder, "grants-list")

    page.goto(running_portal.url + "/grants/new/")
    page.get_by_label("Trusting account").select_option(label="piyo (111122223333)")
    page.get_by_label("Role name").fill("piyo-queues-for-hoge")
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Trusted account", exact=True).select_option(label="hoge (444455556666)")
    page.get_by_role("button", name="Next").click()
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Grantee IAM user").select_option("hoge-app")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_test_id("wizard-step")).to_have_text("Review")
    shoot(page, folder, "wizard-review")
    context.close()

    for name in SCREENSHOTS:
        width, height, distinct = png_facts(folder / f"{name}.png")
        assert (width, height) == (VIEWPORT["width"], VIEWPORT["height"]), name
        # A blank or single-colour page has a handful of byte values; a rendered page hundreds.
        assert distinct > 100, (name, distinct)
        assert (folder / f"{name}.png").stat().st_size > 20_000, name


def test_the_readme_shows_the_committed_screenshots() -> None:
    readme = (BASE_DIR / "README.md").read_text()
    for name in SCREENSHOTS:
        committed = BASE_DIR / "docs" / "screenshots" / f"{name}.png"
        assert f"](docs/screenshots/{name}.png)" in readme, name
        width, height, distinct = png_facts(committed)
        assert (width, height) == (VIEWPORT["width"], VIEWPORT["height"]), name
        assert distinct > 100, (name, distinct)
