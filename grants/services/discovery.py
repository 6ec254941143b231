"""Discovery: roles in a managed account whose trust reaches outside it, and importing them."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.utils import timezone

from .. import aws, policies
from ..models import (
    AuditAction,
    AuditOutcome,
    AwsAccount,
    Grant,
    GranteeType,
    GrantStatus,
    PermissionSet,
    TrustScope,
)
from .audit import audit_record
from .authz import require
from .guardrails import portal_access_refusal, portal_access_role_names

# IAM unique IDs a trust policy shows once the principal it named was deleted.
_UNIQUE_ID = re.compile(r"^(AROA|AIDA|AIPA|ANPA|AGPA|ASIA)[A-Z0-9]{12,}$")
_ACCOUNT = re.compile(r"^(\d{12})$|^arn:aws[\w-]*:(iam|sts)::(\d{12}):")


@dataclass
class DiscoveredRole:
    name: str
    arn: str
    principals: list[str]
    external_accounts: list[str]
    risks: list[str] = field(default_factory=list)
    grant_id: int | None = None
    # Why this is one of the roles the portal acts through ("" when it is not).
    portal_access: str = ""
    # Conditions every trust statement admitting an outside principal requires:
    # any of "external ID", "MFA", "organization" (aws:PrincipalOrgID/PrincipalOrgPaths).
    guarded_by: list[str] = field(default_factory=list)

    @property
    def importable(self) -> bool:
        return (
            not self.portal_access
            and self.grant_id is None
            and len(self.external_accounts) == 1
            and "*" not in self.principals
        )


_ORG_KEYS = frozenset({"aws:principalorgid", "aws:principalorgpaths"})


def _trusted_principals(document: dict) -> tuple[list[str], list[str]]:
    """AWS principals of Allow statements for sts:AssumeRole, and the guards every such
    statement requires: "external ID" (sts:ExternalId), "MFA" (aws:MultiFactorAuthPresent),
    "organization" (aws:PrincipalOrgID or aws:PrincipalOrgPaths; IAM User Guide, AWS
    global condition context keys)."""
    principals: list[str] = []
    all_external_id = all_mfa = all_org = True
    found = False
    for statement in document.get("Statement", []):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        if not policies.action_matches(statement, "sts:AssumeRole"):
            continue
        principal = statement.get("Principal")
        if principal == "*":
            entries = ["*"]
        elif isinstance(principal, dict) and "AWS" in principal:
            value = principal["AWS"]
            entries = value if isinstance(value, list) else [value]
        else:
            continue
        found = True
        principals.extend(str(e) for e in entries)
        keys = {k.lower() for tests in (statement.get("Condition") or {}).values() for k in tests}
        all_external_id &= "sts:externalid" in keys
        all_mfa &= "aws:multifactorauthpresent" in keys
        all_org &= bool(keys & _ORG_KEYS)
    guards = [
        name
        for name, every in (
            ("external ID", all_external_id),
            ("MFA", all_mfa),
            ("organization", all_org),
        )
        if found and every
    ]
    return principals, guards


def _grants_by_role_name(account: AwsAccount) -> dict[str, int]:
    return dict(
        Grant.objects.filter(trusting_account=account)
        .exclude(status__in=[GrantStatus.REVOKED, GrantStatus.EXPIRED, GrantStatus.FAILED])
        .values_list("role_name", "pk")
    )


def discovery_results_store(*, roles: list[DiscoveredRole]) -> list[dict[str, Any]]:
    """The roles of one discovery run as JSON-safe dicts (for the session), in order."""
    return [asdict(role) for role in roles]


def discovery_results_load(
    *, account: AwsAccount, stored: list[dict[str, Any]]
) -> list[DiscoveredRole]:
    """The stored roles of a discovery run, each `grant_id` read again from the records.

    A role imported (or whose grant was revoked) since the run shows its current
    state: the page never offers "Import" for a role that is already a grant.
    No AWS call.
    """
    known = _grants_by_role_name(account)
    roles = [DiscoveredRole(**entry) for entry in stored]
    for role in roles:
        role.grant_id = known.get(role.name)
    return roles


def account_discover(*, account: AwsAccount) -> list[DiscoveredRole]:
    """Roles whose trust policy admits principals outside the account, riskiest first.

    The roles the portal acts through (grants.services.guardrails) are listed with
    `portal_access` saying so, and are never importable. Raises `aws.AwsError` when
    the roles cannot be listed (iam:ListRoles, all pages).
    """
    return discovered_roles(account=account, roles=aws.roles(account.access()))


def discovered_roles(*, account: AwsAccount, roles: list[aws.RoleInfo]) -> list[DiscoveredRole]:
    """The cross-account roles among `roles` (as `aws.roles` read them from `account`),
    riskiest first. Reads the records (grants, the portal's access roles); no AWS call.

    A trust names an outside principal when its account ID (a bare 12-digit ID or
    the account field of an IAM/STS ARN) differs from `account`'s. Flagged: a
    wildcard principal, a unique ID left by a deleted principal (AROA…, AIDA…: IAM
    User Guide, "Unique identifiers"), and a whole account trusted with no external
    ID, MFA or organization condition.
    """
    access_roles = portal_access_role_names(account_id=account.account_id)
    known = _grants_by_role_name(account)
    found: list[DiscoveredRole] = []
    for role in roles:
        principals, guards = _trusted_principals(role.trust_policy)
        outside: list[str] = []
        risks: list[str] = []
        for principal in principals:
            if principal == "*":
                risks.append("Wildcard principal: anyone in any AWS account can assume it.")
                continue
            if _UNIQUE_ID.match(principal):
                risks.append(
                    f"Orphaned principal {principal}: the user or role it named was deleted."
                )
                continue
            match = _ACCOUNT.match(principal)
            other = next((g for g in (match.groups() if match else ()) if g and g.isdigit()), None)
            if other and other != account.account_id:
                outside.append(principal)
                whole = principal == other or principal.endswith(":root")
                if whole and not guards:
                    risks.append(
                        f"Trusts the whole account {other} with neither an external ID nor MFA."
                    )
        if not (outside or risks):
            continue
        found.append(
            DiscoveredRole(
                name=role.name,
                arn=role.arn,
                principals=principals,
                external_accounts=sorted({p if p.isdigit() else p.split(":")[4] for p in outside}),
                risks=list(dict.fromkeys(risks)),
                grant_id=known.get(role.name),
                portal_access=(
                    portal_access_refusal(
                        account_id=account.account_id, role_name=role.name, doing="import"
                    )
                    if role.name.lower() in access_roles
                    else ""
                ),
                guarded_by=guards,
            )
        )
    return sorted(found, key=lambda r: (not r.risks, r.name.lower()))


def role_risk(*, role: DiscoveredRole, registered_account_ids: set[str]) -> tuple[str, list[str]]:
    """The risk of a discovered role ("high", "medium" or "low") and the reasons for it.

    - high: a wildcard principal ("*": any AWS account); a whole account trusted
      with no external ID, MFA or organization condition (every principal there
      whose own policies allow sts:AssumeRole can assume it: IAM User Guide,
      "How to use trust policies with IAM roles"); or a principal of an account
      not registered in the portal, unguarded.
    - medium: a principal of an unregistered account behind a guard; a whole
      account trusted behind a guard; a principal left by a deletion (AROA…),
      which nobody can use but which shows a trust nobody maintains.
    - low: only named principals of registered accounts.

    `registered_account_ids` are the 12-digit IDs of the accounts the portal knows.
    Pure: no AWS call, no database read.
    """
    high: list[str] = []
    medium: list[str] = []
    guards = " and ".join(role.guarded_by)
    if "*" in role.principals:
        high.append('Trusts any AWS principal (wildcard "*").')
    for principal in role.principals:
        if _UNIQUE_ID.match(principal):
            medium.append(f"Names {principal}, a deleted principal: the trust is stale.")
    for other in role.external_accounts:
        entries = [p for p in role.principals if p == other or f"::{other}:" in p]
        whole = any(p == other or p.endswith(":root") for p in entries)
        unknown = other not in registered_account_ids
        where = f"account {other}" + (", not registered in the portal," if unknown else "")
        if whole and not guards:
            high.append(
                f"Trusts the whole {where} with no external ID, MFA or organization condition."
            )
        elif unknown and not guards:
            high.append(f"Trusts {', '.join(entries)} in {where} with no condition.")
        elif whole:
            medium.append(f"Trusts the whole {where}, guarded by {guards}.")
        elif unknown:
            medium.append(f"Trusts {', '.join(entries)} in {where}, guarded by {guards}.")
    if high:
        return "high", high + medium
    if medium:
        return "medium", medium
    return "low", ["Trusts only named principals of accounts registered in the portal."]


def grant_import(*, account: AwsAccount, role_name: str, actor: AbstractBaseUser | None) -> Grant:
    """Record a discovered role of `account` as a grant and return it.

    The grant's user-policy half stays unknown until checked. Raises
    `PermissionDenied` without the grant manager role, `ValidationError` when the
    role is not an importable cross-account role, and refuses (with an audit
    record) the roles the portal acts through: a grant of one could later be
    revoked, cutting the portal off from the account (grants.services.guardrails).
    Raises `aws.AwsError` when AWS cannot be read.
    """
    require(actor, "manage_grant")
    refusal = portal_access_refusal(
        account_id=account.account_id, role_name=role_name, doing="import"
    )
    if refusal:
        audit_record(
            actor=actor,
            action=AuditAction.GRANT_IMPORT,
            outcome=AuditOutcome.FAILURE,
            account=account,
            target_arn=f"arn:{account.partition}:iam::{account.account_id}:role/{role_name}"[:2048],
            message=f"Refused: {refusal}",
        )
        raise ValidationError(refusal)
    discovered = {r.name: r for r in account_discover(account=account)}
    role = discovered.get(role_name)
    if role is None:
        raise ValidationError(f"{role_name} is not a cross-account role of {account}.")
    if not role.importable:
        raise ValidationError(
            f"{role_name} cannot be imported: "
            + ("it is already a grant." if role.grant_id else "it trusts no single other account.")
        )
    access = account.access()
    live = aws.role_get(access, role_name)
    if live is None:
        raise ValidationError(f"{role_name} no longer exists in {account}.")
    inline = aws.role_inline_policies(access, role_name=role_name)
    inline_name = sorted(inline)[0] if inline else ""
    trusted_id = role.external_accounts[0]
    principal = next(p for p in role.principals if trusted_id in p)
    whole = principal == trusted_id or principal.endswith(":root")
    trusted = AwsAccount.objects.filter(account_id=trusted_id).first()
    grant = Grant(
        trusting_account=account,
        role_name=live.name,
        role_path=live.path,
        max_session_duration=live.max_session_duration,
        region=account.default_region,
        trusted_account=trusted,
        trusted_aws_account_id=trusted_id,
        trust_scope=TrustScope.ACCOUNT if whole else TrustScope.PRINCIPAL,
        trusted_principal_arn=(
            policies.account_root_arn(trusted_id, partition=account.partition)
            if whole
            else principal
        ),
        permission_set=PermissionSet.CUSTOM,
        managed_policy_arns=aws.role_attached_policy_arns(access, role_name=role_name),
        inline_policy_name=inline_name,
        inline_policy=inline.get(inline_name),
        user_policy_name="(unknown)",
        trust_policy=live.trust_policy,
        user_policy=policies.assume_role_policy(role_arn=live.arn),
        status=GrantStatus.ACTIVE,
        role_arn=live.arn,
        imported_at=timezone.now(),
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    grant.full_clean(exclude=["user_policy_name"])
    grant.save()
    audit_record(
        actor=actor,
        action=AuditAction.GRANT_IMPORT,
        account=account,
        grant=grant,
        target_arn=live.arn,
        message=f"Imported {live.arn}; trusts {principal}.",
    )
    return grant


def grant_import_complete(
    *,
    grant: Grant,
    grantee_type: str,
    grantee_name: str,
    user_policy_name: str,
    grantee_profile: str,
    actor: AbstractBaseUser | None,
) -> Grant:
    """Name the grantee of an imported grant (its user-policy half) and return the grant.

    `grantee_type` is "user" or "role"; `user_policy_name` is the inline policy in
    the trusted account that allows sts:AssumeRole on the role; `grantee_profile`
    a local AWS profile holding the grantee's credentials ("" for none). When the
    trust names one principal, the grantee must be that principal (IAM evaluates
    the trust against it). Where the trusted account is managed, the grantee is
    read live (iam:GetUser / iam:GetRole): naming one that does not exist raises
    `ValidationError`, as do a grant that was not imported and invalid names
    (the model's validators: AWS_NOTES input rules). Raises `PermissionDenied`
    without the grant manager role and `aws.AwsError` when IAM cannot be read.
    """
    require(actor, "manage_grant")
    if grant.imported_at is None:
        raise ValidationError("Only an imported grant has its grantee named after the fact.")
    if grantee_type not in GranteeType.values:
        raise ValidationError(f"Unknown grantee type {grantee_type!r}.")
    if grant.trust_scope == TrustScope.PRINCIPAL and grant.trusted_principal_arn:
        kind, _, path_name = grant.trusted_principal_arn.split(":", 5)[5].partition("/")
        trusted_name = path_name.rsplit("/", 1)[-1]
        if (kind, trusted_name) != (grantee_type, grantee_name):
            raise ValidationError(
                f"The role trusts only {grant.trusted_principal_arn}: that principal is the "
                f"grantee, not {GranteeType(grantee_type).label} {grantee_name}."
            )
    if grant.trusted_is_managed:
        assert grant.trusted_account is not None
        found = aws.principal_arn(
            grant.trusted_account.access(), principal_type=grantee_type, name=grantee_name
        )
        if found is None:
            raise ValidationError(
                f"There is no {GranteeType(grantee_type).label} {grantee_name} in "
                f"{grant.trusted_account}."
            )
    grant.grantee_type = grantee_type
    grant.grantee_name = grantee_name
    grant.user_policy_name = user_policy_name
    grant.grantee_profile = grantee_profile
    grant.full_clean()
    grant.save(
        update_fields=["grantee_type", "grantee_name", "user_policy_name", "grantee_profile"]
    )
    audit_record(
        actor=actor,
        action=AuditAction.GRANT_UPDATE,
        account=grant.trusted_account or grant.trusting_account,
        grant=grant,
        target_arn=grant.role_arn,
        message=(
            f"Grantee named: {GranteeType(grantee_type).label} {grantee_name} "
            f"in {grant.trusted_aws_account_id}, user policy {user_policy_name}."
        ),
    )
    return grant
