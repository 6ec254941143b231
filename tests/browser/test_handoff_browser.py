"""In Chromium: the hand-off kit copied from the grant page works, unmodified, in the sandbox."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .conftest import RunningPortal, account_admin_client, log_in

pytestmark = pytest.mark.browser

QUEUES = 1005
SEEDED = 3  # orders, notifications, orders-dlq


def grantee_env(portal: RunningPortal, home: Path) -> dict[str, str]:
    """Only the AWS files `make run` printed: what the grantee's machine holds."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_CONFIG_FILE"] = str(portal.state_dir / "aws" / "config")
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(portal.state_dir / "aws" / "credentials")
    env["HOME"] = str(home)  # the AWS CLI caches assumed-role credentials under ~/.aws/cli
    return env


def fill_piyo_with_queues(portal: RunningPortal, monkeypatch: pytest.MonkeyPatch) -> None:
    """Plain boto3, as the portal's identity through piyo's hub role: piyo gets 1,005 queues."""
    sqs = account_admin_client(
        portal, monkeypatch, account_id="111122223333", service="sqs", session_name="browser-test"
    )
    names = [f"bulk-{n:04d}" for n in range(QUEUES - SEEDED)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda name: sqs.create_queue(QueueName=name), names))


def test_the_kit_copied_from_the_page_lists_all_1005_queues_with_boto3_and_the_aws_cli(
    page: Page, running_portal: RunningPortal, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fill_piyo_with_queues(running_portal, monkeypatch)
    log_in(page, running_portal)
    page.goto(running_portal.url + "/grants/new/")
    page.get_by_label("Trusting account").select_option(label="piyo (111122223333)")
    page.get_by_label("Role name").fill("piyo-kit")
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Trusted account", exact=True).select_option(label="hoge (444455556666)")
    page.get_by_label("Generate a random, unique external ID").check()
    page.get_by_role("button", name="Next").click()
    page.get_by_label("SQS read-only (AmazonSQSReadOnlyAccess)").check()
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Grantee IAM user").select_option("hoge-app")
    page.get_by_role("button", name="Next").click()
    page.get_by_role("button", name="Create grant").click()
    expect(page.get_by_test_id("grant-status")).to_have_text("Active", timeout=30_000)

    expect(page.get_by_test_id("kit-endpoint")).to_contain_text("the embedded sandbox")
    snippet = page.get_by_test_id("kit-boto3").text_content() or ""
    profile = page.get_by_test_id("kit-cli").text_content() or ""
    command = (page.get_by_test_id("kit-cli-command").text_content() or "").split()
    assert "endpoint_url = http://127.0.0.1:" in profile
    assert "--page-size" in command and "--endpoint-url" in command

    program = tmp_path / "kit.py"
    program.write_text(snippet)
    env = grantee_env(running_portal, tmp_path)
    run = subprocess.run(
        [sys.executable, str(program)], env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    urls = run.stdout.split()
    assert len(set(urls)) == len(urls) == QUEUES, run.stdout[-2000:]

    # The CLI profile appended to the sandbox's config, then the kit's command, as printed.
    config = tmp_path / "config"
    config.write_text(Path(env["AWS_CONFIG_FILE"]).read_text() + "\n" + profile)
    env["AWS_CONFIG_FILE"] = str(config)
    cli = shutil.which("aws", path=str(Path(sys.executable).parent))
    assert cli, "awscli is a dev dependency"
    assert command[0] == "aws"
    run = subprocess.run(
        [cli, *command[1:], "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert len(json.loads(run.stdout)["QueueUrls"]) == QUEUES
    assert page.console_errors == []  # type: ignore[attr-defined]


def test_a_grant_requiring_mfa_says_plainly_that_hoge_app_has_no_mfa_device(
    page: Page, running_portal: RunningPortal
) -> None:
    log_in(page, running_portal)
    page.goto(running_portal.url + "/grants/new/")
    page.get_by_label("Trusting account").select_option(label="piyo (111122223333)")
    page.get_by_label("Role name").fill("piyo-kit-mfa")
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Trusted account", exact=True).select_option(label="hoge (444455556666)")
    page.get_by_label("Require MFA to assume the role").check()
    page.get_by_role("button", name="Next").click()
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Grantee IAM user").select_option("hoge-app")
    page.get_by_role("button", name="Next").click()
    page.get_by_role("button", name="Create grant").click()
    expect(page.get_by_test_id("grant-status")).to_have_text("Active", timeout=30_000)
    expect(page.get_by_test_id("kit-mfa")).to_contain_text(
        "hoge-app has no MFA device, and the role requires MFA"
    )
    profile = page.get_by_test_id("kit-cli").text_content() or ""
    assert "mfa_serial = arn:" not in profile
    assert ":mfa/" not in (page.get_by_test_id("kit-boto3").text_content() or "")
