"""The role-creation wizard over HTTP: each step validated, review shows exactly what is created."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.urls import reverse

from grants import aws
from grants.aws import sandbox
from grants.models import AuditEvent, Grant, GrantStatus

pytestmark = pytest.mark.django_db

URL = reverse("grant_create")


def step(client, name: str, data: dict[str, Any]):  # type: ignore[no-untyped-def]
    payload = {"grant_wizard-current_step": name}
    payload.update({f"{name}-{key}": value for key, value in data.items()})
    return client.post(URL, payload)


def role_step(piyo, **overrides: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {"trusting_account": piyo.pk, "role_name": "piyo-sqs", "role_path": "/", **overrides}


def trusted_step(hoge, **overrides: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {"trusted_account": hoge.pk, "trust_scope": "account", **overrides}


def permissions_step(**overrides: Any) -> dict[str, Any]:
    return {
        "permission_set": "sqs_full",
        "region": sandbox.REGION,
        "max_session_duration": 3600,
        "allow_list_queues": "on",
        **overrides,
    }


def walk_to_review(client, piyo, hoge, **permissions: Any):  # type: ignore[no-untyped-def]
    client.get(URL)
    for name, data in (
        ("role", role_step(piyo)),
        ("trusted", trusted_step(hoge)),
        ("permissions", permissions_step(**permissions)),
        ("grantee", {"grantee_name": sandbox.GRANTEE_USER, "user_policy_name": "xacct-assume"}),
    ):
        response = step(client, name, data)
        assert response.status_code == 200
        assert not response.context["form"].errors, (name, response.context["form"].errors)
    return response


def test_it_walks_through_to_a_review_of_the_exact_documents(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    response = walk_to_review(user_client, piyo, hoge)
    assert response.context["wizard"]["steps"].current == "review"
    body = response.content.decode()
    draft = response.context["draft"]
    assert "arn:aws:iam::111122223333:role/piyo-sqs" in body
    assert [step.key for step in response.context["plan"]] == [
        "role",
        "attach:arn:aws:iam::aws:policy/AmazonSQSFullAccess",
        "grantee-policy",
    ]
    for document in (draft.trust_policy, draft.user_policy):
        assert json.dumps(document, indent=2).replace('"', "&quot;") in body
    assert "neither an external ID nor MFA" in body


def test_create_provisions_and_shows_the_role_arn(user_client, aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    walk_to_review(user_client, piyo, hoge)
    response = step(user_client, "review", {})
    grant = Grant.objects.get()
    assert response.status_code == 302
    assert response.url == grant.get_absolute_url()
    assert grant.status == GrantStatus.ACTIVE
    assert grant.created_by == user_client.user
    page = user_client.get(response.url).content.decode()
    assert "arn:aws:iam::111122223333:role/piyo-sqs" in page
    assert aws.role_get(piyo.access(), "piyo-sqs") is not None


def test_a_double_submit_creates_one_grant(user_client, aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    walk_to_review(user_client, piyo, hoge)
    step(user_client, "review", {})
    second = step(user_client, "review", {})
    assert second.status_code in (200, 302)
    assert Grant.objects.count() == 1


def test_it_offers_the_live_queues_and_users(user_client, aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    user_client.get(URL)
    step(user_client, "role", role_step(piyo))
    response = step(user_client, "trusted", trusted_step(hoge))
    queues = dict(response.context["form"].fields["queue_names"].choices)
    assert sorted(queues) == sorted(sandbox.PIYO_QUEUES)
    response = step(user_client, "permissions", permissions_step())
    users = dict(response.context["form"].fields["grantee_name"].choices)
    assert sandbox.GRANTEE_USER in users


def test_a_specific_queues_grant_needs_a_queue(user_client, aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    user_client.get(URL)
    step(user_client, "role", role_step(piyo))
    step(user_client, "trusted", trusted_step(hoge))
    response = step(user_client, "permissions", permissions_step(permission_set="queues"))
    assert "Choose at least one queue in ap-northeast-1." in response.content.decode()


def test_a_role_name_that_exists_in_any_case_is_refused_before_any_call(
    user_client, aws_world, piyo
) -> None:  # type: ignore[no-untyped-def]
    user_client.get(URL)
    response = step(user_client, "role", role_step(piyo, role_name="organizationaccountaccessrole"))
    assert "already has a role named OrganizationAccountAccessRole" in response.content.decode()
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("role", {"role_name": "bad name"}, "Use 1–64 letters"),
        ("role", {"role_name": "r" * 65}, "at most 64 characters"),
        ("role", {"role_path": "xacct"}, "A path starts and ends with /"),
        ("role", {"role_description": "x" * 1001}, "at most 1000 characters"),
    ],
)
def test_role_step_field_errors(user_client, aws_world, piyo, name, data, message) -> None:  # type: ignore[no-untyped-def]
    user_client.get(URL)
    response = step(user_client, name, role_step(piyo, **data))
    assert response.status_code == 200
    assert message in response.content.decode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"trusted_account": "", "trusted_aws_account_id": "12345"}, "exactly 12 digits"),
        ({"trusted_account": "", "trusted_aws_account_id": ""}, "Choose the trusted account"),
        ({"trusted_account": "", "trusted_aws_account_id": "111122223333"}, "must differ"),
        ({"trust_scope": "principal", "trusted_principal_arn": "*"}, "wildcard principal"),
        ({"trust_scope": "principal", "trusted_principal_arn": ""}, "Enter the ARN"),
        (
            {
                "trust_scope": "principal",
                "trusted_principal_arn": "arn:aws:iam::999988887777:user/x",
            },
            "must be in account 444455556666",
        ),
        ({"external_id": "a"}, "external ID is 2–1224"),
        ({"external_id": "abc", "generate_external_id": "on"}, "not both"),
    ],
)
def test_trusted_step_field_errors(user_client, aws_world, piyo, hoge, data, message) -> None:  # type: ignore[no-untyped-def]
    user_client.get(URL)
    step(user_client, "role", role_step(piyo))
    response = step(user_client, "trusted", trusted_step(hoge, **data))
    assert response.status_code == 200
    assert message in response.content.decode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"max_session_duration": 3599}, "greater than or equal to 3600"),
        ({"max_session_duration": 43201}, "less than or equal to 43200"),
        ({"region": "tokyo"}, "region code"),
        ({"permission_set": "custom"}, "Enter at least one managed policy ARN"),
        ({"permission_set": "custom", "custom_policy_arns": "arn:aws:s3:::x"}, "Not a managed"),
        ({"expires_at": "2000-01-01T00:00"}, "must be in the future"),
        ({"queue_names": ["no-such-queue"], "permission_set": "queues"}, "Select a valid choice"),
    ],
)
def test_permissions_step_field_errors(user_client, aws_world, piyo, hoge, data, message) -> None:  # type: ignore[no-untyped-def]
    user_client.get(URL)
    step(user_client, "role", role_step(piyo))
    step(user_client, "trusted", trusted_step(hoge))
    response = step(user_client, "permissions", permissions_step(**data))
    assert response.status_code == 200
    assert message in response.content.decode()


def test_a_generated_external_id_reaches_the_review(user_client, aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    user_client.get(URL)
    step(user_client, "role", role_step(piyo))
    step(user_client, "trusted", trusted_step(hoge, generate_external_id="on"))
    step(user_client, "permissions", permissions_step())
    response = step(
        user_client,
        "grantee",
        {"grantee_name": sandbox.GRANTEE_USER, "user_policy_name": "xacct-assume"},
    )
    external_id = response.context["draft"].external_id
    assert external_id.startswith("xacct-")
    assert len(external_id) > 20


def test_a_failed_provisioning_shows_the_aws_error_and_leaves_nothing(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    from .test_services_grants import inject_failure

    inject_failure("PutUserPolicy", code="LimitExceeded")  # before any client exists
    walk_to_review(user_client, piyo, hoge)
    response = step(user_client, "review", {})
    grant = Grant.objects.get()
    page = user_client.get(response.url).content.decode()
    assert grant.status == GrantStatus.FAILED
    for detail in ("iam:PutUserPolicy", "injected LimitExceeded", "LimitExceeded", "409", "inj-1"):
        assert detail in page
    assert "everything was rolled back" in page
    assert aws.role_get(piyo.access(), "piyo-sqs") is None


def test_retry_after_a_failure_completes_the_grant(user_client, aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    from .test_services_grants import inject_failure

    inject_failure("AttachRolePolicy")
    walk_to_review(user_client, piyo, hoge)
    step(user_client, "review", {})
    grant = Grant.objects.get()
    aws.reset()
    response = user_client.post(reverse("grant_retry", args=[grant.pk]), follow=True)
    grant.refresh_from_db()
    assert grant.status == GrantStatus.ACTIVE
    assert "Created arn:aws:iam::111122223333:role/piyo-sqs" in response.content.decode()


# --- input rules from the AWS API model, refused at their step -------------------------------


@pytest.mark.parametrize(
    ("data", "messages"),
    [
        ({"role_name": "naïve"}, ["Use 1–64 letters", "“ï” (LATIN SMALL LETTER I WITH DIAERESIS)"]),
        ({"role_name": "ロール"}, ["Use 1–64 letters", "KATAKANA LETTER RO"]),
        ({"role_path": "//"}, ["A path starts and ends with /", "“//” does not have that form"]),
        ({"role_path": "/a//b/"}, ["A path starts and ends with /", "empty segment (//)"]),
        ({"role_description": "説明"}, ["Latin-1", "CJK UNIFIED IDEOGRAPH"]),
    ],
)
def test_the_role_step_refuses_what_aws_would(user_client, aws_world, piyo, data, messages) -> None:  # type: ignore[no-untyped-def]
    user_client.get(URL)
    response = step(user_client, "role", role_step(piyo, **data))
    body = response.content.decode()
    assert response.context["wizard"]["steps"].current == "role"
    for message in messages:
        assert message in body
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    ("account_id", "named"),
    [
        ("４４４４５５５５６６６６", "FULLWIDTH DIGIT FOUR"),
        ("٤٤٤٤٥٥٥٥٦٦٦٦", "ARABIC-INDIC DIGIT FOUR"),
    ],
)
def test_the_trusted_step_refuses_non_ascii_digits_in_an_account_id(
    user_client, aws_world, piyo, account_id, named
) -> None:  # type: ignore[no-untyped-def]
    user_client.get(URL)
    step(user_client, "role", role_step(piyo))
    response = step(
        user_client, "trusted", {"trusted_aws_account_id": account_id, "trust_scope": "account"}
    )
    body = response.content.decode()
    assert response.context["wizard"]["steps"].current == "trusted"
    assert "An AWS account ID is exactly 12 digits 0–9" in body
    assert named in body


def test_the_trusted_step_refuses_a_principal_that_does_not_exist(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    user_client.get(URL)
    step(user_client, "role", role_step(piyo))
    ghost = f"arn:aws:iam::{hoge.account_id}:user/ghost"
    response = step(
        user_client,
        "trusted",
        trusted_step(hoge, trust_scope="principal", trusted_principal_arn=ghost),
    )
    body = response.content.decode()
    assert response.context["wizard"]["steps"].current == "trusted"
    assert "has no IAM user named ghost" in body
    assert "Invalid principal in policy" in body
    response = step(
        user_client,
        "trusted",
        trusted_step(
            hoge,
            trust_scope="principal",
            trusted_principal_arn=f"arn:aws:iam::{hoge.account_id}:user/{sandbox.GRANTEE_USER}",
        ),
    )
    assert response.context["wizard"]["steps"].current == "permissions"


def test_the_grantee_step_refuses_japanese_policy_names(user_client, aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    user_client.get(URL)
    step(user_client, "role", role_step(piyo))
    step(user_client, "trusted", trusted_step(hoge))
    step(user_client, "permissions", permissions_step())
    response = step(
        user_client,
        "grantee",
        {"grantee_name": sandbox.GRANTEE_USER, "user_policy_name": "ポリシー"},
    )
    body = response.content.decode()
    assert response.context["wizard"]["steps"].current == "grantee"
    assert "AWS&#x27;s rule for policy names" in body
    assert "KATAKANA LETTER PO" in body


def test_an_invalid_principal_from_aws_is_explained_on_the_grant(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    from botocore.awsrequest import AWSResponse

    def refuse(**kwargs: Any) -> Any:
        message = 'Invalid principal in policy: "AWS":"arn:aws:iam::444455556666:user/gone"'
        http = AWSResponse("https://iam.amazonaws.com/", 400, {}, None)
        error = {"Code": "MalformedPolicyDocument", "Message": message, "Type": "Sender"}
        return http, {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}

    aws.gateway().events.register("before-call.iam.CreateRole", refuse)
    walk_to_review(user_client, piyo, hoge)
    response = step(user_client, "review", {})
    page = user_client.get(response.url).content.decode()
    assert "MalformedPolicyDocument" in page
    assert "names an IAM user or role that does not exist" in page
