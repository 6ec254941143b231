"""HTTP only, for discovery across every registered account: start a run (POST/redirect/GET),
follow it, filter its results, import from them (one role, or a confirmed batch)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache

from . import aws
from .forms_discovery import FindingFilterForm
from .models import DiscoveryAccountState, DiscoveryFinding, DiscoveryRun
from .services import discovery
from .services.discovery_runs import (
    IMPORT_BATCH_MAX,
    discovery_findings,
    discovery_findings_import,
    discovery_run_start,
    finding_importable,
)
from .views import _ids, _page

# Nothing moved for this long while the run is open: say the workers may be busy or stopped.
STALL_AFTER = timedelta(seconds=60)
RECENT_RUNS = 10


@never_cache
@permission_required("grants.manage_grant", raise_exception=True)
def discovery_home(request: HttpRequest) -> HttpResponse:
    """GET: the recent runs and the button; POST: start a run and go to its page."""
    if request.method == "POST":
        run = discovery_run_start(actor=request.user)
        return redirect(run)
    runs = list(DiscoveryRun.objects.all()[:RECENT_RUNS])
    return render(request, "grants/discovery_home.html", {"runs": runs})


def _progress(run: DiscoveryRun) -> dict[str, object]:
    rows = list(run.accounts.select_related(None))
    states = Counter(row.state for row in rows)
    open_ = states[DiscoveryAccountState.QUEUED] + states[DiscoveryAccountState.RUNNING]
    total = len(rows)
    moments = [run.created_at] + [
        moment for row in rows for moment in (row.started_at, row.finished_at) if moment
    ]
    return {
        "run": run,
        "rows": rows,
        "total": total,
        "done": total - open_,
        "read": states[DiscoveryAccountState.READ],
        "failed": states[DiscoveryAccountState.FAILED],
        "skipped": states[DiscoveryAccountState.SKIPPED],
        "percent": int(100 * (total - open_) / total) if total else 100,
        "stalled": run.finished_at is None and timezone.now() - max(moments) > STALL_AFTER,
    }


@never_cache
@permission_required("grants.manage_grant", raise_exception=True)
def discovery_run(request: HttpRequest, pk: int) -> HttpResponse:
    """A run: its accounts (read, failed with the AWS error, skipped and why) and its
    findings, filtered and paged. No AWS call: reloading never runs discovery again.

    An htmx request gets the progress panel only; once the run has finished it
    asks htmx to reload the whole page (HX-Refresh), which then lists everything.
    """
    run = get_object_or_404(DiscoveryRun, pk=pk)
    context = _progress(run)
    if request.headers.get("HX-Request"):
        response = render(request, "grants/discovery_progress.html", context)
        if run.finished_at is not None:
            response["HX-Refresh"] = "true"
        return response
    form = FindingFilterForm(request.GET or None, run=run)
    if form.is_bound and not form.is_valid():
        problems = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())
        messages.warning(request, f"The filters were not applied ({problems}).")
    page = _page(request, discovery_findings(run=run, filters=form.filters()))
    for finding in page.object_list:
        finding.importable = finding_importable(finding, grant_pk=finding.grant_pk)
    query = request.GET.copy()
    query.pop("page", None)
    context.update(
        {
            "form": form,
            "page": page,
            "filtered": any(form.filters().__dict__.values()),
            "findings_total": run.findings.count(),
            "filters_query": query.urlencode(),
            "batch_max": IMPORT_BATCH_MAX,
        }
    )
    return render(request, "grants/discovery_run.html", context)


def _back(run: DiscoveryRun, filters_query: str) -> str:
    """The run's page with the filters the person had (rebuilt, never a raw URL)."""
    query = QueryDict(filters_query[:2000]).urlencode()
    return run.get_absolute_url() + (f"?{query}" if query else "")


@permission_required("grants.manage_grant", raise_exception=True)
def discovery_import(request: HttpRequest, pk: int) -> HttpResponse:
    """Import from a run's results with discovery's own import (grant_import).

    GET ?finding=…: the confirmation page of a batch. POST one `finding` without
    `confirm`: import that role at once and go on to naming its grantee, as from an
    account's discovery page. POST with `confirm`: import the batch, report each.
    """
    run = get_object_or_404(DiscoveryRun, pk=pk)
    data = request.POST if request.method == "POST" else request.GET
    filters_query = data.get("filters", "")
    ids = _ids(data.getlist("finding"))
    findings = list(run.findings.select_related("account").filter(pk__in=ids))
    back = _back(run, filters_query)
    if not findings:
        messages.warning(request, "Select at least one role to import.")
        return redirect(back)
    if len(findings) > IMPORT_BATCH_MAX:
        messages.warning(
            request, f"Import at most {IMPORT_BATCH_MAX} roles at a time; {len(findings)} chosen."
        )
        return redirect(back)
    if request.method != "POST":
        return render(
            request,
            "grants/discovery_import.html",
            {"run": run, "findings": findings, "filters_query": filters_query, "back": back},
        )
    if "confirm" not in request.POST:
        if len(findings) > 1:
            messages.warning(request, "Confirm a batch import on its confirmation page.")
            return redirect(back)
        return _import_one(request, findings[0], back)
    outcomes = discovery_findings_import(findings=findings, actor=request.user)
    imported = [o for o in outcomes if o.grant is not None]
    if imported:
        messages.success(
            request,
            f"Imported {len(imported)} role{'s' if len(imported) != 1 else ''} as grants: "
            + "; ".join(f"{o.finding.role_arn} → grant #{o.grant.pk}" for o in imported)  # type: ignore[union-attr]
            + ". Next: name each grant's grantee from its page, then run Test access.",
        )
    for outcome in outcomes:
        if outcome.grant is None:
            messages.error(request, f"Not imported: {outcome.finding.role_arn}: {outcome.problem}")
    return redirect(back)


def _import_one(request: HttpRequest, finding: DiscoveryFinding, back: str) -> HttpResponse:
    """The single-role import, as from an account's discovery page (views_review)."""
    if finding.account is None:
        messages.error(request, f"{finding.role_arn}: its account is no longer registered.")
        return redirect(back)
    try:
        grant = discovery.grant_import(
            account=finding.account, role_name=finding.role_name, actor=request.user
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(back)
    except aws.AwsError as exc:
        messages.error(request, f"Import failed: {exc.detail.message}")
        return redirect(back)
    messages.success(
        request,
        f"Imported {grant.role_arn}. Next: name the grantee below, then run Test access.",
    )
    return redirect("grant_complete", pk=grant.pk)
