"""Validation of a person's alert subscriptions."""

from __future__ import annotations

from typing import Any

from django import forms

from grants.models import AwsAccount

from .models import Subscription, SubscriptionScope


class SubscriptionForm(forms.ModelForm):
    """Which grants' alerts to receive by e-mail: all, mine, or one account's."""

    class Meta:
        model = Subscription
        fields = ["scope", "account", "failures_only"]
        labels = {"scope": "Which grants", "failures_only": "Failures only"}
        help_texts = {
            "account": "Only with “Grants touching one account”: grants it gives or receives.",
        }
        widgets = {
            "scope": forms.RadioSelect,
            "account": forms.Select(attrs={"class": "form-select"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = AwsAccount.objects.order_by("name")
        self.fields["account"].empty_label = "— choose an account —"
        self.fields["failures_only"].widget.attrs["class"] = "form-check-input"
        self.fields["failures_only"].help_text = (
            "Leave out recoveries and revokes: only failures, drift, expiry, partial "
            "operations and scheduled verification that could not run."
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        scope, account = data.get("scope"), data.get("account")
        if scope == SubscriptionScope.ACCOUNT and account is None:
            self.add_error("account", "Choose the account whose grants you want to hear about.")
        elif scope and scope != SubscriptionScope.ACCOUNT and account is not None:
            self.add_error(
                "account",
                "An account is used only with “Grants touching one account”: "
                "choose that, or leave the account empty.",
            )
        return data
