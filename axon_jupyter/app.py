"""AxonApp: the Jupyter server extension, its traits, and the `jupyter axon` command.

`jupyter server` / `jupyter lab` load it through jupyter-config after `pip install`;
`jupyter axon` starts a standalone server with it. Every external choice is a trait
here (settable as `--AxonApp.name=value`); the matching env var wins over the default.
"""

from __future__ import annotations

import asyncio
import os
import sys

import traitlets
from jupyter_core.application import JupyterApp
from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Dict, Float, HasTraits, Integer, Unicode, default

from ._version import __version__
from .config import AxonConfig, default_data_dir, default_db_url


def _env(name: str, fallback: str = "") -> str:
    return os.environ.get(name, fallback)


class AxonTraits(HasTraits):
    """Traits shared by the server extension and the CLI subcommands."""

    data_dir = Unicode(
        help="Where Axon keeps its database and secrets [AXON_DATA_DIR]. "
        "Default: <jupyter data dir>/axon."
    ).tag(config=True)

    @default("data_dir")
    def _default_data_dir(self) -> str:
        return default_data_dir()

    db_url = Unicode(help="Database URL [AXON_DB_URL]. Default: sqlite:///<data_dir>/axon.db.").tag(
        config=True
    )

    @default("db_url")
    def _default_db_url(self) -> str:
        return default_db_url(self.data_dir)

    def axon_config(self) -> AxonConfig:
        return AxonConfig(data_dir=self.data_dir, db_url=self.db_url)


class AxonApp(AxonTraits, ExtensionApp):
    name = "axon_jupyter"
    app_name = "Axon"
    description = "Axon workflow automation: REST, GraphQL and WebSocket API under /axon/v1."
    version = __version__
    extension_url = "/axon/v1/health"
    # `jupyter axon` is the API service: JupyterLab and friends load in `jupyter lab`, not here.
    load_other_extensions = False
    # `jupyter axon` is a service: no browser, and root (containers, CI) is allowed on
    # purpose. `jupyter server` keeps Jupyter's own refusal to run as root.
    serverapp_config = {"open_browser": False, "allow_root": True}

    jwt_secret = Unicode(
        help="Secret for signing JWTs, at least 32 bytes [AXON_JWT_SECRET]. Default: random, "
        "generated once and kept in data_dir/jwt_secret with mode 0600."
    ).tag(config=True)

    @default("jwt_secret")
    def _default_jwt_secret(self) -> str:
        return _env("AXON_JWT_SECRET")

    admin_email = Unicode(
        help="Create this admin user at start-up if absent [AXON_ADMIN_EMAIL]."
    ).tag(config=True)

    @default("admin_email")
    def _default_admin_email(self) -> str:
        return _env("AXON_ADMIN_EMAIL")

    admin_password = Unicode(help="Password of the bootstrap admin [AXON_ADMIN_PASSWORD].").tag(
        config=True
    )

    @default("admin_password")
    def _default_admin_password(self) -> str:
        return _env("AXON_ADMIN_PASSWORD")

    token_ttl = Integer(3600, help="Lifetime of access tokens, in seconds.").tag(config=True)
    refresh_ttl = Integer(30 * 86400, help="Lifetime of refresh tokens, in seconds.").tag(
        config=True
    )
    max_body_size = Integer(
        10 * 1024 * 1024, help="Largest request body accepted, in bytes (larger: 413)."
    ).tag(config=True)
    trust_jupyter_identity = Bool(
        True,
        help="Requests that Jupyter itself authenticated (its token or login cookie) act as "
        "the server owner's Axon account. Turn off to require Axon credentials everywhere.",
    ).tag(config=True)
    owner_email = Unicode(
        help="Email of the Axon account Jupyter-authenticated requests act as. "
        "Default: admin_email, else jupyter@localhost."
    ).tag(config=True)
    sqlite_synchronous = Unicode(
        "NORMAL",
        help="SQLite synchronous mode: NORMAL survives process crashes; FULL also power loss.",
    ).tag(config=True)

    rate_limit_enabled = Bool(
        True,
        help="Count every authenticated request (REST, GraphQL operation, WebSocket message) "
        "against its user's budget; beyond it answer 429 RATE_LIMITED with Retry-After.",
    ).tag(config=True)
    rate_limit_plans = Dict(
        value_trait=Integer(),
        default_value={"standard": 1000, "pro": 10000, "enterprise": 100000},
        help="Requests per rate_limit_window for each plan (given plans replace the "
        "defaults standard=1000, pro=10000, enterprise=100000). A user's own rate_limit, "
        "when set, overrides their plan.",
    ).tag(config=True)
    rate_limit_window = Float(
        3600.0, help="The window the plan budgets are counted over, in seconds (GCRA)."
    ).tag(config=True)
    bruteforce_account_attempts = Integer(
        5,
        help="Failed sign-ins on one account (or failed token requests of one OAuth client) "
        "before further attempts are refused for a while (429 with Retry-After).",
    ).tag(config=True)
    bruteforce_address_attempts = Integer(
        20, help="Failed sign-in or token attempts from one client address before lockout."
    ).tag(config=True)
    bruteforce_lockout = Float(
        1.0, help="First lockout in seconds; it doubles with every further failure."
    ).tag(config=True)
    bruteforce_max_lockout = Float(
        300.0,
        help="Longest lockout in seconds: an attacker can slow a victim's sign-in down but "
        "never lock the account for longer than this.",
    ).tag(config=True)
    oauth_code_ttl = Float(
        60.0, help="Lifetime of an OAuth authorization code, in seconds (single use)."
    ).tag(config=True)
    oauth_issuer = Unicode(
        help="OAuth issuer URL published in the authorization server metadata. "
        "Default: derived from each request, {scheme}://{host}{base_url}axon/v1."
    ).tag(config=True)

    code_nodes = traitlets.Enum(
        ["owner", "all", "off"],
        "owner",
        help="Who may register and run Python code (node_python, custom nodes): owner = "
        "admins and the Jupyter owner; all = every user; off = nobody.",
    ).tag(config=True)
    max_concurrent_executions = Integer(
        16, help="Executions running at once; more wait in status queued, first come first run."
    ).tag(config=True)
    max_parallel_nodes = Integer(
        32, help="Nodes of one execution running at once (ready nodes beyond wait)."
    ).tag(config=True)
    max_running_nodes = Integer(
        256, help="Nodes running at once across all executions of this server."
    ).tag(config=True)
    execution_lease_seconds = Float(
        30.0,
        help="Lease an engine holds on its executions, renewed every third of it. After a "
        "crash, executions whose lease expired are failed (EXECUTION_INTERRUPTED) or "
        "re-queued where the workflow's settings say requeue_on_interrupt.",
    ).tag(config=True)
    worker_processes = Integer(
        4, help="Worker processes running Python code nodes at once (others wait)."
    ).tag(config=True)
    worker_warm = Integer(
        1, help="Idle worker processes kept started ahead of demand (each runs one node)."
    ).tag(config=True)
    worker_cpu_seconds = Integer(
        300, help="CPU-time limit of one code node's worker process, in seconds (0: none)."
    ).tag(config=True)
    worker_memory_mb = Integer(
        2048, help="Address-space limit of one code node's worker process, in MiB (0: none)."
    ).tag(config=True)
    worker_user = Unicode(
        "",
        help="Run worker processes as this OS user (the server must run as root; the user "
        "needs read access to the Python installation). Default: the server's user.",
    ).tag(config=True)
    http_allowed_hosts = traitlets.List(
        traitlets.Unicode(),
        help="Targets node_http_request may reach although they are private, loopback or "
        "link-local (refused otherwise): host names, IP addresses or CIDR networks, "
        "e.g. ['127.0.0.1', 'intranet.example', '10.0.0.0/8'].",
    ).tag(config=True)
    http_max_response_bytes = Integer(
        10 * 1024 * 1024, help="Largest response body node_http_request reads, in bytes."
    ).tag(config=True)
    notebook_root = Unicode(
        help="Directory node_notebook paths are relative to; no path may leave it. "
        "Default: the Jupyter server's root_dir, else the working directory."
    ).tag(config=True)
    notebook_kernel = Unicode(
        "python3", help="Kernel node_notebook starts when its config names none."
    ).tag(config=True)

    ws_auth_timeout = Float(
        10.0, help="Seconds a WebSocket may stay open before authenticating (then: 4408)."
    ).tag(config=True)
    ws_max_message_size = Integer(
        64 * 1024, help="Largest inbound WebSocket message, in bytes (larger: close 1009)."
    ).tag(config=True)
    ws_queue_size = Integer(
        1000,
        help="Events a WebSocket or GraphQL subscriber may fall behind before it is cut off "
        "(close 1013): bounds the memory a slow consumer can hold.",
    ).tag(config=True)
    ws_ping_interval = Float(
        30.0,
        help="Seconds between protocol-level WebSocket pings; a peer that does not answer "
        "within the same time is disconnected. 0 disables.",
    ).tag(config=True)
    ws_auth_recheck_interval = Float(
        60.0,
        help="Seconds between re-checks of a WebSocket's credential (revocation); an "
        "expiring token also ends the connection at its expiry.",
    ).tag(config=True)
    health_interval = Float(
        10.0, help="Seconds between system_health events (GraphQL systemHealth, /ws)."
    ).tag(config=True)
    graphql_max_depth = Integer(12, help="Deepest GraphQL selection accepted.").tag(config=True)
    graphql_max_cost = Integer(
        20_000,
        help="Largest estimated GraphQL cost (fields, multiplied by list sizes) accepted.",
    ).tag(config=True)
    graphql_max_tokens = Integer(
        4_000, help="Most lexical tokens in a GraphQL document (checked while parsing)."
    ).tag(config=True)
    graphql_max_aliases = Integer(50, help="Most aliased fields in a GraphQL document.").tag(
        config=True
    )
    graphql_offload_bytes = Integer(
        4 * 1024,
        help="GraphQL documents larger than this are parsed, validated and executed in a "
        "worker thread, so a crafted document never blocks the server.",
    ).tag(config=True)

    token_cache_seconds = Float(
        1.0,
        help="How long a bearer token's user and revocation state is reused between "
        "requests (0: read on every request). Revocations in this server apply at once; "
        "revocations by another process on the same database apply within this time.",
    ).tag(config=True)

    sqlite_busy_timeout_ms = Integer(
        5000,
        help="How long a write waits for SQLite's lock before answering 503 UNAVAILABLE.",
    ).tag(config=True)

    def axon_config(self) -> AxonConfig:
        return AxonConfig(
            sqlite_busy_timeout_ms=self.sqlite_busy_timeout_ms,
            token_cache_seconds=self.token_cache_seconds,
            data_dir=self.data_dir,
            db_url=self.db_url,
            jwt_secret=self.jwt_secret,
            admin_email=self.admin_email,
            admin_password=self.admin_password,
            token_ttl=self.token_ttl,
            refresh_ttl=self.refresh_ttl,
            max_body_size=self.max_body_size,
            trust_jupyter_identity=self.trust_jupyter_identity,
            rate_limit_enabled=self.rate_limit_enabled,
            rate_limit_plans=dict(self.rate_limit_plans),
            rate_limit_window=self.rate_limit_window,
            bruteforce_account_attempts=self.bruteforce_account_attempts,
            bruteforce_address_attempts=self.bruteforce_address_attempts,
            bruteforce_lockout=self.bruteforce_lockout,
            bruteforce_max_lockout=self.bruteforce_max_lockout,
            oauth_code_ttl=self.oauth_code_ttl,
            oauth_issuer=self.oauth_issuer,
            owner_email=self.owner_email,
            sqlite_synchronous=self.sqlite_synchronous.upper(),
            code_nodes=self.code_nodes,
            http_allowed_hosts=list(self.http_allowed_hosts),
            http_max_response_bytes=self.http_max_response_bytes,
            notebook_root=self.notebook_root
            or getattr(self.serverapp, "root_dir", "")
            or os.getcwd(),
            notebook_kernel=self.notebook_kernel,
            max_concurrent_executions=self.max_concurrent_executions,
            max_parallel_nodes=self.max_parallel_nodes,
            max_running_nodes=self.max_running_nodes,
            execution_lease_seconds=self.execution_lease_seconds,
            worker_processes=self.worker_processes,
            worker_warm=self.worker_warm,
            worker_cpu_seconds=self.worker_cpu_seconds,
            worker_memory_mb=self.worker_memory_mb,
            worker_user=self.worker_user,
            ws_auth_timeout=self.ws_auth_timeout,
            ws_max_message_size=self.ws_max_message_size,
            ws_queue_size=self.ws_queue_size,
            ws_ping_interval=self.ws_ping_interval,
            ws_auth_recheck_interval=self.ws_auth_recheck_interval,
            health_interval=self.health_interval,
            graphql_max_depth=self.graphql_max_depth,
            graphql_max_cost=self.graphql_max_cost,
            graphql_max_tokens=self.graphql_max_tokens,
            graphql_max_aliases=self.graphql_max_aliases,
            graphql_offload_bytes=self.graphql_offload_bytes,
        )

    def initialize_settings(self) -> None:
        from .runtime import AxonRuntime

        self.runtime = AxonRuntime(self.axon_config())
        self.settings["axon"] = self.runtime

    def initialize_handlers(self) -> None:
        from .api.routes import handlers

        self.handlers.extend(handlers())

    async def _start_jupyter_server_extension(self, serverapp) -> None:
        await super()._start_jupyter_server_extension(serverapp)
        await self.runtime.ready()

    async def stop_extension(self) -> None:
        await self.runtime.stop()

    subcommands = {
        "create-user": ("axon_jupyter.app.CreateUserApp", "Create an Axon user."),
        "create-api-key": ("axon_jupyter.app.CreateApiKeyApp", "Create an API key (printed once)."),
    }


class _CliApp(AxonTraits, JupyterApp):
    """Base of the `jupyter axon <subcommand>` commands: same data dir and database."""

    aliases: dict = {}

    def run(self) -> None:
        from .runtime import AxonRuntime

        async def go() -> None:
            runtime = AxonRuntime(self.axon_config())
            await runtime.ready()
            try:
                await self.act(runtime)
            finally:
                await runtime.stop()

        try:
            asyncio.run(go())
        except Exception as exc:  # the CLI answers with a message, not a traceback
            message = getattr(exc, "message", None) or str(exc)
            details = getattr(exc, "details", None)
            print(f"error: {message}" + (f" {details}" if details else ""), file=sys.stderr)
            self.exit(1)

    def start(self) -> None:
        self.run()


class CreateUserApp(_CliApp):
    name = "jupyter-axon-create-user"
    description = "Create an Axon user: jupyter axon create-user --email E --password P"
    email = Unicode(help="Email of the new user.").tag(config=True)
    password = Unicode(help="Password (at least 8 characters).").tag(config=True)
    display_name = Unicode(help="Display name.").tag(config=True)
    plan = Unicode("standard", help="Plan: standard, pro or enterprise.").tag(config=True)
    admin = Bool(False, help="Make the user an admin.").tag(config=True)
    rate_limit = Integer(
        0, help="Requests per rate_limit_window for this user, overriding the plan (0: plan's)."
    ).tag(config=True)
    aliases = {
        "rate-limit": "CreateUserApp.rate_limit",
        "email": "CreateUserApp.email",
        "password": "CreateUserApp.password",
        "name": "CreateUserApp.display_name",
        "plan": "CreateUserApp.plan",
        "data-dir": "CreateUserApp.data_dir",
        "db-url": "CreateUserApp.db_url",
    }
    flags = {"admin": ({"CreateUserApp": {"admin": True}}, "Make the user an admin.")}

    async def act(self, runtime) -> None:
        if not self.email or not self.password:
            raise ValueError("--email and --password are required")
        user = await runtime.auth.create_user(
            self.email,
            self.password,
            name=self.display_name or None,
            plan=self.plan,
            role="admin" if self.admin else "member",
        )
        if self.rate_limit > 0:
            user.rate_limit = self.rate_limit
            await runtime.store.update_user(user)
        print(f"created user {user.id} <{user.email}> role={user.role} plan={user.plan}")


class CreateApiKeyApp(_CliApp):
    name = "jupyter-axon-create-api-key"
    description = "Create an API key for a user; the key is printed once."
    email = Unicode(help="Email of the key's owner.").tag(config=True)
    key_name = Unicode("cli", help="Name of the key.").tag(config=True)
    scopes = Unicode(
        "", help="Space- or comma-separated scopes (default: all the user may hold)."
    ).tag(config=True)
    aliases = {
        "email": "CreateApiKeyApp.email",
        "name": "CreateApiKeyApp.key_name",
        "scopes": "CreateApiKeyApp.scopes",
        "data-dir": "CreateApiKeyApp.data_dir",
        "db-url": "CreateApiKeyApp.db_url",
    }

    async def act(self, runtime) -> None:
        user = await runtime.store.get_user_by_email(self.email)
        if user is None:
            raise ValueError(f"no user with email {self.email!r}")
        body: dict = {"name": self.key_name}
        if self.scopes.strip():
            body["scopes"] = [s for s in self.scopes.replace(",", " ").split() if s]
        record, key = await runtime.auth.create_api_key(user, body)
        print(key)
        print(
            f"# id={record.id} scopes={' '.join(record.scopes)} (shown once; store it now)",
            file=sys.stderr,
        )


def main() -> None:
    AxonApp.launch_instance()
