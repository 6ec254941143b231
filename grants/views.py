"""HTTP only: bind the form, call one service, flash a message, redirect."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from formtools.wizard.views import SessionWizardView

from . import policies, services
from .forms import (
    AuditFilterForm,
    AwsAccountForm,
    GranteeStepForm,
    PermissionsStepForm,
    ReviewStepForm,
    RoleStepForm,
    TrustedStepForm,
)
from .models import (
    AccessMethod,
    AuditAction,
    AuditEvent,
    AuditOutcome,
    AwsAccount,
    Grant,
    GrantStatus,
)
from .selectors import LiveLookup

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


# --- grants ----------------------------------------------------------------------


def grant_list(request: HttpRequest) -> HttpResponse:
    grants = Grant.objects.select_related("trusting_account", "trusted_account")
    status = request.GET.get("status", "")
    if status in GrantStatus.values:
        grants = grants.filter(status=status)
    page = Paginator(grants, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "grants/grant_list.html",
        {"page": page, "status": status, "statuses": GrantStatus.choices},
    )


def grant_detail(request: HttpRequest, pk: int) -> HttpResponse:
    grant = get_object_or_404(
        Grant.objects.select_related("trusting_account", "trusted_account", "created_by"), pk=pk
    )
    return render(
        request,
        "grants/grant_detail.html",
        {
            "grant": grant,
            "documents": _documents(grant),
            "events": grant.audit_events.select_related("account")[:50],
            "can_retry": grant.status in (GrantStatus.FAILED, GrantStatus.PARTIAL),
        },
    )


@require_POST
def grant_retry(request: HttpRequest, pk: int) -> HttpResponse:
    grant = get_object_or_404(Grant, pk=pk)
    try:
        grant = services.grant_provision(grant=grant, actor=request.user)
    except services.GrantBusy as exc:
        messages.warning(request, str(exc))
    else:
        _flash_outcome(request, grant)
    return redirect(grant)


def _flash_outcome(request: HttpRequest, grant: Grant) -> None:
    if grant.status == GrantStatus.ACTIVE:
        messages.success(request, f"Created {grant.role_arn}.")
    elif grant.status == GrantStatus.PARTIAL:
        messages.error(
            request,
            "Provisioning failed and some calls could not be undone; the grant is partial. "
            "Details below; Retry finishes it.",
        )
    else:
        messages.error(request, "Provisioning failed; everything was rolled back. Details below.")


def _documents(grant: Grant) -> list[tuple[str, str, str]]:
    """(title, where it goes, JSON) for each document of the grant."""
    documents = [
        ("Trust policy", f"role {grant.role_name} in {grant.trusting_account}", grant.trust_policy)
    ]
    if grant.inline_policy:
        documents.append(
            (
                f"Permission policy {grant.inline_policy_name}",
                f"inline on role {grant.role_name}",
                grant.inline_policy,
            )
        )
    grantee = grant.grantee_name or "the grantee"
    documents.append(
        (
            f"User policy {grant.user_policy_name}",
            f"on {grant.get_grantee_type_display()} {grantee} in {grant.trusted_aws_account_id}",
            grant.user_policy,
        )
    )
    return [(title, where, policies.render(doc)) for title, where, doc in documents]


class GrantWizard(SessionWizardView):
    """The role-creation wizard: five validated steps, then one provisioning call."""

    form_list = [
        ("role", RoleStepForm),
        ("trusted", TrustedStepForm),
        ("permissions", PermissionsStepForm),
        ("grantee", GranteeStepForm),
        ("review", ReviewStepForm),
    ]
    template_name = "grants/grant_wizard.html"
    step_titles = {
        "role": "Trusting account and role",
        "trusted": "Trusted party",
        "permissions": "Permissions",
        "grantee": "Grantee",
        "review": "Review",
    }

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.lookup = LiveLookup()
        self._cleaned: dict[str, Any] = {}
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().get(request, *args, **kwargs)
        self.storage.extra_data = {"request_token": str(uuid.uuid4())}
        return response

    def cleaned(self, step: str) -> dict[str, Any]:
        if step not in self._cleaned:
            self._cleaned[step] = self.get_cleaned_data_for_step(step) or {}
        return self._cleaned[step]

    def get_form_kwargs(self, step: str | None = None) -> dict[str, Any]:
        if step == "role":
            return {"lookup": self.lookup}
        trusting = self.cleaned("role").get("trusting_account")
        if step == "trusted":
            return {"trusting_account": trusting}
        if step == "permissions":
            return {"trusting_account": trusting, "lookup": self.lookup}
        if step == "grantee":
            trusted = self.cleaned("trusted")
            return {
                "trusted_account": trusted.get("trusted_account"),
                "principal_arn": trusted.get("trusted_principal_arn", ""),
                "role_name": self.cleaned("role").get("role_name", ""),
                "lookup": self.lookup,
            }
        return {"draft": self.draft()}

    def draft(self) -> Grant | None:
        """The grant as reviewed, or None while an earlier step is incomplete."""
        role, trusted = self.cleaned("role"), self.cleaned("trusted")
        permissions, grantee = self.cleaned("permissions"), self.cleaned("grantee")
        if not (role and trusted and permissions and grantee):
            return None
        return services.grant_draft(
            trusting_account=role["trusting_account"],
            role_name=role["role_name"],
            role_path=role["role_path"],
            role_description=role["role_description"],
            trusted_account=trusted["trusted_account"],
            trusted_aws_account_id=trusted["trusted_aws_account_id"],
            trust_scope=trusted["trust_scope"],
            trusted_principal_arn=trusted["trusted_principal_arn"],
            external_id=trusted["external_id"],
            require_mfa=trusted["require_mfa"],
            permission_set=permissions["permission_set"],
            region=permissions["region"],
            max_session_duration=permissions["max_session_duration"],
            queue_names=permissions["queue_names"],
            queue_actions=permissions["queue_actions"],
            allow_list_queues=permissions["allow_list_queues"],
            custom_policy_arns=permissions["custom_policy_arns"],
            expires_at=permissions["expires_at"],
            grantee_type=grantee["grantee_type"],
            grantee_name=grantee["grantee_name"],
            user_policy_name=grantee["user_policy_name"],
            created_by=self.request.user,  # type: ignore[arg-type]
        )

    def get_context_data(self, form: Any, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(form=form, **kwargs)
        context["step_titles"] = [(name, self.step_titles[name]) for name in self.get_form_list()]
        context["step_title"] = self.step_titles[self.steps.current]
        if self.steps.current == "review":
            draft = form.draft
            context["draft"] = draft
            if draft is not None:
                context["documents"] = _documents(draft)
                context["plan"] = services.grant_plan(draft)
                context["warnings"] = services.grant_warnings(draft)
        return context

    def done(self, form_list: Any, **kwargs: Any) -> HttpResponse:
        draft = self.draft()
        if draft is None:  # pragma: no cover - formtools revalidated every step already
            return redirect("grant_create")
        token = self.storage.extra_data.get("request_token")
        draft.request_token = uuid.UUID(token) if token else uuid.uuid4()
        try:
            grant = services.grant_provision(grant=draft, actor=self.request.user)
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(self.request, message)
            return redirect("grant_create")
        _flash_outcome(self.request, grant)
        return redirect(grant)


grant_create = GrantWizard.as_view()
