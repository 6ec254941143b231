"""HTTP only: bind the form, call one service, flash a message, redirect."""

from __future__ import annotations

import csv
import time
import uuid
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Page, Paginator
from django.db.models import Count, F, Q
from django.db.models.functions import Lower
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from formtools.wizard.views import SessionWizardView

from . import aws, handoff, history_chart, policies, selectors, services
from .forms import (
    AuditFilterForm,
    AwsAccountForm,
    GranteeStepForm,
    GrantExpiryForm,
    PermissionsStepForm,
    ReauthenticateForm,
    ReviewStepForm,
    RoleStepForm,
    TrustedStepForm,
)
from .middleware import AUTHENTICATED, has_recent_authentication, recent_authentication_required
from .models import (
    AccessMethod,
    AuditAction,
    AuditEvent,
    AuditOutcome,
    AwsAccount,
    BatchItemState,
    Grant,
    GrantStatus,
    OperationKind,
    OperationState,
    Verification,
    VerificationBatch,
)
from .selectors import LiveLookup, background_work

PAGE_SIZE = 25
_MAX_ID = 2**63 - 1
BATCH_STALL_AFTER = timedelta(seconds=60)


def _ids(values: list[str]) -> list[int]:
    """Primary keys from request input; anything else is dropped."""
    ids = []
    for value in values:
        try:
            number = int(value)
        except (TypeError, ValueError):
            continue
        if 0 < number <= _MAX_ID:
            ids.append(number)
    return ids


def _page(request: HttpRequest, items: Any) -> Page:
    """The page of `items` that `?page=` asks for (PAGE_SIZE a page).

    A page number that is not one, or out of range, shows the nearest page
    (Paginator.get_page) and says so, rather than failing.
    """
    paginator = Paginator(items, PAGE_SIZE)
    asked = request.GET.get("page", "").strip()
    page = paginator.get_page(asked)
    if asked and asked != str(page.number):
        messages.warning(
            request,
            f"There is no page {asked[:20]}; showing page {page.number} of {paginator.num_pages}.",
        )
    return page


@permission_required("grants.view_grant", raise_exception=True)
def dashboard(request: HttpRequest) -> HttpResponse:
    live = Grant.objects.filter(status__in=VERIFIABLE)
    soon = timezone.now() + EXPIRING_WITHIN
    counts = live.aggregate(
        active=Count("pk", filter=Q(status=GrantStatus.ACTIVE)),
        failing=Count("pk", filter=Q(status=GrantStatus.FAILING) | Q(last_verification_ok=False)),
        # The same filters as the grant list's ?attention=, where the cards link.
        unverified=Count("pk", filter=_attention("unverified")),
        expiring=Count("pk", filter=_attention("expiring")),
    )
    accounts = AwsAccount.objects.all()
    return render(
        request,
        "grants/dashboard.html",
        {
            "counts": counts,
            "expiring": live.filter(expires_at__lte=soon)
            .select_related("trusting_account")
            .order_by("expires_at")[:10],
            "account_count": accounts.count(),
            "failing_accounts": accounts.filter(last_check_ok=False),
            "recent_verifications": Verification.objects.select_related(
                "grant", "grant__trusting_account"
            )[:10],
            "recent_events": AuditEvent.objects.select_related("account")[:10],
            "background": background_work(),
            "access_map": selectors.access_map_data(),
            "daily": history_chart.daily_chart(selectors.verification_daily_counts()),
            "daily_tz": timezone.get_current_timezone_name(),
        },
    )


@permission_required("grants.view_awsaccount", raise_exception=True)
def account_list(request: HttpRequest) -> HttpResponse:
    accounts = AwsAccount.objects.all()
    query = request.GET.get("q", "").strip()
    if query:
        accounts = accounts.filter(
            Q(name__icontains=query)
            | Q(account_id__contains=query)
            | Q(owner_email__icontains=query)
        )
    # OU path filter, by prefix at a path boundary: "Root/Workloads" takes in
    # Root/Workloads/Prod and Root/Workloads/Dev, not Root/WorkloadsOld.
    ou = request.GET.get("ou", "").strip().rstrip("/")
    if ou:
        accounts = accounts.filter(Q(ou_path=ou) | Q(ou_path__startswith=f"{ou}/"))
    ou_paths: set[str] = set()
    for path in AwsAccount.objects.exclude(ou_path="").values_list("ou_path", flat=True):
        parts = path.split("/")
        ou_paths.update("/".join(parts[: n + 1]) for n in range(len(parts)))
    page = _page(request, accounts)
    return render(
        request,
        "grants/account_list.html",
        {"page": page, "query": query, "ou": ou, "ou_paths": sorted(ou_paths)},
    )


@permission_required("grants.view_awsaccount", raise_exception=True)
def account_detail(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_object_or_404(AwsAccount, pk=pk)
    events = account.audit_events.all()[:20]
    return render(request, "grants/account_detail.html", {"account": account, "events": events})


@permission_required("grants.manage_account", raise_exception=True)
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


@permission_required("grants.manage_account", raise_exception=True)
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


@permission_required("grants.manage_account", raise_exception=True)
@require_POST
def account_check(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_object_or_404(AwsAccount, pk=pk)
    if account.access_method == AccessMethod.EXTERNAL:
        messages.warning(request, f"{account} is external: the portal does not act there.")
        return redirect(account)
    account = services.account_check(account=account, actor=request.user)
    if account.last_check_ok:
        messages.success(request, f"Connected to {account.name} as {account.last_check_arn}.")
    elif account.last_check_arn:
        messages.error(
            request,
            f"AWS answered as {account.last_check_arn}, which is not in {account.name} "
            f"({account.account_id}); details below.",
        )
    else:
        messages.error(request, f"Could not connect to {account.name}; details below.")
    return redirect(account)


AUDIT_CSV_COLUMNS = [
    "created_at",
    "actor_name",
    "action",
    "outcome",
    "account",
    "grant",
    "target_arn",
    "service",
    "operation",
    "http_status",
    "request_id",
    "error_code",
    "message",
]
# What the audit table shows, and all the list reads: never the whole grant or account.
AUDIT_LIST_FIELDS = (
    "created_at",
    "actor_name",
    "action",
    "outcome",
    "account__name",
    "grant_id",
    "target_arn",
    "service",
    "operation",
    "http_status",
    "request_id",
    "error_code",
    "message",
)


def _day_start(day: date) -> datetime:
    """Midnight at the start of `day` in the portal's time zone (UTC)."""
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


@permission_required("grants.view_auditevent", raise_exception=True)
def audit_list(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    events = AuditEvent.objects.select_related("account").only(*AUDIT_LIST_FIELDS)
    if form.is_valid():
        data = form.cleaned_data
        if data["account"]:
            events = events.filter(account=data["account"])
        if data["grant"]:
            events = events.filter(grant_id=data["grant"])
        if data["actor"]:
            events = events.filter(actor_name__iexact=data["actor"])
        if data["action"]:
            events = events.filter(action=data["action"])
        if data["outcome"]:
            events = events.filter(outcome=data["outcome"])
        if data["request_id"].strip():
            events = events.filter(request_id=data["request_id"].strip())
        if data["since"]:
            events = events.filter(created_at__gte=_day_start(data["since"]))
        if data["until"] and data["until"] < date.max:
            events = events.filter(created_at__lt=_day_start(data["until"] + timedelta(days=1)))
    elif form.is_bound:
        problems = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())
        messages.warning(request, f"The filters were not applied ({problems}).")
    if request.GET.get("format") == "csv":
        return _audit_csv(events)
    page = _page(request, events)
    export = request.GET.copy()
    export["format"] = "csv"
    export.pop("page", None)
    return render(
        request,
        "grants/audit_list.html",
        {
            "page": page,
            "form": form,
            "actions": AuditAction.choices,
            "outcomes": AuditOutcome.choices,
            "accounts": AwsAccount.objects.only("pk", "name", "account_id"),
            "export_query": export.urlencode(),
        },
    )


def _audit_csv(events: Any) -> StreamingHttpResponse:
    """Every matching event, streamed, oldest first."""

    class Echo:
        def write(self, value: str) -> str:
            return value

    writer = csv.writer(Echo())
    rows_of = events.select_related(None).values_list(
        "created_at",
        "actor_name",
        "action",
        "outcome",
        "account__account_id",
        "grant_id",
        "target_arn",
        "service",
        "operation",
        "http_status",
        "request_id",
        "error_code",
        "message",
    )

    def rows() -> Any:
        yield writer.writerow(AUDIT_CSV_COLUMNS)
        for row in rows_of.order_by("created_at", "pk").iterator(chunk_size=500):
            created_at, *middle, message = row
            yield writer.writerow(
                [
                    created_at.isoformat(),
                    *("" if value is None else value for value in middle),
                    # Neutralise spreadsheet formulas in free text.
                    ("'" + message) if message[:1] in "=+-@" else message,
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="xacct-audit.csv"'
    return response


# --- grants ----------------------------------------------------------------------


GRANT_SORTS = {
    "newest": F("created_at").desc(),
    "oldest": F("created_at").asc(),
    # As people read names: "Orders" next to "orders", not after every lower-case name.
    "role": Lower("role_name").asc(),
    "status": F("status").asc(),
    # A grant that never expires comes after every grant that does.
    "expiry": F("expires_at").asc(nulls_last=True),
    "verified": F("last_verified_at").desc(nulls_last=True),
}
EXPIRING_WITHIN = timedelta(days=7)
# The dashboard's cards, as grant list filters: (description, live grants matching).
GRANT_ATTENTION = {
    "unverified": "Live grants never verified",
    "expiring": f"Live grants expiring within {EXPIRING_WITHIN.days} days",
}


def _attention(kind: str) -> Q:
    """The live grants a dashboard card counts: never verified, or expiring soon."""
    live = Q(status__in=VERIFIABLE)
    if kind == "unverified":
        return live & Q(last_verified_at__isnull=True)
    return live & Q(expires_at__lte=timezone.now() + EXPIRING_WITHIN)


@permission_required("grants.view_grant", raise_exception=True)
def grant_list(request: HttpRequest) -> HttpResponse:
    grants = Grant.objects.select_related("trusting_account", "trusted_account")
    status = request.GET.get("status", "")
    if status in GrantStatus.values:
        grants = grants.filter(status=status)
    attention = request.GET.get("attention", "")
    if attention in GRANT_ATTENTION:
        grants = grants.filter(_attention(attention))
    else:
        attention = ""
    map_filter = selectors.grant_map_filter(
        trusting=request.GET.get("trusting", ""),
        trusted=request.GET.get("trusted", ""),
        health=request.GET.get("health", ""),
    )
    grants = grants.filter(map_filter.q)
    account = request.GET.get("account", "")
    for account_pk in _ids([account]):
        grants = grants.filter(Q(trusting_account_id=account_pk) | Q(trusted_account_id=account_pk))
    if account and not _ids([account]):
        messages.warning(request, "The account filter names no account; it was ignored.")
        account = ""
    query = request.GET.get("q", "").strip()
    if query:
        grants = grants.filter(
            Q(role_name__icontains=query)
            | Q(role_arn__icontains=query)
            | Q(grantee_name__icontains=query)
            | Q(trusted_aws_account_id__contains=query)
            | Q(trusting_account__name__icontains=query)
        )
    sort = request.GET.get("sort", "newest")
    if sort not in GRANT_SORTS:
        sort = "newest"
    grants = grants.order_by(GRANT_SORTS[sort], "-pk")
    page = _page(request, grants)
    return render(
        request,
        "grants/grant_list.html",
        {
            "page": page,
            "status": status,
            "statuses": GrantStatus.choices,
            "attention": attention,
            "attention_label": GRANT_ATTENTION.get(attention, ""),
            "account": account,
            "accounts": AwsAccount.objects.only("pk", "name", "account_id"),
            "query": query,
            "sort": sort,
            "sorts": list(GRANT_SORTS),
            "map_filter": map_filter,
            "filtered": bool(status or account or query or attention or map_filter),
        },
    )


@permission_required("grants.view_grant", raise_exception=True)
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
            "verifications": grant.verifications.all()[:20],
            **_operation_context(grant),
            "can_verify": grant.status in TESTABLE,
            # Access that is gone gets no kit (and no MFA-device read to build one).
            "kit": (
                None
                if grant.status in (GrantStatus.REVOKED, GrantStatus.EXPIRED)
                else handoff.handoff_kit(grant=grant)
            ),
            "expiry_form": GrantExpiryForm(initial={"expires_at": grant.expires_at}),
        },
    )


@permission_required("grants.manage_grant", raise_exception=True)
@recent_authentication_required
def grant_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    grant = get_object_or_404(
        Grant.objects.select_related("trusting_account", "trusted_account"), pk=pk
    )
    if request.method == "POST":
        try:
            grant = services.grant_revoke(grant=grant, actor=request.user)
        except (services.NotRevocable, services.GrantBusy) as exc:
            messages.warning(request, str(exc))
        except services.OperationRefused as exc:
            messages.error(request, str(exc))
        else:
            _flash_outcome(request, grant)
        return redirect(grant)
    busy = services.open_operation(grant)
    refusal = services.guardrails.portal_access_refusal(
        account_id=grant.trusting_account.account_id, role_name=grant.role_name, doing="revoke"
    )
    return render(
        request,
        "grants/grant_revoke.html",
        {
            "grant": grant,
            "plan": services.revoke_plan(grant),
            "busy": services.busy_message(grant) if busy else "",
            "refusal": refusal,
        },
    )


@permission_required("grants.manage_grant", raise_exception=True)
@require_POST
def grant_expiry(request: HttpRequest, pk: int) -> HttpResponse:
    grant = get_object_or_404(Grant.objects.select_related("trusting_account"), pk=pk)
    form = GrantExpiryForm(request.POST)
    if form.is_valid():
        services.grant_expiry_set(
            grant=grant, expires_at=form.cleaned_data["expires_at"], actor=request.user
        )
        messages.success(request, "Expiry saved.")
    else:
        messages.error(request, " ".join(form.errors.get("expires_at", ["Invalid expiry."])))
    return redirect(grant)


VERIFIABLE = (GrantStatus.ACTIVE, GrantStatus.FAILING, GrantStatus.PARTIAL)
# A revoked grant can still be tested: the result proves the access is gone.
TESTABLE = (*VERIFIABLE, GrantStatus.REVOKED, GrantStatus.EXPIRED)


@permission_required("grants.verify_grant", raise_exception=True)
@require_POST
def grant_verify(request: HttpRequest, pk: int) -> HttpResponse:
    grant = get_object_or_404(Grant.objects.select_related("trusting_account"), pk=pk)
    if grant.status not in TESTABLE:
        messages.warning(
            request, f"A {grant.get_status_display().lower()} grant has nothing to test."
        )
        return redirect(grant)
    verification = services.grant_verify(grant=grant, actor=request.user)
    if request.headers.get("HX-Request"):
        template = (
            "grants/includes/grant_row.html"
            if request.GET.get("compact")
            else "grants/includes/verification.html"
        )
        context = {"grant": grant, "verification": verification, "oob": True}
        return render(request, template, context)
    if verification.passed:
        messages.success(request, f"Test access passed: {len(verification.queue_urls)} queue(s).")
    elif verification.failed_step is None:
        messages.warning(request, "Test access checked statically only: nothing live could run.")
    else:
        messages.error(request, f"Test access failed: {verification.failed_step['summary']}")
    return redirect(grant.get_absolute_url() + "#verification")


@permission_required("grants.verify_grant", raise_exception=True)
@require_POST
def grants_verify_bulk(request: HttpRequest) -> HttpResponse:
    grants = Grant.objects.select_related("trusting_account", "trusted_account").filter(
        status__in=VERIFIABLE
    )
    if "all" not in request.POST:
        grants = grants.filter(pk__in=_ids(request.POST.getlist("grant")))
    grants = list(grants)
    if not grants:
        messages.warning(request, "Select at least one active grant to verify.")
        return redirect("grant_list")
    batch = services.verification_batch_start(grants=grants, actor=request.user)
    return redirect(batch)


def _progress_segments(total: int, **counts: int) -> list[dict[str, Any]]:
    """The batch's stacked progress bar: one segment per outcome with items, each its
    share of `total` in whole percent (rounded down, at least 1), in the given order."""
    colours = {"passed": "success", "failed": "danger", "static": "info", "skipped": "warning"}
    labels = {
        "passed": "passed",
        "failed": "failed",
        "static": "checked statically only",
        "skipped": "not verified",
    }
    return [
        {
            "key": key,
            "count": count,
            "percent": max(1, 100 * count // total),
            "colour": colours[key],
            "label": labels[key],
        }
        for key, count in counts.items()
        if count and total
    ]


@permission_required("grants.view_grant", raise_exception=True)
def verification_batch(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_object_or_404(VerificationBatch, pk=pk)
    items = list(batch.items.select_related("verification"))
    states = Counter(item.state for item in items)
    total = len(items)
    done = states[BatchItemState.VERIFIED] + states[BatchItemState.SKIPPED]
    moments = [batch.created_at] + [
        moment for item in items for moment in (item.started_at, item.finished_at) if moment
    ]
    verifications = [i.verification for i in items if i.verification is not None]
    failed = sum(1 for v in verifications if v.failed_step)
    passed = sum(1 for v in verifications if v.passed)
    context = {
        "batch": batch,
        "items": items,
        "done": done,
        "total": total,
        "verified": states[BatchItemState.VERIFIED],
        "passed": passed,
        "failed": failed,
        "skipped": states[BatchItemState.SKIPPED],
        "running": states[BatchItemState.RUNNING],
        "percent": int(100 * done / total) if total else 100,
        "segments": _progress_segments(
            total,
            passed=passed,
            failed=failed,
            static=len(verifications) - passed - failed,
            skipped=states[BatchItemState.SKIPPED],
        ),
        # Nothing moving for a while: the workers are busy elsewhere, or none runs.
        "stalled": batch.finished_at is None and timezone.now() - max(moments) > BATCH_STALL_AFTER,
    }
    if request.headers.get("HX-Request"):
        return render(request, "grants/includes/batch_progress.html", context)
    return render(request, "grants/verification_batch.html", context)


@permission_required("grants.manage_grant", raise_exception=True)
@require_POST
def grant_retry(request: HttpRequest, pk: int) -> HttpResponse:
    grant = get_object_or_404(Grant, pk=pk)
    try:
        grant = services.grant_provision(grant=grant, actor=request.user)
    except services.GrantBusy as exc:
        messages.warning(request, str(exc))
    except services.OperationRefused as exc:
        messages.error(request, str(exc))
    else:
        _flash_outcome(request, grant)
    return redirect(grant)


def _flash_outcome(request: HttpRequest, grant: Grant) -> None:
    """Say what the grant's latest operation did, or that it is still under way."""
    op = grant.operations.order_by("-pk").first()
    if op is None:
        return
    if op.is_open:
        messages.info(
            request,
            f"{op.get_kind_display()} of {grant.role_name} is {op.get_state_display().lower()}: "
            "this page follows its progress.",
        )
    elif op.state == OperationState.SUCCEEDED:
        messages.success(request, op.message)
    elif op.state == OperationState.ROLLED_BACK:
        messages.error(request, "Provisioning failed; everything was rolled back. Details below.")
    else:
        messages.error(request, f"{op.message} Details below.")


def _operation_context(grant: Grant) -> dict[str, Any]:
    """The grant page's view of its operations: the one under way (or the last one),
    and which actions apply now."""
    latest = grant.operations.select_related("actor").order_by("-pk").first()
    running = latest is not None and latest.is_open
    partly_revoked = grant.status == GrantStatus.PARTIAL and (
        grant.revoke_requested_at is not None
        or (latest is not None and latest.kind == OperationKind.REVOKE)
    )
    return {
        "operation": latest,
        "operation_steps": list(latest.steps.select_related("account")) if latest else [],
        "operation_running": running,
        "operation_stalled": running and services.operation_stalled(latest),
        "can_retry": not running
        and (grant.status == GrantStatus.FAILED or grant.status == GrantStatus.PARTIAL)
        and not partly_revoked,
        "can_revoke": not running and grant.status in services.REVOCABLE,
    }


@permission_required("grants.view_grant", raise_exception=True)
def grant_operation(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress of the grant's latest operation (the fragment the grant page polls)."""
    grant = get_object_or_404(Grant.objects.select_related("trusting_account"), pk=pk)
    context = {"grant": grant, **_operation_context(grant)}
    response = render(request, "grants/includes/operation_progress.html", context)
    if request.headers.get("HX-Request") and not context["operation_running"]:
        # Finished: reload the whole page so that status, buttons and audit trail follow.
        response["HX-Refresh"] = "true"
    return response


@permission_required("grants.manage_grant", raise_exception=True)
@require_POST
def grant_operation_resume(request: HttpRequest, pk: int) -> HttpResponse:
    """Queue a stalled operation again (its worker died and no recovery ran yet)."""
    grant = get_object_or_404(Grant, pk=pk)
    op = services.open_operation(grant)
    if op is not None and services.operation_resume(operation=op, actor=request.user):
        messages.info(request, f"{op.get_kind_display()} of {grant.role_name} resumed.")
    else:
        messages.info(request, "Nothing to resume: no stalled operation on this grant.")
    return redirect(grant)


def grantee_phrase(grant: Grant) -> str:
    """Who the user policy is for, in words: "IAM user hoge-app in 444455556666", or,
    with no grantee named yet, "the IAM user the trusted account chooses, in …"."""
    kind = grant.get_grantee_type_display()
    if grant.grantee_name:
        return f"{kind} {grant.grantee_name} in {grant.trusted_aws_account_id}"
    return f"the {kind} the trusted account chooses, in {grant.trusted_aws_account_id}"


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
    documents.append(
        (
            f"User policy {grant.user_policy_name}",
            f"on {grantee_phrase(grant)}",
            grant.user_policy,
        )
    )
    return [(title, where, policies.render(doc)) for title, where, doc in documents]


class GrantWizard(PermissionRequiredMixin, SessionWizardView):
    """The role-creation wizard: five validated steps, then one provisioning call."""

    permission_required = "grants.manage_grant"
    raise_exception = True

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
        # One value per wizard run for anything generated: reloads and Back/Next reuse it.
        self.storage.extra_data = {
            "request_token": str(uuid.uuid4()),
            "external_id": f"xacct-{uuid.uuid4()}",
        }
        return response

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # formtools looks the posted step up unchecked (a KeyError, a 500): answer 400.
        goto = request.POST.get("wizard_goto_step")
        step = request.POST.get(f"{self.prefix}-current_step")
        if goto not in self.get_form_list() and step not in self.get_form_list():
            messages.error(
                request,
                f"The form was sent for an unknown wizard step; steps are "
                f"{', '.join(self.get_form_list())}. Continue from this step.",
            )
            response = self.render(self.get_form())
            response.status_code = 400
            return response
        if goto in self.get_form_list() and step == self.steps.current:
            # Back keeps what was typed on this step (valid or not) for when it is shown again;
            # formtools alone would drop it. Nothing is trusted from it: Next revalidates.
            form = self.get_form(data=request.POST)
            self.storage.set_step_data(step, self.process_step(form))
        if request.POST.get("wizard_show_fields") and step == self.steps.current:
            # "Show fields" without JavaScript: the step again with the choice made, nothing
            # validated or stored, everything typed kept.
            form = self.get_form(data=request.POST)
            self._shown_initial = {
                name: field.widget.value_from_datadict(form.data, form.files, form.add_prefix(name))
                for name, field in form.fields.items()
                if not field.disabled
            }
            return self.render(self.get_form())
        return super().post(request, *args, **kwargs)

    def get_form_initial(self, step: str) -> dict[str, Any]:
        shown = getattr(self, "_shown_initial", None)
        if shown is not None and step == self.steps.current:
            return shown
        return super().get_form_initial(step)

    def generated_external_id(self) -> str:
        """This wizard run's generated external ID, made once and kept in the wizard's storage."""
        extra = dict(self.storage.extra_data)
        if not extra.get("external_id"):
            extra["external_id"] = f"xacct-{uuid.uuid4()}"
            self.storage.extra_data = extra
        return str(extra["external_id"])

    def cleaned(self, step: str) -> dict[str, Any]:
        if step not in self._cleaned:
            self._cleaned[step] = self.get_cleaned_data_for_step(step) or {}
        return self._cleaned[step]

    def get_form_kwargs(self, step: str | None = None) -> dict[str, Any]:
        if step == "role":
            return {"lookup": self.lookup}
        trusting = self.cleaned("role").get("trusting_account")
        if step == "trusted":
            return {
                "trusting_account": trusting,
                "generated_external_id": self.generated_external_id(),
            }
        if step == "permissions":
            return {"trusting_account": trusting, "lookup": self.lookup}
        if step == "grantee":
            trusted = self.cleaned("trusted")
            return {
                "trusted_account": trusted.get("trusted_account"),
                "principal_arn": trusted.get("trusted_principal_arn", ""),
                "role_name": self.cleaned("role").get("role_name", ""),
                "lookup": self.lookup,
                "require_mfa": bool(trusted.get("require_mfa")),
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
            principal_org_id=trusted.get("principal_org_id", ""),
            principal_org_paths=trusted.get("principal_org_paths", []),
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
            grantee_profile=grantee["grantee_profile"],
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
        except services.OperationRefused as exc:
            messages.error(self.request, str(exc))
            return redirect("grant_create")
        if grant.pk != draft.pk:
            # Another submit of this same wizard run saved the grant first.
            op = grant.operations.order_by("pk").first()
            messages.info(
                self.request,
                f"This wizard run already created {grant.role_name}"
                + (f" ({op.actor_name}'s submit); " if op else "; ")
                + (
                    "it is still being provisioned."
                    if op is not None and op.is_open
                    else f"it is {grant.get_status_display().lower()}."
                ),
            )
            return redirect(grant)
        _flash_outcome(self.request, grant)
        return redirect(grant)


grant_create = GrantWizard.as_view()


@permission_required("grants.verify_grant", raise_exception=True)
@require_POST
def grant_drift(request: HttpRequest, pk: int) -> HttpResponse:
    grant = get_object_or_404(Grant.objects.select_related("trusting_account"), pk=pk)
    action = request.POST.get("action", "check")
    if action in ("reapply", "adopt"):
        # Both confirm first (grants.views_review): the page lists the calls or changes.
        if not request.user.has_perm("grants.manage_grant"):
            raise PermissionDenied("Re-apply and adopt need the grant manager role.")
        confirm = reverse(f"grant_{action}", args=[grant.pk])
        if not has_recent_authentication(request):
            messages.info(request, "Confirm your password, then repeat the action.")
            return redirect_to_login(confirm, login_url=reverse("reauthenticate"))
        return redirect(confirm)
    try:
        grant = services.grant_drift_check(grant=grant, actor=request.user)
        if grant.drift:
            messages.warning(request, f"{len(grant.drift)} difference(s) from the record.")
        else:
            messages.success(request, "No drift: live IAM matches the record.")
    except aws.AwsError as exc:
        detail = exc.detail
        messages.error(
            request,
            f"{detail.service}:{detail.operation} failed: {detail.code or detail.client_error}: "
            f"{detail.message} (request ID {detail.request_id or '—'})",
        )
    return redirect(grant.get_absolute_url() + "#drift")


# Discovery, import and its completion: grants.views_review.


def reauthenticate(request: HttpRequest) -> HttpResponse:
    """Ask for the password again before a destructive action.

    Failures count towards django-axes' lockout like log-in failures (per username
    and address); a locked-out person gets axes' lockout page, and each failure is
    audited (grants.signals).
    """
    form = ReauthenticateForm(request.user, request.POST or None, request=request)
    next_url = request.POST.get("next") or request.GET.get("next") or reverse("dashboard")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = reverse("dashboard")
    if request.method == "POST" and form.is_valid():
        request.session[AUTHENTICATED] = time.time()
        return redirect(next_url)
    return render(request, "registration/reauthenticate.html", {"form": form, "next": next_url})
