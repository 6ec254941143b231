"""The engine with AWS Organizations: SCPs along the OU path, and the organization keys.

SCP cases follow AWS Organizations' "SCP evaluation" page: every level from the root
down to the account must allow (an Allow in some SCP attached there), an explicit Deny
at any level wins, and an SCP attached to an OU applies to every account beneath it.
The organization keys (aws:PrincipalOrgID, aws:PrincipalOrgPaths, aws:ResourceOrgID,
aws:ResourceOrgPaths) follow IAM's "Global condition context keys": present only for
members of an organization; a value the portal could not read is UNKNOWN, and a verdict
that turns on it is UNDETERMINED, never a false pass or fail.
"""

from __future__ import annotations

from typing import Any

import pytest

from grants.policies import (
    DecisionKind,
    PolicyKind,
    PolicySource,
    Request,
    evaluate,
    evaluate_request,
)
from grants.policies.model import UNKNOWN

from .test_policies_evaluation import (
    ASSUME,
    FULL_AWS_ACCESS,
    ROLE,
    TRUSTED,
    USER,
    allow,
    deny,
    doc,
    trust,
    user_inline,
)

ORG = "o-a1b2c3d4e5"
OTHER_ORG = "o-zz99zz99zz"
DEV_PATH = f"{ORG}/r-ab12/ou-ab12-workload/ou-ab12-dev00001/"
PROD_PATH = f"{ORG}/r-ab12/ou-ab12-workload/ou-ab12-prod0001/"


def scp(name: str, document: dict, where: str) -> PolicySource:
    return PolicySource(PolicyKind.SCP, name, document, where)


def full(where: str) -> PolicySource:
    return scp("FullAWSAccess (p-FullAWSAccess)", FULL_AWS_ACCESS, where)


DENY_ASSUME = doc(deny(resource="*", Sid="NoAssume"))
# The seeded SCP's shape: no AssumeRole on roles outside the caller's organization.
DENY_OUTSIDE_ORG = doc(
    deny(
        resource="*",
        Sid="DenyRolesOutsideOrg",
        Condition={"StringNotEquals": {"aws:ResourceOrgID": "${aws:PrincipalOrgID}"}},
    )
)


def levels(
    *,
    root: list[PolicySource] | None = None,
    workloads: list[PolicySource] | None = None,
    dev: list[PolicySource] | None = None,
    account: list[PolicySource] | None = None,
) -> list[list[PolicySource]]:
    """Root → OU Workloads → OU Workloads/Dev → the account; FullAWSAccess where not given."""
    return [
        root if root is not None else [full("the root")],
        workloads if workloads is not None else [full("OU Workloads")],
        dev if dev is not None else [full("OU Workloads/Dev")],
        account if account is not None else [full(f"the account {TRUSTED}")],
    ]


def assume(scps: Any, context: dict | None = None) -> Any:
    return evaluate_request(
        Request(USER, ASSUME, ROLE, context or {}),
        identity=[user_inline(allow())],
        resource_policy=trust(),
        scps=scps,
    )


# --- SCPs along the path ------------------------------------------------------------------

SCP_CASES = [
    pytest.param(levels(), DecisionKind.ALLOW, None, id="full-access-at-every-level-allows"),
    pytest.param(
        levels(root=[full("the root"), scp("no-assume (p-1)", DENY_ASSUME, "the root")]),
        DecisionKind.EXPLICIT_DENY,
        "the service control policy no-assume (p-1) attached to the root",
        id="deny-at-the-root",
    ),
    pytest.param(
        levels(
            dev=[full("OU Workloads/Dev"), scp("no-assume (p-1)", DENY_ASSUME, "OU Workloads/Dev")]
        ),
        DecisionKind.EXPLICIT_DENY,
        "the service control policy no-assume (p-1) attached to OU Workloads/Dev",
        id="deny-at-the-accounts-ou",
    ),
    pytest.param(
        levels(
            workloads=[full("OU Workloads"), scp("no-assume (p-1)", DENY_ASSUME, "OU Workloads")]
        ),
        DecisionKind.EXPLICIT_DENY,
        "the service control policy no-assume (p-1) attached to OU Workloads",
        id="deny-inherited-from-a-parent-ou",
    ),
    pytest.param(
        levels(
            account=[
                full(f"the account {TRUSTED}"),
                scp("no-assume (p-1)", DENY_ASSUME, f"the account {TRUSTED}"),
            ]
        ),
        DecisionKind.EXPLICIT_DENY,
        f"the service control policy no-assume (p-1) attached to the account {TRUSTED}",
        id="deny-at-the-account",
    ),
    pytest.param(
        levels(workloads=[scp("sqs-only (p-2)", doc(allow("sqs:*", "*")), "OU Workloads")]),
        DecisionKind.SCP,
        "the service control policy sqs-only (p-2) attached to OU Workloads",
        id="full-access-removed-from-a-parent-ou",
    ),
    pytest.param(
        levels(dev=[scp("sqs-only (p-2)", doc(allow("sqs:*", "*")), "OU Workloads/Dev")]),
        DecisionKind.SCP,
        "the service control policy sqs-only (p-2) attached to OU Workloads/Dev",
        id="full-access-removed-from-the-accounts-ou",
    ),
    pytest.param(
        levels(
            workloads=[
                scp("sqs-only (p-2)", doc(allow("sqs:*", "*")), "OU Workloads"),
                scp("assume-ok (p-3)", doc(allow(ASSUME, "*")), "OU Workloads"),
            ]
        ),
        DecisionKind.ALLOW,
        None,
        id="one-allow-among-an-ous-scps-suffices",
    ),
]


@pytest.mark.parametrize(("scps", "kind", "named"), SCP_CASES)
def test_scps_along_the_ou_path_decide_the_grantees_assume_role(
    scps: Any, kind: DecisionKind, named: str | None
) -> None:
    evaluation = assume(scps)
    assert evaluation.decision.kind == kind
    assert evaluation.identity is not None and evaluation.identity.kind == kind
    if named is None:
        assert evaluation.decision.allowed
    else:
        assert not evaluation.decision.allowed
        assert evaluation.decision.policy is not None
        assert evaluation.decision.policy.label() == named


def test_an_ou_without_an_allowing_scp_is_named_in_the_note() -> None:
    scps = levels(dev=[scp("sqs-only (p-2)", doc(allow("sqs:*", "*")), "OU Workloads/Dev")])
    notes = " ".join(assume(scps).decision.notes)
    assert "No service control policy attached at OU Workloads/Dev allows sts:AssumeRole." in notes


def test_scps_never_grant_what_the_identity_policies_do_not() -> None:
    evaluation = evaluate_request(
        Request(USER, ASSUME, ROLE), identity=[], resource_policy=trust(), scps=levels()
    )
    assert evaluation.decision.kind == DecisionKind.NO_ALLOW


# --- the seeded SCP: AssumeRole only on roles inside the organization -------------------

OUTSIDE_CASES = [
    pytest.param(
        {"aws:PrincipalOrgID": ORG, "aws:ResourceOrgID": ORG},
        DecisionKind.ALLOW,
        id="role-in-the-same-organization",
    ),
    pytest.param(
        {"aws:PrincipalOrgID": ORG, "aws:ResourceOrgID": OTHER_ORG},
        DecisionKind.EXPLICIT_DENY,
        id="role-in-another-organization",
    ),
    pytest.param(
        {"aws:PrincipalOrgID": ORG},
        DecisionKind.EXPLICIT_DENY,
        id="role-in-an-account-outside-any-organization",
    ),
    pytest.param(
        {"aws:PrincipalOrgID": ORG, "aws:ResourceOrgID": UNKNOWN},
        DecisionKind.UNDETERMINED,
        id="roles-organization-not-read",
    ),
    pytest.param(
        {"aws:PrincipalOrgID": UNKNOWN, "aws:ResourceOrgID": ORG},
        DecisionKind.UNDETERMINED,
        id="callers-organization-not-read-in-the-variable",
    ),
]


@pytest.mark.parametrize(("context", "kind"), OUTSIDE_CASES)
def test_an_scp_denying_roles_outside_the_organization(context: dict, kind: DecisionKind) -> None:
    scps = levels(
        dev=[
            full("OU Workloads/Dev"),
            scp("deny-outside (p-9)", DENY_OUTSIDE_ORG, "OU Workloads/Dev"),
        ]
    )
    decision = assume(scps, context).decision
    assert decision.kind == kind
    assert decision.allowed == (kind == DecisionKind.ALLOW)
    if kind == DecisionKind.EXPLICIT_DENY:
        assert decision.deciding[0].sid == "DenyRolesOutsideOrg"
    if kind == DecisionKind.UNDETERMINED:
        assert "aws:ResourceOrgID" in decision.undetermined_keys
        assert decision.unmet[0].statement.sid == "DenyRolesOutsideOrg"


def test_an_undetermined_scp_deny_does_not_hide_a_certain_denial() -> None:
    scps = levels(
        dev=[
            full("OU Workloads/Dev"),
            scp("deny-outside (p-9)", DENY_OUTSIDE_ORG, "OU Workloads/Dev"),
        ]
    )
    evaluation = evaluate_request(
        Request(USER, ASSUME, ROLE, {"aws:PrincipalOrgID": ORG, "aws:ResourceOrgID": UNKNOWN}),
        identity=[],  # nothing allows: denied whatever the organization
        resource_policy=trust(),
        scps=scps,
    )
    assert evaluation.decision.kind == DecisionKind.NO_ALLOW


def test_an_undetermined_allow_does_not_outweigh_an_explicit_deny() -> None:
    evaluation = evaluate_request(
        Request(USER, ASSUME, ROLE, {"aws:PrincipalOrgID": UNKNOWN}),
        identity=[user_inline(allow(), deny(Sid="Never"))],
        resource_policy=org_trust({"StringEquals": {"aws:PrincipalOrgID": ORG}}),
    )
    assert evaluation.decision.kind == DecisionKind.EXPLICIT_DENY


# --- organization-aware trust policies --------------------------------------------------


def org_trust(condition: dict) -> PolicySource:
    document = doc(
        {
            "Sid": "TrustedAccountInsideMyOrg",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{TRUSTED}:root"},
            "Action": ASSUME,
            "Condition": condition,
        }
    )
    return PolicySource(PolicyKind.TRUST, "piyo-sqs", document, "role piyo-sqs")


ORG_ID = {"StringEquals": {"aws:PrincipalOrgID": ORG}}
DEV_PATHS = {
    "ForAnyValue:StringLike": {
        "aws:PrincipalOrgPaths": [f"{ORG}/r-ab12/ou-ab12-workload/ou-ab12-dev*/*"]
    }
}
WORKLOADS_PATHS = {
    "ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": [f"{ORG}/*/ou-ab12-workload/*"]}
}

TRUST_CASES = [
    pytest.param(ORG_ID, {"aws:PrincipalOrgID": ORG}, DecisionKind.ALLOW, id="org-id-satisfied"),
    pytest.param(
        ORG_ID,
        {"aws:PrincipalOrgID": OTHER_ORG},
        DecisionKind.CONDITION_UNMET,
        id="org-id-another-organization",
    ),
    pytest.param(ORG_ID, {}, DecisionKind.CONDITION_UNMET, id="org-id-not-in-an-organization"),
    pytest.param(
        ORG_ID, {"aws:PrincipalOrgID": UNKNOWN}, DecisionKind.UNDETERMINED, id="org-id-unknown"
    ),
    pytest.param(
        DEV_PATHS,
        {"aws:PrincipalOrgPaths": [DEV_PATH]},
        DecisionKind.ALLOW,
        id="paths-wildcard-match",
    ),
    pytest.param(
        WORKLOADS_PATHS,
        {"aws:PrincipalOrgPaths": [DEV_PATH]},
        DecisionKind.ALLOW,
        id="paths-wildcard-spanning-segments",
    ),
    pytest.param(
        DEV_PATHS,
        {"aws:PrincipalOrgPaths": [PROD_PATH]},
        DecisionKind.CONDITION_UNMET,
        id="paths-another-ou",
    ),
    pytest.param(DEV_PATHS, {}, DecisionKind.CONDITION_UNMET, id="paths-absent"),
    pytest.param(
        DEV_PATHS,
        {"aws:PrincipalOrgPaths": [UNKNOWN]},
        DecisionKind.UNDETERMINED,
        id="paths-unknown",
    ),
    pytest.param(
        {**ORG_ID, **DEV_PATHS},
        {"aws:PrincipalOrgID": UNKNOWN, "aws:PrincipalOrgPaths": [PROD_PATH]},
        DecisionKind.CONDITION_UNMET,
        id="a-failing-test-decides-although-another-is-unknown",
    ),
]


@pytest.mark.parametrize(("condition", "context", "kind"), TRUST_CASES)
def test_trust_conditions_on_the_callers_organization(
    condition: dict, context: dict, kind: DecisionKind
) -> None:
    evaluation = evaluate_request(
        Request(USER, ASSUME, ROLE, context),
        identity=[user_inline(allow())],
        resource_policy=org_trust(condition),
    )
    assert evaluation.resource is not None and evaluation.resource.kind == kind
    assert evaluation.decision.kind == kind
    assert evaluation.decision.allowed == (kind == DecisionKind.ALLOW)


def test_an_undetermined_trust_names_the_key_and_the_statement() -> None:
    decision = evaluate_request(
        Request(USER, ASSUME, ROLE, {"aws:PrincipalOrgID": UNKNOWN}),
        identity=[user_inline(allow())],
        resource_policy=org_trust(ORG_ID),
    ).decision
    assert decision.undetermined_keys == ("aws:PrincipalOrgID",)
    assert decision.unmet[0].statement.sid == "TrustedAccountInsideMyOrg"
    assert "could not be determined" in " ".join(decision.notes)


def test_the_identity_side_stays_decided_when_only_the_trust_is_undetermined() -> None:
    evaluation = evaluate_request(
        Request(USER, ASSUME, ROLE, {"aws:PrincipalOrgID": UNKNOWN}),
        identity=[user_inline(allow())],
        resource_policy=org_trust(ORG_ID),
    )
    assert evaluation.identity is not None and evaluation.identity.kind == DecisionKind.ALLOW


@pytest.mark.parametrize(
    ("operator", "value", "allowed"),
    [
        ("StringEqualsIfExists", UNKNOWN, None),
        ("Null", UNKNOWN, None),
        ("StringEqualsIfExists", OTHER_ORG, False),
        ("StringEqualsIfExists", ORG, True),
    ],
)
def test_if_exists_and_null_on_an_unknown_organization_are_undetermined(
    operator: str, value: Any, allowed: bool | None
) -> None:
    expected = "false" if operator == "Null" else ORG
    decision = evaluate(
        [doc(allow("sqs:ListQueues", "*", Condition={operator: {"aws:ResourceOrgID": expected}}))],
        action="sqs:ListQueues",
        context={"aws:ResourceOrgID": value},
    )
    if allowed is None:
        assert decision.kind == DecisionKind.UNDETERMINED
    else:
        assert decision.allowed is allowed


# --- the wizard's organization-aware trust (policies.trust_policy) ----------------------


def wizard_trust(**options: Any) -> PolicySource:
    from grants.policies import trust_policy

    document = trust_policy(principal_arn=f"arn:aws:iam::{TRUSTED}:root", **options)
    return PolicySource(PolicyKind.TRUST, "piyo-sqs", document, "role piyo-sqs")


@pytest.mark.parametrize(
    ("options", "context", "kind"),
    [
        pytest.param(
            {"principal_org_id": ORG}, {"aws:PrincipalOrgID": ORG}, DecisionKind.ALLOW, id="id"
        ),
        pytest.param(
            {"principal_org_id": ORG},
            {"aws:PrincipalOrgID": UNKNOWN},
            DecisionKind.UNDETERMINED,
            id="id-unknown",
        ),
        pytest.param(
            {"principal_org_paths": [f"{ORG}/r-ab12/ou-ab12-workload/*"]},
            {"aws:PrincipalOrgID": ORG, "aws:PrincipalOrgPaths": [DEV_PATH]},
            DecisionKind.ALLOW,
            id="path-below-workloads",
        ),
        pytest.param(
            {"principal_org_paths": [f"{ORG}/r-ab12/ou-ab12-prod0001/"]},
            {"aws:PrincipalOrgID": ORG, "aws:PrincipalOrgPaths": [DEV_PATH]},
            DecisionKind.CONDITION_UNMET,
            id="path-another-ou",
        ),
        pytest.param(
            {"principal_org_id": ORG, "external_id": "xacct-1"},
            {"aws:PrincipalOrgID": ORG, "sts:ExternalId": "xacct-1"},
            DecisionKind.ALLOW,
            id="id-with-external-id",
        ),
    ],
)
def test_the_wizards_organization_conditions_are_evaluated(
    options: dict, context: dict, kind: DecisionKind
) -> None:
    evaluation = evaluate_request(
        Request(USER, ASSUME, ROLE, context),
        identity=[user_inline(allow())],
        resource_policy=wizard_trust(**options),
    )
    assert evaluation.decision.kind == kind
