"""The wizard's trust step with organization conditions, and its grantee step with IAM roles:
what each accepts, what it refuses and why, without AWS (live lists are stubbed)."""

from __future__ import annotations

from typing import Any

import pytest

from grants import aws
from grants.forms import GranteeStepForm, TrustedStepForm, known_org_path_choices
from grants.models import AwsAccount
from grants.selectors import LiveLookup

from .conftest import make_account

pytestmark = pytest.mark.django_db

ORG = "o-a1b2c3d4e5"
ROOT = f"{ORG}/r-ab12/"
PROD = f"{ROOT}ou-ab12-11111111/"
DEV = f"{ROOT}ou-ab12-33333333/"


def role(name: str, path: str = "/", services: tuple[str, ...] = ()) -> aws.RoleInfo:
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Principal": {"Service": list(services)}, "Action": "sts:AssumeRole"}
    ]
    return aws.RoleInfo(
        name=name,
        arn=f"arn:aws:iam::444455556666:role{path}{name}",
        path=path,
        trust_policy={"Version": "2012-10-17", "Statement": statements},
        max_session_duration=3600,
        tags={},
    )


class Lookup(LiveLookup):
    """Live lists without AWS: fixed users and roles, or an AWS failure for one kind."""

    def __init__(self, roles: list[aws.RoleInfo] | None = None, fail: str = "") -> None:
        super().__init__()
        self.roles_listed = roles or []
        self.fail = fail

    def _get(self, key: tuple[Any, ...], fetch: Any) -> Any:
        if key[0] == self.fail:
            raise aws.AwsError(
                aws.AwsErrorDetail(
                    service="iam", operation="ListRoles", code="AccessDenied", message="no"
                )
            )
        return {"users": ["hoge-app"], "role-list": self.roles_listed}.get(key[0], [])


@pytest.fixture
def org_piyo(piyo: AwsAccount) -> AwsAccount:
    piyo.organization_id, piyo.org_entity_path, piyo.ou_path = ORG, PROD, "Root/Workloads/Prod"
    piyo.save()
    return piyo


@pytest.fixture
def org_hoge(hoge: AwsAccount) -> AwsAccount:
    hoge.organization_id, hoge.org_entity_path, hoge.ou_path = ORG, DEV, "Root/Workloads/Dev"
    hoge.save()
    return hoge


def trusted(
    trusting: AwsAccount, trusted_account: AwsAccount | None, **data: Any
) -> TrustedStepForm:
    values = {
        "trusted_account": trusted_account.pk if trusted_account else "",
        "trust_scope": "account",
        **data,
    }
    return TrustedStepForm(data=values, trusting_account=trusting, lookup=Lookup())


# --- the organization condition ----------------------------------------------------------


def test_the_organization_id_is_prefilled_from_the_trusting_account(org_piyo) -> None:  # type: ignore[no-untyped-def]
    form = TrustedStepForm(trusting_account=org_piyo, lookup=Lookup())
    assert form.fields["org_id"].initial == ORG
    unknown = TrustedStepForm(trusting_account=make_account(account_id="210987654321", name="x"))
    assert not unknown.fields["org_id"].initial


def test_also_inside_my_organization_puts_the_org_id_in_the_cleaned_data(
    org_piyo, org_hoge
) -> None:  # type: ignore[no-untyped-def]
    form = trusted(org_piyo, org_hoge, org_condition="org", org_id=ORG)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["principal_org_id"] == ORG
    assert form.cleaned_data["principal_org_paths"] == []


@pytest.mark.parametrize("value", ["o-short", "O-A1B2C3D4E5", "ou-ab12-11111111", "o-a1b2c3d4e5/"])
def test_an_organization_id_not_of_the_api_models_shape_is_refused(piyo, hoge, value) -> None:  # type: ignore[no-untyped-def]
    form = trusted(piyo, hoge, org_condition="org", org_id=value)
    assert not form.is_valid()
    assert "is not an organization ID" in form.errors["org_id"][0]


def test_also_inside_my_organization_needs_an_id(piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    form = trusted(piyo, hoge, org_condition="org", org_id="")
    assert not form.is_valid()
    assert form.errors["org_id"] == ["Enter the organization ID (o-…)."]


def test_an_organization_the_trusted_account_is_not_in_is_refused(org_piyo, org_hoge) -> None:  # type: ignore[no-untyped-def]
    form = trusted(org_piyo, org_hoge, org_condition="org", org_id="o-zzzzzzzzzz")
    assert not form.is_valid()
    assert f"is in organization {ORG}, not o-zzzzzzzzzz" in form.errors["org_id"][0]


def test_known_ou_paths_are_offered_with_their_names(org_piyo, org_hoge) -> None:  # type: ignore[no-untyped-def]
    assert known_org_path_choices() == [
        (f"{DEV}*", f"Root/Workloads/Dev and below: {DEV}*"),
        (f"{PROD}*", f"Root/Workloads/Prod and below: {PROD}*"),
    ]
    form = trusted(org_piyo, org_hoge)
    assert dict(form.fields["org_known_paths"].choices) == dict(known_org_path_choices())


def test_chosen_and_typed_ou_paths_are_all_kept(org_piyo, org_hoge) -> None:  # type: ignore[no-untyped-def]
    form = trusted(
        org_piyo,
        org_hoge,
        org_condition="paths",
        org_known_paths=[f"{DEV}*"],
        org_paths=f"{PROD}\n\n  {DEV}*  \n",
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["principal_org_paths"] == [f"{DEV}*", PROD]


def test_malformed_ou_paths_are_named_in_the_error(piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    form = trusted(piyo, hoge, org_condition="paths", org_paths=f"{PROD}*\nWorkloads/Prod\n")
    assert not form.is_valid()
    message = form.errors["org_paths"][0]
    assert message.startswith("Not an OU path: Workloads/Prod.")
    assert PROD not in message.split(".")[0]


def test_inside_these_ou_paths_needs_a_path(piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    form = trusted(piyo, hoge, org_condition="paths")
    assert not form.is_valid()
    assert form.errors["org_paths"] == ["Choose or type at least one OU path."]


def test_paths_that_leave_out_the_trusted_accounts_ou_are_refused(org_piyo, org_hoge) -> None:  # type: ignore[no-untyped-def]
    form = trusted(org_piyo, org_hoge, org_condition="paths", org_known_paths=[f"{PROD}*"])
    assert not form.is_valid()
    assert (
        f"is at {DEV} (Root/Workloads/Dev), which none of these paths"
        in (form.errors["org_paths"][0])
    )
    ok = trusted(org_piyo, org_hoge, org_condition="paths", org_paths=f"{ORG}/*")
    assert ok.is_valid(), ok.errors


def test_an_organization_condition_with_one_trusted_principal_is_asked_about(piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    form = trusted(
        piyo,
        hoge,
        trust_scope="principal",
        trusted_principal_arn="arn:aws:iam::444455556666:user/hoge-app",
        org_condition="org",
        org_id=ORG,
    )
    form.lookup = Lookup()
    form.lookup.principal_arn = lambda *a: "arn:aws:iam::444455556666:user/hoge-app"  # type: ignore[method-assign]
    assert not form.is_valid()
    assert "used only with “The whole trusted account”" in form.errors["org_condition"][0]


def test_the_prefilled_id_under_no_condition_is_not_input(org_piyo, org_hoge) -> None:  # type: ignore[no-untyped-def]
    form = trusted(org_piyo, org_hoge, org_condition="none", org_id=ORG)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["principal_org_id"] == ""
    typed = trusted(org_piyo, org_hoge, org_condition="none", org_id="o-bbbbbbbbbb")
    assert not typed.is_valid()
    assert "org_id" in typed.errors


def test_the_ou_fields_show_only_under_whole_account_trust_and_their_choice(org_piyo) -> None:  # type: ignore[no-untyped-def]
    def shown(form: TrustedStepForm) -> dict[str, bool]:
        return {item.field.name: item.shown for item in form.revealed_fields()}

    initial = shown(TrustedStepForm(trusting_account=org_piyo, lookup=Lookup()))
    assert initial["org_condition"] and not initial["org_id"] and not initial["org_paths"]
    data = {"trust_scope": "account", "org_condition": "paths"}
    paths = shown(TrustedStepForm(data=data, trusting_account=org_piyo, lookup=Lookup()))
    assert paths["org_paths"] and paths["org_known_paths"] and not paths["org_id"]
    # A control hidden by its own control hides its fields too.
    data = {"trust_scope": "principal", "org_condition": "org"}
    nested = shown(TrustedStepForm(data=data, trusting_account=org_piyo, lookup=Lookup()))
    assert not nested["org_id"]


# --- role grantees ------------------------------------------------------------------------


def grantee(account: AwsAccount | None, lookup: Lookup, **data: Any) -> GranteeStepForm:
    values = {"user_policy_name": "xacct-assume", **data}
    require_mfa = values.pop("require_mfa", False)
    return GranteeStepForm(
        data=values,
        trusted_account=account,
        principal_arn="",
        role_name="piyo-sqs",
        lookup=lookup,
        require_mfa=require_mfa,
    )


def test_roles_are_offered_with_their_services_and_without_aws_or_portal_roles(hoge) -> None:  # type: ignore[no-untyped-def]
    lookup = Lookup(
        roles=[
            role("hoge-app-role", services=("ec2.amazonaws.com",)),
            role("batch", "/apps/", ("ecs-tasks.amazonaws.com", "lambda.amazonaws.com")),
            role(
                "AWSServiceRoleForECS",
                "/aws-service-role/ecs.amazonaws.com/",
                ("ecs.amazonaws.com",),
            ),
            role("AWSReservedSSO_Admin_1", "/aws-reserved/sso.amazonaws.com/"),
            role(hoge.hub_role_name.lower()),  # the portal's access role, in any case
            role("cross-account"),
        ]
    )
    choices = dict(grantee(hoge, lookup).fields["grantee_role_name"].choices)
    assert choices == {
        "": "Choose a role",
        "cross-account": "/cross-account — trusted by no AWS service",
        "hoge-app-role": "/hoge-app-role — trusted by ec2.amazonaws.com",
        "batch": "/apps/batch — trusted by ecs-tasks.amazonaws.com, lambda.amazonaws.com",
    }


def test_a_chosen_role_becomes_the_grantee(hoge) -> None:  # type: ignore[no-untyped-def]
    lookup = Lookup(roles=[role("hoge-app-role", services=("ec2.amazonaws.com",))])
    form = grantee(hoge, lookup, grantee_type="role", grantee_role_name="hoge-app-role")
    assert form.is_valid(), form.errors
    assert (form.cleaned_data["grantee_type"], form.cleaned_data["grantee_name"]) == (
        "role",
        "hoge-app-role",
    )


def test_a_role_not_listed_live_is_refused(hoge) -> None:  # type: ignore[no-untyped-def]
    lookup = Lookup(roles=[role("hoge-app-role")])
    form = grantee(hoge, lookup, grantee_type="role", grantee_role_name="gone-role")
    assert not form.is_valid()
    assert "gone-role is not one of the available choices" in form.errors["grantee_role_name"][0]


def test_a_managed_account_needs_a_role_chosen(hoge) -> None:  # type: ignore[no-untyped-def]
    form = grantee(hoge, Lookup(roles=[role("hoge-app-role")]), grantee_type="role")
    assert not form.is_valid()
    assert form.errors["grantee_role_name"] == ["Choose the IAM role that may assume the role."]


def test_a_role_list_aws_refuses_is_shown_and_stops_the_step(hoge) -> None:  # type: ignore[no-untyped-def]
    form = grantee(hoge, Lookup(fail="role-list"), grantee_type="role", grantee_role_name="x")
    assert form.role_error.startswith("Could not list the roles in hoge (444455556666)")
    assert not form.is_valid()
    assert "AccessDenied" in form.non_field_errors()[0]
    # Users can still be chosen: the failure is about roles only.
    users = grantee(hoge, Lookup(fail="role-list"), grantee_type="user", grantee_name="hoge-app")
    assert users.is_valid(), users.errors


def test_a_role_grantee_cannot_meet_an_mfa_condition(hoge) -> None:  # type: ignore[no-untyped-def]
    lookup = Lookup(roles=[role("hoge-app-role")])
    form = grantee(
        hoge, lookup, grantee_type="role", grantee_role_name="hoge-app-role", require_mfa=True
    )
    assert not form.is_valid()
    assert "an IAM role cannot present an MFA code" in form.errors["grantee_role_name"][0]


def test_a_user_picked_under_the_role_choice_is_asked_about(hoge) -> None:  # type: ignore[no-untyped-def]
    lookup = Lookup(roles=[role("hoge-app-role")])
    form = grantee(
        hoge,
        lookup,
        grantee_type="role",
        grantee_role_name="hoge-app-role",
        grantee_name="hoge-app",
    )
    assert not form.is_valid()
    assert "used only with “IAM user”" in form.errors["grantee_name"][0]


def test_an_external_account_takes_a_typed_role_name_checked_against_iams_rules(db) -> None:  # type: ignore[no-untyped-def]
    lookup = Lookup()
    form = grantee(None, lookup, grantee_type="role", grantee_role_name="vendor-app-role")
    assert form.is_valid(), form.errors
    assert form.cleaned_data["grantee_name"] == "vendor-app-role"
    bad = grantee(None, lookup, grantee_type="role", grantee_role_name="vendor app")
    assert not bad.is_valid()
    assert "grantee_role_name" in bad.errors
    # Optional there: the external administrator chooses.
    assert grantee(None, lookup, grantee_type="role").is_valid()


def test_without_a_choice_sent_the_grantee_is_a_user_as_before(hoge) -> None:  # type: ignore[no-untyped-def]
    form = grantee(hoge, Lookup(), grantee_name="hoge-app")
    assert form.is_valid(), form.errors
    assert form.cleaned_data["grantee_type"] == "user"


def test_a_trusted_role_principal_cannot_meet_an_mfa_condition_either(hoge) -> None:  # type: ignore[no-untyped-def]
    def form(require_mfa: bool) -> GranteeStepForm:
        return GranteeStepForm(
            data={"user_policy_name": "xacct-assume"},
            trusted_account=hoge,
            principal_arn="arn:aws:iam::444455556666:role/hoge-app-role",
            role_name="piyo-sqs",
            lookup=Lookup(),
            require_mfa=require_mfa,
        )

    refused = form(require_mfa=True)
    assert not refused.is_valid()
    assert "an IAM role cannot present an MFA code" in refused.non_field_errors()[0]
    assert form(require_mfa=False).is_valid()
