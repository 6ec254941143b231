"""Idle and absolute session timeouts for a tool that can change IAM."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse

STARTED = "xacct_session_started"
SEEN = "xacct_session_seen"


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
