"""The disagreement checker: AWS as moto holds it against the portal's records.

AWS is read directly (botocore against the moto server, never through the
portal's gateway or the fault proxy); the records come from the database.
Every disagreement found is listed; an empty list is the only good answer.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import botocore.session
from botocore.config import Config

from grants.aws import sandbox
from grants.models import AccessMethod, AwsAccount, Grant, GrantStatus

PORTAL_TAG = "xacct:managed-by"
GRANT_TAG = "xacct:grant"
# Statuses whose record claims the grant's AWS resources (some may be missing for
# partial and provisioning; a provisioning grant is reported as stuck instead).
RECORDING = {
    GrantStatus.ACTIVE,
    GrantStatus.FAILING,
    GrantStatus.PARTIAL,
    GrantStatus.PROVISIONING,
}
# Statuses that say both halves are in place.
WHOLE = {GrantStatus.ACTIVE, GrantStatus.FAILING}


@dataclass(frozen=True, order=True)
class Disagreement:
    """One place where AWS and the records disagree."""

    # orphan role, orphan policy, missing role, missing policy, drift, unrecorded, stuck
    kind: str
    where: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.where}: {self.detail}"


@dataclass
class RoleState:
    name: str
    tags: dict[str, str]
    trust_policy: dict
    attached: set[str]
    inline: dict[str, dict]


@dataclass
class AccountState:
    """Everything IAM holds in one account that the portal could have made."""

    account_id: str
    roles: dict[str, RoleState] = field(default_factory=dict)  # by lower-case name
    user_policies: dict[str, dict[str, dict]] = field(default_factory=dict)  # user -> name -> doc


def _document(value: Any) -> dict:
    if isinstance(value, dict):
        return value
    return json.loads(unquote(value))


@functools.cache
def _botocore_session() -> botocore.session.Session:
    """One session for every reader: loading the service models is the slow part."""
    return botocore.session.Session()


class AwsReader:
    """botocore clients straight to the moto server, one per account (via its hub role)."""

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url
        self._session = _botocore_session()
        self._config = Config(
            connect_timeout=5, read_timeout=30, retries={"mode": "standard", "max_attempts": 1}
        )
        self._iam: dict[str, Any] = {}

    def _client(self, service: str, **keys: str | None) -> Any:
        return self._session.create_client(
            service,
            region_name=sandbox.REGION,
            endpoint_url=self.endpoint_url,
            config=self._config,
            **keys,
        )

    def iam(self, account_id: str) -> Any:
        """An IAM client acting in the account (moto: the account of the access key)."""
        if account_id not in self._iam:
            self._iam[account_id] = self.client_in(account_id, "iam")
        return self._iam[account_id]

    def client_in(self, account_id: str, service: str) -> Any:
        """A client of `service` acting in the account, through its hub role."""
        sts = self._client("sts", aws_access_key_id="checker", aws_secret_access_key="checker")
        creds = sts.assume_role(
            RoleArn=f"arn:aws:iam::{account_id}:role/{sandbox.HUB_ROLE_NAME}",
            RoleSessionName="disagreement-checker",
        )["Credentials"]
        return self._client(
            service,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )

    def account_state(self, account_id: str) -> AccountState:
        iam = self.iam(account_id)
        state = AccountState(account_id)
        for page in iam.get_paginator("list_roles").paginate():
            for role in page["Roles"]:
                name = role["RoleName"]
                full = iam.get_role(RoleName=name)["Role"]
                attached = {
                    p["PolicyArn"]
                    for page in iam.get_paginator("list_attached_role_policies").paginate(
                        RoleName=name
                    )
                    for p in page["AttachedPolicies"]
                }
                inline = {
                    policy: _document(
                        iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
                    )
                    for page in iam.get_paginator("list_role_policies").paginate(RoleName=name)
                    for policy in page["PolicyNames"]
                }
                state.roles[name.lower()] = RoleState(
                    name=name,
                    tags={t["Key"]: t["Value"] for t in full.get("Tags", [])},
                    trust_policy=_document(full.get("AssumeRolePolicyDocument") or {}),
                    attached=attached,
                    inline=inline,
                )
        for page in iam.get_paginator("list_users").paginate():
            for user in page["Users"]:
                name = user["UserName"]
                state.user_policies[name] = {
                    policy: _document(
                        iam.get_user_policy(UserName=name, PolicyName=policy)["PolicyDocument"]
                    )
                    for page in iam.get_paginator("list_user_policies").paginate(UserName=name)
                    for policy in page["PolicyNames"]
                }
        return state


def open_operations() -> list[tuple[int, int, str]]:
    """(operation id, grant id, state) of every operation still queued or running."""
    from grants.models import Operation

    return [
        (op.pk, op.grant_id, op.state)
        for op in Operation.objects.filter(state__in=Operation.OPEN).order_by("pk")
    ]


def _grantee_policy(grant: Grant, states: dict[str, AccountState]) -> dict | None:
    """The grantee's policy of the grant as AWS holds it, or None."""
    assert grant.trusted_account is not None
    trusted = states.get(grant.trusted_account.account_id)
    if trusted is None:
        return None
    if grant.grantee_type == "user":
        return trusted.user_policies.get(grant.grantee_name, {}).get(grant.user_policy_name)
    grantee_role = trusted.roles.get(grant.grantee_name.lower())
    return grantee_role.inline.get(grant.user_policy_name) if grantee_role else None


def _unrecorded_parts(grant: Grant, states: dict[str, AccountState]) -> list[Disagreement]:
    """A partial grant's record lists what may still be in AWS (`applied_steps`, in
    provisioning's names); a part AWS holds that the list leaves out is a disagreement."""
    listed = set(grant.applied_steps or [])
    present: list[str] = []
    trusting = states.get(grant.trusting_account.account_id)
    role = trusting.roles.get(grant.role_name.lower()) if trusting else None
    if role is not None:
        present.append("role")
        present += [f"attach:{arn}" for arn in sorted(role.attached)]
        present += [f"inline:{name}" for name in sorted(role.inline)]
    if grant.trusted_is_managed and grant.grantee_name and _grantee_policy(grant, states):
        present.append("grantee-policy")
    return [
        Disagreement(
            "unrecorded",
            f"grant #{grant.pk} {grant.role_name}",
            f"{key} is in AWS; the partial grant records only {sorted(listed)}",
        )
        for key in present
        if key not in listed
    ]


def disagreements(reader: AwsReader) -> list[Disagreement]:
    """Every disagreement between AWS and the records, sorted (empty: they agree)."""
    found: list[Disagreement] = []
    accounts = [a for a in AwsAccount.objects.all() if a.access_method != AccessMethod.EXTERNAL]
    hub_roles = {a.hub_role_name.lower() for a in accounts if a.hub_role_name}
    states = {a.account_id: reader.account_state(a.account_id) for a in accounts}
    grants = list(Grant.objects.select_related("trusting_account", "trusted_account"))
    by_pk = {g.pk: g for g in grants}

    def recording(account_id: str, role_name: str) -> list[Grant]:
        return [
            g
            for g in grants
            if g.status in RECORDING
            and g.trusting_account.account_id == account_id
            and g.role_name.lower() == role_name.lower()
        ]

    # Roles in AWS that no live grant records.
    for account_id, state in states.items():
        for role in state.roles.values():
            where = f"role {role.name} in {account_id}"
            tag = role.tags.get(GRANT_TAG)
            if tag is not None:
                owner = by_pk.get(int(tag)) if tag.isdigit() else None
                if owner is None:
                    found.append(
                        Disagreement(
                            "orphan role", where, f"tagged for grant {tag}, which does not exist"
                        )
                    )
                elif owner.status not in RECORDING:
                    found.append(
                        Disagreement(
                            "orphan role", where, f"tagged for grant {tag}, which is {owner.status}"
                        )
                    )
                elif (
                    owner.trusting_account.account_id != account_id
                    or owner.role_name.lower() != role.name.lower()
                ):
                    found.append(
                        Disagreement(
                            "orphan role",
                            where,
                            f"tagged for grant {tag}, which records another role",
                        )
                    )
                continue
            if role.name.lower() in hub_roles or recording(account_id, role.name):
                continue
            dead = [
                g
                for g in grants
                if g.trusting_account.account_id == account_id
                and g.role_name.lower() == role.name.lower()
            ]
            if dead:
                statuses = ", ".join(f"#{g.pk} {g.status}" for g in dead)
                found.append(
                    Disagreement("orphan role", where, f"untagged; its grants are {statuses}")
                )

    # The grantee's policies in AWS that no live grant records.
    def grantee_policy_recorded(
        account_id: str, kind: str, grantee: str, policy: str
    ) -> list[Grant]:
        return [
            g
            for g in grants
            if g.trusted_account is not None
            and g.trusted_account.account_id == account_id
            and g.grantee_type == kind
            and g.grantee_name == grantee
            and g.user_policy_name == policy
        ]

    for account_id, state in states.items():
        candidates: list[tuple[str, str, str]] = [
            ("user", user, policy)
            for user, policies_ in state.user_policies.items()
            for policy in policies_
        ]
        for role in state.roles.values():
            if GRANT_TAG in role.tags or recording(account_id, role.name):
                continue  # a grant's own role: its inline policies are its permissions
            candidates += [("role", role.name, policy) for policy in role.inline]
        for kind, grantee, policy in candidates:
            owners = grantee_policy_recorded(account_id, kind, grantee, policy)
            if any(g.status in RECORDING for g in owners):
                continue
            if owners or policy.startswith("xacct-"):
                statuses = ", ".join(f"#{g.pk} {g.status}" for g in owners) or "none"
                found.append(
                    Disagreement(
                        "orphan policy",
                        f"{policy} on {kind} {grantee} in {account_id}",
                        f"recorded by no live grant (grants: {statuses})",
                    )
                )

    # Live grants: both halves present, as recorded.
    for grant in grants:
        where = f"grant #{grant.pk} {grant.role_name}"
        if grant.status == GrantStatus.PROVISIONING:
            found.append(Disagreement("stuck", where, f"{grant.status} after recovery"))
        if grant.status in WHOLE and grant.revoke_requested_at is not None:
            found.append(
                Disagreement(
                    "stuck", where, f"revoke requested but the grant is still {grant.status}"
                )
            )
        if grant.status == GrantStatus.PARTIAL:
            found += _unrecorded_parts(grant, states)
        if grant.status not in WHOLE:
            continue
        trusting = states.get(grant.trusting_account.account_id)
        role = trusting.roles.get(grant.role_name.lower()) if trusting else None
        if role is None:
            found.append(Disagreement("missing role", where, "the role does not exist"))
        else:
            if role.trust_policy != grant.trust_policy:
                found.append(Disagreement("drift", where, "trust policy differs from the record"))
            if role.attached != set(grant.managed_policy_arns):
                found.append(
                    Disagreement(
                        "drift",
                        where,
                        f"attached {sorted(role.attached)}, "
                        f"recorded {sorted(grant.managed_policy_arns)}",
                    )
                )
            recorded_inline = (
                {grant.inline_policy_name: grant.inline_policy} if grant.inline_policy else {}
            )
            if role.inline != recorded_inline:
                found.append(
                    Disagreement(
                        "drift",
                        where,
                        f"inline {sorted(role.inline)}, recorded {sorted(recorded_inline)}",
                    )
                )
            if not grant.imported_at and role.tags.get(GRANT_TAG) != str(grant.pk):
                found.append(Disagreement("drift", where, f"role tags {role.tags}"))
        if grant.trusted_is_managed and grant.grantee_name:
            live = _grantee_policy(grant, states)
            if live is None:
                found.append(
                    Disagreement(
                        "missing policy", where, f"{grant.user_policy_name} is not on the grantee"
                    )
                )
            elif live != grant.user_policy:
                found.append(
                    Disagreement("drift", where, "the grantee's policy differs from the record")
                )

    for op_id, grant_id, state in open_operations():
        found.append(
            Disagreement(
                "stuck", f"operation #{op_id} of grant #{grant_id}", f"still {state} after recovery"
            )
        )
    return sorted(set(found))
