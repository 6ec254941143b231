"""The organization conditions of a trust policy in words (grants.policies.trust_conditions)."""

from __future__ import annotations

from django import template

from ..models import AwsAccount
from ..policies import trust_conditions

register = template.Library()


@register.filter
def org_condition_sentences(document: dict | None) -> list[str]:
    """`grant.trust_policy|org_condition_sentences`: one plain sentence per organization
    condition (aws:PrincipalOrgID, aws:PrincipalOrgPaths); entity paths of registered
    accounts are named with their OU path ("Root/Workloads/Prod")."""
    if not isinstance(document, dict):
        return []
    if not (trust_conditions.org_id_of(document) or trust_conditions.org_paths_of(document)):
        return []
    names = dict(
        AwsAccount.objects.exclude(org_entity_path="")
        .exclude(ou_path="")
        .values_list("org_entity_path", "ou_path")
    )
    return trust_conditions.org_condition_sentences(document, names)
