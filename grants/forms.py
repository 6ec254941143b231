"""Forms: validation only; services do the work."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django import forms
from django.forms.utils import pretty_name
from django.utils import timezone

from . import aws, policies
from .models import AccessMethod, AwsAccount, Grant, GranteeType, PermissionSet, TrustScope
from .policies import trust_conditions
from .selectors import LiveLookup, role_name_taken_by_grant
from .services import ACCOUNT_FIELDS, grant_size_errors
from .services.guardrails import portal_access_role_names
from .validators import (
    account_id_validator,
    arn_parse,
    check_policy_arn,
    check_principal_arn,
    description_validator,
    external_id_validator,
    policy_name_validator,
    profile_name_validator,
    region_partition,
    region_validator,
    role_name_validator,
    role_path_validator,
    user_name_validator,
)


class BootstrapMixin:
    """Give every widget Bootstrap's class, and mark invalid ones after validation."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[call-arg]
        self._style_widgets()

    def _style_widgets(self) -> None:
        for field in self.fields.values():  # type: ignore[attr-defined]
            widget = field.widget
            if isinstance(
                widget, forms.CheckboxInput | forms.CheckboxSelectMultiple | forms.RadioSelect
            ):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select"
            else:
                css = "form-control"
            classes = widget.attrs.get("class", "").split()
            if css not in classes:
                widget.attrs["class"] = " ".join([*classes, css])

    def full_clean(self) -> None:
        super().full_clean()  # type: ignore[misc]
        for name in self.errors:  # type: ignore[attr-defined]
            if name in self.fields:  # type: ignore[attr-defined]
                widget = self.fields[name].widget  # type: ignore[attr-defined]
                widget.attrs["class"] = widget.attrs.get("class", "") + " is-invalid"


class AwsAccountForm(BootstrapMixin, forms.ModelForm):
    """Register or edit an account; model validation enforces the AWS input rules."""

    class Meta:
        model = AwsAccount
        fields = list(ACCOUNT_FIELDS)  # the fields account_create/account_update take
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

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        region, partition = data.get("default_region"), data.get("partition")
        found = region_partition(region) if region else None
        if found and partition:  # not a region at all: the model's validator says so
            error = _partition_error(f"The region {region}", found, partition)
            if error:
                self.add_error("default_region", error)
        return data

    # The fields each access method uses; the others are cleared when saved.
    METHOD_FIELDS = {
        "hub_role_name": AccessMethod.HUB_ROLE,
        "hub_external_id": AccessMethod.HUB_ROLE,
        "profile_name": AccessMethod.PROFILE,
    }

    def _post_clean(self) -> None:
        # A field of an access method not chosen is cleared, but never silently: a value
        # typed there (not the one the form was shown with) is reported instead.
        method = self.cleaned_data.get("access_method")
        for name, used_by in self.METHOD_FIELDS.items():
            if method == used_by or method is None:
                continue
            value = (self.cleaned_data.get(name) or "").strip()
            if value and value != (self.initial.get(name) or ""):
                self.add_error(
                    name,
                    f"{self.fields[name].label} is filled in, but only "
                    f'"{AccessMethod(used_by).label}" uses it, which is not chosen. Choose '
                    "that access method, or clear the field.",
                )
            self.cleaned_data[name] = ""
        super()._post_clean()


# --- the role-creation wizard -----------------------------------------------------


def _aws_error_text(exc: aws.AwsError, what: str) -> str:
    d = exc.detail
    code = d.code or d.client_error
    return f"Could not {what}: {d.service}:{d.operation} {code}: {d.message}"


def _partition_error(
    what: str, found: str | None, expected: str, where: str = "the account"
) -> str:
    """The empty string when `found` is the partition `expected`, else why not, in words."""
    if found == expected:
        return ""
    return (
        f"{what} is in the {found} partition, but {where} is in {expected}: AWS keeps "
        "partitions apart (a role, its policies, its principals and its regions share one)."
    )


class RevealedField:
    """A visible field of a wizard step and whether the chosen option shows it."""

    def __init__(
        self, field: forms.BoundField, control: str, option: str, shown: bool, holds_input: bool
    ) -> None:
        self.field = field
        self.control = control
        self.option = option
        self.shown = shown
        self.holds_input = holds_input


class OptionFieldsMixin:
    """Fields that belong to one option of a choice (a radio field): shown only when it is chosen.

    `OPTION_FIELDS` maps a field name to (control field, option value). A field of an option
    not chosen that still holds typed input is never dropped: `clean()` reports it on the
    field (see `_refuse_unchosen_input`), so the step asks instead of discarding it.
    """

    OPTION_FIELDS: dict[str, tuple[str, str]] = {}
    OPTION_LABELS: dict[str, str] = {}

    @property
    def option_controls(self) -> set[str]:
        """The names of the radio fields whose choice shows or hides other fields."""
        return {control for control, _ in self.OPTION_FIELDS.values()}

    def holds_input(self, name: str, value: Any) -> bool:
        """True when the field's value (raw or cleaned) is something the user typed or chose."""
        if isinstance(value, list | tuple):
            return any(str(v).strip() for v in value)
        return bool(str(value or "").strip())

    def chosen(self, control: str) -> str:
        return str(self[control].value() or "")  # type: ignore[index]

    def option_chosen(self, name: str) -> bool:
        """Whether the option a field belongs to is chosen, and so is every option above it
        (a control may itself belong to an option of another control)."""
        control, option = self.OPTION_FIELDS.get(name, ("", ""))
        if not control:
            return True
        return self.chosen(control) == option and self.option_chosen(control)

    def revealed_fields(self) -> list[RevealedField]:
        """The visible fields in order, each marked shown or hidden for the chosen option."""
        result = []
        for bound in self.visible_fields():  # type: ignore[attr-defined]
            control, option = self.OPTION_FIELDS.get(bound.name, ("", ""))
            holds = bool(control) and self.holds_input(bound.name, bound.value())
            shown = self.option_chosen(bound.name) or bool(bound.errors) or holds
            result.append(RevealedField(bound, control, option, shown, holds))
        return result

    def _refuse_unchosen_input(self, data: dict[str, Any]) -> None:
        """Ask about typed input in the fields of an option not chosen, instead of dropping it."""
        for name, (control, option) in self.OPTION_FIELDS.items():
            if data.get(control) in (None, option) or name in self.errors:  # type: ignore[attr-defined]
                continue
            if self.holds_input(name, data.get(name)):
                label = self.fields[name].label or pretty_name(name)  # type: ignore[attr-defined]
                self.add_error(  # type: ignore[attr-defined]
                    name,
                    f"{label} is filled in, but it is used only with "
                    f"“{self.OPTION_LABELS[option]}”, which is not chosen. Choose that option "
                    "to use it, or clear it.",
                )


class RoleStepForm(BootstrapMixin, forms.Form):
    """Step 1: the trusting account and the role to create there."""

    trusting_account = forms.ModelChoiceField(
        queryset=AwsAccount.objects.exclude(access_method=AccessMethod.EXTERNAL),
        help_text="The account that owns the resources. Only accounts the portal manages.",
    )
    role_name = forms.CharField(max_length=64, validators=[role_name_validator])
    role_path = forms.CharField(
        max_length=512, initial="/", validators=[role_path_validator], label="Role path"
    )
    role_description = forms.CharField(
        max_length=1000,
        required=False,
        validators=[description_validator],
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Description",
    )

    def __init__(self, *args: Any, lookup: LiveLookup, **kwargs: Any) -> None:
        self.lookup = lookup
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        account, name = data.get("trusting_account"), data.get("role_name")
        if not account or not name:
            return data
        grant = role_name_taken_by_grant(account, name)
        if grant is not None:
            self.add_error(
                "role_name", f"Grant #{grant.pk} already uses the role {grant.role_name} here."
            )
            return data
        try:
            existing = self.lookup.role_names(account)
        except aws.AwsError as exc:
            raise forms.ValidationError(
                _aws_error_text(exc, f"list the roles in {account}")
            ) from None
        clash = next((r for r in existing if r.lower() == name.lower()), None)
        if clash:
            self.add_error(
                "role_name",
                f"{account} already has a role named {clash} (IAM role names ignore case).",
            )
        return data


ORG_CONDITION_NONE = "none"
ORG_CONDITION_ORG = "org"
ORG_CONDITION_PATHS = "paths"
ORG_CONDITION_CHOICES = [
    (ORG_CONDITION_NONE, "None"),
    (ORG_CONDITION_ORG, "Also inside my organization (aws:PrincipalOrgID)"),
    (ORG_CONDITION_PATHS, "Inside these OU paths (aws:PrincipalOrgPaths)"),
]


def known_org_path_choices() -> list[tuple[str, str]]:
    """The OUs registered accounts sit in, as aws:PrincipalOrgPaths values covering each OU
    and the OUs below it ("o-…/r-…/ou-…/*"), labelled with their OU names."""
    rows = (
        AwsAccount.objects.exclude(org_entity_path="")
        .order_by("ou_path", "org_entity_path")
        .values_list("org_entity_path", "ou_path")
        .distinct()
    )
    choices: dict[str, str] = {}
    for entity_path, ou_path in rows:
        value = entity_path.rstrip("*").rstrip("/") + "/*"
        if trust_conditions.is_org_path(value):
            choices.setdefault(value, f"{ou_path or 'OU'} and below: {value}")
    return list(choices.items())


class TrustedStepForm(OptionFieldsMixin, BootstrapMixin, forms.Form):
    """Step 2: who is trusted, and on which conditions.

    `generated_external_id` is this wizard run's one generated value (kept in the wizard's
    storage), used when "Generate" is ticked: every validation of the step gives the same value.
    """

    OPTION_FIELDS = {
        "trusted_principal_arn": ("trust_scope", TrustScope.PRINCIPAL),
        "org_condition": ("trust_scope", TrustScope.ACCOUNT),
        "org_id": ("org_condition", ORG_CONDITION_ORG),
        "org_known_paths": ("org_condition", ORG_CONDITION_PATHS),
        "org_paths": ("org_condition", ORG_CONDITION_PATHS),
    }
    OPTION_LABELS = {**dict(TrustScope.choices), **dict(ORG_CONDITION_CHOICES)}

    trusted_account = forms.ModelChoiceField(
        queryset=AwsAccount.objects.all(),
        required=False,
        empty_label="Another account (enter its ID below)",
        help_text="A registered account, or leave empty and type any 12-digit account ID.",
    )
    trusted_aws_account_id = forms.CharField(
        label="Trusted account ID", required=False, validators=[account_id_validator]
    )
    trust_scope = forms.ChoiceField(
        choices=TrustScope.choices, initial=TrustScope.ACCOUNT, widget=forms.RadioSelect
    )
    trusted_principal_arn = forms.CharField(
        label="Trusted principal ARN",
        required=False,
        max_length=2048,
        help_text="Only for one principal: an IAM user or role ARN in the trusted account.",
    )
    external_id = forms.CharField(
        label="External ID",
        required=False,
        max_length=1224,
        validators=[external_id_validator],
        help_text="Not a secret: a value the assuming party must pass, unique per customer.",
    )
    generate_external_id = forms.BooleanField(
        label="Generate a random, unique external ID", required=False
    )
    require_mfa = forms.BooleanField(label="Require MFA to assume the role", required=False)
    org_condition = forms.ChoiceField(
        label="Organization condition",
        choices=ORG_CONDITION_CHOICES,
        initial=ORG_CONDITION_NONE,
        required=False,
        widget=forms.RadioSelect,
        help_text=(
            "Besides being in the trusted account, the principal's account must be in an AWS "
            "Organization, or in some of its OUs: an account that leaves (or moves) loses access."
        ),
    )
    org_id = forms.CharField(
        label="Organization ID",
        required=False,
        max_length=34,
        help_text=(
            "o- and 10–32 lower-case letters or digits (AWS Organizations API). Prefilled with "
            "the trusting account's organization when the portal knows it."
        ),
    )
    org_known_paths = forms.MultipleChoiceField(
        label="OUs of registered accounts",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Each OU and every OU below it.",
    )
    org_paths = forms.CharField(
        label="Other OU paths",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=(
            "One per line: o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/* for that OU and below, "
            "…/ou-ab12-11111111/ for that OU only, o-a1b2c3d4e5/* for the whole organization."
        ),
    )

    def __init__(
        self,
        *args: Any,
        trusting_account: AwsAccount | None,
        lookup: LiveLookup | None = None,
        generated_external_id: str = "",
        **kwargs: Any,
    ) -> None:
        self.trusting_account = trusting_account
        self.lookup = lookup or LiveLookup()
        self.generated_external_id = generated_external_id or f"xacct-{uuid.uuid4()}"
        super().__init__(*args, **kwargs)
        self.fields[
            "generate_external_id"
        ].help_text = f"This wizard run's value: {self.generated_external_id}"
        if trusting_account is not None and trusting_account.organization_id:
            self.fields["org_id"].initial = trusting_account.organization_id
        self.fields["org_known_paths"].choices = known_org_path_choices()

    def holds_input(self, name: str, value: Any) -> bool:
        """Typed input, not defaults: no organization condition, or the prefilled ID, is not."""
        if name == "org_condition":
            return str(value or ORG_CONDITION_NONE) != ORG_CONDITION_NONE
        if name == "org_id":
            return bool(str(value or "").strip()) and value != self.fields["org_id"].initial
        return super().holds_input(name, value)

    def clean_org_id(self) -> str:
        value = self.cleaned_data["org_id"].strip()
        if value and not trust_conditions.is_org_id(value):
            raise forms.ValidationError(
                f"{value} is not an organization ID: o- and 10–32 lower-case letters or digits "
                "(AWS Organizations API, OrganizationId), e.g. o-a1b2c3d4e5."
            )
        return value

    def clean_org_paths(self) -> list[str]:
        lines = [line.strip() for line in self.cleaned_data["org_paths"].splitlines()]
        paths = list(dict.fromkeys(line for line in lines if line))
        bad = [path for path in paths if not trust_conditions.is_org_path(path)]
        if bad:
            raise forms.ValidationError(
                f"Not an OU path: {', '.join(bad)}. Write the IDs from the organization down, "
                "each followed by /: o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/ (that OU only), add "
                "* for the OUs below it too, or o-a1b2c3d4e5/* for the whole organization."
            )
        return paths

    def _clean_org_condition(self, data: dict[str, Any]) -> None:
        """Set `principal_org_id` / `principal_org_paths` from the chosen organization
        condition, and refuse one no principal of the trusted account could meet (when the
        portal knows where that account is in its organization)."""
        data["principal_org_id"], data["principal_org_paths"] = "", []
        kind = data.get("org_condition") or ORG_CONDITION_NONE
        if data.get("trust_scope") != TrustScope.ACCOUNT or kind == ORG_CONDITION_NONE:
            return
        account: AwsAccount | None = data.get("trusted_account")
        if kind == ORG_CONDITION_ORG:
            org_id = data.get("org_id", "")
            if not org_id:
                if "org_id" not in self.errors:
                    self.add_error("org_id", "Enter the organization ID (o-…).")
                return
            data["principal_org_id"] = org_id
            known = account.organization_id if account is not None else ""
            if known and known != org_id:
                self.add_error(
                    "org_id",
                    f"{account} is in organization {known}, not {org_id}: no "
                    "principal of it could ever assume the role. Choose its organization, or "
                    "no organization condition.",
                )
            return
        paths = [*data.get("org_known_paths", []), *data.get("org_paths", [])]
        paths = list(dict.fromkeys(paths))
        if not paths:
            if "org_paths" not in self.errors:
                self.add_error("org_paths", "Choose or type at least one OU path.")
            return
        data["principal_org_paths"] = paths
        if account is not None and account.org_entity_path:
            condition = trust_conditions.org_condition(org_paths=paths)
            if not trust_conditions.org_condition_admits(
                condition, entity_path=account.org_entity_path
            ):
                self.add_error(
                    "org_paths",
                    f"{account} is at {account.org_entity_path} ({account.ou_path or 'its OU'}), "
                    "which none of these paths covers: no principal of it could ever assume the "
                    "role. Add its OU, or choose no organization condition.",
                )

    def clean_trusted_principal_arn(self) -> str:
        value = self.cleaned_data["trusted_principal_arn"].strip()
        if value == "*" or "*" in value:
            raise forms.ValidationError(
                "A wildcard principal would let anyone assume the role; name one principal."
            )
        if value:
            check_principal_arn(value)
        return value

    def _check_principal_exists(self, account: AwsAccount, arn: str) -> None:
        """AWS refuses a trust policy naming a principal that does not exist
        (MalformedPolicyDocument: Invalid principal in policy): ask IAM now."""
        kind, name = arn.split(":", 5)[5].split("/", 1)
        name = name.rsplit("/", 1)[-1]
        word = "IAM user" if kind == GranteeType.USER else "IAM role"
        try:
            actual = self.lookup.principal_arn(account, kind, name)
        except aws.AwsError as exc:
            self.add_error(
                "trusted_principal_arn", _aws_error_text(exc, f"check that {arn} exists")
            )
            return
        if actual is None:
            self.add_error(
                "trusted_principal_arn",
                f"{account} has no {word} named {name}. AWS refuses a trust policy that names "
                "a principal that does not exist (MalformedPolicyDocument: Invalid principal "
                f"in policy): create the {word} first, correct the ARN, or trust the whole "
                "account.",
            )
        elif actual != arn:
            self.add_error(
                "trusted_principal_arn",
                f"In {account} the {word} {name} is {actual}: the path is part of the ARN, "
                f"and AWS refuses a trust policy naming {arn}, which does not exist.",
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        account: AwsAccount | None = data.get("trusted_account")
        typed = data.get("trusted_aws_account_id", "")
        if account and typed and typed != account.account_id:
            self.add_error("trusted_aws_account_id", "Choose a registered account or type an ID.")
        elif account:
            data["trusted_aws_account_id"] = account.account_id
        elif typed:
            data["trusted_account"] = AwsAccount.objects.filter(account_id=typed).first()
        elif "trusted_aws_account_id" not in self.errors:
            self.add_error("trusted_aws_account_id", "Choose the trusted account or type its ID.")
        trusted_id = data.get("trusted_aws_account_id")
        account = data.get("trusted_account")
        if (
            account is not None
            and self.trusting_account
            and account.partition != self.trusting_account.partition
        ):
            self.add_error(
                "trusted_account",
                _partition_error(
                    f"{account}",
                    account.partition,
                    self.trusting_account.partition,
                    f"the trusting account {self.trusting_account}",
                ),
            )
        if self.trusting_account and trusted_id == self.trusting_account.account_id:
            self.add_error(
                "trusted_aws_account_id",
                "The trusted account must differ from the trusting account.",
            )
        arn = data.get("trusted_principal_arn", "")
        data["org_condition"] = data.get("org_condition") or ORG_CONDITION_NONE
        self._refuse_unchosen_input(data)
        if data.get("trust_scope") == TrustScope.PRINCIPAL:
            if not arn and "trusted_principal_arn" not in self.errors:
                self.add_error("trusted_principal_arn", "Enter the ARN of the trusted principal.")
            elif arn and trusted_id and arn.split(":")[4] != trusted_id:
                self.add_error(
                    "trusted_principal_arn", f"The principal must be in account {trusted_id}."
                )
            elif arn and self.trusting_account:
                error = _partition_error(
                    "The principal",
                    arn.split(":")[1],
                    self.trusting_account.partition,
                    f"the trusting account {self.trusting_account}",
                )
                if error:
                    self.add_error("trusted_principal_arn", error)
                elif account is not None and account.is_managed:
                    self._check_principal_exists(account, arn)
        else:
            data["trusted_principal_arn"] = ""
        if data.get("generate_external_id"):
            if data.get("external_id"):
                self.add_error("external_id", "Type an external ID or generate one, not both.")
            else:
                data["external_id"] = self.generated_external_id
        self._clean_org_condition(data)
        return data


QUEUE_ACTION_CHOICES = [(a, a) for a in policies.QUEUE_ACTIONS]
DEFAULT_QUEUE_ACTIONS = [
    "sqs:SendMessage",
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
]


class PermissionsStepForm(OptionFieldsMixin, BootstrapMixin, forms.Form):
    """Step 3: what the role may do, where, and for how long."""

    OPTION_FIELDS = {
        "queue_names": ("permission_set", PermissionSet.QUEUES),
        "queue_actions": ("permission_set", PermissionSet.QUEUES),
        "allow_list_queues": ("permission_set", PermissionSet.QUEUES),
        "custom_policy_arns": ("permission_set", PermissionSet.CUSTOM),
    }
    OPTION_LABELS = dict(PermissionSet.choices)

    permission_set = forms.ChoiceField(
        choices=PermissionSet.choices, initial=PermissionSet.SQS_FULL, widget=forms.RadioSelect
    )
    region = forms.CharField(
        max_length=32, validators=[region_validator], help_text="Where the grantee uses SQS."
    )
    queue_names = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Queues in the trusting account, read live from the region above.",
    )
    queue_actions = forms.MultipleChoiceField(
        choices=QUEUE_ACTION_CHOICES,
        initial=DEFAULT_QUEUE_ACTIONS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    allow_list_queues = forms.BooleanField(
        label='Also allow sqs:ListQueues (Resource "*"), which Test access uses',
        required=False,
        initial=True,
    )
    custom_policy_arns = forms.CharField(
        label="Managed policy ARNs",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line, at most 10.",
    )
    max_session_duration = forms.IntegerField(
        min_value=3600,
        max_value=43200,
        initial=3600,
        label="Max session duration (seconds)",
        help_text="3600–43200. AWS caps chained sessions at 3600 whatever this says.",
    )
    expires_at = forms.DateTimeField(
        required=False,
        label="Expires at (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )

    def __init__(
        self, *args: Any, trusting_account: AwsAccount | None, lookup: LiveLookup, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.trusting_account = trusting_account
        self.queue_error = ""
        default_region = trusting_account.default_region if trusting_account else "us-east-1"
        self.fields["region"].initial = default_region
        region = default_region
        if self.is_bound:
            typed = self.data.get(self.add_prefix("region"), "").strip()
            # Only a real region of the account's partition is worth a ListQueues call.
            partition = trusting_account.partition if trusting_account else "aws"
            if typed and region_partition(typed) == partition:
                region = typed
        self.queue_region = region
        names: list[str] = []
        if trusting_account is not None:
            try:
                names = lookup.queue_names(trusting_account, region)
            except aws.AwsError as exc:
                self.queue_error = _aws_error_text(exc, f"list the queues in {region}")
        self.fields["queue_names"].choices = [(n, n) for n in names]

    def clean_custom_policy_arns(self) -> list[str]:
        lines = [line.strip() for line in self.cleaned_data["custom_policy_arns"].splitlines()]
        arns = list(dict.fromkeys(line for line in lines if line))
        for arn in arns:
            try:
                check_policy_arn(arn)
            except forms.ValidationError as exc:
                raise forms.ValidationError(
                    f"Not a managed policy ARN: {arn}. {' '.join(exc.messages)}"
                ) from None
            parsed = arn_parse(arn)
            if self.trusting_account and parsed:
                error = _partition_error(
                    arn,
                    parsed.partition,
                    self.trusting_account.partition,
                    f"the trusting account {self.trusting_account}",
                )
                if error:
                    raise forms.ValidationError(error)
        if len(arns) > policies.MANAGED_POLICIES_PER_ROLE_MAX:
            raise forms.ValidationError(
                f"A role takes at most {policies.MANAGED_POLICIES_PER_ROLE_MAX} managed policies."
            )
        return arns

    def clean_region(self) -> str:
        region = self.cleaned_data["region"]
        if self.trusting_account:
            error = _partition_error(
                f"The region {region}",
                region_partition(region),
                self.trusting_account.partition,
                f"the trusting account {self.trusting_account}",
            )
            if error:
                raise forms.ValidationError(error)
        return region

    def clean_expires_at(self) -> datetime | None:
        value = self.cleaned_data["expires_at"]
        if value is not None and value <= timezone.now():
            raise forms.ValidationError("The expiry must be in the future.")
        return value

    def holds_input(self, name: str, value: Any) -> bool:
        """Typed input, not defaults: ListQueues' checkbox and the default actions are not."""
        if name == "allow_list_queues":
            return False
        if name == "queue_actions" and isinstance(value, list | tuple):
            return bool(value) and sorted(value) != sorted(DEFAULT_QUEUE_ACTIONS)
        return super().holds_input(name, value)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind = data.get("permission_set")
        self._refuse_unchosen_input(data)
        if kind == PermissionSet.QUEUES:
            if self.queue_error:
                raise forms.ValidationError(self.queue_error)
            if not data.get("queue_names") and "queue_names" not in self.errors:
                self.add_error("queue_names", f"Choose at least one queue in {self.queue_region}.")
            if not data.get("queue_actions") and "queue_actions" not in self.errors:
                self.add_error("queue_actions", "Choose at least one action.")
        elif (
            kind == PermissionSet.CUSTOM
            and not data.get("custom_policy_arns")
            and "custom_policy_arns" not in self.errors
        ):
            self.add_error("custom_policy_arns", "Enter at least one managed policy ARN.")
        return data


def grantee_role_choices(
    roles: list[aws.RoleInfo], *, hidden_names: set[str]
) -> list[tuple[str, str]]:
    """The roles a grantee may be, as (name, label) choices: path, name and the service
    principals its trust policy allows (e.g. "ec2.amazonaws.com"). Roles AWS owns (under
    /aws-service-role/ or /aws-reserved/) and `hidden_names` (lower-cased: the roles the
    portal acts through) are left out."""
    choices = []
    for role in sorted(roles, key=lambda r: (r.path, r.name.lower())):
        if trust_conditions.is_reserved_role_path(role.path) or role.name.lower() in hidden_names:
            continue
        services = trust_conditions.service_principals(role.trust_policy)
        trusted_by = ", ".join(services) if services else "no AWS service"
        choices.append((role.name, f"{role.path}{role.name} — trusted by {trusted_by}"))
    return choices


ROLE_MFA_ERROR = (
    "The role requires MFA, and an IAM role cannot present an MFA code: "
    "aws:MultiFactorAuthPresent is never true in a role's session. Go back and untick MFA, "
    "or choose an IAM user."
)


class GranteeStepForm(OptionFieldsMixin, BootstrapMixin, forms.Form):
    """Step 4: who in the trusted account may assume the role, through which policy.

    With whole-account trust the grantee is an IAM user or an IAM role of the trusted account
    (read live there when the portal manages it); with one trusted principal, that principal.
    """

    OPTION_FIELDS = {
        "grantee_name": ("grantee_type", GranteeType.USER),
        "grantee_role_name": ("grantee_type", GranteeType.ROLE),
    }
    OPTION_LABELS = dict(GranteeType.choices)

    grantee_type = forms.ChoiceField(
        label="The grantee is",
        choices=GranteeType.choices,
        initial=GranteeType.USER,
        required=False,
        widget=forms.RadioSelect,
        help_text=(
            "An application on EC2, ECS or Lambda runs as an IAM role: choose the role, and the "
            "portal puts the sts:AssumeRole policy on it."
        ),
    )
    grantee_name = forms.CharField(
        label="Grantee IAM user", max_length=64, required=False, validators=[user_name_validator]
    )
    grantee_role_name = forms.CharField(
        label="Grantee IAM role", max_length=64, required=False, validators=[role_name_validator]
    )
    user_policy_name = forms.CharField(
        label="User policy name",
        max_length=128,
        validators=[policy_name_validator],
        help_text="The inline policy put on the grantee: sts:AssumeRole on the new role only.",
    )
    grantee_profile = forms.CharField(
        label="Grantee's local AWS profile (optional)",
        max_length=128,
        required=False,
        validators=[profile_name_validator],
        help_text=(
            "A profile on the portal host with the grantee's own credentials (in the sandbox: "
            "hoge-app). Test access then assumes the role as the grantee."
        ),
    )

    def __init__(
        self,
        *args: Any,
        trusted_account: AwsAccount | None,
        principal_arn: str,
        role_name: str,
        lookup: LiveLookup,
        require_mfa: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.trusted_account = trusted_account
        self.principal_arn = principal_arn
        self.require_mfa = require_mfa
        self.user_error = ""
        self.role_error = ""
        self.fields["user_policy_name"].initial = f"xacct-assume-{role_name}"[:128]
        managed = trusted_account is not None and trusted_account.is_managed
        if principal_arn:
            # The trust names one principal: that principal is the grantee.
            self.OPTION_FIELDS = {}
            del self.fields["grantee_type"], self.fields["grantee_role_name"]
            self.grantee_type, name = principal_arn.split(":", 5)[5].split("/", 1)
            self.fields["grantee_name"].initial = name.rsplit("/", 1)[-1]
            self.fields["grantee_name"].disabled = True
            if self.grantee_type == GranteeType.ROLE:
                self.fields["grantee_name"].label = "Grantee IAM role"
                self.fields["user_policy_name"].label = "Role policy name"
        else:
            self.grantee_type = GranteeType.USER
            if managed:
                assert trusted_account is not None
                self._offer_live_principals(trusted_account, lookup)
            else:
                self.fields[
                    "grantee_name"
                ].help_text = (
                    "Optional: the user the external administrator will attach the policy to."
                )
                self.fields["grantee_role_name"].help_text = (
                    "Optional: the role the external administrator will attach the policy to "
                    "(the hand-off kit explains role chaining)."
                )
        self.is_managed = managed
        self._style_widgets()

    def _offer_live_principals(self, account: AwsAccount, lookup: LiveLookup) -> None:
        """Replace the typed names with the users and roles IAM lists in `account` now."""
        try:
            users = lookup.user_names(account)
        except aws.AwsError as exc:
            self.user_error = _aws_error_text(exc, f"list the users in {account}")
        else:
            self.fields["grantee_name"] = forms.ChoiceField(
                label="Grantee IAM user",
                required=False,
                choices=[("", "Choose a user"), *((u, u) for u in users)],
                help_text=f"IAM users in {account}, read live.",
            )
        try:
            roles = lookup.roles(account)
        except aws.AwsError as exc:
            self.role_error = _aws_error_text(exc, f"list the roles in {account}")
        else:
            hidden = portal_access_role_names(account_id=account.account_id)
            self.fields["grantee_role_name"] = forms.ChoiceField(
                label="Grantee IAM role",
                required=False,
                choices=[("", "Choose a role"), *grantee_role_choices(roles, hidden_names=hidden)],
                help_text=(
                    f"IAM roles in {account}, read live, with the AWS services their trust "
                    "policy lets run as them. Roles AWS owns and the portal's access role are "
                    "not offered."
                ),
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.principal_arn:
            data["grantee_type"] = self.grantee_type
            if self.grantee_type == GranteeType.ROLE and self.require_mfa:
                raise forms.ValidationError(ROLE_MFA_ERROR)
            return data
        # Not sent (an older form, or no choice shown): a user, as before roles were offered.
        kind = data["grantee_type"] = data.get("grantee_type") or GranteeType.USER
        self._refuse_unchosen_input(data)
        if kind == GranteeType.ROLE:
            if self.is_managed and self.role_error:
                raise forms.ValidationError(self.role_error)
            name = data.get("grantee_role_name") or ""
            if self.is_managed and not name and "grantee_role_name" not in self.errors:
                self.add_error("grantee_role_name", "Choose the IAM role that may assume the role.")
            if self.require_mfa and "grantee_role_name" not in self.errors:
                self.add_error("grantee_role_name", ROLE_MFA_ERROR)
            data["grantee_name"] = name
        else:
            if self.is_managed and self.user_error:
                raise forms.ValidationError(self.user_error)
            if (
                self.is_managed
                and not data.get("grantee_name")
                and "grantee_name" not in self.errors
            ):
                self.add_error("grantee_name", "Choose the IAM user who may assume the role.")
        data["grantee_type"] = kind
        return data


class ReviewStepForm(forms.Form):
    """Step 5: nothing to type; the documents must fit IAM's quotas."""

    def __init__(self, *args: Any, draft: Grant | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.draft = draft

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.draft is not None:
            errors = grant_size_errors(self.draft)
            if errors:
                raise forms.ValidationError(errors)
        return data


class AuditFilterForm(forms.Form):
    account = forms.ModelChoiceField(queryset=AwsAccount.objects.all(), required=False)
    grant = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    actor = forms.CharField(required=False, max_length=150)
    action = forms.CharField(required=False)
    outcome = forms.CharField(required=False)
    # Match a row to CloudTrail: the request ID of the AWS call, and a date range (UTC).
    request_id = forms.CharField(required=False, max_length=128)
    since = forms.DateField(required=False)
    until = forms.DateField(required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            raise forms.ValidationError("The date range ends before it starts.")
        return data


class ReauthenticateForm(BootstrapMixin, forms.Form):
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )

    def __init__(self, user: Any, *args: Any, request: Any = None, **kwargs: Any) -> None:
        self.user = user
        self.request = request
        super().__init__(*args, **kwargs)

    def clean_password(self) -> str:
        from django.contrib.auth import authenticate

        password = self.cleaned_data["password"]
        # Through authenticate(), so django-axes counts failures and locks out as at log-in.
        username = self.user.get_username()
        found = authenticate(self.request, username=username, password=password)
        if found is None or found.pk != self.user.pk:
            raise forms.ValidationError("That is not your password.")
        return password


class GrantExpiryForm(BootstrapMixin, forms.Form):
    expires_at = forms.DateTimeField(
        required=False,
        label="Expires at (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Empty: never. expire_grants revokes the grant after this time.",
    )

    def clean_expires_at(self) -> datetime | None:
        value = self.cleaned_data["expires_at"]
        if value is not None and value <= timezone.now():
            raise forms.ValidationError("The expiry must be in the future.")
        return value
