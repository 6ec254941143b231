"""Roles for people: a walk over every URL for every role, and the services' own checks."""

from __future__ import annotations

import importlib

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from grants import services
from grants.models import AuditAction, AuditEvent, GrantStatus
from grants.services import authz

from .test_auth import portal_paths
from .test_services_grants import draft

pytestmark = pytest.mark.django_db

# Each URL: how it is used, and the permission it needs.
MUTATIONS = {
    "/accounts/{account}/check/": "manage_account",
    "/accounts/{account}/import/": "manage_grant",
    "/accounts/{account}/organization/register/": "manage_account",
    "/accounts/{account}/organization/sync/": "manage_account",
    "/grants/{grant}/retry/": "manage_grant",
    "/grants/{grant}/verify/": "verify_grant",
    "/grants/verify/": "verify_grant",
    "/grants/{grant}/expiry/": "manage_grant",
    "/grants/{grant}/drift/": "verify_grant",
    "/grants/{grant}/operation/resume/": "manage_grant",
    "/webhooks/{webhook}/rotate/": "manage_account",
    "/webhooks/{webhook}/test/": "manage_account",
}
PAGES = {
    "/": "view_grant",
    "/map.svg": "view_grant",
    "/accounts/": "view_awsaccount",
    "/accounts/new/": "manage_account",
    "/accounts/{account}/": "view_awsaccount",
    "/accounts/{account}/edit/": "manage_account",
    "/accounts/{account}/organization/": "manage_account",
    "/grants/": "view_grant",
    "/grants/new/": "manage_grant",
    "/grants/{grant}/": "view_grant",
    "/grants/{grant}/revoke/": "manage_grant",
    "/grants/{grant}/operation/": "view_grant",
    "/verifications/batch/{batch}/": "view_grant",
    "/audit/": "view_auditevent",
    "/alerts/": "view_grant",
    "/settings/alerts/": "view_grant",
    "/webhooks/": "manage_account",
    "/webhooks/new/": "manage_account",
    "/webhooks/{webhook}/": "manage_account",
    "/webhooks/{webhook}/edit/": "manage_account",
    "/discovery/": "manage_grant",
    "/discovery/{run}/": "manage_grant",
}


def role_user(django_user_model, role: str):  # type: ignore[no-untyped-def]
    user = django_user_model.objects.create_user(username=role.lower().replace(" ", "-"))
    group, _ = Group.objects.get_or_create(name=role)
    group.permissions.set(
        Permission.objects.filter(
            content_type__app_label="grants", codename__in=authz.ROLE_PERMISSIONS[role]
        )
    )
    user.groups.add(group)
    return user


@pytest.fixture
def world(moto_aws, piyo, hoge):  # type: ignore[no-untyped-def]
    """The objects the URLs name: account piyo, a failed grant, a batch, a discovery run.

    AWS is moto in-process: an allowed Check connection or discovery really runs."""
    from grants.models import DiscoveryRun, VerificationBatch

    grant = draft(piyo, hoge)
    grant.status = GrantStatus.FAILED
    grant.save()
    batch = VerificationBatch.objects.create()
    run = DiscoveryRun.objects.create()
    return {
        "account": piyo.pk,
        "webhook": _webhook_pk(),
        "grant": grant.pk,
        "batch": batch.pk,
        "run": run.pk,
    }


def _webhook_pk() -> int:
    """A webhook for the /webhooks/ URLs; nothing listens on its port (sending fails fast)."""
    from alerts.webhooks import webhook_create

    return webhook_create(actor=None, name="ops", url="http://127.0.0.1:9/hook")[0].pk


# Pages that answer GET and change things on POST (discovery runs; the rest confirm first):
# a GET by an allowed role shows the page or redirects (a grant that was not imported).
CONFIRM_PAGES = {
    "/accounts/{account}/discover/": "manage_grant",
    "/discovery/{run}/import/": "manage_grant",
    "/grants/{grant}/complete/": "manage_grant",
    "/grants/{grant}/reapply/": "manage_grant",
    "/grants/{grant}/adopt/": "manage_grant",
    "/webhooks/{webhook}/delete/": "manage_account",
}


# Alerts pages tested in tests/test_alerts_views.py (view_grant): a person's own
# subscription (someone else's is a 404), and the Mail page (a 404 off the sandbox).
ALERTS_OWN_OR_SANDBOX = {
    "/settings/alerts/{subscription}/delete/",
    "/sandbox/mail/",
    "/sandbox/mail/<str:message_id>/",
    "/sandbox/mail/<str:message_id>/html/",
}

# Open to every logged-in person: it only asks for their own password.
ANY_USER = {"/reauthenticate/"}


def test_the_tables_cover_every_url() -> None:
    ones = {"account": 1, "webhook": 1, "grant": 1, "batch": 1, "run": 1}
    tables = {
        path.format(**ones, subscription=1)
        for path in (*MUTATIONS, *PAGES, *CONFIRM_PAGES, *ALERTS_OWN_OR_SANDBOX)
    }
    assert set(portal_paths()) == tables | ANY_USER


def test_the_migration_creates_the_same_roles() -> None:
    migration = importlib.import_module("grants.migrations.0006_roles")
    assert migration.ROLE_PERMISSIONS == authz.ROLE_PERMISSIONS


def test_roles_ensure_recreates_the_groups_a_flush_removed() -> None:
    def roles() -> dict[str, list[str]]:
        return {
            group.name: sorted(group.permissions.values_list("codename", flat=True))
            for group in Group.objects.order_by("name")
        }

    # The migration made these groups, but a transactional test run earlier in the same
    # process may have flushed them already: compare with the table migration 0006 uses.
    expected = {k: sorted(v) for k, v in authz.ROLE_PERMISSIONS.items()}
    Group.objects.all().delete()
    assert roles() == {}
    authz.roles_ensure()
    assert roles() == expected
    authz.roles_ensure()  # idempotent
    assert roles() == expected


@pytest.mark.parametrize("role", list(authz.ROLE_PERMISSIONS))
def test_each_role_can_do_exactly_what_it_should(django_user_model, world, role, settings) -> None:  # type: ignore[no-untyped-def]
    user = role_user(django_user_model, role)
    allowed = set(authz.ROLE_PERMISSIONS[role])
    client = Client()
    client.force_login(user)
    for pattern, permission in PAGES.items():
        path = pattern.format(**world)
        status = client.get(path).status_code
        if permission in allowed:
            assert status == 200, (role, path, status)
        else:
            assert status == 403, (role, path, status)
    for pattern, permission in CONFIRM_PAGES.items():
        path = pattern.format(**world)
        status = client.get(path).status_code
        if permission in allowed:
            assert status in (200, 302), (role, path, status)
        else:
            assert status == 403, (role, path, status)
    for path in ANY_USER:
        assert client.get(path).status_code == 200, (role, path)
    for pattern, permission in MUTATIONS.items():
        path = pattern.format(**world)
        assert client.get(path).status_code in (403, 405), (role, "GET", path)
        status = client.post(path, {"action": "check"}).status_code
        if permission in allowed:
            assert status in (200, 302), (role, path, status)
        else:
            assert status == 403, (role, path, status)
    # Every role is refused something, and each refusal is audited.
    assert AuditEvent.objects.filter(action=AuditAction.PERMISSION_DENIED).exists()


def test_mutations_need_a_csrf_token(django_user_model, world) -> None:  # type: ignore[no-untyped-def]
    client = Client(enforce_csrf_checks=True)
    client.force_login(django_user_model.objects.create_superuser(username="root"))
    for pattern in (*MUTATIONS, *CONFIRM_PAGES):
        assert client.post(pattern.format(**world)).status_code == 403, pattern


def test_reapply_needs_the_grant_manager_role(django_user_model, world) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(role_user(django_user_model, authz.VERIFIERS))
    drift = f"/grants/{world['grant']}/drift/"
    assert client.post(drift, {"action": "reapply"}).status_code == 403


def test_denials_are_audited(django_user_model, world) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(role_user(django_user_model, authz.VIEWERS))
    client.post(reverse("grant_retry", args=[world["grant"]]))
    event = AuditEvent.objects.get(action=AuditAction.PERMISSION_DENIED)
    assert event.actor_name == "viewers"
    assert event.message == f"POST /grants/{world['grant']}/retry/"


def test_the_services_refuse_people_without_the_permission(django_user_model, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    from django.core.exceptions import PermissionDenied

    viewer = role_user(django_user_model, authz.VIEWERS)
    grant = draft(piyo, hoge)
    with pytest.raises(PermissionDenied):
        services.grant_provision(grant=grant, actor=viewer)
    with pytest.raises(PermissionDenied):
        services.account_update(account=piyo, actor=viewer, name="x")
    assert not grant.pk


def test_a_viewer_sees_no_buttons_it_cannot_use(django_user_model, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = draft(piyo, hoge)
    grant.status = GrantStatus.ACTIVE
    grant.save()
    client = Client()
    client.force_login(role_user(django_user_model, authz.VIEWERS))
    page = client.get(grant.get_absolute_url()).content.decode()
    assert "Test access <span" not in page
    assert "Revoke</a>" not in page
    listing = client.get(reverse("grant_list")).content.decode()
    assert "New grant" not in listing
    assert "Verify selected" not in listing
    accounts = client.get(reverse("account_list")).content.decode()
    assert "Register account" not in accounts
    assert "Check connection" not in accounts
