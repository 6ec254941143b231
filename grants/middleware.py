"""Session timeouts, and an audit record of every permission denial."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
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
