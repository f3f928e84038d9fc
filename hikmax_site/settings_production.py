"""Production settings: the environment must provide the services; nothing falls back to the embedded default.

Required: SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL (PostgreSQL), CELERY_BROKER_URL (Redis), CACHE_URL
(a cache shared by all processes, e.g. Redis) and S3_BUCKET (with S3_ENDPOINT_URL, S3_ACCESS_KEY and
S3_SECRET_KEY for MinIO: the artefact store every machine reads). Without them the process refuses to start.
"""

import os

from django.core.exceptions import ImproperlyConfigured

from .settings import *  # noqa: F403
from .settings import env

REQUIRED = ("SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "S3_BUCKET")
_missing = [name for name in REQUIRED if not os.environ.get(name, "").strip()]
if _missing:
    raise ImproperlyConfigured(
        f"Production settings need {', '.join(_missing)} in the environment; refusing to start on the embedded "
        "default (SQLite, filesystem broker, per-process cache, local artefact files).")
for _name, _embedded in (("DATABASE_URL", "sqlite"), ("CELERY_BROKER_URL", "filesystem"),
                         ("CACHE_URL", "locmem")):
    if os.environ[_name].startswith(_embedded):
        raise ImproperlyConfigured(f"{_name}={os.environ[_name]!r} is the embedded default; production needs a "
                                   "shared service.")

DEBUG = False
SECRET_KEY = env("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")

STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = False

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
