"""docs/webhooks.md: its signature checks (Python and shell) accept what the portal sends."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from alerts import webhooks
from alerts.models import Alert, AlertKind

from .webhook_receiver import receiver_fixture  # noqa: F401  (the receiver fixture)

pytestmark = pytest.mark.django_db

DOC = (Path(__file__).resolve().parents[1] / "docs" / "webhooks.md").read_text()


def code_block(language: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", DOC, flags=re.DOTALL)
    assert len(blocks) == 1, f"expected one {language} block in docs/webhooks.md"
    return blocks[0]


@pytest.fixture
def delivered(receiver):  # type: ignore[no-untyped-def]
    """A real delivery's secret, headers (as sent) and raw body."""
    _, secret = webhooks.webhook_create(actor=None, name="ops", url=receiver.url)
    alert = Alert.objects.create(
        kind=AlertKind.GRANT_FAILING, title="t", body="ünïcode & <b>", dedupe_key="k"
    )
    webhooks.webhooks_enqueue(alert=alert)
    [request] = receiver.requests
    headers = {
        "X-Xacct-Timestamp": request.headers["x-xacct-timestamp"],
        "X-Xacct-Signature": request.headers["x-xacct-signature"],
    }
    return secret, headers, request.body


def test_the_python_example_accepts_a_real_delivery_and_refuses_tampering(delivered) -> None:  # type: ignore[no-untyped-def]
    secret, headers, body = delivered
    namespace: dict[str, object] = {}
    exec(code_block("python"), namespace)
    check = namespace["xacct_signature_ok"]

    assert check(secret, headers, body) is True
    assert check("wrong-secret", headers, body) is False
    assert check(secret, headers, body + b" ") is False
    replayed_at = int(headers["X-Xacct-Timestamp"]) + 301
    assert check(secret, headers, body, now=replayed_at) is False
    moved = {**headers, "X-Xacct-Timestamp": str(int(headers["X-Xacct-Timestamp"]) + 1)}
    assert check(secret, moved, body, now=time.time()) is False


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_the_shell_example_accepts_a_real_delivery_and_refuses_tampering(
    delivered, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    secret, headers, body = delivered
    script = code_block("sh")

    def run(secret: str, body: bytes) -> str:
        (tmp_path / "body.json").write_bytes(body)
        env = {
            "PATH": "/usr/bin:/bin",
            "SECRET": secret,
            "TIMESTAMP": headers["X-Xacct-Timestamp"],
            "SIGNATURE": headers["X-Xacct-Signature"],
        }
        result = subprocess.run(
            ["sh", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
        )
        return result.stdout.strip()

    assert run(secret, body) == "valid"
    assert run("wrong-secret", body) == "INVALID"
    assert run(secret, body.replace(b"t", b"T", 1)) == "INVALID"
