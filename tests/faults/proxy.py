"""A fault-injecting HTTP proxy on 127.0.0.1 in front of a moto server.

The portal's AWS endpoint points here. Each request is parsed just enough to
name its call (`iam:CreateRole`: the service from the SigV4 credential scope,
the action from the form body's `Action=` or the `X-Amz-Target` header of JSON
protocols) and, when an armed rule matches, one fault is applied:

- ``error``: answer an AWS error (HTTP 500 InternalFailure) without forwarding;
- ``drop``: forward (moto applies the call), then close the connection unanswered;
- ``hang-then-apply``: hold the request until the client gave up on it (it closed
  the connection after its read timeout), then forward it so moto applies it;
  any later request waits until such a write has landed, so the client's next
  read sees it, as it would on real AWS where the write was made long ago;
- ``hang-forever``: never forward; the connection is closed once the client gave
  up, or when healed;
- ``late-apply``: hold the request until healed, then forward it: the write lands
  after the operation that sent it has ended (not one of the matrix's kinds: no
  client can see such a write before it lands; see test_late_writes.py).

Everything is bounded: a hold ends after `max_hold` seconds at most, `heal()`
releases every held request and waits a bounded time for them, `stop()` ends
the server. Stdlib only: the proxy is test infrastructure, not portal code.
"""

from __future__ import annotations

import http.client
import re
import select
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from enum import StrEnum
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_POLL_SECONDS = 0.02
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}


class FaultKind(StrEnum):
    ERROR = "error"
    DROP = "drop"
    HANG_THEN_APPLY = "hang-then-apply"
    HANG_FOREVER = "hang-forever"
    LATE_APPLY = "late-apply"


# The fault kinds of the matrix (issue 11).
MATRIX_KINDS = (FaultKind.ERROR, FaultKind.DROP, FaultKind.HANG_THEN_APPLY, FaultKind.HANG_FOREVER)


@dataclass
class Rule:
    """Fault `kind` on `call` ("iam:CreateRole", or "*" for every call).

    Occurrences are counted from when the rule is armed; the fault applies from
    the `nth` matching request on, to `times` of them (None: until healed).
    `body_contains` narrows the match (e.g. an account ID in AssumeRole's RoleArn).
    """

    call: str
    kind: FaultKind
    nth: int = 1
    times: int | None = None
    body_contains: str = ""
    seen: int = 0
    fired: int = 0

    def matches(self, call: str, body: str) -> bool:
        return (self.call == "*" or self.call == call) and self.body_contains in body

    def take(self) -> bool:
        """Count one matching request; whether the fault applies to it."""
        self.seen += 1
        last = None if self.times is None else self.nth + self.times - 1
        hit = self.seen >= self.nth and (last is None or self.seen <= last)
        if hit:
            self.fired += 1
        return hit


@dataclass
class Seen:
    """One request the proxy received, and the fault it got (None: passed through)."""

    call: str
    fault: FaultKind | None
    at: float = field(default_factory=time.monotonic)


@dataclass(eq=False)
class _Held:
    kind: FaultKind
    sock: socket.socket
    applied: threading.Event = field(default_factory=threading.Event)

    def client_gone(self) -> bool:
        """Whether the client closed its end (it gave up on this request)."""
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
            if not readable:
                return False
            return self.sock.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True


def call_name(headers: http.client.HTTPMessage, body: bytes) -> str:
    """`service:Action` of a signed AWS request ("?" where it cannot tell)."""
    scope = _SCOPE.search(headers.get("Authorization", ""))
    service = scope.group(1) if scope else "?"
    target = headers.get("X-Amz-Target", "")
    if target:
        return f"{service}:{target.rsplit('.', 1)[-1]}"
    try:
        form = parse_qs(body.decode("utf-8", "replace"))
    except ValueError:
        form = {}
    action = (form.get("Action") or ["?"])[0]
    return f"{service}:{action}"


class FaultProxy:
    """The proxy: `url` for the portal, `arm()` rules, `heal()`, `stop()`."""

    def __init__(self, upstream: str | None, *, max_hold: float = 60.0) -> None:
        self.max_hold = max_hold
        self._upstream = urlsplit(upstream) if upstream else None
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self._held: list[_Held] = []
        self._healed = threading.Event()
        self._inflight = 0
        self._idle = threading.Condition(self._lock)
        self.log: list[Seen] = []
        self._faulted = threading.Condition(self._lock)
        proxy = self

        class Handler(_Handler):
            owner = proxy

        self._server = _Server(("127.0.0.1", 0), Handler)
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()

    # --- control ------------------------------------------------------------

    def arm(self, *rules: Rule) -> None:
        """Apply these rules (replacing any armed ones) from the next request on."""
        with self._lock:
            self._healed.clear()
            self._rules = list(rules)

    @contextmanager
    def faults(self, *rules: Rule) -> Iterator[None]:
        self.arm(*rules)
        try:
            yield
        finally:
            self.heal()

    def heal(self, *, timeout: float = 30.0) -> None:
        """Disarm every rule, release held requests (hang-then-apply ones are applied,
        hang-forever ones closed unanswered) and wait up to `timeout` seconds for
        every request in flight to finish."""
        with self._lock:
            self._rules = []
            self._healed.set()
            deadline = time.monotonic() + timeout
            while self._inflight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{self._inflight} request(s) still in the proxy")
                self._idle.wait(remaining)

    def fired(self, call: str | None = None) -> int:
        """How many requests got a fault (for `call` only, if given)."""
        with self._lock:
            return sum(1 for s in self.log if s.fault and (call is None or s.call == call))

    def calls(self) -> list[str]:
        with self._lock:
            return [s.call for s in self.log]

    def wait_fired(self, call: str, *, timeout: float) -> bool:
        """Block until a request for `call` got a fault, at most `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not any(s.fault and s.call == call for s in self.log):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._faulted.wait(remaining)
            return True

    def stop(self) -> None:
        with suppress(TimeoutError):
            self.heal(timeout=10)
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    # --- used by the handler ------------------------------------------------

    def _decide(self, call: str, body: str) -> FaultKind | None:
        with self._lock:
            fault = None
            for rule in self._rules:
                if rule.matches(call, body) and rule.take() and fault is None:
                    fault = rule.kind
            self.log.append(Seen(call, fault))
            if fault is not None:
                self._faulted.notify_all()
            return fault

    def _enter(self) -> None:
        with self._lock:
            self._inflight += 1

    def _leave(self) -> None:
        with self._lock:
            self._inflight -= 1
            self._idle.notify_all()

    def _settle_late_writes(self) -> None:
        """Let every held write whose client gave up land before this request goes on."""
        with self._lock:
            held = [h for h in self._held if h.kind == FaultKind.HANG_THEN_APPLY]
        for h in held:
            if h.client_gone():
                h.applied.wait(timeout=10)

    def _hold(self, held: _Held) -> None:
        """Wait until the client gave up, the proxy is healed, or `max_hold` passed."""
        with self._lock:
            self._held.append(held)
        deadline = time.monotonic() + self.max_hold
        try:
            while time.monotonic() < deadline and not self._healed.is_set():
                if held.kind != FaultKind.LATE_APPLY and held.client_gone():
                    return
                self._healed.wait(_POLL_SECONDS)
        finally:
            if held.kind == FaultKind.HANG_FOREVER:
                held.applied.set()

    def _release(self, held: _Held) -> None:
        with self._lock:
            if held in self._held:
                self._held.remove(held)
        held.applied.set()

    def _forward(
        self, method: str, path: str, headers: http.client.HTTPMessage, body: bytes
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        if self._upstream is None:
            raise ConnectionError("the proxy has no upstream")
        connection = http.client.HTTPConnection(
            self._upstream.hostname, self._upstream.port, timeout=30
        )
        try:
            # Host stays the proxy's: the SigV4 signature covers it.
            forwarded = {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP}
            connection.request(method, path, body=body, headers=forwarded)
            response = connection.getresponse()
            payload = response.read()
            return response.status, response.reason, response.getheaders(), payload
        finally:
            connection.close()


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False


class _Handler(BaseHTTPRequestHandler):
    owner: FaultProxy
    protocol_version = "HTTP/1.1"
    timeout = 120  # an idle keep-alive connection is closed after this many seconds

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _any(self) -> None:
        proxy = self.owner
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        call = call_name(self.headers, body)
        proxy._enter()
        try:
            fault = proxy._decide(call, body.decode("utf-8", "replace"))
            if fault is None:
                proxy._settle_late_writes()
                self._answer(*proxy._forward(self.command, self.path, self.headers, body))
            elif fault == FaultKind.ERROR:
                self._error(call)
            elif fault == FaultKind.DROP:
                proxy._forward(self.command, self.path, self.headers, body)
                self._drop()
            else:
                held = _Held(fault, self.connection)
                try:
                    proxy._hold(held)
                    applies = fault in (FaultKind.HANG_THEN_APPLY, FaultKind.LATE_APPLY)
                    if applies and proxy._upstream is not None:
                        answer = proxy._forward(self.command, self.path, self.headers, body)
                        if not held.client_gone():
                            self._answer(*answer)
                            return
                finally:
                    proxy._release(held)
                self._drop()
        except (OSError, http.client.HTTPException):
            self._drop()
        finally:
            proxy._leave()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

    def _answer(
        self, status: int, reason: str, headers: list[tuple[str, str]], body: bytes
    ) -> None:
        self.send_response_only(status, reason)
        for name, value in headers:
            if name.lower() not in _HOP_BY_HOP | {"content-length", "date", "server"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _error(self, call: str) -> None:
        service = call.split(":", 1)[0]
        if self.headers.get("X-Amz-Target"):
            body = b'{"__type":"InternalFailure","message":"Injected fault: internal failure."}'
            content_type = "application/x-amz-json-1.0"
        else:
            body = (
                f'<ErrorResponse xmlns="https://{service}.amazonaws.com/doc/">'
                "<Error><Type>Receiver</Type><Code>InternalFailure</Code>"
                "<Message>Injected fault: internal failure.</Message></Error>"
                "<RequestId>injected-fault</RequestId></ErrorResponse>"
            ).encode()
            content_type = "text/xml"
        self._answer(
            500,
            "Internal Server Error",
            [("Content-Type", content_type), ("x-amzn-RequestId", "injected-fault")],
            body,
        )

    def _drop(self) -> None:
        self.close_connection = True
        with suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
