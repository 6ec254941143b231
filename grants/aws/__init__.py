"""The AWS gateway: the only package that imports boto3 or botocore."""

from .core import (
    DEFAULT_CHAIN,
    EXTERNAL,
    HUB_ROLE,
    PROFILE,
    AccountAccess,
    CallerIdentity,
    caller_identity,
    gateway,
    reset,
)
from .errors import AwsError, AwsErrorDetail

__all__ = [
    "DEFAULT_CHAIN",
    "EXTERNAL",
    "HUB_ROLE",
    "PROFILE",
    "AccountAccess",
    "AwsError",
    "AwsErrorDetail",
    "CallerIdentity",
    "caller_identity",
    "gateway",
    "reset",
]
