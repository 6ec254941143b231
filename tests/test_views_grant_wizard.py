"""The role-creation wizard over HTTP: each step validated, review shows exactly what is created."""

from __future__ import annotations

import json
import re
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


# --- one generated external ID per wizard run ---------------------------------------------


def test_a_generated_external_id_is_one_value_from_review_to_aws_and_the_grant_page(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    user_client.get(URL)
    step(user_client, "role", role_step(piyo))
    step(user_client, "trusted", trusted_step(hoge, generate_external_id="on"))
    step(user_client, "permissions", permissions_step())
    grantee = {"grantee_name": sandbox.GRANTEE_USER, "user_policy_name": "xacct-assume"}
    first = step(user_client, "grantee", grantee).context["draft"].external_id
    # A reload of the review re-posts the last step; Back and Next revalidate every step.
    again = step(user_client, "grantee", grantee).context["draft"].external_id
    user_client.post(URL, {"wizard_goto_step": "trusted", "grant_wizard-current_step": "review"})
    step(user_client, "trusted", trusted_step(hoge, generate_external_id="on"))
    step(user_client, "permissions", permissions_step())
    review = step(user_client, "grantee", grantee)
    assert first.startswith("xacct-")
    assert again == first
    assert review.context["draft"].external_id == first
    assert f'data-testid="review-external-id">{first}<' in review.content.decode()

    response = step(user_client, "review", {})
    grant = Grant.objects.get()
    trust = aws.role_get(piyo.access(), "piyo-sqs").trust_policy
    condition = trust["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"]
    assert grant.external_id == first
    assert condition == first
    assert first in user_client.get(response.url).content.decode()


def test_each_wizard_run_generates_its_own_external_id(user_client, aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    values = []
    for _ in range(2):
        user_client.get(URL)
        step(user_client, "role", role_step(piyo))
        response = step(user_client, "trusted", trusted_step(hoge, generate_external_id="on"))
        values.append(response.wsgi_request.session["wizard_grant_wizard"]["extra_data"])
    assert values[0]["external_id"] != values[1]["external_id"]


# --- only the chosen option's fields, and nothing typed dropped ------------------------------


def shown_fields(response) -> dict[str, bool]:  # type: ignore[no-untyped-def]
    return {item.field.name: item.shown for item in response.context["form"].revealed_fields()}


def test_the_permissions_step_shows_only_the_chosen_options_fields(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    user_client.get(URL)
    step(user_client, "role", role_step(piyo))
    response = step(user_client, "trusted", trusted_step(hoge))
    shown = shown_fields(response)
    body = response.content.decode()
    assert shown["permission_set"] and shown["region"]
    assert not shown["queue_names"] and not shown["queue_actions"]
    assert not shown["custom_policy_arns"]
    assert re.search(r'data-testid="field-custom_policy_arns"[^>]* hidden>', body)
    assert not re.search(r'data-testid="field-region"[^>]* hidden>', body)
    assert "Show the fields for this choice" in body


def test_show_fields_rerenders_the_step_with_the_choice_and_keeps_what_was_typed(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    user_client.get(URL)
    step(user_client, "role", role_step(piyo))
    step(user_client, "trusted", trusted_step(hoge))
    payload = {
        "grant_wizard-current_step": "permissions",
        "wizard_show_fields": "permission_set",
        **{
            f"permissions-{k}": v
            for k, v in permissions_step(permission_set="queues", region="").items()
        },
        "permissions-max_session_duration": "7200",
    }
    response = user_client.post(URL, payload)
    shown = shown_fields(response)
    form = response.context["form"]
    assert response.context["wizard"]["steps"].current == "permissions"
    assert not form.is_bound  # nothing validated: no errors for the empty region yet
    assert shown["queue_names"] and shown["queue_actions"] and not shown["custom_policy_arns"]
    assert 'value="7200"' in response.content.decode()
    assert "This field is required" not in response.content.decode()


def test_managed_arns_typed_under_another_choice_are_asked_about_not_dropped(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    user_client.get(URL)
    step(user_client, "role", role_step(piyo))
    step(user_client, "trusted", trusted_step(hoge))
    arn = "arn:aws:iam::aws:policy/AdministratorAccess"
    response = step(
        user_client,
        "permissions",
        permissions_step(permission_set="sqs_read_only", custom_policy_arns=arn),
    )
    body = response.content.decode()
    assert response.context["wizard"]["steps"].current == "permissions"
    assert "Managed policy ARNs is filled in, but it is used only with" in body
    assert shown_fields(response)["custom_policy_arns"]
    assert arn in body
    response = step(
        user_client,
        "permissions",
        permissions_step(permission_set="custom", custom_policy_arns=arn),
    )
    assert response.context["wizard"]["steps"].current == "grantee"


def test_queues_ticked_under_another_choice_are_asked_about(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    user_client.get(URL)
    step(user_client, "role", role_step(piyo))
    step(user_client, "trusted", trusted_step(hoge))
    response = step(user_client, "permissions", permissions_step(queue_names=["orders"]))
    assert response.context["wizard"]["steps"].current == "permissions"
    assert "Queue names is filled in" in response.content.decode()


def test_default_queue_actions_under_another_choice_are_not_input(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    from grants.forms import DEFAULT_QUEUE_ACTIONS

    user_client.get(URL)
    step(user_client, "role", role_step(piyo))
    step(user_client, "trusted", trusted_step(hoge))
    response = step(
        user_client, "permissions", permissions_step(queue_actions=DEFAULT_QUEUE_ACTIONS)
    )
    assert response.context["wizard"]["steps"].current == "grantee"


def test_a_principal_arn_typed_with_whole_account_trust_is_asked_about(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    user_client.get(URL)
    step(user_client, "role", role_step(piyo))
    arn = f"arn:aws:iam::{hoge.account_id}:user/{sandbox.GRANTEE_USER}"
    response = step(user_client, "trusted", trusted_step(hoge, trusted_principal_arn=arn))
    body = response.content.decode()
    assert response.context["wizard"]["steps"].current == "trusted"
    assert "Trusted principal ARN is filled in, but it is used only with" in body
    assert shown_fields(response)["trusted_principal_arn"]
    blank = step(user_client, "trusted", trusted_step(hoge))
    assert blank.context["wizard"]["steps"].current == "permissions"
    assert not shown_fields(
        user_client.post(
            URL, {"wizard_goto_step": "trusted", "grant_wizard-current_step": "permissions"}
        )
    )["trusted_principal_arn"]


def test_back_keeps_what_was_typed_on_the_step_left(user_client, aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    user_client.get(URL)
    step(user_client, "role", role_step(piyo))
    step(user_client, "trusted", trusted_step(hoge))
    typed = {
        "grant_wizard-current_step": "permissions",
        "wizard_goto_step": "trusted",
        **{
            f"permissions-{k}": v
            for k, v in permissions_step(
                permission_set="custom", custom_policy_arns="arn:aws:iam::aws:policy/Typed"
            ).items()
        },
    }
    back = user_client.post(URL, typed)
    assert back.context["wizard"]["steps"].current == "trusted"
    again = step(user_client, "trusted", trusted_step(hoge))
    body = again.content.decode()
    assert again.context["wizard"]["steps"].current == "permissions"
    assert "arn:aws:iam::aws:policy/Typed" in body
    assert shown_fields(again)["custom_policy_arns"]


# --- organization conditions and role grantees (issue 14) ------------------------------------

ORG = "o-a1b2c3d4e5"
PROD_PATH = f"{ORG}/r-ab12/ou-ab12-11111111/"
DEV_PATH = f"{ORG}/r-ab12/ou-ab12-33333333/"
APP_ROLE = "hoge-app-role"


def in_organization(account, entity_path: str, ou_path: str) -> None:  # type: ignore[no-untyped-def]
    account.organization_id, account.org_entity_path, account.ou_path = ORG, entity_path, ou_path
    account.save()


def ensure_app_role(hoge, service: str = "ec2.amazonaws.com") -> None:  # type: ignore[no-untyped-def]
    """hoge's application role, trusted by `service` (the sandbox seeds it; made here if not)."""
    if aws.role_get(hoge.access(), APP_ROLE) is not None:
        return
    aws.gateway().client(hoge.access(), "iam").create_role(
        RoleName=APP_ROLE,
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": service},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )


def walk_with(client, piyo, hoge, trusted: dict[str, Any], grantee: dict[str, Any]):  # type: ignore[no-untyped-def]
    client.get(URL)
    for name, data in (
        ("role", role_step(piyo)),
        ("trusted", trusted_step(hoge, **trusted)),
        ("permissions", permissions_step()),
        ("grantee", {"user_policy_name": "xacct-assume", **grantee}),
    ):
        response = step(client, name, data)
        assert not response.context["form"].errors, (name, response.context["form"].errors)
    assert response.context["wizard"]["steps"].current == "review"
    return response


def test_a_role_grantee_in_my_organization_is_provisioned_end_to_end(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    in_organization(piyo, PROD_PATH, "Root/Workloads/Prod")
    in_organization(hoge, DEV_PATH, "Root/Workloads/Dev")
    ensure_app_role(hoge)
    user_client.get(URL)
    trusted_page = step(user_client, "role", role_step(piyo))
    assert trusted_page.context["form"].fields["org_id"].initial == ORG  # prefilled
    review = walk_with(
        user_client,
        piyo,
        hoge,
        {"org_condition": "org", "org_id": ORG},
        {"grantee_type": "role", "grantee_role_name": APP_ROLE},
    )
    body = review.content.decode()
    draft = review.context["draft"]
    assert draft.trust_policy["Statement"][0]["Condition"] == {
        "StringEquals": {"aws:PrincipalOrgID": ORG}
    }
    assert f"member of organization {ORG} can assume the role" in body
    assert f"IAM role {APP_ROLE}" in body
    assert "PutRolePolicy xacct-assume on role hoge-app-role" in body

    response = step(user_client, "review", {})
    grant = Grant.objects.get()
    assert response.url == grant.get_absolute_url()
    assert (grant.status, grant.grantee_type, grant.grantee_name) == (
        GrantStatus.ACTIVE,
        "role",
        APP_ROLE,
    )
    # The role's inline policy in hoge allows sts:AssumeRole on exactly the new role.
    inline = aws.role_inline_policy(hoge.access(), role_name=APP_ROLE, policy_name="xacct-assume")
    assert inline == grant.user_policy
    assert inline["Statement"][0]["Resource"] == "arn:aws:iam::111122223333:role/piyo-sqs"
    live = aws.role_get(piyo.access(), "piyo-sqs")
    assert live is not None
    assert live.trust_policy["Statement"][0]["Condition"]["StringEquals"] == {
        "aws:PrincipalOrgID": ORG
    }
    page = user_client.get(grant.get_absolute_url()).content.decode()
    assert 'data-testid="trust-org-condition"' in page
    assert "credential_source = Ec2InstanceMetadata" in page
    assert "role chaining" in page


def test_the_review_explains_ou_paths_with_their_names(user_client, aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    in_organization(piyo, PROD_PATH, "Root/Workloads/Prod")
    in_organization(hoge, DEV_PATH, "Root/Workloads/Dev")
    review = walk_with(
        user_client,
        piyo,
        hoge,
        {"org_condition": "paths", "org_known_paths": [f"{DEV_PATH}*"]},
        {"grantee_name": sandbox.GRANTEE_USER},
    )
    condition = review.context["draft"].trust_policy["Statement"][0]["Condition"]
    assert condition == {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": f"{DEV_PATH}*"}}
    body = review.content.decode()
    assert "OU ou-ab12-33333333 (Root/Workloads/Dev) or any OU below it" in body


def test_paths_leaving_out_the_trusted_account_stop_the_trust_step(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    in_organization(piyo, PROD_PATH, "Root/Workloads/Prod")
    in_organization(hoge, DEV_PATH, "Root/Workloads/Dev")
    user_client.get(URL)
    step(user_client, "role", role_step(piyo))
    data = trusted_step(hoge, org_condition="paths", org_known_paths=[f"{PROD_PATH}*"])
    response = step(user_client, "trusted", data)
    assert response.context["wizard"]["steps"].current == "trusted"
    assert "which none of these paths covers" in response.content.decode()


def test_show_fields_reveals_the_organization_id_without_javascript(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    user_client.get(URL)
    first = step(user_client, "role", role_step(piyo))
    assert first.context["wizard"]["steps"].current == "trusted"
    assert not shown_fields(first)["org_id"]
    payload = {
        "grant_wizard-current_step": "trusted",
        "wizard_show_fields": "org_condition",
        "trusted-trusted_account": hoge.pk,
        "trusted-trust_scope": "account",
        "trusted-org_condition": "org",
    }
    shown = shown_fields(user_client.post(URL, payload))
    assert shown["org_id"] and not shown["org_paths"]


def test_the_grantee_step_lists_roles_live_with_their_services(
    user_client, aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    ensure_app_role(hoge, service="ecs-tasks.amazonaws.com")
    user_client.get(URL)
    step(user_client, "role", role_step(piyo))
    step(user_client, "trusted", trusted_step(hoge))
    response = step(user_client, "permissions", permissions_step())
    choices = dict(response.context["form"].fields["grantee_role_name"].choices)
    assert APP_ROLE in choices
    assert "trusted by ecs-tasks.amazonaws.com" in choices[APP_ROLE] or (
        "trusted by ec2.amazonaws.com" in choices[APP_ROLE]  # the sandbox's own seed
    )
    assert hoge.hub_role_name not in choices  # the portal's access role is never offered
