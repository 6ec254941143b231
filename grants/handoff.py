"""The hand-off kit: what the trusted side needs to use a grant, built from the record."""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlencode

from . import policies
from .models import Grant

SIGNIN_HOSTS = {
    "aws": "signin.aws.amazon.com",
    "aws-cn": "signin.amazonaws.cn",
    "aws-us-gov": "signin.amazonaws-us-gov.com",
}


@dataclass(frozen=True)
class SwitchRoleLink:
    url: str
    problems: tuple[str, ...]


def source_profile(grant: Grant) -> str:
    return grant.grantee_profile or grant.grantee_name or "default"


def cli_profile(grant: Grant) -> str:
    """An AWS CLI/SDK config profile that assumes the role from the grantee's own profile."""
    lines = [
        f"[profile {grant.role_name}]",
        f"role_arn = {grant.planned_role_arn}",
        f"source_profile = {source_profile(grant)}",
    ]
    if grant.external_id:
        lines.append(f"external_id = {grant.external_id}")
    if grant.require_mfa and grant.grantee_type == "user" and grant.grantee_name:
        partition = grant.trusting_account.partition
        lines.append(
            f"mfa_serial = arn:{partition}:iam::{grant.trusted_aws_account_id}:mfa/"
            f"{grant.grantee_name}"
        )
    lines += [
        f"duration_seconds = {min(grant.max_session_duration, 3600)}",
        f"region = {grant.region}",
    ]
    return "\n".join(lines) + "\n"


def boto3_snippet(grant: Grant) -> str:
    """The seed's program in Python: assume the role, list the queues, or print every detail."""
    extra = f",\n        ExternalId={json.dumps(grant.external_id)}" if grant.external_id else ""
    mfa = ""
    if grant.require_mfa:
        mfa = (
            ',\n        SerialNumber="<your MFA device ARN>",\n'
            '        TokenCode=input("MFA code: ")'
        )
    return f"""import boto3
from botocore.exceptions import BotoCoreError, ClientError

ROLE_ARN = {json.dumps(grant.planned_role_arn)}
REGION = {json.dumps(grant.region)}

try:
    sts = boto3.client("sts", region_name=REGION)
    credentials = sts.assume_role(
        RoleArn=ROLE_ARN,
        RoleSessionName="cross-account-app",
        DurationSeconds={min(grant.max_session_duration, 3600)}{extra}{mfa},
    )["Credentials"]
    sqs = boto3.client(
        "sqs",
        region_name=REGION,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    for page in sqs.get_paginator("list_queues").paginate():
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
    if grant.grantee_type == "role":
        problems.append("Switching roles in the console starts from a user or federated session.")
    url = f"https://{SIGNIN_HOSTS.get(partition, SIGNIN_HOSTS['aws'])}/switchrole?{query}"
    return SwitchRoleLink(url=url, problems=tuple(problems))


def user_policy_json(grant: Grant) -> str:
    return policies.render(grant.user_policy)
