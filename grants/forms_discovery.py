"""The filters of discovery's results page (one run across every account)."""

from __future__ import annotations

from typing import Any

from django import forms

from .models import AwsAccount, DiscoveryRisk, DiscoveryRun
from .services.discovery_runs import FindingFilters, ou_prefixes

MANAGED_CHOICES = [
    ("", "Managed or not"),
    ("grant", "Already a grant"),
    ("unmanaged", "Not managed by the portal"),
    ("access", "The portal's access roles"),
]


def _select(label: str) -> forms.Select:
    return forms.Select(attrs={"class": "form-select", "aria-label": label})


class FindingFilterForm(forms.Form):
    """Risk, trusting account, OU path (the OU and everything under it), managed or not.

    The choices are those of the run: its accounts and the OU paths (with every
    ancestor) they had when it started; anything else is invalid.
    """

    risk = forms.ChoiceField(
        choices=[("", "Any risk"), *DiscoveryRisk.choices], required=False, widget=_select("Risk")
    )
    account = forms.ModelChoiceField(
        queryset=AwsAccount.objects.none(),
        required=False,
        empty_label="All accounts",
        widget=_select("Trusting account"),
    )
    ou = forms.ChoiceField(label="OU path", required=False, widget=_select("OU path"))
    managed = forms.ChoiceField(
        choices=MANAGED_CHOICES, required=False, widget=_select("Managed or not")
    )

    def __init__(self, *args: Any, run: DiscoveryRun, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = AwsAccount.objects.filter(  # type: ignore[attr-defined]
            pk__in=run.accounts.values("account")
        ).only("pk", "name", "account_id")
        paths = list(run.accounts.values_list("ou_path", flat=True))
        self.fields["ou"].choices = [  # type: ignore[attr-defined]
            ("", "Every OU"),
            *((prefix, f"{prefix} and below") for prefix in ou_prefixes(paths)),
        ]

    def filters(self) -> FindingFilters:
        """The valid filters (call after is_valid(); an unbound form filters nothing)."""
        if not self.is_bound or not self.is_valid():
            return FindingFilters()
        data = self.cleaned_data
        return FindingFilters(
            risk=data["risk"],
            account=data["account"].pk if data["account"] else None,
            ou=data["ou"],
            managed=data["managed"],
        )
