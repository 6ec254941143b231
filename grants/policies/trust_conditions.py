"""Organization conditions of a trust policy and the service principals of a role's trust:
shapes, builders and plain words. Pure: no AWS, no Django.

Sources: the AWS Organizations API model (the patterns of OrganizationId, RootId and
OrganizationalUnitId), the IAM User Guide's global condition keys (aws:PrincipalOrgID is
single-valued, compared with StringEquals; aws:PrincipalOrgPaths is multivalued, compared with
ForAnyValue:StringLike, its values are entity paths such as
"o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/ou-ab12-22222222/"), and its "Role chaining" section.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from grants.policies.conditions import evaluate_condition
from grants.policies.matching import as_list

# Organizations API model: OrganizationId ^o-[a-z0-9]{10,32}$, RootId ^r-[0-9a-z]{4,32}$,
# OrganizationalUnitId ^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$.
ORG_ID_PATTERN = r"o-[a-z0-9]{10,32}"
ROOT_ID_PATTERN = r"r-[0-9a-z]{4,32}"
OU_ID_PATTERN = r"ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}"
ORG_ID_RE = re.compile(rf"^{ORG_ID_PATTERN}\Z")
# An entity path down to an OU, ending in "/" (that OU only) or "/*" (it and everything below);
# "o-…/*" is the whole organization.
ORG_PATH_RE = re.compile(
    rf"^{ORG_ID_PATTERN}/(\*|{ROOT_ID_PATTERN}/(\*|({OU_ID_PATTERN}/)+\*?)?)\Z"
)

ORG_ID_KEY = "aws:PrincipalOrgID"
ORG_PATHS_KEY = "aws:PrincipalOrgPaths"
ORG_ID_OPERATOR = "StringEquals"
ORG_PATHS_OPERATOR = "ForAnyValue:StringLike"

# Service-linked roles live under /aws-service-role/ (IAM User Guide, "Using service-linked
# roles") and IAM Identity Center's under /aws-reserved/: IAM refuses to change either kind's
# policies, so neither can be a grantee.
RESERVED_ROLE_PATHS = ("/aws-service-role/", "/aws-reserved/")

# How the AWS CLI and SDKs find the credentials of a role that a service runs as (AWS CLI
# User Guide, "Use an IAM role": credential_source), by the service principal that the role
# trusts. Lambda puts the function role's credentials in the environment.
CREDENTIAL_SOURCES = {
    "ec2.amazonaws.com": "Ec2InstanceMetadata",
    "ecs-tasks.amazonaws.com": "EcsContainer",
    "lambda.amazonaws.com": "Environment",
}

# AWS caps a session made with role credentials ("role chaining") at one hour: AssumeRole
# with DurationSeconds above 3600 then fails (IAM User Guide, "Role chaining").
ROLE_CHAINING_MAX_SECONDS = 3600


def is_org_id(value: str) -> bool:
    """Whether `value` is an organization ID as the Organizations API model defines it."""
    return bool(ORG_ID_RE.match(value))


def is_org_path(value: str) -> bool:
    """Whether `value` is an aws:PrincipalOrgPaths value the portal writes: an entity path
    "o-…/r-…/ou-…/" ending in "/" (that OU) or "/*" (it and below), or "o-…/*"."""
    return bool(ORG_PATH_RE.match(value))


def org_condition(*, org_id: str = "", org_paths: Sequence[str] = ()) -> dict[str, dict[str, Any]]:
    """The Condition entries (operator -> {key: value}) for the organization of the principal.

    In: `org_id` (o-…) for aws:PrincipalOrgID with StringEquals, and/or `org_paths` for
    aws:PrincipalOrgPaths with ForAnyValue:StringLike (a multivalued key needs a set
    operator). Out: {} when neither is given. Raises ValueError for a malformed value.
    """
    condition: dict[str, dict[str, Any]] = {}
    if org_id:
        if not is_org_id(org_id):
            raise ValueError(f"Not an organization ID: {org_id!r}")
        condition[ORG_ID_OPERATOR] = {ORG_ID_KEY: org_id}
    paths = list(dict.fromkeys(org_paths))
    if paths:
        bad = [path for path in paths if not is_org_path(path)]
        if bad:
            raise ValueError(f"Not organization entity paths: {bad!r}")
        condition[ORG_PATHS_OPERATOR] = {ORG_PATHS_KEY: paths if len(paths) > 1 else paths[0]}
    return condition


def _tests(document: dict, operator: str, key: str) -> list[str]:
    """Values written for `key` under `operator` in the document's Allow statements."""
    found: list[str] = []
    for statement in as_list(document.get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        for op, tests in (statement.get("Condition") or {}).items():
            if str(op).lower() != operator.lower() or not isinstance(tests, dict):
                continue
            for name, value in tests.items():
                if str(name).lower() == key.lower():
                    found.extend(str(v) for v in as_list(value))
    return list(dict.fromkeys(found))


def org_id_of(document: dict) -> str:
    """The organization ID a trust policy requires (aws:PrincipalOrgID), or ""."""
    values = _tests(document, ORG_ID_OPERATOR, ORG_ID_KEY)
    return values[0] if values else ""


def org_paths_of(document: dict) -> list[str]:
    """The entity paths a trust policy requires (aws:PrincipalOrgPaths), in order."""
    return _tests(document, ORG_PATHS_OPERATOR, ORG_PATHS_KEY)


def path_words(path: str, names: dict[str, str] | None = None) -> str:
    """One entity path in words: "o-…/r-…/ou-…/*" -> "OU ou-… (Root/Workloads/Prod) or below".

    `names` maps an entity path as AWS writes it (ending in "/") to OU names for display.
    """
    below = path.endswith("*")
    bare = path.rstrip("*")
    label = (names or {}).get(bare, "")
    parts = [p for p in bare.split("/") if p]
    if len(parts) == 1:
        where = f"organization {parts[0]}"
    elif len(parts) == 2:
        where = f"the root {parts[1]} of {parts[0]}"
    else:
        where = f"OU {parts[-1]}"
    if label:
        where += f" ({label})"
    if below:
        return f"{where} or any OU below it" if len(parts) > 2 else f"anywhere in {where}"
    return f"{where} itself (not the OUs below it)"


def org_condition_sentences(document: dict, names: dict[str, str] | None = None) -> list[str]:
    """Plain sentences for the organization conditions of a trust policy ([] when none).

    In: the trust policy; `names` as for `path_words`. Out: one sentence per condition,
    for the review and the grant page.
    """
    sentences: list[str] = []
    org_id = org_id_of(document)
    if org_id:
        sentences.append(
            f"Only a principal whose account is a member of organization {org_id} can assume "
            f"the role (aws:PrincipalOrgID). If the trusted account leaves that organization, "
            "its principals lose access at once, whatever their own policies say."
        )
    paths = org_paths_of(document)
    if paths:
        places = "; ".join(path_words(path, names) for path in paths)
        sentences.append(
            "Only a principal whose account sits in one of these places of its organization can "
            f"assume the role (aws:PrincipalOrgPaths): {places}. Moving the trusted account to "
            "another OU ends its access."
        )
    return sentences


def service_principals(document: dict) -> list[str]:
    """The AWS service principals (e.g. "ec2.amazonaws.com") a role's trust policy allows,
    from its Allow statements' Principal.Service, in order and without repeats."""
    found: list[str] = []
    for statement in as_list(document.get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        if isinstance(principal, dict):
            found.extend(str(s) for s in as_list(principal.get("Service")))
    return list(dict.fromkeys(found))


def credential_source_for(services: Iterable[str]) -> str:
    """The AWS CLI's credential_source for a role run by one of `services`, or "" when none
    of them is a service whose credentials the CLI knows how to read."""
    for service in services:
        source = CREDENTIAL_SOURCES.get(service.lower())
        if source:
            return source
    return ""


def is_reserved_role_path(path: str) -> bool:
    """Whether a role at `path` belongs to AWS (service-linked or IAM Identity Center)."""
    return path.startswith(RESERVED_ROLE_PATHS)


def org_condition_admits(
    condition: dict[str, dict[str, Any]], *, org_id: str = "", entity_path: str = ""
) -> bool:
    """Whether a principal of an account in organization `org_id` at `entity_path` (as
    AwsAccount.org_entity_path: "o-…/r-…/ou-…/") meets `condition` (from `org_condition`),
    decided by the engine's condition evaluator. A key not given is absent from the request,
    as it is for an account outside any organization."""
    context: dict[str, Any] = {}
    if org_id:
        context[ORG_ID_KEY.lower()] = org_id
    if entity_path:
        context[ORG_PATHS_KEY.lower()] = [entity_path]
    return bool(evaluate_condition(condition, context, variables=True).holds)
