"""Records of AWS accounts and of everything the portal did there."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse

from . import aws
from .validators import (
    account_id_validator,
    description_validator,
    external_id_validator,
    iam_name_validator,
    policy_name_validator,
    profile_name_validator,
    region_validator,
    role_path_validator,
    trust_principal_arn_validator,
    user_name_validator,
)


class Partition(models.TextChoices):
    AWS = "aws", "aws (commercial)"
    AWS_CN = "aws-cn", "aws-cn (China)"
    AWS_US_GOV = "aws-us-gov", "aws-us-gov (GovCloud)"


class AccessMethod(models.TextChoices):
    HUB_ROLE = aws.HUB_ROLE, "Assume a hub role"
    PROFILE = aws.PROFILE, "Named AWS profile on the portal host"
    DEFAULT_CHAIN = aws.DEFAULT_CHAIN, "Default credential chain"
    EXTERNAL = aws.EXTERNAL, "External (not managed by the portal)"


class OrgStatus(models.TextChoices):
    """Where an account stands in the AWS Organization it was registered from."""

    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    PENDING_CLOSURE = "pending_closure", "Closing"
    LEFT = "left", "Left the organization"

    @property
    def colour(self) -> str:
        """Bootstrap colour of the status badge."""
        return {"active": "success", "left": "dark"}.get(self.value, "warning")


class AwsAccount(models.Model):
    """An AWS account the portal knows, and how the portal acts there.

    No access key or secret is ever stored: the portal acts through a named
    profile, a hub role it assumes, or its own default credential chain.
    """

    account_id = models.CharField("account ID", max_length=12, validators=[account_id_validator])
    name = models.CharField(max_length=64)
    owner_email = models.EmailField("owner e-mail", blank=True)
    default_region = models.CharField(
        max_length=32, default="us-east-1", validators=[region_validator]
    )
    partition = models.CharField(max_length=16, choices=Partition, default=Partition.AWS)
    access_method = models.CharField(
        max_length=16, choices=AccessMethod, default=AccessMethod.HUB_ROLE
    )
    profile_name = models.CharField(
        "profile name", max_length=128, blank=True, validators=[profile_name_validator]
    )
    hub_role_name = models.CharField(
        "hub role name",
        max_length=64,
        blank=True,
        validators=[iam_name_validator],
        help_text="For example OrganizationAccountAccessRole.",
    )
    hub_external_id = models.CharField(
        "hub role external ID", max_length=1224, blank=True, validators=[external_id_validator]
    )

    # Set for an account registered from an AWS Organization (or found there by a
    # re-sync): the organization, the path of OU names from the root ("Root/Workloads/Prod"),
    # the entity path aws:PrincipalOrgPaths matches ("o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/"),
    # its status there, the account it was listed from, and when.
    organization_id = models.CharField("organization ID", max_length=34, blank=True)
    ou_path = models.CharField("OU path", max_length=2048, blank=True, db_index=True)
    org_entity_path = models.CharField("organization entity path", max_length=2048, blank=True)
    org_status = models.CharField(
        "organization status", max_length=16, choices=OrgStatus, blank=True
    )
    org_source = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="org_members",
        help_text="The management or delegated-administrator account it was listed from.",
    )
    org_synced_at = models.DateTimeField(null=True, blank=True)

    # The outcome of the last Check connection.
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_check_ok = models.BooleanField(null=True, blank=True)
    last_check_arn = models.CharField(max_length=2048, blank=True)
    last_check_error = models.JSONField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "AWS account"
        permissions = [("manage_account", "Can register and edit accounts, check connections")]
        constraints = [
            models.UniqueConstraint(
                fields=["account_id"],
                name="unique_account_id",
                violation_error_message="This AWS account is already registered.",
            ),
            models.UniqueConstraint(
                fields=["name"],
                name="unique_account_name",
                violation_error_message="Another account already has this name.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.account_id})"

    def get_absolute_url(self) -> str:
        return reverse("account_detail", args=[self.pk])

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.access_method == AccessMethod.PROFILE and not self.profile_name:
            errors["profile_name"] = "Name the AWS profile the portal uses for this account."
        if self.access_method == AccessMethod.HUB_ROLE and not self.hub_role_name:
            errors["hub_role_name"] = "Name the role the portal assumes in this account."
        if self.access_method != AccessMethod.PROFILE and self.profile_name:
            errors["profile_name"] = "Only used with the named-profile access method."
        if self.access_method != AccessMethod.HUB_ROLE and (
            self.hub_role_name or self.hub_external_id
        ):
            field = "hub_role_name" if self.hub_role_name else "hub_external_id"
            errors[field] = "Only used with the hub-role access method."
        if errors:
            raise ValidationError(errors)

    @property
    def is_managed(self) -> bool:
        return self.access_method != AccessMethod.EXTERNAL

    @property
    def last_check_error_detail(self) -> aws.AwsErrorDetail | None:
        if not self.last_check_error:
            return None
        return aws.AwsErrorDetail.from_dict(self.last_check_error)

    def access(self) -> aws.AccountAccess:
        return aws.AccountAccess(
            account_id=self.account_id,
            region=self.default_region,
            method=self.access_method,
            partition=self.partition,
            profile_name=self.profile_name,
            hub_role_name=self.hub_role_name,
            hub_external_id=self.hub_external_id,
        )


class GrantStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PROVISIONING = "provisioning", "Provisioning"
    ACTIVE = "active", "Active"
    FAILING = "failing", "Failing verification"
    PARTIAL = "partial", "Partial"
    FAILED = "failed", "Failed"
    REVOKED = "revoked", "Revoked"
    EXPIRED = "expired", "Expired"

    @property
    def colour(self) -> str:
        """Bootstrap colour of the status badge."""
        return _STATUS_COLOURS[self]


_STATUS_COLOURS = {
    GrantStatus.DRAFT: "secondary",
    GrantStatus.PROVISIONING: "info",
    GrantStatus.ACTIVE: "success",
    GrantStatus.FAILING: "danger",
    GrantStatus.PARTIAL: "warning",
    GrantStatus.FAILED: "danger",
    GrantStatus.REVOKED: "dark",
    GrantStatus.EXPIRED: "dark",
}


class TrustScope(models.TextChoices):
    ACCOUNT = "account", "The whole trusted account"
    PRINCIPAL = "principal", "One IAM user or role there"


class GranteeType(models.TextChoices):
    USER = "user", "IAM user"
    ROLE = "role", "IAM role"


class PermissionSet(models.TextChoices):
    SQS_FULL = "sqs_full", "SQS full access (AmazonSQSFullAccess)"
    SQS_READ_ONLY = "sqs_read_only", "SQS read-only (AmazonSQSReadOnlyAccess)"
    QUEUES = "queues", "Specific queues (least-privilege inline policy)"
    CUSTOM = "custom", "Custom managed policy ARNs"


class Grant(models.Model):
    """One cross-account access grant: the role in the trusting account and the
    policy that lets the grantee in the trusted account assume it.

    The documents are stored exactly as reviewed and sent to AWS.
    """

    trusting_account = models.ForeignKey(
        AwsAccount, on_delete=models.PROTECT, related_name="grants_given"
    )
    role_name = models.CharField(max_length=64, validators=[iam_name_validator])
    role_path = models.CharField(max_length=512, default="/", validators=[role_path_validator])
    role_description = models.CharField(
        max_length=1000, blank=True, validators=[description_validator]
    )
    max_session_duration = models.PositiveIntegerField(default=3600)
    region = models.CharField(max_length=32, validators=[region_validator])

    trusted_account = models.ForeignKey(
        AwsAccount,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="grants_received",
        help_text="Set when the trusted account is registered in the portal.",
    )
    trusted_aws_account_id = models.CharField(
        "trusted account ID", max_length=12, validators=[account_id_validator]
    )
    trust_scope = models.CharField(max_length=16, choices=TrustScope, default=TrustScope.ACCOUNT)
    trusted_principal_arn = models.CharField(
        "trusted principal ARN", max_length=2048, validators=[trust_principal_arn_validator]
    )
    external_id = models.CharField(
        "external ID", max_length=1224, blank=True, validators=[external_id_validator]
    )
    require_mfa = models.BooleanField("require MFA", default=False)

    permission_set = models.CharField(max_length=16, choices=PermissionSet)
    managed_policy_arns = models.JSONField(default=list, blank=True)
    inline_policy_name = models.CharField(
        max_length=128, blank=True, validators=[policy_name_validator]
    )

    grantee_type = models.CharField(max_length=8, choices=GranteeType, default=GranteeType.USER)
    grantee_name = models.CharField(max_length=64, blank=True, validators=[user_name_validator])
    user_policy_name = models.CharField(max_length=128)
    grantee_profile = models.CharField(
        "grantee's local AWS profile",
        max_length=128,
        blank=True,
        validators=[profile_name_validator],
        help_text=(
            "A profile on the portal host holding the grantee's own credentials: Test access "
            "then assumes the role as the grantee. Empty: as the portal in the trusted account."
        ),
    )

    trust_policy = models.JSONField()
    inline_policy = models.JSONField(null=True, blank=True)
    user_policy = models.JSONField()

    status = models.CharField(max_length=16, choices=GrantStatus, default=GrantStatus.DRAFT)
    role_arn = models.CharField("role ARN", max_length=2048, blank=True)
    last_error = models.JSONField(null=True, blank=True)
    # The AWS calls that succeeded and are still in place (for retry and undo).
    applied_steps = models.JSONField(default=list, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    # Set for a grant imported from a role found by discovery: its user-policy
    # half is unknown until a grantee is named and checked.
    imported_at = models.DateTimeField(null=True, blank=True)
    # The last drift check: when, and the differences found (empty: none).
    drift_checked_at = models.DateTimeField(null=True, blank=True)
    drift = models.JSONField(default=list, blank=True)
    # Set when an administrator asked to revoke; a failed revoke can be retried.
    revoke_requested_at = models.DateTimeField(null=True, blank=True)
    # The outcome of the last Test access, kept here for the list page.
    last_verified_at = models.DateTimeField(null=True, blank=True)
    last_verification_ok = models.BooleanField(null=True, blank=True)
    # One wizard run creates at most one grant, however often it is submitted.
    request_token = models.UUIDField(unique=True, null=True, blank=True, editable=False)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        permissions = [
            ("verify_grant", "Can run Test access and check drift"),
            ("manage_grant", "Can create, retry, revoke, re-apply, adopt and import grants"),
        ]
        constraints = [
            models.UniqueConstraint(
                Lower("role_name"),
                "trusting_account",
                condition=~models.Q(status__in=["failed", "revoked", "expired"]),
                name="unique_live_role_name_per_account",
                violation_error_message=(
                    "The portal already manages a role of this name (ignoring case) "
                    "in the trusting account."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role_name} in {self.trusting_account.name} → {self.trusted_aws_account_id}"

    def get_absolute_url(self) -> str:
        return reverse("grant_detail", args=[self.pk])

    @property
    def status_colour(self) -> str:
        return GrantStatus(self.status).colour

    @property
    def planned_role_arn(self) -> str:
        return self.role_arn or (
            f"arn:{self.trusting_account.partition}:iam::{self.trusting_account.account_id}"
            f":role{self.role_path}{self.role_name}"
        )

    @property
    def trusted_is_managed(self) -> bool:
        return self.trusted_account is not None and self.trusted_account.is_managed

    @property
    def last_error_detail(self) -> aws.AwsErrorDetail | None:
        return aws.AwsErrorDetail.from_dict(self.last_error) if self.last_error else None


class AuditAction(models.TextChoices):
    ACCOUNT_CREATE = "account.create", "Account registered"
    ACCOUNT_UPDATE = "account.update", "Account edited"
    ACCOUNT_CHECK = "account.check", "Connection checked"
    GRANT_PROVISION = "grant.provision", "Grant provisioned"
    GRANT_VERIFY = "grant.verify", "Access tested"
    GRANT_REVOKE = "grant.revoke", "Grant revoked"
    GRANT_EXPIRE = "grant.expire", "Grant expired"
    GRANT_UPDATE = "grant.update", "Grant edited"
    GRANT_DRIFT = "grant.drift", "Drift checked"
    GRANT_REAPPLY = "grant.reapply", "Recorded state re-applied"
    GRANT_ADOPT = "grant.adopt", "Live state adopted"
    GRANT_IMPORT = "grant.import", "Role imported"
    ROLE_TRUST_UPDATE = "iam.UpdateAssumeRolePolicy", "iam:UpdateAssumeRolePolicy"
    WEBHOOK_CREATE = "webhook.create", "Webhook added"
    WEBHOOK_UPDATE = "webhook.update", "Webhook edited"
    WEBHOOK_ROTATE = "webhook.rotate", "Webhook secret rotated"
    WEBHOOK_DELETE = "webhook.delete", "Webhook deleted"
    LOGIN_FAILED = "auth.login_failed", "Log-in failed"
    PERMISSION_DENIED = "auth.denied", "Permission denied"
    LOCKED_OUT = "auth.locked_out", "Locked out"
    ROLE_TAG = "iam.TagRole", "iam:TagRole"
    ROLE_CREATE = "iam.CreateRole", "iam:CreateRole"
    ROLE_DELETE = "iam.DeleteRole", "iam:DeleteRole"
    ROLE_POLICY_ATTACH = "iam.AttachRolePolicy", "iam:AttachRolePolicy"
    ROLE_POLICY_DETACH = "iam.DetachRolePolicy", "iam:DetachRolePolicy"
    ROLE_POLICY_PUT = "iam.PutRolePolicy", "iam:PutRolePolicy"
    ROLE_POLICY_DELETE = "iam.DeleteRolePolicy", "iam:DeleteRolePolicy"
    USER_POLICY_PUT = "iam.PutUserPolicy", "iam:PutUserPolicy"
    USER_POLICY_DELETE = "iam.DeleteUserPolicy", "iam:DeleteUserPolicy"


class AuditOutcome(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"


class AuditEventQuerySet(models.QuerySet):
    """Audit events are never changed or removed through the ORM."""

    def update(self, **kwargs: object) -> int:
        # Deleting a user, account or grant nulls its link (on_delete=SET_NULL);
        # the event itself, with actor_name and target ARN, stays as it was.
        if set(kwargs) <= {"actor", "account", "grant"} and all(v is None for v in kwargs.values()):
            return super().update(**kwargs)
        raise PermissionError("The audit log is append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("The audit log is append-only.")


class AuditEvent(models.Model):
    """One thing the portal did: append-only, kept even if its actor is deleted."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_name = models.CharField(max_length=150)
    action = models.CharField(max_length=32, choices=AuditAction)
    account = models.ForeignKey(
        AwsAccount, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events"
    )
    grant = models.ForeignKey(
        Grant, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events"
    )
    target_arn = models.CharField("target ARN", max_length=2048, blank=True)
    outcome = models.CharField(max_length=8, choices=AuditOutcome)
    # The AWS call that failed (or, for a success, the one worth matching in
    # CloudTrail): its service, operation, HTTP status and request ID.
    service = models.CharField(max_length=64, blank=True)
    operation = models.CharField(max_length=128, blank=True)
    http_status = models.PositiveSmallIntegerField("HTTP status", null=True, blank=True)
    request_id = models.CharField("request ID", max_length=128, blank=True, db_index=True)
    error_code = models.CharField(max_length=128, blank=True)
    message = models.TextField(blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            # The audit list's order: its last page is an OFFSET walk of this index.
            models.Index(fields=["-created_at", "-id"], name="auditevent_newest_first"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_name} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise PermissionError("The audit log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise PermissionError("The audit log is append-only.")


SYSTEM_ACTOR = "system"


class VerificationBatch(models.Model):
    """Several grants verified together (Verify selected, or the schedule), one task per item.

    Finished when no item is queued or running. No actor and actor_name
    "system": a command (verify_grants --enqueue, the schedule) started it.
    """

    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_name = models.CharField(max_length=150, default=SYSTEM_ACTOR)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Verification batch {self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("verification_batch", args=[self.pk])

    @property
    def started_by_system(self) -> bool:
        return self.actor_id is None and self.actor_name == SYSTEM_ACTOR


class BatchItemState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    VERIFIED = "verified", "Verified"
    SKIPPED = "skipped", "Not verified"


class VerificationBatchItem(models.Model):
    """One grant of a batch. A task run claims it (queued → running) exactly once;
    `note` says why a grant was not verified."""

    OPEN = (BatchItemState.QUEUED, BatchItemState.RUNNING)

    batch = models.ForeignKey(VerificationBatch, on_delete=models.CASCADE, related_name="items")
    grant = models.ForeignKey(Grant, null=True, on_delete=models.SET_NULL, related_name="+")
    grant_label = models.CharField(max_length=300)
    state = models.CharField(
        max_length=8, choices=BatchItemState, default=BatchItemState.QUEUED, db_index=True
    )
    task_id = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    verification = models.OneToOneField(
        "Verification", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "grant"], name="one_item_per_grant_per_batch")
        ]

    def __str__(self) -> str:
        return f"{self.grant_label} in batch {self.batch_id}: {self.get_state_display()}"


class VerificationOutcome(models.TextChoices):
    """Who a verification proved the access for; only the first two count as passed."""

    PASSED_GRANTEE = "passed_grantee", "Passed as the grantee"
    PASSED_PORTAL = "passed_portal", "Passed as the portal (the grantee itself not proven)"
    STATIC_ONLY = "static_only", "Checked statically only (nothing live could run)"
    FAILED = "failed", "Failed"

    @classmethod
    def passing(cls) -> tuple[str, ...]:
        return (cls.PASSED_GRANTEE, cls.PASSED_PORTAL)

    @property
    def colour(self) -> str:
        return {
            "passed_grantee": "success",
            "passed_portal": "success",
            "static_only": "warning",
            "failed": "danger",
        }[self.value]


class Verification(models.Model):
    """One Test access run: the ordered steps, their results and the evidence.

    Temporary credentials are never kept: only the assumed-role ARN.
    """

    grant = models.ForeignKey(Grant, on_delete=models.CASCADE, related_name="verifications")
    batch = models.ForeignKey(
        VerificationBatch,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="verifications",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_name = models.CharField(max_length=150)
    started_at = models.DateTimeField(db_index=True)
    duration_ms = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=16, choices=VerificationOutcome)
    acted_as = models.CharField(max_length=512, blank=True)
    steps = models.JSONField(default=list)
    queue_urls = models.JSONField(default=list)
    assumed_role_arn = models.CharField(max_length=2048, blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.grant} {self.outcome} at {self.started_at:%Y-%m-%d %H:%M:%S}"

    @property
    def passed(self) -> bool:
        return self.outcome in VerificationOutcome.passing()

    @property
    def outcome_colour(self) -> str:
        return VerificationOutcome(self.outcome).colour

    @property
    def failed_step(self) -> dict | None:
        return next((s for s in self.steps if s.get("status") == "fail"), None)


class OperationKind(models.TextChoices):
    """What an operation does to a grant in AWS. Retry is a provision of a failed or
    partial grant; expiry is a revoke with `expired` in its params."""

    PROVISION = "provision", "Provision"
    REVOKE = "revoke", "Revoke"
    REAPPLY = "reapply", "Re-apply recorded state"
    ADOPT = "adopt", "Adopt live state"


class OperationState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    ROLLED_BACK = "rolled_back", "Failed and rolled back"
    PARTIAL = "partial", "Partly done"
    FAILED = "failed", "Failed"
    REFUSED = "refused", "Refused"

    @property
    def colour(self) -> str:
        return {
            "queued": "secondary",
            "running": "info",
            "succeeded": "success",
            "rolled_back": "danger",
            "partial": "warning",
            "failed": "danger",
            "refused": "danger",
        }[self.value]


OPEN_OPERATION_STATES = (OperationState.QUEUED, OperationState.RUNNING)


class Operation(models.Model):
    """One change of a grant in AWS, run as a recorded plan of steps by a task worker.

    A worker holds the operation while its lease (`lease_expires_at`) runs; an
    operation whose lease expired (the worker died) is picked up by the next
    worker or by `manage.py recover_operations`. At most one operation per grant
    is open (queued or running) at a time.
    """

    OPEN = OPEN_OPERATION_STATES

    grant = models.ForeignKey(Grant, on_delete=models.CASCADE, related_name="operations")
    kind = models.CharField(max_length=16, choices=OperationKind)
    state = models.CharField(
        max_length=16, choices=OperationState, default=OperationState.QUEUED, db_index=True
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_name = models.CharField(max_length=150, default=SYSTEM_ACTOR)
    params = models.JSONField(default=dict, blank=True)
    # Undoing the steps done so far (a provision whose step failed).
    rolling_back = models.BooleanField(default=False)
    lease_owner = models.CharField(max_length=200, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    task_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    message = models.TextField(blank=True)
    error = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["grant"],
                condition=models.Q(state__in=["queued", "running"]),
                name="one_open_operation_per_grant",
                violation_error_message=(
                    "Another operation on this grant is queued or running; wait for it to finish."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of grant {self.grant_id}: {self.get_state_display()}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_OPERATION_STATES

    @property
    def state_colour(self) -> str:
        return OperationState(self.state).colour

    @property
    def expired(self) -> bool:
        """A revoke started by the expiry job."""
        return bool(self.params.get("expired"))

    @property
    def verb(self) -> str:
        """What is happening, as in "being revoked by alice"."""
        if self.kind == OperationKind.PROVISION:
            return "provisioned"
        if self.kind == OperationKind.REVOKE:
            return "expired" if self.expired else "revoked"
        return "re-applied" if self.kind == OperationKind.REAPPLY else "adopted"

    @property
    def error_detail(self) -> aws.AwsErrorDetail | None:
        return aws.AwsErrorDetail.from_dict(self.error) if self.error else None


class StepState(models.TextChoices):
    PLANNED = "planned", "Planned"
    SENT = "sent", "Sent, outcome not yet known"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    UNKNOWN = "unknown", "Outcome unknown"
    UNDOING = "undoing", "Undo sent, outcome not yet known"
    UNDONE = "undone", "Undone"
    UNDO_FAILED = "undo_failed", "Undo failed"
    SKIPPED = "skipped", "Not run"

    @property
    def colour(self) -> str:
        return {
            "planned": "secondary",
            "sent": "info",
            "done": "success",
            "failed": "danger",
            "unknown": "warning",
            "undoing": "info",
            "undone": "secondary",
            "undo_failed": "danger",
            "skipped": "light",
        }[self.value]


class OperationStep(models.Model):
    """One AWS call of an operation: its intent is saved (SENT) before the call is
    made and its result (DONE, FAILED, UNKNOWN…) after. Never holds credentials."""

    operation = models.ForeignKey(Operation, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()
    key = models.CharField(max_length=300)
    call = models.CharField(max_length=64)
    undo_call = models.CharField(max_length=64, blank=True)
    account = models.ForeignKey(
        AwsAccount, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    target_arn = models.CharField("target ARN", max_length=2048, blank=True)
    summary = models.TextField(blank=True)
    params = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=16, choices=StepState, default=StepState.PLANNED)
    request_id = models.CharField("request ID", max_length=128, blank=True)
    error = models.JSONField(null=True, blank=True)
    note = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["operation", "position"]
        constraints = [
            models.UniqueConstraint(fields=["operation", "position"], name="one_step_per_position"),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.call} {self.target_arn}: {self.get_state_display()}"

    @property
    def state_colour(self) -> str:
        return StepState(self.state).colour

    @property
    def error_detail(self) -> aws.AwsErrorDetail | None:
        return aws.AwsErrorDetail.from_dict(self.error) if self.error else None


class DiscoveryAccountState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Reading"
    READ = "read", "Read"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"

    @property
    def colour(self) -> str:
        return {
            "queued": "secondary",
            "running": "info",
            "read": "success",
            "failed": "danger",
            "skipped": "warning",
        }[self.value]


class DiscoveryRisk(models.TextChoices):
    """How much a discovered cross-account role exposes (grants.services.discovery.role_risk)."""

    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"

    @property
    def colour(self) -> str:
        return {"high": "danger", "medium": "warning", "low": "secondary"}[self.value]


class DiscoveryRun(models.Model):
    """One discovery over every managed registered account ("Discover across all accounts").

    Run by a task; each account's outcome is a DiscoveryRunAccount, each role found
    a DiscoveryFinding. Finished when no account is queued or reading.
    """

    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_name = models.CharField(max_length=150, default=SYSTEM_ACTOR)
    task_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Discovery run {self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("discovery_run", args=[self.pk])


class DiscoveryRunAccount(models.Model):
    """One account of a discovery run: read, failed (with the AWS error), or skipped (why)."""

    run = models.ForeignKey(DiscoveryRun, on_delete=models.CASCADE, related_name="accounts")
    account = models.ForeignKey(
        AwsAccount, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Copied at the start of the run: the page reads the same after an account changes.
    account_name = models.CharField(max_length=64)
    account_number = models.CharField("account ID", max_length=12)
    ou_path = models.CharField("OU path", max_length=2048, blank=True)
    state = models.CharField(
        max_length=8, choices=DiscoveryAccountState, default=DiscoveryAccountState.QUEUED
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    roles_read = models.PositiveIntegerField(default=0)
    error = models.JSONField(null=True, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["account_name", "pk"]

    def __str__(self) -> str:
        return f"{self.account_name} in discovery run {self.run_id}: {self.get_state_display()}"

    @property
    def state_colour(self) -> str:
        return DiscoveryAccountState(self.state).colour

    @property
    def error_detail(self) -> aws.AwsErrorDetail | None:
        return aws.AwsErrorDetail.from_dict(self.error) if self.error else None


class DiscoveryFinding(models.Model):
    """One role of a discovery run whose trust admits principals outside its account."""

    run = models.ForeignKey(DiscoveryRun, on_delete=models.CASCADE, related_name="findings")
    run_account = models.ForeignKey(
        DiscoveryRunAccount, on_delete=models.CASCADE, related_name="findings"
    )
    account = models.ForeignKey(
        AwsAccount, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    account_number = models.CharField("account ID", max_length=12)
    ou_path = models.CharField("OU path", max_length=2048, blank=True)
    role_name = models.CharField(max_length=64)
    role_arn = models.CharField("role ARN", max_length=2048)
    principals = models.JSONField(default=list)
    external_accounts = models.JSONField(default=list)
    # What discovery flags on the role (wildcard, orphaned, unconditioned whole-account trust).
    flags = models.JSONField(default=list)
    risk = models.CharField(max_length=8, choices=DiscoveryRisk, db_index=True)
    risk_reasons = models.JSONField(default=list)
    # Why it is one of the roles the portal acts through ("" when it is not).
    portal_access = models.TextField(blank=True)

    class Meta:
        ordering = ["account_number", "role_name"]

    def __str__(self) -> str:
        return f"{self.role_arn} ({self.get_risk_display()} risk)"

    @property
    def risk_colour(self) -> str:
        return DiscoveryRisk(self.risk).colour
