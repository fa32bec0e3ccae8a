"""An Axon server inside the kernel, for notebooks that run without a Jupyter server.

Plain IPython, VS Code, nbconvert and nbval start kernels that no Jupyter server owns;
`EmbeddedServer` gives them the same API on 127.0.0.1 with the default database. It is a
real Jupyter `ServerApp` with only the Axon extension, so every handler, auth rule and
the WebSocket behave exactly as in `jupyter axon`.

It runs on its own event loop in a daemon thread, never on the kernel's loop: a cell
that makes a blocking SDK call would otherwise wait on a server that cannot answer
until the cell returns. Signals stay with the kernel (a thread may not install them,
and Ctrl-C belongs to the cell), and the user's server config files are not read, so
the embedded server is the same everywhere. Imports no widget or magic code.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import threading
import time
import urllib.request
from typing import Any

log = logging.getLogger("axon.notebook")

API = "axon/v1"


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (the server retries if it is taken meanwhile)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _server_app_class() -> type:
    from jupyter_server.serverapp import ServerApp

    class EmbeddedServerApp(ServerApp):
        """A ServerApp that lives in a thread of someone else's process."""

        name = "axon-embedded"

        def init_signal(self) -> None:
            # The kernel owns SIGINT/SIGTERM; signal.signal() outside the main thread fails.
            return None

        def load_config_file(self, *args: Any, **kwargs: Any) -> None:
            # Hermetic: a user's jupyter_server_config must not add a password, extensions
            # or another port to a server only this kernel talks to.
            return None

    return EmbeddedServerApp


class EmbeddedServer:
    """`start()` blocks until `/axon/v1/health` answers; `stop()` shuts it down."""

    def __init__(self, *, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.token = secrets.token_hex(24)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._app: Any = None
        self._error: BaseException | None = None
        self._started = threading.Event()
        self._starting: asyncio.Task | None = None

    @property
    def url(self) -> str:
        """The Jupyter server URL (what the SDK accepts as base_url too)."""
        return f"http://{self.host}:{self.port}/"

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.port}/{API}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._error is None

    def start(self, timeout: float = 60.0) -> EmbeddedServer:
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self._run, name="axon-embedded-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        self._started.wait(timeout)
        while time.monotonic() < deadline:
            if self._error is not None:
                raise RuntimeError(f"the embedded Axon server failed to start: {self._error}")
            if not self._thread.is_alive():
                raise RuntimeError("the embedded Axon server exited while starting")
            try:
                with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"the embedded Axon server did not answer within {timeout:.0f} s")

    def _config(self) -> Any:
        from traitlets.config import Config

        config = Config()
        config.ServerApp.ip = self.host
        config.ServerApp.port = self.port
        config.ServerApp.port_retries = 50
        config.ServerApp.open_browser = False
        config.ServerApp.allow_root = True
        # Its log lands in whatever cell runs at the time: only real errors belong there
        # (a refused request is already the caller's exception).
        config.ServerApp.log_level = "ERROR"
        config.AxonApp.log_level = "ERROR"
        config.ServerApp.jpserver_extensions = {"axon_jupyter": True}
        config.IdentityProvider.token = self.token
        # One user, one kernel, on loopback: a per-user budget protects shared servers.
        config.AxonApp.rate_limit_enabled = False
        return config

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            app = _server_app_class()(config=self._config())
            # argv=[]: the kernel's own argv (-f connection.json) is not ours to parse.
            app.initialize(argv=[], find_extensions=False, new_httpserver=True)
            self._app = app
            self._starting = loop.create_task(app.extension_manager.start_all_extensions())
        except BaseException as exc:  # reported to start(), which raises it in the caller
            self._error = exc
            self._started.set()
            loop.close()
            return
        self._started.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the extension (engine, store) and the HTTP server, then the thread."""
        loop, app, thread = self._loop, self._app, self._thread
        if loop is None or thread is None or not thread.is_alive() or loop.is_closed():
            return

        async def shutdown() -> None:
            try:
                await app.extension_manager.stop_all_extensions()
            finally:
                app.http_server.stop()
                loop.call_soon(loop.stop)

        try:
            future = asyncio.run_coroutine_threadsafe(shutdown(), loop)
            future.result(timeout)
        except Exception as exc:
            log.warning("embedded Axon server did not stop cleanly: %s", exc)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        self._thread = None
