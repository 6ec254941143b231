"""In Chromium: discovery results survive reload and Back; an import is completed;
discovery across all accounts runs on the worker, filters, and imports a confirmed batch."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from .conftest import RunningPortal, axe_serious_violations, log_in, portal_query
from .test_grant_wizard_browser import sandbox_boto3

pytestmark = pytest.mark.browser


def make_legacy_role(portal: RunningPortal, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Outside the portal: piyo's administrator makes a role trusting all of hoge."""
    monkeypatch.setenv("AWS_CONFIG_FILE", str(portal.state_dir / "aws" / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(portal.state_dir / "aws" / "credentials"))
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    piyo = sandbox_boto3(portal, "111122223333")
    piyo.client("iam", endpoint_url=piyo.endpoint).create_role(  # type: ignore[attr-defined]
        RoleName=name,
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )


def piyo_pk(portal: RunningPortal) -> int:
    rows = portal_query(
        portal, "SELECT id FROM grants_awsaccount WHERE account_id = '111122223333'"
    )
    return int(rows[0][0])


def test_discovery_reloads_and_back_shows_an_imported_role_as_a_grant(
    page: Page, running_portal: RunningPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_legacy_role(running_portal, monkeypatch, "legacy-browser")
    log_in(page, running_portal)
    page.goto(f"{running_portal.url}/accounts/{piyo_pk(running_portal)}/")
    page.get_by_role("button", name="Discover cross-account roles").click()
    row = page.locator('tr[data-role="legacy-browser"]')
    expect(row).to_contain_text("neither an external ID nor MFA")
    assert page.url.endswith("/discover/")

    page.reload()  # a GET: no resubmission, no 405
    expect(row).to_be_visible()
    expect(page.get_by_test_id("discovered-at")).to_contain_text("Read from AWS at")
    assert axe_serious_violations(page) == []

    row.get_by_role("button", name="Import as grant").click()
    expect(page.get_by_text("Next: name the grantee below")).to_be_visible()
    expect(page.get_by_test_id("permissions-summary")).to_contain_text("legacy-browser")

    page.go_back()
    expect(row).to_be_visible()
    expect(row.get_by_role("button", name="Import as grant")).to_have_count(0)
    expect(row.get_by_test_id("already-grant")).to_be_visible()
    assert page.console_errors == []  # type: ignore[attr-defined]


def test_an_imported_grant_is_completed_from_its_page(
    page: Page, running_portal: RunningPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_legacy_role(running_portal, monkeypatch, "legacy-complete")
    log_in(page, running_portal)
    page.goto(f"{running_portal.url}/accounts/{piyo_pk(running_portal)}/discover/")
    page.get_by_role("button", name="Discover").click()
    row = page.locator('tr[data-role="legacy-complete"]')
    row.get_by_role("button", name="Import as grant").click()

    form = page.get_by_test_id("grantee-completion")
    form.get_by_label("Grantee name").fill("nobody-here")
    form.get_by_role("button", name="Save the grantee").click()
    expect(page.get_by_test_id("completion-error")).to_contain_text(
        "There is no IAM user nobody-here in"
    )
    assert axe_serious_violations(page) == []

    form.get_by_label("Grantee name").fill("hoge-app")
    form.get_by_label("Grantee's local AWS profile (optional)").fill("hoge-app")
    form.get_by_role("button", name="Save the grantee").click()
    expect(page.get_by_text("IAM user hoge-app is the grantee.")).to_be_visible()
    expect(page.get_by_test_id("imported")).to_contain_text("Grantee: IAM user hoge-app")
    expect(page.get_by_test_id("complete-import")).to_have_text("Change the grantee")
    # The one refused form answers 400 (Chromium logs it); nothing else went wrong.
    errors = page.console_errors  # type: ignore[attr-defined]
    assert len(errors) == 1 and "status of 400" in errors[0], errors


def test_discovery_across_all_accounts_runs_on_the_worker_and_imports_a_batch(
    page: Page, running_portal_with_worker: RunningPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    portal = running_portal_with_worker
    make_legacy_role(portal, monkeypatch, "legacy-org")
    log_in(page, portal)
    page.locator("#nav").get_by_role("link", name="Discovery").click()
    page.get_by_role("button", name="Discover across all accounts").click()
    expect(page).to_have_url(re.compile(r"/discovery/\d+/$"))
    # The worker reads the accounts; htmx follows, then reloads the page with the results.
    expect(page.get_by_test_id("discovery-summary")).to_contain_text("Finished:", timeout=60_000)
    row = page.locator('tr[data-finding="legacy-org"]')
    expect(row).to_be_visible(timeout=20_000)
    expect(row.get_by_test_id("risk-level")).to_have_text("High")
    expect(row).to_contain_text("arn:aws:iam::444455556666:root")
    assert axe_serious_violations(page) == []

    page.get_by_label("Risk").select_option("high")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"risk=high"))
    expect(page.locator('tr[data-risk="low"]')).to_have_count(0)
    page.get_by_label("Select legacy-org in 111122223333").check()
    page.get_by_role("button", name="Import selected…").click()
    expect(page.get_by_role("heading", name="Import 1 role as grants?")).to_be_visible()
    assert axe_serious_violations(page) == []
    page.get_by_role("button", name="Import 1 role").click()
    expect(page.get_by_text("Imported 1 role as grants")).to_be_visible()
    expect(page).to_have_url(re.compile(r"risk=high"))
    expect(row.get_by_test_id("already-grant")).to_be_visible()
    assert page.console_errors == []  # type: ignore[attr-defined]
