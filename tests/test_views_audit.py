"""The audit list: AWS call details on every row and in the CSV, date and request-ID filters."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from grants import aws, services
from grants.models import AuditAction, AuditEvent, AuditOutcome

pytestmark = pytest.mark.django_db

DENIED = aws.AwsErrorDetail(
    service="sts",
    operation="AssumeRole",
    message="User is not authorized to perform: sts:AssumeRole",
    code="AccessDenied",
    error_type="Sender",
    http_status=403,
    request_id="5e1c8a9b-1111-4222-8333-444455556666",
)


def _at(event: AuditEvent, moment: datetime) -> None:
    # created_at is auto_now_add and the log refuses updates through the ORM.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE grants_auditevent SET created_at = %s WHERE id = %s", [moment, event.pk]
        )


def _csv_rows(response) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_an_aws_failure_is_recorded_with_its_call_status_and_request_id() -> None:
    event = services.audit_record(
        actor=None, action=AuditAction.GRANT_VERIFY, outcome=AuditOutcome.FAILURE, error=DENIED
    )
    event.refresh_from_db()
    assert (event.service, event.operation, event.http_status) == ("sts", "AssumeRole", 403)
    assert (event.error_code, event.request_id) == ("AccessDenied", DENIED.request_id)


def test_a_client_side_failure_is_recorded_with_its_error_class_and_no_status() -> None:
    offline = aws.AwsErrorDetail(
        service="sqs",
        operation="ListQueues",
        message="Could not connect",
        client_error="EndpointConnectionError",
    )
    event = services.audit_record(actor=None, action=AuditAction.GRANT_VERIFY, error=offline)
    event.refresh_from_db()
    assert (event.error_code, event.http_status, event.request_id) == (
        "EndpointConnectionError",
        None,
        "",
    )


def test_an_action_named_after_its_aws_call_names_the_service_and_operation() -> None:
    event = services.audit_record(actor=None, action=AuditAction.ROLE_CREATE, request_id="r-1")
    assert (event.service, event.operation, event.request_id) == ("iam", "CreateRole", "r-1")
    other = services.audit_record(actor=None, action=AuditAction.ACCOUNT_UPDATE)
    assert (other.service, other.operation) == ("", "")


def test_every_audit_row_shows_the_call_status_code_and_request_id(user_client) -> None:  # type: ignore[no-untyped-def]
    services.audit_record(
        actor=None, action=AuditAction.GRANT_VERIFY, outcome=AuditOutcome.FAILURE, error=DENIED
    )
    body = user_client.get(reverse("audit_list")).content.decode()
    assert "sts:AssumeRole" in body
    assert "HTTP 403" in body
    assert "AccessDenied" in body
    assert DENIED.request_id in body


def test_the_csv_carries_service_operation_status_code_and_request_id(user_client) -> None:  # type: ignore[no-untyped-def]
    services.audit_record(
        actor=None, action=AuditAction.GRANT_VERIFY, outcome=AuditOutcome.FAILURE, error=DENIED
    )
    services.audit_record(actor=None, action=AuditAction.ACCOUNT_UPDATE, message="=cmd()")
    rows = _csv_rows(user_client.get(reverse("audit_list"), {"format": "csv"}))
    failed = next(row for row in rows if row["action"] == AuditAction.GRANT_VERIFY)
    assert failed["service"] == "sts"
    assert failed["operation"] == "AssumeRole"
    assert failed["http_status"] == "403"
    assert failed["error_code"] == "AccessDenied"
    assert failed["request_id"] == DENIED.request_id
    edited = next(row for row in rows if row["action"] == AuditAction.ACCOUNT_UPDATE)
    assert edited["http_status"] == ""
    assert edited["message"] == "'=cmd()"


def test_the_request_id_filter_finds_exactly_that_call(user_client) -> None:  # type: ignore[no-untyped-def]
    services.audit_record(actor=None, action=AuditAction.GRANT_VERIFY, error=DENIED)
    services.audit_record(actor=None, action=AuditAction.ROLE_CREATE, request_id="other-request")
    response = user_client.get(reverse("audit_list"), {"request_id": f" {DENIED.request_id} "})
    events = list(response.context["page"].object_list)
    assert [e.request_id for e in events] == [DENIED.request_id]
    rows = _csv_rows(
        user_client.get(reverse("audit_list"), {"request_id": "other-request", "format": "csv"})
    )
    assert [row["request_id"] for row in rows] == ["other-request"]


def test_the_date_range_includes_both_days_whole_in_utc(user_client) -> None:  # type: ignore[no-untyped-def]
    day = datetime(2026, 3, 10, tzinfo=UTC)
    moments = {
        "before": day - timedelta(seconds=1),
        "first": day,
        "last": day + timedelta(days=2) - timedelta(seconds=1),
        "after": day + timedelta(days=2),
    }
    for name, moment in moments.items():
        _at(services.audit_record(actor=None, action="account.update", message=name), moment)
    response = user_client.get(
        reverse("audit_list"), {"since": "2026-03-10", "until": "2026-03-11"}
    )
    assert sorted(e.message for e in response.context["page"].object_list) == ["first", "last"]
    only_since = user_client.get(reverse("audit_list"), {"since": "2026-03-12"})
    assert [e.message for e in only_since.context["page"].object_list] == ["after"]


def test_a_date_range_that_ends_before_it_starts_is_not_applied_and_says_so(user_client) -> None:  # type: ignore[no-untyped-def]
    services.audit_record(actor=None, action="account.update", message="kept")
    response = user_client.get(
        reverse("audit_list"), {"since": "2026-03-12", "until": "2026-03-10"}
    )
    assert "ends before it starts" in response.content.decode()
    assert [e.message for e in response.context["page"].object_list] == ["kept"]


def test_a_date_that_is_not_one_is_not_applied_and_says_so(user_client) -> None:  # type: ignore[no-untyped-def]
    services.audit_record(actor=None, action="account.update", message="kept")
    response = user_client.get(reverse("audit_list"), {"since": "yesterday"})
    assert response.status_code == 200
    assert "The filters were not applied" in response.content.decode()


def test_the_audit_list_never_reads_grants(user_client, piyo, hoge) -> None:  # type: ignore[no-untyped-def]
    from tests.test_services_grants import draft

    grant = draft(piyo, hoge)
    grant.save()
    for _ in range(3):
        services.audit_record(actor=None, action="grant.verify", grant=grant, account=piyo)
    with CaptureQueriesContext(connection) as queries:
        body = user_client.get(reverse("audit_list")).content.decode()
    assert f"#{grant.pk}" in body
    assert piyo.name in body
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert '"grants_grant"' not in sql
    # Only the shown columns of the events: not their owners' whole accounts either.
    assert '"grants_awsaccount"."owner_email"' not in sql


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_the_first_and_last_representable_days_filter_without_error(user_client, day) -> None:  # type: ignore[no-untyped-def]
    services.audit_record(actor=None, action="account.update", message="kept")
    for name in ("since", "until"):
        response = user_client.get(reverse("audit_list"), {name: day})
        assert response.status_code == 200
    everything = user_client.get(
        reverse("audit_list"), {"since": "0001-01-01", "until": "9999-12-31"}
    )
    assert [e.message for e in everything.context["page"].object_list] == ["kept"]
