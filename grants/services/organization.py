"""Accounts from AWS Organizations: list them from a management or delegated-administrator
account, register chosen accounts or a whole OU, and keep their OU path and status current."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .. import aws
from ..aws import sandbox
from ..models import AccessMethod, AuditAction, AuditOutcome, AwsAccount, OrgStatus
from .accounts import account_create
from .audit import audit_record
from .authz import require

DEFAULT_HUB_ROLE = "OrganizationAccountAccessRole"

# The Organizations API's account State (or older Status) → the record's OrgStatus.
# CLOSED: a closed account stays SUSPENDED for 90 days, then CLOSED; neither can be
# used. PENDING_ACTIVATION: created, not yet usable; shown as active once it is.
_STATUS = {
    "ACTIVE": OrgStatus.ACTIVE,
    "PENDING_ACTIVATION": OrgStatus.ACTIVE,
    "SUSPENDED": OrgStatus.SUSPENDED,
    "CLOSED": OrgStatus.SUSPENDED,
    "PENDING_CLOSURE": OrgStatus.PENDING_CLOSURE,
}

_ORG_FIELDS = ("organization_id", "ou_path", "org_entity_path", "org_status", "org_source_id")


class OrganizationUnavailable(Exception):
    """The organization could not be read from the source account: the AWS error and
    a plain explanation with what to do."""

    def __init__(self, detail: aws.AwsErrorDetail, explanation: str) -> None:
        super().__init__(detail.message)
        self.detail = detail
        self.explanation = explanation


@dataclass(frozen=True)
class ListedAccount:
    """One account of the organization and its record here, if registered."""

    account: aws.OrganizationAccount
    status: OrgStatus
    registered: AwsAccount | None
    is_management: bool


@dataclass(frozen=True)
class OrganizationListing:
    """What `organization_accounts_list` read: the organization, its OUs (roots first,
    each with how many accounts it holds, OUs below included) and its accounts."""

    source: AwsAccount
    organization: aws.Organization
    units: tuple[aws.OrganizationalUnit, ...]
    accounts: tuple[ListedAccount, ...]
    unit_sizes: dict[str, int] = field(default_factory=dict)

    @property
    def units_with_sizes(self) -> list[tuple[aws.OrganizationalUnit, int]]:
        return [(unit, self.unit_sizes.get(unit.id, 0)) for unit in self.units]

    def under(self, unit_id: str) -> list[ListedAccount]:
        """The accounts in the OU (or root) and every OU below it."""
        return [item for item in self.accounts if f"/{unit_id}/" in item.account.entity_path]


@dataclass
class RegistrationResult:
    """What `organization_accounts_register` did: records created, records already
    there whose organization facts were updated, and accounts left out with why."""

    created: list[AwsAccount] = field(default_factory=list)
    updated: list[AwsAccount] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class SyncResult:
    """What `organization_sync` did, or the error that stopped it (nothing changed then)."""

    source: AwsAccount
    organization_id: str = ""
    changed: list[AwsAccount] = field(default_factory=list)
    left: list[AwsAccount] = field(default_factory=list)
    unchanged: int = 0
    error: aws.AwsErrorDetail | None = None
    explanation: str = ""


def org_status_from_api(status: str) -> OrgStatus:
    """OrgStatus for the Organizations API's account State/Status (see _STATUS); an
    unknown value counts as suspended, the cautious reading."""
    return _STATUS.get(status.upper(), OrgStatus.SUSPENDED)


def organization_error_explain(
    detail: aws.AwsErrorDetail, *, source: AwsAccount, organization: aws.Organization | None
) -> str:
    """A plain explanation, with the fix, of why the organization could not be read
    from `source`; "" when the AWS error says it all.

    Only the management account and delegated administrators may call ListRoots,
    ListOrganizationalUnitsForParent and ListAccountsForParent; any member may call
    DescribeOrganization (AWS Organizations API Reference, each operation's
    "This operation can be called only from the organization's management account or
    by a member account that is a delegated administrator").
    """
    code = detail.code or detail.client_error
    where = f"{source.name} ({source.account_id})"
    if code == "AWSOrganizationsNotInUseException":
        return (
            f"{where} is not in an AWS Organization. Choose the organization's management "
            "account (or a delegated administrator) as the source."
        )
    member = organization is not None and organization.management_account_id != source.account_id
    if member and code in ("AccessDeniedException", "AccessDenied", "ParentNotFoundException"):
        assert organization is not None
        return (
            f"{where} is a member of organization {organization.id}, not its management "
            f"account ({organization.management_account_id}), and AWS Organizations has not "
            "made it a delegated administrator, so it may not list the organization's "
            "accounts. Read the organization from the management account, or delegate "
            "administration to this account (an Organizations resource policy, "
            "organizations:PutResourcePolicy)."
        )
    if code in ("AccessDeniedException", "AccessDenied"):
        return (
            f"The portal's identity in {where} may not read the organization: it needs "
            "organizations:DescribeOrganization, ListRoots, ListOrganizationalUnitsForParent "
            "and ListAccountsForParent (AWS's managed policy AWSOrganizationsReadOnlyAccess "
            "grants them)."
        )
    if code == "TooManyRequestsException":
        return "AWS Organizations throttled the portal's reads; try again in a minute."
    return ""


def organization_accounts_list(
    *, source: AwsAccount, actor: AbstractBaseUser | None = None
) -> OrganizationListing:
    """Read the organization `source` belongs to, as the portal acts in `source`.

    Returns its OUs with their name paths ("Root/Workloads/Prod") and entity paths
    ("o-…/r-…/ou-…/", what aws:PrincipalOrgPaths matches) and every account with its
    OU, e-mail, status (OrgStatus from the API's State/Status) and its record here, if
    registered. Reads only. Raises OrganizationUnavailable (the AWS error and an
    explanation) when the organization cannot be read, PermissionDenied when the actor
    may not manage accounts.
    """
    require(actor, "manage_account")
    access = source.access()
    organization: aws.Organization | None = None
    try:
        organization = aws.organization_describe(access)
        tree = aws.organization_tree(access, organization=organization)
    except aws.AwsError as exc:
        raise OrganizationUnavailable(
            exc.detail,
            organization_error_explain(exc.detail, source=source, organization=organization),
        ) from None
    registered = {
        account.account_id: account
        for account in AwsAccount.objects.filter(
            account_id__in=[item.account_id for item in tree.accounts]
        )
    }
    accounts = tuple(
        ListedAccount(
            account=item,
            status=org_status_from_api(item.status),
            registered=registered.get(item.account_id),
            is_management=item.account_id == organization.management_account_id,
        )
        for item in tree.accounts
    )
    sizes = {
        unit.id: sum(1 for item in tree.accounts if f"/{unit.id}/" in item.entity_path)
        for unit in tree.units
    }
    return OrganizationListing(
        source=source,
        organization=organization,
        units=tree.units,
        accounts=accounts,
        unit_sizes=sizes,
    )


def _unique_name(wanted: str, account_id: str, taken: set[str]) -> str:
    """The account's name from the organization, made unique among the registered names
    (case ignored) by adding its ID; at most 64 characters (AwsAccount.name)."""
    name = (wanted.strip() or account_id)[:64]
    if name.lower() not in taken:
        return name
    suffix = f"-{account_id}"
    return f"{name[: 64 - len(suffix)]}{suffix}"


def _org_facts(item: ListedAccount, *, source: AwsAccount, organization_id: str) -> dict:
    return {
        "organization_id": organization_id,
        "ou_path": item.account.ou_path,
        "org_entity_path": item.account.entity_path,
        "org_status": item.status,
        "org_source_id": source.pk,
    }


def _facts_apply(account: AwsAccount, facts: dict, *, now: object) -> list[str]:
    """Set the organization facts on the record; the names of those that changed."""
    changed = [name for name in _ORG_FIELDS if getattr(account, name) != facts[name]]
    for name in _ORG_FIELDS:
        setattr(account, name, facts[name])
    account.org_synced_at = now
    return changed


def organization_accounts_register(
    *,
    source: AwsAccount,
    account_ids: Sequence[str] = (),
    ou_id: str = "",
    hub_role_name: str = DEFAULT_HUB_ROLE,
    default_region: str = "",
    actor: AbstractBaseUser | None,
) -> RegistrationResult:
    """Register the chosen accounts of `source`'s organization, and every account in the
    OU `ou_id` and the OUs below it, reached through the hub role `hub_role_name`.

    Reads the organization again (never trusts what a form posted). Names come from the
    organization's account names, made unique with the account ID when one is taken;
    the owner e-mail is the account's e-mail; the region is `default_region`, else the
    source's. Accounts already registered keep their record and get the organization
    facts (OU path, entity path, status, source). All or nothing: an account not in the
    organization, a suspended or closing account chosen by ID, the management account
    (the organization creates no access role there), or an invalid hub role or region
    raises ValidationError and registers nothing; inside an OU, suspended, closing and
    management accounts are skipped and reported. Audited per account
    (account.create / account.update). Raises OrganizationUnavailable when the
    organization cannot be read, PermissionDenied without the manage_account permission.
    """
    require(actor, "manage_account")
    wanted_ids = list(dict.fromkeys(account_ids))
    if not wanted_ids and not ou_id:
        raise ValidationError("Choose accounts or an organizational unit to register.")
    listing = organization_accounts_list(source=source, actor=actor)
    by_id = {item.account.account_id: item for item in listing.accounts}
    unknown = [account_id for account_id in wanted_ids if account_id not in by_id]
    if unknown:
        raise ValidationError(
            f"Not in organization {listing.organization.id}: {', '.join(unknown)}. "
            "Reload the list: the organization may have changed."
        )
    result = RegistrationResult()
    chosen: list[ListedAccount] = []
    for account_id in wanted_ids:
        item = by_id[account_id]
        if item.is_management and item.registered is None:
            raise ValidationError(
                f"{item.account.name} ({account_id}) is the organization's management account: "
                "the organization creates no access role there. Register it by hand with the "
                "way the portal acts there."
            )
        if item.status != OrgStatus.ACTIVE:
            raise ValidationError(
                f"{item.account.name} ({account_id}) is {item.status.label.lower()} in the "
                "organization: the portal cannot act there."
            )
        chosen.append(item)
    if ou_id:
        unit = next((unit for unit in listing.units if unit.id == ou_id), None)
        if unit is None:
            raise ValidationError(
                f"No organizational unit {ou_id} in organization {listing.organization.id}."
            )
        for item in listing.under(ou_id):
            if item in chosen:
                continue
            if item.is_management and item.registered is None:
                result.skipped.append((item.account.account_id, "the management account"))
            elif item.status != OrgStatus.ACTIVE and item.registered is None:
                result.skipped.append((item.account.account_id, item.status.label.lower()))
            else:
                chosen.append(item)
    region = default_region or source.default_region
    now = timezone.now()
    with transaction.atomic():
        taken = {name.lower() for name in AwsAccount.objects.values_list("name", flat=True)}
        for item in chosen:
            facts = _org_facts(item, source=source, organization_id=listing.organization.id)
            existing = AwsAccount.objects.filter(account_id=item.account.account_id).first()
            if existing is not None:
                changed = _facts_apply(existing, facts, now=now)
                existing.save()
                if changed:
                    audit_record(
                        actor=actor,
                        action=AuditAction.ACCOUNT_UPDATE,
                        account=existing,
                        message=(
                            f"Organization {listing.organization.id}: {item.account.ou_path} "
                            f"({item.status.label}), listed from {source.name}."
                        ),
                    )
                result.updated.append(existing)
                continue
            name = _unique_name(item.account.name, item.account.account_id, taken)
            taken.add(name.lower())
            account = AwsAccount(
                account_id=item.account.account_id,
                name=name,
                owner_email=item.account.email,
                default_region=region,
                partition=source.partition,
                access_method=AccessMethod.HUB_ROLE,
                hub_role_name=hub_role_name,
            )
            _facts_apply(account, facts, now=now)
            try:
                account.full_clean()
            except ValidationError as exc:
                raise ValidationError(
                    f"{item.account.name} ({item.account.account_id}): {' '.join(exc.messages)}"
                ) from None
            account.save()
            audit_record(
                actor=actor,
                action=AuditAction.ACCOUNT_CREATE,
                account=account,
                message=(
                    f"Registered {account} from organization {listing.organization.id} "
                    f"({item.account.ou_path}, listed from {source.name}); the portal assumes "
                    f"{hub_role_name} there."
                ),
            )
            result.created.append(account)
    return result


def organization_sync(*, source: AwsAccount, actor: AbstractBaseUser | None) -> SyncResult:
    """Bring the organization facts of every registered account in `source`'s
    organization up to date: OU path, entity path and status (suspended and closing
    accounts shown as such). An account the organization no longer lists that was
    recorded in it (listed from `source`, or in the same organization) is marked LEFT,
    never deleted: grants refer to it. Only changes are audited (account.update).

    On a failed read nothing changes: the result carries the AWS error and the
    explanation, and a failure is audited on the source. Raises PermissionDenied
    without the manage_account permission.
    """
    require(actor, "manage_account")
    result = SyncResult(source=source)
    try:
        listing = organization_accounts_list(source=source, actor=actor)
    except OrganizationUnavailable as exc:
        result.error, result.explanation = exc.detail, exc.explanation
        audit_record(
            actor=actor,
            action=AuditAction.ACCOUNT_UPDATE,
            outcome=AuditOutcome.FAILURE,
            account=source,
            error=exc.detail,
        )
        return result
    organization_id = listing.organization.id
    result.organization_id = organization_id
    now = timezone.now()
    with transaction.atomic():
        listed = {item.account.account_id: item for item in listing.accounts}
        for account in AwsAccount.objects.select_for_update().filter(account_id__in=listed):
            item = listed[account.account_id]
            changed = _facts_apply(
                account, _org_facts(item, source=source, organization_id=organization_id), now=now
            )
            account.save()
            if changed:
                result.changed.append(account)
                audit_record(
                    actor=actor,
                    action=AuditAction.ACCOUNT_UPDATE,
                    account=account,
                    message=(
                        f"Organization {organization_id}: {item.account.ou_path} "
                        f"({item.status.label}), listed from {source.name}."
                    ),
                )
            else:
                result.unchanged += 1
        gone = (
            AwsAccount.objects.select_for_update()
            .filter(Q(org_source=source) | Q(organization_id=organization_id))
            .exclude(account_id__in=listed)
            .exclude(org_status=OrgStatus.LEFT)
        )
        for account in gone:
            account.org_status = OrgStatus.LEFT
            account.org_synced_at = now
            account.save(update_fields=["org_status", "org_synced_at", "updated_at"])
            result.left.append(account)
            audit_record(
                actor=actor,
                action=AuditAction.ACCOUNT_UPDATE,
                account=account,
                message=(
                    f"No longer in organization {organization_id} (listed from {source.name}): "
                    "marked as left; its record and grants stay."
                ),
            )
    return result


def organization_sources() -> Iterable[AwsAccount]:
    """The accounts some registered account was listed from: what the schedule re-syncs."""
    return AwsAccount.objects.filter(org_members__isnull=False).distinct().order_by("name")


def sandbox_organization_register(world: sandbox.SandboxWorld) -> AwsAccount:
    """Register the sandbox's management account, where the portal acts as itself (the
    default credential chain): the source the organization pages start from. No AWS
    call: the sandbox command's first scheduled job (`sync_organizations`) reads the
    organization once the portal's processes have the sandbox's settings."""
    return account_create(
        actor=None,
        account_id=sandbox.MANAGEMENT_ACCOUNT_ID,
        name="management",
        owner_email="management@example.com",
        default_region=sandbox.REGION,
        access_method=AccessMethod.DEFAULT_CHAIN,
    )
