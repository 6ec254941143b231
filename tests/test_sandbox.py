"""The embedded sandbox's world, seen through unmodified AWS clients and through the portal."""

from __future__ import annotations

import urllib.request

import boto3
import pytest
from botocore.exceptions import ClientError
from django.core import serializers
from django.urls import reverse

from grants import aws, services
from grants.aws import sandbox
from grants.models import AuditEvent, AwsAccount

pytestmark = pytest.mark.django_db


def profile_session(sb, profile: str) -> boto3.session.Session:  # type: ignore[no-untyped-def]
    """What the AWS CLI or any SDK does with the printed config and credentials files."""
    return boto3.session.Session(profile_name=profile)


def test_the_grantee_profile_is_hoge_app_in_hoge(sandbox_server) -> None:  # type: ignore[no-untyped-def]
    session = profile_session(sandbox_server, sandbox.GRANTEE_PROFILE)
    # endpoint_url comes from the written config file, not from the test.
    identity = session.client("sts").get_caller_identity()
    assert identity["Arn"] == "arn:aws:iam::444455556666:user/hoge-app"
    assert identity["Account"] == "444455556666"


def test_the_grantee_cannot_list_queues_before_any_grant(sandbox_server) -> None:  # type: ignore[no-untyped-def]
    session = profile_session(sandbox_server, sandbox.GRANTEE_PROFILE)
    with pytest.raises(ClientError) as caught:
        session.client("sqs").list_queues()
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_piyo_owns_the_example_queues(sandbox_server) -> None:  # type: ignore[no-untyped-def]
    names = sorted(url.rsplit("/", 1)[1] for url in sandbox_server.world.queue_urls)
    assert names == sorted(sandbox.PIYO_QUEUES)
    assert all("/111122223333/" in url for url in sandbox_server.world.queue_urls)


def test_the_portal_reaches_both_accounts_through_their_hub_roles(
    sandbox_server, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    for account, account_id in ((piyo, "111122223333"), (hoge, "444455556666")):
        services.account_check(account=account, actor=None)
        account.refresh_from_db()
        assert account.last_check_ok, account.last_check_error
        assert account.last_check_arn.startswith(
            f"arn:aws:sts::{account_id}:assumed-role/OrganizationAccountAccessRole/"
        )


def test_no_key_secret_or_session_token_is_stored_or_rendered(
    sandbox_server, user_client, piyo, hoge
) -> None:  # type: ignore[no-untyped-def]
    for account in (piyo, hoge):
        user_client.post(reverse("account_check", args=[account.pk]))
    secrets: list[str] = []
    for access_key, secret_key in sandbox_server.world.keys.values():
        secrets += [access_key, secret_key]
    for account in (piyo, hoge):
        frozen = aws.gateway()._credentials_for(account.access()).get_frozen_credentials()
        secrets += [frozen.access_key, frozen.secret_key, frozen.token]
    assert all(secrets)

    stored = serializers.serialize("json", [*AwsAccount.objects.all(), *AuditEvent.objects.all()])
    pages = "".join(
        user_client.get(path).content.decode()
        for path in (
            reverse("dashboard"),
            reverse("account_list"),
            reverse("audit_list"),
            reverse("account_detail", args=[piyo.pk]),
            reverse("account_detail", args=[hoge.pk]),
        )
    )
    assert "assumed-role/OrganizationAccountAccessRole" in pages  # the pages did render checks
    for secret in secrets:
        assert secret not in stored
        assert secret not in pages


def test_every_page_shows_the_sandbox_banner(sandbox_server, user_client) -> None:  # type: ignore[no-untyped-def]
    for path in (reverse("dashboard"), reverse("account_list"), reverse("audit_list")):
        body = user_client.get(path).content.decode()
        assert 'data-testid="sandbox-banner"' in body
        assert sandbox_server.endpoint_url in body


def test_real_aws_shows_no_sandbox_banner(user_client) -> None:  # type: ignore[no-untyped-def]
    body = user_client.get(reverse("dashboard")).content.decode()
    assert "sandbox-banner" not in body


def test_the_sandbox_server_has_aws_managed_policies_in_the_aws_partition(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")  # restored afterwards
    server, endpoint_url = sandbox.start_server(load_managed_policies=True)
    try:
        iam = boto3.session.Session().client(  # not boto3's process-wide default session
            "iam",
            endpoint_url=endpoint_url,
            region_name=sandbox.REGION,
            aws_access_key_id="sandbox-test",
            aws_secret_access_key="sandbox-test",
        )
        policy = iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/AmazonSQSFullAccess")
        assert policy["Policy"]["PolicyName"] == "AmazonSQSFullAccess"
        assert iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
        # Seven partitions' backends are built per account; only aws gets the ~1,600 policies.
        from moto.iam.models import iam_backends

        backends = iam_backends["123456789012"]
        assert len(backends["aws"].aws_managed_policies) > 1000
        assert backends["aws-cn"].aws_managed_policies == []
    finally:
        urllib.request.urlopen(  # moto's state is per process: leave none behind
            urllib.request.Request(f"{endpoint_url}/moto-api/reset", method="POST"), timeout=10
        ).close()
        server.stop()  # type: ignore[attr-defined]
