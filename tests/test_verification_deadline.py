"""One total deadline: Test access answers in time with AWS hung, and says which step ran out."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from grants import aws, services
from grants.models import VerificationOutcome

from .test_aws_gateway import PIYO
from .test_verification_pipeline import provisioned

pytestmark = pytest.mark.django_db


def test_a_call_inside_a_deadline_gives_up_when_it_runs_out(
    moto_aws, settings, hung_endpoint
) -> None:  # type: ignore[no-untyped-def]
    settings.AWS_ENDPOINT_URL = hung_endpoint
    started = time.monotonic()
    with pytest.raises(aws.AwsError) as caught, aws.deadline(seconds=1.5):
        aws.caller_identity(PIYO)
    elapsed = time.monotonic() - started
    assert caught.value.detail.client_error == "DeadlineExceeded"
    assert "did not answer within 1.5 s" in caught.value.detail.message
    assert elapsed < 2.5


def test_a_call_after_the_deadline_is_not_made(moto_aws) -> None:  # type: ignore[no-untyped-def]
    sent: list[str] = []
    aws.gateway().events.register("before-send", lambda **kw: sent.append("sent"))
    with pytest.raises(aws.AwsError) as caught, aws.deadline(seconds=0.01):
        time.sleep(0.05)
        aws.caller_identity(PIYO)
    assert caught.value.detail.client_error == "DeadlineExceeded"
    assert sent == []


def test_a_nested_deadline_never_extends_the_outer_one() -> None:
    with aws.deadline(seconds=1) as outer, aws.deadline(seconds=30) as inner:
        assert inner is outer
        assert aws.current_deadline() is outer
    assert aws.current_deadline() is None


def test_threads_started_for_concurrent_reads_carry_the_deadline() -> None:
    seen: list[object] = []
    with aws.deadline(seconds=5) as limit:
        reads = aws.Concurrent(max_workers=4)
        for _ in range(4):
            reads.submit(aws.current_deadline, then=lambda value, error: seen.append(value))
        reads.run()
    assert seen == [limit] * 4


def test_test_access_answers_within_twelve_seconds_with_aws_hung(
    aws_world, piyo, hoge, settings, hung_endpoint, user_client
) -> None:  # type: ignore[no-untyped-def]
    grant = provisioned(piyo, hoge)
    settings.AWS_ENDPOINT_URL = hung_endpoint
    started = time.monotonic()
    response = user_client.post(reverse("grant_verify", args=[grant.pk]), HTTP_HX_REQUEST="true")
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert elapsed < 12
    verification = grant.verifications.get()
    assert verification.outcome == VerificationOutcome.FAILED
    steps = {step["key"]: step for step in verification.steps}
    errors = [s["error"]["client_error"] for s in verification.steps if s.get("error")]
    assert errors and set(errors) <= {"DeadlineExceeded", "ReadTimeoutError"}
    # The step that was waiting says it got no answer (a call's own read timeout, 4 s,
    # or the deadline's 10 s, whichever came first); the live listing never ran.
    assert "did not answer" in steps["trust"]["explanation"]
    assert steps["list_queues"]["status"] == "skip"


def test_the_deadline_is_a_setting(aws_world, piyo, hoge, settings, hung_endpoint) -> None:  # type: ignore[no-untyped-def]
    grant = provisioned(piyo, hoge)
    settings.AWS_ENDPOINT_URL = hung_endpoint
    settings.XACCT_VERIFY_DEADLINE_SECONDS = 2
    started = time.monotonic()
    verification = services.grant_verify(grant=grant, actor=None)
    assert time.monotonic() - started < 3.5
    steps = {step["key"]: step for step in verification.steps}
    assert steps["trust"]["error"]["client_error"] == "DeadlineExceeded"
    assert "did not answer within 2 s" in steps["trust"]["explanation"]
    assert steps["list_queues"]["summary"] == "Not run: the deadline ran out before it."


def test_timeouts_are_cut_to_the_time_left_and_retries_dropped(moto_aws, settings) -> None:  # type: ignore[no-untyped-def]
    aws.caller_identity(PIYO)  # hub-role credentials cached: no call while choosing a client
    with aws.deadline(seconds=60):
        roomy = aws.gateway().client(PIYO, "sqs").meta.config
    with aws.deadline(seconds=1.6):
        tight = aws.gateway().client(PIYO, "sqs").meta.config
    assert (roomy.connect_timeout, roomy.read_timeout) == (
        settings.AWS_CONNECT_TIMEOUT,
        settings.AWS_READ_TIMEOUT,
    )
    assert roomy.retries["total_max_attempts"] == settings.AWS_TOTAL_MAX_ATTEMPTS
    assert tight.connect_timeout <= 1.5 and tight.read_timeout <= 1.5
    assert tight.retries["total_max_attempts"] == 1


def test_a_verification_under_its_deadline_reuses_the_cached_clients(
    enforcing, piyo, hoge, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from grants.aws import sandbox

    grant = provisioned(piyo, hoge, grantee_profile=sandbox.GRANTEE_PROFILE)
    services.grant_verify(grant=grant, actor=None)  # warm: credentials and clients
    made: list[str] = []
    original = aws.core._Gateway._new_client

    def counting(self, service, *args, **kwargs):  # type: ignore[no-untyped-def]
        made.append(service)
        return original(self, service, *args, **kwargs)

    monkeypatch.setattr(aws.core._Gateway, "_new_client", counting)
    verification = services.grant_verify(grant=grant, actor=None)
    assert verification.passed
    # Only the client for the fresh temporary credentials (ListQueues) is new.
    assert made == ["sqs"]
