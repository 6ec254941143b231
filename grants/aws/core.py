"""The only code that talks to AWS.

One shared botocore session builds every client (loading service models is
the expensive part); credentials and clients are cached per account and
region, temporary credentials refresh themselves before they expire, and
every failure leaves here as `AwsError`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.credentials import Credentials, DeferredRefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from .errors import AwsError, AwsErrorDetail, error_from_exception

PROFILE = "profile"
HUB_ROLE = "hub_role"
DEFAULT_CHAIN = "default_chain"
EXTERNAL = "external"

_CLIENT_CACHE_SIZE = 256
_HUB_SESSION_SECONDS = 3600


@dataclass(frozen=True)
class AccountAccess:
    """How the portal acts in one account. Holds names, never secrets."""

    account_id: str
    region: str
    method: str
    partition: str = "aws"
    profile_name: str = ""
    hub_role_name: str = ""
    hub_external_id: str = ""

    @property
    def hub_role_arn(self) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:role/{self.hub_role_name}"


@dataclass(frozen=True)
class CallerIdentity:
    account_id: str
    arn: str
    user_id: str


class _Gateway:
    """Process-wide session, credential and client caches, safe under threads."""

    def __init__(self, *, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url or None
        self._lock = threading.RLock()
        self._session = botocore.session.Session()
        self._session.set_config_variable("sts_regional_endpoints", "regional")
        self._profile_sessions: dict[str, botocore.session.Session] = {}
        self._credentials: dict[AccountAccess, Credentials] = {}
        self._clients: OrderedDict[tuple[str, str, str], Any] = OrderedDict()
        self._config = Config(
            connect_timeout=settings.AWS_CONNECT_TIMEOUT,
            read_timeout=settings.AWS_READ_TIMEOUT,
            retries={"mode": "standard", "total_max_attempts": settings.AWS_TOTAL_MAX_ATTEMPTS},
            user_agent_appid="xacct-portal",
        )

    @property
    def events(self) -> Any:
        """The shared session's event emitter; clients made later inherit its hooks."""
        return self._session.get_component("event_emitter")

    def client(self, access: AccountAccess, service: str, region: str | None = None) -> Any:
        frozen = self._credentials_for(access).get_frozen_credentials()
        key = (service, region or access.region, frozen.access_key)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._new_client(
                    service,
                    region or access.region,
                    access_key=frozen.access_key,
                    secret_key=frozen.secret_key,
                    token=frozen.token,
                )
                self._clients[key] = client
                while len(self._clients) > _CLIENT_CACHE_SIZE:
                    self._clients.popitem(last=False)
            else:
                self._clients.move_to_end(key)
            return client

    def client_from_keys(
        self, service: str, region: str, *, access_key: str, secret_key: str, token: str | None
    ) -> Any:
        """A client for temporary credentials handed out by AssumeRole."""
        with self._lock:
            return self._new_client(
                service, region, access_key=access_key, secret_key=secret_key, token=token
            )

    def _new_client(
        self, service: str, region: str, *, access_key: str, secret_key: str, token: str | None
    ) -> Any:
        return self._session.create_client(
            service,
            region_name=region,
            endpoint_url=self.endpoint_url,
            config=self._config,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            aws_session_token=token,
        )

    def _credentials_for(self, access: AccountAccess) -> Credentials:
        with self._lock:
            cached = self._credentials.get(access)
            if cached is not None:
                return cached
            credentials = self._resolve(access)
            self._credentials[access] = credentials
            return credentials

    def _resolve(self, access: AccountAccess) -> Credentials:
        if access.method == EXTERNAL:
            raise AwsError(
                AwsErrorDetail(
                    service="portal",
                    operation="ResolveCredentials",
                    message=(
                        f"Account {access.account_id} is external: the portal has no way to act "
                        "there. Choose a named profile, a hub role or the default chain."
                    ),
                    client_error="AccountNotManaged",
                )
            )
        if access.method == PROFILE:
            session = self._profile_sessions.get(access.profile_name)
            if session is None:
                session = botocore.session.Session(profile=access.profile_name)
                self._profile_sessions[access.profile_name] = session
            credentials = session.get_credentials()
        elif access.method == HUB_ROLE:
            credentials = DeferredRefreshableCredentials(
                refresh_using=lambda: self._assume_hub_role(access), method="assume-role"
            )
        else:
            credentials = self._session.get_credentials()
        if credentials is None:
            raise AwsError(
                AwsErrorDetail(
                    service="portal",
                    operation="ResolveCredentials",
                    message="No AWS credentials found for the portal (default credential chain).",
                    client_error="NoCredentialsError",
                )
            )
        return credentials

    def _assume_hub_role(self, access: AccountAccess) -> dict[str, str]:
        base = self._session.get_credentials()
        if base is None:
            raise AwsError(
                AwsErrorDetail(
                    service="sts",
                    operation="AssumeRole",
                    message="No AWS credentials found to assume the hub role with.",
                    client_error="NoCredentialsError",
                )
            )
        frozen = base.get_frozen_credentials()
        sts = self.client_from_keys(
            "sts",
            access.region,
            access_key=frozen.access_key,
            secret_key=frozen.secret_key,
            token=frozen.token,
        )
        params: dict[str, Any] = {
            "RoleArn": access.hub_role_arn,
            "RoleSessionName": settings.AWS_ROLE_SESSION_NAME,
            # Hub role to grant role is chaining: AWS caps it at one hour.
            "DurationSeconds": _HUB_SESSION_SECONDS,
        }
        if access.hub_external_id:
            params["ExternalId"] = access.hub_external_id
        response = _invoke(sts, "assume_role", params, service="sts")
        creds = response["Credentials"]
        expiration: datetime = creds["Expiration"]
        return {
            "access_key": creds["AccessKeyId"],
            "secret_key": creds["SecretAccessKey"],
            "token": creds["SessionToken"],
            "expiry_time": expiration.astimezone(UTC).isoformat(),
        }


_gateway: _Gateway | None = None
_gateway_lock = threading.Lock()


def gateway() -> _Gateway:
    """The process-wide gateway, built on first use (never at import)."""
    global _gateway
    with _gateway_lock:
        if _gateway is None or _gateway.endpoint_url != (settings.AWS_ENDPOINT_URL or None):
            _gateway = _Gateway(endpoint_url=settings.AWS_ENDPOINT_URL)
        return _gateway


def reset() -> None:
    """Forget every cached session, credential and client (tests, settings changes)."""
    global _gateway
    with _gateway_lock:
        _gateway = None


def _operation_name(method: str) -> str:
    return "".join(part.title() for part in method.split("_"))


def _invoke(client: Any, method: str, params: dict[str, Any], *, service: str) -> Any:
    operation = client.meta.method_to_api_mapping.get(method, method)
    try:
        return getattr(client, method)(**params)
    except (ClientError, BotoCoreError, OSError) as exc:
        raise error_from_exception(exc, service=service, operation=operation) from None


def call(
    access: AccountAccess,
    service: str,
    method: str,
    region: str | None = None,
    **params: Any,
) -> Any:
    """Run one API call in the account; raise AwsError on any failure."""
    try:
        client = gateway().client(access, service, region)
    except (ClientError, BotoCoreError, OSError) as exc:
        raise error_from_exception(
            exc, service=service, operation=_operation_name(method)
        ) from None
    return _invoke(client, method, params, service=service)


def paginate(
    access: AccountAccess,
    service: str,
    method: str,
    result_key: str,
    region: str | None = None,
    **params: Any,
) -> Iterator[Any]:
    """Every item of a paginated listing, all pages."""
    operation = _operation_name(method)
    try:
        client = gateway().client(access, service, region)
        operation = client.meta.method_to_api_mapping.get(method, method)
        for page in client.get_paginator(method).paginate(**params):
            yield from page.get(result_key, [])
    except (ClientError, BotoCoreError, OSError) as exc:
        raise error_from_exception(exc, service=service, operation=operation) from None


# --- capabilities ------------------------------------------------------------


def caller_identity(access: AccountAccess) -> CallerIdentity:
    """Who the portal is in the account (sts:GetCallerIdentity)."""
    response = call(access, "sts", "get_caller_identity")
    return CallerIdentity(
        account_id=response["Account"], arn=response["Arn"], user_id=response["UserId"]
    )
