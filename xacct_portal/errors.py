"""Friendly error pages (403, 404, 500, CSRF failure), and their htmx answers.

Django calls these instead of its own pages (urls.handler403/404/500 and
settings.CSRF_FAILURE_VIEW; https://docs.djangoproject.com/en/stable/ref/views/#error-views).
An htmx request never gets a page to inject into a panel: it gets a message
for the next page and an `HX-Redirect` back to the page the person is on,
which htmx follows whatever the status (https://htmx.org/reference/#response_headers).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import render
from django.template import loader
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme


def is_htmx(request: HttpRequest) -> bool:
    """Whether htmx sent the request (it sets `HX-Request: true`)."""
    return request.headers.get("HX-Request") == "true"


def current_page(request: HttpRequest) -> str:
    """The path (and query) of the page an htmx request came from, or the dashboard's.

    htmx sends the browser's address in `HX-Current-URL`; only one on this site counts.
    """
    current = request.headers.get("HX-Current-URL", "")
    if current and url_has_allowed_host_and_scheme(
        current, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        parts = urlsplit(current)
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return reverse("dashboard")


def htmx_redirect(location: str, *, status: int = 200, text: str = "") -> HttpResponse:
    """An answer that makes htmx load `location` as a whole page (header `HX-Redirect`)."""
    response = HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")
    response["HX-Redirect"] = location
    return response


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """403: the person's role does not allow this (the attempt is already audited)."""
    if is_htmx(request):
        text = "Your role does not allow this. The attempt was recorded in the audit log."
        messages.error(request, text)
        return htmx_redirect(current_page(request), status=403, text=text)
    return render(request, "403.html", status=403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404: no such page, or no such record."""
    return render(request, "404.html", {"request_path": request.path}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """500: rendered without context processors, which may be what failed."""
    return HttpResponseServerError(loader.get_template("500.html").render())


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """403 for a form sent with a missing or stale security token (CSRF)."""
    if is_htmx(request):
        text = (
            "The page had gone stale (its security token no longer matched), so nothing "
            "was done. It has been reloaded: repeat the action."
        )
        messages.warning(request, text)
        return htmx_redirect(current_page(request), status=403, text=text)
    return render(request, "403_csrf.html", status=403)
