"""In Chromium: create a grant through the wizard, then use it outside the portal."""

from __future__ import annotations

import json
import re
from urllib.parse import unquote

import boto3
import pytest
from playwright.sync_api import Browser, Page, expect

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
    expect(page.get_by_label("orders-dlq")).to_be_hidden()  # only for "Specific queues"
    page.get_by_label("Specific queues (least-privilege inline policy)").check()
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


def sandbox_boto3(portal: RunningPortal, account_id: str) -> boto3.Session:
    """Plain boto3 in a sandbox account, as the portal's identity through its hub role."""
    config = portal.state_dir / "aws" / "config"
    endpoint = re.search(r"endpoint_url = (\S+)", config.read_text()).group(1)  # type: ignore[union-attr]
    management = boto3.session.Session(profile_name="xacct-portal")
    credentials = management.client("sts", endpoint_url=endpoint).assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole",
        RoleSessionName="browser-test",
    )["Credentials"]
    session = boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name="ap-northeast-1",
    )
    session.endpoint = endpoint  # type: ignore[attr-defined]
    return session


def walk_to_permissions(page: Page, portal: RunningPortal, role_name: str) -> None:
    page.goto(portal.url + "/grants/new/")
    page.get_by_label("Trusting account").select_option(label="piyo (111122223333)")
    page.get_by_label("Role name").fill(role_name)
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Trusted account", exact=True).select_option(label="hoge (444455556666)")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_test_id("wizard-step")).to_have_text("Permissions")


def test_the_generated_external_id_copied_from_the_review_is_the_one_in_aws_and_on_the_grant(
    page: Page, running_portal: RunningPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_in(page, running_portal)
    page.goto(running_portal.url + "/grants/new/")
    page.get_by_label("Trusting account").select_option(label="piyo (111122223333)")
    page.get_by_label("Role name").fill("piyo-external-id")
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Trusted account", exact=True).select_option(label="hoge (444455556666)")
    page.get_by_label("Generate a random, unique external ID").check()
    page.get_by_role("button", name="Next").click()
    page.get_by_label("SQS full access (AmazonSQSFullAccess)").check()
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Grantee IAM user").select_option("hoge-app")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_test_id("wizard-step")).to_have_text("Review")
    copied = page.get_by_test_id("review-external-id").inner_text()
    assert copied.startswith("xacct-")

    # Back and Next (every step revalidated), and a second look at the review: one value.
    page.get_by_role("button", name="Back").click()
    expect(page.get_by_test_id("wizard-step")).to_have_text("Grantee")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_test_id("review-external-id")).to_have_text(copied)
    for _ in range(2):
        page.get_by_role("button", name="Back").click()
    expect(page.get_by_test_id("wizard-step")).to_have_text("Permissions")
    page.get_by_role("button", name="Back").click()
    expect(page.get_by_test_id("wizard-step")).to_have_text("Trusted party")
    expect(page.get_by_text(f"This wizard run's value: {copied}")).to_be_visible()
    for step in ("Permissions", "Grantee", "Review"):
        page.get_by_role("button", name="Next").click()
        expect(page.get_by_test_id("wizard-step")).to_have_text(step)
    expect(page.get_by_test_id("review-external-id")).to_have_text(copied)

    page.get_by_role("button", name="Create grant").click()
    expect(page.get_by_test_id("grant-status")).to_have_text("Active", timeout=30_000)
    expect(page.locator("dd code", has_text=copied)).to_be_visible()

    monkeypatch.setenv("AWS_CONFIG_FILE", str(running_portal.state_dir / "aws" / "config"))
    monkeypatch.setenv(
        "AWS_SHARED_CREDENTIALS_FILE", str(running_portal.state_dir / "aws" / "credentials")
    )
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    piyo = sandbox_boto3(running_portal, "111122223333")
    role = piyo.client("iam", endpoint_url=piyo.endpoint).get_role(RoleName="piyo-external-id")  # type: ignore[attr-defined]
    trust = role["Role"]["AssumeRolePolicyDocument"]
    if isinstance(trust, str):
        trust = json.loads(unquote(trust))
    in_aws = trust["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"]
    assert in_aws == copied


def test_the_permissions_step_reveals_only_the_chosen_options_fields_with_javascript(
    page: Page, running_portal: RunningPortal
) -> None:
    log_in(page, running_portal)
    walk_to_permissions(page, running_portal, "piyo-reveal-js")
    arns = page.get_by_label("Managed policy ARNs", exact=True)
    expect(arns).to_be_hidden()
    expect(page.get_by_label("orders-dlq")).to_be_hidden()
    expect(page.get_by_role("button", name="Show the fields for this choice")).to_be_hidden()
    page.get_by_label("Custom managed policy ARNs").check()
    expect(arns).to_be_visible()
    page.get_by_label("Specific queues (least-privilege inline policy)").check()
    expect(arns).to_be_hidden()
    expect(page.get_by_label("orders-dlq")).to_be_visible()
    # Typed input stays in sight when another option is chosen, and the step asks about it.
    page.get_by_label("Custom managed policy ARNs").check()
    arns.fill("arn:aws:iam::aws:policy/AdministratorAccess")
    page.get_by_label("SQS read-only (AmazonSQSReadOnlyAccess)").check()
    expect(arns).to_be_visible()
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_test_id("wizard-step")).to_have_text("Permissions")
    expect(page.locator(".invalid-feedback")).to_contain_text(
        "Managed policy ARNs is filled in, but it is used only with"
    )
    expect(arns).to_have_value("arn:aws:iam::aws:policy/AdministratorAccess")
    assert page.console_errors == []  # type: ignore[attr-defined]


def test_the_wizard_reveals_fields_without_javascript_by_a_server_round_trip(
    browser: Browser, running_portal: RunningPortal
) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        log_in(page, running_portal)
        page.goto(running_portal.url + "/grants/new/")
        page.get_by_label("Trusting account").select_option(label="piyo (111122223333)")
        page.get_by_label("Role name").fill("piyo-reveal-nojs")
        page.get_by_role("button", name="Next").click()
        expect(page.get_by_label("Trusted principal ARN")).to_be_hidden()
        page.get_by_label("Trusted account", exact=True).select_option(label="hoge (444455556666)")
        page.get_by_label("One IAM user or role there").check()
        show = "Show the fields for this choice"
        page.get_by_test_id("field-trust_scope").get_by_role("button", name=show).click()
        expect(page.get_by_test_id("wizard-step")).to_have_text("Trusted party")
        expect(page.get_by_label("Trusted principal ARN")).to_be_visible()
        expect(page.get_by_test_id("field-org_condition")).to_be_hidden()  # whole account only
        expect(page.get_by_label("Trusted account", exact=True)).to_have_value(re.compile(r"\d+"))
        page.get_by_label("The whole trusted account").check()
        page.get_by_test_id("field-trust_scope").get_by_role("button", name=show).click()
        # The organization condition's own fields, one round trip further down.
        org_id = page.get_by_label("Organization ID")
        expect(org_id).to_be_hidden()
        page.get_by_label("Also inside my organization (aws:PrincipalOrgID)").check()
        page.get_by_test_id("field-org_condition").get_by_role("button", name=show).click()
        expect(org_id).to_be_visible()
        expect(org_id).to_have_value(re.compile(r"^o-[a-z0-9]{10,32}$"))  # piyo's organization
        page.get_by_label("None", exact=True).check()
        page.get_by_role("button", name="Next").click()

        arns = page.get_by_label("Managed policy ARNs", exact=True)
        expect(arns).to_be_hidden()
        page.get_by_label("Custom managed policy ARNs").check()
        page.get_by_role("button", name="Show the fields for this choice").click()
        expect(arns).to_be_visible()
        arns.fill("arn:aws:iam::aws:policy/AdministratorAccess")
        page.get_by_label("SQS read-only (AmazonSQSReadOnlyAccess)").check()
        page.get_by_label("Region").press("Enter")  # implicit submission: the first button, Next
        expect(page.get_by_test_id("wizard-step")).to_have_text("Permissions")
        expect(page.locator(".invalid-feedback")).to_contain_text(
            "Managed policy ARNs is filled in, but it is used only with"
        )
        expect(arns).to_have_value("arn:aws:iam::aws:policy/AdministratorAccess")
    finally:
        context.close()
