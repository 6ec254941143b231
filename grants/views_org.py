"""HTTP only, for accounts from AWS Organizations: list the organization of a registered
management or delegated-administrator account, register accounts or an OU, re-sync."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from .forms_org import OrganizationRegisterForm
from .models import AwsAccount
from .services import organization as org


def _listing_page(
    request: HttpRequest, source: AwsAccount, form: OrganizationRegisterForm
) -> HttpResponse:
    checked = form.data.getlist("account_ids") if form.is_bound else []
    context: dict[str, object] = {"account": source, "form": form, "checked": checked}
    try:
        context["listing"] = org.organization_accounts_list(source=source, actor=request.user)
    except org.OrganizationUnavailable as exc:
        context["error"], context["explanation"] = exc.detail, exc.explanation
    return render(request, "grants/organization_accounts.html", context)


@never_cache
@permission_required("grants.manage_account", raise_exception=True)
def organization_accounts(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the organization read live from the source account, with the register form."""
    source = get_object_or_404(AwsAccount, pk=pk)
    if not source.is_managed:
        messages.warning(request, f"{source} is external: the portal cannot read AWS there.")
        return redirect(source)
    form = OrganizationRegisterForm(
        initial={"hub_role_name": org.DEFAULT_HUB_ROLE, "default_region": source.default_region}
    )
    return _listing_page(request, source, form)


@permission_required("grants.manage_account", raise_exception=True)
@require_POST
def organization_register(request: HttpRequest, pk: int) -> HttpResponse:
    source = get_object_or_404(AwsAccount, pk=pk)
    form = OrganizationRegisterForm(request.POST)
    if not form.is_valid():
        return _listing_page(request, source, form)
    try:
        result = org.organization_accounts_register(
            source=source, actor=request.user, **form.cleaned_data
        )
    except ValidationError as exc:
        form.add_error(None, exc)
        return _listing_page(request, source, form)
    except org.OrganizationUnavailable as exc:
        messages.error(request, f"Nothing registered: {exc.explanation or exc.detail.message}")
        return redirect("organization_accounts", pk=source.pk)
    if result.created:
        messages.success(
            request,
            f"Registered {len(result.created)} account(s): "
            + ", ".join(str(account) for account in result.created)
            + ".",
        )
    if result.updated:
        messages.info(
            request,
            "Already registered, organization facts updated: "
            + ", ".join(str(account) for account in result.updated)
            + ".",
        )
    if result.skipped:
        messages.warning(
            request,
            "Left out: "
            + ", ".join(f"{account_id} ({why})" for account_id, why in result.skipped)
            + ".",
        )
    return redirect("organization_accounts", pk=source.pk)


@permission_required("grants.manage_account", raise_exception=True)
@require_POST
def organization_sync(request: HttpRequest, pk: int) -> HttpResponse:
    source = get_object_or_404(AwsAccount, pk=pk)
    result = org.organization_sync(source=source, actor=request.user)
    if result.error is not None:
        messages.error(
            request,
            f"Re-sync failed ({result.error.code or result.error.client_error}): "
            f"{result.explanation or result.error.message}",
        )
    else:
        messages.success(
            request,
            f"Re-synced organization {result.organization_id}: {len(result.changed)} account(s) "
            f"changed, {result.unchanged} unchanged, {len(result.left)} marked as left.",
        )
    return redirect("organization_accounts", pk=source.pk)
