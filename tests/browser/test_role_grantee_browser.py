"""In Chromium, on the sandbox's organization (issue 14): import its accounts, create a
role-to-role grant for hoge's application role hoge-app-role with "also inside my
organization" trust, and see Test access explain that the live test as that role needs its
credentials, while the kit gives the credential_source/role_arn chain."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .conftest import RunningPortal, axe_serious_violations, log_in
from .test_grant_wizard_browser import grantee_session, sandbox_boto3

pytestmark = pytest.mark.browser

APP_ROLE = "hoge-app-role"
ROLE = "piyo-sqs-for-app-role"


def import_organization(page: Page, portal: RunningPortal) -> None:
    """Register the organization's accounts the portal does not know yet, from the
    management account's Organization accounts page."""
    page.goto(portal.url + "/accounts/")
    page.get_by_test_id("account-table").get_by_role("link", name="management", exact=True).click()
    page.get_by_role("link", name="Organization accounts").click()
    whole_ou = page.get_by_label("Whole organizational unit")
    workloads = whole_ou.locator("option", has_text=re.compile(r"^Root/Workloads \("))
    whole_ou.select_option(workloads.get_attribute("value"))
    page.get_by_role("button", name="Register", exact=True).click()
    expect(page.locator(".alert-success")).to_contain_text("fuga (555566667777)")
    accounts = page.get_by_test_id("organization-accounts")
    expect(accounts.locator("tr", has_text="444455556666")).to_contain_text("registered as hoge")


def test_a_role_to_role_grant_in_the_organization_and_what_test_access_can_prove(
    page: Page, running_portal: RunningPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_in(page, running_portal)
    import_organization(page, running_portal)

    page.goto(running_portal.url + "/grants/new/")
    page.get_by_label("Trusting account").select_option(label="piyo (111122223333)")
    page.get_by_label("Role name").fill(ROLE)
    page.get_by_role("button", name="Next").click()

    expect(page.get_by_test_id("wizard-step")).to_have_text("Trusted party")
    page.get_by_label("Trusted account", exact=True).select_option(label="hoge (444455556666)")
    org_id = page.get_by_label("Organization ID")
    expect(org_id).to_be_hidden()  # only for "Also inside my organization"
    page.get_by_label("Also inside my organization (aws:PrincipalOrgID)").check()
    expect(org_id).to_be_visible()
    expect(org_id).to_have_value(re.compile(r"^o-[a-z0-9]{10,32}$"))  # piyo's organization
    organization = org_id.input_value()
    # No condition hides the prefilled ID again (a prefill is not input); choosing it back shows it.
    page.get_by_label("None", exact=True).check()
    expect(org_id).to_be_hidden()
    page.get_by_label("Also inside my organization (aws:PrincipalOrgID)").check()
    expect(org_id).to_have_value(organization)
    found = {"trust step with the organization condition": axe_serious_violations(page)}
    page.get_by_role("button", name="Next").click()

    expect(page.get_by_test_id("wizard-step")).to_have_text("Permissions")
    page.get_by_label("SQS full access (AmazonSQSFullAccess)").check()
    page.get_by_role("button", name="Next").click()

    expect(page.get_by_test_id("wizard-step")).to_have_text("Grantee")
    roles = page.get_by_label("Grantee IAM role")
    expect(roles).to_be_hidden()
    page.get_by_label("IAM role", exact=True).check()
    expect(roles).to_be_visible()
    option = roles.locator("option", has_text=APP_ROLE)
    expect(option).to_have_text(f"/{APP_ROLE} — trusted by ec2.amazonaws.com")
    expect(roles.locator("option", has_text="OrganizationAccountAccessRole")).to_have_count(0)
    roles.select_option(APP_ROLE)
    found["grantee step with a role"] = axe_serious_violations(page)
    page.get_by_role("button", name="Next").click()

    expect(page.get_by_test_id("wizard-step")).to_have_text("Review")
    expect(page.get_by_test_id("trust-org-condition")).to_contain_text(
        f"member of organization {organization}"
    )
    expect(page.get_by_test_id("review-grantee")).to_contain_text(f"IAM role {APP_ROLE}")
    expect(page.get_by_test_id("review-plan")).to_contain_text(
        f"iam:PutRolePolicy xacct-assume-{ROLE} on role {APP_ROLE}"
    )
    found["review"] = axe_serious_violations(page)
    page.get_by_role("button", name="Create grant").click()
    expect(page.get_by_test_id("grant-status")).to_have_text("Active", timeout=30_000)

    # The sts:AssumeRole policy is on hoge-app-role in AWS (read with plain boto3).
    grantee_session(running_portal, monkeypatch)  # the sandbox's AWS files, as `make run` wrote
    hoge = sandbox_boto3(running_portal, "444455556666")
    iam = hoge.client("iam", endpoint_url=hoge.endpoint)  # type: ignore[attr-defined]
    document = iam.get_role_policy(RoleName=APP_ROLE, PolicyName=f"xacct-assume-{ROLE}")[
        "PolicyDocument"
    ]
    assert document["Statement"][0]["Resource"] == f"arn:aws:iam::111122223333:role/{ROLE}"

    # The grant page explains the trust and gives the chain for a role on EC2.
    expect(page.get_by_test_id("trust-org-condition")).to_contain_text(organization)
    expect(page.get_by_test_id("kit-chaining")).to_contain_text("at most 3600")
    expect(page.get_by_test_id("kit-cli")).to_contain_text(
        "credential_source = Ec2InstanceMetadata"
    )

    found["grant page with the chain"] = axe_serious_violations(page)
    assert {name: v for name, v in found.items() if v} == {}

    # Test access runs as the portal and says the role itself needs its credentials.
    page.get_by_role("button", name="Test access").click()
    outcome = page.get_by_test_id("verification-outcome")
    expect(outcome).to_contain_text("needs a grantee profile holding its credentials")
    expect(page.get_by_test_id("verification-steps")).to_contain_text(
        f"Test access cannot run live as the role {APP_ROLE}"
    )
    assert page.console_errors == []  # type: ignore[attr-defined]
