"""The standalone distribution `axonos-python` installs into a clean virtualenv without
Jupyter and works there against a live server (issue 6: "ships standalone").

Builds the wheel from sdks/python, installs it with its dependencies (httpx, websockets)
into a fresh venv that does not see this environment's packages, and runs the seed's
example in that venv's interpreter against the test server. About 10 s with a package
index at hand.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import sys
import textwrap
import zipfile
from pathlib import Path

SDK_DIR = Path(__file__).resolve().parents[1] / "sdks" / "python"

SCRIPT = textwrap.dedent(
    """
    import importlib.util, json, os
    from axonos import AxonOS, NotFoundError

    client = AxonOS(api_key=os.environ["KEY"], base_url=os.environ["URL"])
    workflows = client.workflows.list()
    try:
        client.workflows.execute("wf_123")
        outcome = "ran"
    except NotFoundError as err:
        outcome = err.code
    print(json.dumps({
        "names": [w.name for w in workflows.items],
        "execute_missing": outcome,
        "axonos_file": __import__("axonos").__file__,
        "absent": [m for m in ("jupyter_server", "tornado", "axon_jupyter", "traitlets")
                   if importlib.util.find_spec(m) is None],
    }))
    """
)


async def run(*cmd: str, cwd: Path, env: dict | None = None) -> str:
    proc = await asyncio.create_subprocess_exec(
        *cmd,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=240)
    assert proc.returncode == 0, f"{cmd} failed:\n{out.decode()}\n{err.decode()}"
    return out.decode()


async def test_standalone_sdk_installs_without_jupyter_and_works(tmp_path, axon_client, axon_user):
    key = (await axon_user.client.post("api-keys", {"name": "dist"})).json()["key"]
    assert (await axon_user.client.post("workflows", {"name": "from a clean venv"})).status == 201

    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    # The test server's environment exports PYTHONPATH (for its kernels); the venv must
    # not inherit it, or this environment's packages would leak in.
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    await run(sys.executable, "-m", "venv", str(venv), cwd=tmp_path, env=clean)
    # Build with this environment's hatchling when it has one (fast, offline); otherwise
    # pip fetches the build backend as for any sdist.
    isolation = ["--no-build-isolation"] if importlib.util.find_spec("hatchling") else []
    wheels = tmp_path / "wheels"
    await run(
        sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", *isolation,
        str(SDK_DIR), "-w", str(wheels), cwd=tmp_path,
    )  # fmt: skip
    (wheel,) = wheels.glob("axonos_python-*.whl")
    # The venv's own pip brings the dependencies (httpx, websockets) from the index.
    await run(str(python), "-m", "pip", "install", "-q", str(wheel), cwd=tmp_path, env=clean)

    env = {"KEY": key, "URL": axon_client.api_url, "PATH": "/usr/bin:/bin"}
    out = await run(str(python), "-I", "-c", SCRIPT, cwd=tmp_path, env=env)
    result = json.loads(out.strip().splitlines()[-1])
    assert result["names"] == ["from a clean venv"]
    assert result["execute_missing"] == "NOT_FOUND"
    assert result["axonos_file"].startswith(str(venv))
    assert result["absent"] == ["jupyter_server", "tornado", "axon_jupyter", "traitlets"]
    installed = await run(
        str(python), "-m", "pip", "list", "--format=json", cwd=tmp_path, env=clean
    )
    names = {p["name"].lower() for p in json.loads(installed)}
    assert {"axonos-python", "httpx", "websockets"} <= names
    assert not names & {"jupyter-server", "tornado", "axon-jupyter"}


async def test_the_main_wheel_ships_the_sdk_and_its_dependencies(tmp_path):
    # `pip install axon-jupyter` gives notebooks the SDK: the package and its requirements.
    isolation = ["--no-build-isolation"] if importlib.util.find_spec("hatchling") else []
    await run(
        sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", *isolation,
        str(SDK_DIR.parents[1]), "-w", str(tmp_path), cwd=tmp_path,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("axon_jupyter-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        requires = [
            line.split(":", 1)[1].strip()
            for line in archive.read(metadata).decode().splitlines()
            if line.startswith("Requires-Dist:") and "extra ==" not in line
        ]
    assert {"axonos/__init__.py", "axonos/resources/executions.py", "axonos/py.typed"} <= names
    assert "axon_jupyter/__init__.py" in names
    assert not any(n.startswith("sdks/") for n in names)
    assert any(r.startswith("httpx") for r in requires)
    assert any(r.startswith("websockets") for r in requires)
