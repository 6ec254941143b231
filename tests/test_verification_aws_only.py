"""What the AWS stand-in cannot show: the policy simulator, boundaries, SCPs, opt-in regions.

The simulator is tested with botocore's Stubber (the response shape is checked
against the IAM service model); moto answers HTTP 500 to PutUserPermissionsBoundary,
so a boundary comes from a patched GetUser; SCPs come from moto's Organizations.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber

from grants import aws
from grants.aws import sandbox
from grants.models import VerificationOutcome

from .test_verification_pipeline import (
    DENY_ASSUME,
    HOGE_APP,
    ROLE_ARN,
    iam,
    page_text,
    provisioned,
    verify,
)

pytestmark = pytest.mark.django_db

HOGE_PORTAL = aws.AccountAccess(
    account_id="444455556666",
    region="ap-northeast-1",
    method=aws.HUB_ROLE,
    hub_role_name="OrganizationAccountAccessRole",
)


def simulation_response(decision: str) -> dict[str, Any]:
    return {
        "EvaluationResults": [
            {
                "EvalActionName": "sts:AssumeRole",
                "EvalResourceName": ROLE_ARN,
                "EvalDecision": decision,
                "MatchedStatements": [
                    {
                        "SourcePolicyId": "xacct-assume-piyo-sqs-for-hoge",
                        "SourcePolicyType": "IAM Policy",
                        "StartPosition": {"Line": 1, "Column": 38},
                        "EndPosition": {"Line": 1, "Column": 151},
                    }
                ],
                "MissingContextValues": [],
                "EvalDecisionDetails": {},
            }
        ],
        "IsTruncated": False,
    }


def test_the_simulator_is_asked_with_the_action_the_role_and_the_context(moto_aws) -> None:  # type: ignore[no-untyped-def]
    client = aws.gateway().client(HOGE_PORTAL, "iam")
    with Stubber(client) as stub:
        stub.add_response(
            "simulate_principal_policy",
            simulation_response("allowed"),
            {
                "PolicySourceArn": HOGE_APP,
                "ActionNames": ["sts:AssumeRole"],
                "ResourceArns": [ROLE_ARN],
                "ContextEntries": [
                    {
                        "ContextKeyName": "sts:ExternalId",
                        "ContextKeyValues": ["xacct-1"],
                        "ContextKeyType": "string",
                    }
                ],
            },
        )
        result = aws.principal_policy_simulate(
            HOGE_PORTAL,
            principal_arn=HOGE_APP,
            action="sts:AssumeRole",
            resource_arn=ROLE_ARN,
            context={"sts:ExternalId": "xacct-1"},
        )
        stub.assert_no_pending_responses()
    assert result.allowed
    assert result.matched == ("xacct-assume-piyo-sqs-for-hoge",)


def test_a_simulator_the_portal_may_not_call_raises_access_denied(moto_aws) -> None:  # type: ignore[no-untyped-def]
    client = aws.gateway().client(HOGE_PORTAL, "iam")
    with Stubber(client) as stub:
        stub.add_client_error(
            "simulate_principal_policy",
            service_error_code="AccessDenied",
            service_message="not authorized to perform: iam:SimulatePrincipalPolicy",
            http_status_code=403,
        )
        with pytest.raises(aws.AwsError) as caught:
            aws.principal_policy_simulate(
                HOGE_PORTAL, principal_arn=HOGE_APP, action="sts:AssumeRole", resource_arn=ROLE_ARN
            )
    assert caught.value.code == "AccessDenied"


def fake_simulator(monkeypatch, result: Any) -> list[dict]:  # type: ignore[no-untyped-def]
    asked: list[dict] = []

    def simulate(access: aws.AccountAccess, **kwargs: Any) -> aws.SimulationResult:
        asked.append(kwargs)
        if isinstance(result, Exception):
            raise result
        return result

    monkeypatch.setattr(aws, "principal_policy_simulate", simulate)
    return asked


def test_test_access_shows_both_verdicts_and_flags_a_disagreement(
    aws_world, piyo, hoge, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    asked = fake_simulator(monkeypatch, aws.SimulationResult("implicitDeny", (), ()))
    grant = provisioned(piyo, hoge, external_id="xacct-1")
    _, steps = verify(grant)
    assert asked == [
        {
            "principal_arn": HOGE_APP,
            "action": "sts:AssumeRole",
            "resource_arn": ROLE_ARN,
            "context": {"sts:ExternalId": "xacct-1"},
        }
    ]
    notes = " ".join(steps["user_policy"]["notes"])
    assert "simulator (iam:SimulatePrincipalPolicy): denied (implicitDeny)" in notes
    assert "the portal's evaluation: allowed" in notes
    assert "They disagree" in notes
    assert steps["user_policy"]["status"] == "warn"


def test_an_agreeing_simulator_is_shown_without_a_flag(aws_world, piyo, hoge, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    fake_simulator(monkeypatch, aws.SimulationResult("allowed", ("p",), ()))
    _, steps = verify(provisioned(piyo, hoge))
    notes = " ".join(steps["user_policy"]["notes"])
    assert "simulator (iam:SimulatePrincipalPolicy): allowed" in notes
    assert "disagree" not in notes
    assert steps["user_policy"]["status"] == "pass"


def test_a_simulator_the_portal_may_not_call_is_skipped_with_a_note(
    aws_world, piyo, hoge, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    denied = aws.AwsError(
        aws.AwsErrorDetail(
            service="iam", operation="SimulatePrincipalPolicy", message="no", code="AccessDenied"
        )
    )
    fake_simulator(monkeypatch, denied)
    verification, steps = verify(provisioned(piyo, hoge))
    assert verification.passed
    assert "simulator was not consulted" in " ".join(steps["user_policy"]["notes"])


def test_the_simulator_is_not_asked_in_the_sandbox(
    aws_world, piyo, hoge, monkeypatch, settings
) -> None:  # type: ignore[no-untyped-def]
    asked = fake_simulator(monkeypatch, aws.SimulationResult("allowed", (), ()))
    grant = provisioned(piyo, hoge)
    settings.AWS_SANDBOX = True
    verify(grant)
    assert asked == []


def test_invalid_client_token_after_assume_role_explains_region_and_token_version(
    aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    def refuse(**kwargs: Any) -> Any:
        http = AWSResponse("https://sqs.ap-northeast-1.amazonaws.com/", 403, {}, None)
        return http, {
            "Error": {
                "Code": "InvalidClientTokenId",
                "Message": "The security token included in the request is invalid.",
                "Type": "Sender",
            },
            "ResponseMetadata": {"HTTPStatusCode": 403, "RequestId": "r-1"},
        }

    aws.gateway().events.register("before-call.sqs.ListQueues", refuse)
    verification, steps = verify(provisioned(piyo, hoge))
    step = steps["list_queues"]
    assert step["status"] == "fail"
    assert step["error"]["code"] == "InvalidClientTokenId"
    assert "opt-in region that is not enabled in account 111122223333" in step["explanation"]
    assert "global STS endpoint" in step["explanation"]
    assert "sts.ap-northeast-1.amazonaws.com" in step["fix"]
    assert "Renew" not in page_text(verification)


def with_boundary(monkeypatch, boundary_arn: str) -> None:  # type: ignore[no-untyped-def]
    """GetUser reports a permissions boundary (moto cannot set one)."""
    original = aws.user_get

    def user_get(access: aws.AccountAccess, *, user_name: str) -> aws.UserInfo | None:
        found = original(access, user_name=user_name)
        assert found is not None
        return aws.UserInfo(found.name, found.arn, found.user_id, boundary_arn=boundary_arn)

    monkeypatch.setattr(aws, "user_get", user_get)


def test_a_boundary_without_sts_assume_role_fails_naming_it(
    aws_world, piyo, hoge, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    grant = provisioned(piyo, hoge)
    only_sqs = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}],
    }
    arn = iam(hoge, "create_policy", PolicyName="only-sqs", PolicyDocument=json.dumps(only_sqs))[
        "Policy"
    ]["Arn"]
    with_boundary(monkeypatch, arn)
    verification, steps = verify(grant)
    assert verification.outcome == VerificationOutcome.FAILED
    step = steps["user_policy"]
    assert (
        step["summary"] == f"The permissions boundary does not allow sts:AssumeRole on {ROLE_ARN}."
    )
    assert arn in step["explanation"]
    assert "remove the boundary" in step["fix"]


def test_a_boundary_that_cannot_be_read_is_said_not_accounted_for(
    aws_world, piyo, hoge, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    grant = provisioned(piyo, hoge)
    missing = "arn:aws:iam::444455556666:policy/gone-boundary"
    with_boundary(monkeypatch, missing)
    verification, steps = verify(grant)
    step = steps["user_policy"]
    assert step["status"] == "warn"
    assert (
        f"Could not read the permissions boundary {missing} of user hoge-app (NoSuchEntity): "
        "not accounted for." in step["notes"]
    )
    assert verification.outcome == VerificationOutcome.PASSED_PORTAL


def test_scps_do_not_apply_to_the_organizations_management_account(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    grant = provisioned(piyo, hoge)
    access = hoge.access()
    aws.core.call(access, "organizations", "create_organization", FeatureSet="ALL")
    root = aws.core.call(access, "organizations", "list_roots")["Roots"][0]["Id"]
    aws.core.call(
        access,
        "organizations",
        "enable_policy_type",
        RootId=root,
        PolicyType="SERVICE_CONTROL_POLICY",
    )
    policy = aws.core.call(
        access,
        "organizations",
        "create_policy",
        Content=json.dumps(DENY_ASSUME),
        Description="no cross-account roles",
        Name="no-piyo-roles",
        Type="SERVICE_CONTROL_POLICY",
    )["Policy"]["PolicySummary"]["Id"]
    aws.core.call(access, "organizations", "attach_policy", PolicyId=policy, TargetId=root)
    verification, steps = verify(grant)
    assert verification.passed
    assert "management account: SCPs do not apply" in " ".join(steps["user_policy"]["notes"])


def organization_answers(tree: dict[str, Any]) -> None:
    """Answer the Organizations reads from `tree`, as AWS would for a member account."""

    def answer(operation: str, result: Any) -> Any:
        def handler(params: dict, **kwargs: Any) -> Any:
            body = result(json.loads(params["body"] or b"{}")) if callable(result) else result
            http = AWSResponse("https://organizations.us-east-1.amazonaws.com/", 200, {}, None)
            return http, {**body, "ResponseMetadata": {"HTTPStatusCode": 200}}

        aws.gateway().events.register(f"before-call.organizations.{operation}", handler)

    answer("DescribeOrganization", {"Organization": {"MasterAccountId": "123456789012"}})
    answer("ListParents", lambda body: {"Parents": [tree["parents"][body["ChildId"]]]})
    answer("ListPoliciesForTarget", lambda body: {"Policies": tree["attached"][body["TargetId"]]})
    answer(
        "DescribePolicy",
        lambda body: {"Policy": {"Content": json.dumps(tree["content"][body["PolicyId"]])}},
    )


def test_an_scp_that_denies_assume_role_fails_naming_it_and_where_it_is_attached(
    aws_world, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    allow_all = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    full = {"Id": "p-FullAWSAccess", "Name": "FullAWSAccess"}
    deny = {"Id": "p-denyroles1", "Name": "no-piyo-roles"}
    organization_answers(
        {
            "parents": {
                "444455556666": {"Id": "ou-ab12-apps", "Type": "ORGANIZATIONAL_UNIT"},
                "ou-ab12-apps": {"Id": "r-ab12", "Type": "ROOT"},
                "111122223333": {"Id": "r-ab12", "Type": "ROOT"},
            },
            "attached": {
                "r-ab12": [full],
                "ou-ab12-apps": [full, deny],
                "444455556666": [full],
                "111122223333": [full],
            },
            "content": {"p-FullAWSAccess": allow_all, "p-denyroles1": DENY_ASSUME},
        }
    )
    verification, steps = verify(provisioned(piyo, hoge))
    assert not verification.passed
    assert steps["user_policy"]["summary"] == (
        "An explicit Deny in the service control policy no-piyo-roles (p-denyroles1) attached "
        f"to OU ou-ab12-apps blocks sts:AssumeRole on {ROLE_ARN}."
    )
    assert "organization's administrators" in steps["user_policy"]["fix"]


def test_an_scp_level_without_an_allow_fails_as_an_scp(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    only_sqs = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}],
    }
    organization_answers(
        {
            "parents": {
                "444455556666": {"Id": "r-ab12", "Type": "ROOT"},
                "111122223333": {"Id": "r-ab12", "Type": "ROOT"},
            },
            "attached": {
                "r-ab12": [{"Id": "p-sqsonly", "Name": "sqs-only"}],
                "444455556666": [],
                "111122223333": [],
            },
            "content": {"p-sqsonly": only_sqs},
        }
    )
    verification, steps = verify(provisioned(piyo, hoge))
    assert not verification.passed
    assert steps["user_policy"]["summary"] == (
        "No service control policy attached to the root allows sts:AssumeRole."
    )
    assert "FullAWSAccess" in steps["user_policy"]["explanation"]


def test_outside_an_organization_no_scp_is_read_and_the_page_says_so(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    _, steps = verify(provisioned(piyo, hoge, grantee_profile=sandbox.GRANTEE_PROFILE))
    assert "no SCPs apply" in " ".join(steps["user_policy"]["notes"])


def test_scps_the_portal_may_not_read_are_a_note_not_a_failure(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    def deny(**kwargs: Any) -> Any:
        http = AWSResponse("https://organizations.us-east-1.amazonaws.com/", 400, {}, None)
        return http, {
            "Error": {"Code": "AccessDeniedException", "Message": "no", "Type": "Sender"},
            "ResponseMetadata": {"HTTPStatusCode": 400, "RequestId": "r-2"},
        }

    aws.gateway().events.register("before-call.organizations.DescribeOrganization", deny)
    verification, steps = verify(provisioned(piyo, hoge))
    assert verification.passed
    assert "SCPs not read (AccessDeniedException)" in " ".join(steps["user_policy"]["notes"])


def test_managed_policy_versions_are_read_once(aws_world, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    aws.managed_policy_cache_clear()
    versions: list[str] = []
    aws.gateway().events.register(
        "before-call.iam.GetPolicyVersion", lambda **kw: versions.append("v")
    )
    grant = provisioned(piyo, hoge)
    verify(grant)
    first = len(versions)
    verify(grant)
    assert first >= 1  # AmazonSQSFullAccess on the role
    assert len(versions) == first
