"""Test access, the gather and probe steps: one snapshot of the IAM state, and the live calls.

Every read is one gateway call submitted to an `aws.Concurrent` pool; follow-up
reads (a policy's document once its name is known, a group's policies once the
groups are) are submitted as answers arrive, so the reads take as many rounds as
the deepest chain (ListGroupsForUser → ListGroupPolicies → GetGroupPolicy), not
as many as there are calls. The live AssumeRole → ListQueues runs on the same
pool. A read that fails is kept as a Gap: the evaluation says what it could not
account for. Each account's organization (its ID, entity path and the SCPs from
the root down to it) is read through the management or delegated-administrator
account it was registered from, another registered reader of that organization,
or the account itself, in that order; what none can read stays unknown
(policies.UNKNOWN in the request context), never "none".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from .. import aws, policies
from ..aws.operations import organization_describe
from ..models import AwsAccount, GranteeType, OrgStatus

VERIFY_SESSION_NAME = "xacct-verify"
ASSUME = "sts:AssumeRole"
# What AWS answers when the reading account is in no organization.
NOT_IN_USE = "AWSOrganizationsNotInUseException"
# ... and when the account is not in the reader's organization (it may have left).
NOT_IN_THIS_ORGANIZATION = "AccountNotFoundException"
# At most this many other registered accounts are asked to read an organization.
ORG_READERS_MAX = 2


# --- gather ---------------------------------------------------------------------------


@dataclass
class Gap:
    """A read that failed: what it was, which side it belongs to, and the error."""

    what: str
    side: str  # "role", "grantee" or "scp"
    error: aws.AwsErrorDetail

    def note(self) -> str:
        code = self.error.code or self.error.client_error
        return f"Could not read {self.what} ({code}): not accounted for."


@dataclass(frozen=True)
class OrgReader:
    """An account through which the portal tries to read another account's organization."""

    access: aws.AccountAccess
    label: str  # e.g. "through mgmt (123456789012), the account it was registered from"
    own: bool = False  # the account itself


@dataclass
class OrgSide:
    """What one verification knows of one account's organization and its SCPs.

    `scps` holds one list per level from the root down to the account (None: not read;
    empty: none apply). `organization_id` and `entity_path` are None when unknown and
    "" when the account is in no organization; they give aws:PrincipalOrgID /
    aws:PrincipalOrgPaths (or aws:ResourceOrgID / aws:ResourceOrgPaths)."""

    side: str  # "trusted" or "trusting"
    scps: list[list[policies.PolicySource]] | None = None
    note: str = ""
    organization_id: str | None = None
    entity_path: str | None = None

    def context(self, prefix: str) -> dict[str, Any]:
        """The organization keys for `prefix` "aws:Principal" or "aws:Resource": values,
        policies.UNKNOWN when not known, nothing when in no organization (AWS puts
        them in the request context only for members of an organization)."""
        found: dict[str, Any] = {}
        if self.organization_id is None:
            found[f"{prefix}OrgID"] = policies.UNKNOWN
        elif self.organization_id:
            found[f"{prefix}OrgID"] = self.organization_id
        if self.entity_path is None and self.organization_id != "":
            found[f"{prefix}OrgPaths"] = [policies.UNKNOWN]
        elif self.entity_path:
            found[f"{prefix}OrgPaths"] = [self.entity_path]
        return found


@dataclass
class Snapshot:
    """The IAM state one verification evaluates, read once."""

    role: aws.RoleInfo | None = None
    role_missing: bool = False
    role_error: aws.AwsErrorDetail | None = None
    role_sources: list[policies.PolicySource] = field(default_factory=list)
    role_boundary: policies.PolicySource | None = None
    grantee_read: bool = False  # the grantee side was read (a managed trusted account)
    grantee_missing: bool = False
    grantee_arn: str = ""
    grantee_trust: dict | None = None  # a role grantee's own trust policy
    grantee_sources: list[policies.PolicySource] = field(default_factory=list)
    grantee_boundary: policies.PolicySource | None = None
    trusted_org: OrgSide = field(default_factory=lambda: OrgSide("trusted"))
    trusting_org: OrgSide = field(default_factory=lambda: OrgSide("trusting"))
    simulation: aws.SimulationResult | None = None
    simulation_note: str = ""
    gaps: list[Gap] = field(default_factory=list)

    def gaps_of(self, side: str) -> list[Gap]:
        return [gap for gap in self.gaps if gap.side == side]


@dataclass
class Probe:
    """The live calls: who made them and what AWS answered (never the keys)."""

    access: aws.AccountAccess | None = None
    acted_as: str = ""
    as_grantee: bool = False
    assumed: aws.AssumedRole | None = None
    assume_error: aws.AwsErrorDetail | None = None
    attempts: int = 0
    listed: bool = False
    queue_urls: list[str] = field(default_factory=list)
    list_error: aws.AwsErrorDetail | None = None

    @property
    def ran(self) -> bool:
        return self.attempts > 0


_ORDER = {kind: n for n, kind in enumerate(policies.PolicyKind)}


def ordered_sources(sources: list[policies.PolicySource]) -> list[policies.PolicySource]:
    """The sources in a stable order (kind, then where attached, then name), whatever
    order the concurrent reads answered in."""
    return sorted(sources, key=lambda s: (_ORDER[s.kind], s.attached_to, s.name))


class Gather:
    """Submits the reads of one snapshot to a `aws.Concurrent`, follow-ups as answers come."""

    def __init__(self, reads: aws.Concurrent, snapshot: Snapshot) -> None:
        self.reads = reads
        self.snap = snapshot

    def _gap(self, what: str, side: str, error: aws.AwsError) -> None:
        self.snap.gaps.append(Gap(what, side, error.detail))

    # The role in the trusting account ------------------------------------------------
    def role(self, access: aws.AccountAccess, name: str) -> None:
        snap = self.snap

        def got_role(role: aws.RoleInfo | None, error: aws.AwsError | None) -> None:
            if error is not None:
                snap.role_error = error.detail
            elif role is None:
                snap.role_missing = True
            else:
                snap.role = role
                if role.boundary_arn:
                    self.boundary(access, role.boundary_arn, f"role {name}", "role")

        self.reads.submit(aws.role_get, access, name, then=got_role)
        self.policies_of(access, kind="role", name=name, side="role")

    # Inline and managed policies of a user, group or role ------------------------------
    def policies_of(self, access: aws.AccountAccess, *, kind: str, name: str, side: str) -> None:
        inline_kind, managed_kind = {
            "user": (policies.PolicyKind.USER_INLINE, policies.PolicyKind.USER_MANAGED),
            "group": (policies.PolicyKind.GROUP_INLINE, policies.PolicyKind.GROUP_MANAGED),
            "role": (policies.PolicyKind.ROLE_INLINE, policies.PolicyKind.ROLE_MANAGED),
        }[kind]
        owner = f"{kind} {name}"
        target = self.snap.role_sources if side == "role" else self.snap.grantee_sources

        def add_inline(policy_name: str) -> Any:
            def got(document: dict | None, error: aws.AwsError | None) -> None:
                if error is not None:
                    self._gap(f"the inline policy {policy_name} of {owner}", side, error)
                elif document is not None:
                    target.append(policies.PolicySource(inline_kind, policy_name, document, owner))

            return got

        def got_names(names: list[str] | None, error: aws.AwsError | None) -> None:
            if error is not None:
                if error.code != "NoSuchEntity":
                    self._gap(f"the inline policies of {owner}", side, error)
                return
            for policy_name in names or []:
                self.reads.submit(
                    _inline_document, access, kind, name, policy_name, then=add_inline(policy_name)
                )

        def add_managed(arn: str) -> Any:
            def got(policy: aws.ManagedPolicy | None, error: aws.AwsError | None) -> None:
                if error is not None:
                    self._gap(f"the managed policy {arn} attached to {owner}", side, error)
                elif policy is not None:
                    target.append(policies.PolicySource(managed_kind, arn, policy.document, owner))

            return got

        def got_arns(arns: list[str] | None, error: aws.AwsError | None) -> None:
            if error is not None:
                if error.code != "NoSuchEntity":
                    self._gap(f"the managed policies attached to {owner}", side, error)
                return
            for arn in arns or []:
                self.reads.submit(_managed, access, arn, then=add_managed(arn))

        self.reads.submit(_inline_names, access, kind, name, then=got_names)
        self.reads.submit(_attached_arns, access, kind, name, then=got_arns)

    def boundary(self, access: aws.AccountAccess, arn: str, owner: str, side: str) -> None:
        def got(policy: aws.ManagedPolicy | None, error: aws.AwsError | None) -> None:
            if error is not None:
                self._gap(f"the permissions boundary {arn} of {owner}", side, error)
                return
            assert policy is not None
            source = policies.PolicySource(
                policies.PolicyKind.BOUNDARY, arn, policy.document, owner
            )
            if side == "role":
                self.snap.role_boundary = source
            else:
                self.snap.grantee_boundary = source

        self.reads.submit(_managed, access, arn, then=got)

    # The grantee in the trusted account ----------------------------------------------------
    def grantee(
        self,
        access: aws.AccountAccess,
        *,
        kind: str,
        name: str,
        simulate: tuple[str, dict] | None = None,
    ) -> None:
        """The grantee's principal, boundary, own and group policies; with `simulate`
        (role ARN, context), AWS's simulator too, once the principal's exact ARN
        (with its path) is known."""
        snap = self.snap
        snap.grantee_read = True

        def got_principal(found: Any, error: aws.AwsError | None) -> None:
            if error is not None:
                self._gap(f"the {kind} {name}", "grantee", error)
            elif found is None:
                snap.grantee_missing = True
            else:
                snap.grantee_arn = found.arn
                if kind == GranteeType.ROLE:
                    snap.grantee_trust = found.trust_policy
                if found.boundary_arn:
                    self.boundary(access, found.boundary_arn, f"{kind} {name}", "grantee")
                if simulate is not None:
                    self.simulation(access, found.arn, *simulate)

        if kind == GranteeType.ROLE:
            self.reads.submit(aws.role_get, access, name, then=got_principal)
        else:
            self.reads.submit(_user_get, access, name, then=got_principal)

            def got_groups(groups: list[str] | None, error: aws.AwsError | None) -> None:
                if error is not None:
                    if error.code != "NoSuchEntity":
                        self._gap(f"the groups of user {name}", "grantee", error)
                    return
                for group in groups or []:
                    self.policies_of(access, kind="group", name=group, side="grantee")

            self.reads.submit(_user_groups, access, name, then=got_groups)
        self.policies_of(access, kind=str(kind), name=name, side="grantee")

    def organization(self, account: AwsAccount, side: str) -> None:
        """Read the account's organization and SCPs through the best reader the portal
        has (`org_readers`), trying the next one when a reader may not read them.
        Known organization fields of the account stand in for what is not read."""
        org = self.snap.trusted_org if side == "trusted" else self.snap.trusting_org
        if account.organization_id and account.org_status != OrgStatus.LEFT:
            org.organization_id = account.organization_id
            org.entity_path = account.org_entity_path or None
        readers = org_readers(account)
        if not readers:
            org.note = (
                f"SCPs not read: the portal has no access to {account.name}'s organization "
                "(register its management account to read them)."
            )
            return

        def got(found: OrgRead | None, error: aws.AwsError | None) -> None:
            if error is None and found is not None and found.error is not None:
                error = found.error
                if found.organization_id:  # a member may still describe its organization
                    org.organization_id = found.organization_id
            if error is not None:
                code = error.code or error.detail.client_error
                org.note = (
                    f"SCPs not read ({code}): the portal may not read the service control "
                    f"policies over {account.name}; they are not accounted for."
                )
                if found is not None and found.organization_id:
                    org.note += f" It is in organization {found.organization_id}."
                return
            assert found is not None and found.reader is not None
            if found.policies is None:  # the account itself says: in no organization
                org.scps, org.organization_id, org.entity_path = [], "", ""
                org.note = f"{account.name} is not in an AWS Organization: no SCPs apply."
                return
            organization_sides(org, account, found.reader, found.policies)

        self.reads.submit(_read_organization, readers, account.account_id, then=got)

    def simulation(
        self, access: aws.AccountAccess, principal_arn: str, role_arn: str, context: dict
    ) -> None:
        snap = self.snap

        def got(result: aws.SimulationResult | None, error: aws.AwsError | None) -> None:
            if error is not None:
                if error.code in ("AccessDenied", "AccessDeniedException"):
                    snap.simulation_note = (
                        "AWS's policy simulator was not consulted: the portal may not call "
                        "iam:SimulatePrincipalPolicy in the trusted account."
                    )
                elif error.detail.client_error != "NotImplemented":
                    code = error.code or error.detail.client_error
                    snap.simulation_note = f"AWS's policy simulator did not answer ({code})."
                return
            snap.simulation = result

        context = {
            key: str(value).lower() if isinstance(value, bool) else str(value)
            for key, value in context.items()
        }
        self.reads.submit(_simulate, access, principal_arn, role_arn, context, then=got)


# Positional wrappers: Concurrent.submit passes positional arguments.
def _inline_names(access: aws.AccountAccess, kind: str, name: str) -> list[str]:
    return aws.inline_policy_names(access, kind=kind, name=name)


def _inline_document(
    access: aws.AccountAccess, kind: str, name: str, policy_name: str
) -> dict | None:
    return aws.inline_policy_document(access, kind=kind, name=name, policy_name=policy_name)


def _attached_arns(access: aws.AccountAccess, kind: str, name: str) -> list[str]:
    return aws.attached_policy_arns(access, kind=kind, name=name)


def _managed(access: aws.AccountAccess, arn: str) -> aws.ManagedPolicy:
    return aws.managed_policy(access, policy_arn=arn)


def _user_get(access: aws.AccountAccess, name: str) -> aws.UserInfo | None:
    return aws.user_get(access, user_name=name)


def _user_groups(access: aws.AccountAccess, name: str) -> list[str]:
    return aws.user_group_names(access, user_name=name)


def org_readers(account: AwsAccount) -> list[OrgReader]:
    """Who may read the account's organization, best first: the management or
    delegated-administrator account it was registered from (org_source); other
    registered accounts that other accounts of the same organization were registered
    from (at most ORG_READERS_MAX); then the account itself (a member may describe its
    organization but usually not read its SCPs). Only managed accounts can read."""
    readers: list[OrgReader] = []
    seen = {account.pk}
    source = account.org_source
    if source is not None and source.is_managed and source.pk not in seen:
        seen.add(source.pk)
        readers.append(
            OrgReader(
                source.access(),
                f"through {source.name} ({source.account_id}), the account it was registered from",
            )
        )
    if account.organization_id:
        others = (
            # Accounts others of this organization were registered from can read it.
            AwsAccount.objects.filter(org_members__organization_id=account.organization_id)
            .exclude(pk__in=seen)
            .exclude(access_method=aws.EXTERNAL)
            .distinct()
            .order_by("name")[:ORG_READERS_MAX]
        )
        for other in others:
            readers.append(
                OrgReader(
                    other.access(),
                    f"through {other.name} ({other.account_id}), which reads organization "
                    f"{account.organization_id}",
                )
            )
    if account.is_managed:
        readers.append(OrgReader(account.access(), "with the account's own access", own=True))
    return readers


@dataclass
class OrgRead:
    """What the readers found: the SCPs (`policies`), or, from the account itself, that it
    is in no organization (`policies` None, no error), or the last reader's error, with
    the organization ID when the account itself could still describe its organization."""

    reader: OrgReader | None = None
    policies: aws.OrganizationPolicies | None = None
    error: aws.AwsError | None = None
    organization_id: str = ""


def _read_organization(readers: list[OrgReader], account_id: str) -> OrgRead:
    """Ask the readers in turn; the first answer that counts wins. A reader that may not
    read the SCPs, or whose organization does not hold the account, hands over to the
    next. When none can, and the last is the account itself, organizations:
    DescribeOrganization alone still tells its organization (any member may call it).
    A deadline that runs out raises AwsError."""
    last: aws.AwsError | None = None
    for reader in readers:
        try:
            found = aws.service_control_policies(reader.access, account_id=account_id)
            return OrgRead(reader, found)
        except aws.AwsError as exc:
            if exc.code == NOT_IN_USE and reader.own:
                return OrgRead(reader)
            if exc.detail.client_error == "DeadlineExceeded":
                raise
            last = exc
    assert last is not None
    read = OrgRead(error=last)
    if readers[-1].own:
        try:
            read.organization_id = organization_describe(readers[-1].access).get("Id", "")
        except aws.AwsError as exc:
            if exc.detail.client_error == "DeadlineExceeded":
                raise
    return read


def level_label(level: Any, account: AwsAccount, levels: list[Any]) -> str:
    """Where an SCP is attached, in words: "the root", "OU Workloads/Dev" (from the
    account's OU path when its depth matches, else the OU names read, else the OU ID),
    or "the account hoge (444455556666)"."""
    if level.target_kind == "ROOT":
        return "the root"
    if level.target_kind == "ACCOUNT":
        return f"the account {account.name} ({account.account_id})"
    ous = [one for one in levels if one.target_kind == "ORGANIZATIONAL_UNIT"]
    depth = ous.index(level) + 1
    recorded = [part for part in account.ou_path.split("/")[1:] if part]
    if len(recorded) == len(ous):
        return "OU " + "/".join(recorded[:depth])
    names = [one.name for one in ous[:depth]]
    if all(names):
        return "OU " + "/".join(names)
    return f"OU {level.name or level.target_id}"


def organization_sides(
    org: OrgSide, account: AwsAccount, reader: OrgReader, found: aws.OrganizationPolicies
) -> None:
    """Fill `org` from what a reader found: the organization, the entity path, and the
    SCPs per level (named "<name> (<policy ID>)", attached to a level in words)."""
    org.organization_id = found.organization_id or org.organization_id
    if found.management_account:
        org.scps = []
        org.note = (
            f"{account.name} is its organization's management account: SCPs do not apply to "
            f"it (read {reader.label})."
        )
        return
    org.entity_path = found.entity_path or org.entity_path
    levels = list(found.levels)
    by_target: dict[str, list[policies.PolicySource]] = {one.target_id: [] for one in levels}
    where = {one.target_id: level_label(one, account, levels) for one in levels}
    for scp in found.policies:
        by_target.setdefault(scp.target_id, []).append(
            policies.PolicySource(
                policies.PolicyKind.SCP,
                f"{scp.name} ({scp.policy_id})",
                scp.document,
                where.get(scp.target_id, scp.target_id),
            )
        )
    scps = [by_target[one.target_id] for one in levels]
    if not any(scps):
        org.scps = []
        org.note = (
            f"No SCP is attached anywhere over {account.name} (SCPs are not enabled in the "
            f"organization): none apply (read {reader.label})."
        )
        return
    org.scps = scps
    count = sum(len(level) for level in scps)
    org.note = (
        f"{count} SCP(s) over {account.name} read {reader.label}: "
        + "; ".join(
            f"{', '.join(p.name for p in level)} at {where[one.target_id]}"
            for one, level in zip(levels, scps, strict=True)
            if level
        )
        + "."
    )


def _simulate(
    access: aws.AccountAccess, principal_arn: str, role_arn: str, context: dict
) -> aws.SimulationResult:
    return aws.principal_policy_simulate(
        access, principal_arn=principal_arn, action=ASSUME, resource_arn=role_arn, context=context
    )


def on_real_aws() -> bool:
    """True when the portal talks to AWS itself (no endpoint URL, not the sandbox)."""
    return not settings.AWS_ENDPOINT_URL and not settings.AWS_SANDBOX


# --- probe ----------------------------------------------------------------------------


def probe_live(probe: Probe, role_arn: str, external_id: str, region: str) -> Probe:
    """AssumeRole, then ListQueues (all pages) with the temporary credentials."""
    assert probe.access is not None
    probe.attempts += 1
    try:
        probe.assumed = aws.role_assume(
            probe.access,
            role_arn=role_arn,
            session_name=VERIFY_SESSION_NAME,
            external_id=external_id,
            duration_seconds=900,
        )
    except aws.AwsError as exc:
        probe.assume_error = exc.detail
        return probe
    probe.assume_error = None
    try:
        probe.queue_urls = aws.queue_urls_as(probe.assumed, region=region)
        probe.listed = True
    except aws.AwsError as exc:
        probe.list_error = exc.detail
    return probe
