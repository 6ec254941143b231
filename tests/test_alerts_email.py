"""Alert e-mails through a real SMTP server (aiosmtpd on 127.0.0.1): who gets what."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from alerts import mailbox, services
from alerts.mailbox import MailboxMessage
from alerts.models import Alert, AlertKind, Subscription, SubscriptionScope
from grants import aws
from grants import services as grants_services
from grants.models import Grant, GrantStatus, Verification, VerificationOutcome
from grants.services import authz

from .test_alerts_services import FAILED_STEP, saved_grant
from .test_services_grants import draft, provisioned

pytestmark = pytest.mark.django_db


def _group(name: str) -> Group:
    """A role's group, made again if an earlier test's flush emptied the table."""
    authz.roles_ensure()
    return Group.objects.get(name=name)


def smtp_settings(settings, host: str, port: int) -> None:  # type: ignore[no-untyped-def]
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": host, "port": port, "timeout": 5},
        }
    }


@pytest.fixture
def smtp(settings, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A real SMTP server on 127.0.0.1 that the portal sends through."""
    server = mailbox.mailbox_start(directory=tmp_path / "mail")
    smtp_settings(settings, server.host, server.port)
    settings.XACCT_PUBLIC_URL = "https://xacct.example.test"
    yield server
    server.stop()


def received(server: mailbox.MailServer) -> list[MailboxMessage]:
    found = mailbox.mailbox_messages(directory=server.directory)
    return [
        mailbox.mailbox_message(directory=server.directory, message_id=m.id)  # type: ignore[misc]
        for m in found
    ]


def person(django_user_model, name: str, email: str = "", role: str = "Viewers", **extra: Any):  # type: ignore[no-untyped-def]
    user = django_user_model.objects.create_user(
        name, email=email or f"{name}@corp.test", password="correct-horse-9", **extra
    )
    if role:
        user.groups.add(_group(role))
    return user


def fail(grant: Grant) -> Alert:
    verification = Verification.objects.create(
        grant=grant,
        actor_name="system",
        started_at=timezone.now(),
        outcome=VerificationOutcome.FAILED,
        steps=[FAILED_STEP],
    )
    alert = services.alert_grant_verified(grant=grant, verification=verification)
    assert alert is not None
    return alert


def test_a_grant_that_breaks_mails_the_failing_step_to_the_owners(
    aws_world, piyo, hoge, smtp, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    grant = provisioned(draft(piyo, hoge))
    # Someone detaches the role's permissions outside the portal.
    aws.role_policy_detach(
        piyo.access(), role_name=grant.role_name, policy_arn=grant.managed_policy_arns[0]
    )
    with django_capture_on_commit_callbacks(execute=True):
        verification = grants_services.grant_verify(grant=grant, actor=None)
    assert verification.outcome == VerificationOutcome.FAILED
    step = verification.failed_step
    assert step is not None

    alert = Alert.objects.get()
    assert alert.kind == AlertKind.GRANT_FAILING
    assert alert.email_recipients == ["hoge@example.com", "piyo@example.com"]
    assert alert.email_error == ""
    mails = received(smtp)
    assert sorted(m.to for m in mails) == ["hoge@example.com", "piyo@example.com"]
    mail = mails[0]
    assert mail.subject.startswith(f"[xacct] Grant started failing: {grant.role_name}")
    for text in (step["title"], step["explanation"], step["fix"]):
        assert text in mail.text
    link = f"https://xacct.example.test/grants/{grant.pk}/"
    assert link in mail.text and f'href="{link}"' in mail.html
    # No credential of any kind travels in an alert.
    for secret in [k for pair in aws_world.keys.values() for k in pair]:
        assert secret not in mail.text and secret not in mail.html


def test_subscriptions_choose_who_is_told(
    piyo, hoge, smtp, django_user_model, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    other = saved_grant(piyo, hoge, role_name="other")  # noqa: F841 (a grant nobody created)
    creator = person(django_user_model, "creator")
    grant = saved_grant(piyo, hoge, created_by=creator)
    subscribers = {
        "all": person(django_user_model, "all"),
        "mine": creator,
        "piyo": person(django_user_model, "piyo-watcher"),
        "failures": person(django_user_model, "failures"),
        "recoveries-off": person(django_user_model, "recoveries-off"),
    }
    Subscription.objects.create(user=subscribers["all"], scope=SubscriptionScope.ALL)
    Subscription.objects.create(user=creator, scope=SubscriptionScope.MINE)
    Subscription.objects.create(
        user=subscribers["piyo"], scope=SubscriptionScope.ACCOUNT, account=piyo
    )
    Subscription.objects.create(
        user=subscribers["failures"], scope=SubscriptionScope.ALL, failures_only=True
    )
    # Not told: another person's grants, another account, inactive, no e-mail, no role.
    bystander = person(django_user_model, "bystander")
    Subscription.objects.create(user=bystander, scope=SubscriptionScope.MINE)
    other_account = piyo.__class__.objects.create(
        account_id="999988887777", name="elsewhere", default_region="ap-northeast-1"
    )
    Subscription.objects.create(
        user=person(django_user_model, "elsewhere"),
        scope=SubscriptionScope.ACCOUNT,
        account=other_account,
    )
    for name, extra in (("gone", {"is_active": False}), ("noaddress", {})):
        user = person(django_user_model, name, **extra)
        if name == "noaddress":
            user.email = ""
            user.save()
        Subscription.objects.create(user=user, scope=SubscriptionScope.ALL)
    Subscription.objects.create(
        user=person(django_user_model, "norole", role=""), scope=SubscriptionScope.ALL
    )
    owners = ["hoge@example.com", "piyo@example.com"]

    with django_capture_on_commit_callbacks(execute=True):
        failing = fail(grant)
    failing.refresh_from_db()
    assert failing.email_recipients == sorted(
        [
            *owners,
            "all@corp.test",
            "creator@corp.test",
            "failures@corp.test",
            "piyo-watcher@corp.test",
        ]
    )

    recovery = Alert.objects.create(
        kind=AlertKind.GRANT_RECOVERED, title="ok", dedupe_key="r", grant=grant
    )
    assert services.alert_recipients(alert=recovery) == sorted(
        [*owners, "all@corp.test", "creator@corp.test", "piyo-watcher@corp.test"]
    )
    # One message per recipient: nobody sees another's address.
    assert sorted(m.to for m in received(smtp)) == failing.email_recipients


def test_an_address_subscribed_twice_or_owning_both_accounts_gets_one_message(
    piyo, hoge, smtp, django_user_model, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    hoge.owner_email = "PIYO@example.com"
    hoge.save()
    owner = person(django_user_model, "owner", email="piyo@example.com")
    Subscription.objects.create(user=owner, scope=SubscriptionScope.ALL)
    Subscription.objects.create(user=owner, scope=SubscriptionScope.ACCOUNT, account=hoge)
    grant = saved_grant(piyo, hoge)
    with django_capture_on_commit_callbacks(execute=True):
        alert = fail(grant)
    alert.refresh_from_db()
    assert [a.lower() for a in alert.email_recipients] == ["piyo@example.com"]
    assert len(received(smtp)) == 1


def test_smtp_down_records_the_error_retries_a_bounded_number_of_times_and_never_raises(
    piyo, hoge, settings, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp_settings(settings, "127.0.0.1", port)
    settings.XACCT_ALERT_EMAIL_ATTEMPTS = 3
    grant = saved_grant(piyo, hoge)
    with django_capture_on_commit_callbacks(execute=True):
        alert = fail(grant)
    alert.refresh_from_db()
    assert alert.email_recipients == []
    assert alert.email_error.startswith("Attempt 3 of 3")
    assert "giving up" in alert.email_error
    assert "piyo@example.com: ConnectionRefusedError" in alert.email_error
    assert alert.dispatched_at is not None
    assert Grant.objects.get(pk=grant.pk).status == GrantStatus.ACTIVE  # the change stands


class FlakyStore(mailbox._StoreHandler):
    """Refuses the first `failures` messages with a temporary error, then stores."""

    def __init__(self, directory: Path, failures: int) -> None:
        super().__init__(directory)
        self.failures = failures

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.failures > 0:
            self.failures -= 1
            return "451 Try again later"
        return await super().handle_DATA(server, session, envelope)


def test_a_refused_message_is_retried_and_then_delivered(
    piyo, hoge, settings, tmp_path, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    directory = tmp_path / "mail"
    directory.mkdir()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    controller = mailbox._BoundController(FlakyStore(directory, failures=1), sock)
    controller.start()
    try:
        smtp_settings(settings, "127.0.0.1", sock.getsockname()[1])
        grant = saved_grant(piyo, hoge)
        with django_capture_on_commit_callbacks(execute=True):
            alert = fail(grant)
    finally:
        controller.stop()
    alert.refresh_from_db()
    # Attempt 1 delivered to one owner and was refused for the other; attempt 2 sent only that.
    assert alert.email_error == ""
    assert sorted(alert.email_recipients) == ["hoge@example.com", "piyo@example.com"]
    assert sorted(m.to for m in mailbox.mailbox_messages(directory=directory)) == [
        "hoge@example.com",
        "piyo@example.com",
    ]


def test_a_retry_waits_on_the_database_queue(piyo, hoge, settings, task_queue) -> None:  # type: ignore[no-untyped-def]
    from django_tasks_db.models import DBTaskResult

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp_settings(settings, "127.0.0.1", port)
    settings.XACCT_ALERT_EMAIL_RETRY_SECONDS = 60
    grant = saved_grant(piyo, hoge)
    alert = fail(grant)
    services.alert_dispatch(alert_id=alert.pk, attempt=1)
    retry = DBTaskResult.objects.get(task_path="alerts.tasks.alert_dispatch_task")
    assert retry.args_kwargs["kwargs"] == {"alert_id": alert.pk, "attempt": 2}
    assert retry.run_after is not None
    assert 50 < (retry.run_after - timezone.now()).total_seconds() <= 60


def test_a_dispatch_run_twice_sends_once(
    piyo, hoge, smtp, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    grant = saved_grant(piyo, hoge)
    with django_capture_on_commit_callbacks(execute=True):
        alert = fail(grant)
    assert services.alert_dispatch(alert_id=alert.pk, attempt=1) is None
    assert len(received(smtp)) == 2


def test_the_dispatch_hands_the_alert_to_the_webhooks_once(
    piyo, hoge, task_queue, mailoutbox
) -> None:  # type: ignore[no-untyped-def]
    from alerts.models import WebhookDelivery
    from alerts.webhooks import webhook_create

    webhook, _secret = webhook_create(actor=None, name="ops", url="http://127.0.0.1:9/hook")
    grant = saved_grant(piyo, hoge)
    alert = fail(grant)
    services.alert_dispatch(alert_id=alert.pk, attempt=1)
    services.alert_dispatch(alert_id=alert.pk, attempt=1)  # the task run twice
    assert list(WebhookDelivery.objects.values_list("webhook", "alert")) == [(webhook.pk, alert.pk)]
    # Two owners, one message each, not one message to both.
    assert sorted(m.to[0] for m in mailoutbox) == ["hoge@example.com", "piyo@example.com"]
    assert all(len(m.to) == 1 and not m.cc and not m.bcc for m in mailoutbox)
