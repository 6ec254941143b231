"""Template context every page needs."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def aws_environment(request: HttpRequest) -> dict[str, Any]:
    """Which AWS the portal talks to, for the banner on every page."""
    return {
        "aws_sandbox": settings.AWS_SANDBOX,
        "aws_endpoint_url": settings.AWS_ENDPOINT_URL,
    }
