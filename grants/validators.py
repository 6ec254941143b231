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

role_path_validator = RegexValidator(
    r"^(/|/[\x21-\x7e]{0,510}/)\Z",
    "A path starts and ends with / and holds 1–512 printable ASCII characters, e.g. /xacct/.",
)
policy_name_validator = RegexValidator(
    r"^[\w+=,.@-]{1,128}\Z",
    "Use 1–128 letters, digits or the characters + = , . @ _ -",
)
description_validator = RegexValidator(
    r"^[\t\n\r\u0020-\u007e\u00a1-\u00ff]*\Z",
    "Use printable characters only (Latin-1).",
)
queue_name_validator = RegexValidator(
    r"^[A-Za-z0-9_-]{1,75}(\.fifo)?\Z|^[A-Za-z0-9_-]{1,80}\Z",
    "A queue name is up to 80 letters, digits, - or _ (FIFO queues end in .fifo).",
)
managed_policy_arn_validator = RegexValidator(
    r"^arn:aws(-cn|-us-gov)?:iam::(aws|\d{12}):policy/([\x21-\x7e]*/)?[\w+=,.@-]{1,128}\Z",
    "Enter a managed policy ARN such as arn:aws:iam::aws:policy/AmazonSQSReadOnlyAccess.",
)
principal_arn_validator = RegexValidator(
    r"^arn:aws(-cn|-us-gov)?:iam::\d{12}:(user|role)/([\x21-\x7e]*/)?[\w+=,.@-]{1,64}\Z",
    "Enter an IAM user or role ARN, e.g. arn:aws:iam::444455556666:user/hoge-app.",
)
