"""The grant page's strip of recent verifications (grants.selectors)."""

from __future__ import annotations

from django import template

from ..models import Grant, Verification
from ..selectors import STRIP_LENGTH, grant_verification_strip

register = template.Library()


@register.simple_tag
def verification_strip(grant: Grant) -> list[Verification]:
    """`{% verification_strip grant as strip %}`: its last 30 verifications, oldest first."""
    return grant_verification_strip(grant_id=grant.pk, length=STRIP_LENGTH)
