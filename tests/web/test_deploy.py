import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "hikmax_site.settings_production",
    "SECRET_KEY": "k7Pz-Qw9!vLr2#pT8&wYb5@Hn3$Xc6^Md1*Fs4(Jg0)Ue8_Ra2+Ly7=Tb",
    "ALLOWED_HOSTS": "hikmax.example.org",
    "DATABASE_URL": "postgres://hikmax@db.invalid:5432/hikmax",
    "CELERY_BROKER_URL": "redis://redis.invalid:6379/0",
    "CACHE_URL": "redis://redis.invalid:6379/1",
    "S3_BUCKET": "hikmax-artefacts",
    "S3_ENDPOINT_URL": "http://minio.invalid:9000",
    "PATH": "/usr/bin:/bin",
    "HIKMAX_VAR_DIR": str(ROOT / "var" / "deploy-check"),
}


def _manage(env, *args):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)


def test_production_settings_pass_check_deploy():
    result = _manage(PRODUCTION, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("name", ["DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "SECRET_KEY", "S3_BUCKET"])
def test_production_refuses_to_start_without_its_services(name):
    result = _manage({k: v for k, v in PRODUCTION.items() if k != name}, "check")
    assert result.returncode != 0
    assert f"Production settings need {name}" in result.stderr


def test_production_refuses_the_embedded_broker():
    result = _manage({**PRODUCTION, "CELERY_BROKER_URL": "filesystem://"}, "check")
    assert result.returncode != 0 and "embedded default" in result.stderr


def test_the_embedded_default_runs_with_debug_off_and_still_serves_static_files(client):
    env = {"PATH": "/usr/bin:/bin", "HIKMAX_VAR_DIR": str(ROOT / "var" / "deploy-check"),
           "DJANGO_SETTINGS_MODULE": "hikmax_site.settings"}
    shown = subprocess.run([sys.executable, "-c", "from django.conf import settings; print(settings.DEBUG)"],
                           cwd=ROOT, env=env, capture_output=True, text=True)
    assert shown.stdout.strip() == "False", shown.stderr
    response = client.get("/static/favicon.svg")  # the test client runs with DEBUG off, like the demo
    assert response.status_code == 200 and b"<svg" in b"".join(response.streaming_content)


def test_compose_file_has_the_production_services():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker", "worker-training", "beat"} <= set(services)
    assert "gunicorn" in " ".join(services["web"]["command"])
    training = services["worker-training"]
    assert "training" in " ".join(training["command"])
    devices = training["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]
    for name in ("init", "web", "worker", "worker-training", "beat"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and env["CELERY_BROKER_URL"].startswith("redis://")
        # Artefacts live in MinIO, never on a volume the app containers share.
        assert env["S3_BUCKET"] and env["S3_ENDPOINT_URL"] == "http://minio:9000"
        assert env["S3_SECRET_KEY"] == services["minio"]["environment"]["MINIO_ROOT_PASSWORD"]
        assert name == "beat" or not services[name].get("volumes")
        if name != "init":
            assert services[name]["depends_on"]["init"]["condition"] == "service_completed_successfully"
            assert services[name]["depends_on"]["minio"]["condition"] == "service_healthy"
    assert "ensure_artefact_store" in " ".join(services["init"]["command"])
    assert services["minio"]["image"].startswith("minio/minio:") and "healthcheck" in services["minio"]


def _stages(dockerfile: str) -> dict[str, list[str]]:
    stages, current = {}, None
    for line in dockerfile.splitlines():
        if line.startswith("FROM "):
            current = line.split(" AS ")[-1].strip()
            stages[current] = []
        elif current and line.strip() and not line.startswith("#"):
            stages[current].append(line.strip())
    return stages


def test_the_images_run_as_a_non_root_user_and_training_gets_cuda_tensorflow():
    stages = _stages((ROOT / "Dockerfile").read_text())
    for target in ("cpu", "training"):
        assert stages[target][-1] == "USER hikmax" or "USER hikmax" in stages[target], target
    assert any("requirements-gpu.txt" in line for line in stages["training"])
    assert any("check_gpu_tensorflow.py --build-only" in line for line in stages["training"])
    gpu = (ROOT / "requirements-gpu.txt").read_text()
    pinned = next(line for line in (ROOT / "requirements.txt").read_text().splitlines()
                  if line.startswith("tensorflow=="))
    assert f"tensorflow[and-cuda]=={pinned.split('==')[1]}" in gpu
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert services["worker-training"]["build"]["target"] == "training"
    assert services["web"]["build"]["target"] == "cpu"


def test_the_compose_file_is_valid_against_the_compose_specification():
    result = subprocess.run([str(Path(sys.executable).parent / "check-jsonschema"), "--builtin-schema",
                             "vendor.compose-spec", str(ROOT / "docker-compose.yml")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
