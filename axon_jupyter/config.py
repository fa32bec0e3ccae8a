"""Resolved configuration: the values AxonApp traits (or the CLI) hand to the runtime.

Kept as a plain dataclass so the runtime can be built without a Jupyter server (the CLI
subcommands, the embedded kernel server, tests) from the same defaults.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from jupyter_core.paths import jupyter_data_dir

SECRET_FILE = "jwt_secret"


def default_data_dir() -> str:
    return os.environ.get("AXON_DATA_DIR") or str(Path(jupyter_data_dir()) / "axon")


def default_db_url(data_dir: str) -> str:
    return os.environ.get("AXON_DB_URL") or f"sqlite:///{Path(data_dir).resolve() / 'axon.db'}"


def load_or_create_secret(data_dir: str) -> str:
    """The JWT secret: generated once (256 bits), kept with mode 0600, reused on restart."""
    path = Path(data_dir) / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        text = path.read_text().strip()
        if text:
            return text
    except FileNotFoundError:
        pass
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret)
    return secret


@dataclass
class AxonConfig:
    data_dir: str = field(default_factory=default_data_dir)
    db_url: str = ""
    jwt_secret: str = ""
    admin_email: str = ""
    admin_password: str = ""
    token_ttl: int = 3600
    refresh_ttl: int = 30 * 86400
    max_body_size: int = 10 * 1024 * 1024
    trust_jupyter_identity: bool = True
    owner_email: str = ""
    sqlite_synchronous: str = "NORMAL"
    # Rate limits and brute-force protection: see AxonApp's traits for what each means.
    rate_limit_enabled: bool = True
    rate_limit_plans: dict[str, int] = field(
        default_factory=lambda: {"standard": 1000, "pro": 10000, "enterprise": 100000}
    )
    rate_limit_window: float = 3600.0
    bruteforce_account_attempts: int = 5
    bruteforce_address_attempts: int = 20
    bruteforce_lockout: float = 1.0
    bruteforce_max_lockout: float = 300.0
    # OAuth 2.0 authorization server.
    oauth_code_ttl: float = 60.0
    oauth_issuer: str = ""
    # Nodes: code policy, SSRF allowlist, notebooks (see AxonApp's traits).
    code_nodes: str = "owner"
    http_allowed_hosts: list[str] = field(default_factory=list)
    http_max_response_bytes: int = 10 * 1024 * 1024
    notebook_root: str = ""
    notebook_kernel: str = "python3"
    # Engine and worker processes (see AxonApp's traits).
    max_concurrent_executions: int = 16
    max_parallel_nodes: int = 32
    max_running_nodes: int = 256
    execution_lease_seconds: float = 30.0
    worker_processes: int = 4
    worker_warm: int = 1
    worker_cpu_seconds: int = 300
    worker_memory_mb: int = 2048
    worker_user: str = ""
    sqlite_busy_timeout_ms: int = 5000
    token_cache_seconds: float = 1.0
    # Real time (WebSocket events, GraphQL): see AxonApp's traits for what each means.
    ws_auth_timeout: float = 10.0
    ws_max_message_size: int = 64 * 1024
    ws_queue_size: int = 1000
    ws_ping_interval: float = 30.0
    ws_auth_recheck_interval: float = 60.0
    health_interval: float = 10.0
    graphql_max_depth: int = 12
    graphql_max_cost: int = 20_000
    graphql_max_tokens: int = 4_000
    graphql_max_aliases: int = 50
    graphql_offload_bytes: int = 4 * 1024

    def resolved(self) -> AxonConfig:
        """Fill the derived defaults (db_url, secret) that depend on data_dir."""
        if not self.db_url:
            self.db_url = default_db_url(self.data_dir)
        if not self.jwt_secret:
            self.jwt_secret = os.environ.get("AXON_JWT_SECRET") or load_or_create_secret(
                self.data_dir
            )
        return self
