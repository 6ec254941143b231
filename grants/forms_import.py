"""Completing an imported grant: the grantee, its user policy and local profile."""

from __future__ import annotations

from typing import Any

from django import forms

from .models import Grant, GranteeType
from .validators import policy_name_validator, profile_name_validator, user_name_validator


class GranteeCompletionForm(forms.Form):
    """Who in the trusted account assumes an imported role, and through which policy."""

    grantee_type = forms.ChoiceField(label="Grantee type", choices=GranteeType.choices)
    grantee_name = forms.CharField(
        label="Grantee name", max_length=64, validators=[user_name_validator]
    )
    user_policy_name = forms.CharField(
        label="User policy name",
        max_length=128,
        validators=[policy_name_validator],
        help_text="The inline policy in the trusted account allowing sts:AssumeRole on the role.",
    )
    grantee_profile = forms.CharField(
        label="Grantee's local AWS profile (optional)",
        max_length=128,
        required=False,
        validators=[profile_name_validator],
        help_text=(
            "A profile on the portal host with the grantee's own credentials: Test access "
            "then assumes the role as the grantee."
        ),
    )

    def __init__(self, *args: Any, grant: Grant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs.setdefault("class", css)
        self.fields["user_policy_name"].initial = (
            grant.user_policy_name
            if grant.user_policy_name and grant.user_policy_name != "(unknown)"
            else f"xacct-assume-{grant.role_name}"[:128]
        )
        self.fields["grantee_type"].initial = grant.grantee_type
        self.fields["grantee_name"].initial = grant.grantee_name
        self.fields["grantee_profile"].initial = grant.grantee_profile
