"""In Chromium: create a grant through the wizard, then use it outside the portal."""

from __future__ import annotations

import re

import boto3
import pytest
from playwright.sync_api import Page, expect

from .conftest import RunningPortal, log_in

pytestmark = pytest.mark.browser


def grantee_session(portal: RunningPortal, monkeypatch: pytest.MonkeyPatch) -> boto3.Session:
    """hoge-app as any SDK sees it through the files `make run` printed."""
    monkeypatch.setenv("AWS_CONFIG_FILE", str(portal.state_dir / "aws" / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(portal.state_dir / "aws" / "credentials"))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    return boto3.session.Session(profile_name="hoge-app")


def test_a_grant_made_in_the_wizard_lets_hoge_app_list_piyos_queues(
    page: Page, running_portal: RunningPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_in(page, running_portal)
    page.get_by_role("link", name="Grants", exact=True).click()
    expect(page.get_by_text("No grants yet.")).to_be_visible()
    page.get_by_role("link", name="New grant").click()

    expect(page.get_by_test_id("wizard-step")).to_have_text("Trusting account and role")
    page.get_by_label("Trusting account").select_option(label="piyo (111122223333)")
    page.get_by_label("Role name").fill("Bad Name")
    page.get_by_role("button", name="Next").click()
    expect(page.locator(".invalid-feedback")).to_contain_text("Use 1–64 letters")
    page.get_by_label("Role name").fill("piyo-sqs-for-hoge")
    page.get_by_role("button", name="Next").click()

    expect(page.get_by_test_id("wizard-step")).to_have_text("Trusted party")
    page.get_by_label("Trusted account", exact=True).select_option(label="hoge (444455556666)")
    page.get_by_role("button", name="Next").click()

    expect(page.get_by_test_id("wizard-step")).to_have_text("Permissions")
    expect(page.get_by_label("orders-dlq")).to_be_visible()  # live queue list
    page.get_by_label("SQS full access (AmazonSQSFullAccess)").check()
    page.get_by_role("button", name="Next").click()

    expect(page.get_by_test_id("wizard-step")).to_have_text("Grantee")
    page.get_by_label("Grantee IAM user").select_option("hoge-app")
    page.get_by_role("button", name="Next").click()

    expect(page.get_by_test_id("wizard-step")).to_have_text("Review")
    expect(page.get_by_test_id("review-warning").first).to_contain_text("neither an external ID")
    expect(page.get_by_test_id("review-plan")).to_contain_text("iam:PutUserPolicy")
    page.get_by_role("button", name="Create grant").click()

    # The sandbox's db_worker provisions; the page follows the operation, then reloads.
    expect(page.get_by_test_id("operation-progress")).to_be_visible()
    expect(page.get_by_test_id("grant-status")).to_have_text("Active", timeout=30_000)
    role_arn = page.get_by_test_id("role-arn").inner_text()
    assert role_arn == "arn:aws:iam::111122223333:role/piyo-sqs-for-hoge"
    assert page.console_errors == []  # type: ignore[attr-defined]

    # Outside the portal: the seed's program, as hoge-app.
    session = grantee_session(running_portal, monkeypatch)
    credentials = session.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="demo")[
        "Credentials"
    ]
    endpoint = session.client("sts").meta.endpoint_url
    sqs = boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name="ap-northeast-1",
    ).client("sqs", endpoint_url=endpoint)
    names = sorted(url.rsplit("/", 1)[1] for url in sqs.list_queues()["QueueUrls"])
    assert names == ["notifications", "orders", "orders-dlq"]


def test_a_role_name_already_taken_is_refused_at_the_first_step(
    page: Page, running_portal: RunningPortal
) -> None:
    log_in(page, running_portal)
    page.goto(running_portal.url + "/grants/new/")
    page.get_by_label("Trusting account").select_option(label="piyo (111122223333)")
    page.get_by_label("Role name").fill("ORGANIZATIONACCOUNTACCESSROLE")
    page.get_by_role("button", name="Next").click()
    expect(page.locator(".invalid-feedback")).to_contain_text(
        re.compile("already has a role named OrganizationAccountAccessRole")
    )
