"""The embedded AWS sandbox: moto's server on 127.0.0.1, seeded with the example world.

piyo (111122223333) owns SQS queues in ap-northeast-1; hoge (444455556666)
runs the application as IAM user hoge-app. The portal itself is an IAM user
in a third, management account and acts in piyo and hoge by assuming their
OrganizationAccountAccessRole, as it would in an AWS Organization.

With `organization=True` the management account also runs an AWS Organization:
OUs Workloads, Workloads/Prod, Workloads/Dev and Vendors; piyo and fuga in
Workloads/Prod, hoge in Workloads/Dev, vendor-a in Vendors; an SCP on
Workloads/Dev that denies sts:AssumeRole on roles outside the organization; and
hoge's application role hoge-app-role, trusted by ec2.amazonaws.com.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import botocore.loaders
import botocore.session
from botocore.config import Config

from .core import new_session

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

# The organization (seed(organization=True)).
FUGA = SandboxAccount("fuga", "555566667777", "fuga@example.com")
VENDOR_A = SandboxAccount("vendor-a", "777788889999", "vendor-a@example.com")
ORGANIZATION_UNITS = ("Workloads", "Workloads/Prod", "Workloads/Dev", "Vendors")
ORGANIZATION_MEMBERS = (
    (PIYO, "Workloads/Prod"),
    (FUGA, "Workloads/Prod"),
    (HOGE, "Workloads/Dev"),
    (VENDOR_A, "Vendors"),
)
SCP_NAME = "DenyAssumeRoleOutsideOrganization"
SCP_OU = "Workloads/Dev"
# AWS's example "Deny access to AWS resources outside your organization" (IAM User
# Guide, aws:ResourceOrgID), narrowed to role assumption.
SCP_DOCUMENT = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "DenyAssumeRoleOutsideOrganization",
            "Effect": "Deny",
            "Action": "sts:AssumeRole",
            "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:ResourceOrgID": "${aws:PrincipalOrgID}"}},
        }
    ],
}
APP_ROLE = "hoge-app-role"
APP_ROLE_SERVICE = "ec2.amazonaws.com"


@dataclass
class SandboxWorld:
    """What the seed created; the keys are sandbox-only and live in files, never the DB."""

    endpoint_url: str
    accounts: tuple[SandboxAccount, ...] = (PIYO, HOGE)
    queue_urls: list[str] = field(default_factory=list)
    keys: dict[str, tuple[str, str]] = field(default_factory=dict)
    # Set by seed(organization=True): the organization's ID, its root's and OUs' IDs
    # by path ("" for the root, "Workloads/Prod"…), and the SCP's policy ID.
    organization_id: str = ""
    unit_ids: dict[str, str] = field(default_factory=dict)
    scp_id: str = ""


def start_server(*, load_managed_policies: bool = True) -> tuple[object, str]:
    """Start moto's server on a free port of 127.0.0.1; return it and its URL.

    With `load_managed_policies`, AWS managed policies exist in the aws partition of
    every account (the sandbox's accounts are all there), not in the others.
    """
    # moto reads this per account on first IAM use.
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = str(load_managed_policies).lower()
    if load_managed_policies:
        _managed_policies_in_aws_partition_only()
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def _managed_policies_in_aws_partition_only() -> None:
    """Load AWS managed policies only into IAM backends of the aws partition.

    moto 5.2.5 builds an account's IAM backend for every partition (seven) the first
    time it looks an access key up (`moto.iam.models.get_account_id_from`), and loads
    its ~1,600 AWS managed policies into each: about 0.2 s of CPU apiece, 7 of the
    seed's 8 seconds. The other partitions keep working, without managed policies.
    """
    from moto.iam.models import IAMBackend

    load = IAMBackend._init_aws_policies
    if getattr(load, "aws_partition_only", False):
        return

    def init_aws_policies(backend: IAMBackend) -> list:
        return load(backend) if backend.partition == "aws" else []

    init_aws_policies.aws_partition_only = True  # type: ignore[attr-defined]
    IAMBackend._init_aws_policies = init_aws_policies  # type: ignore[method-assign]


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


def seed(endpoint_url: str | None, *, organization: bool = False) -> SandboxWorld:
    """Create the example world; run while moto's access control is still off.

    With no endpoint the calls go to in-process moto (`mock_aws`), as in tests.
    `organization` also seeds the AWS Organization (module docstring), and lets the
    portal's user read it (organizations:Describe*/List*, as AWS's managed policy
    AWSOrganizationsReadOnlyAccess does). moto runs in this process either way
    (in-process mock or the ThreadedMotoServer start_server starts).
    """
    _organization_memberships_forget()
    world = SandboxWorld(endpoint_url=endpoint_url or "")
    botocore_session = new_session()
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
                    *(
                        [
                            {
                                "Sid": "ReadTheOrganization",
                                "Effect": "Allow",
                                "Action": ["organizations:Describe*", "organizations:List*"],
                                "Resource": "*",
                            },
                            {
                                # Discovery across all accounts reads the management
                                # account's own roles too.
                                "Sid": "ReadRoles",
                                "Effect": "Allow",
                                "Action": [
                                    "iam:GetRole",
                                    "iam:GetRolePolicy",
                                    "iam:ListRoles",
                                    "iam:ListRolePolicies",
                                    "iam:ListAttachedRolePolicies",
                                ],
                                "Resource": "*",
                            },
                        ]
                        if organization
                        else []
                    ),
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
            if organization:
                _app_role_create(account_iam)
    if organization:
        _organization_seed(world, management, botocore_session, endpoint_url)
    return world


def _app_role_create(iam) -> None:  # type: ignore[no-untyped-def]
    """hoge's application role, as EC2 instances run it: trusted by the EC2 service,
    reached through an instance profile of the same name, no permissions of its own
    yet (a grant adds the sts:AssumeRole it needs)."""
    iam.create_role(
        RoleName=APP_ROLE,
        Description="Role of hoge's application on its EC2 instances",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": APP_ROLE_SERVICE},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    iam.create_instance_profile(InstanceProfileName=APP_ROLE)
    iam.add_role_to_instance_profile(InstanceProfileName=APP_ROLE, RoleName=APP_ROLE)


def _organization_seed(world, management, botocore_session, endpoint_url) -> None:  # type: ignore[no-untyped-def]
    """The organization of the management account (module docstring), through the API."""
    org = management("organizations")
    world.organization_id = org.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    root_id = org.list_roots()["Roots"][0]["Id"]
    world.unit_ids[""] = root_id
    for path in ORGANIZATION_UNITS:
        parent, _, name = path.rpartition("/")
        world.unit_ids[path] = org.create_organizational_unit(
            ParentId=world.unit_ids[parent], Name=name
        )["OrganizationalUnit"]["Id"]
    members = [account for account, _ in ORGANIZATION_MEMBERS]
    with _member_account_ids([account.account_id for account in members]):
        for account in members:
            # Creates OrganizationAccountAccessRole in new accounts (fuga, vendor-a);
            # piyo and hoge keep the hub role the seed made.
            created = org.create_account(AccountName=account.name, Email=account.owner_email)
            got = created["CreateAccountStatus"].get("AccountId")
            if got != account.account_id:
                raise RuntimeError(
                    f"moto gave the sandbox account {account.name} the ID {got}, not "
                    f"{account.account_id}: the seed needs moto in this process."
                )
    for account, path in ORGANIZATION_MEMBERS:
        org.move_account(
            AccountId=account.account_id,
            SourceParentId=root_id,
            DestinationParentId=world.unit_ids[path],
        )
        if account not in world.accounts:
            # moto's OrganizationAccountAccessRole has no permissions; AWS's carries
            # AdministratorAccess.
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
            inside("iam").put_role_policy(
                RoleName=HUB_ROLE_NAME, PolicyName="administrator", PolicyDocument=_allow_all()
            )
    org.enable_policy_type(RootId=root_id, PolicyType="SERVICE_CONTROL_POLICY")
    world.scp_id = org.create_policy(
        Name=SCP_NAME,
        Description="Roles outside the organization may not be assumed from Workloads/Dev",
        Type="SERVICE_CONTROL_POLICY",
        Content=json.dumps(SCP_DOCUMENT),
    )["Policy"]["PolicySummary"]["Id"]
    org.attach_policy(PolicyId=world.scp_id, TargetId=world.unit_ids[SCP_OU])


@contextmanager
def _member_account_ids(account_ids: list[str]) -> Iterator[None]:
    """moto's CreateAccount gives the new account the IDs in `account_ids`, in order.

    moto 5.2.5 draws a member account's ID at random (organizations/models.py,
    FakeAccount: `utils.make_random_account_id()`) and implements neither
    InviteAccountToOrganization nor MoveAccount across organizations, so no API call
    can put the existing 111122223333 and 444455556666 into an organization. The seed
    hands moto's ID generator the sandbox's IDs while its CreateAccount calls run;
    moto itself then does every bookkeeping step of a real CreateAccount (membership,
    FullAWSAccess attachment, the access role). It works because moto runs in this
    process; `_organization_seed` checks the IDs it got back.
    """
    from moto.organizations import utils

    pending = list(account_ids)
    drawn = utils.make_random_account_id
    utils.make_random_account_id = lambda: pending.pop(0) if pending else drawn()
    try:
        yield
    finally:
        utils.make_random_account_id = drawn


def _organization_memberships_forget() -> None:
    """Forget which accounts belong to an organization.

    moto's reset (`mock_aws` ending, POST /moto-api/reset) empties every
    organization but keeps its process-wide map of member accounts, after which a
    former member's DescribeOrganization fails inside moto (AttributeError) instead of
    answering AWSOrganizationsNotInUseException.
    """
    from moto.organizations.models import organizations_backends

    organizations_backends.master_accounts.clear()


def enable_access_control(endpoint_url: str) -> None:
    """From now on moto checks every request against IAM policies."""
    _moto_api(endpoint_url, "reset-auth", b"0")


def disable_access_control(endpoint_url: str) -> None:
    _moto_api(endpoint_url, "reset-auth", b"inf")


def reset(endpoint_url: str) -> None:
    """Wipe all sandbox state."""
    _moto_api(endpoint_url, "reset", b"")
    _organization_memberships_forget()


def forget_organizations() -> None:
    """After in-process moto (`mock_aws`) ends: no account is left a member of an
    organization that no longer exists (tests that seeded one call it)."""
    _organization_memberships_forget()


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
