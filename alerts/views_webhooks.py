"""Webhook pages, for Account managers: HTTP only, the work is in alerts.webhooks.

The signing secret appears in exactly two responses: the one answering the
creation and the one answering a rotation. Neither is a redirect target nor
cached, and nothing else can render it (it is stored encrypted only).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from . import webhooks
from .forms_webhooks import WebhookForm
from .models import Webhook

DELIVERIES_PER_PAGE = 25
MANAGE = "grants.manage_account"


def _secret_page(
    request: HttpRequest, webhook: Webhook, secret: str, *, rotated: bool
) -> HttpResponse:
    response = render(
        request,
        "alerts/webhook_secret.html",
        {"webhook": webhook, "secret": secret, "rotated": rotated},
    )
    response["Cache-Control"] = "no-store"
    return response


@permission_required(MANAGE, raise_exception=True)
def webhook_list(request: HttpRequest) -> HttpResponse:
    return render(request, "alerts/webhook_list.html", {"webhooks": Webhook.objects.all()})


@permission_required(MANAGE, raise_exception=True)
@never_cache
def webhook_create(request: HttpRequest) -> HttpResponse:
    form = WebhookForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            webhook, secret = webhooks.webhook_create(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return _secret_page(request, webhook, secret, rotated=False)
    return render(request, "alerts/webhook_form.html", {"form": form, "webhook": None})


@permission_required(MANAGE, raise_exception=True)
def webhook_detail(request: HttpRequest, pk: int) -> HttpResponse:
    webhook = get_object_or_404(Webhook, pk=pk)
    deliveries = webhook.deliveries.select_related("alert")
    page = Paginator(deliveries, DELIVERIES_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "alerts/webhook_detail.html", {"webhook": webhook, "page": page})


@permission_required(MANAGE, raise_exception=True)
def webhook_edit(request: HttpRequest, pk: int) -> HttpResponse:
    webhook = get_object_or_404(Webhook, pk=pk)
    form = WebhookForm(request.POST or None, instance=Webhook.objects.get(pk=pk))
    if request.method == "POST" and form.is_valid():
        try:
            webhooks.webhook_update(webhook=webhook, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Saved webhook {webhook.name}.")
            return redirect(webhook)
    return render(request, "alerts/webhook_form.html", {"form": form, "webhook": webhook})


@permission_required(MANAGE, raise_exception=True)
def webhook_delete(request: HttpRequest, pk: int) -> HttpResponse:
    webhook = get_object_or_404(Webhook, pk=pk)
    if request.method == "POST":
        webhooks.webhook_delete(webhook=webhook, actor=request.user)
        messages.success(request, f"Deleted webhook {webhook.name} and its delivery log.")
        return redirect("webhook_list")
    return render(
        request,
        "alerts/webhook_delete.html",
        {"webhook": webhook, "delivery_count": webhook.deliveries.count()},
    )


@permission_required(MANAGE, raise_exception=True)
@require_POST
@never_cache
def webhook_rotate(request: HttpRequest, pk: int) -> HttpResponse:
    webhook = get_object_or_404(Webhook, pk=pk)
    secret = webhooks.webhook_rotate_secret(webhook=webhook, actor=request.user)
    return _secret_page(request, webhook, secret, rotated=True)


@permission_required(MANAGE, raise_exception=True)
@require_POST
def webhook_test(request: HttpRequest, pk: int) -> HttpResponse:
    webhook = get_object_or_404(Webhook, pk=pk)
    webhooks.webhook_send_test(webhook=webhook, actor=request.user)
    messages.success(
        request, f"Test event queued for {webhook.name}: its delivery appears in the log below."
    )
    return redirect(webhook)
