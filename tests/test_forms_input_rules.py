"""The forms apply AWS's input rules: model patterns, partitions, and a live principal check."""

from __future__ import annotations

from typing import Any

import pytest

from grants import aws
from grants.aws import sandbox
from grants.forms import (
    AwsAccountForm,
    GranteeStepForm,
    PermissionsStepForm,
    RoleStepForm,
    TrustedStepForm,
)
from grants.models import AccessMethod
from grants.selectors import LiveLookup

from .conftest import make_account

pytestmark = pytest.mark.django_db

HOGE_APP = f"arn:aws:iam::{sandbox.HOGE.account_id}:user/{sandbox.GRANTEE_USER}"


class StubLookup(LiveLookup):
    """Live lists without AWS: empty lists, a fixed principal answer, or an AWS failure."""

    def __init__(self, principal: str | None = None, error: str = "") -> None:
        super().__init__()
        self.principal, self.error = principal, error
        self.asked: list[tuple[Any, ...]] = []

    def _get(self, key: tuple[Any, ...], fetch: Any) -> Any:
        self.asked.append(key)
        if self.error:
            raise aws.AwsError(
                aws.AwsErrorDetail(
                    service="iam",
                    operation="GetUser",
                    message=f"User is not authorized ({self.error})",
                    code=self.error,
                )
            )
        return self.principal if key[0] == "principal" else []


def trusted_form(trusting: Any, lookup: LiveLookup | None = None, **data: Any) -> TrustedStepForm:
    values = {"trusted_account": "", "trust_scope": "account", **data}
    return TrustedStepForm(data=values, trusting_account=trusting, lookup=lookup)


def account_form(**overrides: str) -> AwsAccountForm:
    data = {
        "account_id": "444455556666",
        "name": "hoge",
        "default_region": "ap-northeast-1",
        "partition": "aws",
        "access_method": AccessMethod.HUB_ROLE,
        "hub_role_name": "OrganizationAccountAccessRole",
        **overrides,
    }
    return AwsAccountForm(data=data)


# --- accounts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("account_id", "named"),
    [
        ("４４４４５５５５６６６６", "FULLWIDTH DIGIT FOUR"),
        ("٤٤٤٤٥٥٥٥٦٦٦٦", "ARABIC-INDIC DIGIT FOUR"),
        ("४४४४५५५५६६६६", "DEVANAGARI DIGIT FOUR"),
    ],
)
def test_an_account_id_of_non_ascii_digits_is_refused(account_id: str, named: str) -> None:
    form = account_form(account_id=account_id)
    assert not form.is_valid()
    message = " ".join(form.errors["account_id"])
    assert "exactly 12 digits 0–9" in message and named in message


@pytest.mark.parametrize(
    ("partition", "region", "valid"),
    [
        ("aws", "ap-northeast-1", True),
        ("aws-cn", "cn-north-1", True),
        ("aws-us-gov", "us-gov-west-1", True),
        ("aws-cn", "us-east-1", False),
        ("aws", "cn-northwest-1", False),
        ("aws-us-gov", "us-east-1", False),
    ],
)
def test_an_accounts_region_must_be_in_its_partition(
    partition: str, region: str, valid: bool
) -> None:
    form = account_form(partition=partition, default_region=region)
    assert form.is_valid() is valid, form.errors
    if not valid:
        assert f"is in the {partition} partition" not in form.errors["default_region"][0]
        assert f"the account is in {partition}" in form.errors["default_region"][0]


def test_a_hub_role_name_follows_the_role_name_rule() -> None:
    form = account_form(hub_role_name="Organizationアクセス")
    assert not form.is_valid()
    assert "Not allowed" in form.errors["hub_role_name"][0]


# --- step 1: the role -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("role_name", "naïve", "LATIN SMALL LETTER I WITH DIAERESIS"),
        ("role_name", "役割", "Not allowed"),
        ("role_path", "//", "A path starts and ends with /"),
        ("role_path", "/a//b/", "empty segment (//)"),
        ("role_path", "/é/", "“/é/” does not have that form"),
        ("role_description", "説明", "Latin-1"),
    ],
)
def test_role_step_refuses_what_aws_would(piyo, field: str, value: str, message: str) -> None:  # type: ignore[no-untyped-def]
    data = {"trusting_account": piyo.pk, "role_name": "piyo-sqs", "role_path": "/", field: value}
    form = RoleStepForm(data=data, lookup=StubLookup())
    assert not form.is_valid()
    assert message in " ".join(form.errors[field])


# --- step 2: the trusted party ---------------------------------------------------------------


def test_an_existing_trusted_principal_is_accepted(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    form = trusted_form(
        piyo, trusted_account=hoge.pk, trust_scope="principal", trusted_principal_arn=HOGE_APP
    )
    assert form.is_valid(), form.errors
    role = f"arn:aws:iam::{sandbox.HOGE.account_id}:role/{sandbox.HUB_ROLE_NAME}"
    form = trusted_form(
        piyo, trusted_account=hoge.pk, trust_scope="principal", trusted_principal_arn=role
    )
    assert form.is_valid(), form.errors


def test_a_principal_that_does_not_exist_is_refused_at_its_step(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    ghost = f"arn:aws:iam::{sandbox.HOGE.account_id}:user/ghost"
    form = trusted_form(
        piyo, trusted_account=hoge.pk, trust_scope="principal", trusted_principal_arn=ghost
    )
    assert not form.is_valid()
    message = form.errors["trusted_principal_arn"][0]
    assert f"{hoge} has no IAM user named ghost" in message
    assert "MalformedPolicyDocument: Invalid principal in policy" in message


def test_a_principal_at_another_path_is_refused(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    wrong = f"arn:aws:iam::{sandbox.HOGE.account_id}:user/division/{sandbox.GRANTEE_USER}"
    form = trusted_form(
        piyo, trusted_account=hoge.pk, trust_scope="principal", trusted_principal_arn=wrong
    )
    assert not form.is_valid()
    message = form.errors["trusted_principal_arn"][0]
    assert f"is {HOGE_APP}: the path is part of the ARN" in message


def test_an_aws_error_during_the_check_is_shown_as_such(piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    lookup = StubLookup(error="AccessDenied")
    form = trusted_form(
        piyo,
        lookup,
        trusted_account=hoge.pk,
        trust_scope="principal",
        trusted_principal_arn=HOGE_APP,
    )
    assert not form.is_valid()
    message = form.errors["trusted_principal_arn"][0]
    assert message.startswith(f"Could not check that {HOGE_APP} exists: iam:GetUser AccessDenied")
    assert "has no IAM user" not in message


def test_the_check_asks_for_the_principal_by_type_and_name(piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    role = f"arn:aws:iam::{sandbox.HOGE.account_id}:role/team/app"
    lookup = StubLookup(principal=role)
    form = trusted_form(
        piyo, lookup, trusted_account=hoge.pk, trust_scope="principal", trusted_principal_arn=role
    )
    assert form.is_valid(), form.errors
    assert lookup.asked == [("principal", hoge.access(), "role", "app")]


def test_an_external_trusted_account_is_not_asked(piyo) -> None:  # type: ignore[no-untyped-def]
    external = make_account(
        account_id="999988887777", name="ext", access_method=AccessMethod.EXTERNAL, hub_role_name=""
    )
    lookup = StubLookup(principal=None)
    arn = "arn:aws:iam::999988887777:user/anyone"
    form = trusted_form(
        piyo,
        lookup,
        trusted_account=external.pk,
        trust_scope="principal",
        trusted_principal_arn=arn,
    )
    assert form.is_valid(), form.errors
    assert lookup.asked == []


@pytest.mark.parametrize(
    ("arn", "message"),
    [
        ("arn:aws-cn:iam::444455556666:user/hoge-app", "is in the aws-cn partition"),
        ("arn:aws:iam::444455556666:user/naïve", "The name in the ARN"),
        ("arn:aws:iam::444455556666:role/a//b/app", "empty segment"),
        ("arn:aws:iam::444455556666:group/admins", "IAM user or role ARN"),
    ],
)
def test_a_principal_arn_outside_the_rules_is_refused_before_any_call(
    piyo, hoge, arn: str, message: str
) -> None:  # type: ignore[no-untyped-def]
    lookup = StubLookup(principal=arn)
    form = trusted_form(
        piyo, lookup, trusted_account=hoge.pk, trust_scope="principal", trusted_principal_arn=arn
    )
    assert not form.is_valid()
    assert message in " ".join(form.errors["trusted_principal_arn"])
    assert lookup.asked == []


def test_a_trusted_account_in_another_partition_is_refused(piyo) -> None:  # type: ignore[no-untyped-def]
    china = make_account(
        account_id="999988887777", name="cn", partition="aws-cn", default_region="cn-north-1"
    )
    form = trusted_form(piyo, StubLookup(), trusted_account=china.pk)
    assert not form.is_valid()
    assert (
        "is in the aws-cn partition, but the trusting account" in form.errors["trusted_account"][0]
    )


@pytest.mark.parametrize(
    "account_id", ["４４４４５５５５６６６６", "٤٤٤٤٥٥٥٥٦٦٦٦", "44445555666６"]
)
def test_a_typed_trusted_account_id_must_be_ascii_digits(piyo, account_id: str) -> None:  # type: ignore[no-untyped-def]
    form = trusted_form(piyo, StubLookup(), trusted_aws_account_id=account_id)
    assert not form.is_valid()
    assert "exactly 12 digits 0–9" in form.errors["trusted_aws_account_id"][0]


# --- step 3: permissions -----------------------------------------------------------------------


def permissions_form(trusting: Any, **data: Any) -> PermissionsStepForm:
    values = {"permission_set": "custom", "max_session_duration": 3600, **data}
    return PermissionsStepForm(data=values, trusting_account=trusting, lookup=StubLookup())


def test_an_aws_cn_account_refuses_policy_arns_of_another_partition(db) -> None:  # type: ignore[no-untyped-def]
    china = make_account(partition="aws-cn", default_region="cn-north-1")
    form = permissions_form(
        china,
        region="cn-north-1",
        custom_policy_arns="arn:aws:iam::aws:policy/AmazonSQSReadOnlyAccess",
    )
    assert not form.is_valid()
    assert (
        "is in the aws partition, but the trusting account" in form.errors["custom_policy_arns"][0]
    )
    form = permissions_form(
        china,
        region="cn-north-1",
        custom_policy_arns="arn:aws-cn:iam::aws:policy/AmazonSQSReadOnlyAccess",
    )
    assert form.is_valid(), form.errors


@pytest.mark.parametrize(
    ("region", "message"),
    [
        ("cn-north-1", "is in the aws-cn partition"),
        ("us-gov-west-1", "is in the aws-us-gov partition"),
        ("ap-northeast-9", "region code"),
    ],
)
def test_the_grants_region_must_be_real_and_in_the_trusting_accounts_partition(
    piyo, region: str, message: str
) -> None:  # type: ignore[no-untyped-def]
    form = permissions_form(
        piyo, region=region, custom_policy_arns="arn:aws:iam::aws:policy/AmazonSQSFullAccess"
    )
    assert not form.is_valid()
    assert message in form.errors["region"][0]


def test_a_policy_arn_error_says_which_rule(piyo) -> None:  # type: ignore[no-untyped-def]
    form = permissions_form(
        piyo, region="ap-northeast-1", custom_policy_arns="arn:aws:iam::aws:policy/ポリシー"
    )
    assert not form.is_valid()
    message = form.errors["custom_policy_arns"][0]
    assert message.startswith("Not a managed policy ARN: arn:aws:iam::aws:policy/ポリシー.")
    assert "The name in the ARN" in message and "KATAKANA LETTER PO" in message


# --- step 4: the grantee -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [("user_policy_name", "ポリシー"), ("user_policy_name", "p" * 129), ("grantee_name", "naïve")],
)
def test_grantee_step_refuses_names_aws_would(field: str, value: str) -> None:
    data = {"grantee_name": "app", "user_policy_name": "xacct-assume", field: value}
    form = GranteeStepForm(
        data=data, trusted_account=None, principal_arn="", role_name="r", lookup=StubLookup()
    )
    assert not form.is_valid()
    assert field in form.errors


def test_queues_are_listed_only_in_a_region_of_the_trusting_accounts_partition(piyo) -> None:  # type: ignore[no-untyped-def]
    lookup = StubLookup()
    data = {"permission_set": "queues", "region": "cn-north-1", "max_session_duration": 3600}
    form = PermissionsStepForm(data=data, trusting_account=piyo, lookup=lookup)
    assert lookup.asked == [("queues", piyo.access(), piyo.default_region)]
    assert not form.is_valid()
    data["region"] = "eu-west-1"
    PermissionsStepForm(data=data, trusting_account=piyo, lookup=lookup)
    assert lookup.asked[-1] == ("queues", piyo.access(), "eu-west-1")


def test_the_gateway_check_raises_errors_other_than_no_such_entity(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    from botocore.awsrequest import AWSResponse

    assert aws.principal_arn(hoge.access(), principal_type="user", name="ghost") is None
    assert aws.principal_arn(hoge.access(), principal_type="role", name="ghost") is None

    def deny(**kwargs: Any) -> Any:
        http = AWSResponse("https://iam.amazonaws.com/", 403, {}, None)
        error = {"Code": "AccessDenied", "Message": "not authorized to iam:GetUser"}
        return http, {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 403}}

    aws.reset()  # clients copy the session's hooks when made: start afresh
    aws.gateway().events.register("before-call.iam.GetUser", deny)
    with pytest.raises(aws.AwsError) as caught:
        aws.principal_arn(hoge.access(), principal_type="user", name=sandbox.GRANTEE_USER)
    assert caught.value.code == "AccessDenied"
    form = trusted_form(
        piyo, trusted_account=hoge.pk, trust_scope="principal", trusted_principal_arn=HOGE_APP
    )
    assert not form.is_valid()
    message = form.errors["trusted_principal_arn"][0]
    assert "iam:GetUser AccessDenied: not authorized to iam:GetUser" in message
    assert "has no IAM user" not in message
