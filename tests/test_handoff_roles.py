"""The hand-off kit for a role grantee: the credential_source/role_arn chain chosen by the
service that runs the role, role chaining's one-hour cap, and a snippet that runs unmodified
with the role's own credentials in the environment (against the sandbox)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from grants import aws, handoff
from grants.aws import sandbox
from grants.models import GrantStatus

from .test_handoff import INLINE, grantee_env, kit_block
from .test_services_grants import draft, provisioned

pytestmark = pytest.mark.django_db

APP_ROLE = "hoge-app-role"


def make_role(  # type: ignore[no-untyped-def]
    account, name: str = APP_ROLE, service: str = "ec2.amazonaws.com", portal_too: bool = False
) -> None:
    """A role in `account` trusted by `service` (and by the portal's identity there with
    `portal_too`), replacing any role of that name."""
    iam = aws.gateway().client(account.access(), "iam")
    if aws.role_get(account.access(), name) is not None:
        for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            iam.delete_role_policy(RoleName=name, PolicyName=policy)
        iam.delete_role(RoleName=name)
    principal: dict[str, Any] = {"Service": service}
    if portal_too:
        # moto checks a same-account AssumeRole's trust by the caller's exact ARN.
        principal["AWS"] = aws.caller_identity(account.access()).arn
    iam.create_role(
        RoleName=name,
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )


def role_grant(piyo, hoge, **overrides: Any):  # type: ignore[no-untyped-def]
    return draft(piyo, hoge, **{"grantee_type": "role", "grantee_name": APP_ROLE, **overrides})


@pytest.mark.parametrize(
    ("service", "source"),
    [
        ("ec2.amazonaws.com", "Ec2InstanceMetadata"),
        ("ecs-tasks.amazonaws.com", "EcsContainer"),
        ("lambda.amazonaws.com", "Environment"),
    ],
)
def test_the_profile_takes_the_roles_credentials_from_the_service_that_runs_it(
    aws_world, piyo, hoge, service: str, source: str
) -> None:  # type: ignore[no-untyped-def]
    make_role(hoge, service=service)
    grant = role_grant(piyo, hoge)
    kit = handoff.handoff_kit(grant=grant)
    assert kit.role_source == handoff.RoleSource(services=(service,), credential_source=source)
    lines = kit.cli_profile.splitlines()
    assert f"role_arn = {grant.planned_role_arn}" in lines
    assert f"credential_source = {source}" in lines
    assert not any(line.startswith("source_profile") for line in lines)


def test_role_chaining_caps_the_session_at_one_hour_whatever_the_roles_maximum(
    aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    make_role(hoge)
    grant = role_grant(piyo, hoge, max_session_duration=43200)
    kit = handoff.handoff_kit(grant=grant)
    assert "duration_seconds = 3600" in kit.cli_profile.splitlines()
    assert "DurationSeconds=3600," in kit.boto3
    assert "role chaining" in kit.boto3
    assert "AWS caps a chained session at one hour" in kit.chaining
    assert "maximum of 43200 s" in kit.chaining
    assert handoff.session_seconds(grant) == 3600


def test_the_boto3_snippet_uses_the_roles_default_credentials_and_compiles(
    aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    make_role(hoge)
    snippet = handoff.handoff_kit(grant=role_grant(piyo, hoge, external_id="xacct-r1")).boto3
    compile(snippet, "kit.py", "exec")
    assert "    session = boto3.Session()\n" in snippet
    assert "SOURCE_PROFILE" not in snippet
    assert 'ExternalId="xacct-r1"' in snippet


def test_a_role_the_cli_cannot_source_is_explained(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    make_role(hoge, service="glue.amazonaws.com")
    kit = handoff.handoff_kit(grant=role_grant(piyo, hoge))
    assert kit.role_source is not None
    assert kit.role_source.credential_source == ""
    assert "its trust names glue.amazonaws.com" in kit.role_source.problem
    assert "# where hoge-app-role's own credentials are" in kit.cli_profile


def test_a_role_that_is_gone_is_said_so(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    kit = handoff.handoff_kit(grant=role_grant(piyo, hoge, grantee_name="no-such-role"))
    assert kit.role_source is not None
    assert "has no role no-such-role now" in kit.role_source.problem


def test_a_failed_read_of_the_role_is_explained_not_raised(
    aws_world, piyo, hoge, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise aws.AwsError(
            aws.AwsErrorDetail(
                service="iam", operation="GetRole", code="AccessDenied", message="not allowed"
            )
        )

    monkeypatch.setattr(aws, "role_get", refuse)
    kit = handoff.handoff_kit(grant=role_grant(piyo, hoge))
    assert kit.role_source is not None
    assert "iam:GetRole AccessDenied: not allowed" in kit.role_source.problem
    assert "credential_source = Environment" in kit.cli_profile


def test_an_external_trusted_account_gets_every_credential_source_explained(piyo) -> None:  # type: ignore[no-untyped-def]
    grant = role_grant(piyo, None)
    source = handoff.grantee_role_source(grant)
    assert source is not None
    assert "does not manage 444455556666" in source.problem
    assert "Ec2InstanceMetadata (EC2), EcsContainer (ECS task)" in source.problem


def test_a_named_grantee_profile_is_the_source_profile_and_nothing_is_read(
    aws_world, piyo, hoge, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(aws, "role_get", lambda *a, **k: pytest.fail("read the role"))
    kit = handoff.handoff_kit(grant=role_grant(piyo, hoge, grantee_profile="hoge-app-role-creds"))
    assert kit.role_source is None
    assert "source_profile = hoge-app-role-creds" in kit.cli_profile
    assert "credential_source" not in kit.cli_profile
    assert 'SOURCE_PROFILE = "hoge-app-role-creds"' in kit.boto3
    assert "one hour" in kit.chaining  # still chaining: the profile holds role credentials


def test_a_user_grantees_kit_does_not_mention_chaining(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    kit = handoff.handoff_kit(grant=draft(piyo, hoge))
    assert kit.chaining == "" and kit.role_source is None
    assert f"source_profile = {sandbox.GRANTEE_USER}" in kit.cli_profile
    assert "role chaining" not in kit.boto3


def test_the_grant_page_shows_the_chain_and_its_limit(aws_world, user_client, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    make_role(hoge)
    grant = provisioned(role_grant(piyo, hoge))
    assert grant.status == GrantStatus.ACTIVE
    body = user_client.get(grant.get_absolute_url()).content.decode()
    note = kit_block(body, "kit-chaining", "div")
    assert "role chaining" in note and "at most 3600" in note
    assert "lets ec2.amazonaws.com run as it" in note
    assert "credential_source = Ec2InstanceMetadata" in kit_block(body, "kit-cli")


def test_the_role_grantees_snippet_lists_the_queues_with_the_roles_credentials(
    sandbox_server, piyo, hoge, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """As on Lambda: the role's credentials are in the environment, the snippet chains."""
    # The portal stands in for Lambda below, and moto checks the role's trust: trust it too.
    make_role(hoge, service="lambda.amazonaws.com", portal_too=True)
    grant = provisioned(role_grant(piyo, hoge, **INLINE))
    assert grant.status == GrantStatus.ACTIVE, grant.last_error
    kit = handoff.handoff_kit(grant=grant)
    # The role's own session, as Lambda would hand it to the function: the portal's identity
    # in hoge stands in for Lambda.
    session = aws.role_assume(
        hoge.access(),
        role_arn=f"arn:aws:iam::{hoge.account_id}:role/{APP_ROLE}",
        session_name="lambda-stand-in",
    )
    env = {k: v for k, v in grantee_env(sandbox_server).items() if k != "AWS_PROFILE"}
    env.update(
        AWS_ACCESS_KEY_ID=session.access_key,
        AWS_SECRET_ACCESS_KEY=session.secret_key,
        AWS_SESSION_TOKEN=session.token,
    )
    env["AWS_CONFIG_FILE"] = os.devnull
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    program = tmp_path / "kit.py"
    program.write_text(kit.boto3)
    run = subprocess.run(
        [sys.executable, str(program)], env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    urls = run.stdout.split()
    assert sorted(url.rsplit("/", 1)[-1] for url in urls) == sorted(sandbox.PIYO_QUEUES), run.stdout
