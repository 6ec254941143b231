"""Who may do what: the services check it too, not only the views."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied

VIEWERS = "Viewers"
VERIFIERS = "Verifiers"
GRANT_MANAGERS = "Grant managers"
ACCOUNT_MANAGERS = "Account managers"

VIEW = ["view_grant", "view_awsaccount", "view_auditevent", "view_verification"]
ROLE_PERMISSIONS = {
    VIEWERS: VIEW,
    VERIFIERS: [*VIEW, "verify_grant"],
    GRANT_MANAGERS: [*VIEW, "verify_grant", "manage_grant"],
    ACCOUNT_MANAGERS: [*VIEW, "manage_account"],
}


def require(actor: AbstractBaseUser | None, permission: str) -> None:
    """Refuse a person without the permission; None is the system (commands, tasks)."""
    if actor is None:
        return
    if not actor.has_perm(f"grants.{permission}"):  # type: ignore[attr-defined]
        raise PermissionDenied(f"{actor.get_username()} may not do this ({permission}).")


def roles_ensure() -> None:
    """Create the four groups with their permissions (migration 0006 does it once;
    the sandbox calls this after flushing a database that keeps its tables)."""
    from django.contrib.auth.models import Group, Permission

    for name, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(
            Permission.objects.filter(content_type__app_label="grants", codename__in=codenames)
        )
