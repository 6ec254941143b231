"""The grant page's recorded and observed state (grants.services.observed)."""

from __future__ import annotations

from django import template

from ..models import Grant, Verification
from ..services.observed import GrantObservations, grant_observations, verification_confirms_gone

register = template.Library()


@register.simple_tag
def grant_state(grant: Grant) -> GrantObservations:
    """`{% grant_state grant as state %}`: the record and the last observation, in words."""
    return grant_observations(grant=grant)


@register.filter
def confirms_gone(verification: Verification | None, grant: Grant) -> bool:
    """`verification|confirms_gone:grant`: the run checked that access is gone."""
    if verification is None:
        return False
    return verification_confirms_gone(verification=verification, grant=grant)
