"""The embedded AWS sandbox: moto's server on 127.0.0.1, seeded with the example world.

piyo (111122223333) owns SQS queues in ap-northeast-1; hoge (444455556666)
runs the application as IAM user hoge-app. The portal itself is an IAM user
in a third, management account and acts in piyo and hoge by assuming their
OrganizationAccountAccessRole, as it would in an AWS Organization.
"""

from __future__ import annotations

import json
import os
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import botocore.session
from botocore.config import Config

REGION = "ap-northeast-1"
MANAGEMENT_ACCOUNT_ID = "123456789012"  # moto's default account
HUB_ROLE_NAME = "OrganizationAccountAccessRole"
PORTAL_USER = "xacct-portal"
PORTAL_PROFILE = "xacct-portal"
GRANTEE_PROFILE = "hoge-app"


@dataclass(frozen=True)
class SandboxAccount:
    name: str
    account_id: str
    owner_email: str


PIYO = SandboxAccount("piyo", "111122223333", "piyo@example.com")
HOGE = SandboxAccount("hoge", "444455556666", "hoge@example.com")
PIYO_QUEUES = ("orders", "notifications", "orders-dlq")
GRANTEE_USER = "hoge-app"


@dataclass
class SandboxWorld:
    """What the seed created; the keys are sandbox-only and live in files, never the DB."""

    endpoint_url: str
    accounts: tuple[SandboxAccount, ...] = (PIYO, HOGE)
    queue_urls: list[str] = field(default_factory=list)
    keys: dict[str, tuple[str, str]] = field(default_factory=dict)


def start_server(*, load_managed_policies: bool = True) -> tuple[object, str]:
    """Start moto's server on a free port of 127.0.0.1; return it and its URL."""
    # moto reads this per account on first IAM use (about a second each).
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = str(load_managed_policies).lower()
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def _client_factory(
    botocore_session: botocore.session.Session,
    endpoint_url: str | None,
    access_key: str,
    secret_key: str,
    token: str | None = None,
):
    """Clients for one identity, all from one botocore session (models load once)."""
    config = Config(retries={"mode": "standard", "total_max_attempts": 2})

    def client(service: str):  # type: ignore[no-untyped-def]
        return botocore_session.create_client(
            service,
            region_name=REGION,
            endpoint_url=endpoint_url,
            config=config,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            aws_session_token=token,
        )

    return client


def _allow_all() -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }
    )


def seed(endpoint_url: str | None) -> SandboxWorld:
    """Create the example world; run while moto's access control is still off.

    With no endpoint the calls go to in-process moto (`mock_aws`), as in tests.
    """
    world = SandboxWorld(endpoint_url=endpoint_url or "")
    botocore_session = botocore.session.Session()
    management = _client_factory(botocore_session, endpoint_url, "sandbox-seed", "sandbox-seed")
    iam = management("iam")

    iam.create_user(UserName=PORTAL_USER)
    iam.put_user_policy(
        UserName=PORTAL_USER,
        PolicyName="assume-hub-roles",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "sts:AssumeRole",
                        "Resource": f"arn:aws:iam::*:role/{HUB_ROLE_NAME}",
                    },
                    {"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"},
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName=PORTAL_USER)["AccessKey"]
    world.keys[PORTAL_PROFILE] = (key["AccessKeyId"], key["SecretAccessKey"])

    hub_trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{MANAGEMENT_ACCOUNT_ID}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    for account in world.accounts:
        # moto hands out credentials for any role ARN, which is how the seed
        # first reaches the account in order to create the real hub role.
        creds = management("sts").assume_role(
            RoleArn=f"arn:aws:iam::{account.account_id}:role/{HUB_ROLE_NAME}",
            RoleSessionName="sandbox-seed",
        )["Credentials"]
        inside = _client_factory(
            botocore_session,
            endpoint_url,
            creds["AccessKeyId"],
            creds["SecretAccessKey"],
            creds["SessionToken"],
        )
        account_iam = inside("iam")
        account_iam.create_role(RoleName=HUB_ROLE_NAME, AssumeRolePolicyDocument=hub_trust)
        account_iam.put_role_policy(
            RoleName=HUB_ROLE_NAME, PolicyName="administrator", PolicyDocument=_allow_all()
        )
        if account == PIYO:
            sqs = inside("sqs")
            for name in PIYO_QUEUES:
                world.queue_urls.append(sqs.create_queue(QueueName=name)["QueueUrl"])
        if account == HOGE:
            account_iam.create_user(UserName=GRANTEE_USER)
            key = account_iam.create_access_key(UserName=GRANTEE_USER)["AccessKey"]
            world.keys[GRANTEE_PROFILE] = (key["AccessKeyId"], key["SecretAccessKey"])
    return world


def enable_access_control(endpoint_url: str) -> None:
    """From now on moto checks every request against IAM policies."""
    _moto_api(endpoint_url, "reset-auth", b"0")


def disable_access_control(endpoint_url: str) -> None:
    _moto_api(endpoint_url, "reset-auth", b"inf")


def reset(endpoint_url: str) -> None:
    """Wipe all sandbox state."""
    _moto_api(endpoint_url, "reset", b"")


def _moto_api(endpoint_url: str, path: str, body: bytes) -> None:
    request = urllib.request.Request(
        f"{endpoint_url}/moto-api/{path}",
        data=body,
        method="POST",
        # A form content type would make werkzeug swallow the body.
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def write_aws_files(world: SandboxWorld, directory: Path) -> tuple[Path, Path]:
    """Write an AWS config and credentials file with a profile per sandbox identity."""
    directory.mkdir(parents=True, exist_ok=True)
    config_path = directory / "config"
    credentials_path = directory / "credentials"
    config_lines: list[str] = []
    credential_lines: list[str] = []
    for profile, (access_key, secret_key) in world.keys.items():
        config_lines += [f"[profile {profile}]", f"region = {REGION}"]
        if world.endpoint_url:
            config_lines.append(f"endpoint_url = {world.endpoint_url}")
        config_lines.append("")
        credential_lines += [
            f"[{profile}]",
            f"aws_access_key_id = {access_key}",
            f"aws_secret_access_key = {secret_key}",
            "",
        ]
    config_path.write_text("\n".join(config_lines))
    credentials_path.write_text("\n".join(credential_lines))
    credentials_path.chmod(0o600)
    return config_path, credentials_path
