"""Django settings for ropsms.

Everything comes from environment variables with safe defaults, so `make run` works on a new
machine with no configuration (SQLite in ./var, the bundled SMSC simulator). See .env.example.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("ROPSMS_VAR_DIR", Path.cwd() / "var"))


def env_bool(name: str, default: bool) -> bool:
    """Read a yes/no environment variable; anything but 1/true/yes/on is false."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _networks(name: str) -> list[str]:
    """Comma-separated CIDRs; a typo stops the start with a clear message rather than allowing less."""
    import ipaddress

    out = []
    for item in filter(None, (i.strip() for i in os.environ.get(name, "").split(","))):
        try:
            out.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError as exc:
            raise ImproperlyConfigured(f"{name}: {item!r} is not an address or network ({exc})") from None
    return out


def _choice(name: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name, "").strip().lower() or choices[0]
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def _load_dotenv(path: Path) -> None:
    """Load KEY=VALUE lines from .env without overriding the real environment."""
    if not path.is_file():
        return
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        os.environ.setdefault(key.strip(), value.strip().strip('"').strip("'"))


_load_dotenv(Path.cwd() / ".env")

DEBUG = env_bool("ROPSMS_DEBUG", False)
# A development key is generated per checkout so nothing secret is committed; production sets its own.
SECRET_KEY = os.environ.get("ROPSMS_SECRET_KEY", "")
if not SECRET_KEY:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    _key_file = VAR_DIR / "secret_key"
    if not _key_file.exists():
        import secrets

        _key_file.write_text(secrets.token_urlsafe(50))
        _key_file.chmod(0o600)
    SECRET_KEY = _key_file.read_text().strip()

ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ROPSMS_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("ROPSMS_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "ropsms.ops",
    "ropsms.directory",
    "ropsms.messaging",
    "ropsms.smpp",
    "ropsms.eservices",
    "ropsms.staff",
    "ropsms.portal",
    "ropsms.api",
    "ninja",  # serves Swagger UI's own static files at /api/docs (no CDN)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "ropsms.portal.security.ContentSecurityPolicyMiddleware",
    # Last, as django-axes requires: lockout after repeated failed logins.
    "axes.middleware.AxesMiddleware",
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:dashboard"
# django-axes: lock a username, or an address, after repeated failures (until cool-off or an admin unlocks).
AXES_FAILURE_LIMIT = env_int("ROPSMS_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_int("ROPSMS_LOGIN_LOCKOUT_HOURS", 1)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "portal/locked_out.html"
OTP_TOTP_ISSUER = "ROP SMS"

ROOT_URLCONF = "ropsms.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "ropsms.portal.context.portal",
            ],
        },
    },
]
ASGI_APPLICATION = "ropsms.asgi.application"
WSGI_APPLICATION = "ropsms.wsgi.application"


def _database() -> dict:
    """SQLite in WAL mode by default; DATABASE_URL (postgres://...) switches to PostgreSQL."""
    url = os.environ.get("DATABASE_URL", "")
    if url:
        db = dj_database_url.parse(url, conn_max_age=env_int("ROPSMS_DB_CONN_MAX_AGE", 60))
        test_name = os.environ.get("ROPSMS_TEST_DB_NAME")
        if test_name:
            db["TEST"] = {"NAME": test_name}
        return db
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    return {
        "ENGINE": "ropsms.ops.sqlite",  # Django's, with writers queued fairly (ops/sqlite)
        "NAME": os.environ.get("ROPSMS_SQLITE_PATH", str(VAR_DIR / "ropsms.sqlite3")),
        # Keep the connection between requests: opening one runs the PRAGMAs below and costs a few
        # ms of CPU, more than a whole API request otherwise (sync views share one thread under ASGI).
        "CONN_MAX_AGE": env_int("ROPSMS_DB_CONN_MAX_AGE", 60),
        "OPTIONS": {
            # IMMEDIATE avoids "database is locked" when a reader upgrades to a writer.
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                "PRAGMA busy_timeout=30000; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-65536; "
                "PRAGMA journal_size_limit=67108864;"  # the WAL file is cut back to 64 MiB when it restarts
            ),
        },
        "TEST": {"NAME": os.environ.get("ROPSMS_SQLITE_TEST_PATH") or None},
    }


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ar", "العربية")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("ROPSMS_TIME_ZONE", "Asia/Muscat")
USE_I18N = True
USE_TZ = True

# Integration API batches of 10,000 messages can be a few MB of JSON; the API enforces its own
# per-endpoint limits (413) below this.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("ROPSMS_MAX_BODY_BYTES", 10 * 1024 * 1024)

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on a missing root
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

SESSION_COOKIE_AGE = env_int("ROPSMS_SESSION_SECONDS", 8 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("ROPSMS_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("ROPSMS_LOG_LEVEL", "INFO")},
    # httpx logs every request URL at INFO; data-source URLs carry identifiers (plates, civil IDs).
    "loggers": {"django.db.backends": {"level": "WARNING"}, "httpx": {"level": "WARNING"}},
}

# --- ropsms: local facts (ARCHITECTURE.md "Local facts"), all configurable -----------------------
ROPSMS = {
    "COUNTRY_CODE": os.environ.get("ROPSMS_COUNTRY_CODE", "968"),
    "REGION": os.environ.get("ROPSMS_REGION", "OM"),
    "SHORT_CODE": os.environ.get("ROPSMS_SHORT_CODE", "90085"),
    "MAX_PARTS": env_int("ROPSMS_MAX_PARTS", 10),
    "DEFAULT_VALIDITY_HOURS": env_int("ROPSMS_DEFAULT_VALIDITY_HOURS", 48),
    "SEND_MANY_CHUNK": env_int("ROPSMS_SEND_MANY_CHUNK", 2000),
    # The SMSC simulator and the web server of the embedded default.
    "SIM_HOST": os.environ.get("ROPSMS_SIM_HOST", "127.0.0.1"),
    "SIM_PORT": env_int("ROPSMS_SIM_PORT", 2775),
    "SIM_WEB_PORT": env_int("ROPSMS_SIM_WEB_PORT", 8025),
    "WEB_PORT": env_int("ROPSMS_WEB_PORT", 8000),
    # Delivery callbacks (api/destinations.py): networks allowed whatever their kind (loopback and
    # link-local are refused otherwise), and whether private (intranet) addresses are allowed.
    "CALLBACK_ALLOW_NETWORKS": _networks("ROPSMS_CALLBACK_ALLOW_NETWORKS"),
    "CALLBACK_PRIVATE": _choice("ROPSMS_CALLBACK_PRIVATE", ("allow", "deny")),
    # GET /metrics (ops/views.py): a bearer token for the scraper, or its networks (default this host).
    "METRICS_TOKEN": os.environ.get("ROPSMS_METRICS_TOKEN", ""),
    "METRICS_ALLOW_NETWORKS": _networks("ROPSMS_METRICS_ALLOW_NETWORKS") or ["127.0.0.1/32", "::1/128"],
}
