"""Webhook forms: validation only; alerts.webhooks does the work."""

from __future__ import annotations

from django import forms

from grants.forms import BootstrapMixin

from .models import Webhook, WebhookFormat
from .webhooks import WEBHOOK_FIELDS, webhook_url_validate


class WebhookForm(BootstrapMixin, forms.ModelForm):
    """Create or edit a webhook; the signing secret is never a field."""

    class Meta:
        model = Webhook
        fields = list(WEBHOOK_FIELDS)  # the fields webhook_create/webhook_update take
        widgets = {
            "url": forms.URLInput(attrs={"placeholder": "https://hooks.example.com/xacct"}),
            "body_format": forms.RadioSelect,
        }
        labels = {
            "body_format": "Body",
            "failures_only": "Failures only (no recoveries or revokes)",
            "is_active": "Active (an inactive webhook receives nothing)",
        }
        help_texts = {
            "url": "http or https; no user name or password in it. "
            "The receiver checks the X-Xacct-Signature header instead.",
        }

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.fields["body_format"].choices = WebhookFormat.choices

    def clean_url(self) -> str:
        url = self.cleaned_data["url"].strip()
        webhook_url_validate(url)
        return url
