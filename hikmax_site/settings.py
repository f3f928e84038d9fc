"""HikmaX settings, read from the environment.

With nothing set you get the embedded default: an SQLite file and a filesystem
Celery broker under ./var, so the demo needs no services. DATABASE_URL and
CELERY_BROKER_URL switch to PostgreSQL and Redis.
"""

import os
from pathlib import Path

import environ
import plotly

BASE_DIR = Path(__file__).resolve().parent.parent
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

VAR_DIR = Path(env("HIKMAX_VAR_DIR", default=str(BASE_DIR / "var")))

SECRET_KEY = env("SECRET_KEY", default="hikmax-embedded-default-not-for-production")
DEBUG = env.bool("DEBUG", default=False)  # DEBUG=true for development: it shows tracebacks
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "accounts",
    "recsys",
    "recourse",
    "diagnostics",
    "dashboard",
    "forecast",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "hikmax_site.urls"

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
                "recourse.context_processors.drift_alert",
                "recsys.context_processors.dataset_words",
            ],
        },
    },
]

WSGI_APPLICATION = "hikmax_site.wsgi.application"

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'hikmax.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file-based test database lets a real worker process see the test data.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-hikmax.sqlite3")}
    DATABASES["default"]["OPTIONS"] = {"timeout": 30, "transaction_mode": "IMMEDIATE"}
else:
    # Persistent connections: opening one per request cost PostgreSQL a new backend process each time.
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=300))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # a connection the server dropped is replaced, not used
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Per-process memory by default; production shares one Redis cache between processes (CACHE_URL).
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}
_SHARED_CACHE = not CACHES["default"]["BACKEND"].endswith(("LocMemCache", "DummyCache"))
if _SHARED_CACHE:
    # Sessions read from the shared cache (written through to the database): one query less per request.
    # Not with a per-process cache: a sign-out in one process would leave the session alive in the others.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "recsys:home"
LOGOUT_REDIRECT_URL = "landing"

AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = 1  # hours; templates/accounts/locked.html says "an hour"
AXES_LOCKOUT_TEMPLATE = "accounts/locked.html"
# Counted per username (guessing one account's password from many addresses) and per address (one
# password tried on many usernames); the address is the client's, behind HIKMAX_TRUSTED_PROXIES proxies.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "accounts.client_ip.client_ip"
AXES_RESET_ON_SUCCESS = True

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/plotly", Path(plotly.__file__).parent / "package_data"),
]
# Every artefact (trained models, diagnostics inputs, uploaded dataset files, forecasters) goes through the
# default storage: the local filesystem (MEDIA_ROOT) on the embedded default; with S3_BUCKET set, an
# S3-compatible store (MinIO in docker-compose.yml) that workers on several machines share.
S3_BUCKET = env("S3_BUCKET", default="")
if S3_BUCKET:
    DEFAULT_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": env("S3_ENDPOINT_URL", default="") or None,  # e.g. http://minio:9000
            "access_key": env("S3_ACCESS_KEY", default="") or None,  # else boto3's own lookup (env, role)
            "secret_key": env("S3_SECRET_KEY", default="") or None,
            "region_name": env("S3_REGION", default="us-east-1"),
            "location": env("S3_PREFIX", default=""),
            "addressing_style": env("S3_ADDRESSING_STYLE", default="path"),  # MinIO serves path-style
            "signature_version": "s3v4",
            "default_acl": None,
            "file_overwrite": False,
            "querystring_auth": True,
        },
    }
else:
    DEFAULT_STORAGE = {"BACKEND": "hikmax_site.storage.AtomicFileSystemStorage"}
STORAGES = {
    "default": DEFAULT_STORAGE,
    "staticfiles": {"BACKEND": "hikmax_site.storage.HashedStaticFiles"},
}
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "media/"
# This machine's unpacked copies of stored artefacts (Keras loads weights from local files), by content hash.
ARTEFACT_CACHE_DIR = Path(env("ARTEFACT_CACHE_DIR", default=str(VAR_DIR / "artefact-cache")))
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.BasicAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "hikmax_site.api.StrictPageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "hikmax_site.api.exception_handler",
    "DEFAULT_PARSER_CLASSES": ["hikmax_site.api.JSONParser", "rest_framework.parsers.FormParser",
                               "rest_framework.parsers.MultiPartParser"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "HikmaX API",
    "DESCRIPTION": "Recommendations, explanations, drift checks and recourse for the signed-in member.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",  # served from static files: no CDN needed
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "hikmax_site.api.document_error_responses"],
}

# Celery: the embedded default is a filesystem broker, so a real worker process
# runs beside the web server with no broker service.
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem"):
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
        "control_folder": str(BROKER_DIR / "control"),
    }
else:
    # A task whose worker died is handed to another worker after this long; it must exceed the longest task.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.float("HIKMAX_VISIBILITY_TIMEOUT", default=3600.0)}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "retrain-active-models": {
        "task": "recsys.tasks.retrain_stale_models",
        "schedule": env.float("HIKMAX_RETRAIN_EVERY_SECONDS", default=24 * 3600.0),
    },
    "reap-stale-jobs": {
        "task": "recsys.tasks.reap_stale_jobs",
        "schedule": env.float("HIKMAX_REAP_EVERY_SECONDS", default=60.0),
    },
    "drift-alert-sweep": {
        "task": "recourse.tasks.sweep_drift_alerts",
        "schedule": env.float("HIKMAX_DRIFT_ALERT_SWEEP_SECONDS", default=60.0),
    },
}

HIKMAX = {
    "DEMO_DATASET": env("HIKMAX_DEMO_DATASET", default="demo"),
    # A running job stamps a heartbeat this often; one silent for JOB_STALE_SECONDS lost its worker.
    "JOB_HEARTBEAT_SECONDS": env.float("HIKMAX_JOB_HEARTBEAT_SECONDS", default=10.0),
    "JOB_STALE_SECONDS": env.float("HIKMAX_JOB_STALE_SECONDS", default=120.0),
    # Reverse proxies in front of the site that append to X-Forwarded-For (0: none, the header is ignored).
    "TRUSTED_PROXIES": env.int("HIKMAX_TRUSTED_PROXIES", default=0),
    "SIGNUPS_PER_HOUR": env.int("HIKMAX_SIGNUPS_PER_HOUR", default=5),
    # Rendered fragments of For you and Why? cached per member, model version, history and catalogue
    # (recsys.page_cache); only with a cache every process shares, else one process could keep a stale one.
    "FRAGMENT_CACHE": env.bool("HIKMAX_FRAGMENT_CACHE", default=_SHARED_CACHE),
    # Unpacked artefacts kept in ARTEFACT_CACHE_DIR (least recently used ones beyond this are removed).
    "ARTEFACT_CACHE_ENTRIES": env.int("HIKMAX_ARTEFACT_CACHE_ENTRIES", default=8),
    # Proactive drift alerts: at most one background check per member per DRIFT_ALERT_MINUTES; a check starts
    # DRIFT_ALERT_SETTLE_SECONDS after the first new interaction, so a burst of arrivals is checked once.
    "DRIFT_ALERT_MINUTES": env.float("HIKMAX_DRIFT_ALERT_MINUTES", default=10.0),
    "DRIFT_ALERT_SETTLE_SECONDS": env.float("HIKMAX_DRIFT_ALERT_SETTLE_SECONDS", default=30.0),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"client_errors_without_traceback": {"()": "hikmax_site.log_filters.ClientErrorsWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"axes": {"level": "WARNING"},
                "django.request": {"filters": ["client_errors_without_traceback"]}},
}

for path in (VAR_DIR, MEDIA_ROOT, ARTEFACT_CACHE_DIR, STATIC_ROOT):
    path.mkdir(parents=True, exist_ok=True)
