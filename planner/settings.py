"""Settings for Taper Planner: one module, configured from the environment.

With nothing set (apart from DEBUG=1) the site runs on SQLite, a server-less Celery
broker on a SQLite file and e-mail printed to the console, so `make run` needs no
server. Production sets DATABASE_URL (PostgreSQL), CELERY_BROKER_URL (Redis) and
the SMTP variables. The README has the full table.
"""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

from planner.env import env_bool, env_int, env_list, env_str
from planner.proxy import client_address_settings

# Lets ModelAdmin[Model] and friends be written with their type parameters.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))
# Home of the default SQLite database, broker file, mail folder and beat schedule.
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", default=False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if env_bool("TAPER_OFFLINE_COMMAND", default=False):
        # `manage.py taper_plan` signs nothing: a throw-away key of this process only.
        SECRET_KEY = secrets.token_urlsafe(50)
    elif not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is required when DEBUG is off (set DEBUG=1 for development)."
        )
    else:
        # Only ever used with DEBUG on; never sign anything real with it.
        SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
# Production must say where the site is (planner.checks): e-mails and feed links use it.
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000" if DEBUG else "").rstrip("/")
# The base of the FHIR export's identifier systems and resource ids (api/fhir.py): a URI
# the clinic chooses once and keeps, so ids survive a move of SITE_URL. Required in
# production (planner.checks); development uses a reserved, never-real name.
FHIR_IDENTIFIER_SYSTEM = env_str(
    "FHIR_IDENTIFIER_SYSTEM", "https://taper-planner.invalid/fhir" if DEBUG else ""
).rstrip("/")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", SITE_URL)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "simple_history",
    "axes",
    "planner.apps.PlannerConfig",
    "reminders.apps.RemindersConfig",
    "portal.apps.PortalConfig",
    "clinic.apps.ClinicConfig",
    "api.apps.ApiConfig",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Patient pages and e-mails speak the patient's language (English or Spanish).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Records who made each change in the history tables.
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "planner.middleware.IdleSessionTimeoutMiddleware",
    # Last, as django-axes asks: it turns a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "planner.urls"
WSGI_APPLICATION = "planner.wsgi.application"

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
                "clinic.context_processors.dispatch_banner",
                "clinic.context_processors.staff_abilities",
            ],
        },
    },
]

# SQLite by default so that `make run` and `manage.py runserver` just work.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'taper.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server, the worker and beat share the file: wait for locks instead
    # of failing, take write locks up front, and let readers run beside a writer.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Doses are stored as local date + time + IANA zone and converted with zoneinfo;
# the server itself works in UTC. planner.checks refuses any other value.
TIME_ZONE = "UTC"
USE_TZ = True
USE_I18N = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = DEBUG
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Production serves hashed, compressed files after `collectstatic`; development
    # and tests serve the source files as they are.
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Celery -----------------------------------------------------------------
# Server-less default: kombu's SQLAlchemy transport on a SQLite file. Production
# sets CELERY_BROKER_URL=redis://... The database, not the broker, is the record of
# what must be delivered (docs/reliability.md), so task results are not kept.
CELERY_BROKER_URL = env_str(
    "CELERY_BROKER_URL", f"sqla+sqlite:///{VAR_DIR / 'celery-broker.sqlite3'}"
)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # Unacknowledged messages come back after this many seconds (acks are late).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)
    }
# The one place periodic work is declared.
CELERY_BEAT_SCHEDULE = {
    "worker-heartbeat": {
        "task": "reminders.tasks.record_worker_heartbeat",
        "schedule": 60.0,
    },
    # Claims due reminders, marks missed doses and raises abrupt-stop alerts. Two beats
    # may run (docs/deployment.md): the tick is safe to run twice at once.
    "dispatch-reminders": {
        "task": "reminders.tasks.dispatch_reminders",
        "schedule": float(env_int("DISPATCH_INTERVAL_SECONDS", 60)),
    },
    # Plans past their last dosing day become completed; replaced plans past their last
    # day become superseded (planner.services.plans_complete; safe to run twice at once).
    "complete-plans": {
        "task": "planner.tasks.complete_plans",
        "schedule": 60.0,
    },
    # Abrupt-stop alerts left open past their clinic's threshold go to its reviewers
    # (reminders.alerts.alerts_escalate; safe to run twice at once).
    "escalate-open-alerts": {
        "task": "planner.tasks.escalate_open_alerts",
        "schedule": 300.0,
    },
    # Arms each running oral plan's "collect more" reminder for its run-out date
    # (reminders.supply.supply_reminders_arm; one row per date, safe to run twice).
    "supply-reminders": {
        "task": "reminders.tasks.arm_supply_reminders",
        "schedule": 3600.0,
    },
}

# --- Supply (issue #17, reminders.supply) -----------------------------------
# Clinic defaults (no label or guideline fixes them): the "collect more" reminder goes
# this many days before the supply runs out, and Today shows a line from this many days
# before. Source: clinic default (issue #17: "a reminder to collect more 5 days before").
SUPPLY_REMINDER_DAYS_BEFORE = env_int("SUPPLY_REMINDER_DAYS_BEFORE", 5)
SUPPLY_TODAY_LINE_DAYS_BEFORE = env_int("SUPPLY_TODAY_LINE_DAYS_BEFORE", 7)

# --- Reminders --------------------------------------------------------------
REMINDER_CHANNELS = env_list(
    "REMINDER_CHANNELS",
    "reminders.channels.EmailChannel,reminders.channels.InAppChannel,"
    "reminders.channels.PushChannel,reminders.channels.SmsChannel",
)

# --- Web Push (reminders.push) ----------------------------------------------
# The VAPID key pair the push services know this site by: the public key (base64url,
# the uncompressed P-256 point the browser subscribes with) and the private key
# (base64url, raw or DER). With neither set, development (`make run`) reads the pair
# `manage.py push_dev_keys` wrote to var/; production without them offers no push.
VAPID_PUBLIC_KEY = env_str("VAPID_PUBLIC_KEY")
VAPID_PRIVATE_KEY = env_str("VAPID_PRIVATE_KEY")
# Who runs the site, for the push services (a mailto: or https: URL).
VAPID_SUBJECT = env_str("VAPID_SUBJECT", "mailto:admin@example.org")
# Endpoint prefixes accepted besides https:// (a local stand-in push service in tests).
PUSH_TEST_ENDPOINTS: list[str] = []
VAPID_DEV_KEYS_FILE = VAR_DIR / "vapid-dev.json"
if DEBUG and not (VAPID_PUBLIC_KEY or VAPID_PRIVATE_KEY) and VAPID_DEV_KEYS_FILE.exists():
    import json

    _dev_keys = json.loads(VAPID_DEV_KEYS_FILE.read_text())
    VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY = _dev_keys["public"], _dev_keys["private"]

# --- SMS (reminders.sms) ------------------------------------------------------
# Off unless a provider is named: "twilio" (the only one so far).
SMS_PROVIDER = env_str("SMS_PROVIDER")
SMS_FROM = env_str("SMS_FROM")  # the sending number or Messaging Service SID
SMS_TWILIO_ACCOUNT_SID = env_str("SMS_TWILIO_ACCOUNT_SID")
SMS_TWILIO_AUTH_TOKEN = env_str("SMS_TWILIO_AUTH_TOKEN")
# Only for a stand-in of the provider's API (tests, a local sink); empty: Twilio's own.
SMS_TWILIO_API_BASE = env_str("SMS_TWILIO_API_BASE")
# A row claimed by a worker that died is claimed again after this many seconds.
REMINDER_CLAIM_TIMEOUT_SECONDS = env_int("REMINDER_CLAIM_TIMEOUT_SECONDS", 300)
# How many due rows one dispatcher tick claims.
REMINDER_BATCH_SIZE = env_int("REMINDER_BATCH_SIZE", 2000)
REMINDER_MAX_ATTEMPTS = env_int("REMINDER_MAX_ATTEMPTS", 6)
# /health/ answers 503 when no worker heartbeat or no completed dispatcher tick is newer.
HEALTH_MAX_AGE_SECONDS = env_int("HEALTH_MAX_AGE_SECONDS", 180)
# The dead man's switch: each completed tick POSTs here (healthchecks.io convention,
# `/fail` appended when a stage failed). Empty: off.
DISPATCH_PING_URL = env_str("DISPATCH_PING_URL", "")

# --- E-mail -----------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", default=False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Taper Planner <noreply@example.org>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Security ---------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # Behind a TLS-terminating proxy that sets X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Login throttling (django-axes): 5 failures for one username from one address lock
# that pair for 15 minutes. Never the username alone, so a stranger elsewhere cannot lock
# a patient out, and never for good: the lock ends by itself.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_LOCKOUT_CALLABLE = "planner.middleware.locked_out"
# Cuts over-long user names to its column (a longer one was a 500).
AXES_USERNAME_CALLABLE = "planner.middleware.axes_username"
# The client's address, not the proxy's (planner.proxy): behind the TLS proxy every
# client would otherwise share one address, and five wrong passwords from anyone would
# lock the real user out.
_client_address = client_address_settings(env_int("AXES_PROXY_COUNT", 0))
AXES_IPWARE_META_PRECEDENCE_ORDER = _client_address.AXES_IPWARE_META_PRECEDENCE_ORDER
AXES_IPWARE_PROXY_ORDER = _client_address.AXES_IPWARE_PROXY_ORDER
AXES_IPWARE_PROXY_COUNT = _client_address.AXES_IPWARE_PROXY_COUNT
# The pause never slides: attempts during it are refused without being counted, so the
# right password logs in once the cool-off after the fifth failure is over, however
# many attempts came in between.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_VERBOSE = False  # its log lines would carry usernames
AXES_ENABLE_ACCESS_FAILURE_LOG = True  # every failed sign-in kept for the security review

# Sessions: clinicians and reviewers are logged out after 30 idle minutes (shared
# clinic computers); patients, on their own phones, 14 days after they log in.
STAFF_IDLE_TIMEOUT_SECONDS = env_int("STAFF_IDLE_TIMEOUT_SECONDS", 30 * 60)
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 14 * 24 * 3600)

# Content-Security-Policy (django-csp 4): scripts, styles and images from this site only;
# no inline script or style anywhere; no framing; forms post only here.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}

# --- Logging ----------------------------------------------------------------
# Log lines name rows by id only: never a patient's name, a drug, a dose or a token.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"redact_secrets": {"()": "planner.logfilters.RedactSecrets"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_secrets"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # Request paths can hold feed tokens; the handler's filter redacts them.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # Only through the redacting handler: Django's own console handler (on with DEBUG)
        # would print "Not Found: /calendar/<token>.ics" as it is.
        "django": {
            "handlers": ["console"],
            "level": env_str("LOG_LEVEL", "INFO"),
            "propagate": False,
        },
        # Twilio's client logs each request's fields (the number, the text) at INFO, and
        # urllib3 each push endpoint (a capability) at DEBUG: neither may reach the logs.
        "twilio": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
    },
}

# The admin's "revert to this version" would change a plan's status without the review
# rule; history stays readable, reverting is switched off.
SIMPLE_HISTORY_REVERT_DISABLED = True

# --- API (api/, docs/api.md) ----------------------------------------------------
# Systems authenticate with a token (`manage.py api_token`), the site's pages with
# their session. Only a clinic's staff get in (api.permissions); JSON only, bodies
# bounded (api.parsers); every 400 names its fields (api.errors).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.HashedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.IsClinicStaff"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.BoundedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "api.schema.ApiAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "api.pagination.Pages",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "NON_FIELD_ERRORS_KEY": "__all__",
    "COERCE_DECIMAL_TO_STRING": False,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
# The plan preview runs the engine on every call: per user, at most this many (api.throttles).
PLAN_PREVIEW_RATE: str | None = env_str("API_PREVIEW_RATE", "60/minute") or None
# API tokens (django-rest-knox): only a SHA-512 digest is stored; each expires.
REST_KNOX = {
    "TOKEN_TTL": dt.timedelta(days=env_int("API_TOKEN_TTL_DAYS", 90)),
    "AUTO_REFRESH": False,
    "AUTH_HEADER_PREFIX": "Token",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Taper Planner API",
    "DESCRIPTION": "Patients, taper plans, dose logs and alerts of the caller's clinic; "
    "plan previews; FHIR R4 export. See docs/api.md.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI and Redoc from the sidecar package, served by the site: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "PlanStatusEnum": "planner.models.PlanStatus",
        "DoseStatusEnum": "reminders.models.DoseStatus",
        "SexEnum": "planner.models.Sex",
        "CnsDepressantEnum": "planner.models.CnsDepressant",
    },
}
