"""A real browser runs quickstart.ipynb in a real JupyterLab and sees the workflow succeed.

JupyterLab starts as a subprocess on 127.0.0.1 with a temp root (holding a copy of
notebooks/quickstart.ipynb), temp Jupyter/Axon dirs and a known token. Debian's chromium
(never a browser downloaded by Playwright) opens the notebook, runs all cells through
the Run menu, and the rendered page must show the ExecutionMonitor in the succeeded
state with its DAG drawn as SVG, every node succeeded. A screenshot of the page and of
the monitor are saved under the test's tmp dir; on failure, the page's HTML too. The
kernel finds its Jupyter server itself (it is the kernel's parent), so this also proves
discovery step 2 end to end.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def _browser_or_skip() -> None:
    missing = []
    if not CHROMIUM.exists():
        missing.append("chromium (apt-get install -y chromium)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing.append("playwright (pip install -e '.[test]')")
    if missing:
        reason = "browser test needs " + ", ".join(missing)
        if os.environ.get("AXON_REQUIRE_BROWSER"):  # CI: never skip silently
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture
def jupyterlab(tmp_path):
    _browser_or_skip()
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(ROOT / "notebooks" / "quickstart.ipynb", root / "quickstart.ipynb")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    token = secrets.token_hex(16)
    home = tmp_path / "home"
    env = {
        **os.environ,
        "AXON_DATA_DIR": str(tmp_path / "axon"),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "lab-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "lab-workspaces"),
        "JUPYTER_PLATFORM_DIRS": "1",
    }
    for name in ("AXON_URL", "AXON_API_KEY", "AXON_TOKEN"):
        env.pop(name, None)
    # No "get notified about Jupyter news?" toast over the page (and no network).
    news = home / "lab-settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    log = open(tmp_path / "jupyterlab.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--allow-root",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=root,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError((tmp_path / "jupyterlab.log").read_text()[-3000:])
        try:
            with urllib.request.urlopen(f"{url}/axon/v1/health", timeout=2):
                break
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError((tmp_path / "jupyterlab.log").read_text()[-3000:]) from None
            time.sleep(0.2)
    yield url, token
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
    log.close()


def test_quickstart_runs_in_jupyterlab_and_the_monitor_succeeds(jupyterlab, tmp_path):
    from playwright.sync_api import sync_playwright

    url, token = jupyterlab
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(f"{url}/lab/tree/quickstart.ipynb?token={token}", timeout=60_000)
            page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
            # Run All only once the kernel is up (earlier, the command may find none).
            page.wait_for_selector(
                ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000
            )
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()

            monitor = page.locator(".axon-execution-monitor")
            succeeded = monitor.locator(".axon-execution-status[data-status='succeeded']")
            succeeded.wait_for(timeout=120_000)
            monitor.scroll_into_view_if_needed()
            dag = monitor.locator("svg.axon-dag")
            assert dag.count() == 1
            states = dag.locator("g.axon-node").evaluate_all(
                "nodes => nodes.map(n => [n.dataset.node, n.dataset.state])"
            )
            assert sorted(states) == [
                ["greet", "succeeded"],
                ["log", "succeeded"],
                ["start", "succeeded"],
            ]
            assert "Hello, Ada!" in monitor.locator(".axon-output").inner_text()
            assert "3/3 nodes" in monitor.locator(".axon-info").inner_text()
            # The cell after the run printed the same outcome, from the returned execution.
            page.get_by_text("{'log': {'output': {'greeting': 'Hello, Ada!'}}}").first.wait_for(
                timeout=60_000
            )
            # Under JupyterLab the kernel found its own server (discovery step 2).
            whoami = page.locator(".jp-OutputArea-output", has_text="found:").first.inner_text()
            assert "found:  jupyter: the Jupyter server running this kernel" in whoami
            monitor.screenshot(path=str(tmp_path / "execution-monitor.png"))
            page.screenshot(path=str(tmp_path / "quickstart.png"))
        except BaseException:
            (tmp_path / "page.html").write_text(page.content())
            page.screenshot(path=str(tmp_path / "failure.png"))
            raise
        finally:
            browser.close()
    assert (tmp_path / "execution-monitor.png").stat().st_size > 10_000
