"""The installed shape: shipped config, `jupyter axon` and its subcommands, restarts."""

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def test_shipped_jupyter_config_enables_the_extension():
    path = ROOT / "jupyter-config" / "jupyter_server_config.d" / "axon_jupyter.json"
    assert json.loads(path.read_text()) == {
        "ServerApp": {"jpserver_extensions": {"axon_jupyter": True}}
    }
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert (
        '"jupyter-config/jupyter_server_config.d" = "etc/jupyter/jupyter_server_config.d"'
        in pyproject
    )


def test_extension_is_enabled_after_install():
    out = subprocess.run(
        [sys.executable, "-m", "jupyter", "server", "extension", "list"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    text = out.stdout + out.stderr
    line = next(line for line in text.splitlines() if "axon_jupyter" in line and "enabled" in line)
    assert "enabled" in line


def _cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "axon_jupyter", *args, f"--data-dir={data_dir}"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "AXON_DATA_DIR": str(data_dir)},
    )


def test_data_and_tokens_survive_restart_and_cli_works(axon_server_process, tmp_path):
    data_dir = tmp_path / "server-data"
    made = _cli(
        "create-user",
        "--email=ops@example.com",
        "--password=s3cret-pass",
        "--admin",
        data_dir=data_dir,
    )
    assert made.returncode == 0, made.stderr
    assert "role=admin" in made.stdout
    dup = _cli(
        "create-user", "--email=ops@example.com", "--password=s3cret-pass", data_dir=data_dir
    )
    assert dup.returncode == 1 and "error:" in dup.stderr and "Traceback" not in dup.stderr
    key_out = _cli(
        "create-api-key", "--email=ops@example.com", "--scopes=workflows:read", data_dir=data_dir
    )
    assert key_out.returncode == 0, key_out.stderr
    api_key = key_out.stdout.strip()
    assert api_key.startswith("axon_")
    secret = data_dir / "jwt_secret"
    assert secret.stat().st_mode & 0o777 == 0o600

    server = axon_server_process(data_dir=data_dir)
    api = server.api_url
    login = httpx.post(
        f"{api}/auth/login", json={"email": "ops@example.com", "password": "s3cret-pass"}
    )
    assert login.status_code == 200
    token = login.json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    wf = httpx.post(f"{api}/workflows", json={"name": "durable"}, headers=auth)
    assert wf.status_code == 201
    assert (
        httpx.get(f"{api}/workflows", headers={"X-API-Key": api_key}).json()["pagination"]["total"]
        == 1
    )

    server.stop(kill=True)  # no graceful shutdown: what was acknowledged must be on disk
    server = axon_server_process(data_dir=data_dir)
    api = server.api_url
    again = httpx.get(f"{api}/workflows/{wf.json()['id']}", headers=auth)  # same JWT still valid
    assert again.status_code == 200 and again.json()["name"] == "durable"
    assert httpx.get(f"{api}/workflows", headers={"X-API-Key": api_key}).status_code == 200
    assert secret.read_text().strip()  # the secret was reused, not regenerated


def test_admin_bootstrap_from_environment(axon_server_process):
    server = axon_server_process(
        env={"AXON_ADMIN_EMAIL": "boot@example.com", "AXON_ADMIN_PASSWORD": "boot-pass-1"}
    )
    login = httpx.post(
        f"{server.api_url}/auth/login",
        json={"email": "boot@example.com", "password": "boot-pass-1"},
    )
    assert login.status_code == 200
    me = httpx.get(
        f"{server.api_url}/auth/me", headers={"Authorization": f"Bearer {login.json()['token']}"}
    )
    assert me.json()["user"]["role"] == "admin"
    unauth = httpx.get(f"{server.api_url}/workflows")
    assert unauth.status_code == 401 and unauth.json()["error"]["code"] == "UNAUTHORIZED"
