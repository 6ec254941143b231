"""The hand-off kit: what the trusted side needs to use a grant, built from the record.

Everything here is pure except `grantee_mfa_serial` (one iam:ListMFADevices through the
gateway) and `handoff_kit`, which reads it and the portal's AWS endpoint setting.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings

from . import aws, policies
from .models import Grant, GranteeType
from .policies import trust_conditions

SIGNIN_HOSTS = {
    "aws": "signin.aws.amazon.com",
    "aws-cn": "signin.amazonaws.cn",
    "aws-us-gov": "signin.amazonaws-us-gov.com",
}
# ListQueues returns at most 1000 URLs a page, and pages only when MaxResults is passed
# (SQS API reference, ListQueues; the CLI passes it with --page-size).
LIST_QUEUES_PAGE_SIZE = 1000


@dataclass(frozen=True)
class SwitchRoleLink:
    url: str
    problems: tuple[str, ...]


@dataclass(frozen=True)
class MfaSerial:
    """The MFA device serial the kit names, or why it names none (`problem`, in words)."""

    serial: str = ""
    problem: str = ""
    others: tuple[str, ...] = ()


@dataclass(frozen=True)
class RoleSource:
    """Where a role grantee's own credentials come from: the AWS services its trust policy
    lets run as it (read from IAM), the AWS CLI credential_source that reads them there
    ("" when unknown), and why it is unknown (`problem`, in words)."""

    services: tuple[str, ...] = ()
    credential_source: str = ""
    problem: str = ""


@dataclass(frozen=True)
class HandoffKit:
    cli_profile: str
    cli_command: str
    boto3: str
    switch_role: SwitchRoleLink
    user_policy: str
    mfa: MfaSerial | None
    endpoint_url: str
    role_source: RoleSource | None = None
    chaining: str = ""


def source_profile(grant: Grant) -> str:
    return grant.grantee_profile or grant.grantee_name or "default"


def chains_roles(grant: Grant) -> bool:
    """Whether the grantee is an IAM role, so that assuming the grant's role is role chaining."""
    return grant.grantee_type == GranteeType.ROLE


def session_seconds(grant: Grant) -> int:
    """DurationSeconds for AssumeRole: the role's maximum, and never above 3600, which is the
    most AWS allows a chained session (IAM User Guide, "Role chaining"; AssumeRole with role
    credentials and more fails) and the portal's default for a user's session too."""
    return min(grant.max_session_duration, trust_conditions.ROLE_CHAINING_MAX_SECONDS)


def grantee_role_source(grant: Grant) -> RoleSource | None:
    """For a role grantee (None otherwise): the services its trust policy names and the
    matching AWS CLI credential_source (ec2.amazonaws.com -> Ec2InstanceMetadata,
    ecs-tasks.amazonaws.com -> EcsContainer, lambda.amazonaws.com -> Environment).

    Read live with iam:GetRole in a managed trusted account (within the request's AWS
    deadline); an external account, a missing role or a failed read give `problem`.
    Raises nothing.
    """
    if not chains_roles(grant):
        return None
    name = grant.grantee_name
    if not name:
        return RoleSource(
            problem="No grantee role is recorded: set credential_source to where the role's "
            "own credentials are (Ec2InstanceMetadata, EcsContainer or Environment)."
        )
    if not grant.trusted_is_managed:
        return RoleSource(
            problem=f"The portal does not manage {grant.trusted_aws_account_id} and cannot read "
            f"which service runs as {name}: set credential_source to Ec2InstanceMetadata (EC2), "
            "EcsContainer (ECS task) or Environment (Lambda, or credentials in the environment)."
        )
    assert grant.trusted_account is not None
    try:
        role = aws.role_get(grant.trusted_account.access(), name)
    except aws.AwsError as exc:
        d = exc.detail
        return RoleSource(
            problem=f"{name}'s trust policy could not be read ({d.service}:{d.operation} "
            f"{d.code or d.client_error}: {d.message}): set credential_source to where the "
            "role's own credentials are, or reload this page."
        )
    if role is None:
        return RoleSource(
            problem=f"{grant.trusted_account} has no role {name} now: the grant cannot be used "
            "until it exists again (Check drift shows what changed)."
        )
    services = tuple(trust_conditions.service_principals(role.trust_policy))
    source = trust_conditions.credential_source_for(services)
    problem = ""
    if not source:
        problem = (
            f"{name} is not run by EC2, ECS or Lambda"
            + (f" (its trust names {', '.join(services)})" if services else "")
            + ": set credential_source to where its own credentials are, or use a profile "
            "holding them as source_profile."
        )
    return RoleSource(services=services, credential_source=source, problem=problem)


def chaining_note(grant: Grant) -> str:
    """For a role grantee, why its sessions of the grant's role last an hour at most ("")
    otherwise)."""
    if not chains_roles(grant):
        return ""
    return (
        f"The grantee is the IAM role {grant.grantee_name or '(not named)'}: assuming "
        f"{grant.role_name} with that role's credentials is role chaining, and AWS caps a "
        "chained session at one hour (DurationSeconds at most 3600, whatever the role's "
        f'maximum of {grant.max_session_duration} s; IAM User Guide, "Role chaining"). '
        "The SDKs and the CLI assume it again when it expires."
    )


def grantee_mfa_serial(grant: Grant) -> MfaSerial | None:
    """The grantee's MFA device serial for a grant that requires MFA (None when it does not).

    Read live with iam:ListMFADevices in the trusted account (bounded by the request's AWS
    deadline, like every gateway call); never guessed from the user name. When there is no
    device, or it cannot be read, `problem` says so plainly: AssumeRole with an MFA condition
    needs SerialNumber and TokenCode (STS API reference, AssumeRole). Raises nothing.
    """
    if not grant.require_mfa:
        return None
    user = grant.grantee_name
    if grant.grantee_type == GranteeType.ROLE:
        return MfaSerial(
            problem=(
                f"The role requires MFA, but the grantee {user or 'role'} is an IAM role, and "
                "roles have no MFA devices: AWS sets aws:MultiFactorAuthPresent only for "
                "sessions made with an MFA code, so this grantee cannot assume the role as is."
            )
        )
    if not user:
        return MfaSerial(
            problem=(
                "The role requires MFA, and no grantee user is recorded, so the portal cannot "
                "read an MFA device: put the ARN of the assuming user's MFA device (IAM → Users "
                "→ the user → Security credentials) in mfa_serial and SerialNumber."
            )
        )
    if not grant.trusted_is_managed:
        return MfaSerial(
            problem=(
                f"The role requires MFA. The portal does not manage {grant.trusted_aws_account_id}"
                f" and cannot read {user}'s MFA devices: put the ARN of {user}'s MFA device "
                f"(IAM → Users → {user} → Security credentials) in mfa_serial and SerialNumber."
            )
        )
    assert grant.trusted_account is not None
    try:
        serials = aws.mfa_device_serials(grant.trusted_account.access(), user_name=user)
    except aws.AwsError as exc:
        d = exc.detail
        return MfaSerial(
            problem=(
                f"The role requires MFA, and {user}'s MFA devices could not be read "
                f"({d.service}:{d.operation} {d.code or d.client_error}: {d.message}; request ID "
                f"{d.request_id or '—'}): put the ARN of {user}'s MFA device in mfa_serial and "
                "SerialNumber, or reload this page."
            )
        )
    if not serials:
        return MfaSerial(
            problem=(
                f"{user} has no MFA device, and the role requires MFA: it cannot be assumed until "
                f"{user} has one. Assign one (IAM → Users → {user} → Security credentials → "
                "Assign MFA device), then reload this page for a kit that names it."
            )
        )
    return MfaSerial(serial=serials[0], others=tuple(serials[1:]))


def cli_profile(
    grant: Grant,
    *,
    endpoint_url: str = "",
    mfa: MfaSerial | None = None,
    role_source: RoleSource | None = None,
) -> str:
    """An AWS CLI/SDK config profile that assumes the role from the grantee's own profile,
    or, for a role grantee without a named profile, from the credentials of the service that
    runs as it (credential_source, from `role_source`: `grantee_role_source`'s answer).

    `endpoint_url` (the sandbox's) goes in the profile; `mfa` is `grantee_mfa_serial`'s answer.
    """
    lines = [f"[profile {grant.role_name}]", f"role_arn = {grant.planned_role_arn}"]
    if chains_roles(grant) and not grant.grantee_profile:
        source = role_source.credential_source if role_source else ""
        name = grant.grantee_name or "the grantee role"
        if source:
            services = ", ".join(role_source.services) if role_source else ""
            lines.append(f"# {name}'s own credentials, where {services} runs it")
            lines.append(f"credential_source = {source}")
        else:
            lines.append(
                f"# where {name}'s own credentials are: Ec2InstanceMetadata (EC2), "
                "EcsContainer (ECS task) or Environment (Lambda)"
            )
            lines.append("credential_source = Environment")
    else:
        lines.append(f"source_profile = {source_profile(grant)}")
    if grant.external_id:
        lines.append(f"external_id = {grant.external_id}")
    if grant.require_mfa:
        if mfa is not None and mfa.serial:
            lines.append(f"mfa_serial = {mfa.serial}")
        else:
            lines.append("# mfa_serial = <the ARN of the grantee's MFA device>: see the kit's note")
    if chains_roles(grant):
        lines.append("# role chaining: AWS allows at most 3600 seconds")
    lines += [
        f"duration_seconds = {session_seconds(grant)}",
        f"region = {grant.region}",
    ]
    if endpoint_url:
        lines.append(f"endpoint_url = {endpoint_url}")
    return "\n".join(lines) + "\n"


def cli_command(grant: Grant, *, endpoint_url: str = "") -> str:
    """The AWS CLI command that lists every queue through the profile: it pages only with
    --page-size (AWS CLI reference, sqs list-queues). With `endpoint_url` it passes
    --endpoint-url as well: AWS CLI v1 ignores a profile's endpoint_url for SQS and calls
    <region>.queue.amazonaws.com (awscli/customizations/overridesslcommonname.py)."""
    command = f"aws sqs list-queues --profile {grant.role_name} --page-size {LIST_QUEUES_PAGE_SIZE}"
    if endpoint_url:
        command += f" --endpoint-url {endpoint_url}"
    return command


def boto3_snippet(grant: Grant, *, endpoint_url: str = "", mfa: MfaSerial | None = None) -> str:
    """The seed's program in Python: assume the role from the grantee's profile, list every
    queue (all pages), or print every error detail. Runs unmodified where the grantee's
    profile exists; `endpoint_url` (the sandbox's) is passed to both clients."""
    extra = f",\n        ExternalId={json.dumps(grant.external_id)}" if grant.external_id else ""
    stop = ""
    if grant.require_mfa:
        if mfa is not None and mfa.serial:
            extra += (
                f",\n        SerialNumber={json.dumps(mfa.serial)},\n"
                '        TokenCode=input("MFA code: ")'
            )
        else:
            reason = (mfa.problem if mfa else "") or (
                "The role requires MFA: put the grantee's MFA device ARN in SerialNumber."
            )
            stop = f"\nraise SystemExit({json.dumps(reason)})\n"
    endpoint_line = endpoint_arg = sqs_endpoint = ""
    if endpoint_url:
        endpoint_line = f"ENDPOINT_URL = {json.dumps(endpoint_url)}  # the portal's AWS endpoint\n"
        endpoint_arg = ", endpoint_url=ENDPOINT_URL"
        sqs_endpoint = "        endpoint_url=ENDPOINT_URL,\n"
    if chains_roles(grant) and not grant.grantee_profile:
        source_line = ""
        session_line = (
            f"    # {grant.grantee_name or 'The grantee role'}'s own credentials, found by the "
            "default chain\n"
            "    # (instance metadata on EC2, the container on ECS, the environment on Lambda)\n"
            "    session = boto3.Session()"
        )
    else:
        source_line = (
            f"SOURCE_PROFILE = {json.dumps(source_profile(grant))}  # the grantee's own "
            "credentials\n"
        )
        session_line = "    session = boto3.Session(profile_name=SOURCE_PROFILE)"
    duration_comment = (
        "        # role chaining: at most 3600 seconds (IAM User Guide, Role chaining)\n"
        if chains_roles(grant)
        else ""
    )
    return f"""import boto3
from botocore.exceptions import BotoCoreError, ClientError

ROLE_ARN = {json.dumps(grant.planned_role_arn)}
REGION = {json.dumps(grant.region)}
{source_line}{endpoint_line}{stop}
try:
{session_line}
    sts = session.client("sts", region_name=REGION{endpoint_arg})
    credentials = sts.assume_role(
        RoleArn=ROLE_ARN,
        RoleSessionName="cross-account-app",
{duration_comment}        DurationSeconds={session_seconds(grant)}{extra},
    )["Credentials"]
    sqs = boto3.client(
        "sqs",
        region_name=REGION,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
{sqs_endpoint}    )
    # ListQueues pages only when MaxResults is passed; the paginator follows NextToken.
    for page in sqs.get_paginator("list_queues").paginate(MaxResults={LIST_QUEUES_PAGE_SIZE}):
        for url in page.get("QueueUrls", []):
            print(url)
except ClientError as error:
    details = error.response.get("Error", {{}})
    metadata = error.response.get("ResponseMetadata", {{}})
    print("Error Message:   ", details.get("Message"))
    print("HTTP Status Code:", metadata.get("HTTPStatusCode"))
    print("AWS Error Code:  ", details.get("Code"))
    print("Error Type:      ", details.get("Type"))
    print("Request ID:      ", metadata.get("RequestId"))
except BotoCoreError as error:
    print("Client error:", error)
"""


def handoff_kit(*, grant: Grant) -> HandoffKit:
    """The whole kit for `grant`: reads the grantee's MFA devices when the role requires MFA
    and, for a role grantee without a named profile, that role's trust policy (one gateway
    call each, within the request's AWS deadline), and carries the portal's AWS endpoint
    (settings.AWS_ENDPOINT_URL: the sandbox's) when one is set. Raises nothing."""
    endpoint_url = settings.AWS_ENDPOINT_URL
    mfa = grantee_mfa_serial(grant)
    role_source = grantee_role_source(grant) if not grant.grantee_profile else None
    return HandoffKit(
        cli_profile=cli_profile(grant, endpoint_url=endpoint_url, mfa=mfa, role_source=role_source),
        cli_command=cli_command(grant, endpoint_url=endpoint_url),
        boto3=boto3_snippet(grant, endpoint_url=endpoint_url, mfa=mfa),
        switch_role=switch_role_link(grant),
        user_policy=user_policy_json(grant),
        mfa=mfa,
        endpoint_url=endpoint_url,
        role_source=role_source,
        chaining=chaining_note(grant),
    )


def switch_role_link(grant: Grant) -> SwitchRoleLink:
    """The console's switch-role URL, and why it may not work for this role."""
    role = f"{grant.role_path.lstrip('/')}{grant.role_name}"
    partition = grant.trusting_account.partition
    query = urlencode(
        {
            "roleName": role,
            "account": grant.trusting_account.account_id,
            "displayName": f"{grant.role_name}@{grant.trusting_account.name}"[:64],
        }
    )
    problems: list[str] = []
    if grant.external_id:
        problems.append(
            "The role requires an external ID, which the console cannot pass: use the CLI "
            "profile or the SDK snippet."
        )
    if len(role) > 64:
        problems.append(
            f"Path and role name are {len(role)} characters; the console accepts 64 at most."
        )
    if chains_roles(grant):
        problems.append("Switching roles in the console starts from a user or federated session.")
    url = f"https://{SIGNIN_HOSTS.get(partition, SIGNIN_HOSTS['aws'])}/switchrole?{query}"
    return SwitchRoleLink(url=url, problems=tuple(problems))


def user_policy_json(grant: Grant) -> str:
    return policies.render(grant.user_policy)
