"""Settings from environment variables, with embedded defaults for local use.

Without DATABASE_URL the portal uses SQLite (WAL, IMMEDIATE transactions so the web process and
the worker do not meet "database is locked"); without CELERY_BROKER_URL a file-system broker that
needs no server. Tests and production set both to PostgreSQL and Redis.
"""
import datetime
import os
from pathlib import Path

import dj_database_url
import yaml
from csp import constants as csp

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PORTAL_VAR_DIR", BASE_DIR / "var"))


def env(name, default=""):
    """A setting from the environment; NAME_FILE holds it in a file (Docker/K8s secrets)."""
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        return Path(file_name).read_text().strip()
    return os.environ.get(name, default)


def envbool(name, default="False"):
    value = env(name, default).lower()
    if value not in ("true", "false", "1", "0", "yes", "no"):
        raise ValueError(f"{name} must be true or false, not {value!r}")
    return value in ("true", "1", "yes")


def envint(name, default):
    return int(env(name, str(default)))


def envdata(name):
    """A JSON or YAML document from NAME (or the file NAME_FILE names); None when unset."""
    text = env(name, "")
    if not text:
        return None
    try:
        return yaml.safe_load(text)  # JSON is YAML too
    except yaml.YAMLError as error:
        raise ValueError(f"{name} is neither JSON nor YAML: {error}") from None


SECRET_KEY = env("SECRET_KEY", "dev-only-insecure-key-set-SECRET_KEY-in-production")
DEBUG = envbool("DEBUG", "False")
ALLOWED_HOSTS = env("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")
CSRF_TRUSTED_ORIGINS = [o for o in env("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "portal.apps.PortalAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_htmx",
    "axes",
    "csp",
    "portal",
    "catalog",
    "builds",
    "compliance",
    "curation",
    "django_prometheus",
]

MIDDLEWARE = [
    # First and (but for axes) last: django-prometheus times every request and counts the answers (/metrics).
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # /healthz and /readyz answer whatever the Host header, scheme or session (portal/ops/middleware.py).
    "portal.ops.middleware.ProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "portal.outage.DatabaseOutageMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "portal.middleware.PortalLoginRequiredMiddleware",
    # A user holding a one-time password (new, or reset by an admin) sees the password page first.
    "portal.accounts.middleware.PasswordChangeFirstMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    # Last, as django-axes asks: it turns a lockout flagged during authentication into the lockout answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
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
                "portal.context_processors.roles",
                "compliance.context_processors.review_counts",
            ],
            "builtins": [
                "portal.templatetags.portal_tags",
            ]
        },
    }
]
WSGI_APPLICATION = "portal.wsgi.application"

if env("DATABASE_URL"):
    # CONN_MAX_AGE 0 by default: runserver opens a thread per request and would keep each connection.
    # Health checks: a connection kept across requests is tested before reuse, so the first request
    # after a PostgreSQL restart reconnects instead of failing on the dead connection.
    DATABASES = {"default": dj_database_url.parse(env("DATABASE_URL"), conn_max_age=envint("CONN_MAX_AGE", 0),
                                                  conn_health_checks=envbool("CONN_HEALTH_CHECKS", "True"))}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "portal.sqlite3",
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Lockout of password guessing (django-axes), the same for the login page and POST /api/token/:
# LOGIN_FAILURE_LIMIT failures for one user name, or LOGIN_FAILURE_LIMIT_PER_IP from one client
# address (higher: an office behind one NAT address shares it), lock that name or address until
# LOGIN_LOCKOUT_MINUTES have passed since its last failure. A success resets the name's count.
# Platform admins unlock early (admin "Access attempts", or `manage.py account_unlock`).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
LOGIN_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", 5)
LOGIN_FAILURE_LIMIT_PER_IP = envint("LOGIN_FAILURE_LIMIT_PER_IP", 20)
LOGIN_LOCKOUT_MINUTES = envint("LOGIN_LOCKOUT_MINUTES", 15)
AXES_HANDLER = "portal.accounts.lockout.LockoutHandler"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own; the handler gives each its limit
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = datetime.timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_RESET_ON_SUCCESS = True
# Tries made while locked out do not push the end of the lockout further: the time the page and
# Retry-After announce holds (and a stranger cannot keep someone's name locked by trying every minute
# longer than the failures' own window).
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "portal.accounts.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "portal.accounts.lockout.client_ip"
AXES_ENABLE_ADMIN = False  # portal/accounts/admin.py registers the attempts for platform admins
AXES_VERBOSE = False  # no banner on every manage.py command; failures and lockouts are still logged
# Reverse proxies in front of the portal that append the client's address to X-Forwarded-For (and,
# with PORTAL_HTTPS, set X-Forwarded-Proto): lockouts count the address the first of them saw.
# 0: the TCP peer is the client.
PORTAL_PROXY_COUNT = envint("PORTAL_PROXY_COUNT", 0)

# Personal API tokens (portal/accounts/): shown once, stored as a SHA-256, valid this long, at most
# this many unexpired ones per user.
API_TOKEN_TTL_HOURS = envint("API_TOKEN_TTL_HOURS", 24 * 30)
API_TOKEN_MAX_PER_USER = envint("API_TOKEN_MAX_PER_USER", 20)
# An invitation by e-mail (People page) can be accepted for this many days; a resend starts them again.
INVITATION_DAYS = envint("INVITATION_DAYS", 3)

# Content-Security-Policy, enforced (django-csp): scripts, styles and everything else from the
# portal's own origin only; no inline script or style, no eval (htmx is configured without it in
# base.html), no framing, forms post only to the portal.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp.SELF],
        "script-src": [csp.SELF],
        "style-src": [csp.SELF],
        "img-src": [csp.SELF],
        "font-src": [csp.SELF],
        "connect-src": [csp.SELF],
        "object-src": [csp.NONE],
        "base-uri": [csp.NONE],
        "form-action": [csp.SELF],
        "frame-ancestors": [csp.NONE],
    },
}

# Served over HTTPS (by the portal's own TLS or a proxy terminating it): cookies only travel over
# TLS, browsers are told to use HTTPS only (HSTS), plain HTTP is redirected. Off for the local
# http://127.0.0.1:8000. Behind a proxy (PORTAL_PROXY_COUNT > 0), its X-Forwarded-Proto says the
# request came over HTTPS: the proxy must overwrite that header, never pass a client's on.
PORTAL_HTTPS = envbool("PORTAL_HTTPS", "False")
SESSION_COOKIE_SECURE = PORTAL_HTTPS
CSRF_COOKIE_SECURE = PORTAL_HTTPS
SECURE_SSL_REDIRECT = PORTAL_HTTPS and envbool("SECURE_SSL_REDIRECT", "True")
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 365 * 24 * 3600) if PORTAL_HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = PORTAL_HTTPS and envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", "False")
if PORTAL_HTTPS and PORTAL_PROXY_COUNT > 0:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
# WhiteNoise serves static files straight from the app folders, so no collectstatic is needed to run.
WHITENOISE_USE_FINDERS = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "media/"
# Uploaded artifacts are stored by the portal; anything larger is refused with a clear error.
ARTIFACT_MAX_BYTES = envint("ARTIFACT_MAX_BYTES", 200 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first, so an anonymous API call gets 401 with a WWW-Authenticate challenge.
        "portal.accounts.authentication.ApiTokenAuthentication",
        "portal.accounts.authentication.PortalSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON bodies; the few calls that take a file (a recipe's artifact, a Dockerfile's context, a
    # scanner report) add multipart themselves, and POST /api/token/ keeps forms as well.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # Documents every operation's 4xx answers besides its success (portal/api_schema.py).
    "DEFAULT_SCHEMA_CLASS": "portal.api_schema.PortalAutoSchema",
    # ?limit= above API_MAX_PAGE_SIZE is read as that; a limit or offset that is not a whole number is a 400.
    "DEFAULT_PAGINATION_CLASS": "portal.pagination.BoundedLimitOffsetPagination",
    "PAGE_SIZE": 50,
}
API_MAX_PAGE_SIZE = envint("API_MAX_PAGE_SIZE", 500)
SPECTACULAR_SETTINGS = {
    "TITLE": "Image portal API",
    "DESCRIPTION": "Compose, build, scan, gate and publish container images.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The document is public and the same for everyone: reading it asks nobody who they are.
    "SERVE_AUTHENTICATION": [],
    # Request and response shapes apart: uploads are binary in requests, read-only fields stay out of
    # requests, and a required text field says it may not be blank (minLength 1).
    "COMPONENT_SPLIT_REQUEST": True,
    # Recipe.kind and Component.kind both have choices named "kind": give each enum its own name.
    "ENUM_NAME_OVERRIDES": {"RecipeKindEnum": "builds.models.Recipe.Kind", "ComponentKindEnum": "catalog.models.Component.Kind",
                            "TeamScriptKindEnum": "builds.models.TeamScript.Kind", "PolicyRuleKindEnum": "compliance.models.PolicyRule.Kind",
                            "RebuildModeEnum": "curation.models.RebuildMode", "GlobalRoleKindEnum": "portal.models.GlobalRole.Kind",
                            "InvitationStateEnum": "portal.models.Invitation.State"},
}

# Celery: JSON only, ids not objects, one build per worker process at a time.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", "")
if not CELERY_BROKER_URL:
    BROKER_DIR = VAR_DIR / "broker"
    for sub in ("out", "processed"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "out"),
        "data_folder_out": str(BROKER_DIR / "out"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
        # Its exchange tables; kombu's default is "control" in the working directory (the checkout).
        "control_folder": str(BROKER_DIR / "control"),
    }
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "builds.tasks.reap_stuck_builds": {"queue": "default"},
    "builds.tasks.sweep_engines": {"queue": "default"},
    # Where the registry's storage is mounted (one host: the default queue's worker).
    "builds.tasks.registry_gc": {"queue": env("REGISTRY_GC_QUEUE", "default")},
    "builds.tasks.*": {"queue": "builds"},
    # Exception upkeep is housekeeping, not scanning: it stays on the default queue.
    "compliance.tasks.expire_exceptions": {"queue": "default"},
    "compliance.tasks.remind_expiring_exceptions": {"queue": "default"},
    "compliance.tasks.prune_scanned_layers": {"queue": "default"},
    "compliance.tasks.*": {"queue": "scans"},
}
CELERY_TASK_ALWAYS_EAGER = False
# How often the reaper looks for builds whose worker died and queued builds whose message was lost.
REAPER_INTERVAL_SECONDS = envint("REAPER_INTERVAL_SECONDS", 10)
# An alert owed this long was left by a process that died before sending it: the scheduled pass
# (every 5 minutes) sends it. A live re-evaluation sends its own alerts when it ends.
ALERT_OWED_GRACE_SECONDS = envint("ALERT_OWED_GRACE_SECONDS", 900)
# How often a worker looks for re-evaluations that imports still owe (a process stopped half-way).
REEVALUATION_DUE_INTERVAL_SECONDS = envint("REEVALUATION_DUE_INTERVAL_SECONDS", 300)
CELERY_BEAT_SCHEDULE = {
    # Beat (not a worker) schedules it, so it runs while any worker on the default queue lives; a
    # pass that waited longer than one interval (no worker) is dropped, the next one will do.
    "reap-stuck-builds": {"task": "builds.tasks.reap_stuck_builds", "schedule": REAPER_INTERVAL_SECONDS,
                          "options": {"expires": REAPER_INTERVAL_SECONDS}},
    "expire-exceptions": {"task": "compliance.tasks.expire_exceptions", "schedule": 300},
    "remind-expiring-exceptions": {"task": "compliance.tasks.remind_expiring_exceptions",
                                   "schedule": envint("EXCEPTION_REMINDER_INTERVAL_SECONDS", 3600)},
    "prune-harbor-scans": {"task": "compliance.tasks.prune_harbor_scans", "schedule": 3600},
    "prune-scanned-layers": {"task": "compliance.tasks.prune_scanned_layers", "schedule": 3600},
    "refresh-attestations": {"task": "compliance.tasks.refresh_attestations",
                             "schedule": envint("ATTESTATION_REFRESH_INTERVAL_SECONDS", 60)},
    "renew-attestations": {"task": "compliance.tasks.refresh_attestations", "schedule": 3600, "kwargs": {"renew": True}},
    # Does nothing unless PORTAL_REKOR_URL is set.
    "transparency-log": {"task": "compliance.tasks.upload_to_transparency_log",
                         "schedule": envint("TRANSPARENCY_LOG_INTERVAL_SECONDS", 30)},
    "fold-data-changes": {"task": "portal.tasks.fold_data_changes", "schedule": 300},
    # A rule or base change whose message was lost, or whose worker died, is re-evaluated within this long.
    "reevaluate-policy-due": {"task": "compliance.tasks.reevaluate_policy_due", "schedule": REEVALUATION_DUE_INTERVAL_SECONDS,
                              "options": {"expires": REEVALUATION_DUE_INTERVAL_SECONDS}},
    "send-owed-alerts": {"task": "compliance.tasks.send_owed_alerts", "schedule": 300, "options": {"expires": 300}},
    # An import or re-evaluation stopped half-way is finished within this long (ReevaluationDue).
    "reevaluate-due": {"task": "compliance.tasks.reevaluate_due", "schedule": REEVALUATION_DUE_INTERVAL_SECONDS,
                       "options": {"expires": REEVALUATION_DUE_INTERVAL_SECONDS}},
    "registry-gc": {"task": "builds.tasks.registry_gc", "schedule": envint("REGISTRY_GC_INTERVAL_SECONDS", 3600)},
    # Sent to every build queue: each engine sweeps its own images.
    "sweep-engines": {"task": "builds.tasks.sweep_engines", "schedule": envint("ENGINE_SWEEP_INTERVAL_SECONDS", 3600)},
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# `%(build)s` is " build=<id>" while a build task runs (portal/logcontext.py), so its lines can be grepped.
CELERY_WORKER_LOG_FORMAT = "[%(asctime)s: %(levelname)s/%(processName)s]%(build)s %(message)s"
CELERY_WORKER_TASK_LOG_FORMAT = "[%(asctime)s: %(levelname)s/%(processName)s]%(build)s %(task_name)s[%(task_id)s]: %(message)s"
# A broker restart must not stop a build that is running: its message was acknowledged when it
# started (no late acks), and the database, not Redis, says what is running.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False

# Database connections a fleet's re-evaluation writes verdicts on at once (compliance/vulndb/reevaluation.py).
REEVALUATION_CONNECTIONS = max(1, envint("REEVALUATION_CONNECTIONS", 2))

# Security pages are sent again from a cache while the data they show has not changed
# (portal/page_cache); this long at most, for what depends on the clock alone. 0 turns it off.
PAGE_CACHE_SECONDS = envint("PAGE_CACHE_SECONDS", 60)
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # Per process: a page is made at most once per worker process and data version.
    "pages": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "pages",
              "OPTIONS": {"MAX_ENTRIES": envint("PAGE_CACHE_ENTRIES", 500)}},
}

# Scans Harbor asked for are Harbor's to keep (it stores the report it fetched): ours go after this.
HARBOR_SCAN_RETENTION_DAYS = envint("HARBOR_SCAN_RETENTION_DAYS", 7)
# A layer's record (what a scan read from it) no scan used for this long is deleted: the next scan
# of that layer downloads and reads it again.
SCANNED_LAYER_RETENTION_DAYS = envint("SCANNED_LAYER_RETENTION_DAYS", 30)
# The registry credential of a Harbor scan request waits (sealed) at most this long for a worker.
HARBOR_CREDENTIAL_TTL_SECONDS = envint("HARBOR_CREDENTIAL_TTL_SECONDS", 3600)
# Harbor's pluggable scanner API (/harbor/api/v1/): Harbor sends this as "Authorization: Bearer
# <token>". Empty disables the adapter (every call answers 503 saying so).
HARBOR_ADAPTER_TOKEN = env("HARBOR_ADAPTER_TOKEN", "")

# Policy defaults (rules as data per team come later): block these severities, only when fixable.
POLICY_BLOCK_SEVERITIES = [s for s in env("POLICY_BLOCK_SEVERITIES", "Critical,High").split(",") if s]
POLICY_BLOCK_FIXABLE_ONLY = envbool("POLICY_BLOCK_FIXABLE_ONLY", "True")

# An image whose packages are in an ecosystem with no vulnerability data, or whose newest import is
# older than this, is "not assessed" (the vulnerability-data rule; a global or team rule row may set
# its own max_age_days). Air-gapped sites that import by hand set what their import rhythm allows.
VULNDB_MAX_AGE_DAYS = envint("VULNDB_MAX_AGE_DAYS", 7)

# vulndb_sync: the feeds to download, a list of {source, url} (sources: osv, debian-tracker,
# debian-dsa, debian-dla, alpine-secdb), in VULNDB_FEEDS or in the JSON/YAML file VULNDB_FEEDS_FILE names.
VULNDB_FEEDS = envdata("VULNDB_FEEDS")
VULNDB_FEED_MAX_BYTES = envint("VULNDB_FEED_MAX_BYTES", 1024 * 1024 * 1024)
VULNDB_FEED_CONNECT_TIMEOUT = envint("VULNDB_FEED_CONNECT_TIMEOUT", 10)
VULNDB_FEED_READ_TIMEOUT = envint("VULNDB_FEED_READ_TIMEOUT", 60)

# The longest an exception may run, by the worst severity it waives (days).
EXCEPTION_MAX_DAYS = {"Critical": 30, "High": 90, "Medium": 180, "Low": 365, "default": 365}
ALERT_WEBHOOK_TIMEOUT = envint("ALERT_WEBHOOK_TIMEOUT", 10)
# True lets a team's alert webhook point at this host or a link-local address (portal/teams/webhooks.py).
ALERT_WEBHOOK_ALLOW_LOCAL = envbool("ALERT_WEBHOOK_ALLOW_LOCAL")
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "image-portal@localhost")
# Where users reach the portal: links in e-mails and webhook bodies sent by background jobs.
PORTAL_BASE_URL = env("PORTAL_BASE_URL", "http://127.0.0.1:8000")

# The Docker Engine the build worker uses (DOCKER_HOST as the docker SDK reads it) and the registry.
DOCKER_HOST = env("DOCKER_HOST", "")
REGISTRY_URL = env("PORTAL_REGISTRY_URL", "http://127.0.0.1:5000")
REGISTRY_USERNAME = env("PORTAL_REGISTRY_USERNAME", "") or None
REGISTRY_PASSWORD = env("PORTAL_REGISTRY_PASSWORD", "") or None
# The portal is the registry's token server (Distribution `auth: token`): it signs short-lived tokens
# with this EC P-256 key, whose self-signed certificate is the registry's rootcertbundle
# (scripts/ensure-services.sh makes both). Without the key file the portal sends no tokens.
REGISTRY_TOKEN_KEY_FILE = env("PORTAL_REGISTRY_TOKEN_KEY_FILE", "/var/lib/portal-registry/token/key.pem")
REGISTRY_TOKEN_ISSUER = env("PORTAL_REGISTRY_TOKEN_ISSUER", "image-portal")
REGISTRY_TOKEN_SERVICE = env("PORTAL_REGISTRY_TOKEN_SERVICE", "portal-registry")
# Long enough for the Docker Engine to push a large image with one token (it does not renew it).
REGISTRY_TOKEN_TTL_SECONDS = envint("PORTAL_REGISTRY_TOKEN_TTL_SECONDS", 900)
# Registry garbage collection in quarantine (builds/runner/registry_gc.py), run where the registry's
# storage is: its filesystem rootdirectory (empty: the collection only says it cannot run here),
# how often, how old an unreferenced manifest must be, and when an upload session counts as abandoned.
REGISTRY_STORAGE_DIR = env("PORTAL_REGISTRY_STORAGE_DIR", "/var/lib/portal-registry/data")
REGISTRY_GC_GRACE_SECONDS = envint("REGISTRY_GC_GRACE_SECONDS", 3600)
REGISTRY_UPLOAD_MAX_AGE_SECONDS = envint("REGISTRY_UPLOAD_MAX_AGE_SECONDS", 24 * 3600)
# Robot accounts (a team's registry logins): default and longest lifetime, in days.
ROBOT_DEFAULT_DAYS = envint("ROBOT_DEFAULT_DAYS", 90)
ROBOT_MAX_DAYS = envint("ROBOT_MAX_DAYS", 365)
# Signed verdicts (compliance/attestations): the key published images are signed with, ECDSA P-256 in
# PEM, from PORTAL_SIGNING_KEY (the PEM itself) or this file (`manage.py signing_key ensure` makes it on
# first start). A rotated key stays trusted for verification this many days.
SIGNING_KEY_FILE = env("PORTAL_SIGNING_KEY_FILE", str(BASE_DIR / "var" / "signing" / "key.pem"))
SIGNING_KEY_PEM = env("PORTAL_SIGNING_KEY", "")
SIGNING_KEY_OVERLAP_DAYS = envint("PORTAL_SIGNING_KEY_OVERLAP_DAYS", 30)
# A verdict attestation is signed again when its validity ends within this many hours and today's
# verdict would last longer (fresh vulnerability data), so a compliant image stays admissible.
ATTESTATION_REFRESH_HOURS = envint("PORTAL_ATTESTATION_REFRESH_HOURS", 48)
# Optional: a Rekor transparency log every signature and attestation is also sent to (off: the portal
# is air-gapped by default, and verification never needs the log). Sent from Celery beat's pass.
TRANSPARENCY_LOG_URL = env("PORTAL_REKOR_URL", "").rstrip("/")
TRANSPARENCY_LOG_TIMEOUT_SECONDS = envint("PORTAL_REKOR_TIMEOUT_SECONDS", 10)
# Where the portal is reached; names the builder and the build in provenance.
PORTAL_URL = env("PORTAL_URL", "http://" + env("PORTAL_BIND", "127.0.0.1:8000")).rstrip("/")
QUARANTINE_REPOSITORY_PREFIX = env("PORTAL_QUARANTINE_PREFIX", "quarantine")
PUBLISHED_REPOSITORY_PREFIX = env("PORTAL_PUBLISHED_PREFIX", "published")
# Build steps run on this Docker network: internal (no route out), the host dropping all it sends but
# to the build proxy, which forwards to allowed hosts only (scripts/ensure-services.sh sets all three
# up). Empty: the engine's default bridge, with whatever it reaches (not recommended).
BUILD_NETWORK = env("PORTAL_BUILD_NETWORK", "portal-builds")
BUILD_PROXY_PORT = envint("PORTAL_BUILD_PROXY_PORT", 3128)
# The proxy builds go through (predefined `http_proxy`/`https_proxy` build args: out of the layer
# cache key and the image history). Empty: the build proxy on BUILD_NETWORK's gateway address, which
# sends Debian's mirrors through the package cache (apt-cacher-ng); a site's own proxy or mirror
# can be named instead. On the build network a step has no network at all when it does not answer.
APT_PROXY = env("PORTAL_APT_PROXY", "")
APT_PROXY_PROBE_SECONDS = float(env("PORTAL_APT_PROXY_PROBE_SECONDS", "1"))
# The most used apt packages of recipes on a base get a layer each, so recipes share them (builds/compose/shared_layers.py).
SHARED_APT_LAYERS = envint("SHARED_APT_LAYERS", 3)
# Package lists fetched once per base image and host and reused this long (builds/runner/apt_index.py); 0: off.
APT_INDEX_MAX_AGE_SECONDS = envint("APT_INDEX_MAX_AGE_SECONDS", 3600)
# Where the workers of a host keep those lists, once per base for all of them (a SQLite file each).
APT_INDEX_DIR = Path(env("APT_INDEX_DIR", str(VAR_DIR / "apt-index")))
# A build may run no longer than this; the SDK's own timeout is only the gap between log lines.
BUILD_DEADLINE_SECONDS = envint("BUILD_DEADLINE_SECONDS", 1800)
# Pushes and registry copies while the registry cannot be reached: tried again after
# PUSH_FIRST_DELAY_SECONDS, the pause doubling up to REGISTRY_RETRY_MAX_DELAY_SECONDS, for as long
# as the pauses fit in REGISTRY_RETRY_WINDOW_SECONDS (PUSH_ATTEMPTS, when not 0, caps the tries too).
# A registry outage shorter than the window costs a slower build rather than a failed one.
PUSH_ATTEMPTS = envint("PUSH_ATTEMPTS", 0)
PUSH_FIRST_DELAY_SECONDS = float(env("PUSH_FIRST_DELAY_SECONDS", "2"))
REGISTRY_RETRY_WINDOW_SECONDS = float(env("REGISTRY_RETRY_WINDOW_SECONDS", "180"))
REGISTRY_RETRY_MAX_DELAY_SECONDS = float(env("REGISTRY_RETRY_MAX_DELAY_SECONDS", "30"))
# A build that failed only because the registry was unreachable (longer than the window) is queued
# again once, by the reaper, as soon as the registry answers, if it failed less than this long ago
# and no newer build of its recipe was requested meanwhile.
REGISTRY_AUTO_RETRY_MAX_AGE_SECONDS = envint("REGISTRY_AUTO_RETRY_MAX_AGE_SECONDS", 24 * 3600)
BUILD_LOG_MAX_BYTES = envint("BUILD_LOG_MAX_BYTES", 5 * 1024 * 1024)
# At most this much log text per build page load and per live poll (builds/log_window.py): the
# rest is counted, and in the raw log download.
BUILD_LOG_WINDOW_BYTES = envint("BUILD_LOG_WINDOW_BYTES", 96 * 1024)
# Hosts a .paas script may download from (and pipe to a shell); others are flagged.
SCRIPT_ALLOWED_HOSTS = [h for h in env("SCRIPT_ALLOWED_HOSTS", "deb.debian.org,pypi.org,files.pythonhosted.org").split(",") if h]
# Build queues: builds are spread over them; each is served by workers on one Docker Engine.
BUILD_QUEUES = [q for q in env("BUILD_QUEUES", "builds").split(",") if q]
# One team may run at most this many builds at once; more wait in the queue (retried every N s).
TEAM_MAX_RUNNING_BUILDS = envint("TEAM_MAX_RUNNING_BUILDS", 2)
TEAM_CAPACITY_RETRY_SECONDS = envint("TEAM_CAPACITY_RETRY_SECONDS", 10)
BUILD_MEMORY_BYTES = envint("BUILD_MEMORY_BYTES", 4 * 1024 * 1024 * 1024)
# A finished build leaves nothing on the engine but, when published, its package-transaction layers
# as the layer cache other recipes share (builds/runner/layers.py). ENGINE_LAYER_CACHE=0 keeps none.
ENGINE_LAYER_CACHE = envbool("ENGINE_LAYER_CACHE", "True")
BUILD_CPU_SHARES = envint("BUILD_CPU_SHARES", 512)
# Each worker writes its own heartbeat (its queues, the builds it runs) this often; one not seen for
# WORKER_STALE_SECONDS is gone: its builds' pages say so, and the health panels leave it out.
WORKER_HEARTBEAT_SECONDS = float(env("WORKER_HEARTBEAT_SECONDS", "5"))
WORKER_STALE_SECONDS = envint("WORKER_STALE_SECONDS", 15)
# A running build's heartbeat is written this often by a thread of its own, whatever the step does.
BUILD_HEARTBEAT_SECONDS = float(env("BUILD_HEARTBEAT_SECONDS", "5"))
# The engine sweep (builds/runner/engine_sweep.py): how often, and how old an image labelled by the
# portal must be before it is removed when no queued or running build owns it (longer than any
# build lasts: other portal databases sharing the engine have their own build ids). Layer-cache
# names older than ENGINE_LAYER_CACHE_MAX_AGE_SECONDS are dropped too (the next build makes them again).
ENGINE_SWEEP_INTERVAL_SECONDS = envint("ENGINE_SWEEP_INTERVAL_SECONDS", 3600)
ENGINE_SWEEP_GRACE_SECONDS = envint("ENGINE_SWEEP_GRACE_SECONDS", 2 * BUILD_DEADLINE_SECONDS)
ENGINE_LAYER_CACHE_MAX_AGE_SECONDS = envint("ENGINE_LAYER_CACHE_MAX_AGE_SECONDS", 7 * 24 * 3600)
# A running build whose worker has not beaten the heart for this long is retried once, then failed.
# (A pool process that dies is seen at once by its worker, which retries the build without waiting:
# this is for a whole worker or host that went away.)
BUILD_STALE_SECONDS = envint("BUILD_STALE_SECONDS", 30)
# A build's database writes (its steps, status, log) are tried again for this long while PostgreSQL
# restarts; a step that loses the database in the middle is retried once, as a build whose worker died.
DB_RETRY_SECONDS = envint("DB_RETRY_SECONDS", 60)
# A build still queued after this long may have lost its broker message (a Redis restart); it is
# dispatched again, once per window. A duplicate message is harmless: only a queued build starts.
BUILD_REDISPATCH_SECONDS = envint("BUILD_REDISPATCH_SECONDS", 45)
# Teams' own Dockerfiles: size limit, the engine's platform (the only --platform accepted) and the
# largest uncompressed build context (the worker holds it in memory while sending it).
DOCKERFILE_MAX_BYTES = envint("DOCKERFILE_MAX_BYTES", 64 * 1024)
BUILD_ENGINE_PLATFORM = env("BUILD_ENGINE_PLATFORM", "linux/amd64")
CONTEXT_MAX_BYTES = envint("CONTEXT_MAX_BYTES", 256 * 1024 * 1024)

# Operations (portal/ops/): /readyz gives each dependency this long; /metrics is for loopback clients
# (METRICS_ALLOW_LOOPBACK) and whoever sends "Authorization: Bearer <METRICS_TOKEN>"; the duration
# figures cover the METRICS_RECENT_BUILDS latest finished builds and scans.
READYZ_TIMEOUT_SECONDS = float(env("READYZ_TIMEOUT_SECONDS", "2"))
METRICS_TOKEN = env("METRICS_TOKEN", "")
METRICS_ALLOW_LOOPBACK = envbool("METRICS_ALLOW_LOOPBACK", "True")
METRICS_BROKER_TIMEOUT_SECONDS = float(env("METRICS_BROKER_TIMEOUT_SECONDS", "1"))
METRICS_RECENT_BUILDS = envint("METRICS_RECENT_BUILDS", 500)
PROMETHEUS_EXPORT_MIGRATIONS = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
}
