"""The gateway: credential resolution, caching, timeouts and error mapping."""

from __future__ import annotations

import socket
import threading
import time
from unittest import mock

import botocore.session
import pytest

from grants import aws
from grants.aws import core as gateway_module

PIYO = aws.AccountAccess(
    account_id="111122223333",
    region="ap-northeast-1",
    method=aws.HUB_ROLE,
    hub_role_name="OrganizationAccountAccessRole",
)


def count_calls(event: str) -> list[str]:
    """Record each time a client of the shared session is about to make `event`."""
    seen: list[str] = []
    aws.gateway().events.register(event, lambda **kwargs: seen.append(event))
    return seen


@pytest.fixture
def closed_endpoint() -> str:
    """A 127.0.0.1 port with nothing listening: connections are refused."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"http://127.0.0.1:{port}"


def test_it_acts_in_the_account_through_the_hub_role(moto_aws: None) -> None:
    identity = aws.caller_identity(PIYO)
    assert identity.account_id == "111122223333"
    assert identity.arn.startswith(
        "arn:aws:sts::111122223333:assumed-role/OrganizationAccountAccessRole/xacct-portal"
    )


def test_it_uses_the_default_chain_as_is(moto_aws: None) -> None:
    access = aws.AccountAccess(
        account_id="123456789012", region="us-east-1", method=aws.DEFAULT_CHAIN
    )
    assert aws.caller_identity(access).account_id == "123456789012"


def test_it_passes_the_hub_external_id(moto_aws: None) -> None:
    sent: list[dict] = []
    aws.gateway().events.register(
        "provide-client-params.sts.AssumeRole", lambda params, **kw: sent.append(dict(params))
    )
    access = aws.AccountAccess(**{**PIYO.__dict__, "hub_external_id": "ext-123"})
    aws.caller_identity(access)
    assert sent[0]["ExternalId"] == "ext-123"
    assert sent[0]["RoleArn"] == "arn:aws:iam::111122223333:role/OrganizationAccountAccessRole"
    assert sent[0]["DurationSeconds"] == 3600


def test_it_caches_temporary_credentials_and_clients(moto_aws: None) -> None:
    assume_calls = count_calls("before-call.sts.AssumeRole")
    first = aws.gateway().client(PIYO, "sts")
    for _ in range(3):
        aws.caller_identity(PIYO)
    assert aws.gateway().client(PIYO, "sts") is first
    assert len(assume_calls) == 1


def test_it_builds_no_new_botocore_session_per_call(moto_aws: None) -> None:
    aws.caller_identity(PIYO)
    with mock.patch.object(botocore.session, "Session", wraps=botocore.session.Session) as made:
        other = aws.AccountAccess(**{**PIYO.__dict__, "account_id": "444455556666"})
        aws.caller_identity(other)
        aws.caller_identity(PIYO)
    assert made.call_count == 0


def test_it_refreshes_temporary_credentials_before_they_expire(
    moto_aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # botocore refreshes once fewer than 15 minutes remain; a 15-minute session
    # is therefore due for refresh at every use.
    monkeypatch.setattr(gateway_module, "_HUB_SESSION_SECONDS", 900)
    assume_calls = count_calls("before-call.sts.AssumeRole")
    aws.caller_identity(PIYO)
    aws.caller_identity(PIYO)
    assert len(assume_calls) == 2


def test_it_sets_timeouts_and_retries_on_every_client(moto_aws: None, settings) -> None:  # type: ignore[no-untyped-def]
    config = aws.gateway().client(PIYO, "sqs").meta.config
    assert config.connect_timeout == settings.AWS_CONNECT_TIMEOUT
    assert config.read_timeout == settings.AWS_READ_TIMEOUT
    assert config.retries == {
        "mode": "standard",
        "total_max_attempts": settings.AWS_TOTAL_MAX_ATTEMPTS,
    }


def test_it_uses_the_regional_sts_endpoint(moto_aws: None) -> None:
    client = aws.gateway().client(PIYO, "sts")
    assert client.meta.endpoint_url == "https://sts.ap-northeast-1.amazonaws.com"


def test_it_sends_every_call_to_the_configured_endpoint(moto_aws: None, settings) -> None:  # type: ignore[no-untyped-def]
    settings.AWS_ENDPOINT_URL = "http://127.0.0.1:4566"
    access = aws.AccountAccess(
        account_id="123456789012", region="us-east-1", method=aws.DEFAULT_CHAIN
    )
    for service in ("iam", "sts", "sqs"):
        assert aws.gateway().client(access, service).meta.endpoint_url == "http://127.0.0.1:4566"


def test_it_reports_an_unknown_profile(moto_aws: None) -> None:
    access = aws.AccountAccess(
        account_id="111122223333", region="us-east-1", method=aws.PROFILE, profile_name="nope"
    )
    with pytest.raises(aws.AwsError) as caught:
        aws.caller_identity(access)
    assert caught.value.detail.client_error == "ProfileNotFound"
    assert "nope" in caught.value.detail.message


def test_it_refuses_to_act_in_an_external_account(moto_aws: None) -> None:
    access = aws.AccountAccess(account_id="999988887777", region="us-east-1", method=aws.EXTERNAL)
    with pytest.raises(aws.AwsError) as caught:
        aws.caller_identity(access)
    assert caught.value.detail.client_error == "AccountNotManaged"


def test_it_reports_a_refused_connection_as_a_client_side_error(
    moto_aws: None,
    settings,
    closed_endpoint: str,  # type: ignore[no-untyped-def]
) -> None:
    settings.AWS_ENDPOINT_URL = closed_endpoint
    with pytest.raises(aws.AwsError) as caught:
        aws.caller_identity(PIYO)
    detail = caught.value.detail
    assert detail.client_error == "EndpointConnectionError"
    assert (detail.service, detail.operation) == ("sts", "AssumeRole")
    assert closed_endpoint in detail.message


def test_it_gives_up_on_a_hung_endpoint_within_twelve_seconds(
    moto_aws: None,
    settings,
    hung_endpoint: str,  # type: ignore[no-untyped-def]
) -> None:
    settings.AWS_ENDPOINT_URL = hung_endpoint
    started = time.monotonic()
    with pytest.raises(aws.AwsError) as caught:
        aws.caller_identity(PIYO)
    elapsed = time.monotonic() - started
    assert caught.value.detail.client_error == "ReadTimeoutError"
    assert elapsed < 12


def test_it_maps_an_access_denied_from_aws(sandbox_server) -> None:  # type: ignore[no-untyped-def]
    grantee = aws.AccountAccess(
        account_id="444455556666",
        region="ap-northeast-1",
        method=aws.PROFILE,
        profile_name="hoge-app",
    )
    with pytest.raises(aws.AwsError) as caught:
        list(gateway_module.paginate(grantee, "sqs", "list_queues", "QueueUrls"))
    detail = caught.value.detail
    assert (detail.service, detail.operation) == ("sqs", "ListQueues")
    assert detail.code == "AccessDenied"
    assert detail.http_status == 403
    assert detail.error_type == "Sender"
    assert detail.request_id
    assert "hoge-app" in detail.message


def test_it_is_safe_to_share_between_threads(moto_aws: None) -> None:
    assume_calls = count_calls("before-call.sts.AssumeRole")
    results: list[str] = []
    errors: list[Exception] = []

    def work() -> None:
        try:
            results.append(aws.caller_identity(PIYO).arn)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(results) == 8
    assert len(set(results)) == 1
    assert len(assume_calls) == 1


PORTAL = aws.AccountAccess(account_id="123456789012", region="us-east-1", method=aws.DEFAULT_CHAIN)


def test_managed_policy_versions_are_cached_but_a_new_default_version_is_read(
    moto_aws: None,
) -> None:
    import json

    aws.managed_policy_cache_clear()
    versions = count_calls("before-call.iam.GetPolicyVersion")  # before the client is made
    first = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}],
    }
    second = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}],
    }
    arn = gateway_module.call(
        PORTAL, "iam", "create_policy", PolicyName="p", PolicyDocument=json.dumps(first)
    )["Policy"]["Arn"]
    assert aws.managed_policy(PORTAL, policy_arn=arn).document == first
    assert aws.managed_policy(PORTAL, policy_arn=arn).version_id == "v1"
    assert len(versions) == 1  # the second read came from the cache
    gateway_module.call(
        PORTAL,
        "iam",
        "create_policy_version",
        PolicyArn=arn,
        PolicyDocument=json.dumps(second),
        SetAsDefault=True,
    )
    changed = aws.managed_policy(PORTAL, policy_arn=arn)
    assert (changed.version_id, changed.document) == ("v2", second)
    assert len(versions) == 2


def test_group_reads_return_names_documents_and_attached_arns(moto_aws: None) -> None:
    import json

    allow = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    }
    for method, params in [
        ("create_user", {"UserName": "u"}),
        ("create_group", {"GroupName": "g"}),
        ("add_user_to_group", {"GroupName": "g", "UserName": "u"}),
        (
            "put_group_policy",
            {"GroupName": "g", "PolicyName": "gp", "PolicyDocument": json.dumps(allow)},
        ),
    ]:
        gateway_module.call(PORTAL, "iam", method, **params)
    assert aws.user_group_names(PORTAL, user_name="u") == ["g"]
    assert aws.inline_policy_names(PORTAL, kind="group", name="g") == ["gp"]
    assert aws.inline_policy_document(PORTAL, kind="group", name="g", policy_name="gp") == allow
    assert aws.inline_policy_document(PORTAL, kind="group", name="g", policy_name="nope") is None
    assert aws.attached_policy_arns(PORTAL, kind="group", name="g") == []
    user = aws.user_get(PORTAL, user_name="u")
    assert user is not None and user.arn == "arn:aws:iam::123456789012:user/u"
    assert user.boundary_arn == ""
    assert aws.user_get(PORTAL, user_name="nobody") is None


def test_an_api_the_stand_in_lacks_leaves_as_aws_error(moto_aws: None) -> None:
    with pytest.raises(aws.AwsError) as caught:
        aws.principal_policy_simulate(
            PORTAL,
            principal_arn="arn:aws:iam::123456789012:user/u",
            action="sts:AssumeRole",
            resource_arn="arn:aws:iam::111122223333:role/r",
        )
    detail = caught.value.detail
    assert (detail.client_error, detail.operation) == ("NotImplemented", "SimulatePrincipalPolicy")
