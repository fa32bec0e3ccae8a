"""Which Axon server a notebook talks to, and as whom: discovery and the current connection.

The order is DESIGN.md's, so one notebook works in JupyterLab, VS Code, plain IPython
and nbval alike:
1. `AXON_URL` with `AXON_API_KEY` or `AXON_TOKEN` from the environment;
2. the Jupyter server that runs this kernel (found among `list_running_servers()` by
   being the kernel's parent process or by listing its kernel id), with its token:
   Jupyter identity acts as the server owner's Axon account;
3. an `EmbeddedServer` started inside this process on 127.0.0.1 with the default database.
`%axon connect URL` (or `connect()`) overrides whatever was found.

A Jupyter token is good for REST but is not an Axon credential on the event socket, so
it is exchanged once for an API key of the owner's account (named after this kernel,
expiring in a day, revoked when the process exits). Everything else goes through the
SDK (`axonos`); this module never speaks HTTP itself except to probe a server's health
and to list a Jupyter server's kernels.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import sys
import threading
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from axonos import AsyncAxonOS, AxonOS
from axonos._base_client import normalize_base_url

from .embedded import EmbeddedServer

MINTED_KEY_DAYS = 1
PROBE_TIMEOUT = 2.0


class ConnectionFailed(RuntimeError):
    """No server could be reached or authenticated; the message says what was tried."""


@dataclass
class KernelInfo:
    """What identifies the kernel this code runs in (None outside a kernel)."""

    kernel_id: str | None
    ppid: int


@dataclass
class Connection:
    """A reachable Axon API and the credential the notebook uses there."""

    api_url: str
    source: str  # "env", "jupyter", "embedded" or "manual"
    detail: str  # where, for people: "AXON_URL", "Jupyter server (pid 12) at ...", ...
    api_key: str | None = None
    token: str | None = None
    minted_key_id: str | None = None
    embedded: EmbeddedServer | None = None
    _client: AxonOS | None = field(default=None, repr=False)

    @property
    def client(self) -> AxonOS:
        """The blocking SDK client (one per connection, shared)."""
        if self._client is None:
            self._client = AxonOS(api_key=self.api_key, token=self.token, base_url=self.api_url)
        return self._client

    def async_client(self) -> AsyncAxonOS:
        """A new asyncio SDK client for the caller's event loop (close it when done)."""
        return AsyncAxonOS(api_key=self.api_key, token=self.token, base_url=self.api_url)

    @property
    def credential_kind(self) -> str:
        return "api_key" if self.api_key else "token"

    def close(self) -> None:
        """Revoke the key minted for this kernel and close the HTTP pool."""
        if self.minted_key_id is not None:
            # Best effort, often at exit while the server itself shuts down: a short
            # timeout and no retries (the key expires by itself anyway).
            with (
                contextlib.suppress(Exception),
                AxonOS(api_key=self.api_key, base_url=self.api_url, timeout=2, max_retries=0) as c,
            ):
                c.api_keys.revoke(self.minted_key_id)
            self.minted_key_id = None
        if self._client is not None:
            self._client.close()
            self._client = None


# ---------------------------------------------------------------- credentials
def looks_like_jwt(token: str) -> bool:
    parts = token.split(".")
    return len(parts) == 3 and all(parts)


def looks_like_api_key(secret: str) -> bool:
    return secret.startswith("axon_")


def _kernel_label() -> str:
    info = current_kernel()
    ident = info.kernel_id[:8] if info and info.kernel_id else f"pid {os.getpid()}"
    return f"notebook kernel {ident}"


def exchange_jupyter_token(api_url: str, jupyter_token: str) -> tuple[str, str]:
    """An API key of the Jupyter owner's Axon account, minted with the Jupyter token.

    Returns (key, key_id). Raises ConnectionFailed when the server does not trust
    Jupyter identity (trait trust_jupyter_identity) or the token is wrong."""
    from axonos import APIError

    if not jupyter_token:
        raise ConnectionFailed(
            f"the Jupyter server at {api_url} has no token to act with; pass an Axon API "
            "key with %axon connect URL --api-key KEY"
        )
    with AxonOS(token=jupyter_token, base_url=api_url, max_retries=1) as jupyter:
        try:
            key = jupyter.api_keys.create(name=_kernel_label(), expires_in_days=MINTED_KEY_DAYS)
        except APIError as exc:
            raise ConnectionFailed(
                f"{api_url} did not accept the Jupyter token ({exc.status} {exc.code}: "
                f"{exc.message}); pass an Axon API key with %axon connect URL --api-key KEY"
            ) from exc
    assert key.key is not None
    return key.key, key.id


def connection_for(
    url: str,
    *,
    api_key: str | None = None,
    token: str | None = None,
    source: str,
    detail: str,
    embedded: EmbeddedServer | None = None,
) -> Connection:
    """A Connection to `url`: an API key or a JWT is used as is; any other token is taken
    for a Jupyter token and exchanged for an API key (see module docstring)."""
    api_url = normalize_base_url(url)
    if not api_key and not token:
        raise ConnectionFailed(
            f"no credential for {api_url}: pass --api-key KEY (or --token), or set "
            "AXON_API_KEY / AXON_TOKEN"
        )
    if api_key or looks_like_jwt(token or "") or looks_like_api_key(token or ""):
        if token and looks_like_api_key(token):
            api_key, token = token, None
        return Connection(api_url, source, detail, api_key=api_key, token=token, embedded=embedded)
    key, key_id = exchange_jupyter_token(api_url, token or "")
    return Connection(api_url, source, detail, api_key=key, minted_key_id=key_id, embedded=embedded)


# ---------------------------------------------------------------- discovery steps
def from_env(environ: Mapping[str, str]) -> Connection | None:
    """Step 1: AXON_URL (+ AXON_API_KEY or AXON_TOKEN)."""
    url = environ.get("AXON_URL", "").strip()
    if not url:
        return None
    return connection_for(
        url,
        api_key=environ.get("AXON_API_KEY") or None,
        token=environ.get("AXON_TOKEN") or None,
        source="env",
        detail="AXON_URL",
    )


def current_kernel() -> KernelInfo | None:
    """This process's kernel, if it is an IPython kernel (not plain IPython or a script)."""
    kernelapp = sys.modules.get("ipykernel.kernelapp")
    if kernelapp is None or not kernelapp.IPKernelApp.initialized():
        return None
    kernel_id = None
    try:
        from ipykernel.connect import get_connection_file

        name = os.path.basename(get_connection_file())
        if name.startswith("kernel-") and name.endswith(".json"):
            kernel_id = name[len("kernel-") : -len(".json")]
    except (RuntimeError, OSError):
        pass
    return KernelInfo(kernel_id=kernel_id, ppid=os.getppid())


def _server_kernel_ids(server: Mapping[str, Any]) -> set[str]:
    url = server["url"].rstrip("/") + "/api/kernels"
    request = urllib.request.Request(url, headers={"Authorization": f"token {server['token']}"})
    try:
        with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT) as resp:
            return {k.get("id") for k in json.loads(resp.read())}
    except (OSError, ValueError):
        return set()


def find_jupyter_server(
    kernel: KernelInfo, servers: Iterable[Mapping[str, Any]]
) -> Mapping[str, Any] | None:
    """The server running `kernel`: its parent process, else one that lists its id."""
    candidates = [s for s in servers if s.get("url") and s.get("pid")]
    for server in candidates:
        if server["pid"] == kernel.ppid:
            return server
    if kernel.kernel_id:
        for server in candidates:
            if kernel.kernel_id in _server_kernel_ids(server):
                return server
    return None


def running_servers(runtime_dir: str | None = None) -> list[dict[str, Any]]:
    from jupyter_server.serverapp import list_running_servers

    return list(list_running_servers(runtime_dir))


def has_axon(url: str) -> bool:
    """Whether the Axon extension answers at this Jupyter server."""
    try:
        health = f"{normalize_base_url(url)}/health"
        with urllib.request.urlopen(health, timeout=PROBE_TIMEOUT) as resp:
            return resp.status == 200
    except (OSError, ValueError):
        return False


def from_jupyter_server(
    kernel: KernelInfo | None, runtime_dir: str | None = None
) -> Connection | None:
    """Step 2: the Jupyter server that runs this kernel, if it serves Axon."""
    if kernel is None:
        return None
    server = find_jupyter_server(kernel, running_servers(runtime_dir))
    if server is None or not has_axon(server["url"]):
        return None
    return connection_for(
        server["url"],
        token=server.get("token") or None,
        source="jupyter",
        detail=f"the Jupyter server running this kernel (pid {server['pid']}, {server['url']})",
    )


_embedded: EmbeddedServer | None = None
_embedded_lock = threading.Lock()


def embedded_server() -> EmbeddedServer:
    """The process's embedded server, started on first use and stopped at exit."""
    global _embedded
    with _embedded_lock:
        if _embedded is None or not _embedded.running:
            _embedded = EmbeddedServer().start()
            atexit.register(_embedded.stop)
            # atexit runs in reverse order: revoke the minted key while the server is up.
            atexit.unregister(_close_current)
            atexit.register(_close_current)
        return _embedded


def from_embedded() -> Connection:
    """Step 3: a server inside this process, on the default database."""
    server = embedded_server()
    return connection_for(
        server.url,
        token=server.token,
        source="embedded",
        detail=f"an embedded server in this process ({server.url})",
        embedded=server,
    )


def discover(
    environ: Mapping[str, str] | None = None,
    kernel: KernelInfo | bool | None = True,
    runtime_dir: str | None = None,
    embedded: bool = True,
) -> Connection:
    """Find a server in DESIGN.md's order. `kernel=True` means "detect this process's"."""
    environ = os.environ if environ is None else environ
    found = from_env(environ)
    if found is not None:
        return found
    info = current_kernel() if kernel is True else (kernel or None)
    refused = ""
    try:
        found = from_jupyter_server(info, runtime_dir)
    except ConnectionFailed as exc:  # e.g. trust_jupyter_identity off: fall through
        found, refused = None, f" (the Jupyter server running this kernel refused: {exc})"
    if found is not None:
        return found
    if not embedded:
        raise ConnectionFailed(
            "no Axon server found: AXON_URL is not set and no Jupyter server with Axon "
            f"runs this kernel{refused}"
        )
    connection = from_embedded()
    connection.detail += refused
    return connection


# ---------------------------------------------------------------- the current connection
_current: Connection | None = None
_current_lock = threading.Lock()


def _close_current() -> None:
    if _current is not None:
        _current.close()


atexit.register(_close_current)


def current() -> Connection:
    """The notebook's connection, discovered on first use."""
    global _current
    with _current_lock:
        if _current is None:
            _current = discover()
        return _current


def set_current(connection: Connection) -> Connection:
    global _current
    with _current_lock:
        previous, _current = _current, connection
    if previous is not None and previous is not connection:
        previous.close()
    return connection


def disconnect() -> None:
    """Forget the current connection (revoking a key minted for it); the next use
    discovers again."""
    global _current
    with _current_lock:
        previous, _current = _current, None
    if previous is not None:
        previous.close()


def connect(
    url: str | None = None,
    *,
    api_key: str | None = None,
    token: str | None = None,
    embedded: bool = False,
) -> Connection:
    """Use this server from now on (`url`), or force the embedded one, or discover again."""
    if embedded:
        return set_current(from_embedded())
    if url is None:
        if api_key or token:
            raise ConnectionFailed("--api-key/--token need a URL: %axon connect URL --api-key K")
        return set_current(discover())
    return set_current(
        connection_for(url, api_key=api_key, token=token, source="manual", detail="%axon connect")
    )


def client() -> AxonOS:
    """The blocking SDK client of the current connection."""
    return current().client
