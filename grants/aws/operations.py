"""One function per AWS capability the portal uses; each raises only AwsError."""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import BotoCoreError, ClientError

from .core import AccountAccess, call, gateway, paginate, translate
from .errors import AwsError


def _request_id(response: dict[str, Any]) -> str:
    metadata = response.get("ResponseMetadata", {})
    headers = metadata.get("HTTPHeaders") or {}
    return str(metadata.get("RequestId") or headers.get("x-amzn-requestid") or "")


@dataclass(frozen=True)
class RoleInfo:
    name: str
    arn: str
    path: str
    trust_policy: dict
    max_session_duration: int
    tags: dict[str, str]
    boundary_arn: str = ""
    role_id: str = ""


# --- IAM roles -----------------------------------------------------------------


def role_names(access: AccountAccess) -> list[str]:
    return [role["RoleName"] for role in paginate(access, "iam", "list_roles", "Roles")]


def role_get(access: AccountAccess, name: str) -> RoleInfo | None:
    """The role, or None when it does not exist (every other failure raises)."""
    try:
        role = call(access, "iam", "get_role", RoleName=name)["Role"]
    except AwsError as exc:
        if exc.code == "NoSuchEntity":
            return None
        raise
    document = _document(role.get("AssumeRolePolicyDocument") or {})
    return RoleInfo(
        name=role["RoleName"],
        arn=role["Arn"],
        path=role.get("Path", "/"),
        trust_policy=document,
        max_session_duration=role.get("MaxSessionDuration", 3600),
        tags={tag["Key"]: tag["Value"] for tag in role.get("Tags", [])},
        boundary_arn=(role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn", ""),
        role_id=role.get("RoleId", ""),
    )


def role_create(
    access: AccountAccess,
    *,
    name: str,
    path: str,
    trust_policy: str,
    description: str,
    max_session_duration: int,
    tags: dict[str, str],
) -> tuple[str, str]:
    """Create the role; return its ARN and the request ID."""
    response = call(
        access,
        "iam",
        "create_role",
        RoleName=name,
        Path=path,
        AssumeRolePolicyDocument=trust_policy,
        Description=description,
        MaxSessionDuration=max_session_duration,
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )
    return response["Role"]["Arn"], _request_id(response)


def role_delete(access: AccountAccess, *, name: str) -> str:
    return _request_id(call(access, "iam", "delete_role", RoleName=name))


def role_policy_attach(access: AccountAccess, *, role_name: str, policy_arn: str) -> str:
    return _request_id(
        call(access, "iam", "attach_role_policy", RoleName=role_name, PolicyArn=policy_arn)
    )


def role_policy_detach(access: AccountAccess, *, role_name: str, policy_arn: str) -> str:
    return _request_id(
        call(access, "iam", "detach_role_policy", RoleName=role_name, PolicyArn=policy_arn)
    )


def role_policy_put(
    access: AccountAccess, *, role_name: str, policy_name: str, document: str
) -> str:
    return _request_id(
        call(
            access,
            "iam",
            "put_role_policy",
            RoleName=role_name,
            PolicyName=policy_name,
            PolicyDocument=document,
        )
    )


def role_policy_delete(access: AccountAccess, *, role_name: str, policy_name: str) -> str:
    return _request_id(
        call(access, "iam", "delete_role_policy", RoleName=role_name, PolicyName=policy_name)
    )


def role_attached_policy_arns(access: AccountAccess, *, role_name: str) -> list[str]:
    return [
        policy["PolicyArn"]
        for policy in paginate(
            access, "iam", "list_attached_role_policies", "AttachedPolicies", RoleName=role_name
        )
    ]


def role_inline_policy(access: AccountAccess, *, role_name: str, policy_name: str) -> dict | None:
    try:
        response = call(
            access, "iam", "get_role_policy", RoleName=role_name, PolicyName=policy_name
        )
    except AwsError as exc:
        if exc.code == "NoSuchEntity":
            return None
        raise
    return _document(response["PolicyDocument"])


# --- IAM users -----------------------------------------------------------------


def user_names(access: AccountAccess) -> list[str]:
    return [user["UserName"] for user in paginate(access, "iam", "list_users", "Users")]


def mfa_device_serials(access: AccountAccess, *, user_name: str) -> list[str]:
    """iam:ListMFADevices for the IAM user `user_name`, all pages: each device's serial
    number (a virtual device's ARN, or a hardware device's serial), in IAM's order.

    An empty list means the user has no MFA device. AssumeRole's `SerialNumber` takes this
    value (STS API reference, AssumeRole). Raises AwsError, with code NoSuchEntity when the
    user does not exist.
    """
    return [
        device["SerialNumber"]
        for device in paginate(access, "iam", "list_mfa_devices", "MFADevices", UserName=user_name)
    ]


def user_policy_put(
    access: AccountAccess, *, user_name: str, policy_name: str, document: str
) -> str:
    return _request_id(
        call(
            access,
            "iam",
            "put_user_policy",
            UserName=user_name,
            PolicyName=policy_name,
            PolicyDocument=document,
        )
    )


def user_policy_delete(access: AccountAccess, *, user_name: str, policy_name: str) -> str:
    return _request_id(
        call(access, "iam", "delete_user_policy", UserName=user_name, PolicyName=policy_name)
    )


def user_policy(access: AccountAccess, *, user_name: str, policy_name: str) -> dict | None:
    try:
        response = call(
            access, "iam", "get_user_policy", UserName=user_name, PolicyName=policy_name
        )
    except AwsError as exc:
        if exc.code == "NoSuchEntity":
            return None
        raise
    return _document(response["PolicyDocument"])


# --- the grantee's policy: inline on an IAM user, or on an IAM role -------------------


def grantee_policy_put(
    access: AccountAccess, *, grantee_type: str, grantee_name: str, policy_name: str, document: str
) -> str:
    if grantee_type == "role":
        return role_policy_put(
            access, role_name=grantee_name, policy_name=policy_name, document=document
        )
    return user_policy_put(
        access, user_name=grantee_name, policy_name=policy_name, document=document
    )


def grantee_policy_delete(
    access: AccountAccess, *, grantee_type: str, grantee_name: str, policy_name: str
) -> str:
    if grantee_type == "role":
        return role_policy_delete(access, role_name=grantee_name, policy_name=policy_name)
    return user_policy_delete(access, user_name=grantee_name, policy_name=policy_name)


def grantee_policy(
    access: AccountAccess, *, grantee_type: str, grantee_name: str, policy_name: str
) -> dict | None:
    if grantee_type == "role":
        return role_inline_policy(access, role_name=grantee_name, policy_name=policy_name)
    return user_policy(access, user_name=grantee_name, policy_name=policy_name)


def _document(value: Any) -> dict:
    """IAM returns documents URL-encoded in the wire format; botocore decodes most."""
    if isinstance(value, dict):
        return value
    try:
        return json.loads(unquote(value))
    except ValueError:
        return {"Unreadable": str(value)[:200]}


# --- SQS -------------------------------------------------------------------------


def queue_names(access: AccountAccess, *, region: str) -> list[str]:
    """Every queue name in the region, all pages."""
    urls = paginate(access, "sqs", "list_queues", "QueueUrls", region=region, MaxResults=1000)
    return sorted(url.rstrip("/").rsplit("/", 1)[-1] for url in urls)


# --- reading what IAM holds, for verification ---------------------------------------


def role_inline_policies(access: AccountAccess, *, role_name: str) -> dict[str, dict]:
    names = list(paginate(access, "iam", "list_role_policies", "PolicyNames", RoleName=role_name))
    return {
        name: role_inline_policy(access, role_name=role_name, policy_name=name) or {}
        for name in names
    }


def user_inline_policies(access: AccountAccess, *, user_name: str) -> dict[str, dict]:
    names = list(paginate(access, "iam", "list_user_policies", "PolicyNames", UserName=user_name))
    return {
        name: user_policy(access, user_name=user_name, policy_name=name) or {} for name in names
    }


def user_attached_policy_arns(access: AccountAccess, *, user_name: str) -> list[str]:
    return [
        policy["PolicyArn"]
        for policy in paginate(
            access, "iam", "list_attached_user_policies", "AttachedPolicies", UserName=user_name
        )
    ]


def managed_policy_document(access: AccountAccess, *, policy_arn: str) -> dict:
    """The default version's document of a managed policy."""
    version = call(access, "iam", "get_policy", PolicyArn=policy_arn)["Policy"]["DefaultVersionId"]
    response = call(access, "iam", "get_policy_version", PolicyArn=policy_arn, VersionId=version)
    return _document(response["PolicyVersion"]["Document"])


# --- the seed's program: AssumeRole, then ListQueues ----------------------------------


@dataclass(frozen=True)
class AssumedRole:
    """Temporary credentials: kept in memory for one verification, never stored."""

    arn: str
    request_id: str
    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    token: str = field(repr=False)


def role_assume(
    access: AccountAccess,
    *,
    role_arn: str,
    session_name: str,
    external_id: str = "",
    duration_seconds: int = 900,
) -> AssumedRole:
    """sts:AssumeRole as the identity `access` describes."""
    params: dict[str, Any] = {
        "RoleArn": role_arn,
        "RoleSessionName": session_name,
        "DurationSeconds": duration_seconds,
    }
    if external_id:
        params["ExternalId"] = external_id
    response = call(access, "sts", "assume_role", **params)
    credentials = response["Credentials"]
    return AssumedRole(
        arn=response["AssumedRoleUser"]["Arn"],
        request_id=_request_id(response),
        access_key=credentials["AccessKeyId"],
        secret_key=credentials["SecretAccessKey"],
        token=credentials["SessionToken"],
    )


def queue_urls_as(assumed: AssumedRole, *, region: str) -> list[str]:
    """sqs:ListQueues in the region with the assumed role's credentials, all pages."""
    urls: list[str] = []
    try:
        client = gateway().client_from_keys(
            "sqs",
            region,
            access_key=assumed.access_key,
            secret_key=assumed.secret_key,
            token=assumed.token,
        )
        for page in client.get_paginator("list_queues").paginate(MaxResults=1000):
            urls.extend(page.get("QueueUrls", []))
    except (ClientError, BotoCoreError, OSError, NotImplementedError, AwsError) as exc:
        raise translate(exc, service="sqs", operation="ListQueues") from None
    return urls


def role_trust_update(access: AccountAccess, *, role_name: str, document: str) -> str:
    return _request_id(
        call(
            access,
            "iam",
            "update_assume_role_policy",
            RoleName=role_name,
            PolicyDocument=document,
        )
    )


def role_tag(access: AccountAccess, *, role_name: str, tags: dict[str, str]) -> str:
    return _request_id(
        call(
            access,
            "iam",
            "tag_role",
            RoleName=role_name,
            Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
        )
    )


def roles(access: AccountAccess) -> list[RoleInfo]:
    """Every role of the account with its trust policy (ListRoles, all pages)."""
    found: list[RoleInfo] = []
    for role in paginate(access, "iam", "list_roles", "Roles"):
        document = role.get("AssumeRolePolicyDocument") or {}
        found.append(
            RoleInfo(
                name=role["RoleName"],
                arn=role["Arn"],
                path=role.get("Path", "/"),
                trust_policy=_document(document),
                max_session_duration=role.get("MaxSessionDuration", 3600),
                tags={tag["Key"]: tag["Value"] for tag in role.get("Tags", [])},
            )
        )
    return found


# --- the IAM state Test access evaluates: one read per function, run concurrently ---


@dataclass(frozen=True)
class UserInfo:
    """An IAM user as GetUser returns it (names and ARNs only)."""

    name: str
    arn: str
    user_id: str
    boundary_arn: str = ""


@dataclass(frozen=True)
class ManagedPolicy:
    """One managed policy's default version: its document never changes."""

    arn: str
    name: str
    version_id: str
    document: dict


@dataclass(frozen=True)
class ServiceControlPolicy:
    """One SCP and the organization node (account, OU or root) it is attached to.

    `target_kind` is ACCOUNT, ORGANIZATIONAL_UNIT or ROOT (as ListParents says);
    `target_name` the OU's name when it could be read ("" otherwise)."""

    policy_id: str
    name: str
    target_id: str
    target_kind: str
    document: dict
    target_name: str = ""


def user_get(access: AccountAccess, *, user_name: str) -> UserInfo | None:
    """iam:GetUser: the user and its permissions boundary ARN, or None when it does
    not exist (every other failure raises AwsError)."""
    try:
        user = call(access, "iam", "get_user", UserName=user_name)["User"]
    except AwsError as exc:
        if exc.code == "NoSuchEntity":
            return None
        raise
    return UserInfo(
        name=user["UserName"],
        arn=user["Arn"],
        user_id=user.get("UserId", ""),
        boundary_arn=(user.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn", ""),
    )


def inline_policy_names(access: AccountAccess, *, kind: str, name: str) -> list[str]:
    """The inline policy names of a user, group or role (kind), all pages."""
    method, key = {
        "user": ("list_user_policies", "UserName"),
        "group": ("list_group_policies", "GroupName"),
        "role": ("list_role_policies", "RoleName"),
    }[kind]
    return list(paginate(access, "iam", method, "PolicyNames", **{key: name}))


def inline_policy_document(
    access: AccountAccess, *, kind: str, name: str, policy_name: str
) -> dict | None:
    """One inline policy's document of a user, group or role; None when it is gone."""
    method, key = {
        "user": ("get_user_policy", "UserName"),
        "group": ("get_group_policy", "GroupName"),
        "role": ("get_role_policy", "RoleName"),
    }[kind]
    try:
        response = call(access, "iam", method, **{key: name, "PolicyName": policy_name})
    except AwsError as exc:
        if exc.code == "NoSuchEntity":
            return None
        raise
    return _document(response["PolicyDocument"])


def attached_policy_arns(access: AccountAccess, *, kind: str, name: str) -> list[str]:
    """The managed policy ARNs attached to a user, group or role (kind), all pages."""
    method, key = {
        "user": ("list_attached_user_policies", "UserName"),
        "group": ("list_attached_group_policies", "GroupName"),
        "role": ("list_attached_role_policies", "RoleName"),
    }[kind]
    return [
        policy["PolicyArn"]
        for policy in paginate(access, "iam", method, "AttachedPolicies", **{key: name})
    ]


def user_group_names(access: AccountAccess, *, user_name: str) -> list[str]:
    """iam:ListGroupsForUser, all pages."""
    return [
        group["GroupName"]
        for group in paginate(access, "iam", "list_groups_for_user", "Groups", UserName=user_name)
    ]


_VERSION_CACHE_SIZE = 512
_version_cache: OrderedDict[tuple[str, str], dict] = OrderedDict()
_version_cache_lock = threading.Lock()


def managed_policy(access: AccountAccess, *, policy_arn: str) -> ManagedPolicy:
    """A managed policy's default version (iam:GetPolicy, then iam:GetPolicyVersion).

    A policy version's document is immutable (IAM creates a new version for every
    change: CreatePolicyVersion), so documents are cached process-wide by (ARN,
    version ID), at most 512; GetPolicy runs every time, since the default version
    can change (SetDefaultPolicyVersion).
    """
    policy = call(access, "iam", "get_policy", PolicyArn=policy_arn)["Policy"]
    version = policy["DefaultVersionId"]
    key = (policy_arn, version)
    with _version_cache_lock:
        document = _version_cache.get(key)
        if document is not None:
            _version_cache.move_to_end(key)
    if document is None:
        response = call(
            access, "iam", "get_policy_version", PolicyArn=policy_arn, VersionId=version
        )
        document = _document(response["PolicyVersion"]["Document"])
        with _version_cache_lock:
            _version_cache[key] = document
            while len(_version_cache) > _VERSION_CACHE_SIZE:
                _version_cache.popitem(last=False)
    return ManagedPolicy(
        arn=policy_arn,
        name=policy.get("PolicyName", policy_arn.rsplit("/", 1)[-1]),
        version_id=version,
        document=document,
    )


def managed_policy_cache_clear() -> None:
    """Forget cached policy versions (tests)."""
    with _version_cache_lock:
        _version_cache.clear()


@dataclass(frozen=True)
class OrganizationLevel:
    """One node on the path from the root to the account: its ID, kind and OU name."""

    target_id: str
    target_kind: str  # ROOT, ORGANIZATIONAL_UNIT or ACCOUNT
    name: str = ""


@dataclass(frozen=True)
class OrganizationPolicies:
    """The SCPs over one account, root first; none apply to the management account.

    `organization_id` and `entity_path` ("o-…/r-…/ou-…/", the value of
    aws:PrincipalOrgPaths and aws:ResourceOrgPaths for the account) are what the read
    found; `levels` the nodes from the root down to the account (empty for the
    management account, whose path is not walked)."""

    management_account: bool
    policies: tuple[ServiceControlPolicy, ...]
    organization_id: str = ""
    management_account_id: str = ""
    entity_path: str = ""
    levels: tuple[OrganizationLevel, ...] = ()


def organization_describe(access: AccountAccess) -> dict:
    """organizations:DescribeOrganization as `access`: the Organization structure (Id,
    MasterAccountId, …). Any member account may call it (AWS Organizations API
    reference); AWSOrganizationsNotInUseException and every other failure raise AwsError."""
    return call(access, "organizations", "describe_organization")["Organization"]


def service_control_policies(access: AccountAccess, *, account_id: str) -> OrganizationPolicies:
    """Every SCP that applies to `account_id`, read with `access` (the management or a
    delegated-administrator account of its organization, or the account itself).

    Calls: organizations:DescribeOrganization; ListParents up to the root; then, all at
    once, ListPoliciesForTarget (SERVICE_CONTROL_POLICY) for every level and
    DescribeOrganizationalUnit for every OU; then DescribePolicy for every policy not
    cached (contents are kept per policy ID for SCP_CACHE_SECONDS, 60 s, at most 256:
    UpdatePolicy can change them). SCPs never limit the organization's management
    account ("SCPs don't affect users or roles in the management account", AWS
    Organizations user guide). Only the management account or a delegated administrator
    may read them: AccessDeniedException, AWSOrganizationsNotInUseException,
    AccountNotFoundException (not in this organization) and every other failure raise
    AwsError; an OU name that cannot be read is left empty."""
    from .core import Concurrent  # the walk's independent reads run in parallel

    organization = call(access, "organizations", "describe_organization")["Organization"]
    organization_id = organization.get("Id", "")
    management_id = organization.get("MasterAccountId", "")
    if management_id == account_id:
        return OrganizationPolicies(
            management_account=True,
            policies=(),
            organization_id=organization_id,
            management_account_id=management_id,
        )
    targets: list[tuple[str, str]] = [(account_id, "ACCOUNT")]
    child = account_id
    for _ in range(8):  # an organization nests OUs at most five deep under the root
        parents = call(access, "organizations", "list_parents", ChildId=child)["Parents"]
        if not parents:
            break
        parent = parents[0]
        targets.append((parent["Id"], parent["Type"]))
        if parent["Type"] == "ROOT":
            break
        child = parent["Id"]
    targets.reverse()
    summaries: dict[str, list[dict]] = {}
    names: dict[str, str] = {}
    errors: list[AwsError] = []

    def keep(store: dict, key: str, *, required: bool = True) -> Any:
        def then(value: Any, error: AwsError | None) -> None:
            if error is not None:
                if required:
                    errors.append(error)
            else:
                store[key] = value

        return then

    reads = Concurrent(max_workers=8)
    for target_id, kind in targets:
        reads.submit(_scp_summaries, access, target_id, then=keep(summaries, target_id))
        if kind == "ORGANIZATIONAL_UNIT":
            reads.submit(_ou_name, access, target_id, then=keep(names, target_id, required=False))
    reads.run()
    if errors:
        raise errors[0]
    contents: dict[str, str] = {}
    wanted = {summary["Id"] for found in summaries.values() for summary in found}
    for policy_id in wanted:
        cached = _scp_cached(policy_id)
        if cached is not None:
            contents[policy_id] = cached
    reads = Concurrent(max_workers=8)
    for policy_id in wanted - contents.keys():
        reads.submit(_scp_content, access, policy_id, then=keep(contents, policy_id))
    reads.run()
    if errors:
        raise errors[0]
    root_and_ous = [target_id for target_id, kind in targets if kind != "ACCOUNT"]
    return OrganizationPolicies(
        management_account=False,
        policies=tuple(
            ServiceControlPolicy(
                policy_id=summary["Id"],
                name=summary.get("Name", summary["Id"]),
                target_id=target_id,
                target_kind=target_kind,
                document=_document(contents[summary["Id"]]),
                target_name=names.get(target_id, ""),
            )
            for target_id, target_kind in targets
            for summary in summaries.get(target_id, [])
        ),
        organization_id=organization_id,
        management_account_id=management_id,
        entity_path="/".join([organization_id, *root_and_ous]) + "/" if organization_id else "",
        levels=tuple(
            OrganizationLevel(target_id, kind, names.get(target_id, ""))
            for target_id, kind in targets
        ),
    )


def _scp_summaries(access: AccountAccess, target_id: str) -> list[dict]:
    return list(
        paginate(
            access,
            "organizations",
            "list_policies_for_target",
            "Policies",
            TargetId=target_id,
            Filter="SERVICE_CONTROL_POLICY",
        )
    )


def _ou_name(access: AccountAccess, ou_id: str) -> str:
    unit = call(
        access, "organizations", "describe_organizational_unit", OrganizationalUnitId=ou_id
    )["OrganizationalUnit"]
    return unit.get("Name", "")


SCP_CACHE_SECONDS = 60.0
_SCP_CACHE_SIZE = 256
_scp_cache: OrderedDict[str, tuple[float, str]] = OrderedDict()
_scp_cache_lock = threading.Lock()


def _scp_cached(policy_id: str) -> str | None:
    with _scp_cache_lock:
        found = _scp_cache.get(policy_id)
        if found is None:
            return None
        if time.monotonic() - found[0] > SCP_CACHE_SECONDS:
            del _scp_cache[policy_id]
            return None
        return found[1]


def _scp_content(access: AccountAccess, policy_id: str) -> str:
    policy = call(access, "organizations", "describe_policy", PolicyId=policy_id)["Policy"]
    content = policy.get("Content") or "{}"
    with _scp_cache_lock:
        _scp_cache[policy_id] = (time.monotonic(), content)
        _scp_cache.move_to_end(policy_id)
        while len(_scp_cache) > _SCP_CACHE_SIZE:
            _scp_cache.popitem(last=False)
    return content


def scp_cache_clear() -> None:
    """Forget cached SCP contents (tests, or after changing an SCP)."""
    with _scp_cache_lock:
        _scp_cache.clear()


@dataclass(frozen=True)
class SimulationResult:
    """What iam:SimulatePrincipalPolicy decided for one action on one resource."""

    decision: str  # allowed, explicitDeny or implicitDeny
    matched: tuple[str, ...]  # the SourcePolicyId of each matched statement
    missing_context: tuple[str, ...]

    @property
    def allowed(self) -> bool:
        return self.decision == "allowed"


def principal_policy_simulate(
    access: AccountAccess,
    *,
    principal_arn: str,
    action: str,
    resource_arn: str,
    context: dict[str, str] | None = None,
) -> SimulationResult:
    """AWS's own evaluator for the principal's identity policies (groups and permissions
    boundary included; not SCPs, not another account's trust policy):
    iam:SimulatePrincipalPolicy with one action, one resource and the context keys
    given (string or boolean values). Raises AwsError (AccessDenied when the portal
    may not simulate)."""
    entries = [
        {
            "ContextKeyName": key,
            "ContextKeyValues": [value],
            "ContextKeyType": "boolean" if value in ("true", "false") else "string",
        }
        for key, value in (context or {}).items()
    ]
    params: dict[str, Any] = {
        "PolicySourceArn": principal_arn,
        "ActionNames": [action],
        "ResourceArns": [resource_arn],
    }
    if entries:
        params["ContextEntries"] = entries
    response = call(access, "iam", "simulate_principal_policy", **params)
    result = (response.get("EvaluationResults") or [{}])[0]
    return SimulationResult(
        decision=result.get("EvalDecision", ""),
        matched=tuple(
            statement.get("SourcePolicyId", "") for statement in result.get("MatchedStatements", [])
        ),
        missing_context=tuple(result.get("MissingContextValues", [])),
    )


# --- does a principal exist (a trust policy may name only principals that exist) -------


def principal_arn(access: AccountAccess, *, principal_type: str, name: str) -> str | None:
    """The ARN of the IAM user or role `name` in the account (`principal_type` "user" or
    "role"; iam:GetUser / iam:GetRole), or None when IAM answers NoSuchEntity.

    AWS refuses a trust policy naming a principal that does not exist
    (MalformedPolicyDocument: Invalid principal in policy). Every other failure
    raises AwsError.
    """
    if principal_type == "role":
        response = _get_or_none(access, "get_role", RoleName=name)
        return response["Role"]["Arn"] if response else None
    response = _get_or_none(access, "get_user", UserName=name)
    return response["User"]["Arn"] if response else None


def _get_or_none(access: AccountAccess, method: str, **params: Any) -> dict[str, Any] | None:
    try:
        return call(access, "iam", method, **params)
    except AwsError as exc:
        if exc.code == "NoSuchEntity":
            return None
        raise
