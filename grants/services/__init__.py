"""What the portal does: plain functions that own the transaction and the audit record."""

from .accounts import (
    ACCOUNT_FIELDS,
    account_check,
    account_create,
    account_update,
    sandbox_accounts_register,
)
from .audit import audit_record
from .discovery import DiscoveredRole, account_discover, grant_import
from .drift import grant_adopt_live, grant_drift_check, grant_reapply
from .grants import (
    GRANT_TAG,
    PORTAL_TAG,
    GrantBusy,
    ProvisioningStep,
    grant_draft,
    grant_plan,
    grant_provision,
    grant_size_errors,
    grant_warnings,
)
from .lifecycle import (
    NotRevocable,
    RevokeStep,
    grant_expiry_set,
    grant_revoke,
    grants_expire,
    revoke_plan,
)
from .verification import (
    grant_verify,
    grants_verify,
    verification_batch_item_verify,
    verification_batch_start,
    verification_batches_reap,
)

__all__ = [
    "ACCOUNT_FIELDS",
    "GRANT_TAG",
    "PORTAL_TAG",
    "DiscoveredRole",
    "GrantBusy",
    "NotRevocable",
    "ProvisioningStep",
    "RevokeStep",
    "account_check",
    "account_create",
    "account_discover",
    "account_update",
    "audit_record",
    "grant_adopt_live",
    "grant_draft",
    "grant_drift_check",
    "grant_expiry_set",
    "grant_import",
    "grant_plan",
    "grant_provision",
    "grant_reapply",
    "grant_revoke",
    "grant_size_errors",
    "grant_verify",
    "grant_warnings",
    "grants_expire",
    "grants_verify",
    "revoke_plan",
    "sandbox_accounts_register",
    "verification_batch_item_verify",
    "verification_batch_start",
    "verification_batches_reap",
]
