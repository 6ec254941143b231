"""Edge cases: races, ownership, hostile input."""

from __future__ import annotations

import ast
import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from grants import aws, handoff, policies, services
from grants.models import Grant, GrantStatus

from .test_services_drift_discovery import make_role
from .test_services_grants import ROLE, draft

pytestmark = pytest.mark.django_db


def provision(piyo, hoge, **overrides) -> Grant:  # type: ignore[no-untyped-def]
    grant = services.grant_provision(grant=draft(piyo, hoge, **overrides), actor=None)
    assert grant.status == GrantStatus.ACTIVE
    return grant


def test_a_grant_being_revoked_cannot_be_revoked_twice(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    from grants.models import Operation, OperationKind

    grant = provision(piyo, hoge)
    stale = Grant.objects.get(pk=grant.pk)
    Operation.objects.create(grant=grant, kind=OperationKind.REVOKE, actor_name="alice")
    with pytest.raises(services.GrantBusy, match="already being revoked by alice"):
        services.grant_revoke(grant=stale, actor=None)


def test_reapply_refuses_revoked_grants(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = services.grant_revoke(grant=provision(piyo, hoge), actor=None)
    with pytest.raises(ValueError, match="no live state"):
        services.grant_reapply(grant=grant, actor=None)
    assert aws.role_get(piyo.access(), ROLE) is None


def test_reapply_refuses_a_role_that_belongs_to_another_grant(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    aws.role_tag(piyo.access(), role_name=ROLE, tags={"xacct:grant": "999"})
    grant = services.grant_reapply(grant=grant, actor=None)
    operation = grant.operations.order_by("-pk").first()
    assert operation.state == "failed"
    assert "belongs to grant #999" in operation.message
    assert not operation.steps.exists()  # nothing was sent


def test_retry_reports_a_role_name_taken_meanwhile(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    failed = draft(piyo, hoge)
    failed.status = GrantStatus.FAILED
    failed.save()
    provision(piyo, hoge, role_name=ROLE.upper())
    with pytest.raises(services.GrantBusy, match="Another grant now uses the role name"):
        services.grant_provision(grant=failed, actor=None)


def test_an_account_id_with_live_grants_cannot_change(piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = draft(piyo, hoge)
    grant.status = GrantStatus.ACTIVE
    grant.save()
    with pytest.raises(ValidationError) as caught:
        services.account_update(account=hoge, actor=None, account_id="444455556667")
    assert "revoke them before changing it" in caught.value.message_dict["account_id"][0]
    services.account_update(account=hoge, actor=None, name="hoge-renamed")  # other edits are fine


@pytest.mark.parametrize("value", ["²", "-1", "abc"])
def test_hostile_ids_in_query_strings_are_ignored(user_client, piyo, value) -> None:  # type: ignore[no-untyped-def]
    assert user_client.get(reverse("grant_list"), {"account": value}).status_code == 200
    assert user_client.get(reverse("audit_list"), {"grant": value}).status_code == 200
    response = user_client.post(reverse("grants_verify_bulk"), {"grant": [value]}, follow=True)
    assert "Select at least one active grant" in response.content.decode()


@pytest.mark.parametrize("value", ["9" * 30, "-" + "9" * 20, str(2**63)])
def test_out_of_range_ids_in_query_strings_answer_400(user_client, piyo, value) -> None:  # type: ignore[no-untyped-def]
    for name, parameter in (("grant_list", "account"), ("audit_list", "grant")):
        response = user_client.get(reverse(name), {parameter: value})
        assert response.status_code == 400
        assert "out of range" in response.content.decode()
    response = user_client.post(reverse("grants_verify_bulk"), {"grant": [value]}, follow=True)
    assert "Select at least one active grant" in response.content.decode()


def test_discovery_reads_action_names_without_regard_to_case(aws_world, piyo) -> None:  # type: ignore[no-untyped-def]
    trust = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
                "Action": "STS:assume*",
            }
        ]
    }
    make_role(piyo, "odd-case", trust)
    found = {r.name: r for r in services.account_discover(account=piyo)}
    assert found["odd-case"].risks


def test_a_role_trusting_two_accounts_is_not_imported(aws_world, piyo) -> None:  # type: ignore[no-untyped-def]
    trust = policies.trust_policy(principal_arn="arn:aws:iam::444455556666:root")
    trust["Statement"][0]["Principal"]["AWS"] = [
        "arn:aws:iam::444455556666:root",
        "arn:aws:iam::777788889999:root",
    ]
    make_role(piyo, "two-partners", trust)
    found = {r.name: r for r in services.account_discover(account=piyo)}
    assert not found["two-partners"].importable


def test_the_boto3_snippet_quotes_hostile_values(piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = draft(piyo, hoge, role_path='/x"+__import__("os").system("id")+"/')
    tree = ast.parse(handoff.boto3_snippet(grant))
    role_arn = next(
        node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and node.targets[0].id == "ROLE_ARN"
    )
    assert role_arn == grant.planned_role_arn
    assert json.dumps(grant.planned_role_arn) in handoff.boto3_snippet(grant)


@pytest.mark.parametrize("parameter", ["q", "account", "status"])
def test_a_nul_character_in_a_query_answers_400(user_client, parameter) -> None:  # type: ignore[no-untyped-def]
    for name in ("account_list", "grant_list", "audit_list"):
        response = user_client.get(reverse(name), {parameter: "a\x00b"})
        assert response.status_code == 400
        assert "NUL" in response.content.decode()
