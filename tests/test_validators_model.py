"""Input rules read from botocore's model: the Java-regex translation, lengths, regions, ARNs.

The cases are generated from botocore's service model and partition data: each
rule's min and max give the values just below, at and just above its limits;
the expectations for characters come from the Java regex meaning AWS
documents (`\\w` is [a-zA-Z0-9_]), written out here independently of the
translation under test.
"""

from __future__ import annotations

import string

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from grants.aws import AwsErrorDetail, model_rules
from grants.validators import (
    RULES,
    InputRuleValidator,
    check_policy_arn,
    check_principal_arn,
    check_region,
    check_rule,
    check_trust_principal_arn,
    rule_passes,
)

# --- the Java → Python translation -----------------------------------------------------


@pytest.mark.parametrize("service", ["iam", "sts", "organizations", "ssm"])
def test_every_pattern_of_the_model_translates_and_compiles(service: str) -> None:
    patterns = model_rules.service_patterns(service)
    assert patterns, f"botocore's {service} model has patterns"
    for pattern in patterns:
        model_rules.compile_java_pattern(pattern)  # raises on anything untranslatable


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        # Java's \w and \d are ASCII only (no UNICODE_CHARACTER_CLASS).
        (r"[\w+=,.@-]+", "naive", True),
        (r"[\w+=,.@-]+", "naïve", False),
        (r"[\w+=,.@-]+", "日本語", False),
        (r"[\w+=,.@-]+", "ａｂｃ", False),  # full-width Latin letters
        (r"\d{12}", "123456789012", True),
        (r"\d{12}", "１２３４５６７８９０１２", False),  # full-width digits
        (r"\d{12}", "١٢٣٤٥٦٧٨٩٠١٢", False),  # Arabic-Indic digits
        (r"[\d]*", "٣", False),
        (r"\s", "\u3000", False),  # ideographic space is not ASCII whitespace
        # \p{…} are Unicode general categories.
        (r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*", "naïve 日本 ١٢", True),
        (r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*", "tag!", False),
        (r"\p{Lu}+", "ÀB", True),
        (r"\p{Lu}+", "àb", False),
        (r"\P{L}+", "12 -", True),
        (r"\P{L}+", "1a", False),
        (r"[^\p{N}]+", "abc", True),
        (r"[^\p{N}]+", "a٣", False),
        (r"\p{Alpha}+", "ï", False),  # POSIX classes are ASCII in Java
        # \uXXXX takes exactly four hex digits: \u10000 is U+1000 then "0".
        (r"[\u10000-\u10FFFF]", "\U0001f600", False),
        (r"[\u10000-\u10FFFF]", "\u1000", True),
        (r"[\u10000-\u10FFFF]", "F", True),
        (r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)", "/a/", True),
        (r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)", "//", False),
        # Matching is in full, as AWS applies the patterns.
        (r"[\w+=,.@-]+", "ok then", False),
        (r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)", "/a/b", False),
        # Java's "." excludes every line terminator.
        (r"a.b", "a\rb", False),
        (r"a.b", "a\u2028b", False),
        (r"a.b", "a-b", True),
        # A "-" after a class such as \w is a literal in Java.
        (r"[\w-\/]+", "a-b/c", True),
        (r"\Qa.b\E", "a.b", True),
        (r"\Qa.b\E", "axb", False),
        (r"\x{1F600}", "\U0001f600", True),
        (r"(?<word>ab)c", "abc", True),
    ],
)
def test_java_patterns_keep_their_meaning(pattern: str, value: str, matches: bool) -> None:
    compiled = model_rules.compile_java_pattern(pattern)
    assert (compiled.fullmatch(value) is not None) is matches


@pytest.mark.parametrize("pattern", [r"[a[b]]", r"[a-z&&[^e]]", r"\Gx", r"\p{IsLatin}", "\\"])
def test_java_constructs_python_cannot_express_are_refused(pattern: str) -> None:
    with pytest.raises(ValueError, match="Unsupported Java regex"):
        model_rules.java_pattern_to_python(pattern)


def test_a_shape_rule_reads_the_model_of_the_parameter() -> None:
    rule = model_rules.member_rule("iam", "CreateRole", "RoleName")
    assert (rule.shape, rule.min_length, rule.max_length) == ("roleNameType", 1, 64)
    assert rule.refused_characters("naïve-日") == ["ï", "日"]
    with pytest.raises(KeyError):
        model_rules.member_rule("iam", "NoSuchOperation", "RoleName")


# --- every rule, at and around its limits --------------------------------------------------


def _filler(key: str, length: int) -> str:
    """A value of `length` characters that has the rule's form apart from its length."""
    if key.endswith("_path") and length:
        return "/" if length == 1 else "/" + "a" * (length - 2) + "/"
    return ("1" if key == "account_id" else "a") * length


LENGTH_RULES = [key for key in RULES if not key.endswith("_arn")]


def _length_cases() -> list[tuple[str, int, bool]]:
    cases = []
    for key in LENGTH_RULES:
        rule = RULES[key]
        low, high = rule.min_length, rule.max_allowed
        if low:
            cases += [(key, low - 1, False), (key, low, True)]
        if high:
            cases += [(key, high, True), (key, high + 1, False)]
    return cases


@pytest.mark.parametrize(("key", "length", "accepted"), _length_cases())
def test_each_rule_accepts_its_model_limits_and_refuses_beyond(
    key: str, length: int, accepted: bool
) -> None:
    value = _filler(key, length)
    if accepted:
        check_rule(key, value)
    else:
        with pytest.raises(ValidationError) as caught:
            check_rule(key, value)
        assert "This one has" in caught.value.messages[0]


def test_the_length_cases_cover_the_model_and_the_documented_limits() -> None:
    cases = {(key, n) for key, n, _ in _length_cases()}
    assert ("role_name", 64) in cases and ("role_name", 65) in cases
    assert ("user_name", 65) in cases  # CreateUser says 64, the same as the IAM quota
    assert ("external_id", 1) in cases and ("external_id", 1225) in cases
    assert ("role_path", 513) in cases
    assert ("role_description", 1001) in cases
    assert ("policy_name", 129) in cases
    assert ("role_session_name", 1) in cases and ("role_session_name", 65) in cases


# Characters the rules' Java patterns allow, written out from AWS's documentation.
ASCII_WORD = set(string.ascii_letters + string.digits + "_")
ALLOWED = {
    "role_name": ASCII_WORD | set("+=,.@-"),
    "user_name": ASCII_WORD | set("+=,.@-"),
    "policy_name": ASCII_WORD | set("+=,.@-"),
    "managed_policy_name": ASCII_WORD | set("+=,.@-"),
    "role_session_name": ASCII_WORD | set("+=,.@-"),
    "external_id": ASCII_WORD | set("+=,.@:/-"),
    "account_id": set(string.digits),
}


@pytest.mark.parametrize("key", sorted(ALLOWED))
@settings(max_examples=200, deadline=None)
@given(value=st.text(min_size=2, max_size=12))
def test_character_rules_agree_with_java_semantics(key: str, value: str) -> None:
    if key == "account_id":
        value = (value * 12)[:12]
    expected = set(value) <= ALLOWED[key]
    assert rule_passes(key, value) is expected, value


@pytest.mark.parametrize(
    ("key", "value", "refused"),
    [
        ("role_name", "naïve", "LATIN SMALL LETTER I WITH DIAERESIS"),
        ("role_name", "ロール", "KATAKANA LETTER RO"),
        ("role_name", "bad name", "SPACE"),
        ("user_name", "müller", "LATIN SMALL LETTER U WITH DIAERESIS"),
        ("policy_name", "ポリシー", "KATAKANA LETTER PO"),
        ("policy_name", "政策", "CJK UNIFIED IDEOGRAPH-653F"),
        ("external_id", "ａｂｃ", "FULLWIDTH LATIN SMALL LETTER A"),
        ("account_id", "１２３４５６７８９０１２", "FULLWIDTH DIGIT ONE"),
        ("account_id", "١٢٣٤٥٦٧٨٩٠١٢", "ARABIC-INDIC DIGIT ONE"),
        ("account_id", "12345678901x", "LATIN SMALL LETTER X"),
        ("role_description", "rôle ok but 😀", "GRINNING FACE"),
    ],
)
def test_a_refused_character_is_named(key: str, value: str, refused: str) -> None:
    with pytest.raises(ValidationError) as caught:
        check_rule(key, value)
    message = caught.value.messages[0]
    assert "Not allowed:" in message and refused in message
    assert message.startswith(RULES[key].describe())


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("/", True),
        ("/xacct/", True),
        ("/division_abc/subdivision_xyz/", True),
        ("/a!~/", True),
        ("//", False),  # the model's pattern needs a character between the slashes
        ("///", False),  # the pattern allows it; AWS's documented form has no empty segment
        ("/a//b/", False),
        ("xacct", False),
        ("/xacct", False),
        ("xacct/", False),
        ("/naïve/", False),
        ("/a b/", False),
        ("/" + "a" * 510 + "/", True),
        ("/" + "a" * 511 + "/", False),
    ],
)
def test_role_paths(value: str, accepted: bool) -> None:
    assert rule_passes("role_path", value) is accepted


def test_an_empty_segment_is_explained() -> None:
    with pytest.raises(ValidationError, match=r"empty segment \(//\)"):
        check_rule("role_path", "/a//b/")


def test_the_role_session_names_the_portal_sends_satisfy_the_model() -> None:
    from django.conf import settings as django_settings

    from grants.services.verification import VERIFY_SESSION_NAME

    for name in (VERIFY_SESSION_NAME, django_settings.AWS_ROLE_SESSION_NAME, "sandbox-seed"):
        check_rule("role_session_name", name)


# --- regions from botocore's partition data ------------------------------------------------

REGIONS = sorted(
    (region, partition)
    for partition, regions in model_rules.partition_regions().items()
    for region in regions
)


def test_the_partition_data_has_every_partition() -> None:
    partitions = set(model_rules.partition_regions())
    assert {"aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-eusc"} <= partitions
    assert len(REGIONS) >= 40


@pytest.mark.parametrize(("region", "partition"), REGIONS)
def test_every_real_region_is_accepted_in_its_partition(region: str, partition: str) -> None:
    check_region(region)
    assert model_rules.region_partition(region) == partition


@pytest.mark.parametrize(
    "region",
    [
        "tokyo",
        "us-east-9",
        "ap-northeast-9",
        "AP-NORTHEAST-1",
        " ap-northeast-1",
        "ap-northeast-1\n",
        "aws-global",  # a pseudo-region of the endpoint data, not a region
        "aws-cn-global",
        "xx-east-1",
        "",
    ],
)
def test_made_up_regions_are_refused(region: str) -> None:
    with pytest.raises(ValidationError, match="region code"):
        check_region(region)


# --- ARNs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::444455556666:user/hoge-app",
        "arn:aws:iam::444455556666:role/app-role",
        "arn:aws:iam::444455556666:user/division/team/hoge-app",
        "arn:aws-cn:iam::444455556666:role/app",
        "arn:aws-us-gov:iam::444455556666:user/app",
        "arn:aws-iso-b:iam::444455556666:user/app",
        "arn:aws:iam::444455556666:user/" + "u" * 64,
    ],
)
def test_principal_arns_of_the_documented_form_are_accepted(arn: str) -> None:
    check_principal_arn(arn)


@pytest.mark.parametrize(
    ("arn", "message"),
    [
        ("arn:aws:iam::444455556666:user/naïve", "The name in the ARN"),
        ("arn:aws:iam::444455556666:user/" + "u" * 65, "The name in the ARN"),
        ("arn:aws:iam::444455556666:role/a//b/app", "empty segment"),
        ("arn:aws:iam::４４４４５５５５６６６６:user/app", "The account in the ARN"),
        ("arn:aws:iam::44445555666:user/app", "The account in the ARN"),
        ("arn:aws:iam::444455556666:group/admins", "IAM user or role ARN"),
        ("arn:aws:sts::444455556666:assumed-role/r/s", "IAM user or role ARN"),
        ("arn:aws:iam:us-east-1:444455556666:user/app", "IAM user or role ARN"),
        ("arn:aws:iam::444455556666:user", "IAM user or role ARN"),
        ("arn:aws-mars:iam::444455556666:user/app", "not an AWS partition"),
        ("arn:aws:iam::444455556666:user/", "The name in the ARN"),
        ("444455556666", "An ARN is 20–2048 characters"),
        ("not-an-arn-but-long-enough", "Enter an ARN"),
    ],
)
def test_principal_arns_outside_the_rules_are_refused(arn: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        check_principal_arn(arn)
    assert message in " ".join(caught.value.messages)


@pytest.mark.parametrize(
    ("arn", "accepted"),
    [
        ("arn:aws:iam::aws:policy/AmazonSQSReadOnlyAccess", True),
        ("arn:aws:iam::aws:policy/service-role/AWSLambdaRole", True),
        ("arn:aws:iam::111122223333:policy/team/my-policy", True),
        ("arn:aws-cn:iam::aws:policy/AmazonSQSFullAccess", True),
        ("arn:aws:iam::aws:policy/ポリシー", False),
        ("arn:aws:iam::aws:policy/a//b", False),
        ("arn:aws:iam::aws:policy/", False),
        ("arn:aws:iam::aws:policy/" + "p" * 129, False),
        ("arn:aws:iam::awz:policy/x", False),
        ("arn:aws:s3:::bucket-name-here", False),
        ("arn:aws:iam::aws:role/AmazonSQSFullAccess", False),
        ("arn:aws-mars:iam::aws:policy/AmazonSQSFullAccess", False),
    ],
)
def test_managed_policy_arns(arn: str, accepted: bool) -> None:
    if accepted:
        check_policy_arn(arn)
    else:
        with pytest.raises(ValidationError):
            check_policy_arn(arn)


@pytest.mark.parametrize(
    ("arn", "accepted"),
    [
        ("arn:aws:iam::444455556666:root", True),
        ("arn:aws:iam::444455556666:user/hoge-app", True),
        ("arn:aws:sts::444455556666:assumed-role/r/s", True),
        ("arn:aws:iam::4444555566660:root", False),
        ("arn:aws:s3:::444455556666-bucket", False),
        ("arn:aws:iam::444455556666:", False),
    ],
)
def test_a_grants_trust_principal_may_be_the_account_or_one_principal(
    arn: str, accepted: bool
) -> None:
    assert InputRuleValidator("trust_principal_arn") == InputRuleValidator("trust_principal_arn")
    if accepted:
        check_trust_principal_arn(arn)
    else:
        with pytest.raises(ValidationError):
            check_trust_principal_arn(arn)


def test_a_validator_is_stored_by_its_rule_name_only() -> None:
    validator = InputRuleValidator("role_name")
    path, args, kwargs = validator.deconstruct()
    assert (path, args, kwargs) == ("grants.validators.InputRuleValidator", ("role_name",), {})
    assert validator != InputRuleValidator("user_name")
    with pytest.raises(KeyError):
        InputRuleValidator("no_such_rule")


# --- MalformedPolicyDocument: Invalid principal in policy --------------------------------


def test_an_invalid_principal_error_is_explained() -> None:
    detail = AwsErrorDetail(
        service="iam",
        operation="CreateRole",
        message='Invalid principal in policy: "AWS":"arn:aws:iam::444455556666:user/gone"',
        code="MalformedPolicyDocument",
    )
    assert "does not exist" in detail.hint
    other = AwsErrorDetail(
        service="iam",
        operation="CreateRole",
        message="Syntax errors in policy.",
        code="MalformedPolicyDocument",
    )
    assert other.hint == ""
