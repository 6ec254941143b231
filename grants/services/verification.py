"""Test access as a pipeline: gather → evaluate → probe → explain → record.

*Gather* reads one snapshot of the IAM state both halves need (the role, its
trust and permission policies; the grantee's inline, managed and group
policies, its permissions boundary; each account's organization and the SCPs
over it, through the best reader the portal has: the trusted account's SCPs
bound the grantee's AssumeRole, the trusting account's the role's ListQueues),
independent reads in parallel. *Probe* runs the
seed's program live (AssumeRole, then ListQueues, all pages) on the same pool,
so the critical path is one round of concurrent reads overlapped with the two
live calls. *Evaluate* hands the snapshot to the pure engine
(`grants.policies`), *explain* (`explain.py`, pure) turns decisions and live
outcomes into steps, and *record* saves the Verification. One deadline
(`XACCT_VERIFY_DEADLINE_SECONDS`) bounds the whole run.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.utils import timezone

from alerts.services import alert_grant_verified

from .. import aws, policies
from ..models import (
    SYSTEM_ACTOR,
    AccessMethod,
    AuditAction,
    AuditOutcome,
    BatchItemState,
    Grant,
    GranteeType,
    GrantStatus,
    TrustScope,
    Verification,
    VerificationBatch,
    VerificationBatchItem,
    VerificationOutcome,
)
from ..policies.trust_conditions import credential_source_for, service_principals
from .audit import audit_record
from .authz import require
from .explain import (
    FAIL,
    PASS,
    SKIP,
    WARN,
    Step,
    denial_cause,
    error_explanation,
    external_id_values,
    region_token_explanation,
    sandbox_note,
    trusted_principals,
    undetermined_cause,
)
from .gather import (
    ASSUME,
    VERIFY_SESSION_NAME,
    Gather,
    OrgSide,
    Probe,
    Snapshot,
    on_real_aws,
    ordered_sources,
    probe_live,
)

logger = logging.getLogger(__name__)

__all__ = ["FAIL", "PASS", "SKIP", "WARN", "Step"]

# Task priorities (higher runs first): a person waiting beats the hourly schedule.
BATCH_PRIORITY_PERSON = 10
BATCH_PRIORITY_SCHEDULE = 0
LIST_QUEUES = "sqs:ListQueues"
# The codes AWS answers when the region or the token version refuses fresh credentials.
REGION_TOKEN_CODES = ("InvalidClientTokenId", "UnrecognizedClientException")


def deadline_seconds() -> float:
    """Test access's one total deadline in seconds (XACCT_VERIFY_DEADLINE_SECONDS, 10)."""
    return float(getattr(settings, "XACCT_VERIFY_DEADLINE_SECONDS", 10.0))


# --- evaluate and explain ----------------------------------------------------------------


class _Chain:
    """One Test access run for one grant: gather and probe, then evaluate and explain."""

    def __init__(self, grant: Grant) -> None:
        self.grant = grant
        self.trusting = grant.trusting_account.access()
        self.role_arn = grant.planned_role_arn
        self.snap = Snapshot()
        self.probe = Probe()
        self.steps: list[Step] = []
        self.trust_cause = ""  # why the trust side denies, when it does
        self.grantee_cause = ""  # why the grantee side denies, when it does
        self.evaluation: Any = None
        self.permissions: Any = None
        self.retry_seconds = 0.0

    # -- gather + probe ----------------------------------------------------------------
    def gather_and_probe(self) -> None:
        grant = self.grant
        reads = aws.Concurrent(max_workers=getattr(settings, "XACCT_VERIFY_READ_THREADS", 16))
        self._choose_live_identity()
        if self.probe.access is not None:
            reads.submit(probe_live, self.probe, self.role_arn, grant.external_id, grant.region)
        gather = Gather(reads, self.snap)
        gather.role(self.trusting, grant.role_name)
        trusted = grant.trusted_account
        if (
            trusted is not None
            and trusted.access_method != AccessMethod.EXTERNAL
            and grant.grantee_name
        ):
            access = trusted.access()
            gather.grantee(
                access,
                kind=grant.grantee_type,
                name=grant.grantee_name,
                simulate=(self.role_arn, self._context()) if on_real_aws() else None,
            )
        if trusted is not None:
            gather.organization(trusted, "trusted")
        gather.organization(grant.trusting_account, "trusting")
        reads.run()
        self.snap.role_sources[:] = ordered_sources(self.snap.role_sources)
        self.snap.grantee_sources[:] = ordered_sources(self.snap.grantee_sources)

    def _choose_live_identity(self) -> None:
        grant, probe = self.grant, self.probe
        if grant.require_mfa:
            return  # the live caller has no MFA device; real AWS would deny it
        if grant.grantee_profile:
            probe.as_grantee = True
            probe.acted_as = f"The grantee (profile {grant.grantee_profile})"
            probe.access = aws.AccountAccess(
                account_id=grant.trusted_aws_account_id,
                region=grant.region,
                method=aws.PROFILE,
                profile_name=grant.grantee_profile,
            )
            return
        trusted = grant.trusted_account
        if trusted is None or not trusted.is_managed:
            return
        probe.acted_as = f"The portal in {trusted.name} ({trusted.get_access_method_display()})"
        probe.access = trusted.access()

    def acted_as_label(self) -> str:
        """Who made the live calls, as the Verification records it; for a role grantee
        tested as the portal, that the live test as the role needs its credentials."""
        label = self.probe.acted_as
        if label and not self.probe.as_grantee and self.grant.grantee_type == GranteeType.ROLE:
            label += (
                f", not the grantee role {self.grant.grantee_name}: a live test as the role "
                "needs a grantee profile holding its credentials"
            )
        return label

    def _principal_arn(self) -> str:
        grant = self.grant
        if grant.trust_scope == TrustScope.PRINCIPAL and grant.trusted_principal_arn:
            return grant.trusted_principal_arn
        if self.snap.grantee_arn:
            return self.snap.grantee_arn
        partition = grant.trusting_account.partition
        if grant.grantee_name:
            return (
                f"arn:{partition}:iam::{grant.trusted_aws_account_id}:"
                f"{grant.grantee_type}/{grant.grantee_name}"
            )
        return policies.account_root_arn(grant.trusted_aws_account_id, partition=partition)

    def _context(self) -> dict[str, Any]:
        """The request context as the caller will have it: the external ID when the grant
        has one; MFA present only for a grant that requires it (its grantee assumes with an
        MFA session); absent otherwise, as for long-term access keys."""
        context: dict[str, Any] = {}
        if self.grant.external_id:
            context["sts:ExternalId"] = self.grant.external_id
        if self.grant.require_mfa:
            context["aws:MultiFactorAuthPresent"] = True
        return context

    def _org_context(self, *, principal: OrgSide, resource: OrgSide) -> dict[str, Any]:
        """The organization keys of a request: aws:PrincipalOrgID/-Paths from the caller's
        account, aws:ResourceOrgID/-Paths from the resource's ("Global condition context
        keys"); policies.UNKNOWN where the portal could not tell."""
        return {**principal.context("aws:Principal"), **resource.context("aws:Resource")}

    # -- evaluate --------------------------------------------------------------------------
    def evaluate(self) -> None:
        """The engine's verdicts: AssumeRole (trust and grantee side; the grantee side
        alone when the role could not be read) and the role's sqs:ListQueues."""
        snap, role = self.snap, self.snap.role
        identity = (
            tuple(snap.grantee_sources) if snap.grantee_read and not snap.grantee_missing else None
        )
        if role is None and identity is None:
            return
        request = policies.Request(
            principal_arn=self._principal_arn(),
            action=ASSUME,
            resource=self.role_arn,
            context={
                **self._context(),
                **self._org_context(principal=snap.trusted_org, resource=snap.trusting_org),
            },
        )
        trust = (
            policies.PolicySource(
                policies.PolicyKind.TRUST, role.name, role.trust_policy, f"role {role.name}"
            )
            if role is not None
            else None
        )
        self.evaluation = policies.evaluate_request(
            request,
            identity=identity,
            resource_policy=trust,
            boundary=snap.grantee_boundary if identity is not None else None,
            # The trusted account's SCPs bound its principals' AssumeRole.
            scps=snap.trusted_org.scps if identity is not None and snap.trusted_org.scps else None,
        )
        if role is None:
            return
        partition = self.grant.trusting_account.partition
        session = (
            f"arn:{partition}:sts::{self.grant.trusting_account.account_id}:assumed-role/"
            f"{role.name}/{VERIFY_SESSION_NAME}"
        )
        # The trusting account's SCPs bound the role session's ListQueues.
        trusting = snap.trusting_org
        self.permissions = policies.evaluate_request(
            policies.Request(
                principal_arn=session,
                action=LIST_QUEUES,
                resource="*",
                context=self._org_context(principal=trusting, resource=trusting),
            ),
            identity=tuple(snap.role_sources),
            boundary=snap.role_boundary,
            scps=trusting.scps or None,
        )

    def step(self, key: str, title: str) -> Step:
        step = Step(key, title)
        self.steps.append(step)
        return step

    # -- 1 -------------------------------------------------------------------------------
    def explain_trust(self) -> None:
        grant, snap = self.grant, self.snap
        step = self.step("trust", "Role exists and its trust policy admits the trusted principal")
        if snap.role_error is not None:
            explanation, fix = error_explanation(snap.role_error, "read the role")
            step.fail(f"Could not read {grant.role_name}.", explanation, fix, snap.role_error)
            return
        if snap.role is None:
            step.fail(
                f"The role {grant.role_name} does not exist in {grant.trusting_account}.",
                "The role was deleted outside the portal (or never created). Nothing can "
                "assume it; even where a stand-in hands out credentials, they grant nothing.",
                "Provision the grant again, or revoke it.",
            )
            return
        role = snap.role
        decision = self.evaluation.resource
        principal = self._principal_arn()
        step.notes.extend(decision.notes)
        required_ids = external_id_values(role.trust_policy)
        if decision.kind == policies.DecisionKind.UNDETERMINED:
            step.status = WARN
            step.summary, step.explanation, step.fix = undetermined_cause(
                decision, action=ASSUME, who=principal
            )
            return
        if not decision.allowed:
            cause, summary, explanation, fix = denial_cause(
                decision, action=ASSUME, resource=role.arn, who=principal
            )
            self.trust_cause = cause
            if cause == "external-id" and not grant.external_id:
                summary = "The trust policy requires an external ID the grant does not have."
                explanation = (
                    f"{grant.role_name} may only be assumed with ExternalId "
                    f"{', '.join(required_ids)}, but the grant records none."
                )
                fix = "Record the external ID on the grant, or re-apply the recorded trust policy."
            elif cause == "external-id":
                summary = "The external ID is wrong."
                explanation = (
                    f"The trust policy expects ExternalId {', '.join(required_ids)}; the grant "
                    f"passes {grant.external_id}."
                )
                fix = (
                    "Use the external ID the trust policy names, or re-apply the recorded "
                    "trust policy."
                )
            elif cause == "no-allow":
                named = trusted_principals(role.trust_policy)
                summary = f"The trust policy does not admit {principal}."
                explanation = (
                    "The role trusts "
                    + (", ".join(named) if named else "no AWS principal")
                    + f"; none of them is {principal} or its account "
                    + f"{grant.trusted_aws_account_id}."
                )
                fix = "Re-apply the recorded trust policy, or correct the trusted account."
            step.fail(summary, explanation, fix)
            return
        if grant.external_id and not required_ids:
            self.trust_cause = "external-id"
            step.fail(
                "The trust policy no longer requires the external ID.",
                "The grant records an external ID, but the live trust policy admits the "
                "trusted principal without one: a confused deputy could assume the role.",
                "Re-apply the recorded trust policy with its sts:ExternalId condition.",
            )
            return
        step.summary = f"{role.arn} admits {principal}."
        if decision.orphaned_principals:
            step.status = WARN
            step.notes.append(
                "The trust policy also names deleted principals ("
                + ", ".join(decision.orphaned_principals)
                + "): IAM shows a trusted user or role by its unique ID once it is deleted."
            )
        if required_ids:
            step.notes.append("Requires ExternalId (passed by Test access).")
        if grant.require_mfa:
            mfa_in_trust = "multifactorauthpresent" in str(role.trust_policy).lower()
            if mfa_in_trust:
                step.notes.append(
                    "Requires MFA: the grantee must assume the role with an MFA session "
                    "(--serial-number and --token-code)."
                )
            else:
                step.status = WARN
                step.notes.append("The grant records an MFA requirement the trust policy lacks.")
        if role.trust_policy != grant.trust_policy:
            step.notes.append("The live trust policy differs from the recorded one.")

    # -- 2 -------------------------------------------------------------------------------
    def explain_permissions(self) -> None:
        snap = self.snap
        step = self.step("permissions", "Role permissions allow sqs:ListQueues")
        if snap.role is None:
            step.skip(
                "Not checked: the role could not be read."
                if snap.role_error
                else "Not checked: the role does not exist."
            )
            return
        decision = self.permissions.decision
        gaps = snap.gaps_of("role")
        step.notes.extend(decision.notes)
        if snap.trusting_org.note:
            step.notes.append(snap.trusting_org.note)
        if decision.kind == policies.DecisionKind.UNDETERMINED:
            step.status = WARN
            step.summary, step.explanation, step.fix = undetermined_cause(
                decision, action=LIST_QUEUES, who=f"role {snap.role.name}"
            )
            return
        if decision.allowed:
            step.summary = "Allowed by " + ", ".join(ref.label() for ref in decision.deciding) + "."
            if gaps:
                step.status = WARN
                step.notes.extend(gap.note() for gap in gaps)
            return
        if gaps and decision.kind in (
            policies.DecisionKind.NO_ALLOW,
            policies.DecisionKind.CONDITION_UNMET,
        ):
            explanation, fix = error_explanation(gaps[0].error, "read the role's policies")
            step.fail(
                "Could not read the role's policies.",
                explanation + " " + " ".join(gap.note() for gap in gaps),
                fix,
                gaps[0].error,
            )
            return
        cause, summary, explanation, fix = denial_cause(
            decision, action=LIST_QUEUES, resource='"*"', who=f"role {snap.role.name}"
        )
        if cause == "no-allow":
            summary = "The role's permissions do not allow sqs:ListQueues."
            explanation = (
                'With no policy allowing sqs:ListQueues on "*", listing queues with the '
                "role's credentials is denied."
            )
            fix = (
                "Attach AmazonSQSReadOnlyAccess or AmazonSQSFullAccess, or re-apply the "
                "recorded permission policies."
            )
        step.fail(summary, explanation, fix)

    # -- 3 -------------------------------------------------------------------------------
    def explain_grantee(self) -> None:
        grant, snap = self.grant, self.snap
        step = self.step("user_policy", "The grantee's policies allow sts:AssumeRole on the role")
        if not snap.grantee_read:
            step.skip(
                "Not checked: the trusted account is external; its administrator applies the "
                "user policy."
                if grant.grantee_name
                else "Not checked: the grant names no grantee."
            )
            return
        if snap.grantee_missing:
            step.fail(
                f"The grantee {grant.grantee_name} does not exist in {grant.trusted_account}.",
                "The IAM principal the grant names was deleted or renamed.",
                "Revoke the grant and create it for an existing principal.",
            )
            return
        if grant.grantee_type == GranteeType.ROLE:
            step.notes.append(
                "The grantee is a role: assuming another role from a role session is role "
                "chaining, which AWS limits to one hour (DurationSeconds ≤ 3600) whatever the "
                "role's maximum session duration."
            )
        decision = self.evaluation.identity
        gaps = snap.gaps_of("grantee")
        step.notes.extend(decision.notes)
        if snap.trusted_org.note:
            step.notes.append(snap.trusted_org.note)
        self._simulation_notes(step, decision)
        if decision.kind == policies.DecisionKind.UNDETERMINED:
            step.status = WARN
            step.summary, step.explanation, step.fix = undetermined_cause(
                decision, action=ASSUME, who=grant.grantee_name
            )
            return
        if decision.allowed:
            step.summary = "Allowed by " + ", ".join(ref.label() for ref in decision.deciding) + "."
            if gaps:
                step.status = WARN
                step.notes.extend(gap.note() for gap in gaps)
            return
        if gaps and decision.kind in (
            policies.DecisionKind.NO_ALLOW,
            policies.DecisionKind.CONDITION_UNMET,
        ):
            explanation, fix = error_explanation(gaps[0].error, "read the grantee's policies")
            step.fail(
                "Could not read the grantee's policies.",
                explanation + " " + " ".join(gap.note() for gap in gaps),
                fix,
                gaps[0].error,
            )
            return
        cause, summary, explanation, fix = denial_cause(
            decision, action=ASSUME, resource=self.role_arn, who=grant.grantee_name
        )
        is_scp = decision.policy is not None and decision.policy.kind == policies.PolicyKind.SCP
        self.grantee_cause = "scp" if is_scp else cause
        if cause == "no-allow":
            recorded = any(
                s.kind in (policies.PolicyKind.USER_INLINE, policies.PolicyKind.ROLE_INLINE)
                and s.name == grant.user_policy_name
                for s in snap.grantee_sources
            )
            if not recorded:
                summary = f"The user policy {grant.user_policy_name} is missing."
                explanation = (
                    f"{grant.grantee_name} has no policy allowing sts:AssumeRole on "
                    f"{self.role_arn} (inline, managed or through a group); AWS denies the "
                    "AssumeRole call even though the role trusts the account."
                )
            else:
                summary = f"The user policy {grant.user_policy_name} is aimed at another role."
                explanation = f"It does not allow sts:AssumeRole on {self.role_arn}."
            fix = "Re-apply the recorded user policy."
        step.fail(summary, explanation, fix)
        if gaps:
            step.notes.extend(gap.note() for gap in gaps)

    def _simulation_notes(self, step: Step, decision: Any) -> None:
        snap = self.snap
        if snap.simulation_note:
            step.notes.append(snap.simulation_note)
        result = snap.simulation
        if result is None:
            return
        ours = "allowed" if decision.allowed else "denied"
        theirs = "allowed" if result.allowed else f"denied ({result.decision})"
        step.notes.append(
            f"AWS's policy simulator (iam:SimulatePrincipalPolicy): {theirs}; "
            f"the portal's evaluation: {ours}."
        )
        # The simulator does not evaluate SCPs: an SCP denial is no disagreement.
        if result.allowed != decision.allowed and decision.kind != policies.DecisionKind.SCP:
            step.notes.append(
                "They disagree: AWS's simulator is authoritative for the grantee's own "
                "policies; the portal's verdict above may be wrong."
            )
            if step.status == PASS:
                step.status = WARN

    # -- 4 -------------------------------------------------------------------------------
    def retry_for_propagation(self) -> None:
        """Retry AssumeRole only when the static verdict allows, AWS denied it, and the
        grant changed within XACCT_IAM_PROPAGATION_WINDOW_SECONDS (IAM is eventually
        consistent); bounded by the retry budget and the deadline."""
        probe = self.probe
        if probe.assume_error is None or probe.assume_error.code != "AccessDenied":
            return
        if self.evaluation is None or not self.evaluation.decision.allowed:
            return
        if any(s.status == FAIL for s in self.steps):
            return
        window = settings.XACCT_IAM_PROPAGATION_WINDOW_SECONDS
        if (timezone.now() - self.grant.updated_at).total_seconds() >= window:
            return
        budget = settings.XACCT_VERIFY_PROPAGATION_RETRY_SECONDS
        started, delay = time.monotonic(), 1.0
        limit = aws.current_deadline()
        while probe.assume_error is not None and probe.assume_error.code == "AccessDenied":
            elapsed = time.monotonic() - started
            left = limit.remaining() if limit is not None else float("inf")
            if elapsed + delay > budget or delay + 1.0 > left:
                break
            time.sleep(delay)
            delay *= 2
            probe_live(probe, self.role_arn, self.grant.external_id, self.grant.region)
        self.retry_seconds = time.monotonic() - started

    def explain_assume(self) -> None:
        probe, snap = self.probe, self.snap
        step = self.step("assume", "Live sts:AssumeRole")
        if snap.role is None:
            step.skip(
                "Not run: the role does not exist."
                if snap.role_missing
                else "Not run: the role could not be read."
            )
            if probe.assumed is not None:
                step.notes.append("The AWS stand-in answered anyway; its answer is not counted.")
            return
        if probe.access is None:
            if self.grant.require_mfa:
                step.skip(
                    "Not run: the trust policy requires MFA and Test access has no MFA device; "
                    "checked statically only."
                )
            elif self.grant.grantee_type == GranteeType.ROLE:
                step.skip(
                    f"Not run: Test access cannot run live as the role {self.grant.grantee_name} "
                    "of an external account without a profile holding its credentials; "
                    "checked statically only."
                )
                step.fix = self._role_profile_fix()
            else:
                step.skip(
                    "Not run: the trusted account is external. Name a local profile holding the "
                    "grantee's credentials to test live."
                )
            return
        if probe.assume_error is not None:
            error = probe.assume_error
            explanation, fix = self._assume_explanation(error)
            step.fail(
                "AssumeRole was denied." if error.code else "AssumeRole failed.",
                explanation,
                fix,
                error,
            )
            return
        assert probe.assumed is not None
        if probe.attempts > 1:
            step.notes.append(
                f"Succeeded on attempt {probe.attempts}: IAM changes take a while to propagate."
            )
        step.summary = f"{probe.acted_as} became {probe.assumed.arn}."
        if not probe.as_grantee and self.grant.grantee_type == GranteeType.ROLE:
            step.notes.append(
                f"Test access cannot run live as the role {self.grant.grantee_name}: no "
                "profile holding its credentials is named, so the live calls ran as the "
                "portal. They prove the trust and the role's permissions, not that "
                f"{self.grant.grantee_name} itself may assume the role (step 3 checks its "
                "policies statically). " + self._role_profile_fix()
            )
        if self.trust_cause:  # the trust side denies: moto enforces none of it
            step.notes.append(sandbox_note(cause=self.trust_cause))
        elif self.grantee_cause == "scp":
            step.notes.append(sandbox_note(cause="scp"))
        failed = {s.key for s in self.steps if s.status == FAIL}
        if not probe.as_grantee and "user_policy" in failed:
            step.notes.append(
                "The live call ran as the portal, not as the grantee: it cannot show the "
                "grantee's own permissions (step 3)."
            )

    def _role_profile_fix(self) -> str:
        """How to let Test access act as a role grantee: a profile that becomes it."""
        grant = self.grant
        role = self.snap.grantee_arn or (
            f"arn:{grant.trusting_account.partition}:iam::{grant.trusted_aws_account_id}:"
            f"role/{grant.grantee_name}"
        )
        services = service_principals(self.snap.grantee_trust or {})
        source = credential_source_for(services)
        how = (
            f"credential_source = {source} where the portal runs as {', '.join(services)} does"
            if source
            else "credential_source = Ec2InstanceMetadata, EcsContainer or Environment where "
            "the portal runs beside it"
        )
        return (
            "To test as the role, name a grantee profile on the portal host that becomes it "
            f"(role_arn = {role} with {how}, or source_profile = a profile that may assume "
            "it; role chaining limits that session to one hour), or run the hand-off kit's "
            "test where the role lives (its EC2 instance, task or function)."
        )

    def _assume_explanation(self, error: aws.AwsErrorDetail) -> tuple[str, str]:
        probe = self.probe
        if error.code != "AccessDenied":
            return error_explanation(error, "assume the role")
        failed = {s.key: s for s in self.steps if s.status == FAIL}
        for key in ("user_policy", "trust", "permissions"):
            if key in failed and not (key == "user_policy" and not probe.as_grantee):
                return failed[key].summary + " " + failed[key].explanation, failed[key].fix
        if "trust" in failed:
            return failed["trust"].summary + " " + failed["trust"].explanation, failed["trust"].fix
        if probe.attempts > 1:
            return (
                f"Still denied after {probe.attempts} attempts over {self.retry_seconds:.0f} s. "
                "The grant changed recently: IAM is eventually consistent, so new policies can "
                "take a minute or two to apply everywhere.",
                "Run Test access again in a minute.",
            )
        return (
            f"{probe.acted_as} may not assume {self.role_arn}, although the trust policy and "
            "the policies the portal could read allow it: something it cannot see denies it "
            "(an SCP, a permissions boundary, or a policy changed since the read).",
            "Check the organization's SCPs and the identity's permissions boundary.",
        )

    # -- 5 -------------------------------------------------------------------------------
    def explain_list_queues(self) -> None:
        grant, probe = self.grant, self.probe
        step = self.step("list_queues", f"Live sqs:ListQueues in {grant.region}")
        if self.snap.role is None or probe.assumed is None:
            if probe.assume_error is not None and probe.assume_error.client_error == (
                "DeadlineExceeded"
            ):
                step.skip("Not run: the deadline ran out before it.")
            else:
                step.skip("Not run: no temporary credentials.")
            return
        if probe.list_error is not None:
            error = probe.list_error
            if error.code == "AccessDenied":
                permissions = next((s for s in self.steps if s.key == "permissions"), None)
                if permissions is not None and permissions.status == FAIL:
                    explanation, fix = (
                        permissions.summary + " " + permissions.explanation,
                        (permissions.fix),
                    )
                else:
                    explanation = (
                        "The role's credentials may not list queues: its permissions lack "
                        "sqs:ListQueues."
                    )
                    fix = "Attach AmazonSQSReadOnlyAccess, or re-apply the recorded permissions."
            elif error.code in REGION_TOKEN_CODES:
                explanation, fix = region_token_explanation(
                    region=grant.region, account_id=grant.trusting_account.account_id
                )
            else:
                explanation, fix = error_explanation(error, "list the queues")
            step.fail("ListQueues failed.", explanation, fix, error)
            return
        step.summary = (
            f"{len(probe.queue_urls)} queue(s)."
            if probe.queue_urls
            else f"No queues in {grant.region}: access works, there is nothing to list."
        )

    def run(self) -> None:
        self.gather_and_probe()
        self.evaluate()
        self.explain_trust()
        self.explain_permissions()
        self.explain_grantee()
        self.retry_for_propagation()
        self.explain_assume()
        self.explain_list_queues()

    def outcome(self) -> str:
        if any(s.status == FAIL for s in self.steps):
            return VerificationOutcome.FAILED
        if self.probe.listed and self.snap.role is not None:
            return (
                VerificationOutcome.PASSED_GRANTEE
                if self.probe.as_grantee
                else VerificationOutcome.PASSED_PORTAL
            )
        return VerificationOutcome.STATIC_ONLY


_MESSAGES = {
    VerificationOutcome.PASSED_GRANTEE: "Passed as the grantee",
    VerificationOutcome.PASSED_PORTAL: "Passed as the portal",
    VerificationOutcome.STATIC_ONLY: "Checked statically only; nothing live could run",
}


def grant_verify(
    *,
    grant: Grant,
    actor: AbstractBaseUser | None,
    batch: VerificationBatch | None = None,
) -> Verification:
    """Run Test access for the grant, save the evidence, and let the status follow it.

    Takes the grant and who asks (None: the system); returns the saved Verification.
    The whole run (reads, live calls, propagation retries) ends within
    XACCT_VERIFY_DEADLINE_SECONDS (10 s by default): a call still waiting then fails
    its step with "did not answer within N s". Outcome: passed as the grantee (live
    calls with the grantee's own profile), passed as the portal (live calls as the
    portal in the trusted account), checked statically only (nothing live could run;
    neither passed nor failing: last_verification_ok None), or failed. Raises
    PermissionDenied when the actor may not verify.
    """
    require(actor, "verify_grant")
    started_at = timezone.now()
    clock = time.monotonic()
    chain = _Chain(grant)
    with aws.deadline(seconds=deadline_seconds()):
        chain.run()
    outcome = chain.outcome()
    failed = next((s for s in chain.steps if s.status == FAIL), None)
    assumed = chain.probe.assumed if chain.snap.role is not None else None
    queue_urls = chain.probe.queue_urls if chain.probe.listed else []
    with transaction.atomic():
        verification = Verification.objects.create(
            grant=grant,
            batch=batch,
            actor=actor if actor is not None and actor.is_authenticated else None,
            actor_name=actor.get_username() if actor is not None else "system",
            started_at=started_at,
            duration_ms=int((time.monotonic() - clock) * 1000),
            outcome=outcome,
            acted_as=chain.acted_as_label(),
            steps=[s.as_dict() for s in chain.steps],
            queue_urls=queue_urls,
            assumed_role_arn=assumed.arn if assumed else "",
        )
        ok: bool | None = (
            None if outcome == VerificationOutcome.STATIC_ONLY else outcome != "failed"
        )
        fields: dict[str, Any] = {"last_verified_at": started_at, "last_verification_ok": ok}
        # update() leaves updated_at alone: a verification is not a change to the grant.
        Grant.objects.filter(pk=grant.pk).update(**fields)
        # The status follows only a live grant; a revoke that landed meanwhile wins.
        status = GrantStatus.FAILING if failed else GrantStatus.ACTIVE
        if Grant.objects.filter(
            pk=grant.pk, status__in=[GrantStatus.ACTIVE, GrantStatus.FAILING]
        ).update(status=status):
            fields["status"] = status
        for name, value in fields.items():
            setattr(grant, name, value)
        # Alerts follow changes of whether the grant works (alerts app).
        alert_grant_verified(grant=grant, verification=verification)
        # The AWS error the panel shows: the first failing step that carries one, which
        # need not be the first failing step (a static check may fail before it).
        failed_call = next((s for s in chain.steps if s.status == FAIL and s.error), None)
        error = aws.AwsErrorDetail.from_dict(failed_call.error) if failed_call else None
        audit_record(
            actor=actor,
            action=AuditAction.GRANT_VERIFY,
            outcome=AuditOutcome.FAILURE if failed else AuditOutcome.SUCCESS,
            account=grant.trusting_account,
            grant=grant,
            target_arn=chain.role_arn,
            error=error,
            # Else the live AssumeRole, as the trusting account's CloudTrail records it.
            request_id=assumed.request_id if assumed else "",
            service="sts" if assumed else "",
            operation="AssumeRole" if assumed else "",
            message=(
                failed.summary
                if failed
                else f"{_MESSAGES[outcome]}; {len(queue_urls)} queue(s)."
                if outcome != VerificationOutcome.STATIC_ONLY
                else _MESSAGES[outcome] + "."
            ),
        )
    return verification


def grants_verify(
    *,
    grants: Iterable[Grant],
    actor: AbstractBaseUser | None,
    batch: VerificationBatch | None = None,
    workers: int | None = None,
) -> list[Verification]:
    """Verify many grants concurrently, at most `workers` at a time; results in input order."""
    grants = list(grants)
    workers = workers or settings.XACCT_VERIFY_CONCURRENCY
    if workers <= 1:
        return [grant_verify(grant=grant, actor=actor, batch=batch) for grant in grants]

    def one(grant: Grant) -> Verification:
        try:
            return grant_verify(grant=grant, actor=actor, batch=batch)
        finally:
            connection.close()  # each pool thread opened its own

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="verify") as pool:
        return list(pool.map(one, grants))


def verification_batch_start(
    *, grants: list[Grant], actor: AbstractBaseUser | None
) -> VerificationBatch:
    """Record a batch with one item per grant and enqueue one task per item.

    With the database task backend the tasks wait for `db_worker` processes,
    which share them out; with the immediate backend they have run by the time
    this returns (outside a transaction). A person's batch goes before the
    schedule's in the queue.
    """
    person = actor is not None and actor.is_authenticated
    with transaction.atomic():
        batch = VerificationBatch.objects.create(
            actor=actor if person else None,
            actor_name=actor.get_username() if person else SYSTEM_ACTOR,
            finished_at=None if grants else timezone.now(),
        )
        items = VerificationBatchItem.objects.bulk_create(
            VerificationBatchItem(batch=batch, grant=grant, grant_label=_grant_label(grant))
            for grant in dict.fromkeys(grants)
        )
    priority = BATCH_PRIORITY_PERSON if person else BATCH_PRIORITY_SCHEDULE
    # A worker must find the items: enqueue once they are committed.
    transaction.on_commit(lambda: _batch_enqueue(batch, items, priority))
    batch.refresh_from_db()
    return batch


def _grant_label(grant: Grant) -> str:
    return f"{grant.role_name} in {grant.trusting_account.name}"


def _batch_enqueue(
    batch: VerificationBatch, items: list[VerificationBatchItem], priority: int
) -> None:
    from ..tasks import verify_batch_item  # the task module imports the services

    task = verify_batch_item.using(priority=priority)
    queued: list[VerificationBatchItem] = []
    try:
        for item in items:
            item.task_id = str(task.enqueue(item_id=item.pk).id)
            queued.append(item)
    except Exception as exc:
        # Nothing will run the rest: say so on them rather than wait forever.
        logger.exception("Batch %s: enqueuing stopped after %s item(s).", batch.pk, len(queued))
        VerificationBatchItem.objects.filter(
            pk__in=[i.pk for i in items[len(queued) :]], state=BatchItemState.QUEUED
        ).update(
            state=BatchItemState.SKIPPED,
            finished_at=timezone.now(),
            note=f"Could not be queued ({type(exc).__name__}); see the portal's log.",
        )
        _batch_finish_if_done(batch.pk)
    finally:
        # One write for all task ids (only that column: a worker may be at the items).
        VerificationBatchItem.objects.bulk_update(queued, ["task_id"])


def verification_batch_item_verify(*, item_id: int) -> str:
    """Verify one grant of a batch (a task's work) and record the outcome on the item.

    The item is claimed first (queued → running): a task run twice, or by two
    workers, verifies the grant once. Returns the item's final state, or
    "claimed" when another run had it.
    """
    claimed = VerificationBatchItem.objects.filter(pk=item_id, state=BatchItemState.QUEUED).update(
        state=BatchItemState.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        logger.warning("Batch item %s was claimed already; not verified again.", item_id)
        return "claimed"
    item = VerificationBatchItem.objects.select_related(
        "batch__actor", "grant__trusting_account", "grant__trusted_account"
    ).get(pk=item_id)
    batch = item.batch
    # Replaced on every normal path; left as is if the process is told to stop.
    outcome: dict[str, Any] = {
        "state": BatchItemState.SKIPPED,
        "note": "Interrupted before it finished (the worker or the request was stopped).",
    }
    try:
        if item.grant is None:
            outcome["note"] = "The grant was deleted before its turn."
        elif batch.actor is None and not batch.started_by_system:
            outcome["note"] = f"The user who started the batch ({batch.actor_name}) was deleted."
        else:
            verification = grant_verify(grant=item.grant, actor=batch.actor, batch=batch)
            outcome = {"state": BatchItemState.VERIFIED, "note": "", "verification": verification}
    except PermissionDenied:
        outcome["note"] = f"{batch.actor_name} may no longer run Test access."
    except Exception as exc:
        outcome["note"] = (
            f"The verification stopped with an error ({type(exc).__name__}); see the log of "
            "the worker (or web process) that ran it."
        )
        raise  # the task backend records the failure and its traceback
    finally:
        VerificationBatchItem.objects.filter(pk=item_id).update(
            finished_at=timezone.now(), **outcome
        )
        # Only once the item's outcome is visible to the other workers.
        transaction.on_commit(lambda: _batch_finish_if_done(batch.pk))
    return outcome["state"]


def verification_batches_reap(*, stale_after: timedelta) -> int:
    """Give up on batch items nothing will finish, and close the batches that leaves.

    - running for longer than `stale_after`: the worker that took it was
      killed (a verification ends within minutes: short AWS timeouts, a
      bounded propagation retry);
    - queued for longer, with no task waiting or running for it: enqueuing
      stopped part-way, or the task failed before it could claim the item,
      or its task result was deleted.

    Returns how many items were given up.
    """
    now = timezone.now()
    cutoff = now - stale_after
    minutes = int(stale_after.total_seconds() // 60)
    given_up = VerificationBatchItem.objects.filter(
        state=BatchItemState.RUNNING, started_at__lt=cutoff
    ).update(
        state=BatchItemState.SKIPPED,
        finished_at=now,
        note=f"Abandoned: no result {minutes} minutes after a worker took it (it stopped?).",
    )
    waiting = list(
        VerificationBatchItem.objects.filter(
            state=BatchItemState.QUEUED, batch__created_at__lt=cutoff
        ).values_list("pk", "task_id")
    )
    if waiting:
        alive = _live_task_ids([task_id for _, task_id in waiting if task_id])
        orphans = [pk for pk, task_id in waiting if task_id not in alive]
        given_up += VerificationBatchItem.objects.filter(
            pk__in=orphans, state=BatchItemState.QUEUED
        ).update(
            state=BatchItemState.SKIPPED,
            finished_at=now,
            note="Never run: no task was waiting for it (queuing stopped, or its task was lost).",
        )
    # Close every batch left with nothing open, including one whose last run
    # died between recording its item and closing the batch.
    VerificationBatch.objects.filter(finished_at__isnull=True).exclude(
        items__state__in=VerificationBatchItem.OPEN
    ).update(finished_at=now)
    return given_up


def _live_task_ids(task_ids: list[str]) -> set[str]:
    """Those of the task ids that the database task queue still holds as ready or running."""
    from django_tasks_db.models import DBTaskResult

    from ..tasks import queued_in_database

    if not queued_in_database() or not task_ids:
        return set()  # an immediate task has run by the time its id is known

    uuids = []
    for task_id in task_ids:
        try:
            uuids.append(uuid.UUID(task_id))
        except ValueError:
            continue  # an immediate backend's id (the backend was switched): long gone
    live = DBTaskResult.objects.filter(id__in=uuids, status__in=["READY", "RUNNING"])
    return {str(task_id) for task_id in live.values_list("id", flat=True)}


def _batch_finish_if_done(batch_id: int) -> None:
    """Close the batch once no item is open. Each item's outcome is committed
    before this runs, so whichever run finishes last sees every item done."""
    if not VerificationBatchItem.objects.filter(
        batch_id=batch_id, state__in=VerificationBatchItem.OPEN
    ).exists():
        VerificationBatch.objects.filter(pk=batch_id, finished_at__isnull=True).update(
            finished_at=timezone.now()
        )
