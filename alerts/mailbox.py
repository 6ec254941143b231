"""The sandbox's mail server: a real SMTP server (aiosmtpd) on 127.0.0.1 that keeps
every message it receives as an .eml file, and reads them back for the Mail page.

Files, not a table: the portal, its db_worker and the server run in separate
processes, and the sandbox's mail is as throw-away as the rest of its state.
"""

from __future__ import annotations

import email
import email.policy
import logging
import re
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from django.conf import settings

# File names the server writes: "<UTC time>-<random hex>.eml" (sortable by arrival).
MESSAGE_ID = re.compile(r"^[0-9]{8}T[0-9]{12}-[0-9a-f]{32}$")


def mailbox_dir() -> Path:
    """Where the sandbox's mail is kept (XACCT_SANDBOX_MAIL_DIR, else var/sandbox-mail)."""
    return Path(settings.XACCT_SANDBOX_MAIL_DIR)


class _StoreHandler:
    """aiosmtpd handler: each message's bytes go to one file, written then renamed
    into place, so a reader never sees half a message."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex}"
        partial = self.directory / f".{name}.tmp"
        content = envelope.original_content or envelope.content
        partial.write_bytes(content if isinstance(content, bytes) else content.encode())
        partial.rename(self.directory / f"{name}.eml")
        return "250 Message accepted for delivery"


class _BoundController(Controller):
    """aiosmtpd's threaded controller listening on a socket bound beforehand, so that
    port 0 (any free port) works without a race between choosing and binding it."""

    def __init__(self, handler: Any, sock: socket.socket) -> None:
        host, port = sock.getsockname()[:2]
        super().__init__(handler, hostname=host, port=port)
        self._sock = sock

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self._sock)


@dataclass
class MailServer:
    """A running sandbox SMTP server: where it listens and where it stores."""

    host: str
    port: int
    directory: Path
    controller: Controller

    @property
    def url(self) -> str:
        """The EMAIL_URL that sends through it."""
        return f"smtp://{self.host}:{self.port}"

    def stop(self) -> None:
        self.controller.stop()


def mailbox_start(*, directory: Path, port: int = 0) -> MailServer:
    """Start an SMTP server on 127.0.0.1 (`port` 0: a free one) storing into `directory`
    (created if missing). Returns the running server; stop it with `.stop()`.
    Raises OSError when the port cannot be bound."""
    directory.mkdir(parents=True, exist_ok=True)
    # aiosmtpd logs every SMTP command at INFO: the portal's log needs none of it.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    controller = _BoundController(_StoreHandler(directory), sock)
    controller.start()
    return MailServer("127.0.0.1", sock.getsockname()[1], directory, controller)


def mailbox_clear(*, directory: Path) -> None:
    """Forget every stored message (the sandbox starts fresh)."""
    if directory.is_dir():
        for path in directory.iterdir():
            if path.suffix in (".eml", ".tmp"):
                path.unlink(missing_ok=True)


@dataclass
class MailboxMessage:
    """One received message as the Mail page shows it."""

    id: str
    subject: str
    sender: str
    to: str
    date: datetime | None
    text: str = ""
    html: str = ""


def _parse(path: Path) -> EmailMessage:
    with path.open("rb") as handle:
        return email.message_from_binary_file(handle, policy=email.policy.default)  # type: ignore[return-value]


def _summary(message_id: str, message: EmailMessage) -> MailboxMessage:
    date = None
    if message["Date"]:
        try:
            date = parsedate_to_datetime(str(message["Date"]))
        except (TypeError, ValueError):
            date = None
    return MailboxMessage(
        id=message_id,
        subject=str(message["Subject"] or ""),
        sender=str(message["From"] or ""),
        to=str(message["To"] or ""),
        date=date,
    )


def mailbox_messages(*, directory: Path, limit: int = 200) -> list[MailboxMessage]:
    """The stored messages, newest first (at most `limit`), headers only."""
    if not directory.is_dir():
        return []
    paths = sorted(
        (p for p in directory.glob("*.eml") if MESSAGE_ID.match(p.stem)),
        key=lambda p: p.stem,
        reverse=True,
    )[:limit]
    return [_summary(p.stem, _parse(p)) for p in paths]


def mailbox_message(*, directory: Path, message_id: str) -> MailboxMessage | None:
    """One stored message with its plain-text and HTML parts (as text: the caller
    must never render the HTML as markup); None for an unknown or malformed id."""
    if not MESSAGE_ID.match(message_id):
        return None
    path = directory / f"{message_id}.eml"
    if not path.is_file():
        return None
    parsed = _parse(path)
    found = _summary(message_id, parsed)
    text = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    found.text = text.get_content() if text is not None else ""
    found.html = html.get_content() if html is not None else ""
    return found
