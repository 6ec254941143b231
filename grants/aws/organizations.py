"""AWS Organizations reads: the organization, its OU tree and its accounts.

Only the management account or a delegated administrator may list an
organization's OUs and accounts; every failure (AccessDeniedException,
AWSOrganizationsNotInUseException, throttling, no answer) leaves as AwsError.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .core import AccountAccess, Concurrent, call, paginate
from .errors import AwsError

# An organization nests OUs at most five levels under its root ("Quotas for AWS
# Organizations", AWS Organizations User Guide); the walk stops well past that.
_MAX_DEPTH = 8


@dataclass(frozen=True)
class Organization:
    """organizations:DescribeOrganization: the organization the caller belongs to."""

    id: str
    arn: str
    management_account_id: str
    management_account_email: str
    feature_set: str


@dataclass(frozen=True)
class OrganizationalUnit:
    """A root or an OU, with its name path ("Root/Workloads/Prod") and entity path
    ("o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/", what aws:PrincipalOrgPaths matches)."""

    id: str
    name: str
    path: str
    entity_path: str
    parent_id: str = ""

    @property
    def is_root(self) -> bool:
        return not self.parent_id


@dataclass(frozen=True)
class OrganizationAccount:
    """One member account as ListAccountsForParent describes it, placed in the tree.

    `status` is the API's `State` (PENDING_ACTIVATION, ACTIVE, SUSPENDED,
    PENDING_CLOSURE, CLOSED) when AWS sends it, else its older `Status` (ACTIVE,
    SUSPENDED, PENDING_CLOSURE); both are enums of the Organizations API model.
    `ou_path` and `entity_path` are those of the parent (root or OU).
    """

    account_id: str
    name: str
    email: str
    status: str
    arn: str
    joined_method: str
    parent_id: str
    ou_path: str
    entity_path: str


@dataclass(frozen=True)
class OrganizationTree:
    """Every root, OU and account the caller may list, roots and parents first."""

    organization: Organization
    units: tuple[OrganizationalUnit, ...]
    accounts: tuple[OrganizationAccount, ...]


def organization_describe(access: AccountAccess) -> Organization:
    """organizations:DescribeOrganization as the portal acts in `access`'s account.

    Any member account may call it. Raises AwsError: AWSOrganizationsNotInUseException
    when the account belongs to no organization, AccessDeniedException when the
    portal's identity may not call it.
    """
    found = call(access, "organizations", "describe_organization")["Organization"]
    return Organization(
        id=found["Id"],
        arn=found.get("Arn", ""),
        management_account_id=found.get("MasterAccountId", ""),
        management_account_email=found.get("MasterAccountEmail", ""),
        feature_set=found.get("FeatureSet", ""),
    )


def organization_tree(
    access: AccountAccess, *, organization: Organization | None = None
) -> OrganizationTree:
    """The organization's roots, OUs and accounts, each with its name and entity path.

    ListRoots, then level by level ListOrganizationalUnitsForParent and
    ListAccountsForParent for every parent of the level at once (all pages of each:
    AWS returns at most 20 accounts or OUs a page). Only the management account or a
    delegated administrator may call them; a member account gets
    AccessDeniedException. `organization` saves the DescribeOrganization call when the
    caller already has it. Raises AwsError on any failure (the first one met).
    """
    if organization is None:
        organization = organization_describe(access)
    roots = [
        OrganizationalUnit(
            id=root["Id"],
            name=root.get("Name", "Root"),
            path=root.get("Name", "Root"),
            entity_path=f"{organization.id}/{root['Id']}/",
        )
        for root in paginate(access, "organizations", "list_roots", "Roots")
    ]
    units: list[OrganizationalUnit] = list(roots)
    accounts: list[OrganizationAccount] = []
    level = roots
    for _ in range(_MAX_DEPTH):
        if not level:
            break
        children: dict[str, list[dict]] = {}
        members: dict[str, list[dict]] = {}
        errors: list[AwsError] = []
        reads = Concurrent(max_workers=4)
        for parent in level:
            reads.submit(
                _ous_for_parent, access, parent.id, then=_keep(children, parent.id, errors)
            )
            reads.submit(
                _accounts_for_parent, access, parent.id, then=_keep(members, parent.id, errors)
            )
        reads.run()
        if errors:
            raise errors[0]
        next_level: list[OrganizationalUnit] = []
        for parent in level:
            for account in members.get(parent.id, []):
                accounts.append(
                    OrganizationAccount(
                        account_id=account["Id"],
                        name=account.get("Name", ""),
                        email=account.get("Email", ""),
                        status=account.get("State") or account.get("Status", ""),
                        arn=account.get("Arn", ""),
                        joined_method=account.get("JoinedMethod", ""),
                        parent_id=parent.id,
                        ou_path=parent.path,
                        entity_path=parent.entity_path,
                    )
                )
            for unit in sorted(children.get(parent.id, []), key=lambda u: u.get("Name", "")):
                next_level.append(
                    OrganizationalUnit(
                        id=unit["Id"],
                        name=unit.get("Name", unit["Id"]),
                        path=f"{parent.path}/{unit.get('Name', unit['Id'])}",
                        entity_path=f"{parent.entity_path}{unit['Id']}/",
                        parent_id=parent.id,
                    )
                )
        units.extend(next_level)
        level = next_level
    return OrganizationTree(
        organization=organization,
        units=tuple(units),
        accounts=tuple(sorted(accounts, key=lambda a: (a.ou_path, a.name.lower()))),
    )


def _keep(store: dict[str, list[dict]], key: str, errors: list[AwsError]) -> Any:
    def then(value: list[dict] | None, error: AwsError | None) -> None:
        if error is not None:
            errors.append(error)
        else:
            store[key] = value or []

    return then


def _ous_for_parent(access: AccountAccess, parent_id: str) -> list[dict]:
    return list(
        paginate(
            access,
            "organizations",
            "list_organizational_units_for_parent",
            "OrganizationalUnits",
            ParentId=parent_id,
        )
    )


def _accounts_for_parent(access: AccountAccess, parent_id: str) -> list[dict]:
    return list(
        paginate(
            access, "organizations", "list_accounts_for_parent", "Accounts", ParentId=parent_id
        )
    )
