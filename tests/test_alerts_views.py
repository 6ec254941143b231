"""Alerts over HTTP: the recent alerts, a person's subscriptions, the sandbox's Mail page."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from django.contrib.auth.models import Group
from django.core.mail import EmailMultiAlternatives, mailers
from django.urls import reverse
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from alerts import mailbox
from alerts.models import Alert, AlertKind, Subscription, SubscriptionScope
from grants.services import authz

from . import test_http_fuzz as http_fuzz
from .test_http_fuzz import FUZZ, assert_answered, checkbox, integers, text

fuzz_client = http_fuzz.fuzz_client  # the HTTP fuzz's logged-in superuser, tasks queued

pytestmark = pytest.mark.django_db


def _group(name: str) -> Group:
    """A role's group, made again if an earlier test's flush emptied the table."""
    authz.roles_ensure()
    return Group.objects.get(name=name)


FUZZ_SETTINGS = hypothesis_settings(FUZZ, max_examples=150)


def make_alert(n: int, kind: str = AlertKind.GRANT_FAILING, **fields: object) -> Alert:
    return Alert.objects.create(
        kind=kind, title=f"alert number {n:03d}", dedupe_key=f"k{n}", **fields
    )


def test_the_alert_list_needs_a_role(client, django_user_model) -> None:  # type: ignore[no-untyped-def]
    nobody = django_user_model.objects.create_user("nobody", password="correct-horse-9")
    client.force_login(nobody)
    assert client.get(reverse("alert_list")).status_code == 403
    nobody.groups.add(_group(authz.VIEWERS))
    assert client.get(reverse("alert_list")).status_code == 200


def test_the_alert_list_is_newest_first_paginated_and_filtered(user_client) -> None:  # type: ignore[no-untyped-def]
    for n in range(30):
        make_alert(n)
    make_alert(99, kind=AlertKind.GRANT_RECOVERED, email_error="Attempt 3 of 3: refused")
    make_alert(100, email_recipients=["bob@corp.test", "carol@corp.test"])
    body = user_client.get(reverse("alert_list")).content.decode()
    assert body.index("alert number 099") < body.index("alert number 029")
    assert "alert number 005" not in body  # on page 2
    assert "Page 1 of 2" in body
    assert "Attempt 3 of 3: refused" in body
    # How many were told, not who: one reader does not learn the others' addresses.
    assert "2 addresses" in body and "bob@corp.test" not in body
    assert (
        "alert number 005" in user_client.get(reverse("alert_list"), {"page": 2}).content.decode()
    )
    body = user_client.get(reverse("alert_list"), {"kind": "grant.recovered"}).content.decode()
    assert "alert number 099" in body and "alert number 029" not in body


def test_the_alert_list_says_when_there_is_none(user_client) -> None:  # type: ignore[no-untyped-def]
    body = user_client.get(reverse("alert_list")).content.decode()
    assert 'data-testid="no-alerts"' in body


def test_settings_start_empty_and_add_a_subscription(user_client) -> None:  # type: ignore[no-untyped-def]
    url = reverse("alert_settings")
    body = user_client.get(url).content.decode()
    assert 'data-testid="no-subscriptions"' in body
    assert 'data-testid="no-email"' in body  # alice has no address yet

    response = user_client.post(url, {"scope": "mine", "failures_only": "on"}, follow=True)
    assert "Subscribed." in response.content.decode()
    subscription = Subscription.objects.get()
    assert (subscription.user, subscription.scope, subscription.failures_only) == (
        user_client.user,
        SubscriptionScope.MINE,
        True,
    )
    assert "Grants I created" in response.content.decode()


def test_settings_refuse_duplicates_and_a_misplaced_account(user_client, piyo) -> None:  # type: ignore[no-untyped-def]
    url = reverse("alert_settings")
    user_client.post(url, {"scope": "all"})
    again = user_client.post(url, {"scope": "all"})
    assert again.status_code == 400
    assert "You already have this subscription." in again.content.decode()

    missing = user_client.post(url, {"scope": "account"})
    assert "Choose the account whose grants you want to hear about." in missing.content.decode()
    misplaced = user_client.post(url, {"scope": "all", "account": piyo.pk, "failures_only": "on"})
    assert "An account is used only with" in misplaced.content.decode()
    assert Subscription.objects.count() == 1

    user_client.post(url, {"scope": "account", "account": piyo.pk})
    assert Subscription.objects.filter(account=piyo).count() == 1


def test_a_subscription_is_deleted_after_confirmation_and_only_by_its_owner(
    user_client, django_user_model
) -> None:  # type: ignore[no-untyped-def]
    mine = Subscription.objects.create(user=user_client.user, scope=SubscriptionScope.ALL)
    other = django_user_model.objects.create_user("bob", password="correct-horse-9")
    theirs = Subscription.objects.create(user=other, scope=SubscriptionScope.ALL)

    confirm = user_client.get(reverse("subscription_delete", args=[mine.pk]))
    assert "Delete this subscription?" in confirm.content.decode()
    assert Subscription.objects.filter(pk=mine.pk).exists()
    user_client.post(reverse("subscription_delete", args=[mine.pk]))
    assert not Subscription.objects.filter(pk=mine.pk).exists()

    assert user_client.post(reverse("subscription_delete", args=[theirs.pk])).status_code == 404
    assert Subscription.objects.filter(pk=theirs.pk).exists()


# -- the sandbox's Mail page ---------------------------------------------------------------


@pytest.fixture
def sandbox_mail(settings, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The sandbox's SMTP server on 127.0.0.1, the portal sending through it."""
    server = mailbox.mailbox_start(directory=tmp_path / "mail")
    settings.XACCT_SANDBOX_MAIL_DIR = server.directory
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": server.host, "port": server.port, "timeout": 5},
        }
    }
    yield server
    server.stop()


def send(subject: str, html: str) -> None:
    message = EmailMultiAlternatives(subject, "plain <text> part", "xacct@localhost", ["a@x.test"])
    message.attach_alternative(html, "text/html")
    mailers.default.send_messages([message])


def test_the_mail_page_is_a_404_outside_the_sandbox(user_client, sandbox_mail, settings) -> None:  # type: ignore[no-untyped-def]
    send("first", "<p>hi</p>")
    settings.AWS_SANDBOX = False
    message_id = mailbox.mailbox_messages(directory=sandbox_mail.directory)[0].id
    assert user_client.get(reverse("sandbox_mail")).status_code == 404
    assert user_client.get(reverse("sandbox_mail_message", args=[message_id])).status_code == 404
    assert user_client.get(reverse("sandbox_mail_html", args=[message_id])).status_code == 404
    assert reverse("sandbox_mail") not in user_client.get(reverse("alert_list")).content.decode()


def test_the_mail_page_lists_what_the_smtp_server_received_newest_first(
    user_client, sandbox_mail, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.AWS_SANDBOX = True
    body = user_client.get(reverse("sandbox_mail")).content.decode()
    assert 'data-testid="no-mail"' in body
    send("older message", "<p>one</p>")
    send("newer message", "<p>two</p>")
    body = user_client.get(reverse("sandbox_mail")).content.decode()
    assert body.index("newer message") < body.index("older message")
    assert "a@x.test" in body


def test_a_mail_message_shows_its_html_escaped_and_framed_under_a_sandbox_csp(
    user_client, sandbox_mail, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.AWS_SANDBOX = True
    send("hostile", '<p>hi</p><script>alert("x")</script>')
    message_id = mailbox.mailbox_messages(directory=sandbox_mail.directory)[0].id
    body = user_client.get(reverse("sandbox_mail_message", args=[message_id])).content.decode()
    assert "<script>alert" not in body
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body
    assert "plain &lt;text&gt; part" in body
    assert 'sandbox=""' in body

    framed = user_client.get(reverse("sandbox_mail_html", args=[message_id]))
    assert framed["Content-Security-Policy"].startswith("sandbox; default-src 'none'")
    assert framed["X-Frame-Options"] == "SAMEORIGIN"
    assert "<script>" in framed.content.decode()  # inert: the CSP sandbox forbids scripts


def test_the_mail_page_needs_a_role_like_every_page(
    client, django_user_model, sandbox_mail, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.AWS_SANDBOX = True
    nobody = django_user_model.objects.create_user("nobody", password="correct-horse-9")
    client.force_login(nobody)
    assert client.get(reverse("sandbox_mail")).status_code == 403
    nobody.groups.add(_group(authz.VIEWERS))
    assert client.get(reverse("sandbox_mail")).status_code == 200


def test_a_mail_id_that_is_not_one_is_a_404(user_client, sandbox_mail, settings) -> None:  # type: ignore[no-untyped-def]
    settings.AWS_SANDBOX = True
    for bad in ("..%2F..%2Fsettings", "20260101T000000000000-" + "z" * 32, "x"):
        assert user_client.get(f"/sandbox/mail/{bad}/").status_code == 404


# -- no input gets a 5xx -------------------------------------------------------------------


@FUZZ_SETTINGS
@given(
    scope=st.one_of(st.sampled_from(["all", "mine", "account", ""]), text),
    account=st.one_of(integers, text),
    failures_only=checkbox,
)
def test_no_subscription_post_gets_a_5xx(fuzz_client, scope, account, failures_only) -> None:  # type: ignore[no-untyped-def]
    data = {"scope": scope, "account": account, "failures_only": failures_only}
    assert_answered(fuzz_client.post(reverse("alert_settings"), data))


@FUZZ_SETTINGS
@given(kind=text, page=st.one_of(integers, text), message_id=text)
def test_no_alert_list_query_or_mail_id_gets_a_5xx(  # type: ignore[no-untyped-def]
    fuzz_client, settings, kind, page, message_id
) -> None:
    settings.AWS_SANDBOX = True
    assert_answered(fuzz_client.get(reverse("alert_list"), {"kind": kind, "page": page}))
    assert_answered(fuzz_client.get("/sandbox/mail/" + quote(message_id, safe="") + "/"))
