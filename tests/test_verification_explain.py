"""The explain step on its own (pure): each decisive cause gets its words and its fix."""

from __future__ import annotations

from grants import aws, policies
from grants.policies import Decision, DecisionKind, PolicyKind, PolicySource, StatementRef
from grants.services import explain

ROLE_ARN = "arn:aws:iam::111122223333:role/piyo-sqs-for-hoge"
GROUP_DENY = PolicySource(PolicyKind.GROUP_INLINE, "deny-assume", {}, "group developers")
BOUNDARY = PolicySource(
    PolicyKind.BOUNDARY, "arn:aws:iam::444455556666:policy/only-sqs", {}, "user hoge-app"
)
SCP = PolicySource(PolicyKind.SCP, "no-roles", {}, "organizational unit ou-ab12-apps")
TRUST = PolicySource(PolicyKind.TRUST, "piyo-sqs-for-hoge", {}, "role piyo-sqs-for-hoge")


def cause(decision: Decision) -> tuple[str, str, str, str]:
    return explain.denial_cause(
        decision, action="sts:AssumeRole", resource=ROLE_ARN, who="hoge-app"
    )


def test_an_explicit_deny_in_a_group_names_the_policy_the_group_and_the_statement() -> None:
    ref = StatementRef(GROUP_DENY, 0, "DenyAssume")
    kind, summary, explanation, fix = cause(
        Decision(False, DecisionKind.EXPLICIT_DENY, deciding=(ref,), policy=GROUP_DENY)
    )
    assert kind == "explicit-deny"
    assert summary == (
        "An explicit Deny in the inline policy deny-assume of group developers blocks "
        f"sts:AssumeRole on {ROLE_ARN}."
    )
    assert explanation.startswith('Statement "DenyAssume" of the inline policy deny-assume')
    assert "take hoge-app out of group developers" in fix


def test_a_boundary_is_named_with_its_fix() -> None:
    kind, summary, explanation, fix = cause(Decision(False, DecisionKind.BOUNDARY, policy=BOUNDARY))
    assert kind == "boundary"
    assert "permissions boundary" in summary
    assert "the permissions boundary arn:aws:iam::444455556666:policy/only-sqs" in explanation
    assert fix.endswith("or remove the boundary.")


def test_an_scp_is_named_and_sent_to_the_organizations_administrators() -> None:
    kind, _, explanation, fix = cause(Decision(False, DecisionKind.SCP, policy=SCP))
    assert kind == "scp"
    assert "the service control policy no-roles" in explanation
    assert "organization's administrators" in fix


def test_an_unmet_mfa_condition_says_how_to_assume_with_mfa() -> None:
    ref = StatementRef(TRUST, 0, "")
    unmet = policies.UnmetCondition(ref, "Bool", "aws:MultiFactorAuthPresent")
    kind, summary, explanation, fix = cause(
        Decision(False, DecisionKind.CONDITION_UNMET, unmet=(unmet,))
    )
    assert kind == "mfa"
    assert summary == "The trust policy requires MFA."
    assert "--serial-number" in fix and "--token-code" in fix
    assert "not account" not in explanation


def test_an_unmet_external_id_condition_is_its_own_cause() -> None:
    ref = StatementRef(TRUST, 0, "")
    unmet = policies.UnmetCondition(ref, "StringEquals", "sts:ExternalId")
    kind, *_ = cause(Decision(False, DecisionKind.CONDITION_UNMET, unmet=(unmet,)))
    assert kind == "external-id"


def test_an_orphaned_principal_is_explained_as_deleted_and_recreated() -> None:
    kind, summary, explanation, _ = cause(
        Decision(False, DecisionKind.NO_ALLOW, orphaned_principals=("AROAEXAMPLEID12345678",))
    )
    assert kind == "orphaned"
    assert "AROAEXAMPLEID12345678" in summary
    assert "re-creating a principal of the same name gives it a new ID" in explanation


def test_invalid_client_token_after_assume_role_never_says_renew_the_credentials() -> None:
    explanation, fix = explain.region_token_explanation(
        region="ap-east-1", account_id="111122223333"
    )
    assert "ap-east-1 is an opt-in region" in explanation
    assert "version 1" in explanation
    assert "Renew" not in explanation + fix


def test_a_deadline_error_says_the_call_did_not_answer_in_time() -> None:
    detail = aws.AwsErrorDetail(
        service="iam",
        operation="GetRole",
        message="AWS did not answer within 10 s (the deadline for this work).",
        client_error="DeadlineExceeded",
    )
    explanation, fix = explain.error_explanation(detail, "read the role")
    assert explanation.startswith("AWS did not answer within 10 s")
    assert "were not run" in fix


def test_the_sandbox_note_names_what_the_stand_in_does_not_enforce() -> None:
    assert "does not enforce MFA conditions" in explain.sandbox_note(cause="mfa")
    assert "does not enforce external IDs" in explain.sandbox_note(cause="external-id")
    assert "does not enforce trust policies" in explain.sandbox_note(cause="no-allow")


def test_external_ids_are_read_from_every_condition_operator() -> None:
    document = {
        "Statement": [
            {"Condition": {"StringEquals": {"sts:ExternalId": "a-1"}}},
            {"Condition": {"StringLike": {"STS:EXTERNALID": ["b-*", "a-1"]}}},
        ]
    }
    assert explain.external_id_values(document) == ["a-1", "b-*"]


def scp_at(where: str) -> PolicySource:
    return PolicySource(PolicyKind.SCP, "no-roles (p-abcd1234)", {}, where)


def test_an_scp_deny_fix_fits_where_the_scp_is_attached() -> None:
    at_ou = explain.scp_fix(scp_at("OU Workloads/Dev"))
    at_root = explain.scp_fix(scp_at("the root"))
    at_account = explain.scp_fix(scp_at("the account hoge (444455556666)"))
    assert at_ou == (
        "Ask the organization's administrators to change the SCP no-roles (p-abcd1234) "
        "attached to OU Workloads/Dev so that it allows this call, or to move the account "
        "out of OU Workloads/Dev"
    )
    assert "applies to every account of the organization" in at_root
    assert "move the account" not in at_root
    assert at_account.endswith("or to detach it from the account")


def test_an_scp_level_without_an_allow_is_an_implicit_deny_naming_the_level() -> None:
    kind, summary, explanation, fix = cause(
        Decision(False, DecisionKind.SCP, policy=scp_at("OU Workloads/Dev"))
    )
    assert kind == "scp"
    assert (
        summary == "No service control policy attached to OU Workloads/Dev allows sts:AssumeRole."
    )
    assert "implicit deny" in explanation
    assert "FullAWSAccess" in fix
    assert fix.endswith("or to move the account to an OU whose SCPs allow it.")
    _, _, _, at_root = cause(Decision(False, DecisionKind.SCP, policy=scp_at("the root")))
    assert "move the account" not in at_root


def test_an_unmet_organization_condition_is_explained_with_the_key() -> None:
    ref = StatementRef(TRUST, 0, "InsideMyOrg")
    unmet = policies.UnmetCondition(ref, "StringEquals", "aws:PrincipalOrgID")
    kind, summary, explanation, fix = cause(
        Decision(False, DecisionKind.CONDITION_UNMET, unmet=(unmet,))
    )
    assert kind == "organization"
    assert "admits only principals of a given organization or OU" in summary
    assert "the ID of the caller's organization" in explanation
    assert "aws:PrincipalOrgID" in fix


def test_an_undetermined_verdict_names_the_statement_and_claims_nothing() -> None:
    ref = StatementRef(SCP, 0, "DenyOutside")
    unmet = policies.UnmetCondition(ref, "StringNotEquals", "aws:ResourceOrgID")
    summary, explanation, fix = explain.undetermined_cause(
        Decision(
            False,
            DecisionKind.UNDETERMINED,
            unmet=(unmet,),
            undetermined_keys=("aws:ResourceOrgID",),
        ),
        action="sts:AssumeRole",
        who="hoge-app",
    )
    assert summary == (
        "The verdict on sts:AssumeRole depends on organization membership the portal could "
        "not read."
    )
    assert explanation.startswith('Statement "DenyOutside" of the service control policy no-roles')
    assert "Neither a pass nor a failure is claimed." in explanation
    assert "management account" in fix
