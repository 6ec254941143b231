"""The form of registering accounts from an AWS Organization."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

from .services.organization import DEFAULT_HUB_ROLE
from .validators import iam_name_validator, region_validator

_ACCOUNT_ID = re.compile(r"^\d{12}$")
# Root and OU IDs (Organizations API model: RootId, OrganizationalUnitId).
unit_id_validator = RegexValidator(
    r"^(r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32})$",
    "Not a root or organizational unit ID (r-… or ou-…-…).",
)


class AccountIdsField(forms.MultipleChoiceField):
    """Any number of 12-digit account IDs; which exist is the service's to check."""

    def valid_value(self, value: Any) -> bool:
        return isinstance(value, str) and bool(_ACCOUNT_ID.match(value))

    def validate(self, value: Any) -> None:
        if self.required and not value:
            raise ValidationError(self.error_messages["required"], code="required")
        for item in value:
            if not self.valid_value(item):
                raise ValidationError(f"Not a 12-digit account ID: {str(item)[:40]}")


class OrganizationRegisterForm(forms.Form):
    account_ids = AccountIdsField(required=False, label="Accounts")
    ou_id = forms.CharField(
        required=False,
        max_length=68,
        validators=[unit_id_validator],
        label="Whole organizational unit",
    )
    hub_role_name = forms.CharField(
        label="Hub role name",
        max_length=64,
        initial=DEFAULT_HUB_ROLE,
        validators=[iam_name_validator],
        help_text="The role the portal assumes in each account (AWS creates "
        "OrganizationAccountAccessRole in accounts the organization creates).",
    )
    default_region = forms.CharField(
        label="Default region", max_length=32, validators=[region_validator]
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not cleaned.get("account_ids") and not cleaned.get("ou_id") and not self.errors:
            raise ValidationError("Choose accounts, an organizational unit, or both.")
        return cleaned
