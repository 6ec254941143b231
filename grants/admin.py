"""Django admin for superusers."""

from django.contrib import admin

from .models import AuditEvent, AwsAccount, Operation, OperationStep


@admin.register(AwsAccount)
class AwsAccountAdmin(admin.ModelAdmin):
    list_display = ["name", "account_id", "access_method", "default_region", "last_check_ok"]
    search_fields = ["name", "account_id", "owner_email"]
    list_filter = ["access_method", "partition"]
    readonly_fields = ["last_checked_at", "last_check_ok", "last_check_arn", "last_check_error"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "actor_name", "action", "outcome", "account", "error_code"]
    list_filter = ["action", "outcome"]
    search_fields = ["actor_name", "target_arn", "request_id", "message"]

    # The audit trail is append-only, also for superusers.
    def has_add_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


class OperationStepInline(admin.TabularInline):
    model = OperationStep
    extra = 0
    can_delete = False
    fields = ["position", "call", "account", "target_arn", "state", "request_id", "attempts"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(Operation)
class OperationAdmin(admin.ModelAdmin):
    """Read-only: operations change only through their worker (grants.services.operations)."""

    list_display = ["pk", "created_at", "kind", "state", "grant", "actor_name", "attempts"]
    list_filter = ["kind", "state"]
    search_fields = ["actor_name", "message"]
    inlines = [OperationStepInline]

    def has_add_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False
