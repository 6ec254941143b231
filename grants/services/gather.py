"""Test access, the gather and probe steps: one snapshot of the IAM state, and the live calls.

Every read is one gateway call submitted to an `aws.Concurrent` pool; follow-up
reads (a policy's document once its name is known, a group's policies once the
groups are) are submitted as answers arrive, so the reads take as many rounds as
the deepest chain (ListGroupsForUser → ListGroupPolicies → GetGroupPolicy), not
as many as there are calls. The live AssumeRole → ListQueues runs on the same
pool. A read that fails is kept as a Gap: the evaluation says what it could not
account for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from .. import aws, policies
from ..models import GranteeType

VERIFY_SESSION_NAME = "xacct-verify"
ASSUME = "sts:AssumeRole"
# What moto answers when no organization holds the account, or there is none.
NOT_IN_ORGANIZATION = ("AWSOrganizationsNotInUseException", "AccountNotFoundException")


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
    grantee_sources: list[policies.PolicySource] = field(default_factory=list)
    grantee_boundary: policies.PolicySource | None = None
    scps: list[policies.PolicySource] | None = None  # None: not read
    scp_note: str = ""
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

    def scps(self, access: aws.AccountAccess, account_id: str) -> None:
        snap = self.snap

        def got(found: aws.OrganizationPolicies | None, error: aws.AwsError | None) -> None:
            if error is not None:
                if error.code in NOT_IN_ORGANIZATION:
                    snap.scp_note = "Not in an AWS Organization the portal can see: no SCPs apply."
                    snap.scps = []
                else:
                    code = error.code or error.detail.client_error
                    snap.scp_note = (
                        f"SCPs not read ({code}): the organization's service control policies "
                        "are not accounted for."
                    )
                return
            assert found is not None
            if found.management_account:
                snap.scp_note = (
                    "The trusted account is its organization's management account: SCPs do "
                    "not apply to it."
                )
            snap.scps = [
                policies.PolicySource(
                    policies.PolicyKind.SCP,
                    policy.name,
                    policy.document,
                    f"{policy.target_kind.lower().replace('_', ' ')} {policy.target_id}",
                )
                for policy in found.policies
            ]

        self.reads.submit(_scps, access, account_id, then=got)

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


def _scps(access: aws.AccountAccess, account_id: str) -> aws.OrganizationPolicies:
    return aws.service_control_policies(access, account_id=account_id)


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
