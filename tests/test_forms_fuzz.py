"""Property-based fuzzing: no input crashes a wizard form; invalid input gets a field error."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grants import aws, policies
from grants.forms import (
    AwsAccountForm,
    GranteeStepForm,
    PermissionsStepForm,
    RoleStepForm,
    TrustedStepForm,
)
from grants.selectors import LiveLookup

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

text = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=2000),
    st.sampled_from(["", " ", "*", "/", "//", "0" * 12, "-1", "9" * 40, "\x00", "<script>"]),
)
checkbox = st.sampled_from(["", "on", "off", "true", "\x00"])


class FakeLookup(LiveLookup):
    """Live lists as AWS would return them, or failing as AWS can."""

    def __init__(self, fail: bool) -> None:
        super().__init__()
        self.fail = fail

    def _get(self, key: tuple[Any, ...], fetch: Any) -> Any:
        if self.fail:
            raise aws.AwsError(
                aws.AwsErrorDetail(service="iam", operation="ListRoles", message="denied")
            )
        return {
            "queues": ["orders", "orders-dlq"],
            "users": ["hoge-app"],
            "roles": ["Admin"],
            "role-list": [],
        }[key[0]]


def assert_validates(form: Any) -> None:
    valid = form.is_valid()
    if not valid:
        assert form.errors  # an invalid form always says why
    form.as_div()  # and renders


@FUZZ
@given(name=text, path=text, description=text, account=text, fail=st.booleans())
def test_role_step_never_crashes(piyo, name, path, description, account, fail) -> None:  # type: ignore[no-untyped-def]
    data = {
        "trusting_account": str(piyo.pk) if account == "" else account,
        "role_name": name,
        "role_path": path,
        "role_description": description,
    }
    assert_validates(RoleStepForm(data=data, lookup=FakeLookup(fail)))


@FUZZ
@given(
    account_id=text,
    scope=st.sampled_from(["account", "principal", "", "x"]),
    principal=st.one_of(text, st.just("arn:aws:iam::444455556666:user/hoge-app")),
    external_id=text,
    generate=checkbox,
    mfa=checkbox,
)
def test_trusted_step_never_crashes(
    piyo, hoge, account_id, scope, principal, external_id, generate, mfa
) -> None:  # type: ignore[no-untyped-def]
    data = {
        "trusted_account": "",
        "trusted_aws_account_id": account_id,
        "trust_scope": scope,
        "trusted_principal_arn": principal,
        "external_id": external_id,
        "generate_external_id": generate,
        "require_mfa": mfa,
    }
    assert_validates(TrustedStepForm(data=data, trusting_account=piyo))


@FUZZ
@given(
    scope=st.sampled_from(["account", "", "x"]),
    condition=st.sampled_from(["none", "org", "paths", "", "x"]),
    org_id=st.one_of(text, st.just("o-a1b2c3d4e5")),
    known=st.lists(st.one_of(text, st.just("o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/*")), max_size=3),
    paths=st.one_of(text, st.just("o-a1b2c3d4e5/*\no-a1b2c3d4e5/r-ab12/")),
)
def test_trusted_steps_organization_condition_never_crashes(
    piyo, hoge, scope, condition, org_id, known, paths
) -> None:  # type: ignore[no-untyped-def]
    data = {
        "trusted_account": hoge.pk,
        "trust_scope": scope,
        "org_condition": condition,
        "org_id": org_id,
        "org_known_paths": known,
        "org_paths": paths,
    }
    form = TrustedStepForm(data=data, trusting_account=piyo, lookup=FakeLookup(False))
    assert_validates(form)
    if form.is_valid():  # what it accepts, the trust policy builder accepts too
        policies.trust_policy(
            principal_arn="arn:aws:iam::444455556666:root",
            principal_org_id=form.cleaned_data["principal_org_id"],
            principal_org_paths=form.cleaned_data["principal_org_paths"],
        )


@FUZZ
@given(
    kind=st.sampled_from(["sqs_full", "sqs_read_only", "queues", "custom", "", "x"]),
    region=text,
    queues=st.lists(st.one_of(text, st.just("orders")), max_size=3),
    actions=st.lists(st.one_of(text, st.just("sqs:SendMessage")), max_size=3),
    arns=text,
    duration=st.one_of(text, st.integers().map(str)),
    expires=text,
    fail=st.booleans(),
)
def test_permissions_step_never_crashes(
    piyo, kind, region, queues, actions, arns, duration, expires, fail
) -> None:  # type: ignore[no-untyped-def]
    from django.http import QueryDict

    data = QueryDict(mutable=True)
    data.update(
        {
            "permission_set": kind,
            "region": region,
            "custom_policy_arns": arns,
            "max_session_duration": duration,
            "expires_at": expires,
        }
    )
    data.setlist("queue_names", queues)
    data.setlist("queue_actions", actions)
    assert_validates(PermissionsStepForm(data=data, trusting_account=piyo, lookup=FakeLookup(fail)))


@FUZZ
@given(
    grantee=text,
    policy=text,
    principal=st.sampled_from(
        ["", "arn:aws:iam::444455556666:user/hoge-app", "arn:aws:iam::444455556666:role/x/app"]
    ),
    fail=st.booleans(),
    kind=st.sampled_from(["user", "role", "", "x"]),
)
def test_grantee_step_never_crashes(hoge, grantee, policy, principal, fail, kind) -> None:  # type: ignore[no-untyped-def]
    form = GranteeStepForm(
        data={
            "grantee_type": kind,
            "grantee_name": grantee,
            "grantee_role_name": grantee,
            "user_policy_name": policy,
        },
        trusted_account=hoge,
        principal_arn=principal,
        role_name="r",
        lookup=FakeLookup(fail),
    )
    assert_validates(form)


@FUZZ
@given(
    account_id=text,
    name=text,
    email=text,
    region=text,
    method=st.sampled_from(["hub_role", "profile", "default_chain", "external", "x"]),
    profile=text,
    hub=text,
    hub_external_id=text,
)
def test_account_form_never_crashes(
    account_id, name, email, region, method, profile, hub, hub_external_id
) -> None:  # type: ignore[no-untyped-def]
    data = {
        "account_id": account_id,
        "name": name,
        "owner_email": email,
        "default_region": region,
        "partition": "aws",
        "access_method": method,
        "profile_name": profile,
        "hub_role_name": hub,
        "hub_external_id": hub_external_id,
    }
    assert_validates(AwsAccountForm(data=data))
