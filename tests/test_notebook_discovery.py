"""Where a notebook's Axon is: AXON_URL first, then the Jupyter server running the kernel,
then an embedded server in the process; and Ctrl-C in plain IPython.

Real servers throughout: a `jupyter axon` subprocess (it writes its jpserver-*.json into
its own runtime dir, which `list_running_servers` reads, and it starts a real kernel for
the kernel-id match) and the in-process embedded server on a temp data dir.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import sqlite3
import threading
import urllib.request
from pathlib import Path

import pytest
from axonos import AxonOS
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

from axon_jupyter.notebook import connection as conn_module
from axon_jupyter.notebook.connection import (
    ConnectionFailed,
    KernelInfo,
    discover,
    find_jupyter_server,
    running_servers,
)
from axon_jupyter.testing import AxonServerProcess

# The test shell keeps no history file in the user's ~/.ipython.
NO_HISTORY = Config({"HistoryManager": {"enabled": False}})

ADMIN, PASSWORD = "admin@example.com", "correct-horse-battery"
SLOW_YAML = (
    "nodes: {start: node_manual_trigger, pause: {type: node_delay, config: {seconds: 20}}}\n"
    "connections: [start -> pause]\n"
)


@pytest.fixture(scope="module")
def jupyter_server(tmp_path_factory):
    """`jupyter axon` on a free port with its own data and runtime dirs."""
    root = tmp_path_factory.mktemp("jupyter-server")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = AxonServerProcess(
        root,
        port=port,
        token=secrets.token_hex(16),
        args=[],
        env={
            "AXON_DATA_DIR": str(root / "data"),
            "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
            "JUPYTER_CONFIG_DIR": str(root / "config"),
            "JUPYTER_DATA_DIR": str(root / "jdata"),
            "AXON_ADMIN_EMAIL": ADMIN,
            "AXON_ADMIN_PASSWORD": PASSWORD,
        },
    )
    server.start()
    server.runtime_dir = str(root / "runtime")
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def fresh_connection(monkeypatch):
    for name in ("AXON_URL", "AXON_API_KEY", "AXON_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    yield
    conn_module.disconnect()


def _jupyter(server, method: str, path: str, body: dict | None = None) -> object:
    request = urllib.request.Request(
        f"{server.url}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"token {server.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as resp:
        raw = resp.read()
        return json.loads(raw) if raw else None


def test_env_comes_first(jupyter_server):
    owner = AxonOS(token=jupyter_server.token, base_url=jupyter_server.api_url)
    key = owner.api_keys.create(name="env test")
    environ = {"AXON_URL": jupyter_server.url, "AXON_API_KEY": key.key}
    # Even with a Jupyter server that runs "this kernel", AXON_URL wins.
    kernel = KernelInfo(kernel_id=None, ppid=jupyter_server.proc.pid)
    connection = discover(environ, kernel=kernel, runtime_dir=jupyter_server.runtime_dir)
    assert connection.source == "env" and connection.detail == "AXON_URL"
    assert connection.api_key == key.key and connection.minted_key_id is None
    assert connection.api_url == jupyter_server.api_url  # a Jupyter URL gets /axon/v1
    assert connection.client.auth.me().get("via") == "api_key"
    # AXON_TOKEN: a login JWT is used as is.
    login = AxonOS.login(ADMIN, PASSWORD, base_url=jupyter_server.api_url)
    jwt = login.credentials.token
    connection = discover({"AXON_URL": jupyter_server.api_url, "AXON_TOKEN": jwt}, kernel=None)
    assert connection.source == "env" and connection.token == jwt and connection.api_key is None
    assert connection.client.auth.me().email == ADMIN
    login.close()
    with pytest.raises(ConnectionFailed, match="no credential"):
        discover({"AXON_URL": jupyter_server.url}, kernel=None)
    owner.close()


def test_the_jupyter_server_running_this_kernel(jupyter_server):
    servers = running_servers(jupyter_server.runtime_dir)
    assert [s["port"] for s in servers] == [jupyter_server.port]
    # Matched as the kernel's parent process ...
    by_pid = find_jupyter_server(KernelInfo(None, ppid=jupyter_server.proc.pid), servers)
    assert by_pid is not None and by_pid["pid"] == jupyter_server.proc.pid
    # ... or because it lists the kernel's id (a kernel it started).
    kernel = _jupyter(jupyter_server, "POST", "/api/kernels", {"name": "python3"})
    try:
        info = KernelInfo(kernel_id=kernel["id"], ppid=1)
        assert find_jupyter_server(info, servers)["port"] == jupyter_server.port
        assert find_jupyter_server(KernelInfo("not-a-kernel", ppid=1), servers) is None

        connection = discover({}, kernel=info, runtime_dir=jupyter_server.runtime_dir)
        assert connection.source == "jupyter"
        assert f"pid {jupyter_server.proc.pid}" in connection.detail
        # The Jupyter token was exchanged for a key of the owner's account ...
        assert connection.minted_key_id is not None and connection.api_key.startswith("axon_")
        me = connection.client.auth.me()
        assert me.email == ADMIN and me.role == "admin"  # the server owner's account
        # ... which the event socket accepts too (a Jupyter token would not be).
        client = connection.client
        wf = client.workflows.create(
            name="ping",
            definition={
                "nodes": [{"id": "s", "type": "node_manual_trigger", "position": {"x": 0, "y": 0}}],
                "connections": [],
            },
        )
        execution = client.workflows.execute(wf.id)
        updates = list(client.executions.stream(execution.id, timeout=30))
        assert updates[-1].status == "succeeded"
        key_id = connection.minted_key_id
        conn_module.set_current(connection)
        conn_module.disconnect()  # revokes the minted key
        owner = AxonOS(token=jupyter_server.token, base_url=jupyter_server.api_url)
        keys = {k.id: k for k in owner.api_keys.list()}
        assert keys[key_id].revoked is True
        owner.close()
    finally:
        _jupyter(jupyter_server, "DELETE", f"/api/kernels/{kernel['id']}")

    # A server that does not run this kernel is not used.
    with pytest.raises(ConnectionFailed, match="no Jupyter server with Axon runs this kernel"):
        discover(
            {},
            kernel=KernelInfo("someone-elses", ppid=1),
            runtime_dir=jupyter_server.runtime_dir,
            embedded=False,
        )


def test_embedded_server_last(tmp_path, monkeypatch):
    monkeypatch.setenv("AXON_DATA_DIR", str(tmp_path / "axon"))
    empty_runtime = str(tmp_path / "runtime")
    try:
        connection = discover({}, kernel=None, runtime_dir=empty_runtime)
        assert connection.source == "embedded"
        server = connection.embedded
        assert server is not None and server.running
        assert server.url.startswith("http://127.0.0.1:")
        me = connection.client.auth.me()
        assert me.email == "jupyter@localhost"
        wf = connection.client.workflows.create(
            name="inside", definition={"nodes": [], "connections": []}
        )
        # The default database, under AXON_DATA_DIR.
        db = Path(tmp_path / "axon" / "axon.db")
        assert db.exists()
        with sqlite3.connect(db) as sql:
            names = [r[0] for r in sql.execute("select name from workflows")]
        assert names == ["inside"] and wf.name == "inside"
        # The same process reuses its embedded server.
        again = discover({}, kernel=None, runtime_dir=empty_runtime)
        assert again.embedded is server
        again.close()
        connection.close()
    finally:
        if conn_module._embedded is not None:
            conn_module._embedded.stop()
            conn_module._embedded = None
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{server.api_url}/health", timeout=2)


def test_ctrl_c_in_plain_ipython_stops_the_execution(jupyter_server, capsys):
    """The magic blocks in the main thread following the WebSocket; a real SIGINT (what
    Ctrl-C sends) arrives while it waits, and the execution is stopped, not abandoned."""
    from axon_jupyter.notebook.widgets.monitor import ExecutionMonitor

    shell = InteractiveShell.instance(config=NO_HISTORY)
    shell.extension_manager.load_extension("axon_jupyter")
    shell.run_line_magic("axon", f"connect {jupyter_server.url} --token {jupyter_server.token}")
    shell.run_cell_magic("axon", "workflow slow", SLOW_YAML)
    capsys.readouterr()

    timers: list[threading.Timer] = []

    def interrupt_once_running(widget) -> None:
        if isinstance(widget, ExecutionMonitor):

            def on_status(change) -> None:
                if change["new"] == "running" and not timers:
                    timers.append(threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)))
                    timers[0].start()

            widget.observe(on_status, names="status")

    import ipywidgets

    ipywidgets.Widget.on_widget_constructed(interrupt_once_running)
    try:
        result = shell.run_line_magic("axon", "run slow")
    finally:
        ipywidgets.Widget._widget_construction_callback = None
    assert timers, "the monitor never saw the execution running"
    out = capsys.readouterr().out
    assert f"Interrupted: stopping {result.id}" in out
    assert result.status == "stopped"
    assert result.duration is not None and result.duration < 15
    owner = AxonOS(token=jupyter_server.token, base_url=jupyter_server.api_url)
    assert owner.executions.get(result.id).status == "stopped"
    owner.close()
