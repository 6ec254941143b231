"""Every botocore failure becomes one AwsError with all the details."""

from __future__ import annotations

from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)

from grants.aws.errors import AwsErrorDetail, error_from_exception


def client_error(error: dict, metadata: dict) -> ClientError:
    return ClientError({"Error": error, "ResponseMetadata": metadata}, "AssumeRole")


def test_it_keeps_every_detail_of_a_client_error() -> None:
    exc = client_error(
        {"Code": "AccessDenied", "Message": "not authorized", "Type": "Sender"},
        {"HTTPStatusCode": 403, "RequestId": "req-1"},
    )
    detail = error_from_exception(exc, service="sts", operation="AssumeRole").detail
    assert detail == AwsErrorDetail(
        service="sts",
        operation="AssumeRole",
        message="not authorized",
        code="AccessDenied",
        error_type="Sender",
        http_status=403,
        request_id="req-1",
    )
    assert not detail.is_client_side


def test_it_takes_the_request_id_from_the_header_when_the_body_lacks_it() -> None:
    exc = client_error(
        {"Code": "Throttling", "Message": "slow down"},
        {"HTTPStatusCode": 400, "HTTPHeaders": {"X-Amzn-RequestId": "hdr-42"}},
    )
    detail = error_from_exception(exc, service="iam", operation="CreateRole").detail
    assert detail.request_id == "hdr-42"
    assert detail.error_type == ""


def test_it_falls_back_to_the_s3_style_request_id_header() -> None:
    exc = client_error(
        {"Code": "InternalError", "Message": "oops", "Type": "Receiver"},
        {"HTTPStatusCode": 500, "HTTPHeaders": {"x-amz-request-id": "s3-7"}},
    )
    assert (
        error_from_exception(exc, service="sqs", operation="ListQueues").detail.request_id == "s3-7"
    )


def test_it_unwraps_motos_xml_encoded_sqs_denial() -> None:
    xml = (
        '<?xml version="1.0"?><ErrorResponse><Errors><Error><Code>AccessDenied</Code>'
        "<Message>User: arn:aws:iam::444455556666:user/hoge-app is not authorized &amp; denied"
        "</Message><Type>Sender</Type></Error></Errors></ErrorResponse>"
    )
    exc = client_error({"Code": "403", "Message": xml}, {"HTTPStatusCode": 403, "RequestId": "r"})
    detail = error_from_exception(exc, service="sqs", operation="ListQueues").detail
    assert detail.code == "AccessDenied"
    assert detail.error_type == "Sender"
    assert detail.message.endswith("is not authorized & denied")


def test_it_reports_a_connection_failure_as_a_client_side_error() -> None:
    exc = EndpointConnectionError(endpoint_url="https://sts.example.invalid")
    detail = error_from_exception(exc, service="sts", operation="GetCallerIdentity").detail
    assert detail.is_client_side
    assert detail.client_error == "EndpointConnectionError"
    assert "sts.example.invalid" in detail.message
    assert detail.http_status is None


def test_it_names_timeouts_missing_credentials_and_bad_parameters() -> None:
    cases = [
        (ReadTimeoutError(endpoint_url="http://127.0.0.1:9"), "ReadTimeoutError"),
        (NoCredentialsError(), "NoCredentialsError"),
        (ParamValidationError(report="RoleSessionName too short"), "ParamValidationError"),
    ]
    for exc, kind in cases:
        detail = error_from_exception(exc, service="sts", operation="AssumeRole").detail
        assert detail.client_error == kind
        assert detail.message


def test_it_round_trips_through_a_dict_for_storage() -> None:
    detail = AwsErrorDetail(service="sts", operation="AssumeRole", message="m", code="C")
    assert AwsErrorDetail.from_dict(detail.as_dict()) == detail
    assert AwsErrorDetail.from_dict({**detail.as_dict(), "unknown": 1}) == detail
