"""The disagreement checker finds each kind of disagreement, and nothing on a clean grant."""

from __future__ import annotations

import json

import pytest

from grants.aws import sandbox
from grants.models import Grant, GrantStatus

from .checker import disagreements
from .scenarios import HOGE_ID, PIYO_ID, ROLE, provisioned

pytestmark = pytest.mark.django_db


def kinds(world) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(d.kind, d.where) for d in disagreements(world.reader)]


def test_a_provisioned_grant_and_aws_agree(fault_world) -> None:  # type: ignore[no-untyped-def]
    provisioned(fault_world)
    assert disagreements(fault_world.reader) == []


def test_a_role_tagged_for_a_grant_that_does_not_exist_is_an_orphan(fault_world) -> None:  # type: ignore[no-untyped-def]
    fault_world.reader.iam(PIYO_ID).create_role(
        RoleName="left-behind",
        AssumeRolePolicyDocument="{}",
        Tags=[{"Key": "xacct:grant", "Value": "4242"}],
    )
    assert kinds(fault_world) == [("orphan role", f"role left-behind in {PIYO_ID}")]


def test_a_revoked_grant_whose_role_and_policy_remain_leaves_two_orphans(fault_world) -> None:  # type: ignore[no-untyped-def]
    grant = provisioned(fault_world)
    Grant.objects.filter(pk=grant.pk).update(status=GrantStatus.REVOKED)
    assert kinds(fault_world) == [
        ("orphan policy", f"xacct-assume-{ROLE} on user {sandbox.GRANTEE_USER} in {HOGE_ID}"),
        ("orphan role", f"role {ROLE} in {PIYO_ID}"),
    ]


def test_an_untagged_role_named_like_a_failed_grant_is_an_orphan(fault_world) -> None:  # type: ignore[no-untyped-def]
    grant = provisioned(fault_world)
    fault_world.reader.iam(PIYO_ID).untag_role(RoleName=ROLE, TagKeys=["xacct:grant"])
    Grant.objects.filter(pk=grant.pk).update(status=GrantStatus.FAILED)
    assert ("orphan role", f"role {ROLE} in {PIYO_ID}") in kinds(fault_world)


def test_an_active_grant_missing_its_user_policy_is_reported(fault_world) -> None:  # type: ignore[no-untyped-def]
    grant = provisioned(fault_world)
    fault_world.reader.iam(HOGE_ID).delete_user_policy(
        UserName=sandbox.GRANTEE_USER, PolicyName=grant.user_policy_name
    )
    assert kinds(fault_world) == [("missing policy", f"grant #{grant.pk} {ROLE}")]


def test_an_active_grant_whose_role_is_gone_is_reported(fault_world) -> None:  # type: ignore[no-untyped-def]
    grant = provisioned(fault_world)
    iam = fault_world.reader.iam(PIYO_ID)
    iam.detach_role_policy(RoleName=ROLE, PolicyArn=fault_world.policy_arn)
    iam.delete_role_policy(RoleName=ROLE, PolicyName=grant.inline_policy_name)
    iam.delete_role(RoleName=ROLE)
    assert kinds(fault_world) == [("missing role", f"grant #{grant.pk} {ROLE}")]


def test_a_changed_trust_policy_is_drift(fault_world) -> None:  # type: ignore[no-untyped-def]
    grant = provisioned(fault_world)
    document = dict(grant.trust_policy, Id="changed")
    fault_world.reader.iam(PIYO_ID).update_assume_role_policy(
        RoleName=ROLE, PolicyDocument=json.dumps(document)
    )
    assert kinds(fault_world) == [("drift", f"grant #{grant.pk} {ROLE}")]


def test_a_grant_left_provisioning_or_half_revoked_is_stuck(fault_world) -> None:  # type: ignore[no-untyped-def]
    from django.utils import timezone

    grant = provisioned(fault_world)
    Grant.objects.filter(pk=grant.pk).update(revoke_requested_at=timezone.now())
    assert kinds(fault_world) == [("stuck", f"grant #{grant.pk} {ROLE}")]
    Grant.objects.filter(pk=grant.pk).update(
        status=GrantStatus.PROVISIONING, revoke_requested_at=None
    )
    assert kinds(fault_world) == [("stuck", f"grant #{grant.pk} {ROLE}")]


def test_an_xacct_policy_on_a_user_no_grant_records_is_an_orphan(fault_world) -> None:  # type: ignore[no-untyped-def]
    fault_world.reader.iam(HOGE_ID).put_user_policy(
        UserName=sandbox.GRANTEE_USER,
        PolicyName="xacct-assume-ghost",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}],
            }
        ),
    )
    assert kinds(fault_world) == [
        ("orphan policy", f"xacct-assume-ghost on user {sandbox.GRANTEE_USER} in {HOGE_ID}")
    ]


def test_a_partial_grant_must_list_every_part_aws_still_holds(fault_world) -> None:  # type: ignore[no-untyped-def]
    grant = provisioned(fault_world)
    Grant.objects.filter(pk=grant.pk).update(
        status=GrantStatus.PARTIAL, applied_steps=["role", f"attach:{fault_world.policy_arn}"]
    )
    found = disagreements(fault_world.reader)
    assert [(d.kind, d.detail.split(" is in AWS")[0]) for d in found] == [
        ("unrecorded", "grantee-policy"),
        ("unrecorded", f"inline:{grant.inline_policy_name}"),
    ]
    Grant.objects.filter(pk=grant.pk).update(
        applied_steps=[
            "role",
            f"attach:{fault_world.policy_arn}",
            f"inline:{grant.inline_policy_name}",
            "grantee-policy",
        ]
    )
    assert disagreements(fault_world.reader) == []
