import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Hashing a password the production way costs seconds on a loaded 2-core machine; tests need no strength."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def make_user(django_user_model):
    def make(username="member", password="a-long-test-password", **extra):
        return django_user_model.objects.create_user(username=username, password=password, **extra)

    return make


@pytest.fixture
def member_client(client, make_user):
    user = make_user("alice")
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def analyst_client(client, make_user):
    user = make_user("ana", is_staff=True)
    client.force_login(user)
    client.user = user
    return client


def _database_url() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def start_worker(queues: str, log_name: str, **extra_env: str) -> subprocess.Popen:
    """A real Celery worker (solo pool) in its own process, on the test database and the configured broker."""
    env = {**os.environ, "DATABASE_URL": _database_url(), "PYTHONUNBUFFERED": "1", **extra_env}
    log_path = Path(settings.VAR_DIR) / log_name
    with open(log_path, "w") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "hikmax_site", "worker", "-Q", queues, "-P", "solo",
             "-n", f"{log_name}@%h", "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "INFO"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.time() + 90
    while "ready" not in log_path.read_text():
        if worker.poll() is not None or time.time() > deadline:
            worker.kill()
            pytest.fail(f"The Celery worker did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.3)
    return worker


def stop_worker(worker: subprocess.Popen) -> None:
    worker.terminate()
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker):
    """A real Celery worker in its own process, on the test database and the configured broker."""
    from hikmax_site.celery import app

    app.control.purge()
    worker = start_worker("default,training,xai", "test-worker.log")
    yield worker
    stop_worker(worker)


TRAINING_FIXTURES = {"trained", "calibrated", "member", "member_with_model", "planted", "shared", "forecaster",
                     "alert_world"}


def pytest_collection_modifyitems(items):
    """Mark the tests that train a model, so the quick SQLite leg can leave them to the PostgreSQL leg."""
    for item in items:
        if TRAINING_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.trains)


@pytest.fixture(autouse=True, scope="session")
def plain_static_file_names():
    """Tests read static files from the source folders: a manifest left in STATIC_ROOT by an earlier
    collectstatic (bin/demo) would otherwise point the pages at stale copies."""
    from django.test.utils import override_settings

    storages = {**settings.STORAGES,
                "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    with override_settings(STORAGES=storages):
        yield
