"""HTTP only: bind the form, call one service, flash a message, redirect."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from . import services
from .forms import AuditFilterForm, AwsAccountForm
from .models import AccessMethod, AuditAction, AuditEvent, AuditOutcome, AwsAccount

PAGE_SIZE = 25


def dashboard(request: HttpRequest) -> HttpResponse:
    accounts = AwsAccount.objects.all()
    return render(
        request,
        "grants/dashboard.html",
        {
            "account_count": accounts.count(),
            "failing_accounts": accounts.filter(last_check_ok=False),
            "unchecked_count": accounts.filter(last_check_ok__isnull=True).count(),
            "recent_events": AuditEvent.objects.select_related("account")[:10],
        },
    )


def account_list(request: HttpRequest) -> HttpResponse:
    accounts = AwsAccount.objects.all()
    query = request.GET.get("q", "").strip()
    if query:
        accounts = accounts.filter(
            Q(name__icontains=query)
            | Q(account_id__contains=query)
            | Q(owner_email__icontains=query)
        )
    page = Paginator(accounts, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "grants/account_list.html", {"page": page, "query": query})


def account_detail(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_object_or_404(AwsAccount, pk=pk)
    events = account.audit_events.all()[:20]
    return render(request, "grants/account_detail.html", {"account": account, "events": events})


def account_create(request: HttpRequest) -> HttpResponse:
    form = AwsAccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            account = services.account_create(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Registered {account}.")
            return redirect(account)
    return render(request, "grants/account_form.html", {"form": form, "account": None})


def account_edit(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_object_or_404(AwsAccount, pk=pk)
    form = AwsAccountForm(request.POST or None, instance=AwsAccount.objects.get(pk=pk))
    if request.method == "POST" and form.is_valid():
        try:
            services.account_update(account=account, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Saved {account}.")
            return redirect(account)
    return render(request, "grants/account_form.html", {"form": form, "account": account})


@require_POST
def account_check(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_object_or_404(AwsAccount, pk=pk)
    if account.access_method == AccessMethod.EXTERNAL:
        messages.warning(request, f"{account} is external: the portal does not act there.")
        return redirect(account)
    account = services.account_check(account=account, actor=request.user)
    if account.last_check_ok:
        messages.success(request, f"Connected to {account.name} as {account.last_check_arn}.")
    else:
        messages.error(request, f"Could not connect to {account.name}; details below.")
    return redirect(account)


def audit_list(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    events = AuditEvent.objects.select_related("account")
    if form.is_valid():
        if form.cleaned_data["account"]:
            events = events.filter(account=form.cleaned_data["account"])
        if form.cleaned_data["action"]:
            events = events.filter(action=form.cleaned_data["action"])
        if form.cleaned_data["outcome"]:
            events = events.filter(outcome=form.cleaned_data["outcome"])
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "grants/audit_list.html",
        {
            "page": page,
            "form": form,
            "actions": AuditAction.choices,
            "outcomes": AuditOutcome.choices,
            "accounts": AwsAccount.objects.only("pk", "name", "account_id"),
        },
    )
