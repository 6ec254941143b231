"""The organization status badge's colour, from OrgStatus (one place)."""

from __future__ import annotations

from django import template

from ..models import OrgStatus

register = template.Library()


@register.filter
def org_status_colour(status: str) -> str:
    """Bootstrap colour of an OrgStatus value; "secondary" for anything else."""
    try:
        return OrgStatus(status).colour
    except ValueError:
        return "secondary"
