"""The engine's vocabulary: policy sources, requests, decisions. Pure data, no AWS."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class _Unknown:
    """The value of a context key the caller could not determine (see `UNKNOWN`)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __reduce__(self) -> str:
        return "UNKNOWN"


# A request-context value standing for "present with some value, or absent: not known",
# e.g. aws:PrincipalOrgID when the portal could not read the caller's organization. A
# condition on such a key is undetermined; the engine then decides only when the verdict
# is the same whichever way those conditions go (DecisionKind.UNDETERMINED otherwise).
UNKNOWN = _Unknown()


class PolicyKind(StrEnum):
    """Where a policy comes from; decides how it takes part in the evaluation."""

    USER_INLINE = "user-inline"
    USER_MANAGED = "user-managed"
    GROUP_INLINE = "group-inline"
    GROUP_MANAGED = "group-managed"
    ROLE_INLINE = "role-inline"
    ROLE_MANAGED = "role-managed"
    BOUNDARY = "boundary"
    SCP = "scp"
    TRUST = "trust"  # a role's trust policy (resource-based)
    RESOURCE = "resource"  # any other resource-based policy

    @property
    def is_resource_based(self) -> bool:
        """Resource-based policies name their Principal; identity-based ones never do."""
        return self in (PolicyKind.TRUST, PolicyKind.RESOURCE)


_KIND_WORDS = {
    PolicyKind.USER_INLINE: "the inline policy",
    PolicyKind.USER_MANAGED: "the managed policy",
    PolicyKind.GROUP_INLINE: "the inline policy",
    PolicyKind.GROUP_MANAGED: "the managed policy",
    PolicyKind.ROLE_INLINE: "the inline policy",
    PolicyKind.ROLE_MANAGED: "the managed policy",
    PolicyKind.BOUNDARY: "the permissions boundary",
    PolicyKind.SCP: "the service control policy",
    PolicyKind.TRUST: "the trust policy",
    PolicyKind.RESOURCE: "the resource-based policy",
}


@dataclass(frozen=True)
class PolicySource:
    """One policy document and where it is attached.

    `name` is the inline policy name, the managed policy ARN, the SCP name, or the
    role name for a TRUST policy; `attached_to` says where, e.g. "group developers".
    """

    kind: PolicyKind
    name: str
    document: dict = field(hash=False)  # compared, but dicts cannot be hashed
    attached_to: str = ""

    def label(self) -> str:
        """Plain English, e.g. "the inline policy deny-assume of group developers"."""
        if self.kind == PolicyKind.TRUST:
            text = f"the trust policy of role {self.name}" if self.name else "the trust policy"
            if self.attached_to and self.attached_to != f"role {self.name}":
                text += f" ({self.attached_to})"
            return text
        words = _KIND_WORDS[self.kind]
        text = f"{words} {self.name}" if self.name else words
        if self.attached_to:
            # An SCP is attached to an organization node: "… attached to OU Workloads/Dev".
            text += f" {'attached to' if self.kind == PolicyKind.SCP else 'of'} {self.attached_to}"
        return text


@dataclass(frozen=True)
class Request:
    """One request to decide.

    `principal_arn` is the caller: an IAM user or role ARN (with path), an assumed-role
    session ARN (arn:aws:sts::ACCT:assumed-role/NAME/SESSION), or a service principal
    such as "ec2.amazonaws.com". `resource` is an ARN or "*". `context` maps condition
    keys (looked up case-insensitively, as AWS does) to str, bool, int, float, datetime,
    bytes, or a list of those.
    """

    principal_arn: str
    action: str
    resource: str = "*"
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StatementRef:
    """One statement of one policy: the thing that decided, or failed to."""

    source: PolicySource
    index: int  # 0-based position in the document's Statement list
    sid: str = ""

    def short_label(self) -> str:
        """The Sid, or "statement N" (1-based) when the statement has none."""
        return self.sid or f"statement {self.index + 1}"

    def label(self) -> str:
        """E.g. 'statement "DenyAssume" of the inline policy deny-assume of group developers'."""
        head = f'statement "{self.sid}"' if self.sid else f"statement {self.index + 1}"
        return f"{head} of {self.source.label()}"


@dataclass(frozen=True)
class UnmetCondition:
    """A condition that stopped an otherwise matching statement (operator and key as written)."""

    statement: StatementRef
    operator: str
    key: str


class DecisionKind(StrEnum):
    ALLOW = "allow"
    EXPLICIT_DENY = "explicit-deny"  # a matching Deny statement (anywhere) decided
    NO_ALLOW = "no-allow"  # implicit deny: no statement allowed
    CONDITION_UNMET = "condition-unmet"  # an Allow matched except for its condition(s)
    BOUNDARY = "boundary"  # identity policies allow, the permissions boundary does not
    SCP = "scp"  # an SCP level does not allow
    # The verdict turns on conditions over keys whose values are UNKNOWN: it would allow
    # if they went one way and deny if they went the other (the conditions in `unmet`).
    UNDETERMINED = "undetermined"


@dataclass(frozen=True)
class Decision:
    """The verdict for one request and what decided it.

    `deciding` holds the Deny that won or the Allows that allowed; `unmet` the conditions
    that stopped otherwise matching Allows; `policy` the policy that decided (the first
    deciding statement's, or the boundary / SCP for those kinds).
    """

    allowed: bool
    kind: DecisionKind
    deciding: tuple[StatementRef, ...] = ()
    unmet: tuple[UnmetCondition, ...] = ()
    orphaned_principals: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    policy: PolicySource | None = None
    # Condition keys the allowing statements test (e.g. sts:ExternalId), as written.
    required_keys: tuple[str, ...] = ()
    # For UNDETERMINED: the keys (as written) whose unknown values the verdict turns on.
    undetermined_keys: tuple[str, ...] = ()

    @property
    def explicit_deny(self) -> bool:
        return self.kind == DecisionKind.EXPLICIT_DENY

    @property
    def matched(self) -> tuple[str, ...]:
        """Short labels (Sid or "statement N") of the deciding statements."""
        return tuple(ref.short_label() for ref in self.deciding)

    @property
    def unmet_keys(self) -> tuple[str, ...]:
        """The distinct condition keys in `unmet`, in order."""
        return tuple(dict.fromkeys(u.key for u in self.unmet))


@dataclass(frozen=True)
class Evaluation:
    """The final verdict plus each side's own decision.

    `identity` is None when the identity side was not evaluated (identity=None given);
    `resource` is None when no resource-based policy was given.
    """

    decision: Decision
    identity: Decision | None
    resource: Decision | None
    cross_account: bool
