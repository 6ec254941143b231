"""In Chromium: Test access lists queues, explains a removed user policy, names a Deny group."""

from __future__ import annotations

import json

import boto3
import pytest
from playwright.sync_api import Page, expect

from .conftest import RunningPortal, account_admin_client, log_in

pytestmark = pytest.mark.browser


def create_grant(page: Page, portal: RunningPortal, role_name: str) -> str:
    page.goto(portal.url + "/grants/new/")
    page.get_by_label("Trusting account").select_option(label="piyo (111122223333)")
    page.get_by_label("Role name").fill(role_name)
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Trusted account", exact=True).select_option(label="hoge (444455556666)")
    page.get_by_role("button", name="Next").click()
    page.get_by_role("button", name="Next").click()  # SQS full access in ap-northeast-1
    page.get_by_label("Grantee IAM user").select_option("hoge-app")
    page.get_by_label("Grantee's local AWS profile (optional)").fill("hoge-app")
    page.get_by_role("button", name="Next").click()
    page.get_by_role("button", name="Create grant").click()
    # Provisioning runs on the sandbox's db_worker; the page follows it, then reloads.
    expect(page.get_by_test_id("grant-status")).to_have_text("Active", timeout=30_000)
    return page.get_by_test_id("role-arn").inner_text()


def delete_user_policy(portal: RunningPortal, policy_name: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Outside the portal: hoge's administrator removes hoge-app's user policy."""
    iam = account_admin_client(
        portal, monkeypatch, account_id="444455556666", service="iam", session_name="hoge-admin"
    )
    iam.delete_user_policy(UserName="hoge-app", PolicyName=policy_name)


def test_test_access_lists_queues_then_explains_a_missing_user_policy(
    page: Page, running_portal: RunningPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_in(page, running_portal)
    create_grant(page, running_portal, "piyo-test-access")

    page.get_by_role("button", name="Test access").click()
    outcome = page.get_by_test_id("verification-outcome")
    expect(outcome).to_contain_text("Test access passed")
    expect(outcome).to_contain_text("The grantee (profile hoge-app)")
    queues = page.get_by_test_id("queue-urls")
    for name in ("orders", "notifications", "orders-dlq"):
        expect(queues).to_contain_text(f"/111122223333/{name}")

    delete_user_policy(running_portal, "xacct-assume-piyo-test-access", monkeypatch)

    page.get_by_role("button", name="Test access").click()
    expect(outcome).to_contain_text("Test access failed")
    expect(page.get_by_test_id("grant-status")).to_have_text("Failing verification")
    assume = page.locator('[data-step="assume"]')
    expect(assume).to_have_attribute("data-status", "fail")
    expect(assume.get_by_test_id("step-error")).to_contain_text("AccessDenied")
    expect(assume.get_by_test_id("step-error")).to_contain_text("403")
    expect(assume.get_by_test_id("explanation")).to_contain_text(
        "The user policy xacct-assume-piyo-test-access is missing."
    )
    expect(page.locator('[data-step="user_policy"]')).to_have_attribute("data-status", "fail")
    assert page.console_errors == []  # type: ignore[attr-defined]

    # The list shows the failing grant and tests it in place.
    page.locator("#nav").get_by_role("link", name="Grants").click()
    row = page.locator("tr", has_text="piyo-test-access")
    expect(row).to_contain_text("Failing verification")
    row.get_by_role("button", name="Test access").click()
    expect(page.locator("tr", has_text="piyo-test-access")).to_contain_text("is missing")


def hoge_admin_iam(portal: RunningPortal, monkeypatch):  # type: ignore[no-untyped-def]
    """Outside the portal: hoge's administrator, acting through hoge's hub role."""
    monkeypatch.setenv("AWS_CONFIG_FILE", str(portal.state_dir / "aws" / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(portal.state_dir / "aws" / "credentials"))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    portal_identity = boto3.session.Session(profile_name="xacct-portal")
    endpoint = portal_identity.client("sts").meta.endpoint_url
    credentials = portal_identity.client("sts").assume_role(
        RoleArn="arn:aws:iam::444455556666:role/OrganizationAccountAccessRole",
        RoleSessionName="hoge-admin",
    )["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name="ap-northeast-1",
    ).client("iam", endpoint_url=endpoint)


def test_a_grant_through_a_group_passes_then_a_deny_group_is_named(
    page: Page, running_portal: RunningPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_in(page, running_portal)
    role_arn = create_grant(page, running_portal, "piyo-via-group")
    iam = hoge_admin_iam(running_portal, monkeypatch)
    # hoge's administrator grants through a group, as most organizations do.
    iam.delete_user_policy(UserName="hoge-app", PolicyName="xacct-assume-piyo-via-group")
    iam.create_group(GroupName="queue-readers")
    iam.put_group_policy(
        GroupName="queue-readers",
        PolicyName="assume-piyo",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}
                ],
            }
        ),
    )
    iam.add_user_to_group(GroupName="queue-readers", UserName="hoge-app")

    page.get_by_role("button", name="Test access").click()
    outcome = page.get_by_test_id("verification-outcome")
    expect(outcome).to_contain_text("Test access passed as the grantee")
    expect(page.locator('[data-step="user_policy"]')).to_contain_text("of group queue-readers")

    iam.create_group(GroupName="no-cross-account")
    iam.put_group_policy(
        GroupName="no-cross-account",
        PolicyName="deny-assume",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "DenyAssume",
                        "Effect": "Deny",
                        "Action": "sts:AssumeRole",
                        "Resource": "arn:aws:iam::111122223333:role/*",
                    }
                ],
            }
        ),
    )
    iam.add_user_to_group(GroupName="no-cross-account", UserName="hoge-app")

    page.get_by_role("button", name="Test access").click()
    expect(outcome).to_contain_text("Test access failed")
    grantee_step = page.locator('[data-step="user_policy"]')
    expect(grantee_step).to_have_attribute("data-status", "fail")
    expect(grantee_step).to_contain_text(
        "An explicit Deny in the inline policy deny-assume of group no-cross-account"
    )
    assume = page.locator('[data-step="assume"]')
    expect(assume.get_by_test_id("step-error")).to_contain_text("AccessDenied")
    expect(assume.get_by_test_id("explanation")).to_contain_text("group no-cross-account")
    expect(page.get_by_test_id("grant-status")).to_have_text("Failing verification")
    assert page.console_errors == []  # type: ignore[attr-defined]
