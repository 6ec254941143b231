"""Provisioning: the calls in order, exactly the reviewed state, and a full rollback on failure."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from django.core.exceptions import ValidationError
from django.test import override_settings

from grants import aws, policies, services
from grants.aws import sandbox
from grants.models import (
    AuditAction,
    AuditEvent,
    AuditOutcome,
    AwsAccount,
    Grant,
    GrantStatus,
    PermissionSet,
    TrustScope,
)

pytestmark = pytest.mark.django_db

ROLE = "piyo-sqs-for-hoge"


def draft(piyo: AwsAccount, hoge: AwsAccount | None, **overrides: Any) -> Grant:
    fields: dict[str, Any] = {
        "trusting_account": piyo,
        "role_name": ROLE,
        "role_path": "/",
        "role_description": "hoge-app reads piyo's queues",
        "trusted_account": hoge,
        "trusted_aws_account_id": sandbox.HOGE.account_id,
        "trust_scope": TrustScope.ACCOUNT,
        "trusted_principal_arn": "",
        "external_id": "",
        "require_mfa": False,
        "permission_set": PermissionSet.SQS_FULL,
        "region": sandbox.REGION,
        "max_session_duration": 3600,
        "grantee_type": "user",
        "grantee_name": sandbox.GRANTEE_USER,
        "user_policy_name": f"xacct-assume-{ROLE}",
    }
    fields.update(overrides)
    if "user_policy_name" not in overrides:
        fields["user_policy_name"] = f"xacct-assume-{fields['role_name']}"
    grant = services.grant_draft(**fields)
    grant.request_token = uuid.uuid4()
    return grant


IMMEDIATE_TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


def provisioned(grant: Grant) -> Grant:
    """Provision at once, whatever the task backend: for tests whose subject is other work
    queued for the workers (the provisioning operation then never waits in their queue)."""
    with override_settings(TASKS=IMMEDIATE_TASKS):
        return services.grant_provision(grant=grant, actor=None)


def inject_failure(operation: str, code: str = "LimitExceeded") -> list[str]:
    """Make the next `operation` call fail as AWS would; return the calls seen."""
    seen: list[str] = []

    def fail(**kwargs: Any) -> Any:
        seen.append(operation)
        http = AWSResponse("https://iam.amazonaws.com/", 409, {"x-amzn-requestid": "inj-1"}, None)
        parsed = {
            "Error": {"Code": code, "Message": f"injected {code}", "Type": "Sender"},
            "ResponseMetadata": {"HTTPStatusCode": 409, "RequestId": "inj-1"},
        }
        return http, parsed

    aws.gateway().events.register(f"before-call.iam.{operation}", fail)
    return seen


def live_state(grant: Grant, piyo: AwsAccount, hoge: AwsAccount) -> dict[str, Any]:
    """What IAM holds for the grant right now, in both accounts."""
    role = aws.role_get(piyo.access(), grant.role_name)
    state: dict[str, Any] = {"role": role}
    if role is not None:
        state["attached"] = aws.role_attached_policy_arns(piyo.access(), role_name=grant.role_name)
        state["inline"] = (
            aws.role_inline_policy(
                piyo.access(), role_name=grant.role_name, policy_name=grant.inline_policy_name
            )
            if grant.inline_policy_name
            else None
        )
    state["user_policy"] = aws.user_policy(
        hoge.access(), user_name=grant.grantee_name, policy_name=grant.user_policy_name
    )
    return state


def test_it_provisions_exactly_what_was_reviewed(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = services.grant_provision(grant=draft(piyo, hoge), actor=None)
    assert grant.status == GrantStatus.ACTIVE, grant.last_error
    assert grant.role_arn == f"arn:aws:iam::111122223333:role/{ROLE}"
    live = live_state(grant, piyo, hoge)
    assert live["role"].trust_policy == grant.trust_policy
    assert live["role"].max_session_duration == 3600
    assert live["role"].tags == {"xacct:managed-by": "xacct-portal", "xacct:grant": str(grant.pk)}
    assert live["attached"] == ["arn:aws:iam::aws:policy/AmazonSQSFullAccess"]
    assert live["user_policy"] == grant.user_policy
    assert grant.user_policy["Statement"][0]["Resource"] == grant.role_arn


def test_it_audits_every_call_with_its_request_id(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = services.grant_provision(grant=draft(piyo, hoge), actor=None)
    events = list(grant.audit_events.order_by("pk"))
    assert [e.action for e in events] == [
        AuditAction.ROLE_CREATE,
        AuditAction.ROLE_POLICY_ATTACH,
        AuditAction.USER_POLICY_PUT,
        AuditAction.GRANT_PROVISION,
    ]
    assert all(e.outcome == AuditOutcome.SUCCESS for e in events)
    assert all(e.request_id for e in events[:3])
    assert events[2].account == hoge


def test_a_specific_queues_grant_holds_only_the_chosen_actions_and_queues(
    aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    grant = services.grant_provision(
        grant=draft(
            piyo,
            hoge,
            permission_set=PermissionSet.QUEUES,
            queue_names=["orders"],
            queue_actions=["sqs:ReceiveMessage", "sqs:DeleteMessage"],
            allow_list_queues=True,
        ),
        actor=None,
    )
    assert grant.status == GrantStatus.ACTIVE, grant.last_error
    live = live_state(grant, piyo, hoge)
    assert live["attached"] == []
    assert live["inline"] == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ChosenQueues",
                "Effect": "Allow",
                "Action": ["sqs:DeleteMessage", "sqs:ReceiveMessage"],
                "Resource": ["arn:aws:sqs:ap-northeast-1:111122223333:orders"],
            },
            {"Sid": "ListQueues", "Effect": "Allow", "Action": "sqs:ListQueues", "Resource": "*"},
        ],
    }


def test_external_id_and_mfa_end_up_in_the_live_trust_policy(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = services.grant_provision(
        grant=draft(piyo, hoge, external_id="xacct-abc", require_mfa=True), actor=None
    )
    condition = live_state(grant, piyo, hoge)["role"].trust_policy["Statement"][0]["Condition"]
    assert condition == {
        "StringEquals": {"sts:ExternalId": "xacct-abc"},
        "Bool": {"aws:MultiFactorAuthPresent": "true"},
    }


def test_an_external_trusted_account_gets_nothing_written(aws_world, piyo) -> None:  # type: ignore[no-untyped-def]
    grant = services.grant_provision(
        grant=draft(piyo, None, trusted_aws_account_id="999988887777", grantee_name=""),
        actor=None,
    )
    assert grant.status == GrantStatus.ACTIVE
    assert [step.key for step in services.grant_plan(grant)] == [
        "role",
        "attach:arn:aws:iam::aws:policy/AmazonSQSFullAccess",
    ]
    assert grant.trust_policy["Statement"][0]["Principal"] == {
        "AWS": "arn:aws:iam::999988887777:root"
    }


PLANS = {
    PermissionSet.SQS_FULL: ["CreateRole", "AttachRolePolicy", "PutUserPolicy"],
    PermissionSet.QUEUES: ["CreateRole", "PutRolePolicy", "PutUserPolicy"],
}
CASES = [(kind, operation) for kind, operations in PLANS.items() for operation in operations]


@pytest.mark.parametrize(("permission_set", "failing"), CASES)
def test_a_failed_call_rolls_back_everything_before_it(
    aws_world, piyo, hoge, permission_set, failing
) -> None:  # type: ignore[no-untyped-def]
    seen = inject_failure(failing)
    extra = (
        {"queue_names": ["orders"], "queue_actions": ["sqs:ReceiveMessage"]}
        if permission_set == PermissionSet.QUEUES
        else {}
    )
    grant = services.grant_provision(
        grant=draft(piyo, hoge, permission_set=permission_set, **extra), actor=None
    )
    assert seen == [failing]
    assert grant.status == GrantStatus.FAILED
    assert grant.applied_steps == []
    assert grant.last_error["code"] == "LimitExceeded"
    assert grant.last_error["request_id"] == "inj-1"
    assert grant.last_error["operation"] == failing
    # Nothing is left behind in either account.
    live = live_state(grant, piyo, hoge)
    assert live["role"] is None
    assert live["user_policy"] is None
    failed = AuditEvent.objects.filter(grant=grant, outcome=AuditOutcome.FAILURE)
    assert {e.action for e in failed} == {f"iam.{failing}", AuditAction.GRANT_PROVISION}
    undone = AuditEvent.objects.filter(grant=grant, action=AuditAction.ROLE_DELETE)
    assert undone.count() == (0 if failing == "CreateRole" else 1)


def test_a_failed_undo_leaves_a_partial_grant_that_retry_completes(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    inject_failure("PutUserPolicy")
    inject_failure("DetachRolePolicy", code="ServiceFailure")
    grant = services.grant_provision(grant=draft(piyo, hoge), actor=None)
    assert grant.status == GrantStatus.PARTIAL
    # The role could not be stripped of its policy, so both stay and are recorded.
    assert grant.applied_steps == ["role", "attach:arn:aws:iam::aws:policy/AmazonSQSFullAccess"]
    assert live_state(grant, piyo, hoge)["role"] is not None

    aws.reset()  # the injected failures are gone
    grant = services.grant_provision(grant=grant, actor=None)
    assert grant.status == GrantStatus.ACTIVE, grant.last_error
    live = live_state(grant, piyo, hoge)
    assert live["attached"] == ["arn:aws:iam::aws:policy/AmazonSQSFullAccess"]
    assert live["user_policy"] == grant.user_policy


def test_retry_after_a_clean_failure_is_safe(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    inject_failure("PutUserPolicy")
    grant = services.grant_provision(grant=draft(piyo, hoge), actor=None)
    assert grant.status == GrantStatus.FAILED
    aws.reset()
    grant = services.grant_provision(grant=grant, actor=None)
    assert grant.status == GrantStatus.ACTIVE
    assert Grant.objects.count() == 1


def test_it_refuses_to_reprovision_an_active_grant(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = services.grant_provision(grant=draft(piyo, hoge), actor=None)
    with pytest.raises(services.GrantBusy):
        services.grant_provision(grant=grant, actor=None)


def test_a_double_submit_creates_one_grant(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    first = draft(piyo, hoge)
    second = draft(piyo, hoge)
    second.request_token = first.request_token
    one = services.grant_provision(grant=first, actor=None)
    two = services.grant_provision(grant=second, actor=None)
    assert one.pk == two.pk
    assert Grant.objects.count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.ROLE_CREATE).count() == 1


def test_it_does_not_adopt_a_role_someone_else_created(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    aws.role_create(
        piyo.access(),
        name=ROLE,
        path="/",
        trust_policy=policies.render(policies.trust_policy(principal_arn="arn:aws:iam::1:root")),
        description="",
        max_session_duration=3600,
        tags={},
    )
    grant = services.grant_provision(grant=draft(piyo, hoge), actor=None)
    assert grant.status == GrantStatus.FAILED
    assert grant.last_error["code"] == "EntityAlreadyExists"
    # The foreign role is untouched.
    assert aws.role_get(piyo.access(), ROLE).tags == {}


def test_a_second_live_grant_with_the_same_role_name_is_refused(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    services.grant_provision(grant=draft(piyo, hoge), actor=None)
    with pytest.raises(ValidationError, match="already manages a role of this name"):
        services.grant_provision(grant=draft(piyo, hoge, role_name=ROLE.upper()), actor=None)


def test_warnings_name_whole_account_trust_without_conditions(piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    warnings = services.grant_warnings(draft(piyo, hoge))
    assert any("neither an external ID nor MFA" in w for w in warnings)
    assert not any(
        "neither" in w for w in services.grant_warnings(draft(piyo, hoge, require_mfa=True))
    )
    assert not any("organization condition" in w for w in warnings)


def test_the_whole_account_warning_says_an_organization_condition_does_not_narrow_it(
    piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    grant = draft(piyo, hoge, principal_org_id="o-a1b2c3d4e5")
    [warning] = [w for w in services.grant_warnings(grant) if "neither" in w]
    assert "organization condition does not narrow that" in warning


def test_oversized_documents_are_reported(piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = draft(
        piyo,
        hoge,
        permission_set=PermissionSet.QUEUES,
        queue_names=[f"queue-{n:04d}-{'x' * 60}" for n in range(200)],
        queue_actions=["sqs:SendMessage"],
    )
    assert any("Role inline policy is" in e for e in services.grant_size_errors(grant))
