"""Alerts: state changes of grants worth telling someone about, and where they go.

An Alert is written once per change (a grant starts failing, recovers, drifts,
nears expiry, expires, is revoked, is left partial; a scheduled batch cannot
run), never per verification. The task worker then e-mails the subscribers and
the accounts' owners and POSTs to every active webhook.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse


class AlertKind(models.TextChoices):
    GRANT_FAILING = "grant.failing", "Grant started failing"
    GRANT_RECOVERED = "grant.recovered", "Grant passes again"
    DRIFT_FOUND = "grant.drift", "Drift found"
    GRANT_EXPIRING = "grant.expiring", "Grant expiring soon"
    GRANT_EXPIRED = "grant.expired", "Grant expired"
    GRANT_REVOKED = "grant.revoked", "Grant revoked"
    OPERATION_PARTIAL = "operation.partial", "Provisioning or revoke left partial"
    BATCH_NOT_RUN = "batch.not_run", "Scheduled verification could not run"
    WEBHOOK_TEST = "webhook.test", "Webhook test event"

    @property
    def is_failure(self) -> bool:
        """Whether a "failures only" subscription receives this kind."""
        return self.value not in {"grant.recovered", "grant.revoked"}


class Alert(models.Model):
    """One state change, as told to people and webhooks.

    `dedupe_key` makes the change happen once: e.g. "grant.failing:42:<verification id>",
    "grant.expiring:42:<expires_at>". `details` holds the failing step, its explanation
    and fix, or the drift found; never a credential.
    """

    kind = models.CharField(max_length=32, choices=AlertKind)
    grant = models.ForeignKey(
        "grants.Grant", null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    account = models.ForeignKey(
        "grants.AwsAccount",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="alerts",
        help_text="For alerts about an account rather than a grant.",
    )
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)
    dedupe_key = models.CharField(max_length=300, unique=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Set when the worker has fanned the alert out to e-mail and webhooks.
    dispatched_at = models.DateTimeField(null=True, blank=True)
    email_recipients = models.JSONField(default=list, blank=True)
    email_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.title}"

    @property
    def is_failure(self) -> bool:
        return AlertKind(self.kind).is_failure


class SubscriptionScope(models.TextChoices):
    ALL = "all", "All grants"
    MINE = "mine", "Grants I created"
    ACCOUNT = "account", "Grants touching one account"


class Subscription(models.Model):
    """One person's wish to be e-mailed about some grants' alerts."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_subscriptions"
    )
    scope = models.CharField(
        max_length=16, choices=SubscriptionScope, default=SubscriptionScope.ALL
    )
    account = models.ForeignKey(
        "grants.AwsAccount",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alert_subscriptions",
    )
    failures_only = models.BooleanField(
        default=False, help_text="Only failures, drift, expiry and partial operations."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user", "scope", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(scope="account", account__isnull=False))
                | (~models.Q(scope="account") & models.Q(account__isnull=True)),
                name="subscription_account_iff_account_scope",
                violation_error_message=(
                    "Choose an account for an account subscription, and only then."
                ),
            ),
            models.UniqueConstraint(
                fields=["user", "scope", "failures_only"],
                condition=models.Q(account__isnull=True),
                name="unique_subscription",
                violation_error_message="You already have this subscription.",
            ),
            models.UniqueConstraint(
                fields=["user", "account", "failures_only"],
                condition=models.Q(account__isnull=False),
                name="unique_account_subscription",
                violation_error_message="You already have this subscription.",
            ),
        ]

    def __str__(self) -> str:
        target = self.account.name if self.account_id else self.get_scope_display()
        return f"{self.user} · {target}{' (failures only)' if self.failures_only else ''}"


class WebhookFormat(models.TextChoices):
    JSON = "json", "xacct JSON (documented schema)"
    SLACK = "slack", 'Slack-compatible ({"text": …})'


class Webhook(models.Model):
    """An HTTP endpoint that receives every alert as a signed JSON POST.

    The signing secret is shown once at creation; only its encrypted form is stored
    (`secret_encrypted`, Fernet with a key derived from the portal's secret key), since
    the worker needs it to compute X-Xacct-Signature.
    """

    name = models.CharField(max_length=100, unique=True)
    url = models.URLField("URL", max_length=2048)
    body_format = models.CharField(max_length=8, choices=WebhookFormat, default=WebhookFormat.JSON)
    secret_encrypted = models.BinaryField(editable=False)
    failures_only = models.BooleanField(default=False)
    is_active = models.BooleanField("active", default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("webhook_detail", args=[self.pk])


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RETRYING = "retrying", "Retrying"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"

    @property
    def colour(self) -> str:
        """Bootstrap colour of the status badge."""
        return {"pending": "secondary", "retrying": "warning", "delivered": "success"}.get(
            self.value, "danger"
        )


class WebhookDelivery(models.Model):
    """One alert's delivery to one webhook: its attempts and their outcome."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="webhook_deliveries")
    status = models.CharField(max_length=16, choices=DeliveryStatus, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_http_status = models.PositiveSmallIntegerField("last HTTP status", null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField("duration (ms)", null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["webhook", "alert"], name="one_delivery_per_webhook_and_alert"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.alert} → {self.webhook} ({self.status})"

    @property
    def status_colour(self) -> str:
        return DeliveryStatus(self.status).colour
