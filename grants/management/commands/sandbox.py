"""Run the portal on the embedded AWS sandbox: fresh state, seeded, ready to click through."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from alerts.mailbox import mailbox_start
from grants import services
from grants.aws import sandbox
from grants.services.authz import roles_ensure
from grants.services.organization import sandbox_organization_register

# Credentials in the environment would win over the sandbox profile.
_AWS_ENV_OVERRIDES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_PROFILE",
    "AWS_ENDPOINT_URL",
)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = (
        "Start the embedded AWS sandbox (moto on 127.0.0.1), seed the example accounts, "
        "and serve the portal against it. Sandbox and portal records start fresh every time."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--addrport", default="127.0.0.1:8000", help="Where the portal listens."
        )
        parser.add_argument(
            "--state-dir",
            default=str(settings.BASE_DIR / "var" / "sandbox"),
            help="Where the sandbox's AWS config and credentials files go.",
        )
        parser.add_argument("--username", default="admin")
        parser.add_argument(
            "--password",
            default=os.environ.get("XACCT_SANDBOX_PASSWORD", ""),
            help="Admin password (default: XACCT_SANDBOX_PASSWORD, else a random one).",
        )
        background = parser.add_mutually_exclusive_group()
        background.add_argument(
            "--immediate",
            action="store_true",
            help=(
                "For tests only: run background work inside the request that asks for it "
                "(XACCT_TASK_BACKEND=immediate) and start no db_worker. Default: queued in "
                "the database and run by a db_worker beside the portal, as in production."
            ),
        )
        background.add_argument(
            "--worker",
            action="store_true",
            help="The default (kept for old scripts): a db_worker beside the portal.",
        )
        parser.add_argument(
            "--schedule-interval",
            type=float,
            default=60.0,
            help=(
                "Seconds between the sandbox's scheduled jobs while the portal serves: "
                "`recover_operations`, then `expire_grants --enqueue` (what deploy/crontab "
                "runs in production); 0 turns them off."
            ),
        )
        parser.add_argument(
            "--no-reload",
            action="store_true",
            help=(
                "Serve without runserver's autoreloader (one process, no file watcher: "
                "what the browser tests use)."
            ),
        )
        parser.add_argument(
            "--no-serve",
            action="store_true",
            help="Seed, print, then keep the sandbox running without the portal (for scripts).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.AWS_SANDBOX:
            raise CommandError(
                "Set XACCT_SANDBOX=true: this command wipes the portal database it runs on."
            )
        state_dir = Path(options["state_dir"]).resolve()
        shutil.rmtree(state_dir, ignore_errors=True)
        state_dir.mkdir(parents=True)

        self._reset_database()

        server, endpoint_url = sandbox.start_server()
        # A real SMTP server on 127.0.0.1: alert e-mails land on the portal's Mail page.
        mail = mailbox_start(directory=state_dir / "mail")
        world = sandbox.seed(endpoint_url, organization=True)
        config_path, credentials_path = sandbox.write_aws_files(world, state_dir / "aws")

        password = options["password"] or secrets.token_urlsafe(12)
        get_user_model().objects.create_superuser(
            username=options["username"], email="admin@example.com", password=password
        )
        services.sandbox_accounts_register(world)
        sandbox_organization_register(world)  # the management account: organization source
        sandbox.enable_access_control(endpoint_url)

        env = {k: v for k, v in os.environ.items() if k not in _AWS_ENV_OVERRIDES}
        env.update(
            XACCT_SANDBOX="true",
            XACCT_AWS_ENDPOINT_URL=endpoint_url,
            AWS_CONFIG_FILE=str(config_path),
            AWS_SHARED_CREDENTIALS_FILE=str(credentials_path),
            AWS_PROFILE=sandbox.PORTAL_PROFILE,
            EMAIL_URL=mail.url,
            XACCT_SANDBOX_MAIL_DIR=str(mail.directory),
        )
        env.update(_production_like_web(options["addrport"]))
        worker = not options["immediate"]
        # Said outright: a .env copied from .env.example must not queue work nothing runs.
        env["XACCT_TASK_BACKEND"] = "database" if worker else "immediate"
        url = f"http://{options['addrport']}/"
        env.setdefault("XACCT_PUBLIC_URL", url.rstrip("/"))  # links in the alert e-mails
        self._print_welcome(
            url=url,
            username=options["username"],
            password=password,
            endpoint_url=endpoint_url,
            config_path=config_path,
            credentials_path=credentials_path,
            worker=worker,
            schedule_interval=options["schedule_interval"],
            mail=mail,
        )
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            if options["no_serve"]:
                signal.pause()
            else:
                self._serve(
                    options["addrport"],
                    env,
                    worker=worker,
                    schedule_interval=options["schedule_interval"],
                    reload=not options["no_reload"],
                )
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()  # type: ignore[attr-defined]
            mail.stop()

    def _reset_database(self) -> None:
        """Portal records start fresh, like the in-memory sandbox."""
        database = connection.settings_dict
        if database["ENGINE"] == "django.db.backends.sqlite3" and database["NAME"] != ":memory:":
            connection.close()
            for suffix in ("", "-wal", "-shm"):
                Path(f"{database['NAME']}{suffix}").unlink(missing_ok=True)
            call_command("migrate", interactive=False, verbosity=0)
        else:
            call_command("migrate", interactive=False, verbosity=0)
            call_command("flush", interactive=False, verbosity=0)
            roles_ensure()  # flush also empties the groups the migrations created

    def _serve(
        self,
        addrport: str,
        env: dict[str, str],
        *,
        worker: bool,
        schedule_interval: float,
        reload: bool = True,
    ) -> None:
        # Child processes: the portal reads the sandbox from its environment,
        # exactly as it reads real AWS settings, and its autoreloader cannot
        # start a second sandbox.
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        children = [
            subprocess.Popen(
                [*manage, "runserver", addrport, *([] if reload else ["--noreload"])],
                env=env,
                start_new_session=True,
            )
        ]
        if worker:
            children.append(
                subprocess.Popen(
                    [*manage, "db_worker", "--no-reload", "--interval", "0.5"],
                    env=env,
                    start_new_session=True,
                )
            )
        # The sandbox's cron (deploy/crontab): the jobs one after the other at an
        # interval, never two at once, stopped with the sandbox.
        jobs = [
            [*manage, "recover_operations"],
            [*manage, "expire_grants", *(["--enqueue"] if worker else [])],
            [*manage, "sync_organizations"],
            [*manage, "alerts_expiring_scan"],
            [*manage, "alerts_deliver_pending"],
        ]
        # First, at once: read the organization from the management account (OU paths of
        # the registered accounts); from then on it is a source the schedule re-syncs.
        pending: list[list[str]] = [[*manage, "sync_organizations", "--source", "management"]]
        job: subprocess.Popen | None = None
        next_run = time.monotonic() + schedule_interval
        try:
            # Serve until either child stops: a portal without its worker would
            # queue work nothing runs.
            while all(child.poll() is None for child in children):
                idle = job is None or job.poll() is not None
                if schedule_interval > 0 and time.monotonic() >= next_run:
                    if idle and not pending:
                        pending = list(jobs)
                    next_run = time.monotonic() + schedule_interval
                if idle and pending:
                    job = subprocess.Popen(
                        pending.pop(0), env=env, start_new_session=True, stdout=subprocess.DEVNULL
                    )
                time.sleep(0.5)
            for child, name in zip(children, ("portal", "db_worker"), strict=False):
                if child.poll() is not None:
                    self.stderr.write(f"The sandbox's {name} stopped (exit {child.returncode}).")
        finally:
            # A second Ctrl-C or SIGTERM (uv and make pass signals on too) must
            # not cut the clean-up short and orphan a child; it is bounded anyway.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            for child in [*children, *([job] if job else [])]:
                _stop(child)

    def _print_welcome(self, **info: Any) -> None:
        out = self.stdout
        out.write(self.style.SUCCESS("\nxacct portal is running on the embedded AWS sandbox."))
        out.write(f"  Portal:            {info['url']}")
        out.write(f"  Log in as:         {info['username']} / {info['password']}")
        out.write(f"  Sandbox endpoint:  {info['endpoint_url']}")
        out.write(f"  AWS config file:   {info['config_path']}")
        out.write(f"  AWS credentials:   {info['credentials_path']}")
        out.write(
            f"  Mail:              SMTP server on {info['mail'].host}:{info['mail'].port}; "
            f"what it receives is on {info['url']}sandbox/mail/"
        )
        out.write(
            "  Background work:   "
            + (
                "queued in the database, run by a db_worker beside the portal (as in production)"
                if info["worker"]
                else "immediate, inside the request (--immediate: for tests only)"
            )
        )
        interval = info["schedule_interval"]
        out.write(
            f"  Scheduled jobs:    every {interval:g} s, recover_operations and expire_grants "
            "(grants past their expiry are revoked), as deploy/crontab does, then "
            "sync_organizations (OU paths, statuses, accounts that left), alerts_expiring_scan "
            "and alerts_deliver_pending"
            if interval > 0
            else "  Scheduled jobs:    off (--schedule-interval 0)"
        )
        out.write("  Act as the grantee hoge-app (account 444455556666) with any AWS SDK or CLI:")
        out.write(
            f"    export AWS_CONFIG_FILE={info['config_path']} "
            f"AWS_SHARED_CREDENTIALS_FILE={info['credentials_path']}"
        )
        out.write(f"    aws --profile {sandbox.GRANTEE_PROFILE} sts get-caller-identity")
        out.write(
            "  State is in memory: stopping the sandbox forgets it, and the next start "
            "resets the portal records too.\n"
        )
        out.flush()


def _production_like_web(addrport: str) -> dict[str, str]:
    """Settings that make the sandbox's portal answer as production does: DEBUG off.

    Visitors see the portal's own 403/404/500 and CSRF pages, never Django's
    technical pages (which list every URL pattern and the settings). Over plain
    HTTP on this machine: no HTTPS redirect, no secure-only cookies, no HSTS. A
    fresh secret key per start (sessions end with the sandbox anyway) unless one is
    set; the hosts it answers to follow --addrport (any, when it listens on all
    addresses) unless DJANGO_ALLOWED_HOSTS says otherwise. Static files are served
    from the source folders by WhiteNoise (settings: XACCT_SANDBOX).
    """
    host = addrport.rpartition(":")[0].strip("[]") if ":" in addrport else ""
    hosts = ["localhost", "127.0.0.1", "[::1]"]
    if host in ("0.0.0.0", "::"):
        hosts = ["*"]
    elif host and host not in hosts:
        hosts.append(f"[{host}]" if ":" in host else host)
    return {
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": os.environ.get("DJANGO_ALLOWED_HOSTS") or ",".join(hosts),
        "DJANGO_SECURE_COOKIES": "false",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_HSTS_SECONDS": "0",
        "DJANGO_HSTS_INCLUDE_SUBDOMAINS": "false",
    }


def _stop(child: subprocess.Popen) -> None:
    """SIGTERM the child's process group, then SIGKILL it if it lingers."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, None)):
        if child.poll() is not None:
            return
        try:
            os.killpg(child.pid, sig)
        except ProcessLookupError:
            return
        try:
            child.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
