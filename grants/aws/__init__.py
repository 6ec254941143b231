"""The AWS gateway: the only package that imports boto3 or botocore."""

from .errors import AwsError, AwsErrorDetail
from .gateway import (
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
