"""Who is calling, and whether a Principal / NotPrincipal element names them. Pure.

Rules from AWS's "AWS JSON policy elements: Principal" and "NotPrincipal":

- `"*"` and `{"AWS": "*"}` name everyone;
- a 12-digit account ID and `arn:…:iam::ACCT:root` name the account: every principal
  in it, whose own identity policies then decide;
- user, role, assumed-role session and federated-user ARNs are matched exactly
  (no wildcards other than a lone `*`); a role ARN names every session of that role
  (the session ARN `arn:…:sts::ACCT:assumed-role/NAME/SESSION` carries the role's name,
  not its path); a session ARN names only that session;
- IAM stores a named user or role as its unique ID; when the principal is deleted the
  policy shows that ID (AIDA…, AROA…, AIPA…), which matches nobody: reported as orphaned;
- `{"Service": …}`, `{"Federated": …}` and `{"CanonicalUser": …}` name exactly that
  service, identity provider or canonical user;
- NotPrincipal excludes a caller only when every identity the caller carries is listed:
  a user (its ARN and its account), a role session (session ARN, role ARN, account).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from grants.policies.matching import as_list

_ACCOUNT_ID = re.compile(r"^\d{12}\Z")
_UNIQUE_ID = re.compile(r"^(AIDA|AROA|AIPA)[A-Z0-9]{8,}\Z")
_ARN = re.compile(r"^arn:([^:]+):([^:]+):([^:]*):([^:]*):(.+)\Z")

# Levels of identity a caller carries; "any" is the wildcard covering all of them.
SELF = "self"
ROLE = "role"
ACCOUNT = "account"
ANY = "any"


@dataclass(frozen=True)
class Caller:
    """The calling principal, parsed from its ARN (or a service name)."""

    arn: str
    kind: str  # user, role, assumed-role, federated-user, root, service, other
    partition: str = ""
    account: str = ""
    name: str = ""  # the user or role name (no path); the role's name for a session
    path: str = ""  # the user's or role's path when known
    session: str = ""

    @property
    def levels(self) -> tuple[str, ...]:
        """The identities this caller carries, most specific first."""
        if self.kind == "assumed-role":
            return (SELF, ROLE, ACCOUNT)
        if self.kind == "role":
            return (ROLE, ACCOUNT)
        if self.kind in ("user", "federated-user"):
            return (SELF, ACCOUNT)
        if self.kind == "root":
            return (ACCOUNT,)
        return (SELF,)

    @property
    def role_arn(self) -> str:
        """The role's ARN for a role or a session (a session's ARN omits the role's path)."""
        if self.kind == "role":
            return self.arn
        if self.kind == "assumed-role":
            return f"arn:{self.partition}:iam::{self.account}:role{self.path or '/'}{self.name}"
        return ""

    @property
    def principal_type(self) -> str:
        """aws:PrincipalType as AWS fills it in."""
        return {
            "user": "User",
            "role": "AssumedRole",
            "assumed-role": "AssumedRole",
            "federated-user": "FederatedUser",
            "root": "Account",
        }.get(self.kind, "")


def parse_caller(principal_arn: str) -> Caller:
    """Parse a caller ARN (user, role, assumed-role, federated-user, root) or service name."""
    text = (principal_arn or "").strip()
    match = _ARN.match(text)
    if not match:
        if text.endswith(".amazonaws.com") or text.endswith(".amazonaws.com.cn"):
            return Caller(arn=text, kind="service")
        if _ACCOUNT_ID.match(text):
            return Caller(
                arn=f"arn:aws:iam::{text}:root", kind="root", partition="aws", account=text
            )
        return Caller(arn=text, kind="other")
    partition, service, _region, account, resource = match.groups()
    if service == "iam" and resource == "root":
        return Caller(arn=text, kind="root", partition=partition, account=account)
    if service == "iam" and resource.startswith(("user/", "role/")):
        kind, _, rest = resource.partition("/")
        path, _, name = ("/" + rest).rpartition("/")
        return Caller(
            arn=text, kind=kind, partition=partition, account=account, name=name, path=path + "/"
        )
    if service == "sts" and resource.startswith("assumed-role/"):
        parts = resource.split("/")
        if len(parts) >= 3:
            return Caller(
                arn=text,
                kind="assumed-role",
                partition=partition,
                account=account,
                name=parts[1],
                session="/".join(parts[2:]),
            )
    if service == "sts" and resource.startswith("federated-user/"):
        return Caller(
            arn=text,
            kind="federated-user",
            partition=partition,
            account=account,
            name=resource.removeprefix("federated-user/"),
        )
    return Caller(arn=text, kind="other", partition=partition, account=account)


@dataclass(frozen=True)
class PrincipalMatch:
    """What a Principal element covers of the caller; which IDs in it are orphaned."""

    levels: frozenset[str]
    orphaned: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def matched(self) -> bool:
        return bool(self.levels)

    @property
    def how(self) -> str:
        """The most direct way the element names the caller: any, self, role, account or ""."""
        for level in (ANY, SELF, ROLE, ACCOUNT):
            if level in self.levels:
                return level
        return ""

    def excludes(self, caller: Caller) -> bool:
        """For NotPrincipal: the caller is excluded only when each identity it has is listed."""
        return ANY in self.levels or set(caller.levels) <= self.levels


def match_principal(element: Any, caller: Caller) -> PrincipalMatch:
    """Which of the caller's identities a Principal (or NotPrincipal) element names."""
    if element == "*":
        return PrincipalMatch(frozenset({ANY}))
    if not isinstance(element, dict):
        return PrincipalMatch(
            frozenset(), notes=(f"The Principal element {element!r} is not valid IAM.",)
        )
    levels: set[str] = set()
    orphaned: list[str] = []
    notes: list[str] = []
    for entry in as_list(element.get("AWS")):
        entry = str(entry).strip()
        if _UNIQUE_ID.match(entry):
            orphaned.append(entry)
            continue
        levels |= _aws_entry_levels(entry, caller, notes)
    for entry in as_list(element.get("Service")):
        if caller.kind == "service" and str(entry).strip().lower() == caller.arn.lower():
            levels.add(SELF)
    for key in ("Federated", "CanonicalUser"):
        for entry in as_list(element.get(key)):
            if str(entry).strip() == caller.arn:
                levels.add(SELF)
    return PrincipalMatch(frozenset(levels), tuple(orphaned), tuple(notes))


def _aws_entry_levels(entry: str, caller: Caller, notes: list[str]) -> set[str]:
    if entry == "*":
        return {ANY}
    if caller.kind in ("service", "other"):
        return set()
    if _ACCOUNT_ID.match(entry):
        return {ACCOUNT} if entry == caller.account else set()
    if "*" in entry or "?" in entry:
        notes.append(f"{entry}: IAM allows no wildcard in a Principal ARN; it matches nobody.")
        return set()
    match = _ARN.match(entry)
    if not match:
        return set()
    partition, service, _region, account, resource = match.groups()
    if partition != caller.partition or account != caller.account:
        return set()
    if service == "iam" and resource == "root":
        return {ACCOUNT}
    if entry == caller.arn:
        return {ROLE} if caller.kind == "role" else {SELF}
    if service == "iam" and resource.startswith("role/") and caller.kind == "assumed-role":
        named = resource.rsplit("/", 1)[-1]
        if named == caller.name and (not caller.path or entry == caller.role_arn):
            return {ROLE}
    return set()
