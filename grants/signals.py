"""Authentication failures and lockouts go to the audit log."""

from __future__ import annotations

import time
from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver
from django.urls import reverse

from .middleware import AUTHENTICATED, SEEN, STARTED
from .models import AuditAction, AuditEvent, AuditOutcome


def _client(request: Any) -> str:
    if request is None:
        return "unknown address"
    return request.META.get("REMOTE_ADDR", "unknown address")


@receiver(user_login_failed)
def audit_login_failed(sender: Any, credentials: dict, request: Any = None, **kwargs: Any) -> None:
    AuditEvent.objects.create(
        actor_name=str(credentials.get("username", ""))[:150] or "(no username)",
        action=AuditAction.LOGIN_FAILED,
        outcome=AuditOutcome.FAILURE,
        message=(
            f"Wrong password when confirming it (re-authentication) from {_client(request)}."
            if getattr(request, "path", "") == reverse("reauthenticate")
            else f"Failed log-in from {_client(request)}."
        ),
    )


@receiver(user_locked_out)
def audit_locked_out(sender: Any, request: Any = None, username: str = "", **kwargs: Any) -> None:
    AuditEvent.objects.create(
        actor_name=(username or "(no username)")[:150],
        action=AuditAction.LOCKED_OUT,
        outcome=AuditOutcome.FAILURE,
        message=f"Locked out after repeated failures from {_client(request)}.",
    )


@receiver(user_logged_in)
def stamp_authentication(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        now = time.time()
        request.session[AUTHENTICATED] = now
        request.session[STARTED] = now
        request.session[SEEN] = now
