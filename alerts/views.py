"""Alerts over HTTP: recent alerts, a person's subscriptions, the sandbox's Mail page."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET

from . import mailbox, services
from .forms import SubscriptionForm
from .models import Alert, AlertKind, Subscription

PAGE_SIZE = 25
# The Mail page shows an e-mail's HTML in a sandboxed frame: no script, no form, no
# request anywhere (inline styles only, as mail clients allow).
MAIL_HTML_CSP = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
)


@permission_required("grants.view_grant", raise_exception=True)
def alert_list(request: HttpRequest) -> HttpResponse:
    alerts = Alert.objects.select_related("grant__trusting_account", "account")
    kind = request.GET.get("kind", "")
    if kind in AlertKind.values:
        alerts = alerts.filter(kind=kind)
    page = Paginator(alerts, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "alerts/alert_list.html",
        {"page": page, "kinds": AlertKind.choices, "kind": kind},
    )


@permission_required("grants.view_grant", raise_exception=True)
def alert_settings(request: HttpRequest) -> HttpResponse:
    """The person's own subscriptions: the list, and a form that adds one."""
    form = SubscriptionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.subscription_create(user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Subscribed. Alerts will be e-mailed to you.")
            return redirect("alert_settings")
    subscriptions = Subscription.objects.filter(user=request.user).select_related("account")
    return render(
        request,
        "alerts/alert_settings.html",
        {"form": form, "subscriptions": subscriptions, "email": request.user.email},
        status=400 if request.method == "POST" else 200,
    )


@permission_required("grants.view_grant", raise_exception=True)
def subscription_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Confirm, then delete one of the person's own subscriptions (others' are a 404)."""
    subscription = get_object_or_404(Subscription, pk=pk, user=request.user)
    if request.method == "POST":
        services.subscription_delete(subscription=subscription, user=request.user)
        messages.success(request, "Subscription deleted.")
        return redirect("alert_settings")
    return render(request, "alerts/subscription_delete.html", {"subscription": subscription})


def _sandbox_only() -> None:
    if not settings.AWS_SANDBOX:
        raise Http404("The Mail page exists only in the sandbox.")


@permission_required("grants.view_grant", raise_exception=True)
@require_GET
def sandbox_mail(request: HttpRequest) -> HttpResponse:
    """What the sandbox's SMTP server received, newest first (sandbox only)."""
    _sandbox_only()
    found = mailbox.mailbox_messages(directory=mailbox.mailbox_dir())
    return render(request, "alerts/sandbox_mail.html", {"mail": found})


@permission_required("grants.view_grant", raise_exception=True)
@require_GET
def sandbox_mail_message(request: HttpRequest, message_id: str) -> HttpResponse:
    _sandbox_only()
    message = mailbox.mailbox_message(directory=mailbox.mailbox_dir(), message_id=message_id)
    if message is None:
        raise Http404("No such message.")
    return render(request, "alerts/sandbox_mail_message.html", {"message": message})


@permission_required("grants.view_grant", raise_exception=True)
@require_GET
@xframe_options_sameorigin
def sandbox_mail_html(request: HttpRequest, message_id: str) -> HttpResponse:
    """An e-mail's HTML part for the Mail page's frame, under a CSP sandbox of its own."""
    _sandbox_only()
    message = mailbox.mailbox_message(directory=mailbox.mailbox_dir(), message_id=message_id)
    if message is None or not message.html:
        raise Http404("No such message.")
    response = HttpResponse(message.html, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = MAIL_HTML_CSP
    return response
