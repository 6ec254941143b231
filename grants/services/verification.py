"""Test access: the seed's program as a verification chain, with explanations and evidence."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.utils import timezone

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
from .audit import audit_record
from .authz import require

logger = logging.getLogger(__name__)

PASS, FAIL, WARN, SKIP = "pass", "fail", "warn", "skip"
# Task priorities (higher runs first): a person waiting beats the hourly schedule.
BATCH_PRIORITY_PERSON = 10
BATCH_PRIORITY_SCHEDULE = 0
VERIFY_SESSION_NAME = "xacct-verify"


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


def _error_explanation(error: aws.AwsErrorDetail, what: str) -> tuple[str, str]:
    """A plain explanation and fix for errors that mean the same whatever the step."""
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


class _Chain:
    """Runs the five steps for one grant; keeps results in order."""

    def __init__(self, grant: Grant) -> None:
        self.grant = grant
        self.trusting = grant.trusting_account.access()
        self.role_arn = grant.planned_role_arn
        self.steps: list[Step] = []
        self.role_missing = False
        self.acted_as = ""
        self.assumed: aws.AssumedRole | None = None
        self.queue_urls: list[str] = []

    def step(self, key: str, title: str) -> Step:
        step = Step(key, title)
        self.steps.append(step)
        return step

    # -- 1 ---------------------------------------------------------------------------
    def check_trust(self) -> None:
        grant = self.grant
        step = self.step("trust", "Role exists and its trust policy admits the trusted principal")
        try:
            role = aws.role_get(self.trusting, grant.role_name)
        except aws.AwsError as exc:
            explanation, fix = _error_explanation(exc.detail, "read the role")
            step.fail(f"Could not read {grant.role_name}.", explanation, fix, exc.detail)
            return
        if role is None:
            self.role_missing = True
            step.fail(
                f"The role {grant.role_name} does not exist in {grant.trusting_account}.",
                "The role was deleted outside the portal (or never created). Nothing can "
                "assume it; even where a stand-in hands out credentials, they grant nothing.",
                "Provision the grant again, or revoke it.",
            )
            return
        principal = self._principal_arn()
        context: dict[str, Any] = {}
        if grant.external_id:
            context["sts:ExternalId"] = grant.external_id
        if grant.require_mfa:
            context["aws:MultiFactorAuthPresent"] = "true"
        decision = policies.evaluate(
            [role.trust_policy], action="sts:AssumeRole", principal_arn=principal, context=context
        )
        keys = policies.condition_keys(role.trust_policy)
        step.notes.extend(decision.notes)
        required_ids = keys.get("sts:externalid", [])
        if not decision.allowed:
            if required_ids and not grant.external_id:
                step.fail(
                    "The trust policy requires an external ID the grant does not have.",
                    f"{grant.role_name} may only be assumed with ExternalId "
                    f"{', '.join(required_ids)}, but the grant records none.",
                    "Record the external ID on the grant, or re-apply the recorded trust policy.",
                )
            elif required_ids and grant.external_id not in required_ids:
                step.fail(
                    "The external ID is wrong.",
                    f"The trust policy expects ExternalId {', '.join(required_ids)}; the grant "
                    f"passes {grant.external_id}.",
                    "Use the external ID the trust policy names, or re-apply the recorded trust "
                    "policy.",
                )
            else:
                named = _principals(role.trust_policy)
                step.fail(
                    f"The trust policy does not admit {principal}.",
                    "The role trusts "
                    + (", ".join(named) if named else "no AWS principal")
                    + f", not account {grant.trusted_aws_account_id}"
                    + (" or the trusted principal." if named else "."),
                    "Re-apply the recorded trust policy, or correct the trusted account.",
                )
            return
        if grant.external_id and not required_ids:
            step.fail(
                "The trust policy no longer requires the external ID.",
                "The grant records an external ID, but the live trust policy admits the "
                "trusted principal without one: a confused deputy could assume the role.",
                "Re-apply the recorded trust policy with its sts:ExternalId condition.",
            )
            return
        step.summary = f"{role.arn} admits {principal}."
        if required_ids:
            step.notes.append("Requires ExternalId (passed by Test access).")
        if "aws:multifactorauthpresent" in keys:
            step.notes.append("Requires MFA: the assuming identity needs an MFA session.")
        elif grant.require_mfa:
            step.status = WARN
            step.notes.append("The grant records an MFA requirement the trust policy lacks.")
        if role.trust_policy != grant.trust_policy:
            step.notes.append("The live trust policy differs from the recorded one.")

    def _principal_arn(self) -> str:
        grant = self.grant
        if grant.trust_scope == TrustScope.PRINCIPAL:
            return grant.trusted_principal_arn
        partition = grant.trusting_account.partition
        if grant.grantee_name:
            return (
                f"arn:{partition}:iam::{grant.trusted_aws_account_id}:"
                f"{grant.grantee_type}/{grant.grantee_name}"
            )
        return policies.account_root_arn(grant.trusted_aws_account_id, partition=partition)

    # -- 2 ---------------------------------------------------------------------------
    def check_permissions(self) -> None:
        grant = self.grant
        step = self.step("permissions", "Role permissions allow sqs:ListQueues")
        if self.role_missing:
            step.status, step.summary = SKIP, "Not checked: the role does not exist."
            return
        try:
            documents = list(
                aws.role_inline_policies(self.trusting, role_name=grant.role_name).values()
            )
            for arn in aws.role_attached_policy_arns(self.trusting, role_name=grant.role_name):
                documents.append(aws.managed_policy_document(self.trusting, policy_arn=arn))
        except aws.AwsError as exc:
            explanation, fix = _error_explanation(exc.detail, "read the role's policies")
            step.fail("Could not read the role's policies.", explanation, fix, exc.detail)
            return
        decision = policies.evaluate(documents, action="sqs:ListQueues", resource="*")
        step.notes.extend(decision.notes)
        if not decision.allowed:
            step.fail(
                "The role's permissions do not allow sqs:ListQueues.",
                'With no policy allowing sqs:ListQueues on "*"'
                + (" (an explicit Deny blocks it)" if decision.explicit_deny else "")
                + ", listing queues with the role's credentials is denied.",
                "Attach AmazonSQSReadOnlyAccess or AmazonSQSFullAccess, or re-apply the "
                "recorded permission policies.",
            )
            return
        step.summary = f"Allowed by {', '.join(decision.matched)}."

    # -- 3 ---------------------------------------------------------------------------
    def check_grantee_policy(self) -> None:
        grant = self.grant
        step = self.step("user_policy", "The grantee's policy allows sts:AssumeRole on the role")
        trusted = grant.trusted_account
        if trusted is None or trusted.access_method == AccessMethod.EXTERNAL:
            step.status = SKIP
            step.summary = (
                "Not checked: the trusted account is external; its administrator applies the "
                "user policy."
            )
            return
        if not grant.grantee_name:
            step.status, step.summary = SKIP, "Not checked: the grant names no grantee."
            return
        access = trusted.access()
        try:
            if grant.grantee_type == GranteeType.ROLE:
                inline = aws.role_inline_policies(access, role_name=grant.grantee_name)
                attached = aws.role_attached_policy_arns(access, role_name=grant.grantee_name)
            else:
                inline = aws.user_inline_policies(access, user_name=grant.grantee_name)
                attached = aws.user_attached_policy_arns(access, user_name=grant.grantee_name)
            documents = list(inline.values()) + [
                aws.managed_policy_document(access, policy_arn=arn) for arn in attached
            ]
        except aws.AwsError as exc:
            if exc.code == "NoSuchEntity":
                step.fail(
                    f"The grantee {grant.grantee_name} does not exist in {trusted}.",
                    "The IAM principal the grant names was deleted or renamed.",
                    "Revoke the grant and create it for an existing principal.",
                    exc.detail,
                )
                return
            explanation, fix = _error_explanation(exc.detail, "read the grantee's policies")
            step.fail("Could not read the grantee's policies.", explanation, fix, exc.detail)
            return
        decision = policies.evaluate(documents, action="sts:AssumeRole", resource=self.role_arn)
        step.notes.extend(decision.notes)
        if decision.allowed:
            step.summary = f"Allowed by {', '.join(decision.matched)}."
            return
        recorded = inline.get(grant.user_policy_name)
        if recorded is None:
            step.fail(
                f"The user policy {grant.user_policy_name} is missing.",
                f"{grant.grantee_name} has no policy allowing sts:AssumeRole on {self.role_arn}; "
                "AWS denies the AssumeRole call even though the role trusts the account.",
                "Re-apply the recorded user policy.",
            )
        else:
            step.fail(
                f"The user policy {grant.user_policy_name} is aimed at another role.",
                f"It does not allow sts:AssumeRole on {self.role_arn}"
                + (" (an explicit Deny blocks it)." if decision.explicit_deny else "."),
                "Re-apply the recorded user policy.",
            )

    # -- 4 ---------------------------------------------------------------------------
    def assume(self) -> None:
        grant = self.grant
        step = self.step("assume", "Live sts:AssumeRole")
        if self.role_missing:
            step.status, step.summary = SKIP, "Not run: the role does not exist."
            return
        access = self._assuming_identity()
        if access is None:
            step.status = SKIP
            step.summary = (
                "Not run: the trusted account is external. Name a local profile holding the "
                "grantee's credentials to test live."
            )
            return
        attempts, started = 0, time.monotonic()
        delay = 1.0
        # Retry only a denial nothing above explains, on a grant changed moments ago.
        explained = any(s.status == FAIL for s in self.steps)
        budget = (
            settings.XACCT_VERIFY_PROPAGATION_RETRY_SECONDS
            if self._recently_changed() and not explained
            else 0
        )
        while True:
            attempts += 1
            try:
                self.assumed = aws.role_assume(
                    access,
                    role_arn=self.role_arn,
                    session_name=VERIFY_SESSION_NAME,
                    external_id=grant.external_id,
                    duration_seconds=900,
                )
                break
            except aws.AwsError as exc:
                elapsed = time.monotonic() - started
                if exc.code == "AccessDenied" and elapsed + delay <= budget:
                    time.sleep(delay)
                    delay *= 2
                    continue
                explanation, fix = self._assume_explanation(exc.detail, attempts, elapsed)
                step.fail(
                    "AssumeRole was denied." if exc.code else "AssumeRole failed.",
                    explanation,
                    fix,
                    exc.detail,
                )
                return
        if attempts > 1:
            step.notes.append(
                f"Succeeded on attempt {attempts}: IAM changes take a while to propagate."
            )
        step.summary = f"{self.acted_as} became {self.assumed.arn}."
        if any(s.status == FAIL for s in self.steps[:3]):
            step.notes.append(
                "The live call succeeded although a check above failed: the AWS stand-in "
                "does not enforce trust policies and external IDs; real AWS would."
            )

    def _assuming_identity(self) -> aws.AccountAccess | None:
        grant = self.grant
        if grant.grantee_profile:
            self.acted_as = f"The grantee (profile {grant.grantee_profile})"
            return aws.AccountAccess(
                account_id=grant.trusted_aws_account_id,
                region=grant.region,
                method=aws.PROFILE,
                profile_name=grant.grantee_profile,
            )
        trusted = grant.trusted_account
        if trusted is None or not trusted.is_managed:
            return None
        self.acted_as = f"The portal in {trusted.name} ({trusted.get_access_method_display()})"
        return trusted.access()

    def _recently_changed(self) -> bool:
        window = settings.XACCT_IAM_PROPAGATION_WINDOW_SECONDS
        return (timezone.now() - self.grant.updated_at).total_seconds() < window

    def _assume_explanation(
        self, error: aws.AwsErrorDetail, attempts: int, elapsed: float
    ) -> tuple[str, str]:
        if error.code != "AccessDenied":
            return _error_explanation(error, "assume the role")
        failed = {s.key: s for s in self.steps if s.status == FAIL}
        if "user_policy" in failed:
            return (
                failed["user_policy"].summary + " " + failed["user_policy"].explanation,
                failed["user_policy"].fix,
            )
        if "trust" in failed:
            return (
                failed["trust"].summary + " " + failed["trust"].explanation,
                failed["trust"].fix,
            )
        if self.grant.require_mfa:
            return (
                "The trust policy requires MFA and the assuming identity has no MFA session.",
                "Assume the role with --serial-number and --token-code (a 6-digit MFA code).",
            )
        if attempts > 1:
            return (
                f"Still denied after {attempts} attempts over {elapsed:.0f} s. The grant changed "
                "recently: IAM is eventually consistent, so new policies can take a minute or "
                "two to apply everywhere.",
                "Run Test access again in a minute.",
            )
        return (
            f"{self.acted_as} may not assume {self.role_arn}: the trust policy or the "
            "identity's own policies do not allow it.",
            "Check the trust policy and the grantee's user policy (steps above).",
        )

    # -- 5 ---------------------------------------------------------------------------
    def list_queues(self) -> None:
        grant = self.grant
        step = self.step("list_queues", f"Live sqs:ListQueues in {grant.region}")
        if self.assumed is None:
            step.status, step.summary = SKIP, "Not run: no temporary credentials."
            return
        try:
            self.queue_urls = aws.queue_urls_as(self.assumed, region=grant.region)
        except aws.AwsError as exc:
            if exc.code == "AccessDenied":
                explanation = (
                    "The role's credentials may not list queues: its permissions lack "
                    "sqs:ListQueues."
                )
                fix = "Attach AmazonSQSReadOnlyAccess, or re-apply the recorded permissions."
            else:
                explanation, fix = _error_explanation(exc.detail, "list the queues")
            step.fail("ListQueues failed.", explanation, fix, exc.detail)
            return
        step.summary = (
            f"{len(self.queue_urls)} queue(s)."
            if self.queue_urls
            else f"No queues in {grant.region}: access works, there is nothing to list."
        )


def _principals(document: dict) -> list[str]:
    found: list[str] = []
    for statement in document.get("Statement", []):
        principal = statement.get("Principal")
        if principal == "*":
            found.append("*")
        elif isinstance(principal, dict):
            value = principal.get("AWS", [])
            found.extend(value if isinstance(value, list) else [value])
    return found


def grant_verify(
    *,
    grant: Grant,
    actor: AbstractBaseUser | None,
    batch: VerificationBatch | None = None,
) -> Verification:
    """Run Test access for the grant, save the evidence, and let the status follow it."""
    require(actor, "verify_grant")
    started_at = timezone.now()
    clock = time.monotonic()
    chain = _Chain(grant)
    chain.check_trust()
    chain.check_permissions()
    chain.check_grantee_policy()
    chain.assume()
    chain.list_queues()
    failed = next((s for s in chain.steps if s.status == FAIL), None)
    if failed:
        outcome = VerificationOutcome.FAILED
    elif chain.assumed is None:
        outcome = VerificationOutcome.STATIC_ONLY
    elif chain.grant.grantee_profile:
        outcome = VerificationOutcome.PASSED_GRANTEE
    else:
        outcome = VerificationOutcome.PASSED_PORTAL
    with transaction.atomic():
        verification = Verification.objects.create(
            grant=grant,
            batch=batch,
            actor=actor if actor is not None and actor.is_authenticated else None,
            actor_name=actor.get_username() if actor is not None else "system",
            started_at=started_at,
            duration_ms=int((time.monotonic() - clock) * 1000),
            outcome=outcome,
            acted_as=chain.acted_as,
            steps=[s.as_dict() for s in chain.steps],
            queue_urls=chain.queue_urls,
            assumed_role_arn=chain.assumed.arn if chain.assumed else "",
        )
        fields = {"last_verified_at": started_at, "last_verification_ok": failed is None}
        # update() leaves updated_at alone: a verification is not a change to the grant.
        Grant.objects.filter(pk=grant.pk).update(**fields)
        # The status follows only a live grant; a revoke that landed meanwhile wins.
        status = GrantStatus.ACTIVE if failed is None else GrantStatus.FAILING
        if Grant.objects.filter(
            pk=grant.pk, status__in=[GrantStatus.ACTIVE, GrantStatus.FAILING]
        ).update(status=status):
            fields["status"] = status
        for name, value in fields.items():
            setattr(grant, name, value)
        error = aws.AwsErrorDetail.from_dict(failed.error) if failed and failed.error else None
        audit_record(
            actor=actor,
            action=AuditAction.GRANT_VERIFY,
            outcome=AuditOutcome.FAILURE if failed else AuditOutcome.SUCCESS,
            account=grant.trusting_account,
            grant=grant,
            target_arn=chain.role_arn,
            error=error,
            request_id=chain.assumed.request_id if chain.assumed else "",
            message=(failed.summary if failed else f"Passed; {len(chain.queue_urls)} queue(s)."),
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
