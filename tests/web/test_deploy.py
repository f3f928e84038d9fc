import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_production_settings_pass_check_deploy():
    env = {
        "DJANGO_SETTINGS_MODULE": "hikmax_site.settings_production",
        "SECRET_KEY": "k7Pz-Qw9!vLr2#pT8&wYb5@Hn3$Xc6^Md1*Fs4(Jg0)Ue8_Ra2+Ly7=Tb",
        "ALLOWED_HOSTS": "hikmax.example.org",
        "PATH": "/usr/bin:/bin",
        "HIKMAX_VAR_DIR": str(ROOT / "var" / "deploy-check"),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_compose_file_has_the_production_services():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker", "worker-training", "beat"} <= set(services)
    assert "gunicorn" in " ".join(services["web"]["command"])
    training = services["worker-training"]
    assert "training" in " ".join(training["command"])
    devices = training["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]
    for name in ("web", "worker", "worker-training", "beat"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and env["CELERY_BROKER_URL"].startswith("redis://")
