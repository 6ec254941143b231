"""Settings for xacct portal, read from the environment (see .env.example).

Defaults are safe for production; development conveniences (DEBUG, a
generated secret key, localhost hosts) are on only when DJANGO_DEBUG=true.
"""

from __future__ import annotations

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)

# A development key only when DEBUG is explicitly on; production must set one.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="") or (
    "django-insecure-development-only-key" if DEBUG else ""
)
if not SECRET_KEY:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("Set DJANGO_SECRET_KEY (or DJANGO_DEBUG=true for development).")

ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "formtools",
    "axes",
    "django_tasks_db",
    "grants",
    "alerts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    # Redirects (to log in, above all) reach htmx requests as HX-Redirect, not a page.
    "grants.middleware.HtmxRedirectMiddleware",
    "grants.middleware.SessionTimeoutMiddleware",
    "grants.middleware.PermissionDeniedAuditMiddleware",
    # Out-of-range integers in a query (ids, pages, the admin's filters) get a 400.
    "grants.middleware.QueryIntegerRangeMiddleware",
    # Every AWS call a request makes ends within XACCT_REQUEST_AWS_DEADLINE_SECONDS.
    "grants.middleware.AwsDeadlineMiddleware",
    # Last, as django-axes asks: it turns lockouts into responses.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses logins while locked out
    "django.contrib.auth.backends.ModelBackend",
]
# Login throttling: after this many failures for a username from one address,
# that pair is locked out for the cool-off period.
AXES_FAILURE_LIMIT = env.int("XACCT_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("XACCT_LOGIN_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False

# Sessions end after this long idle, and after this long in any case.
XACCT_SESSION_IDLE_MINUTES = env.int("XACCT_SESSION_IDLE_MINUTES", default=30)
XACCT_SESSION_MAX_HOURS = env.int("XACCT_SESSION_MAX_HOURS", default=8)
SESSION_COOKIE_AGE = XACCT_SESSION_MAX_HOURS * 3600
# Revoke, re-apply and adopt need a password entered within this many minutes.
XACCT_REAUTH_MINUTES = env.int("XACCT_REAUTH_MINUTES", default=15)

ROOT_URLCONF = "xacct_portal.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "grants.context_processors.aws_environment",
            ],
        },
    },
]

WSGI_APPLICATION = "xacct_portal.wsgi.application"
ASGI_APPLICATION = "xacct_portal.asgi.application"

# The sandbox keeps its own database: `manage.py sandbox` resets it on every start.
_DEFAULT_DB = (
    BASE_DIR
    / "var"
    / ("sandbox.sqlite3" if env.bool("XACCT_SANDBOX", default=False) else "db.sqlite3")
)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{_DEFAULT_DB}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Test access runs verifications in parallel threads: let writers queue, not fail.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=BASE_DIR / "var" / "staticfiles")
# Development, tests and the embedded sandbox (which serves with DEBUG off, as production
# does, but runs no collectstatic) serve static files straight from the finders.
_STATIC_FROM_FINDERS = DEBUG or env.bool("XACCT_SANDBOX", default=False)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if _STATIC_FROM_FINDERS
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = _STATIC_FROM_FINDERS

# Pages load nothing from other origins and run no inline script or style.
SECURE_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}

SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
# HTTPS only in production: redirect plain HTTP and tell browsers to stay on HTTPS.
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=False)
# Joining the browsers' preload list is a per-domain decision made by whoever
# owns the domain, not a default of this application.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
if env.bool("DJANGO_BEHIND_TLS_PROXY", default=False):
    # The proxy terminates TLS and says so in X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# A stale or missing CSRF token: a friendly page (or, to htmx, a message and a reload).
CSRF_FAILURE_VIEW = "xacct_portal.errors.csrf_failure"

# --- AWS -------------------------------------------------------------------
# An endpoint URL sends every AWS call to a stand-in (the embedded sandbox);
# leave it unset for real AWS.
AWS_ENDPOINT_URL = env.str("XACCT_AWS_ENDPOINT_URL", default="")
AWS_SANDBOX = env.bool("XACCT_SANDBOX", default=False)
# Short timeouts: a dead endpoint must not hold a web request for minutes.
AWS_CONNECT_TIMEOUT = env.float("XACCT_AWS_CONNECT_TIMEOUT", default=3.0)
AWS_READ_TIMEOUT = env.float("XACCT_AWS_READ_TIMEOUT", default=4.0)
AWS_TOTAL_MAX_ATTEMPTS = env.int("XACCT_AWS_TOTAL_MAX_ATTEMPTS", default=2)
# All the AWS calls of one web request end within this many seconds in total, so
# every page answers inside 12 s (and the server's timeout) even with AWS hung.
XACCT_REQUEST_AWS_DEADLINE_SECONDS = env.float("XACCT_REQUEST_AWS_DEADLINE_SECONDS", default=10.0)
# Test access: AccessDenied within this many seconds of a grant change is
# retried (IAM is eventually consistent) for at most the retry budget.
XACCT_IAM_PROPAGATION_WINDOW_SECONDS = env.int("XACCT_IAM_PROPAGATION_WINDOW_SECONDS", default=120)
XACCT_VERIFY_PROPAGATION_RETRY_SECONDS = env.float(
    "XACCT_VERIFY_PROPAGATION_RETRY_SECONDS", default=20.0
)
# Test access's one total deadline across its steps (reads, live calls, retries).
XACCT_VERIFY_DEADLINE_SECONDS = env.float("XACCT_VERIFY_DEADLINE_SECONDS", default=10.0)
# How many grants `verify_grants` (run in the foreground) tests at once.
# Roles the portal acts through besides the registered accounts' hub roles (comma-separated
# names, e.g. the role behind a named profile): never imported, changed, revoked or deleted.
XACCT_PORTAL_ACCESS_ROLES = env.list("XACCT_PORTAL_ACCESS_ROLES", default=[])
XACCT_VERIFY_CONCURRENCY = env.int("XACCT_VERIFY_CONCURRENCY", default=4)
# Visible in the trusting account's CloudTrail; no personal data.
AWS_ROLE_SESSION_NAME = env.str("XACCT_ROLE_SESSION_NAME", default="xacct-portal")

# --- Background work ---------------------------------------------------------
# Django's tasks framework runs Verify selected, scheduled re-verification and
# expiry. "immediate" runs a task where it is enqueued (tests, the sandbox, a
# single developer); "database" queues it in the portal's database for
# `manage.py db_worker` processes, as many as you like, on any host.
_TASK_BACKENDS = {
    "immediate": "django.tasks.backends.immediate.ImmediateBackend",
    "database": "django_tasks_db.DatabaseBackend",
}
XACCT_TASK_BACKEND = env.str("XACCT_TASK_BACKEND", default="immediate")
if XACCT_TASK_BACKEND not in _TASK_BACKENDS:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        f"XACCT_TASK_BACKEND must be one of {', '.join(_TASK_BACKENDS)}, "
        f"not {XACCT_TASK_BACKEND!r}."
    )
TASKS = {"default": {"BACKEND": _TASK_BACKENDS[XACCT_TASK_BACKEND]}}
# A batch item a worker took but did not finish within this many minutes is
# given up (the worker was killed) by the next `verify_grants --enqueue`.
XACCT_BATCH_ITEM_STALE_MINUTES = env.int("XACCT_BATCH_ITEM_STALE_MINUTES", default=15)
# An operation (provision, revoke, re-apply, adopt) is held by one worker for
# this many seconds at a time, renewed before every AWS call; when it lapses
# (the worker died) another worker or `recover_operations` takes it over.
XACCT_OPERATION_LEASE_SECONDS = env.int("XACCT_OPERATION_LEASE_SECONDS", default=60)
# A provision rolled back after a call whose outcome was unknown is looked at again
# by every recovery pass for this many seconds: a write held by the network may
# land after the rollback, and what it left is then removed.
XACCT_OPERATION_SWEEP_SECONDS = env.int("XACCT_OPERATION_SWEEP_SECONDS", default=900)

# --- Webhooks ----------------------------------------------------------------
# The task worker POSTs every alert to the active webhooks (alerts/webhooks.py,
# docs/webhooks.md). One attempt waits at most the connect timeout for the
# connection and the read timeout for each piece of the answer (seconds).
XACCT_WEBHOOK_CONNECT_TIMEOUT_SECONDS = env.float(
    "XACCT_WEBHOOK_CONNECT_TIMEOUT_SECONDS", default=3.0
)
XACCT_WEBHOOK_TIMEOUT_SECONDS = env.float("XACCT_WEBHOOK_TIMEOUT_SECONDS", default=10.0)
# Attempts in all for one delivery; after a 5xx, 408, 429, timeout or connection
# error the next one waits the next of these delays (the last one repeats).
XACCT_WEBHOOK_MAX_ATTEMPTS = env.int("XACCT_WEBHOOK_MAX_ATTEMPTS", default=6)
XACCT_WEBHOOK_RETRY_DELAYS_SECONDS = env.list(
    "XACCT_WEBHOOK_RETRY_DELAYS_SECONDS", cast=int, default=[30, 120, 600, 1800, 3600]
)
if XACCT_WEBHOOK_MAX_ATTEMPTS < 1 or not XACCT_WEBHOOK_RETRY_DELAYS_SECONDS:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        "XACCT_WEBHOOK_MAX_ATTEMPTS must be at least 1 and XACCT_WEBHOOK_RETRY_DELAYS_SECONDS "
        "must list at least one delay."
    )
# Webhook signing secrets are stored Fernet-encrypted with a key derived from this,
# or, when it is empty, from SECRET_KEY. Changing SECRET_KEY then makes them
# unreadable unless the old key stays in DJANGO_SECRET_KEY_FALLBACKS (comma-separated)
# until every webhook's secret has been rotated.
XACCT_WEBHOOK_KEY = env.str("XACCT_WEBHOOK_KEY", default="")
SECRET_KEY_FALLBACKS = env.list("DJANGO_SECRET_KEY_FALLBACKS", default=[])

# --- Alerts --------------------------------------------------------------------
# E-mail goes through Django's mail framework, configured by one URL as django-environ
# reads it (smtp://user:password@host:25, smtp+tls://…:587, consolemail://). Development
# prints mail on the console; the sandbox points it at its own SMTP server on 127.0.0.1.
_EMAIL = env.email_url("EMAIL_URL", default="consolemail://" if DEBUG else "smtp://localhost:25")
_SMTP_OPTIONS = {
    "host": _EMAIL["EMAIL_HOST"],
    "port": _EMAIL["EMAIL_PORT"],
    "username": _EMAIL["EMAIL_HOST_USER"] or "",
    "password": _EMAIL["EMAIL_HOST_PASSWORD"] or "",
    "use_tls": _EMAIL.get("EMAIL_USE_TLS", False),
    "use_ssl": _EMAIL.get("EMAIL_USE_SSL", False),
    # A hung mail server must not hold the worker: seconds per connect and per command.
    "timeout": env.float("EMAIL_TIMEOUT", default=10.0),
}
# Django 6.1's MAILERS (the EMAIL_* settings are deprecated).
MAILERS = {
    "default": {
        "BACKEND": _EMAIL["EMAIL_BACKEND"],
        "OPTIONS": _SMTP_OPTIONS if _EMAIL["EMAIL_BACKEND"].endswith(".smtp.EmailBackend") else {},
    }
}
DEFAULT_FROM_EMAIL = env.str("DJANGO_DEFAULT_FROM_EMAIL", default="xacct portal <xacct@localhost>")
# Where people reach the portal: the links in alert e-mails start with it.
XACCT_PUBLIC_URL = env.str("XACCT_PUBLIC_URL", default="http://127.0.0.1:8000")
# A grant expiring within this many days is alerted (once per expiry time).
XACCT_ALERT_EXPIRING_DAYS = env.int("XACCT_ALERT_EXPIRING_DAYS", default=7)
# An alert e-mail that could not be sent is tried this many times in all, the retries
# after 60 s, 120 s, … where the task backend can wait (the database backend).
XACCT_ALERT_EMAIL_ATTEMPTS = env.int("XACCT_ALERT_EMAIL_ATTEMPTS", default=3)
XACCT_ALERT_EMAIL_RETRY_SECONDS = env.int("XACCT_ALERT_EMAIL_RETRY_SECONDS", default=60)
# The sandbox's SMTP server keeps what it receives here, for its Mail page.
XACCT_SANDBOX_MAIL_DIR = env.path(
    "XACCT_SANDBOX_MAIL_DIR", default=BASE_DIR / "var" / "sandbox-mail"
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {
        # botocore at DEBUG logs request headers, which carry session tokens.
        "botocore": {"level": "WARNING"},
        "boto3": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        "werkzeug": {"level": "WARNING"},
    },
}
