"""moto's S3 server (standing in for MinIO) for the artefact-storage tests, and the STORAGES that point at it."""

import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory):
    """moto's S3 server in its own process on loopback. MOTO_PYTHON may name another interpreter with moto."""
    python = os.environ.get("MOTO_PYTHON", sys.executable)
    found = subprocess.run([python, "-c", "import moto.server, flask"], capture_output=True, text=True)
    if found.returncode:
        pytest.fail(f"moto[s3] and Flask are needed for the S3 tests (requirements-dev.txt):\n{found.stderr}")
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log, "w") as out:
        server = subprocess.Popen([python, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                  stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            break
        except OSError:
            if server.poll() is not None or time.time() > deadline:
                server.kill()
                pytest.fail(f"moto's S3 server did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.2)
    yield url
    server.terminate()
    server.wait(timeout=20)


S3_ENV = {"S3_ACCESS_KEY": "hikmax-test", "S3_SECRET_KEY": "hikmax-test-secret", "S3_REGION": "us-east-1"}


def s3_settings(endpoint: str, bucket: str) -> dict:
    """What hikmax_site.settings builds from the S3_* environment (checked by the second machine below)."""
    return {
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {
            "bucket_name": bucket, "endpoint_url": endpoint, "access_key": S3_ENV["S3_ACCESS_KEY"],
            "secret_key": S3_ENV["S3_SECRET_KEY"], "region_name": S3_ENV["S3_REGION"],
            "addressing_style": "path", "signature_version": "s3v4", "default_acl": None, "file_overwrite": False}},
        "staticfiles": {"BACKEND": "hikmax_site.storage.HashedStaticFiles"},
    }


