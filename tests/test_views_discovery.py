"""Discovery (POST/redirect/GET), import and its completion, over HTTP."""

from __future__ import annotations

import pytest
from django.urls import reverse

from grants import aws, policies
from grants.aws import sandbox
from grants.models import AuditAction, AuditEvent, Grant, GranteeType, TrustScope
from grants.services import discovery

from .test_services_drift_discovery import make_role

pytestmark = pytest.mark.django_db

HOGE_ROOT = "arn:aws:iam::444455556666:root"


def legacy_role(piyo, name: str = "legacy-reader", principal: str = HOGE_ROOT) -> None:  # type: ignore[no-untyped-def]
    make_role(piyo, name, policies.trust_policy(principal_arn=principal))


def import_role(client, piyo, name: str = "legacy-reader"):  # type: ignore[no-untyped-def]
    return client.post(reverse("account_import", args=[piyo.pk]), {"role_name": name})


def test_it_redirects_a_discovery_run_to_a_page_that_reloads(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    legacy_role(piyo)
    url = reverse("account_discover", args=[piyo.pk])
    response = user_client.post(url)
    assert response.status_code == 302
    assert response["Location"] == url
    first = user_client.get(url)
    assert first.status_code == 200
    assert 'data-role="legacy-reader"' in first.content.decode()
    assert "Read from AWS at" in first.content.decode()
    # Back and reload must ask the server again, never show a cached page.
    assert "no-store" in first["Cache-Control"]
    again = user_client.get(url)
    assert again.status_code == 200
    assert 'data-role="legacy-reader"' in again.content.decode()


def test_it_shows_stored_results_without_calling_aws(
    user_client, aws_world, piyo, hoge, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    legacy_role(piyo)
    url = reverse("account_discover", args=[piyo.pk])
    user_client.post(url)

    def no_call(*args: object, **kwargs: object) -> None:
        raise AssertionError("a GET of the results must not read AWS")

    monkeypatch.setattr(discovery.aws, "roles", no_call)
    assert 'data-role="legacy-reader"' in user_client.get(url).content.decode()


def test_it_offers_to_run_discovery_when_none_ran(user_client, aws_world, piyo) -> None:  # type: ignore[no-untyped-def]
    body = user_client.get(reverse("account_discover", args=[piyo.pk])).content.decode()
    assert 'data-testid="not-run"' in body
    assert "Discover cross-account roles" in body
    assert "No role in" not in body


def test_it_shows_a_role_imported_since_the_run_as_a_grant(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    legacy_role(piyo)
    url = reverse("account_discover", args=[piyo.pk])
    user_client.post(url)
    assert "Import as grant" in user_client.get(url).content.decode()
    import_role(user_client, piyo)
    grant = Grant.objects.get(role_name="legacy-reader")
    body = user_client.get(url).content.decode()
    row = body[body.index('data-role="legacy-reader"') :].split("</tr>", 1)[0]
    assert "Import as grant" not in row
    assert f"Grant #{grant.pk}" in row


def test_it_shows_a_failed_run_with_every_error_detail(
    user_client, aws_world, piyo, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    def denied(*args: object, **kwargs: object) -> None:
        raise aws.AwsError(
            aws.AwsErrorDetail(
                service="iam",
                operation="ListRoles",
                message="not allowed",
                code="AccessDenied",
                http_status=403,
                request_id="req-123",
            )
        )

    monkeypatch.setattr(discovery.aws, "roles", denied)
    response = user_client.post(reverse("account_discover", args=[piyo.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "AccessDenied" in body and "req-123" in body
    assert "Discover again" in body


def test_a_refused_import_goes_back_to_the_results_with_the_reason(
    user_client, aws_world, piyo
) -> None:  # type: ignore[no-untyped-def]
    response = import_role(user_client, piyo, name="no-such-role")
    assert response.status_code == 302
    assert response["Location"] == reverse("account_discover", args=[piyo.pk])
    body = user_client.get(response["Location"]).content.decode()
    assert "no-such-role is not a cross-account role" in body
    assert not Grant.objects.exists()


def test_the_import_message_leads_to_naming_the_grantee(user_client, aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    legacy_role(piyo)
    response = import_role(user_client, piyo)
    grant = Grant.objects.get(role_name="legacy-reader")
    assert response["Location"] == reverse("grant_complete", args=[grant.pk])
    body = user_client.get(response["Location"]).content.decode()
    assert "Next: name the grantee below" in body
    assert 'data-testid="permissions-summary"' in body
    assert "not named yet" in body


def test_naming_an_existing_grantee_completes_the_import(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    legacy_role(piyo)
    import_role(user_client, piyo)
    grant = Grant.objects.get(role_name="legacy-reader")
    response = user_client.post(
        reverse("grant_complete", args=[grant.pk]),
        {
            "grantee_type": "user",
            "grantee_name": sandbox.GRANTEE_USER,
            "user_policy_name": "legacy-assume",
            "grantee_profile": sandbox.GRANTEE_PROFILE,
        },
    )
    assert response.status_code == 302
    assert response["Location"] == grant.get_absolute_url()
    grant.refresh_from_db()
    assert (grant.grantee_type, grant.grantee_name) == (GranteeType.USER, sandbox.GRANTEE_USER)
    assert grant.user_policy_name == "legacy-assume"
    assert grant.grantee_profile == sandbox.GRANTEE_PROFILE
    event = AuditEvent.objects.filter(grant=grant, action=AuditAction.GRANT_UPDATE).get()
    assert "Grantee named: IAM user hoge-app" in event.message


def test_a_grantee_missing_from_the_managed_account_is_refused(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    legacy_role(piyo)
    import_role(user_client, piyo)
    grant = Grant.objects.get(role_name="legacy-reader")
    response = user_client.post(
        reverse("grant_complete", args=[grant.pk]),
        {"grantee_type": "user", "grantee_name": "nobody", "user_policy_name": "p"},
    )
    assert response.status_code == 400
    assert "There is no IAM user nobody in" in response.content.decode()
    grant.refresh_from_db()
    assert grant.grantee_name == ""


def test_a_principal_trust_admits_only_its_principal_as_grantee(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    principal = f"arn:aws:iam::444455556666:user/{sandbox.GRANTEE_USER}"
    legacy_role(piyo, principal=principal)
    import_role(user_client, piyo)
    grant = Grant.objects.get(role_name="legacy-reader")
    assert grant.trust_scope == TrustScope.PRINCIPAL
    url = reverse("grant_complete", args=[grant.pk])
    wrong = user_client.post(
        url, {"grantee_type": "role", "grantee_name": sandbox.GRANTEE_USER, "user_policy_name": "p"}
    )
    assert wrong.status_code == 400
    assert "The role trusts only" in wrong.content.decode()
    right = user_client.post(
        url, {"grantee_type": "user", "grantee_name": sandbox.GRANTEE_USER, "user_policy_name": "p"}
    )
    assert right.status_code == 302


def test_an_invalid_grantee_name_is_refused_before_aws(user_client, aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    legacy_role(piyo)
    import_role(user_client, piyo)
    grant = Grant.objects.get(role_name="legacy-reader")
    response = user_client.post(
        reverse("grant_complete", args=[grant.pk]),
        {"grantee_type": "user", "grantee_name": "bad name!", "user_policy_name": "p"},
    )
    assert response.status_code == 400
    grant.refresh_from_db()
    assert grant.grantee_name == ""


def test_a_grant_made_by_the_portal_is_not_completed_here(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    from .test_services_drift_discovery import provision

    grant = provision(piyo, hoge)
    response = user_client.post(
        reverse("grant_complete", args=[grant.pk]),
        {"grantee_type": "user", "grantee_name": "other", "user_policy_name": "p"},
    )
    assert response.status_code == 302
    grant.refresh_from_db()
    assert grant.grantee_name == sandbox.GRANTEE_USER


def test_the_imported_grant_page_links_to_naming_the_grantee(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    legacy_role(piyo)
    import_role(user_client, piyo)
    grant = Grant.objects.get(role_name="legacy-reader")
    body = user_client.get(grant.get_absolute_url()).content.decode()
    link = f'href="{reverse("grant_complete", args=[grant.pk])}"'
    assert link in body
    assert "Name the grantee" in body
