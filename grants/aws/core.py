"""The only code that talks to AWS.

One shared botocore session builds every client (loading service models is
the expensive part); credentials and clients are cached per account and
region, temporary credentials refresh themselves before they expire, and
every failure leaves here as `AwsError`.
"""

from __future__ import annotations

import contextvars
import functools
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import botocore.loaders
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


@dataclass(frozen=True)
class Deadline:
    """One total time limit for a piece of work: `seconds` long, ending at `ends_at`
    (time.monotonic())."""

    ends_at: float
    seconds: float

    def remaining(self) -> float:
        return self.ends_at - time.monotonic()


_deadline: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar(
    "xacct_aws_deadline", default=None
)


@contextmanager
def deadline(*, seconds: float) -> Iterator[Deadline]:
    """Every gateway call inside the block ends by `seconds` (float) from now.

    Each call's connect and read timeouts are capped by the time left, and no
    retry starts that could run past it; a call started (or failing) after it
    raises AwsError with client_error "DeadlineExceeded". A deadline nested in
    another never extends it. It is a contextvar: threads started inside
    carry it only when run in a copy of the context (`Concurrent` does).
    """
    outer = _deadline.get()
    new = Deadline(ends_at=time.monotonic() + seconds, seconds=seconds)
    if outer is not None and outer.ends_at <= new.ends_at:
        new = outer
    token = _deadline.set(new)
    try:
        yield new
    finally:
        _deadline.reset(token)


def current_deadline() -> Deadline | None:
    """The deadline in force here, if any."""
    return _deadline.get()


def deadline_error(*, service: str, operation: str) -> AwsError:
    """The AwsError for a call that the current deadline left no time for."""
    limit = _deadline.get()
    seconds = limit.seconds if limit is not None else 0.0
    return AwsError(
        AwsErrorDetail(
            service=service,
            operation=operation,
            message=f"AWS did not answer within {seconds:g} s (the deadline for this work).",
            client_error="DeadlineExceeded",
        )
    )


def _cap_to_deadline(request: Any, **kwargs: Any) -> None:
    """before-send: no attempt starts after the deadline, and each attempt waits for
    its answer no longer than the time left (botocore reads a per-request
    `read_timeout` from the request context)."""
    limit = _deadline.get()
    if limit is None:
        return
    left = limit.remaining()
    if left <= 0.05:
        raise deadline_error(service="aws", operation="Send")
    context = getattr(request, "context", None)
    if context is not None:
        context["read_timeout"] = max(0.05, min(settings.AWS_READ_TIMEOUT, left))


def _deadline_passed() -> bool:
    limit = _deadline.get()
    return limit is not None and limit.remaining() <= 0.05


@functools.cache
def _models_loader() -> botocore.loaders.Loader:
    """botocore's service-model loader, one per process: it keeps the models it parsed."""
    return botocore.loaders.create_loader()


def new_session(profile: str | None = None) -> botocore.session.Session:
    """A botocore session reading the environment as it is now (credentials, config
    files, `profile`), sharing the process's model loader so a new session does not
    parse the service models again (AWS_NOTES: ~100 ms a session otherwise)."""
    session = botocore.session.Session(profile=profile)
    session.register_component("data_loader", _models_loader())
    return session


class _Gateway:
    """Process-wide session, credential and client caches, safe under threads."""

    def __init__(self, *, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url or None
        self._lock = threading.RLock()
        self._session = new_session()
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
        # Clients copy the session's handlers when made: every attempt of every call
        # (retries included) meets the deadline in force.
        self._session.register("before-send", _cap_to_deadline)

    @property
    def events(self) -> Any:
        """The shared session's event emitter; clients made later inherit its hooks."""
        return self._session.get_component("event_emitter")

    def client(self, access: AccountAccess, service: str, region: str | None = None) -> Any:
        frozen = self._credentials_for(access).get_frozen_credentials()
        tier, config = self._config_now(service)
        key = (service, region or access.region, frozen.access_key, tier)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._new_client(
                    service,
                    region or access.region,
                    access_key=frozen.access_key,
                    secret_key=frozen.secret_key,
                    token=frozen.token,
                    config=config,
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
        _, config = self._config_now(service)
        with self._lock:
            return self._new_client(
                service,
                region,
                access_key=access_key,
                secret_key=secret_key,
                token=token,
                config=config,
            )

    def _config_now(self, service: str) -> tuple[float, Config]:
        """The client configuration the current deadline allows, and its cache tier.

        The read timeout of every attempt is cut to the time left per request
        (`_cap_to_deadline`), but the connect timeout belongs to the client. So with
        no deadline, or more time left than one connect timeout, the normal
        configuration (tier 0, the usual cached client). In the last seconds: one
        attempt, with connect and read timeouts cut to the time left rounded down to
        a quarter second (a handful of tiers, each a cached client). Raises AwsError
        when no time is left.
        """
        limit = _deadline.get()
        if limit is None:
            return 0.0, self._config
        left = limit.remaining()
        if left >= settings.AWS_CONNECT_TIMEOUT + 0.5:
            return 0.0, self._config
        tier = math.floor(left * 4) / 4
        if tier <= 0:
            raise deadline_error(service=service, operation="Connect")
        return tier, self._config.merge(
            Config(
                connect_timeout=min(settings.AWS_CONNECT_TIMEOUT, tier),
                read_timeout=min(settings.AWS_READ_TIMEOUT, tier),
                retries={"mode": "standard", "total_max_attempts": 1},
            )
        )

    def _new_client(
        self,
        service: str,
        region: str,
        *,
        access_key: str,
        secret_key: str,
        token: str | None,
        config: Config | None = None,
    ) -> Any:
        return self._session.create_client(
            service,
            region_name=region,
            endpoint_url=self.endpoint_url,
            config=config or self._config,
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
                session = new_session(profile=access.profile_name)
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


def translate(exc: Exception, *, service: str, operation: str) -> AwsError:
    """The AwsError for a botocore or network failure; "DeadlineExceeded" when the
    current deadline ran out while the call waited."""
    if isinstance(exc, AwsError):
        if exc.detail.client_error == "DeadlineExceeded":
            return deadline_error(service=service, operation=operation)
        return exc
    if isinstance(exc, NotImplementedError):  # in-process moto lacks the API
        return AwsError(
            AwsErrorDetail(
                service=service,
                operation=operation,
                message=f"The AWS stand-in does not implement {operation}.",
                client_error="NotImplemented",
            )
        )
    limit = _deadline.get()
    # A call given the last of the time (its timeouts cut to it) ends within a tier
    # (0.25 s) of the deadline: its timeout is the deadline's.
    if limit is not None and limit.remaining() < 0.3 and not isinstance(exc, ClientError):
        return deadline_error(service=service, operation=operation)
    return error_from_exception(exc, service=service, operation=operation)


def _invoke(client: Any, method: str, params: dict[str, Any], *, service: str) -> Any:
    operation = client.meta.method_to_api_mapping.get(method, method)
    if _deadline_passed():
        raise deadline_error(service=service, operation=operation)
    try:
        return getattr(client, method)(**params)
    except (ClientError, BotoCoreError, OSError, NotImplementedError, AwsError) as exc:
        raise translate(exc, service=service, operation=operation) from None


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
    except (ClientError, BotoCoreError, OSError, NotImplementedError, AwsError) as exc:
        raise translate(exc, service=service, operation=_operation_name(method)) from None
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
            if _deadline_passed():
                raise deadline_error(service=service, operation=operation)
    except (ClientError, BotoCoreError, OSError, NotImplementedError, AwsError) as exc:
        raise translate(exc, service=service, operation=operation) from None


class Concurrent:
    """Independent gateway calls run on a thread pool, each in a copy of the caller's
    context (so a `deadline` holds there too); follow-up calls are submitted from the
    calling thread as results arrive, so no pool thread ever waits on another.

    `submit(fn, *args, then=callback)` runs `fn(*args)` on the pool; `run()` waits
    for everything, calling `then(result, error)` in the calling thread (error is
    the AwsError the call raised, or None) as each finishes. Other exceptions are
    re-raised by `run()`. Botocore clients are thread-safe; the shared session is
    used under the gateway's lock.
    """

    def __init__(self, *, max_workers: int = 16) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="aws-read")
        self._pending: dict[Future[Any], Callable[[Any, AwsError | None], None] | None] = {}

    def submit(
        self,
        fn: Callable[..., Any],
        *args: Any,
        then: Callable[[Any, AwsError | None], None] | None = None,
    ) -> None:
        future = self._pool.submit(contextvars.copy_context().run, fn, *args)
        self._pending[future] = then

    def run(self) -> None:
        try:
            while self._pending:
                done, _ = wait(list(self._pending), return_when=FIRST_COMPLETED)
                for future in done:
                    then = self._pending.pop(future)
                    error = future.exception()
                    if error is not None and not isinstance(error, AwsError):
                        raise error
                    if then is not None:
                        then(None if error else future.result(), error)  # type: ignore[arg-type]
        finally:
            self._pool.shutdown(wait=False, cancel_futures=True)


# --- capabilities ------------------------------------------------------------


def caller_identity(access: AccountAccess) -> CallerIdentity:
    """Who the portal is in the account (sts:GetCallerIdentity)."""
    response = call(access, "sts", "get_caller_identity")
    return CallerIdentity(
        account_id=response["Account"], arn=response["Arn"], user_id=response["UserId"]
    )
