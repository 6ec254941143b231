"""HTTP only, for the pages that review what exists: discovery (POST/redirect/GET),
import and its completion, and the confirmation pages of Re-apply and Adopt."""

from __future__ import annotations

from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from . import aws, services
from .forms_import import GranteeCompletionForm
from .middleware import recent_authentication_required
from .models import AwsAccount, Grant, OperationState
from .services import discovery, drift

# One discovery run per account in the session: {"at": ISO time, "roles": [...]}.
_DISCOVERY_KEY = "discovery:{pk}"


@never_cache
@permission_required("grants.manage_grant", raise_exception=True)
def account_discover(request: HttpRequest, pk: int) -> HttpResponse:
    """POST runs discovery and redirects here; GET shows the last run (no AWS call).

    never_cache: Back must ask again, so a role imported meanwhile shows as a grant.
    """
    account = get_object_or_404(AwsAccount, pk=pk)
    key = _DISCOVERY_KEY.format(pk=account.pk)
    if request.method == "POST":
        try:
            roles = discovery.account_discover(account=account)
        except aws.AwsError as exc:
            # Shown at once: a failed run stores nothing to come back to.
            return render(
                request, "grants/account_discover.html", {"account": account, "error": exc.detail}
            )
        request.session[key] = {
            "at": timezone.now().isoformat(),
            "roles": discovery.discovery_results_store(roles=roles),
        }
        return redirect("account_discover", pk=account.pk)
    stored = request.session.get(key)
    context: dict[str, object] = {"account": account, "ran": stored is not None}
    if stored is not None:
        context["roles"] = discovery.discovery_results_load(account=account, stored=stored["roles"])
        context["ran_at"] = datetime.fromisoformat(stored["at"])
    return render(request, "grants/account_discover.html", context)


@permission_required("grants.manage_grant", raise_exception=True)
@require_POST
def account_import(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_object_or_404(AwsAccount, pk=pk)
    try:
        grant = discovery.grant_import(
            account=account, role_name=request.POST.get("role_name", ""), actor=request.user
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("account_discover", pk=account.pk)
    except aws.AwsError as exc:
        messages.error(request, f"Import failed: {exc.detail.message}")
        return redirect("account_discover", pk=account.pk)
    messages.success(
        request,
        f"Imported {grant.role_arn}. Next: name the grantee below, then run Test access.",
    )
    return redirect("grant_complete", pk=grant.pk)


@permission_required("grants.manage_grant", raise_exception=True)
def grant_complete(request: HttpRequest, pk: int) -> HttpResponse:
    """Name the grantee (type, name, user policy, local profile) of an imported grant."""
    grant = get_object_or_404(
        Grant.objects.select_related("trusting_account", "trusted_account"), pk=pk
    )
    if grant.imported_at is None:
        messages.info(request, "Only an imported grant is completed here.")
        return redirect(grant)
    form = GranteeCompletionForm(request.POST or None, grant=grant)
    if request.method == "POST" and form.is_valid():
        try:
            grant = discovery.grant_import_complete(
                grant=grant, actor=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        except aws.AwsError as exc:
            form.add_error(
                None,
                f"Could not read {exc.detail.service}:{exc.detail.operation}: "
                f"{exc.detail.code or exc.detail.client_error}: {exc.detail.message} "
                f"(request ID {exc.detail.request_id or '—'})",
            )
        else:
            messages.success(
                request,
                f"{grant.get_grantee_type_display()} {grant.grantee_name} is the grantee. "
                "Run Test access to check it.",
            )
            return redirect(grant)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "grants/grant_complete.html", {"grant": grant, "form": form}, status=status
    )


def _confirm_action(request: HttpRequest, pk: int, *, kind: str) -> HttpResponse:
    grant = get_object_or_404(
        Grant.objects.select_related("trusting_account", "trusted_account"), pk=pk
    )
    if request.method == "POST":
        start = services.grant_reapply if kind == "reapply" else services.grant_adopt_live
        try:
            grant = start(grant=grant, actor=request.user)
        except services.GrantBusy as exc:
            messages.warning(request, str(exc))
        except (ValueError, services.OperationRefused) as exc:
            messages.error(request, str(exc))
        else:
            op = grant.operations.order_by("-pk").first()
            if op is not None and op.state == OperationState.SUCCEEDED:
                messages.success(
                    request,
                    "The record now matches the live state."
                    if kind == "adopt"
                    else "Re-applied the recorded state.",
                )
            elif op is not None and op.is_open:
                messages.info(
                    request, f"{op.get_kind_display()} is under way: this page follows it."
                )
            elif op is not None:
                messages.error(request, f"{op.message} Details below.")
        return redirect(grant.get_absolute_url() + "#drift")
    context: dict[str, object] = {"grant": grant, "kind": kind}
    try:
        if kind == "reapply":
            context["plan"] = drift.reapply_plan(grant)
        else:
            context["changes"] = drift.adopt_preview(grant)
    except aws.AwsError as exc:
        context["error"] = exc.detail
    except ValueError as exc:
        context["refusal"] = str(exc)
    if services.open_operation(grant) is not None:
        context["busy"] = services.busy_message(grant)
    context["guardrail"] = services.guardrails.portal_access_refusal(
        account_id=grant.trusting_account.account_id,
        role_name=grant.role_name,
        doing="re-apply" if kind == "reapply" else "adopt",
    )
    context["action_url"] = reverse(f"grant_{kind}", args=[grant.pk])
    return render(request, "grants/grant_drift_confirm.html", context)


@permission_required("grants.manage_grant", raise_exception=True)
@recent_authentication_required
def grant_reapply(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the AWS calls that would make IAM match the record; POST: make them."""
    return _confirm_action(request, pk, kind="reapply")


@permission_required("grants.manage_grant", raise_exception=True)
@recent_authentication_required
def grant_adopt(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the recorded fields the live state would replace; POST: replace them."""
    return _confirm_action(request, pk, kind="adopt")
