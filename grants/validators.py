"""Input rules AWS enforces server-side (botocore checks only minimum lengths)."""

from __future__ import annotations

from django.core.validators import RegexValidator

account_id_validator = RegexValidator(
    r"^\d{12}\Z", "An AWS account ID is exactly 12 digits (keep any leading zeros)."
)
region_validator = RegexValidator(
    r"^[a-z]{2}(-[a-z]+)+-\d{1,2}\Z", "Enter an AWS region code such as ap-northeast-1."
)
iam_name_validator = RegexValidator(
    r"^[\w+=,.@-]{1,64}\Z",
    "Use 1–64 letters, digits or the characters + = , . @ _ -",
)
profile_name_validator = RegexValidator(
    r"^[\w+=,.@:/-]{1,128}\Z",
    "Use 1–128 letters, digits or the characters + = , . @ : / _ -",
)
external_id_validator = RegexValidator(
    r"^[\w+=,.@:/-]{2,1224}\Z",
    "An external ID is 2–1224 letters, digits or the characters + = , . @ : / _ -",
)
