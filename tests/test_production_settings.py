"""Demo and production apart: production settings refuse to start without their secrets and refuse demo data.

Each case runs ``manage.py`` in a subprocess with a clean environment, as a deployment would start it.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from catalog.models import ProductOffering

REPO = Path(__file__).resolve().parents[1]
PRODUCTION_ENV = {
    "SECRET_KEY": "vN3q-0c8Zk1rTq7yLb2mWfXe9sHd4uJp6aGi5oRt8yUe1wQz-Xc7Vb3Nm",
    "ALLOWED_HOSTS": "com.example.net",
    "DATABASE_URL": "postgres://com@db.example.net:5432/com",
    "CELERY_BROKER_URL": "redis://redis.example.net:6379/0",
    "COM_SOM_URL": "https://som.example.net/tmf-api/serviceOrdering/v4",
    "SOM_EVENT_SECRET": "4f1c0b6e2d9a47c3b8e5",
    "COM_PUBLIC_URL": "https://com.example.net",
}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DJANGO_SETTINGS_MODULE": "comapp.production", **env}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=clean, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("name", sorted(PRODUCTION_ENV))
def test_production_refuses_to_start_without_each_setting(name):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != name}

    result = manage("check", env=env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"{name} must be set in the environment to run with comapp.production" in result.stderr


def test_production_refuses_a_blank_secret():
    result = manage("check", env={**PRODUCTION_ENV, "SOM_EVENT_SECRET": "  "})

    assert result.returncode != 0 and "SOM_EVENT_SECRET must be set in the environment" in result.stderr


@pytest.mark.parametrize("name, demo_value", [
    ("SECRET_KEY", "insecure-dev-key-change-me-in-production-0123456789abcdef"),
    ("SOM_EVENT_SECRET", "somsim-demo-secret"),
])
def test_production_refuses_the_demo_secrets(name, demo_value):
    result = manage("check", env={**PRODUCTION_ENV, name: demo_value})

    assert result.returncode != 0
    assert f"{name} is the demo's value; set a secret of your own for production." in result.stderr


@pytest.mark.parametrize("name, value, message", [
    ("COM_PUBLIC_URL", "http://127.0.0.1:8000", "COM_PUBLIC_URL is a loopback address"),
    ("COM_PUBLIC_URL", "http://localhost:8000/", "COM_PUBLIC_URL is a loopback address"),
    ("COM_PUBLIC_URL", "https://[::1]", "COM_PUBLIC_URL is a loopback address"),
    ("COM_SOM_URL", "http://127.0.0.1:8100/tmf-api/serviceOrdering/v4", "COM_SOM_URL is the demo SOM simulator's"),
    ("COM_SOM_URL", "http://localhost:8100/tmf-api/serviceOrdering/v4", "COM_SOM_URL is the demo SOM simulator's"),
], ids=["public-127", "public-localhost", "public-ipv6", "som-127", "som-localhost"])
def test_production_refuses_the_demo_addresses(name, value, message):
    result = manage("check", env={**PRODUCTION_ENV, name: value})

    assert result.returncode != 0 and "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_production_refuses_the_demo_simulator_among_several_soms():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k not in ("COM_SOM_URL", "SOM_EVENT_SECRET")}
    endpoints = {"fibre": {"url": "https://fibre.example.net/tmf-api/serviceOrdering/v4", "secret": "f1bre-s3cret"},
                 "sim": {"url": "http://127.0.0.1:8100/tmf-api/serviceOrdering/v4", "secret": "an0ther-s3cret"}}

    result = manage("check", env={**env, "COM_SOM_ENDPOINTS": json.dumps(endpoints)})

    assert result.returncode != 0 and "COM_SOM_ENDPOINTS['sim'] is the demo SOM simulator's" in result.stderr


def test_a_som_on_this_host_at_another_port_is_accepted():
    # a SOM adapter next to COM (a sidecar) is a deployment choice, not the demo
    result = manage("check", env={**PRODUCTION_ENV, "COM_SOM_URL": "http://127.0.0.1:9443/tmf-api/serviceOrdering/v4"})

    assert result.returncode == 0, result.stderr


CLIENT_ADDRESS = """
from axes.helpers import get_client_ip_address
from django.test import RequestFactory
request = RequestFactory().post("/admin/login/", REMOTE_ADDR="10.0.0.1",
                                HTTP_X_FORWARDED_FOR="198.51.100.66, 203.0.113.7")
print("client", get_client_ip_address(request))
"""


@pytest.mark.parametrize("proxy, seen", [
    ({}, "10.0.0.1"),  # no proxy configured: the address that connected
    ({"AXES_IPWARE_PROXY_COUNT": "1", "AXES_IPWARE_META_PRECEDENCE_ORDER": "HTTP_X_FORWARDED_FOR,REMOTE_ADDR"},
     "203.0.113.7"),  # the one the proxy saw, not what the client wrote before it (198.51.100.66)
    ({"AXES_IPWARE_PROXY_COUNT": "2", "AXES_IPWARE_META_PRECEDENCE_ORDER": "HTTP_X_FORWARDED_FOR,REMOTE_ADDR"},
     "198.51.100.66"),
], ids=["no-proxy", "one-proxy", "two-proxies"])
def test_production_takes_the_login_address_from_the_proxy_when_configured(proxy, seen):
    result = manage("shell", "--no-imports", "-c", CLIENT_ADDRESS, env={**PRODUCTION_ENV, **proxy})

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["client", seen]


def test_production_refuses_a_proxy_count_that_is_not_a_number():
    result = manage("check", env={**PRODUCTION_ENV, "AXES_IPWARE_PROXY_COUNT": "one"})

    assert result.returncode != 0 and "AXES_IPWARE_PROXY_COUNT" in result.stderr


def som_endpoints(**secrets) -> str:
    return json.dumps({key: {"url": f"https://{key}.example.net/tmf-api/serviceOrdering/v4", "secret": secret}
                       for key, secret in secrets.items()})


@pytest.mark.parametrize("secrets, message", [
    ({"fibre": "f1bre-s0m-secret", "mobile": ""}, "COM_SOM_ENDPOINTS['mobile'] needs the secret its events are signed"),
    ({"fibre": "somsim-demo-secret"}, "COM_SOM_ENDPOINTS['fibre'] has the demo's secret"),
], ids=["a-som-without-secret", "the-demo-secret"])
def test_production_refuses_a_som_without_a_secret_of_its_own(secrets, message):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k not in ("COM_SOM_URL", "SOM_EVENT_SECRET")}

    result = manage("check", env={**env, "COM_SOM_ENDPOINTS": som_endpoints(**secrets)})

    assert result.returncode != 0 and message in result.stderr


def test_several_soms_each_with_its_secret_need_no_single_som_settings():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k not in ("COM_SOM_URL", "SOM_EVENT_SECRET")}
    env["COM_SOM_ENDPOINTS"] = som_endpoints(fibre="f1bre-s0m-secret", mobile="m0bile-s0m-secret")

    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)

    assert result.returncode == 0, result.stderr


def test_check_deploy_is_clean_with_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize("command", ["load_demo", "load_demo_catalog"])
def test_demo_data_cannot_be_loaded_with_production_settings(command, tmp_path):
    database = tmp_path / "production.sqlite3"
    result = manage(command, env={**PRODUCTION_ENV, "DATABASE_URL": f"sqlite:///{database}"})

    assert result.returncode != 0
    assert "does not run with production settings (COM_DEMO_DATA_ALLOWED is False)" in result.stderr
    assert not database.exists() or database.stat().st_size == 0  # refused before touching the database


@pytest.mark.django_db
@pytest.mark.parametrize("command", ["load_demo", "load_demo_catalog"])
def test_demo_commands_refuse_where_demo_data_is_not_allowed(settings, command):
    settings.COM_DEMO_DATA_ALLOWED = False

    with pytest.raises(CommandError, match="does not run with production settings"):
        call_command(command, verbosity=0)

    assert not get_user_model().objects.exists()
    assert not ProductOffering.objects.exists()


def test_make_serve_runs_production_settings_without_demo_data_or_simulator():
    procfile = (REPO / "Procfile.production").read_text()
    plan = subprocess.run(["make", "-n", "serve"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    django_steps = [line for line in plan.splitlines() if "manage.py" in line or "honcho" in line]

    assert {line.split(":", 1)[0] for line in procfile.splitlines() if line.strip()} == {"web", "worker", "beat"}
    assert "somsim" not in procfile
    assert django_steps and all(line.startswith("DJANGO_SETTINGS_MODULE=comapp.production ") for line in django_steps)
    assert "Procfile.production" in django_steps[-1]
    assert "load_demo" not in plan and "somsim" not in plan
