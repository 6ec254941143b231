"""The hand-off kit: every queue listed, the sandbox endpoint carried, the MFA serial read from
IAM (or its absence said plainly), and the kit's programs run unmodified against the sandbox."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from grants import aws, handoff
from grants.aws import sandbox
from grants.models import GrantStatus, PermissionSet

from .test_services_grants import ROLE, draft, inject_failure, provisioned

pytestmark = pytest.mark.django_db

QUEUES = 1005
# The sandbox_server fixture loads no AWS managed policies: an inline policy grants ListQueues.
INLINE = {
    "permission_set": PermissionSet.QUEUES,
    "queue_names": ["orders"],
    "queue_actions": ["sqs:GetQueueUrl"],
    "allow_list_queues": True,
}


def kit_block(body: str, testid: str, tag: str = "pre") -> str:
    """The text of the kit's <pre data-testid=...> on the grant page, as a user copies it."""
    found = re.search(rf'data-testid="{testid}">(.*?)</{tag}>', body, re.S)
    assert found, f"no {testid} on the page"
    return html.unescape(found.group(1))


def fill_piyo_with_queues(piyo, total: int) -> None:  # type: ignore[no-untyped-def]
    """Create queues in piyo's region until it holds `total` (the seed made three)."""
    sqs = aws.gateway().client(piyo.access(), "sqs", sandbox.REGION)
    names = [f"bulk-{n:04d}" for n in range(total - len(sandbox.PIYO_QUEUES))]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda name: sqs.create_queue(QueueName=name), names))


def grantee_env(box) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """An environment with only the sandbox's AWS files: what a grantee's machine holds."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AWS_") and k not in ("DJANGO_SETTINGS_MODULE",)
    }
    env["AWS_CONFIG_FILE"] = str(box.config_path)
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(box.credentials_path)
    return env


def test_the_kits_programs_list_all_1005_queues_in_the_sandbox_unmodified(
    sandbox_server, user_client, piyo, hoge, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    fill_piyo_with_queues(piyo, QUEUES)
    grant = provisioned(draft(piyo, hoge, external_id="xacct-kit-1", **INLINE))
    assert grant.status == GrantStatus.ACTIVE
    body = user_client.get(grant.get_absolute_url()).content.decode()
    snippet = kit_block(body, "kit-boto3")
    profile = kit_block(body, "kit-cli")
    assert f"endpoint_url = {sandbox_server.endpoint_url}" in profile
    assert f'ENDPOINT_URL = "{sandbox_server.endpoint_url}"' in snippet

    program = tmp_path / "kit.py"
    program.write_text(snippet)
    env = grantee_env(sandbox_server)
    run = subprocess.run(
        [sys.executable, str(program)], env=env, capture_output=True, text=True, timeout=120
    )
    urls = run.stdout.split()
    assert run.returncode == 0, run.stderr
    assert len(urls) == QUEUES, run.stdout[-2000:]
    assert len(set(urls)) == QUEUES
    assert all(f"/{sandbox.PIYO.account_id}/" in url for url in urls)

    # The AWS CLI (awscli from PyPI) with the kit's profile added to the sandbox's config file.
    config = tmp_path / "config"
    config.write_text(sandbox_server.config_path.read_text() + "\n" + profile)
    env["AWS_CONFIG_FILE"] = str(config)
    env["HOME"] = str(tmp_path)  # the CLI caches assumed-role credentials in ~/.aws/cli/cache
    cli = shutil.which("aws", path=str(Path(sys.executable).parent))
    assert cli, "awscli is a dev dependency"
    command = kit_block(body, "kit-cli-command", "code").split()
    assert command[:3] == ["aws", "sqs", "list-queues"]
    assert "--page-size" in command
    assert command[-2:] == ["--endpoint-url", sandbox_server.endpoint_url]
    run = subprocess.run(
        [cli, *command[1:], "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert len(json.loads(run.stdout)["QueueUrls"]) == QUEUES


def test_the_kits_boto3_snippet_prints_every_error_detail_when_access_is_denied(
    sandbox_server, user_client, piyo, hoge, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    grant = provisioned(draft(piyo, hoge, **INLINE))
    assert grant.status == GrantStatus.ACTIVE
    aws.grantee_policy_delete(
        hoge.access(),
        grantee_type="user",
        grantee_name=sandbox.GRANTEE_USER,
        policy_name=grant.user_policy_name,
    )
    body = user_client.get(grant.get_absolute_url()).content.decode()
    program = tmp_path / "kit.py"
    program.write_text(kit_block(body, "kit-boto3"))
    run = subprocess.run(
        [sys.executable, str(program)],
        env=grantee_env(sandbox_server),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "AWS Error Code:   AccessDenied" in run.stdout, run.stdout + run.stderr
    assert "HTTP Status Code: 403" in run.stdout


# --- MFA: read from IAM, never guessed ---------------------------------------------------


def add_mfa_device(hoge, name: str = "hoge-app-phone") -> str:  # type: ignore[no-untyped-def]
    iam = aws.gateway().client(hoge.access(), "iam")
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=name)["VirtualMFADevice"][
        "SerialNumber"
    ]
    iam.enable_mfa_device(
        UserName=sandbox.GRANTEE_USER,
        SerialNumber=serial,
        AuthenticationCode1="123456",
        AuthenticationCode2="654321",
    )
    return serial


def test_the_mfa_serial_is_the_grantees_device_read_from_iam(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    serial = add_mfa_device(hoge)
    kit = handoff.handoff_kit(grant=draft(piyo, hoge, require_mfa=True))
    assert serial == f"arn:aws:iam::{hoge.account_id}:mfa/hoge-app-phone"
    assert kit.mfa is not None and kit.mfa.serial == serial
    assert f"mfa_serial = {serial}\n" in kit.cli_profile
    assert f'SerialNumber="{serial}"' in kit.boto3
    compile(kit.boto3, "kit.py", "exec")


def test_a_grantee_without_an_mfa_device_is_told_plainly_and_no_serial_is_guessed(
    aws_world, user_client, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    grant = draft(piyo, hoge, require_mfa=True)
    grant.status = GrantStatus.ACTIVE
    grant.save()
    kit = handoff.handoff_kit(grant=grant)
    assert kit.mfa is not None and kit.mfa.serial == ""
    assert "hoge-app has no MFA device, and the role requires MFA" in kit.mfa.problem
    assert "mfa_serial = arn:" not in kit.cli_profile
    assert ":mfa/" not in kit.boto3
    assert "raise SystemExit(" in kit.boto3
    body = user_client.get(grant.get_absolute_url()).content.decode()
    assert "hoge-app has no MFA device, and the role requires MFA" in body
    assert ":mfa/hoge-app" not in body


def test_an_unreadable_mfa_device_list_is_said_with_the_aws_error(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    inject_failure("ListMFADevices", code="AccessDenied")
    kit = handoff.handoff_kit(grant=draft(piyo, hoge, require_mfa=True))
    assert kit.mfa is not None and kit.mfa.serial == ""
    assert "iam:ListMFADevices AccessDenied" in kit.mfa.problem
    assert "inj-1" in kit.mfa.problem
    assert "mfa_serial = arn:" not in kit.cli_profile


def test_an_external_grantees_mfa_device_is_asked_for_not_guessed(piyo) -> None:  # type: ignore[no-untyped-def]
    grant = draft(
        piyo, None, trusted_aws_account_id="999988887777", grantee_name="ext", require_mfa=True
    )
    kit = handoff.handoff_kit(grant=grant)  # no AWS: nothing to read in an external account
    assert kit.mfa is not None and "does not manage 999988887777" in kit.mfa.problem
    assert ":mfa/" not in kit.cli_profile + kit.boto3


def test_a_grant_without_mfa_makes_no_mfa_read(piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    # No AWS fixture: a ListMFADevices call here would fail to find credentials.
    kit = handoff.handoff_kit(grant=draft(piyo, hoge))
    assert kit.mfa is None
    assert "mfa" not in kit.cli_profile


# --- paging and the endpoint, in the text --------------------------------------------------


def test_the_kit_pages_through_every_queue(piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    kit = handoff.handoff_kit(grant=draft(piyo, hoge))
    assert kit.cli_command == f"aws sqs list-queues --profile {ROLE} --page-size 1000"
    assert ".paginate(MaxResults=1000)" in kit.boto3


def test_the_endpoint_is_carried_only_when_the_portal_has_one(piyo, hoge, settings) -> None:  # type: ignore[no-untyped-def]
    plain = handoff.handoff_kit(grant=draft(piyo, hoge))
    settings.AWS_ENDPOINT_URL = "http://127.0.0.1:5999"
    sandboxed = handoff.handoff_kit(grant=draft(piyo, hoge))
    assert "endpoint_url" not in plain.cli_profile and "ENDPOINT_URL" not in plain.boto3
    assert "endpoint_url = http://127.0.0.1:5999\n" in sandboxed.cli_profile
    assert sandboxed.boto3.count("endpoint_url=ENDPOINT_URL") == 2
    assert plain.cli_command.endswith("--page-size 1000")
    assert sandboxed.cli_command.endswith("--page-size 1000 --endpoint-url http://127.0.0.1:5999")
