"""Recorded state and the last observed live state of a grant, in the job's words.

Reads only what the places that observe AWS saved on the records: the latest
Verification (Test access), the grant's drift check (also run after every
re-apply and adopt) and its operations. No AWS call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..models import Grant, GrantStatus, Operation, Verification

# Statuses whose access should be gone: Test access confirms it is.
GONE = (GrantStatus.REVOKED, GrantStatus.EXPIRED)


@dataclass(frozen=True)
class Observation:
    """One thing seen in AWS (or the record): what, whether present, when and by what."""

    text: str
    present: bool | None
    at: datetime | None
    by: str


def step_key_words(grant: Grant, key: str) -> str:
    """An operation step key ("role", "attach:<arn>", "grantee-policy"…) as words."""
    kind, _, rest = key.partition(":")
    grantee = f"{grant.get_grantee_type_display()} {grant.grantee_name or '(unnamed)'}"
    words = {
        "role": f"Role {grant.role_name} in {grant.trusting_account.name}",
        "trust": f"Trust policy of {grant.role_name}",
        "tags": f"Portal tags on {grant.role_name}",
        "attach": f"Managed policy {rest.rsplit('/', 1)[-1]} attached to {grant.role_name}",
        "detach": f"Managed policy {rest.rsplit('/', 1)[-1]} detached from {grant.role_name}",
        "inline": f"Inline policy {rest} on {grant.role_name}",
        "delete-inline": f"Inline policy {rest} removed from {grant.role_name}",
        "grantee-policy": f"User policy {grant.user_policy_name} on {grantee}",
    }
    return words.get(kind, key)


def _from_verification(grant: Grant, verification: Verification) -> list[Observation]:
    at, by = verification.started_at, "Test access"
    seen: list[Observation] = []
    steps = {step.get("key"): step for step in verification.steps}
    trust = steps.get("trust")
    if trust is not None:
        summary = trust.get("summary") or ""
        if trust.get("status") == "fail" and "not exist" in summary:
            seen.append(Observation(summary, False, at, by))
        elif trust.get("status") == "fail" and summary.startswith("Could not read"):
            seen.append(Observation(summary, None, at, by))
        elif trust.get("status") in ("pass", "warn", "fail"):
            seen.append(Observation(f"Role found in {grant.trusting_account.name}", True, at, by))
            if trust.get("status") == "fail":
                seen.append(Observation(trust.get("summary") or "", None, at, by))
    user_policy = steps.get("user_policy")
    if user_policy is not None and user_policy.get("status") in ("pass", "fail"):
        if user_policy.get("status") == "pass":
            text = f"{grant.grantee_name or 'The grantee'} may assume {grant.role_name}"
            if user_policy.get("summary"):
                text += f" ({user_policy['summary'].rstrip('.')})"
            seen.append(Observation(text, True, at, by))
        else:
            seen.append(Observation(user_policy.get("summary") or "", False, at, by))
    for key in ("assume", "list_queues"):
        step = steps.get(key)
        if step is not None and step.get("status") in ("pass", "fail") and step.get("summary"):
            seen.append(Observation(step["summary"], step.get("status") == "pass", at, by))
    return seen


_PART_WORDS = {
    "role": "Role",
    "trust policy": "Trust policy",
    "permission policies": "Permission policy",
    "tags": "Portal tags",
    "user policy": "User policy",
}


def _from_drift(grant: Grant) -> list[Observation]:
    at, by = grant.drift_checked_at, "drift check"
    if not grant.drift:
        return [Observation("Live IAM matched the record", True, at, by)]
    seen = []
    for item in grant.drift:
        part, change = item.get("part", ""), item.get("change", "")
        name = {
            "user policy": f"User policy {grant.user_policy_name}",
            "role": f"Role {grant.role_name}",
        }.get(part, _PART_WORDS.get(part, part))
        if part == "permission policies":
            first = (item.get("diff") or "").splitlines()[0:1]
            name = f"Permission policy ({first[0].lstrip('-+ ')})" if first else name
        seen.append(Observation(f"{name} {change}", change != "missing", at, by))
    return seen


@dataclass(frozen=True)
class GrantObservations:
    """What the grant page shows about AWS: the record, and the newest observation."""

    recorded: list[str]
    observed: list[Observation]
    observed_at: datetime | None
    observed_by: str
    role_present: bool | None


def grant_observations(*, grant: Grant) -> GrantObservations:
    """The recorded state (from the grant and its operations) and the last observed
    live state (the newest of the latest Test access and the drift check), in words.

    `role_present` is True/False when the newest observation saw the role or its
    absence, None when nothing observed it. Reads the database only.
    """
    recorded = [step_key_words(grant, key) for key in grant.applied_steps]
    if not recorded and grant.status in (GrantStatus.ACTIVE, GrantStatus.FAILING):
        recorded = [
            f"Role {grant.role_name} in {grant.trusting_account.name}",
            *(step_key_words(grant, f"attach:{arn}") for arn in grant.managed_policy_arns),
            *(
                [step_key_words(grant, f"inline:{grant.inline_policy_name}")]
                if grant.inline_policy
                else []
            ),
            *(
                [step_key_words(grant, "grantee-policy")]
                if grant.trusted_is_managed and grant.grantee_name
                else []
            ),
        ]
    latest: Verification | None = grant.verifications.order_by("-started_at", "-pk").first()
    last_op: Operation | None = (
        grant.operations.exclude(finished_at=None).order_by("-finished_at").first()
    )
    candidates: list[tuple[datetime, str, list[Observation]]] = []
    if latest is not None:
        candidates.append((latest.started_at, "Test access", _from_verification(grant, latest)))
    if grant.drift_checked_at is not None:
        candidates.append((grant.drift_checked_at, "drift check", _from_drift(grant)))
    if not candidates:
        return GrantObservations(recorded, [], None, "", None)
    at, by, observed = max(candidates, key=lambda c: c[0])
    if last_op is not None and last_op.finished_at and last_op.finished_at > at:
        # The operation changed AWS after the observation: it no longer says how AWS is.
        observed = [
            Observation(
                f"{last_op.get_kind_display()} finished after this: "
                "run Test access or Check drift to see AWS now",
                None,
                last_op.finished_at,
                last_op.get_kind_display(),
            ),
            *observed,
        ]
    role_present: bool | None = None
    for item in observed:
        if item.text.startswith(("Role found", "Live IAM matched")):
            role_present = True
        elif item.present is False and (
            item.text.startswith(f"Role {grant.role_name}") or "not exist" in item.text
        ):
            role_present = False
    return GrantObservations(recorded, observed, at, by, role_present)


def verification_confirms_gone(*, verification: Verification, grant: Grant) -> bool:
    """Whether this Test access ran to confirm that access is gone: the grant is
    revoked or expired, and the run started after the revocation was asked for or
    the expiry passed (an earlier run tested live access, not its absence)."""
    if grant.status == GrantStatus.REVOKED:
        since = grant.revoke_requested_at
    elif grant.status == GrantStatus.EXPIRED:
        since = grant.expires_at
    else:
        return False
    return since is None or verification.started_at >= since
