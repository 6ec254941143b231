"""Session timeouts, htmx redirects, an audit record of every permission denial, bad query input."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from urllib.parse import parse_qs, urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render, resolve_url
from django.urls import reverse

STARTED = "xacct_session_started"
SEEN = "xacct_session_seen"
# When the person last proved their password (log-in or re-authentication).
AUTHENTICATED = "xacct_authenticated_at"


class SessionTimeoutMiddleware:
    """Log out a session idle for too long, or older than the absolute limit."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = time.time()
            started = request.session.setdefault(STARTED, now)
            seen = request.session.get(SEEN, now)
            idle = now - seen > settings.XACCT_SESSION_IDLE_MINUTES * 60
            too_old = now - started > settings.XACCT_SESSION_MAX_HOURS * 3600
            if idle or too_old:
                logout(request)
                messages.info(request, "Your session expired; log in again.")
                return redirect_to_login(request.get_full_path())
            request.session[SEEN] = now
        return self.get_response(request)


class HtmxRedirectMiddleware:
    """Answer an htmx request with `HX-Redirect` where Django would answer a redirect.

    htmx follows a 3xx inside its request and swaps the page at its end into the
    panel that asked: with the session gone (logged out in another tab, idle or
    too old) the Test access panel showed the whole login page. Instead, a
    redirect to log in becomes 401 with `HX-Redirect` to the login page, its
    `next` the page the person is on (not the htmx endpoint, often POST-only);
    any other redirect becomes 200 with `HX-Redirect` to where it pointed.
    htmx then loads that as a whole page (https://htmx.org/reference/#response_headers).
    403 and CSRF failures get the same treatment in xacct_portal.errors.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from xacct_portal.errors import current_page, htmx_redirect, is_htmx

        response = self.get_response(request)
        if not is_htmx(request) or not 300 <= response.status_code < 400:
            return response
        location = response.get("Location", "")
        target = urlsplit(location)
        if target.path == resolve_url(settings.LOGIN_URL):
            login = redirect_to_login(current_page(request))
            return htmx_redirect(
                login["Location"], status=401, text="Your session has ended; log in again."
            )
        if target.path == reverse("reauthenticate"):
            query = parse_qs(target.query)
            query["next"] = [current_page(request)]
            return htmx_redirect(f"{target.path}?{urlencode(query, doseq=True)}")
        return htmx_redirect(location)


class PermissionDeniedAuditMiddleware:
    """Record every permission denial in the audit log; Django then answers 403."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        if isinstance(exception, PermissionDenied):
            from .models import AuditAction, AuditEvent, AuditOutcome

            user = request.user if request.user.is_authenticated else None
            AuditEvent.objects.create(
                actor=user,
                actor_name=user.get_username() if user else "(anonymous)",
                action=AuditAction.PERMISSION_DENIED,
                outcome=AuditOutcome.FAILURE,
                message=f"{request.method} {request.path}",
            )


# SQLite's INTEGER and PostgreSQL's bigint (every primary key here: BigAutoField).
INTEGER_MIN, INTEGER_MAX = -(2**63), 2**63 - 1
# Free-text search: a long number there is text to look for, not an ID.
FREE_TEXT_PARAMETERS = frozenset({"q"})


def out_of_range_integer(name: str, value: str) -> bool:
    """Whether the query parameter `name=value` holds an integer the database cannot store.

    Parsed as `int()` does (what Django's integer fields and lookups use, so
    " 12", "1_000" and "-3" count); `__in` lookups (Django admin) are split on
    commas. Range: a signed 64-bit integer.
    """
    if name in FREE_TEXT_PARAMETERS:
        return False
    parts = value.split(",") if name.endswith("__in") else [value]
    for part in parts:
        try:
            number = int(part)
        except (TypeError, ValueError):
            continue
        if not INTEGER_MIN <= number <= INTEGER_MAX:
            return True
    return False


class QueryIntegerRangeMiddleware:
    """Answer 400 when a query parameter holds an integer no database column can hold.

    Django guards `IntegerField` exact lookups against overflow, but not lookups
    through a foreign key (the admin's `?grant=99999999999999999999` reached
    SQLite and failed with OverflowError, a 500). One check here covers every
    page, the admin's list filters included. It runs as a view middleware, after
    the log-in check, so an anonymous visitor is still sent to log in.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., HttpResponse], args: object, kwargs: object
    ) -> HttpResponse | None:
        for name, values in request.GET.lists():
            for value in values:
                if "\x00" in name or "\x00" in value:
                    # PostgreSQL text cannot hold NUL: such a filter would end in a 500.
                    return render(
                        request,
                        "bad_request.html",
                        {"message": "A query parameter holds a NUL character."},
                        status=400,
                    )
                if out_of_range_integer(name, value):
                    return render(
                        request,
                        "bad_request.html",
                        {
                            "message": f"The query parameter {name[:100]} holds a number out of "
                            f"range: whole numbers here lie between {INTEGER_MIN} and "
                            f"{INTEGER_MAX}."
                        },
                        status=400,
                    )
        return None


class AwsDeadlineMiddleware:
    """Bound the AWS calls of every request to one total deadline.

    Every gateway call a view makes (Check connection, Discover, Check drift, the
    wizard's live checks, Test access) ends by XACCT_REQUEST_AWS_DEADLINE_SECONDS
    (seconds, float) after the request came in, so a page answers well inside the
    server's timeout (gunicorn's default: 30 s) even with AWS hung. A call that runs
    out of time raises the gateway's AwsError (client error "DeadlineExceeded"),
    which views show as any AWS failure. Deadlines set inside (Test access has its
    own) can only shorten it (grants.aws.deadline).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from . import aws

        with aws.deadline(seconds=settings.XACCT_REQUEST_AWS_DEADLINE_SECONDS):
            return self.get_response(request)


def has_recent_authentication(request: HttpRequest) -> bool:
    proved = request.session.get(AUTHENTICATED, 0)
    return time.time() - proved <= settings.XACCT_REAUTH_MINUTES * 60


def recent_authentication_required(
    view: Callable[..., HttpResponse],
) -> Callable[..., HttpResponse]:
    """Destructive actions need a password entered within XACCT_REAUTH_MINUTES."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if not has_recent_authentication(request):
            if request.method == "POST":
                messages.info(request, "Confirm your password, then repeat the action.")
            return redirect_to_login(request.get_full_path(), login_url=reverse("reauthenticate"))
        return view(request, *args, **kwargs)

    return wrapper
