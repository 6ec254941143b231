"""Input rules AWS enforces server-side, read from botocore's service model at run time.

botocore checks only minimum lengths client-side; maxima and patterns are left
to AWS (and moto checks neither). Each rule names the API parameter the value
is sent as (e.g. iam CreateRole RoleName, shape `roleNameType`); its min, max
and pattern come from botocore's model (Java regex semantics: `\\w` is ASCII),
plus AWS's documented limits where the model is silent. Regions come from
botocore's partition data. Messages say the rule in plain words.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils.deconstruct import deconstructible

from .aws import model_rules

_IAM_NAME_CHARS = "letters A–Z or a–z, digits 0–9 or the characters + = , . @ _ -"


@dataclass(frozen=True)
class FieldRule:
    """How one kind of value is checked.

    `text` is the rule in plain words; "{length}" becomes the model's length
    range ("1-64"). `max_length` is AWS's documented limit where it is tighter
    than (or missing from) the model; `no_empty_segments` refuses "//" in paths.
    """

    text: str
    service: str
    operation: str
    member: str
    max_length: int | None = None
    no_empty_segments: bool = False
    # One allowed character as a Python regex, to name refused characters when
    # the model's pattern is not a single character class.
    allowed_chars: str = ""

    @property
    def shape(self) -> model_rules.ShapeRule:
        return model_rules.member_rule(self.service, self.operation, self.member)

    @property
    def min_length(self) -> int | None:
        return self.shape.min_length

    @property
    def max_allowed(self) -> int | None:
        limits = [n for n in (self.shape.max_length, self.max_length) if n is not None]
        return min(limits) if limits else None

    def describe(self) -> str:
        low, high = self.min_length, self.max_allowed
        if low is not None and low == high:
            length = f"exactly {low}"
        elif high is not None:
            length = f"{low or 0}–{high}" if low else f"up to {high}"
        else:
            length = f"at least {low or 0}"
        return self.text.format(length=length)


# Each value the forms take, and the API parameter it is sent as.
RULES: dict[str, FieldRule] = {
    # Organizations' AccountId pattern ^\d{12}$: Java's \d is [0-9] only.
    "account_id": FieldRule(
        "An AWS account ID is exactly 12 digits 0–9 (keep any leading zeros).",
        "organizations",
        "DescribeAccount",
        "AccountId",
        allowed_chars="[0-9]",
    ),
    # IAM quotas: role and user names are at most 64 characters.
    "role_name": FieldRule(
        f"Use {{length}} {_IAM_NAME_CHARS} (AWS's rule for role names).",
        "iam",
        "CreateRole",
        "RoleName",
        max_length=64,
    ),
    "user_name": FieldRule(
        f"Use {{length}} {_IAM_NAME_CHARS} (AWS's rule for IAM user names).",
        "iam",
        "CreateUser",
        "UserName",
        max_length=64,
    ),
    # IAM identifiers: a path is / or /segment/…/ with no empty segment.
    "role_path": FieldRule(
        "A path starts and ends with / and holds {length} printable ASCII characters "
        "(! to ~) with no empty segment (//), e.g. /xacct/.",
        "iam",
        "CreateRole",
        "Path",
        no_empty_segments=True,
    ),
    "user_path": FieldRule(
        "A path starts and ends with / and holds {length} printable ASCII characters "
        "(! to ~) with no empty segment (//), e.g. /division/.",
        "iam",
        "CreateUser",
        "Path",
        no_empty_segments=True,
    ),
    "policy_path": FieldRule(
        "A policy path is / or /segment/…/ of {length} characters, each segment of "
        "letters A–Z or a–z, digits 0–9 or . , + @ = _ -.",
        "iam",
        "CreatePolicy",
        "Path",
    ),
    "role_description": FieldRule(
        "A description is {length} characters: printable ASCII, tab, line breaks and "
        "Latin-1 letters and signs (U+00A1–U+00FF); no other scripts or emoji.",
        "iam",
        "CreateRole",
        "Description",
    ),
    "policy_name": FieldRule(
        f"Use {{length}} {_IAM_NAME_CHARS} (AWS's rule for policy names).",
        "iam",
        "PutUserPolicy",
        "PolicyName",
    ),
    "managed_policy_name": FieldRule(
        f"Use {{length}} {_IAM_NAME_CHARS} (AWS's rule for policy names).",
        "iam",
        "CreatePolicy",
        "PolicyName",
    ),
    "external_id": FieldRule(
        "An external ID is {length} letters A–Z or a–z, digits 0–9 or the characters "
        "+ = , . @ : / _ -",
        "sts",
        "AssumeRole",
        "ExternalId",
    ),
    "role_session_name": FieldRule(
        f"A role session name is {{length}} {_IAM_NAME_CHARS}.",
        "sts",
        "AssumeRole",
        "RoleSessionName",
    ),
    "role_arn": FieldRule("An ARN is {length} characters.", "sts", "AssumeRole", "RoleArn"),
    "policy_arn": FieldRule(
        "An ARN is {length} characters.", "iam", "AttachRolePolicy", "PolicyArn"
    ),
    "principal_arn": FieldRule(
        "An ARN is {length} characters.", "iam", "SimulatePrincipalPolicy", "PolicySourceArn"
    ),
}


def _char_name(char: str) -> str:
    name = unicodedata.name(char, "")
    return f"“{char}” ({name})" if name else f"U+{ord(char):04X}"


def check_rule(key: str, value: str, *, label: str = "") -> None:
    """Check `value` against RULES[key] (model min/max/pattern plus documented limits).

    Raises ValidationError whose message states the rule in plain words and what
    is wrong; `label` ("The name in the ARN: ") prefixes it.
    """
    rule = RULES[key]
    shape = rule.shape
    problem = ""
    refused = shape.refused_characters(value)
    if rule.allowed_chars and not refused:
        allowed = re.compile(rule.allowed_chars, re.ASCII)
        refused = list(dict.fromkeys(c for c in value if not allowed.fullmatch(c)))
    if refused:
        shown = ", ".join(_char_name(c) for c in refused[:5])
        problem = f"Not allowed: {shown}."
    elif rule.min_length is not None and len(value) < rule.min_length:
        problem = f"This one has {len(value)}."
    elif rule.max_allowed is not None and len(value) > rule.max_allowed:
        problem = f"This one has {len(value)} characters."
    elif not shape.pattern_matches(value):
        problem = f"“{value[:80]}” does not have that form."
    elif rule.no_empty_segments and "//" in value:
        problem = "It has an empty segment (//)."
    if problem:
        raise ValidationError(f"{label}{rule.describe()} {problem}", code=key)


def rule_passes(key: str, value: str) -> bool:
    """Whether `value` satisfies RULES[key]."""
    try:
        check_rule(key, value)
    except ValidationError:
        return False
    return True


def partitions() -> list[str]:
    """Every AWS partition botocore knows (aws, aws-cn, aws-us-gov, aws-iso…, aws-eusc)."""
    return sorted(model_rules.partition_regions())


def region_partition(region: str) -> str | None:
    """The partition of a real region (botocore's partition data), None for anything else."""
    return model_rules.region_partition(region)


def check_region(value: str) -> None:
    """Raise ValidationError unless `value` is a region of some partition botocore knows."""
    if region_partition(value) is None:
        raise ValidationError(
            f"Enter an AWS region code such as ap-northeast-1: “{value[:40]}” is not a region "
            f"of any AWS partition ({', '.join(partitions())}).",
            code="region",
        )


# --- ARNs: the model's ARN constraints plus their documented forms -----------------------

_ARN = re.compile(r"arn:([^:]*):([^:]*):([^:]*):([^:]*):(.*)", re.ASCII | re.DOTALL)


@dataclass(frozen=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str


def arn_parse(value: str) -> Arn | None:
    """The five parts of an ARN, or None when `value` is not arn:…:…:…:…:…."""
    match = _ARN.fullmatch(value)
    return Arn(*match.groups()) if match else None


def _check_arn_common(key: str, value: str, example: str) -> Arn:
    check_rule(key, value)
    arn = arn_parse(value)
    if arn is None:
        raise ValidationError(f"Enter an ARN such as {example}.", code=key)
    if arn.partition not in partitions():
        raise ValidationError(
            f"“{arn.partition}” is not an AWS partition ({', '.join(partitions())}).", code=key
        )
    return arn


def _split_path(resource: str, kind: str) -> tuple[str, str]:
    """(path, name) of "kind/path/name": path is "/" or "/…/"."""
    rest = resource[len(kind) :]
    cut = rest.rfind("/")
    return rest[: cut + 1], rest[cut + 1 :]


def check_principal_arn(value: str) -> None:
    """An IAM user or role ARN as a trust policy names it:
    arn:<partition>:iam::<12 digits>:(user|role)<path><name>, each part by its IAM rule."""
    example = "arn:aws:iam::444455556666:user/hoge-app"
    arn = _check_arn_common("principal_arn", value, example)
    kind = arn.resource.split("/", 1)[0]
    shaped = kind in ("user", "role") and "/" in arn.resource
    if arn.service != "iam" or arn.region or not shaped:
        raise ValidationError(
            f"Enter an IAM user or role ARN, e.g. {example} or "
            "arn:aws:iam::444455556666:role/app-role.",
            code="principal_arn",
        )
    check_rule("account_id", arn.account, label="The account in the ARN: ")
    path, name = _split_path(arn.resource, kind)
    check_rule(f"{kind}_path", path, label="The path in the ARN: ")
    check_rule(f"{kind}_name", name, label="The name in the ARN: ")


def check_trust_principal_arn(value: str) -> None:
    """A principal a grant's trust policy names: the account (…:root) or an IAM or STS ARN
    in one account, within the model's ARN length and pattern."""
    arn = _check_arn_common("principal_arn", value, "arn:aws:iam::444455556666:root")
    if arn.service not in ("iam", "sts") or arn.region or not arn.resource:
        raise ValidationError(
            "Enter the trusted account's root ARN or an IAM user or role ARN.",
            code="principal_arn",
        )
    check_rule("account_id", arn.account, label="The account in the ARN: ")


def check_policy_arn(value: str) -> None:
    """A managed policy ARN: arn:<partition>:iam::(aws|<12 digits>):policy<path><name>."""
    example = "arn:aws:iam::aws:policy/AmazonSQSReadOnlyAccess"
    arn = _check_arn_common("policy_arn", value, example)
    if arn.service != "iam" or arn.region or not arn.resource.startswith("policy/"):
        raise ValidationError(f"Enter a managed policy ARN such as {example}.", code="policy_arn")
    if arn.account != "aws":
        check_rule("account_id", arn.account, label="The account in the ARN: ")
    path, name = _split_path(arn.resource, "policy")
    check_rule("policy_path", path, label="The path in the ARN: ")
    check_rule("managed_policy_name", name, label="The name in the ARN: ")


_CHECKS = {
    "region": check_region,
    "principal_arn": check_principal_arn,
    "trust_principal_arn": check_trust_principal_arn,
    "policy_arn": check_policy_arn,
}


@deconstructible
class InputRuleValidator:
    """A field validator for one named input rule (RULES key, "region" or an ARN kind).

    Only the key is stored in migrations: the limits are read from botocore's
    model at run time, so a botocore upgrade needs no migration.
    """

    def __init__(self, rule: str) -> None:
        if rule not in RULES and rule not in _CHECKS:
            raise KeyError(rule)
        self.rule = rule

    def __call__(self, value: str) -> None:
        if self.rule in _CHECKS:
            _CHECKS[self.rule](value)
        else:
            check_rule(self.rule, value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, InputRuleValidator) and other.rule == self.rule

    def __hash__(self) -> int:
        return hash(self.rule)


account_id_validator = InputRuleValidator("account_id")
region_validator = InputRuleValidator("region")
iam_name_validator = InputRuleValidator("role_name")
role_name_validator = iam_name_validator
user_name_validator = InputRuleValidator("user_name")
role_path_validator = InputRuleValidator("role_path")
description_validator = InputRuleValidator("role_description")
policy_name_validator = InputRuleValidator("policy_name")
external_id_validator = InputRuleValidator("external_id")
role_session_name_validator = InputRuleValidator("role_session_name")
managed_policy_arn_validator = InputRuleValidator("policy_arn")
principal_arn_validator = InputRuleValidator("principal_arn")
trust_principal_arn_validator = InputRuleValidator("trust_principal_arn")

# Not AWS API parameters: a profile names a section of the local AWS config files.
profile_name_validator = RegexValidator(
    r"^[\w+=,.@:/-]{1,128}\Z",
    "Use 1–128 letters, digits or the characters + = , . @ : / _ -",
)
queue_name_validator = RegexValidator(
    r"^[A-Za-z0-9_-]{1,75}(\.fifo)?\Z|^[A-Za-z0-9_-]{1,80}\Z",
    "A queue name is up to 80 letters, digits, - or _ (FIFO queues end in .fifo).",
)
