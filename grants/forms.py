"""Forms: validation only; services do the work."""

from __future__ import annotations

from typing import Any

from django import forms

from .models import AccessMethod, AwsAccount


class BootstrapMixin:
    """Give every widget Bootstrap's class, and mark invalid ones."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[call-arg]
        for name, field in self.fields.items():  # type: ignore[attr-defined]
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select"
            else:
                css = "form-control"
            if self.is_bound and name in self.errors:  # type: ignore[attr-defined]
                css += " is-invalid"
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()


class AwsAccountForm(BootstrapMixin, forms.ModelForm):
    """Register or edit an account; model validation enforces the AWS input rules."""

    class Meta:
        model = AwsAccount
        fields = [
            "account_id",
            "name",
            "owner_email",
            "default_region",
            "partition",
            "access_method",
            "profile_name",
            "hub_role_name",
            "hub_external_id",
        ]
        widgets = {
            "account_id": forms.TextInput(
                attrs={"inputmode": "numeric", "placeholder": "111122223333", "autofocus": True}
            ),
            "default_region": forms.TextInput(attrs={"placeholder": "ap-northeast-1"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance.pk:
            self.initial.setdefault("hub_role_name", "OrganizationAccountAccessRole")

    def clean_account_id(self) -> str:
        return self.cleaned_data["account_id"].strip()

    def _post_clean(self) -> None:
        # Fields of the access methods not chosen are dropped, not reported.
        method = self.cleaned_data.get("access_method")
        if method != AccessMethod.HUB_ROLE:
            self.cleaned_data["hub_role_name"] = ""
            self.cleaned_data["hub_external_id"] = ""
        if method != AccessMethod.PROFILE:
            self.cleaned_data["profile_name"] = ""
        super()._post_clean()


class AuditFilterForm(forms.Form):
    account = forms.ModelChoiceField(queryset=AwsAccount.objects.all(), required=False)
    action = forms.CharField(required=False)
    outcome = forms.CharField(required=False)
