"""The roles the portal acts through are never offered for import, nor imported."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from grants import policies, services
from grants.aws import sandbox
from grants.models import AuditAction, AuditEvent, AuditOutcome, Grant

from .test_services_drift_discovery import make_role

pytestmark = pytest.mark.django_db

HUB = sandbox.HUB_ROLE_NAME  # OrganizationAccountAccessRole, trusting the management account


def test_discovery_labels_the_hub_role_and_never_offers_it(aws_world, piyo) -> None:  # type: ignore[no-untyped-def]
    make_role(
        piyo, "legacy-reader", policies.trust_policy(principal_arn="arn:aws:iam::444455556666:root")
    )
    found = {role.name: role for role in services.account_discover(account=piyo)}
    hub = found[HUB]
    # Without the guardrail it would be importable: one outside account, no wildcard.
    assert hub.external_accounts == [sandbox.MANAGEMENT_ACCOUNT_ID]
    assert not hub.importable
    assert "role the portal acts through" in hub.portal_access
    assert found["legacy-reader"].importable
    assert found["legacy-reader"].portal_access == ""


def test_importing_the_hub_role_is_refused_and_audited(aws_world, piyo) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match="will not import it"):
        services.grant_import(account=piyo, role_name=HUB, actor=None)
    assert not Grant.objects.exists()
    event = AuditEvent.objects.get(action=AuditAction.GRANT_IMPORT)
    assert event.outcome == AuditOutcome.FAILURE
    assert event.target_arn == f"arn:aws:iam::{piyo.account_id}:role/{HUB}"
    assert "cut the portal off" in event.message


def test_the_hub_role_is_refused_whatever_the_case(aws_world, piyo) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match="will not import it"):
        services.grant_import(account=piyo, role_name=HUB.lower(), actor=None)


def test_a_role_named_in_the_setting_is_refused_too(aws_world, piyo, settings) -> None:  # type: ignore[no-untyped-def]
    make_role(
        piyo, "portal-reader", policies.trust_policy(principal_arn="arn:aws:iam::444455556666:root")
    )
    assert {r.name: r for r in services.account_discover(account=piyo)}["portal-reader"].importable
    settings.XACCT_PORTAL_ACCESS_ROLES = ["Portal-Reader"]
    role = {r.name: r for r in services.account_discover(account=piyo)}["portal-reader"]
    assert not role.importable
    with pytest.raises(ValidationError, match="will not import it"):
        services.grant_import(account=piyo, role_name="portal-reader", actor=None)


def test_the_hub_role_of_another_registration_counts(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    """A hub role is protected in its own account only: the same name elsewhere is not."""
    make_role(
        hoge, "hoge-hub", policies.trust_policy(principal_arn="arn:aws:iam::111122223333:root")
    )
    hoge.hub_role_name = "hoge-hub"
    hoge.save()
    found = {r.name: r for r in services.account_discover(account=hoge)}
    assert found["hoge-hub"].portal_access
    make_role(
        piyo, "hoge-hub", policies.trust_policy(principal_arn="arn:aws:iam::444455556666:root")
    )
    assert {r.name: r for r in services.account_discover(account=piyo)}["hoge-hub"].importable


def test_the_discovery_page_labels_the_portal_access_role(user_client, aws_world, piyo) -> None:  # type: ignore[no-untyped-def]
    body = user_client.post(
        reverse("account_discover", args=[piyo.pk]), follow=True
    ).content.decode()
    row = body[body.index(f'data-role="{HUB}"') :]
    row = row[: row.index("</tr>")]
    assert "the portal's access role" in row
    assert "Import as grant" not in row
    assert "cut the portal off" in row


def test_a_crafted_import_post_is_refused_and_explained(user_client, aws_world, piyo) -> None:  # type: ignore[no-untyped-def]
    response = user_client.post(
        reverse("account_import", args=[piyo.pk]), {"role_name": HUB}, follow=True
    )
    assert response.status_code == 200
    assert "will not import it" in response.content.decode()
    assert not Grant.objects.exists()
    event = AuditEvent.objects.get(action=AuditAction.GRANT_IMPORT)
    assert event.outcome == AuditOutcome.FAILURE
    assert event.actor_name == "alice"
