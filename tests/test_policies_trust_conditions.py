"""Organization conditions in trust policies: their shapes, the documents built with them, and
the engine's verdict on those documents (allowed inside the organization or OU, denied outside)."""

from __future__ import annotations

import pytest

from grants import policies
from grants.policies import trust_conditions as tc

ORG = "o-a1b2c3d4e5"
OTHER_ORG = "o-zzzzzzzzzz"
ROOT = f"{ORG}/r-ab12/"
PROD = f"{ROOT}ou-ab12-11111111/"
PROD_APP = f"{PROD}ou-ab12-22222222/"
DEV = f"{ROOT}ou-ab12-33333333/"
TRUSTED_ROOT = "arn:aws:iam::444455556666:root"
CALLER = "arn:aws:iam::444455556666:role/hoge-app-role"
ROLE = "arn:aws:iam::111122223333:role/piyo-sqs"


def assume(document: dict, **context: object) -> policies.Decision:
    """The engine's verdict on the trust policy for hoge-app-role calling sts:AssumeRole."""
    return policies.evaluate(
        [document], action="sts:AssumeRole", resource=ROLE, principal_arn=CALLER, context=context
    )


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("o-a1b2c3d4e5", True),
        ("o-" + "a" * 32, True),
        ("o-a1b2c3d4e", False),  # 9 characters: the model asks for 10 to 32
        ("o-" + "a" * 33, False),
        ("o-A1B2C3D4E5", False),  # lower case only
        ("a1b2c3d4e5", False),
        ("o-a1b2c3d4e5\n", False),
        ("", False),
    ],
)
def test_organization_ids_follow_the_organizations_api_pattern(value: str, valid: bool) -> None:
    assert tc.is_org_id(value) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        (f"{ORG}/*", True),
        (f"{ROOT}*", True),
        (ROOT, True),
        (f"{PROD}*", True),
        (PROD, True),
        (f"{PROD_APP}*", True),
        (f"{PROD}ou-ab12-22222222", False),  # an entity path ends in /
        (f"{ORG}/ou-ab12-11111111/*", False),  # the root comes before any OU
        ("o-a1b2c3d4e5/r-ab12/ou-ab12-1111/*", False),  # the OU ID's tail is 8 to 32 characters
        ("*", False),
        (f"{ORG}", False),
        (f"{PROD}**", False),
        ("o-A1B2C3D4E5/*", False),
    ],
)
def test_ou_paths_must_be_entity_paths_from_the_organization_down(value: str, valid: bool) -> None:
    assert tc.is_org_path(value) is valid


def test_the_builder_refuses_malformed_organization_values() -> None:
    with pytest.raises(ValueError, match="organization ID"):
        policies.trust_policy(principal_arn=TRUSTED_ROOT, principal_org_id="o-short")
    with pytest.raises(ValueError, match="entity paths"):
        policies.trust_policy(principal_arn=TRUSTED_ROOT, principal_org_paths=["ou-ab12-11111111"])


def test_without_an_organization_condition_the_trust_policy_is_unchanged() -> None:
    document = policies.trust_policy(principal_arn=TRUSTED_ROOT)
    assert "Condition" not in document["Statement"][0]
    assert assume(document).allowed


def test_an_organization_id_condition_admits_only_principals_of_that_organization() -> None:
    document = policies.trust_policy(principal_arn=TRUSTED_ROOT, principal_org_id=ORG)
    assert document["Statement"][0]["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": ORG}}
    assert assume(document, **{"aws:PrincipalOrgID": ORG}).allowed
    other = assume(document, **{"aws:PrincipalOrgID": OTHER_ORG})
    assert not other.allowed
    assert other.unmet_keys == ("aws:PrincipalOrgID",)
    # An account in no organization has no aws:PrincipalOrgID at all: denied too.
    assert not assume(document).allowed


def test_the_organization_id_and_an_external_id_must_both_hold() -> None:
    document = policies.trust_policy(
        principal_arn=TRUSTED_ROOT, external_id="xacct-1", principal_org_id=ORG
    )
    assert document["Statement"][0]["Condition"]["StringEquals"] == {
        "sts:ExternalId": "xacct-1",
        "aws:PrincipalOrgID": ORG,
    }
    assert assume(document, **{"aws:PrincipalOrgID": ORG, "sts:ExternalId": "xacct-1"}).allowed
    assert not assume(document, **{"aws:PrincipalOrgID": ORG}).allowed
    assert not assume(document, **{"sts:ExternalId": "xacct-1"}).allowed


def test_an_ou_path_with_a_wildcard_admits_that_ou_and_the_ous_below_it_only() -> None:
    document = policies.trust_policy(principal_arn=TRUSTED_ROOT, principal_org_paths=[f"{PROD}*"])
    condition = document["Statement"][0]["Condition"]
    assert condition == {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": f"{PROD}*"}}
    assert assume(document, **{"aws:PrincipalOrgPaths": [PROD]}).allowed
    assert assume(document, **{"aws:PrincipalOrgPaths": [PROD_APP]}).allowed
    denied = assume(document, **{"aws:PrincipalOrgPaths": [DEV]})
    assert not denied.allowed
    assert denied.unmet_keys == ("aws:PrincipalOrgPaths",)
    assert not assume(document).allowed


def test_an_ou_path_without_a_wildcard_admits_that_ou_but_not_the_ous_below_it() -> None:
    document = policies.trust_policy(principal_arn=TRUSTED_ROOT, principal_org_paths=[PROD])
    assert assume(document, **{"aws:PrincipalOrgPaths": [PROD]}).allowed
    assert not assume(document, **{"aws:PrincipalOrgPaths": [PROD_APP]}).allowed


def test_several_ou_paths_admit_any_of_them() -> None:
    document = policies.trust_policy(
        principal_arn=TRUSTED_ROOT, principal_org_paths=[f"{PROD}*", DEV, f"{PROD}*"]
    )
    values = document["Statement"][0]["Condition"]["ForAnyValue:StringLike"]
    assert values == {"aws:PrincipalOrgPaths": [f"{PROD}*", DEV]}  # repeats dropped
    assert assume(document, **{"aws:PrincipalOrgPaths": [DEV]}).allowed
    assert assume(document, **{"aws:PrincipalOrgPaths": [PROD_APP]}).allowed
    assert not assume(document, **{"aws:PrincipalOrgPaths": [f"{ROOT}ou-ab12-44444444/"]}).allowed


def test_the_condition_check_used_by_the_wizard_agrees_with_the_engine() -> None:
    condition = tc.org_condition(org_paths=[f"{PROD}*"])
    assert tc.org_condition_admits(condition, entity_path=PROD_APP)
    assert not tc.org_condition_admits(condition, entity_path=DEV)
    assert not tc.org_condition_admits(condition)
    by_id = tc.org_condition(org_id=ORG)
    assert tc.org_condition_admits(by_id, org_id=ORG)
    assert not tc.org_condition_admits(by_id, org_id=OTHER_ORG)


def test_the_review_sentences_name_the_organization_and_the_ous() -> None:
    document = policies.trust_policy(
        principal_arn=TRUSTED_ROOT, principal_org_id=ORG, principal_org_paths=[f"{PROD}*", DEV]
    )
    assert tc.org_id_of(document) == ORG
    assert tc.org_paths_of(document) == [f"{PROD}*", DEV]
    first, second = tc.org_condition_sentences(document, {PROD: "Root/Workloads/Prod"})
    assert f"member of organization {ORG}" in first
    assert "aws:PrincipalOrgPaths" in second
    assert "OU ou-ab12-11111111 (Root/Workloads/Prod) or any OU below it" in second
    assert "OU ou-ab12-33333333 itself (not the OUs below it)" in second
    assert tc.org_condition_sentences(policies.trust_policy(principal_arn=TRUSTED_ROOT)) == []


def test_a_whole_organization_path_is_worded_as_such() -> None:
    assert tc.path_words(f"{ORG}/*") == f"anywhere in organization {ORG}"
    assert tc.path_words(f"{ROOT}*") == f"anywhere in the root r-ab12 of {ORG}"


def test_service_principals_are_read_from_allow_statements_only() -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": ["ec2.amazonaws.com", "lambda.amazonaws.com"]},
                "Action": "sts:AssumeRole",
            },
            {"Effect": "Allow", "Principal": {"AWS": TRUSTED_ROOT}, "Action": "sts:AssumeRole"},
            {
                "Effect": "Deny",
                "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                "Action": "sts:AssumeRole",
            },
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "*"},
        ],
    }
    assert tc.service_principals(document) == ["ec2.amazonaws.com", "lambda.amazonaws.com"]
    assert tc.service_principals({}) == []


@pytest.mark.parametrize(
    ("services", "source"),
    [
        (["ec2.amazonaws.com"], "Ec2InstanceMetadata"),
        (["ecs-tasks.amazonaws.com"], "EcsContainer"),
        (["lambda.amazonaws.com"], "Environment"),
        (["glue.amazonaws.com", "ecs-tasks.amazonaws.com"], "EcsContainer"),
        (["glue.amazonaws.com"], ""),
        ([], ""),
    ],
)
def test_the_credential_source_follows_the_service_that_runs_the_role(
    services: list[str], source: str
) -> None:
    assert tc.credential_source_for(services) == source


def test_roles_aws_owns_are_recognised_by_their_path() -> None:
    assert tc.is_reserved_role_path("/aws-service-role/ecs.amazonaws.com/")
    assert tc.is_reserved_role_path("/aws-reserved/sso.amazonaws.com/")
    assert not tc.is_reserved_role_path("/")
    assert not tc.is_reserved_role_path("/apps/aws-service-role/")
