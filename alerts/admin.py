"""Django admin for superusers: alerts as a record (read-only), subscriptions editable."""

from django.contrib import admin

from .models import Alert, Subscription


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    """Read-only: an alert is written once by alerts.services and sent by the worker."""

    list_display = ["created_at", "kind", "title", "grant", "dispatched_at", "email_error"]
    list_filter = ["kind"]
    search_fields = ["title", "body", "dedupe_key"]
    list_select_related = ["grant__trusting_account"]

    def has_add_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ["user", "scope", "account", "failures_only", "created_at"]
    list_filter = ["scope", "failures_only"]
    search_fields = ["user__username", "user__email", "account__name"]
    list_select_related = ["user", "account"]
