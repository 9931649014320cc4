"""Casebook's one settings module.

Every knob is read from the environment (or a `.env` file beside manage.py) through
django-environ, typed, with defaults that are safe for development. Production must say
what it wants: without DEBUG, a missing secret stops start-up with a message that names it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from dashboard.talkdesk.hosts import check_base_url, derive_urls, is_loopback_url

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# Variables already in the environment win over the file; ENV_FILE="" reads no file (tests).
ENV_FILE = env.str("ENV_FILE", default=str(BASE_DIR / ".env"))
if ENV_FILE and Path(ENV_FILE).is_file():
    environ.Env.read_env(ENV_FILE, overwrite=False)


def _required(name: str, hint: str) -> str:
    value: str = env.str(name, default="")
    if not value:
        raise ImproperlyConfigured(f"Set the {name} environment variable ({hint}).")
    return value


DEBUG = env.bool("DEBUG", default=False)

if DEBUG:
    # Development only: a throwaway secret so `runserver` works out of the box.
    SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-secret-key-do-not-deploy")
else:
    SECRET_KEY = _required("SECRET_KEY", "a long random string, e.g. from `openssl rand -hex 32`")

ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "dashboard",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.gzip.GZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "dashboard.middleware.viewer_timezone",
]

ROOT_URLCONF = "dashboard.urls"
WSGI_APPLICATION = "dashboard.wsgi.application"

TEMPLATES: list[dict[str, Any]] = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dashboard.context_processors.talkdesk_connection",
            ],
        },
    }
]

# --- Database and cache -------------------------------------------------------------------

DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several gunicorn threads (and processes) share one file: WAL lets readers go on while
    # one writes, IMMEDIATE takes the write lock at BEGIN so a token refresh is serialised,
    # and the busy timeout makes the others wait instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
# Keep each thread's connection between requests: opening one (and, on SQLite, its PRAGMAs)
# on every request is measurable next to a cached page.
DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)

CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://casebook")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Sign-in ------------------------------------------------------------------------------

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/cases/"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Never `signed_cookies`: the OAuth state and PKCE verifier live in the session.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# --- Internationalisation -----------------------------------------------------------------

LANGUAGE_CODE = "en-us"
# The fallback zone when the browser has not told us the viewer's own (see middleware.py).
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = False
USE_TZ = True

# --- Static files -------------------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Security -----------------------------------------------------------------------------

# Behind a TLS-terminating proxy that overwrites X-Forwarded-Proto (never trust a client copy).
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# Casebook usually lives on one subdomain of a company's domain: HSTS for every sibling
# subdomain, or the browsers' preload list, is the domain owner's call, not ours.
SILENCED_SYSTEM_CHECKS = ["security.W005", "security.W021"]
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Lax, not Strict: the OAuth callback is a cross-site top-level GET that needs the session.
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Scripts only from ourselves with a nonce, styles only from ourselves: no inline JS or CSS
# anywhere, so htmx is configured through <meta name="htmx-config"> (see base.html).
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# --- Token encryption ---------------------------------------------------------------------

# A dedicated key list, not SECRET_KEY: rotating one must not strand the other.
_DEV_TOKEN_KEY = "ZGV2LW9ubHktdG9rZW4ta2V5LWRvLW5vdC1kZXBsb3k="  # base64 of 32 bytes, DEBUG only
TOKEN_ENCRYPTION_KEYS: list[str] = env.list("TOKEN_ENCRYPTION_KEYS", default=[])
if not TOKEN_ENCRYPTION_KEYS:
    if not DEBUG:
        _required(
            "TOKEN_ENCRYPTION_KEYS",
            "comma-separated Fernet keys, newest first; make one with "
            '`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`',
        )
    TOKEN_ENCRYPTION_KEYS = [_DEV_TOKEN_KEY]
for _position, _key in enumerate(TOKEN_ENCRYPTION_KEYS, start=1):
    try:
        Fernet(_key)
    except ValueError:
        raise ImproperlyConfigured(
            f"TOKEN_ENCRYPTION_KEYS: key {_position} is not a Fernet key "
            "(32 url-safe base64-encoded bytes)."
        ) from None

# --- Talkdesk -----------------------------------------------------------------------------

TALKDESK_ACCOUNT = env.str("TALKDESK_ACCOUNT", default="")
TALKDESK_REGION = env.str("TALKDESK_REGION", default="us").lower()
TALKDESK_CLIENT_ID = env.str("TALKDESK_CLIENT_ID", default="")
TALKDESK_CLIENT_SECRET = env.str("TALKDESK_CLIENT_SECRET", default="")
TALKDESK_SCOPES: list[str] = env.str(
    "TALKDESK_SCOPES",
    default="openid refresh_token cases-public:read case-fields-public:read users:read",
).split()
TALKDESK_ARRAY_ENCODING = env.str("TALKDESK_ARRAY_ENCODING", default="json").lower()
TALKDESK_REDIRECT_URI = env.str(
    "TALKDESK_REDIRECT_URI", default="http://127.0.0.1:8000/talkdesk/callback/"
)
TALKDESK_AUTH_URL = env.str("TALKDESK_AUTH_URL", default="")
TALKDESK_API_URL = env.str("TALKDESK_API_URL", default="")

if TALKDESK_ARRAY_ENCODING not in {"json", "csv", "repeat"}:
    raise ImproperlyConfigured(
        f"TALKDESK_ARRAY_ENCODING must be json, csv or repeat, not {TALKDESK_ARRAY_ENCODING!r}."
    )
if bool(TALKDESK_CLIENT_ID) != bool(TALKDESK_CLIENT_SECRET):
    missing = "TALKDESK_CLIENT_SECRET" if TALKDESK_CLIENT_ID else "TALKDESK_CLIENT_ID"
    raise ImproperlyConfigured(f"Set {missing}: the Talkdesk OAuth client is half configured.")
try:
    if TALKDESK_ACCOUNT and not (TALKDESK_AUTH_URL and TALKDESK_API_URL):
        _derived_auth, _derived_api = derive_urls(TALKDESK_ACCOUNT, TALKDESK_REGION)
        TALKDESK_AUTH_URL = TALKDESK_AUTH_URL or _derived_auth
        TALKDESK_API_URL = TALKDESK_API_URL or _derived_api
    if TALKDESK_CLIENT_ID and not (TALKDESK_AUTH_URL and TALKDESK_API_URL):
        raise ImproperlyConfigured(
            "Set TALKDESK_ACCOUNT (and TALKDESK_REGION), or both TALKDESK_AUTH_URL and "
            "TALKDESK_API_URL: the Talkdesk OAuth client has no host to talk to."
        )
    if TALKDESK_AUTH_URL:
        TALKDESK_AUTH_URL = check_base_url(TALKDESK_AUTH_URL, name="TALKDESK_AUTH_URL")
    if TALKDESK_API_URL:
        TALKDESK_API_URL = check_base_url(TALKDESK_API_URL, name="TALKDESK_API_URL")
    if TALKDESK_CLIENT_ID and not (
        TALKDESK_REDIRECT_URI.startswith("https://") or is_loopback_url(TALKDESK_REDIRECT_URI)
    ):
        raise ImproperlyConfigured(
            "TALKDESK_REDIRECT_URI must be an https:// URL (http:// only on loopback), "
            "registered in Talkdesk exactly as written."
        )
except ValueError as exc:
    raise ImproperlyConfigured(str(exc)) from exc

# Seconds an identical case query is served from the per-user cache.
CASES_CACHE_SECONDS = env.int("CASES_CACHE_SECONDS", default=30)

# --- Logging: stdout, one line per event, and never the token-printing DEBUG loggers --------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "line": {
            "()": "dashboard.logs.OneLineFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "line",
        },
    },
    "root": {"handlers": ["stdout"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # At DEBUG these print access and refresh tokens (requests-oauthlib issue #536).
        "requests_oauthlib": {"level": "WARNING"},
        "oauthlib": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
    },
}
