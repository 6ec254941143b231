"""Drift (check, re-apply, adopt) and discovery of cross-account roles made elsewhere."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from grants import aws, policies, services
from grants.aws import core
from grants.models import AwsAccount, Grant, GrantStatus, PermissionSet, TrustScope

from .test_services_grants import ROLE, draft, live_state

pytestmark = pytest.mark.django_db


def provision(piyo, hoge, **overrides) -> Grant:  # type: ignore[no-untyped-def]
    grant = services.grant_provision(grant=draft(piyo, hoge, **overrides), actor=None)
    assert grant.status == GrantStatus.ACTIVE
    return grant


def set_trust(account: AwsAccount, role: str, document: dict) -> None:
    core.call(
        account.access(),
        "iam",
        "update_assume_role_policy",
        RoleName=role,
        PolicyDocument=json.dumps(document),
    )


def make_role(account: AwsAccount, name: str, trust: dict) -> None:
    aws.role_create(
        account.access(),
        name=name,
        path="/",
        trust_policy=json.dumps(trust),
        description="made outside the portal",
        max_session_duration=3600,
        tags={},
    )


def test_no_drift_right_after_provisioning(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = services.grant_drift_check(grant=provision(piyo, hoge), actor=None)
    assert grant.drift == []
    assert grant.drift_checked_at is not None


def test_a_changed_trust_policy_and_a_removed_user_policy_show_up_and_reapply_restores(
    aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    set_trust(piyo, ROLE, policies.trust_policy(principal_arn="arn:aws:iam::999988887777:root"))
    aws.user_policy_delete(
        hoge.access(), user_name=grant.grantee_name, policy_name=grant.user_policy_name
    )
    grant = services.grant_drift_check(grant=grant, actor=None)
    parts = {(item["part"], item["change"]) for item in grant.drift}
    assert parts == {("trust policy", "changed"), ("user policy", "missing")}
    trust_diff = next(i["diff"] for i in grant.drift if i["part"] == "trust policy")
    assert '-        "AWS": "arn:aws:iam::444455556666:root"' in trust_diff
    assert '+        "AWS": "arn:aws:iam::999988887777:root"' in trust_diff

    grant = services.grant_reapply(grant=grant, actor=None)
    assert grant.drift == []
    live = live_state(grant, piyo, hoge)
    assert live["role"].trust_policy == grant.trust_policy
    assert live["user_policy"] == grant.user_policy


def test_reapply_detaches_extra_policies_and_recreates_a_deleted_role(
    aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    readonly = "arn:aws:iam::aws:policy/AmazonSQSReadOnlyAccess"
    aws.role_policy_attach(piyo.access(), role_name=ROLE, policy_arn=readonly)
    grant = services.grant_drift_check(grant=grant, actor=None)
    assert {"part": "permission policies", "change": "extra", "diff": f"+ attached {readonly}"} in (
        grant.drift
    )
    services.grant_reapply(grant=grant, actor=None)
    assert aws.role_attached_policy_arns(piyo.access(), role_name=ROLE) == grant.managed_policy_arns

    for arn in grant.managed_policy_arns:
        aws.role_policy_detach(piyo.access(), role_name=ROLE, policy_arn=arn)
    aws.role_delete(piyo.access(), name=ROLE)
    grant = services.grant_drift_check(grant=grant, actor=None)
    assert grant.drift[0]["change"] == "missing"
    grant = services.grant_reapply(grant=grant, actor=None)
    assert grant.drift == []


def test_adopt_live_makes_the_record_match(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    changed = policies.trust_policy(
        principal_arn="arn:aws:iam::444455556666:root", external_id="xacct-later"
    )
    set_trust(piyo, ROLE, changed)
    grant = services.grant_adopt_live(grant=grant, actor=None)
    grant.refresh_from_db()
    assert grant.trust_policy == changed
    assert grant.drift == []


def test_discovery_finds_flags_and_imports_a_role_made_elsewhere(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    provision(piyo, hoge)  # the portal's own grant is listed as such
    make_role(
        piyo, "legacy-reader", policies.trust_policy(principal_arn="arn:aws:iam::444455556666:root")
    )
    make_role(
        piyo,
        "partner-with-id",
        policies.trust_policy(principal_arn="arn:aws:iam::777788889999:root", external_id="p-1"),
    )
    make_role(
        piyo,
        "open-to-all",
        {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]},
    )
    make_role(
        piyo,
        "orphaned",
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "AROAEXAMPLEDELETED1234"},
                    "Action": "sts:AssumeRole",
                }
            ]
        },
    )
    found = {role.name: role for role in services.account_discover(account=piyo)}
    # The hub role trusts the management account: outside piyo, so it is listed too.
    assert found["OrganizationAccountAccessRole"].external_accounts == ["123456789012"]
    assert found[ROLE].grant_id is not None
    assert found["legacy-reader"].risks == [
        "Trusts the whole account 444455556666 with neither an external ID nor MFA."
    ]
    assert found["partner-with-id"].risks == []
    assert found["partner-with-id"].external_accounts == ["777788889999"]
    assert "Wildcard principal" in found["open-to-all"].risks[0]
    assert not found["open-to-all"].importable
    assert "Orphaned principal AROAEXAMPLEDELETED1234" in found["orphaned"].risks[0]

    grant = services.grant_import(account=piyo, role_name="legacy-reader", actor=None)
    assert grant.imported_at is not None
    assert grant.trusted_account == hoge
    assert grant.trust_scope == TrustScope.ACCOUNT
    assert grant.permission_set == PermissionSet.CUSTOM
    assert grant.grantee_name == ""
    with pytest.raises(ValidationError, match="already a grant"):
        services.grant_import(account=piyo, role_name="legacy-reader", actor=None)
    with pytest.raises(ValidationError, match="trusts no single other account"):
        services.grant_import(account=piyo, role_name="open-to-all", actor=None)


def test_the_discovery_page_lists_risks_and_imports(user_client, aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    make_role(
        piyo, "legacy-reader", policies.trust_policy(principal_arn="arn:aws:iam::444455556666:root")
    )
    response = user_client.post(reverse("account_discover", args=[piyo.pk]), follow=True)
    body = response.content.decode()
    assert "legacy-reader" in body
    assert "neither an external ID nor MFA" in body
    response = user_client.post(
        reverse("account_import", args=[piyo.pk]), {"role_name": "legacy-reader"}, follow=True
    )
    assert "Imported arn:aws:iam::111122223333:role/legacy-reader" in response.content.decode()


def test_the_drift_buttons_work_over_http(user_client, aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = provision(piyo, hoge)
    aws.user_policy_delete(
        hoge.access(), user_name=grant.grantee_name, policy_name=grant.user_policy_name
    )
    url = reverse("grant_drift", args=[grant.pk])
    body = user_client.post(url, {"action": "check"}, follow=True).content.decode()
    assert "1 difference(s) from the record." in body
    # Re-apply asks first: the old form action leads to the confirmation page.
    response = user_client.post(url, {"action": "reapply"})
    assert response["Location"] == reverse("grant_reapply", args=[grant.pk])
    assert "iam:PutUserPolicy" in user_client.get(response["Location"]).content.decode()
    body = user_client.post(response["Location"], follow=True).content.decode()
    assert "Re-applied the recorded state." in body
    assert "No drift: live IAM matches the record." in body
