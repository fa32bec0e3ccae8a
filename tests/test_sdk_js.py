"""The TypeScript SDK's own suite (sdks/js, node's test runner against a real server).

It runs here so that the README's single test command covers the JS SDK too. Missing
node or npm is a failure, not a skip: CI installs them, so their absence is a broken
machine, and a skipped SDK suite would pass unnoticed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SDK = Path(__file__).resolve().parent.parent / "sdks" / "js"


def _run(cmd: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        # The server the JS tests start is the one installed for this interpreter.
        "AXON_PYTHON": sys.executable,
        "npm_config_fund": "false",
        "npm_config_audit": "false",
        "npm_config_update_notifier": "false",
        "NO_COLOR": "1",
    }
    return subprocess.run(
        cmd,
        cwd=SDK,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _failures(output: str) -> str:
    """The runner's summary of failing tests first, then the tail (server log included)."""
    start = output.find("✖ failing tests:")
    summary = output[start : start + 12000] if start >= 0 else ""
    return f"{summary}\n...\n{output[-8000:]}"


@pytest.mark.timeout(600)
def test_js_sdk_suite_passes() -> None:
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "node and npm are required for the TypeScript SDK tests (CI installs them)"
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    assert int(version.stdout.strip().lstrip("v").split(".")[0]) >= 20, version.stdout

    installed_lock = SDK / "node_modules" / ".package-lock.json"
    if (
        not installed_lock.exists()
        or installed_lock.stat().st_mtime < (SDK / "package-lock.json").stat().st_mtime
    ):
        installed = _run([npm, "ci", "--no-audit", "--no-fund"], timeout=300)
        assert installed.returncode == 0, f"npm ci failed:\n{installed.stdout}\n{installed.stderr}"

    result = _run([npm, "test"], timeout=420)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"npm test failed:\n{_failures(output)}"
    # Guard against a runner that found nothing to run and called that a success.
    assert "ℹ fail 0" in output, output[-5000:]
    passed = [line for line in output.splitlines() if line.startswith("ℹ pass ")]
    assert passed and int(passed[-1].split()[-1]) > 0, output[-5000:]
