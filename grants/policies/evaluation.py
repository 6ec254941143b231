"""AWS's policy evaluation logic for one request. Pure: no AWS, no Django, no clock.

Rules from AWS's "Policy evaluation logic", "Determining whether a request is allowed
or denied within an account" and "Cross-account policy evaluation logic":

1. An explicit Deny in any applicable policy (identity-based, permissions boundary,
   SCP, resource-based) decides: denied.
2. Service control policies: every level from the root down to the account must allow
   (an Allow in at least one SCP attached at each level); they limit every request of
   a principal in a member account, however it was granted.
3. Cross-account: the resource-based policy (for AssumeRole, the role's trust policy)
   and the caller's identity side must both allow.
4. Same account: a role's trust policy must always allow AssumeRole, and a KMS key
   policy must always allow use of its key (the two policies IAM permissions alone
   cannot stand in for). Otherwise a resource-based
   policy that names the caller's own ARN (a user, an assumed-role session) or `*`
   grants on its own; one that names the caller's role ARN grants within the role's
   permissions boundary; one that names only the account leaves the decision to the
   identity side. With no resource-based Allow, the identity side decides.
5. Identity side: some identity-based policy (user, group, role; inline or managed) must
   allow, and the permissions boundary, when there is one, must allow too.

A request-context value may be UNKNOWN (model.UNKNOWN: e.g. the caller's organization
when it could not be read). The request is then decided twice, once reading every
condition that turns on such a value in favour of access (Allows apply, Denies do not)
and once against it; when the two verdicts differ, the decision is UNDETERMINED.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from grants.policies.conditions import evaluate_condition
from grants.policies.matching import (
    action_matches_pattern,
    as_list,
    resource_matches_pattern,
    uses_variables,
)
from grants.policies.model import (
    UNKNOWN,
    Decision,
    DecisionKind,
    Evaluation,
    PolicyKind,
    PolicySource,
    Request,
    StatementRef,
    UnmetCondition,
)
from grants.policies.principals import (
    ACCOUNT,
    ANY,
    ROLE,
    SELF,
    Caller,
    match_principal,
    parse_caller,
)


@dataclass
class _Allow:
    ref: StatementRef
    how: str  # how a resource-based statement named the caller (principals.SELF, …); "" otherwise
    keys: list[str]


@dataclass
class _Scan:
    """What one set of policies says about one request, statement by statement."""

    denies: list[StatementRef] = field(default_factory=list)
    allows: list[_Allow] = field(default_factory=list)
    unmet: list[UnmetCondition] = field(default_factory=list)
    # Conditions over UNKNOWN values: held (or not) as the scan's `optimistic` said.
    undetermined: list[UnmetCondition] = field(default_factory=list)
    orphaned: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sources: list[PolicySource] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        return not self.denies and bool(self.allows)

    @property
    def how(self) -> str:
        """The most direct way an allowing resource-based statement names the caller."""
        found = {allow.how for allow in self.allows}
        for level in (ANY, SELF, ROLE, ACCOUNT):
            if level in found:
                return level
        return ""


def request_context(request: Request, caller: Caller | None = None) -> dict[str, Any]:
    """The request context with lower-cased keys, plus the keys AWS fills in itself.

    Added when absent: aws:PrincipalArn (a session's role ARN), aws:PrincipalAccount,
    aws:PrincipalType, and aws:username for IAM users. Time keys (aws:CurrentTime,
    aws:EpochTime) only come from the caller, to keep evaluation deterministic.
    """
    caller = caller or parse_caller(request.principal_arn)
    context = {str(key).strip().lower(): value for key, value in request.context.items()}
    if caller.kind in ("user", "root", "federated-user"):
        context.setdefault("aws:principalarn", caller.arn)
    elif caller.kind in ("role", "assumed-role"):
        context.setdefault("aws:principalarn", caller.role_arn)
    if caller.account:
        context.setdefault("aws:principalaccount", caller.account)
    if caller.principal_type:
        context.setdefault("aws:principaltype", caller.principal_type)
    if caller.kind == "user":
        context.setdefault("aws:username", caller.name)
    return context


def document_of(source: PolicySource) -> dict | None:
    """The parsed document: a dict as given, or JSON text (URL-encoded as IAM returns it)."""
    document: Any = source.document
    if isinstance(document, str):
        text = unquote(document) if document.lstrip().startswith("%7B") else document
        try:
            document = json.loads(text)
        except ValueError:
            return None
    return document if isinstance(document, dict) else None


def _scan(
    sources: Sequence[PolicySource],
    request: Request,
    caller: Caller,
    context: Mapping[str, Any],
    *,
    has_boundary: bool = False,
    optimistic: bool | None = None,
) -> _Scan:
    """Scan the sources' statements. `optimistic` says how conditions over UNKNOWN
    values are read: True, as letting Allows apply and keeping Denies off; False, the
    reverse; None (no UNKNOWN expected), cautiously, as the False reading."""
    scan = _Scan()
    for source in sources:
        scan.sources.append(source)
        document = document_of(source)
        if document is None:
            scan.notes.append(f"{source.label()} is not a JSON policy document; it is ignored.")
            continue
        variables = uses_variables(document)
        for index, statement in enumerate(as_list(document.get("Statement"))):
            if isinstance(statement, dict):
                _scan_statement(
                    scan,
                    source,
                    index,
                    statement,
                    request,
                    caller,
                    context,
                    variables,
                    has_boundary,
                    bool(optimistic),
                )
            else:
                scan.notes.append(f"Statement {index + 1} of {source.label()} is not an object.")
    return scan


def _scan_statement(
    scan: _Scan,
    source: PolicySource,
    index: int,
    statement: dict,
    request: Request,
    caller: Caller,
    context: Mapping[str, Any],
    variables: bool,
    has_boundary: bool,
    optimistic: bool,
) -> None:
    ref = StatementRef(source=source, index=index, sid=str(statement.get("Sid") or ""))
    effect = statement.get("Effect")
    if effect not in ("Allow", "Deny"):
        scan.notes.append(f"{ref.label()} has no valid Effect; it is ignored.")
        return
    how = ""
    if source.kind.is_resource_based:
        if "Principal" in statement:
            found = match_principal(statement["Principal"], caller)
            scan.orphaned.extend(found.orphaned)
            scan.notes.extend(found.notes)
            if not found.matched:
                return
            how = found.how
        elif "NotPrincipal" in statement:
            found = match_principal(statement["NotPrincipal"], caller)
            scan.orphaned.extend(found.orphaned)
            scan.notes.extend(found.notes)
            if found.excludes(caller):
                if not (effect == "Deny" and has_boundary):
                    return
                # "Permissions boundaries for IAM entities": a Deny with NotPrincipal always
                # denies a principal that has a permissions boundary, whatever it lists.
                scan.notes.append(
                    f"{ref.label()} is a Deny with NotPrincipal: AWS applies it to every "
                    "principal with a permissions boundary, even one it lists."
                )
            how = ACCOUNT  # grants nobody by name: the identity side still decides
        else:
            scan.notes.append(f"{ref.label()} names no Principal; it applies to nobody.")
            return
    if not action_applies(statement, request.action):
        return
    resource_applies = _resource_applies(statement, request.resource, context, variables)
    if resource_applies is None:
        scan.notes.append(
            f"{ref.label()}: a policy variable in its Resource names a key absent from the "
            "request, so that resource does not match."
        )
        return
    if not resource_applies:
        return
    outcome = evaluate_condition(statement.get("Condition"), context, variables=variables)
    scan.notes.extend(outcome.notes)
    if outcome.holds is None and not outcome.unknown:
        scan.undetermined.extend(UnmetCondition(ref, op, key) for op, key in outcome.undetermined)
        keys = ", ".join(dict.fromkeys(key for _op, key in outcome.undetermined))
        scan.notes.append(
            f"{ref.label()} tests {keys}, whose value in this request could not be "
            "determined: whether it applies is not known."
        )
        if effect == "Deny" and not optimistic:
            scan.denies.append(ref)
        elif effect == "Allow" and optimistic:
            scan.allows.append(_Allow(ref, how, list(dict.fromkeys(outcome.keys))))
        return
    if outcome.holds is None:
        if effect == "Deny":
            scan.notes.append(
                f"{ref.label()} uses a condition operator not evaluated here; read cautiously "
                "as denying."
            )
            scan.denies.append(ref)
        else:
            scan.notes.append(
                f"{ref.label()} uses a condition operator not evaluated here; read cautiously "
                "as not allowing."
            )
            scan.unmet.extend(
                UnmetCondition(ref, operator, key)
                for operator in outcome.unknown
                for key in _keys_of(statement.get("Condition"), operator)
            )
        return
    if not outcome.holds:
        if effect == "Allow":
            scan.unmet.extend(UnmetCondition(ref, op, key) for op, key in outcome.failed)
            keys = ", ".join(dict.fromkeys(key for _op, key in outcome.failed))
            note = f"{ref.label()} would allow, but its condition on {keys} fails"
            missing = list(dict.fromkeys(outcome.missing))
            if missing:
                note += (
                    f" ({', '.join(missing)}: no value in the request context, so the operator "
                    "was not evaluated against one)"
                )
            scan.notes.append(note + ".")
        return
    if effect == "Deny":
        scan.denies.append(ref)
    else:
        scan.allows.append(_Allow(ref, how, list(dict.fromkeys(outcome.keys))))


def _keys_of(condition: Any, operator: str) -> list[str]:
    if isinstance(condition, dict) and isinstance(condition.get(operator), dict):
        return [str(key) for key in condition[operator]] or [""]
    return [""]


def action_applies(statement: dict, action: str) -> bool:
    """Whether a statement's Action (or NotAction) covers `action`, case-insensitively."""
    if "NotAction" in statement:
        return not any(action_matches_pattern(p, action) for p in as_list(statement["NotAction"]))
    return any(action_matches_pattern(p, action) for p in as_list(statement.get("Action")))


def _resource_applies(
    statement: dict, resource: str, context: Mapping[str, Any], variables: bool
) -> bool | None:
    """True/False, or None when only an unresolvable variable stood in the way."""
    if "NotResource" in statement:
        results = [
            resource_matches_pattern(p, resource, context, variables=variables)
            for p in as_list(statement["NotResource"])
        ]
        if any(results):
            return False
        return None if None in results else True
    if "Resource" not in statement:
        return True  # trust policies name no Resource: the role itself is the resource
    results = [
        resource_matches_pattern(p, resource, context, variables=variables)
        for p in as_list(statement["Resource"])
    ]
    if any(results):
        return True
    return None if None in results else False


def _decide(scan: _Scan) -> Decision:
    """One set of policies alone: Deny wins, then any Allow, else NO_ALLOW / CONDITION_UNMET."""
    common: dict[str, Any] = {
        "unmet": tuple(scan.unmet),
        "orphaned_principals": tuple(dict.fromkeys(scan.orphaned)),
        "notes": tuple(dict.fromkeys(scan.notes)),
    }
    if scan.denies:
        return Decision(
            False,
            DecisionKind.EXPLICIT_DENY,
            deciding=tuple(scan.denies),
            policy=scan.denies[0].source,
            **common,
        )
    if scan.allows:
        keys = [key for allow in scan.allows for key in allow.keys]
        return Decision(
            True,
            DecisionKind.ALLOW,
            deciding=tuple(allow.ref for allow in scan.allows),
            policy=scan.allows[0].ref.source,
            required_keys=tuple(dict.fromkeys(keys)),
            **common,
        )
    if scan.unmet:
        return Decision(
            False, DecisionKind.CONDITION_UNMET, policy=scan.unmet[0].statement.source, **common
        )
    # No statement to name: a lone policy is still the one that lacks the Allow.
    lone = scan.sources[0] if len(scan.sources) == 1 else None
    return Decision(False, DecisionKind.NO_ALLOW, policy=lone, **common)


def evaluate_policies(request: Request, policies: Sequence[PolicySource]) -> Decision:
    """Decide one request against one set of policies on their own.

    In: the request and the policies (resource-based ones are matched against the
    caller through Principal/NotPrincipal; identity-based ones ignore Principal).
    Out: a Decision: EXPLICIT_DENY when a matching Deny applies, ALLOW when a matching
    Allow does, else CONDITION_UNMET (an Allow matched but for its conditions, named
    in `unmet`) or NO_ALLOW (its `policy` is the policy when only one was given).
    Raises nothing for malformed documents: they are noted.
    """
    caller = parse_caller(request.principal_arn)
    context = request_context(request, caller)
    if not has_unknown(context):
        return _decide(_scan(policies, request, caller, context))
    best = _scan(policies, request, caller, context, optimistic=True)
    worst = _scan(policies, request, caller, context, optimistic=False)
    return _settle(_decide(best), _decide(worst), best.undetermined)


def has_unknown(context: Mapping[str, Any]) -> bool:
    """Whether any request-context value is (or holds) UNKNOWN."""
    return any(
        value is UNKNOWN or (isinstance(value, (list, tuple, set, frozenset)) and UNKNOWN in value)
        for value in context.values()
    )


def _settle(best: Decision, worst: Decision, undetermined: Sequence[UnmetCondition]) -> Decision:
    """One verdict from the optimistic and pessimistic readings of undetermined conditions:
    allowed when even the pessimistic one allows, denied when even the optimistic one
    denies, else UNDETERMINED, naming the conditions it turns on."""
    if worst.allowed:
        return worst
    if not best.allowed:
        return best
    keys = tuple(dict.fromkeys(u.key for u in undetermined))
    return Decision(
        False,
        DecisionKind.UNDETERMINED,
        unmet=tuple(undetermined),
        orphaned_principals=best.orphaned_principals,
        notes=(
            "The verdict turns on the value of "
            + ", ".join(keys)
            + ", which could not be determined: it allows if the undetermined conditions "
            "hold as the allowing statements need, and denies otherwise.",
            *best.notes,
        ),
        policy=best.policy,
        undetermined_keys=keys,
    )


def scp_levels_of(
    scps: Sequence[Sequence[PolicySource]] | Sequence[PolicySource] | None,
) -> list[list[PolicySource]]:
    """SCPs as levels (root, OUs, account), each the SCPs attached there.

    In: one sequence per level, or a flat sequence of SCPs, which is grouped into levels
    by `attached_to` in the order first seen (each target — root, OU, account — is a
    level); None or empty for no SCPs. Out: the levels as lists.
    """
    if not scps:
        return []
    if any(isinstance(item, PolicySource) for item in scps):
        levels: dict[str, list[PolicySource]] = {}
        for item in scps:
            if isinstance(item, PolicySource):
                levels.setdefault(item.attached_to, []).append(item)
            else:
                raise TypeError("SCPs: give levels of PolicySource, or PolicySource, not both.")
        return list(levels.values())
    return [list(level) for level in scps]


def _service_of(resource: str) -> str:
    parts = resource.split(":", 5)
    return parts[2] if len(parts) == 6 and parts[0] == "arn" else ""


def _account_of(resource: str) -> str:
    parts = resource.split(":", 5)
    return parts[4] if len(parts) == 6 and parts[0] == "arn" else ""


def _merge(*scans: _Scan) -> tuple[tuple[str, ...], tuple[str, ...]]:
    orphaned = tuple(dict.fromkeys(o for scan in scans for o in scan.orphaned))
    notes = tuple(dict.fromkeys(n for scan in scans for n in scan.notes))
    return orphaned, notes


def _scp_failure(
    levels: Sequence[Sequence[PolicySource]], scans: Sequence[_Scan], action: str
) -> Decision | None:
    """The first SCP level that allows nothing, as a Decision; None when every level allows."""
    for number, (level, scan) in enumerate(zip(levels, scans, strict=True), start=1):
        if scan.allows:
            continue
        where = next((p.attached_to for p in level if p.attached_to), f"level {number}")
        if level:
            note = f"No service control policy attached at {where} allows {action}."
        else:
            note = f"No service control policy is attached at {where}, so nothing is allowed there."
        return Decision(
            False,
            DecisionKind.SCP,
            unmet=tuple(scan.unmet),
            orphaned_principals=tuple(dict.fromkeys(scan.orphaned)),
            notes=(note, *dict.fromkeys(scan.notes)),
            policy=level[0] if level else None,
        )
    return None


def _identity_decision(
    identity_scan: _Scan,
    boundary: PolicySource | None,
    boundary_scan: _Scan | None,
    scp_levels: Sequence[Sequence[PolicySource]],
    scp_scans: Sequence[_Scan],
    action: str,
) -> Decision:
    """The identity side: identity policies, limited by the boundary and the SCPs."""
    scans = [identity_scan, *([boundary_scan] if boundary_scan else []), *scp_scans]
    orphaned, notes = _merge(*scans)
    denies = [ref for scan in scans for ref in scan.denies]
    if denies:
        return Decision(
            False,
            DecisionKind.EXPLICIT_DENY,
            deciding=tuple(denies),
            orphaned_principals=orphaned,
            notes=notes,
            policy=denies[0].source,
        )
    scp = _scp_failure(scp_levels, scp_scans, action)
    if scp is not None:
        return scp
    own = _decide(identity_scan)
    if not own.allowed:
        return own
    if boundary is not None and boundary_scan is not None and not boundary_scan.allows:
        return Decision(
            False,
            DecisionKind.BOUNDARY,
            unmet=tuple(boundary_scan.unmet),
            orphaned_principals=orphaned,
            notes=(
                f"The identity policies allow {action}, but {boundary.label()} does not.",
                *notes,
            ),
            policy=boundary,
        )
    return own


def evaluate_request(
    request: Request,
    *,
    identity: Sequence[PolicySource] | None = (),
    resource_policy: PolicySource | None = None,
    boundary: PolicySource | None = None,
    scps: Sequence[Sequence[PolicySource]] | Sequence[PolicySource] | None = None,
) -> Evaluation:
    """Decide one request the way AWS does, across every policy that applies.

    In: the request; `identity` the caller's identity-based policies (user, its groups,
    or role; inline and managed), or None when they are unknown (then the identity side
    is not evaluated and the verdict rests on the resource-based policy alone: check
    `Evaluation.identity is None`); `resource_policy` the role's trust policy (TRUST) or
    another resource-based policy; `boundary` the caller's permissions boundary; `scps`
    one entry per organization level from the root to the caller's account, each the
    SCPs attached there (a flat sequence of SCPs is grouped into levels by
    `attached_to`), or None when not in an organization / unknown.
    Out: an Evaluation with the final Decision, each side's own Decision, and whether the
    request crosses accounts (the caller's account differs from the account in the
    resource ARN; "*" or an ARN without account counts as the same account).
    Context values may be UNKNOWN (e.g. aws:PrincipalOrgID when the organization could
    not be read): the request is then decided under both readings of the conditions
    that test them, and a verdict that differs between the two is UNDETERMINED (the
    final decision and each side's own), naming the conditions in `unmet` and the keys
    in `undetermined_keys`; never a false pass or a false fail.
    Rules: the module docstring (AWS's "Policy evaluation logic" pages).
    """
    caller = parse_caller(request.principal_arn)
    context = request_context(request, caller)
    parts = (request, caller, context, identity, resource_policy, boundary, scps)
    if not has_unknown(context):
        return _evaluate(*parts, optimistic=None)[0]
    best, undetermined = _evaluate(*parts, optimistic=True)
    worst, _ = _evaluate(*parts, optimistic=False)

    def side(one: Decision | None, other: Decision | None) -> Decision | None:
        if one is None or other is None:
            return one
        return _settle(one, other, undetermined)

    return Evaluation(
        _settle(best.decision, worst.decision, undetermined),
        side(best.identity, worst.identity),
        side(best.resource, worst.resource),
        best.cross_account,
    )


def _evaluate(
    request: Request,
    caller: Caller,
    context: Mapping[str, Any],
    identity: Sequence[PolicySource] | None,
    resource_policy: PolicySource | None,
    boundary: PolicySource | None,
    scps: Sequence[Sequence[PolicySource]] | Sequence[PolicySource] | None,
    *,
    optimistic: bool | None,
) -> tuple[Evaluation, list[UnmetCondition]]:
    """One reading of `evaluate_request` (see `_scan` for `optimistic`)."""
    resource_account = _account_of(request.resource)
    cross_account = bool(caller.account and resource_account and caller.account != resource_account)

    o = optimistic
    identity_scan = (
        _scan(identity, request, caller, context, optimistic=o) if identity is not None else None
    )
    boundary_scan = (
        _scan([boundary], request, caller, context, optimistic=o) if boundary is not None else None
    )
    scp_levels = scp_levels_of(scps)
    scp_scans = [_scan(level, request, caller, context, optimistic=o) for level in scp_levels]
    resource_scan = (
        _scan(
            [resource_policy],
            request,
            caller,
            context,
            has_boundary=boundary is not None,
            optimistic=o,
        )
        if resource_policy is not None
        else None
    )
    undetermined = [
        u
        for scan in (identity_scan, boundary_scan, *scp_scans, resource_scan)
        if scan is not None
        for u in scan.undetermined
    ]

    identity_decision = (
        _identity_decision(
            identity_scan, boundary, boundary_scan, scp_levels, scp_scans, request.action
        )
        if identity_scan is not None
        else None
    )
    resource_decision = _decide(resource_scan) if resource_scan is not None else None

    all_scans = [
        s for s in (identity_scan, boundary_scan, *scp_scans, resource_scan) if s is not None
    ]
    orphaned, notes = _merge(*all_scans)

    def final(decision: Decision, *extra: str) -> tuple[Evaluation, list[UnmetCondition]]:
        merged = Decision(
            decision.allowed,
            decision.kind,
            deciding=decision.deciding,
            unmet=decision.unmet,
            orphaned_principals=orphaned,
            notes=tuple(dict.fromkeys((*extra, *decision.notes, *notes))),
            policy=decision.policy,
            required_keys=decision.required_keys,
        )
        return Evaluation(merged, identity_decision, resource_decision, cross_account), undetermined

    # 1. An explicit Deny anywhere.
    denies = [ref for scan in all_scans for ref in scan.denies]
    if denies:
        return final(
            Decision(
                False, DecisionKind.EXPLICIT_DENY, deciding=tuple(denies), policy=denies[0].source
            )
        )
    # 2. Every SCP level must allow.
    scp = _scp_failure(scp_levels, scp_scans, request.action)
    if scp is not None:
        return final(scp)
    # 3. The resource-based policy where it is required.
    required = resource_policy is not None and (
        resource_policy.kind == PolicyKind.TRUST or _service_of(request.resource) == "kms"
    )
    if cross_account and resource_decision is None:
        return final(
            Decision(False, DecisionKind.NO_ALLOW),
            f"A cross-account request needs a resource-based policy that allows it; none was "
            f"given for {request.resource}.",
        )
    if (
        (cross_account or required)
        and resource_decision is not None
        and not resource_decision.allowed
    ):
        return final(resource_decision)
    # 4. Same account: a resource-based policy naming the caller may grant on its own.
    if not cross_account and resource_scan is not None and resource_scan.allowed:
        how = resource_scan.how
        if how in (ANY, SELF):
            return final(_allow_from(resource_scan))
        if how == ROLE:
            if boundary_scan is not None and boundary is not None and not boundary_scan.allows:
                return final(
                    Decision(
                        False,
                        DecisionKind.BOUNDARY,
                        unmet=tuple(boundary_scan.unmet),
                        policy=boundary,
                    ),
                    f"{resource_policy.label() if resource_policy else 'The resource policy'} "
                    f"names the role, so the role's permissions boundary still limits it; "
                    f"{boundary.label()} does not allow {request.action}.",
                )
            return final(_allow_from(resource_scan))
    # 5. The identity side.
    if identity_decision is None:
        if resource_decision is not None:
            return final(
                resource_decision,
                "The caller's identity-based policies were not evaluated; this verdict rests on "
                f"{resource_policy.label() if resource_policy else 'the resource policy'} alone.",
            )
        return final(Decision(False, DecisionKind.NO_ALLOW), "No policy was given to evaluate.")
    if not identity_decision.allowed:
        return final(identity_decision)
    if resource_scan is not None and resource_scan.allowed:
        both = _allow_from(identity_scan, resource_scan) if identity_scan else identity_decision
        return final(both)
    return final(identity_decision)


def _allow_from(*scans: _Scan | None) -> Decision:
    allows = [allow for scan in scans if scan is not None for allow in scan.allows]
    keys = [key for allow in allows for key in allow.keys]
    return Decision(
        True,
        DecisionKind.ALLOW,
        deciding=tuple(allow.ref for allow in allows),
        policy=allows[0].ref.source if allows else None,
        required_keys=tuple(dict.fromkeys(keys)),
    )
