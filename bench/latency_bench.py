"""Benchmark: Test access against the seed's two calls, with latency added to every AWS request.

A moto server runs in its own process on 127.0.0.1; a small TCP proxy (another
process) sits in front of it and holds every HTTP request for DELAY ms before
passing it on, as a distant AWS region would. In the same run, interleaved:

- the seed's program with bare boto3, clients reused: AssumeRole as the grantee
  (profile hoge-app) with one STS client, then ListQueues (all pages) with the
  temporary credentials (a client made from the same session, as it must be);
- the portal's Test access for the same grant as the grantee (`grant_verify`:
  reads, evaluation, both live calls, the database writes).

Prints both medians and the ratio, at each added latency. Bounded: a fixed
number of runs; every process stops when the script ends.

    DJANGO_DEBUG=true uv run python bench/latency_bench.py [--runs 15] [--delays 0,50]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


# --- the latency proxy (its own process) ---------------------------------------------


def _pump(client: socket.socket, upstream: socket.socket, delay: multiprocessing.Value) -> None:  # type: ignore[valid-type]
    """Forward both ways; hold the first bytes of each request for `delay` ms."""
    awaiting_request = True
    sockets = [client, upstream]
    try:
        while True:
            readable, _, _ = select.select(sockets, [], [], 30)
            if not readable:
                return
            for sock in readable:
                data = sock.recv(65536)
                if not data:
                    return
                if sock is client:
                    if awaiting_request and delay.value > 0:
                        time.sleep(delay.value / 1000)
                    awaiting_request = False
                    upstream.sendall(data)
                else:
                    awaiting_request = True
                    client.sendall(data)
    except OSError:
        return
    finally:
        client.close()
        upstream.close()


def serve_proxy(
    port: int, upstream_port: int, delay: multiprocessing.Value, stop_after: float
) -> None:  # type: ignore[valid-type]
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(128)
    listener.settimeout(1)
    deadline = time.monotonic() + stop_after  # stops by itself, whatever happens
    while time.monotonic() < deadline:
        try:
            client, _ = listener.accept()
        except TimeoutError:
            continue
        upstream = socket.create_connection(("127.0.0.1", upstream_port))
        for sock in (client, upstream):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=_pump, args=(client, upstream, delay), daemon=True).start()
    listener.close()


def wait_for(url: str, seconds: float = 30) -> None:
    stop = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1).read()
            return
        except OSError:
            if time.monotonic() > stop:
                raise
            time.sleep(0.2)


# --- the benchmark ---------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--delays", default="0,50", help="added ms per request, comma-separated")
    args = parser.parse_args()
    delays = [float(d) for d in args.delays.split(",")]

    moto_port, proxy_port = free_port(), free_port()
    moto_env = {**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)],
        env=moto_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    delay = multiprocessing.Value("d", 0.0)
    proxy = multiprocessing.Process(
        target=serve_proxy, args=(proxy_port, moto_port, delay, 600), daemon=True
    )
    proxy.start()
    try:
        run(args.runs, delays, delay, f"http://127.0.0.1:{moto_port}", proxy_port)
    finally:
        proxy.terminate()
        moto.terminate()
        moto.wait(timeout=10)


def run(runs: int, delays: list[float], delay, moto_url: str, proxy_port: int) -> None:  # type: ignore[no-untyped-def]
    wait_for(moto_url)
    proxy_url = f"http://127.0.0.1:{proxy_port}"
    from grants.aws import sandbox

    world = sandbox.seed(moto_url)
    world.endpoint_url = proxy_url
    aws_dir = Path(tempfile.mkdtemp(prefix="xacct-bench-"))
    config_path, credentials_path = sandbox.write_aws_files(world, aws_dir)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "xacct_portal.settings",
            "DJANGO_DEBUG": os.environ.get("DJANGO_DEBUG", "true"),
            "DATABASE_URL": f"sqlite:///{aws_dir / 'bench.sqlite3'}",
            "XACCT_AWS_ENDPOINT_URL": proxy_url,
            "XACCT_SANDBOX": "true",
            "AWS_CONFIG_FILE": str(config_path),
            "AWS_SHARED_CREDENTIALS_FILE": str(credentials_path),
            "AWS_PROFILE": sandbox.PORTAL_PROFILE,
        }
    )
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)

    import boto3
    import django

    django.setup()
    from django.core.management import call_command

    from grants import aws, services
    from grants.models import GrantStatus, PermissionSet, TrustScope

    call_command("migrate", verbosity=0)
    aws.reset()
    accounts = services.sandbox_accounts_register(world)
    grant = services.grant_draft(
        trusting_account=accounts["piyo"],
        role_name="bench-role",
        role_path="/",
        role_description="",
        trusted_account=accounts["hoge"],
        trusted_aws_account_id=sandbox.HOGE.account_id,
        trust_scope=TrustScope.ACCOUNT,
        trusted_principal_arn="",
        external_id="",
        require_mfa=False,
        permission_set=PermissionSet.SQS_FULL,
        region=sandbox.REGION,
        max_session_duration=3600,
        grantee_type="user",
        grantee_name=sandbox.GRANTEE_USER,
        user_policy_name="xacct-assume-bench-role",
    )
    grant.grantee_profile = sandbox.GRANTEE_PROFILE
    # Both halves made directly (what provisioning would do), so only Test access is timed.
    piyo, hoge = accounts["piyo"].access(), accounts["hoge"].access()
    grant.role_arn, _ = aws.role_create(
        piyo,
        name=grant.role_name,
        path="/",
        trust_policy=json.dumps(grant.trust_policy),
        description="",
        max_session_duration=3600,
        tags={},
    )
    for arn in grant.managed_policy_arns:
        aws.role_policy_attach(piyo, role_name=grant.role_name, policy_arn=arn)
    aws.user_policy_put(
        hoge,
        user_name=grant.grantee_name,
        policy_name=grant.user_policy_name,
        document=json.dumps(grant.user_policy),
    )
    grant.status = GrantStatus.ACTIVE
    grant.save()

    session = boto3.session.Session(profile_name=sandbox.GRANTEE_PROFILE)
    sts = session.client("sts", endpoint_url=proxy_url, region_name=sandbox.REGION)

    def seed_program() -> int:
        credentials = sts.assume_role(
            RoleArn=grant.role_arn, RoleSessionName="bench", DurationSeconds=900
        )["Credentials"]
        sqs = session.client(
            "sqs",
            endpoint_url=proxy_url,
            region_name=sandbox.REGION,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )
        urls = []
        for page in sqs.get_paginator("list_queues").paginate(MaxResults=1000):
            urls.extend(page.get("QueueUrls", []))
        return len(urls)

    pipeline_ms: list[float] = []

    def test_access() -> int:
        verification = services.grant_verify(grant=grant, actor=None)
        assert verification.passed, verification.steps
        pipeline_ms.append(verification.duration_ms)  # gather → explain, before the writes
        return len(verification.queue_urls)

    print(f"Test access vs the seed's two calls, {runs} runs each, interleaved (median ms):")
    for added in delays:
        delay.value = added
        for _ in range(3):  # warm up: models, connections, cached hub-role credentials
            assert seed_program() == test_access() == len(sandbox.PIYO_QUEUES)
        seed_times, portal_times = [], []
        pipeline_ms.clear()
        for _ in range(runs):
            started = time.perf_counter()
            seed_program()
            seed_times.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            test_access()
            portal_times.append((time.perf_counter() - started) * 1000)
        seed_ms, portal_ms = statistics.median(seed_times), statistics.median(portal_times)
        print(
            f"  +{added:g} ms per request: seed's two calls {seed_ms:7.1f}, "
            f"Test access {portal_ms:7.1f} (pipeline {statistics.median(pipeline_ms):5.0f}), "
            f"ratio {portal_ms / seed_ms:.2f}x"
        )


if __name__ == "__main__":
    main()
