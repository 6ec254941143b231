"""The roles the portal acts through are never touched by its own operations.

Revoking (or re-applying, adopting, importing) the hub role the portal assumes
in an account would cut the portal off from that account for good: every
later IAM call there is denied, and nothing in the portal can undo it.
"""

from __future__ import annotations

from django.conf import settings

from ..models import AccessMethod, AwsAccount


def portal_access_role_names(*, account_id: str) -> set[str]:
    """Lower-cased names of the roles the portal acts through in `account_id` (12 digits).

    They are the hub role of every registered account with that ID that the
    portal reaches by assuming a role, plus `XACCT_PORTAL_ACCESS_ROLES`. IAM
    role names are unique ignoring case (IAM API reference, CreateRole), so
    the names are compared lower-cased.
    """
    names = {
        name.lower()
        for name in AwsAccount.objects.filter(
            account_id=account_id, access_method=AccessMethod.HUB_ROLE
        ).values_list("hub_role_name", flat=True)
        if name
    }
    names.update(name.lower() for name in settings.XACCT_PORTAL_ACCESS_ROLES if name)
    return names


def role_is_portal_access(*, account_id: str, role_name: str) -> bool:
    """Whether `role_name` in `account_id` is one of the roles the portal acts through."""
    return role_name.lower() in portal_access_role_names(account_id=account_id)


def portal_access_refusal(*, account_id: str, role_name: str, doing: str) -> str:
    """Why `doing` (e.g. "revoke") must not touch the role, or "" when it may.

    The text is shown to the person who asked, as it is.
    """
    if not role_is_portal_access(account_id=account_id, role_name=role_name):
        return ""
    return (
        f"{role_name} is the role the portal acts through in account {account_id}. "
        f"The portal will not {doing} it: that would cut the portal off from the account "
        "(every later IAM call there would be denied). Change it in the AWS console if you "
        "really mean to."
    )
