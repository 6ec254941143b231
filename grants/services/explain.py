"""Test access, the explain step: decisions and live outcomes in, steps with fixes out.

Pure: no AWS calls, no database. Every decisive cause of a denial has its own
words and its own fix, naming the policy and the statement that decided
(AWS's policy evaluation logic: an explicit Deny anywhere wins; otherwise an
Allow is needed from the identity policies, within the permissions boundary
and every SCP level, and, across accounts, from the role's trust policy too).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import aws, policies

if TYPE_CHECKING:
    from ..policies import Decision, PolicySource

PASS, FAIL, WARN, SKIP = "pass", "fail", "warn", "skip"

MFA_KEY = "aws:multifactorauthpresent"
# The organization keys ("Global condition context keys"), lower-case.
ORG_KEYS = (
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:resourceorgid",
    "aws:resourceorgpaths",
)
EXTERNAL_ID_KEY = "sts:externalid"
# What the AWS stand-in (moto) never enforces: a live success proves nothing there.
STAND_IN_BLIND = "the AWS stand-in does not enforce"


@dataclass
class Step:
    """One link of the chain, as stored on the Verification."""

    key: str
    title: str
    status: str = PASS
    summary: str = ""
    explanation: str = ""
    fix: str = ""
    error: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def fail(self, summary: str, explanation: str, fix: str = "", error: Any = None) -> None:
        self.status, self.summary, self.explanation, self.fix = FAIL, summary, explanation, fix
        self.error = error.as_dict() if error is not None else None

    def skip(self, summary: str) -> None:
        self.status, self.summary = SKIP, summary

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "status": self.status,
            "summary": self.summary,
            "explanation": self.explanation,
            "fix": self.fix,
            "error": self.error,
            "notes": self.notes,
        }


def error_explanation(error: aws.AwsErrorDetail, what: str) -> tuple[str, str]:
    """A plain explanation and fix for errors that mean the same whatever the step."""
    if error.client_error == "DeadlineExceeded":
        return (
            f"{error.message} Test access stopped waiting while trying to {what}.",
            "AWS (or the network path to it) is slow or hung: try again later; the steps "
            "after this one were not run.",
        )
    if error.client_error in ("EndpointConnectionError", "ConnectTimeoutError", "ConnectionError"):
        return (
            f"The AWS endpoint could not be reached while trying to {what}.",
            "Check the network path from the portal host to AWS (proxy, firewall, VPC "
            "endpoint) or the configured endpoint URL.",
        )
    if error.client_error == "ReadTimeoutError":
        return (
            f"The AWS endpoint accepted the connection but did not answer in time ({what}).",
            "Retry later; if it persists, check the endpoint or raise XACCT_AWS_READ_TIMEOUT.",
        )
    if error.client_error == "ProfileNotFound":
        return (
            "The named AWS profile does not exist on the portal host.",
            "Create the profile in the portal's AWS config, or correct the name.",
        )
    if error.client_error:
        return (f"The call failed before reaching AWS ({error.client_error}).", "")
    if error.code in ("InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken"):
        return (
            "AWS rejected the credentials used for this call.",
            "Renew the credentials behind the profile or the portal's identity.",
        )
    if error.code in ("AccessDenied", "AccessDeniedException"):
        return (f"The identity used may not {what}.", "")
    return (f"AWS refused to {what} ({error.code}).", "")


def region_token_explanation(*, region: str, account_id: str) -> tuple[str, str]:
    """InvalidClientTokenId / UnrecognizedClientException right after AssumeRole succeeded.

    The credentials are seconds old, so they are not the problem: either the region is
    an opt-in region not enabled in the account, or the session token came from the
    global STS endpoint, whose version-1 tokens are valid only in regions enabled by
    default (AWS STS docs, "Managing AWS STS in an AWS Region").
    """
    return (
        f"AWS did not accept, in {region}, the credentials AssumeRole issued a moment ago. "
        f"Either {region} is an opt-in region that is not enabled in account {account_id} "
        "(opt-in regions such as ap-east-1, me-south-1 or af-south-1 must be enabled before "
        "any call there), or the credentials came from the global STS endpoint, whose "
        "session tokens (version 1) are valid only in regions enabled by default.",
        f"Enable {region} in account {account_id} (Account → AWS Regions), or assume the role "
        f"through the regional STS endpoint (sts.{region}.amazonaws.com), or make the global "
        "endpoint issue version 2 tokens (IAM → Account settings → Security Token Service).",
    )


def _where(source: PolicySource | None) -> str:
    return source.label() if source is not None else "a policy"


def denial_cause(
    decision: Decision, *, action: str, resource: str, who: str
) -> tuple[str, str, str, str]:
    """(cause keyword, summary, explanation, fix) for a decision that does not allow.

    The cause keyword is one of "explicit-deny", "boundary", "scp", "mfa",
    "external-id", "orphaned", "condition", "no-allow".
    """
    kind = decision.kind
    if kind == policies.DecisionKind.EXPLICIT_DENY and decision.deciding:
        ref = decision.deciding[0]
        source = ref.source
        fix = f"Remove or narrow {ref.label()}"
        if source.kind in (policies.PolicyKind.GROUP_INLINE, policies.PolicyKind.GROUP_MANAGED):
            fix += f", or take {who} out of {source.attached_to}"
        elif source.kind == policies.PolicyKind.SCP:
            fix = scp_fix(source)
        return (
            "explicit-deny",
            f"An explicit Deny in {source.label()} blocks {action} on {resource}.",
            f"{ref.label()[0].upper()}{ref.label()[1:]} denies {action} for {who}. An explicit "
            "Deny wins over every Allow, wherever the Allow is attached.",
            fix + ".",
        )
    if kind == policies.DecisionKind.BOUNDARY:
        return (
            "boundary",
            f"The permissions boundary does not allow {action} on {resource}.",
            f"{_where(decision.policy)} sets the most {who} may do; identity policies allow "
            f"{action}, but the boundary does not, and AWS allows only what both allow.",
            f"Add {action} on {resource} to the boundary policy, or remove the boundary.",
        )
    if kind == policies.DecisionKind.SCP:
        where = decision.policy.attached_to if decision.policy is not None else ""
        at = f" attached to {where}" if where else ""
        return (
            "scp",
            f"No service control policy{at} allows {action}.",
            f"SCPs only filter: every level from the organization's root down to the account "
            f"needs an SCP that allows {action}, and none{at} does (an implicit deny: "
            f"FullAWSAccess was probably detached there, leaving {_where(decision.policy)}). "
            "An SCP limits every principal of the accounts under it, administrators included.",
            (
                f"Ask the organization's administrators to allow {action} in an SCP{at} "
                "(or attach FullAWSAccess there again)"
                + (
                    ", or to move the account to an OU whose SCPs allow it."
                    if "OU " in where
                    else "."
                )
            ),
        )
    if decision.orphaned_principals:
        ids = ", ".join(decision.orphaned_principals)
        return (
            "orphaned",
            f"The trust policy names a deleted principal ({ids}).",
            "IAM stores a trusted user or role as its unique ID and shows the ID once that "
            "principal is deleted; re-creating a principal of the same name gives it a new ID, "
            "so the trust admits nobody.",
            "Re-apply the recorded trust policy (it names the principal by ARN again).",
        )
    unmet_keys = [key.lower() for key in decision.unmet_keys]
    if kind == policies.DecisionKind.CONDITION_UNMET and MFA_KEY in unmet_keys:
        condition = next(u for u in decision.unmet if u.key.lower() == MFA_KEY)
        return (
            "mfa",
            "The trust policy requires MFA.",
            f"{condition.statement.label()[0].upper()}{condition.statement.label()[1:]} allows "
            f"{action} only when aws:MultiFactorAuthPresent is true ({condition.operator}); "
            f"{who} calls with long-term access keys and no MFA session, so AWS denies the call.",
            "Assume the role with an MFA session: aws sts assume-role --serial-number "
            "<the MFA device ARN> --token-code <the 6-digit code> (mfa_serial in a CLI "
            "profile); or remove the MFA condition if the grant should not require it.",
        )
    if kind == policies.DecisionKind.CONDITION_UNMET and EXTERNAL_ID_KEY in unmet_keys:
        return (
            "external-id",
            "The trust policy requires an external ID that is not passed.",
            f"The trust policy allows {action} only with a matching sts:ExternalId.",
            "Pass the external ID the trust policy names (ExternalId), or re-apply the recorded "
            "trust policy.",
        )
    org_unmet = [u for u in decision.unmet if u.key.lower() in ORG_KEYS]
    if kind == policies.DecisionKind.CONDITION_UNMET and org_unmet:
        condition = org_unmet[0]
        return (
            "organization",
            f"{condition.statement.source.label()[0].upper()}"
            f"{condition.statement.source.label()[1:]} admits only principals of a given "
            "organization or OU.",
            f"{condition.statement.label()[0].upper()}{condition.statement.label()[1:]} allows "
            f"{action} only when {condition.key} passes its {condition.operator} test "
            f"({organization_key_meaning(condition.key)}); {who} is not in that organization "
            "or OU, as the portal read it, so AWS denies the call.",
            "Move the account into the organization (or OU) the condition names, or change "
            f"the condition on {condition.key}.",
        )
    if kind == policies.DecisionKind.CONDITION_UNMET and decision.unmet:
        condition = decision.unmet[0]
        return (
            "condition",
            f"A condition of {condition.statement.source.label()} is not met.",
            f"{condition.statement.label()[0].upper()}{condition.statement.label()[1:]} allows "
            f"{action} only when its {condition.operator} condition on {condition.key} holds; "
            "for this call it does not.",
            f"Meet the condition on {condition.key}, or change that statement.",
        )
    return (
        "no-allow",
        f"No policy allows {action} on {resource}.",
        f"Nothing allows {who} {action} on {resource}, and AWS denies what no policy allows.",
        "",
    )


def scp_fix(source: PolicySource) -> str:
    """The fix for a Deny in an SCP (without the closing period): who can change it, naming
    it and where it is attached; moving the account helps only when the SCP is attached
    to an OU."""
    where = source.attached_to
    fix = (
        f"Ask the organization's administrators to change the SCP {source.name}"
        + (f" attached to {where}" if where else "")
        + " so that it allows this call"
    )
    if where.startswith("OU "):
        fix += f", or to move the account out of {where}"
    elif where == "the root":
        fix += " (attached to the root, it applies to every account of the organization)"
    elif where.startswith("the account"):
        fix += ", or to detach it from the account"
    return fix


def organization_key_meaning(key: str) -> str:
    """What an organization key holds, in words (IAM "Global condition context keys")."""
    return {
        "aws:principalorgid": "the ID of the caller's organization",
        "aws:principalorgpaths": "the caller's account path o-…/r-…/ou-…/ in its organization",
        "aws:resourceorgid": "the ID of the organization of the resource's account",
        "aws:resourceorgpaths": "the path of the resource's account in its organization",
    }.get(key.lower(), key)


def undetermined_cause(decision: Decision, *, action: str, who: str) -> tuple[str, str, str]:
    """(summary, explanation, fix) for a verdict that turns on values not read: the
    organization keys when the portal could not read an account's organization. Neither
    a pass nor a failure: the step is a warning."""
    keys = list(decision.undetermined_keys) or [u.key for u in decision.unmet]
    statements = list(dict.fromkeys(u.statement.label() for u in decision.unmet))
    organization = any(key.lower() in ORG_KEYS for key in keys)
    subject = "organization membership" if organization else "values"
    return (
        f"The verdict on {action} depends on {subject} the portal could not read.",
        (f"{statements[0][0].upper()}{statements[0][1:]}" if statements else "A statement")
        + f" tests {', '.join(dict.fromkeys(keys))}"
        + (
            f" ({'; '.join(organization_key_meaning(k) for k in dict.fromkeys(keys))})"
            if organization
            else ""
        )
        + f", which the portal could not read for this call: AWS allows {who} {action} "
        "if the condition goes one way and denies it if it goes the other. Neither a pass "
        "nor a failure is claimed.",
        (
            "Register the organization's management account (or a delegated administrator) "
            "in the portal, or let the portal read the organization (organizations:"
            "DescribeOrganization, ListParents), then run Test access again."
            if organization
            else "Run Test access where those values are known."
        ),
    )


def external_id_values(document: dict) -> list[str]:
    """The sts:ExternalId values the trust policy's statements test, in order."""
    values: list[str] = []
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    for statement in statements:
        if not isinstance(statement, dict):
            continue
        for block in (statement.get("Condition") or {}).values():
            if not isinstance(block, dict):
                continue
            for key, value in block.items():
                if key.lower() == EXTERNAL_ID_KEY:
                    values.extend(value if isinstance(value, list) else [value])
    return [str(v) for v in dict.fromkeys(values)]


def trusted_principals(document: dict) -> list[str]:
    """The AWS principals the trust policy names ("*" for everyone)."""
    found: list[str] = []
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    for statement in statements:
        principal = statement.get("Principal") if isinstance(statement, dict) else None
        if principal == "*":
            found.append("*")
        elif isinstance(principal, dict):
            value = principal.get("AWS", [])
            found.extend(value if isinstance(value, list) else [value])
    return found


def sandbox_note(*, cause: str) -> str:
    """Said only when the static verdict denies on trust, external ID, MFA or (the
    grantee side) an SCP and the live call still succeeded: the stand-in enforces none
    of them."""
    what = {
        "mfa": "MFA conditions",
        "external-id": "external IDs",
        "scp": "service control policies",
    }.get(cause, "trust policies and external IDs")
    return (
        f"The live call succeeded although the check above failed: {STAND_IN_BLIND} {what}; "
        "real AWS would deny the call."
    )
