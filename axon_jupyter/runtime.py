"""The object graph of one Axon instance: store, services, and their start/stop.

Built by AxonApp inside Jupyter, by the CLI subcommands, and by the embedded server a
kernel starts; handlers reach it as `settings["axon"]`. `ready()` is the initialization
gate: the first caller opens the store, everyone awaits the same work.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from .auth.bruteforce import BruteForceGuard
from .auth.ratelimit import RateLimiter
from .auth.tokens import TokenSigner
from .config import AxonConfig
from .engine.engine import Engine
from .engine.engine import settings_from_config as engine_settings
from .engine.events import EventBus
from .errors import Unavailable
from .nodes.catalog import NodeCatalog, settings_from_config
from .services.auth import AuthService
from .services.executions import ExecutionService
from .services.health import HealthMonitor
from .services.nodes import NodeService
from .services.workflows import WorkflowService
from .store.sqlite import SqliteStore, sqlite_path_from_url

log = logging.getLogger("axon")


class AxonRuntime:
    def __init__(self, config: AxonConfig):
        self.config = config.resolved()
        self.store = SqliteStore(
            sqlite_path_from_url(self.config.db_url),
            synchronous=self.config.sqlite_synchronous,
            busy_timeout_ms=self.config.sqlite_busy_timeout_ms,
        )
        self.signer = TokenSigner(
            self.config.jwt_secret,
            access_ttl=self.config.token_ttl,
            refresh_ttl=self.config.refresh_ttl,
        )
        cfg = self.config
        # One budget per user across REST, GraphQL and WebSocket: see auth/ratelimit.py.
        self.limiter = RateLimiter(
            cfg.rate_limit_plans, window=cfg.rate_limit_window, enabled=cfg.rate_limit_enabled
        )
        self.bruteforce = BruteForceGuard(
            account_attempts=cfg.bruteforce_account_attempts,
            address_attempts=cfg.bruteforce_address_attempts,
            lockout=cfg.bruteforce_lockout,
            max_lockout=cfg.bruteforce_max_lockout,
        )
        self.auth = AuthService(
            self.store,
            self.signer,
            bruteforce=self.bruteforce,
            token_cache_seconds=cfg.token_cache_seconds,
        )
        # The node catalog: built-ins and custom types; checks every saved definition.
        self.catalog = NodeCatalog(self.store, settings_from_config(self.config))
        self.nodes = NodeService(self.catalog, code_policy=self.config.code_nodes)
        self.workflows = WorkflowService(self.store, checker=self.catalog.check_definition)
        self.events = EventBus()
        # The engine runs what the catalog resolves (looked up late: tests may swap it).
        self.engine = Engine(
            self.store, self.events, engine_settings(self.config), catalog=lambda: self.catalog
        )
        self.executions = ExecutionService(self.store, self.engine, self.workflows)
        self.health = HealthMonitor(self.store, self.events, interval=self.config.health_interval)
        # Transports register here to close their live connections (1001) on shutdown.
        self.closing_hooks: list[Callable[[], None]] = []
        self._started: asyncio.Task | None = None
        self._stopping = False
        self._owner_id: str | None = None
        self._oauth = None

    @property
    def oauth(self):
        """The OAuth 2.0 authorization server, built on first use (authlib loads lazily)."""
        if self._oauth is None:
            from .services.oauth import OAuthService

            self._oauth = OAuthService(self)
        return self._oauth

    async def ready(self) -> None:
        if self._stopping:
            # A request racing shutdown must not re-open what stop() is closing.
            raise Unavailable("Axon is shutting down", {"reason": "shutting_down"})
        if self._started is None:
            self._started = asyncio.ensure_future(self._start())
        await asyncio.shield(self._started)

    async def _start(self) -> None:
        await self.store.open()
        cfg = self.config
        if cfg.admin_email and cfg.admin_password:
            await self.auth.ensure_user(cfg.admin_email, cfg.admin_password, role="admin")
        await self.engine.start()
        self.health.start()
        log.info("Axon store ready at %s", cfg.db_url)

    async def owner(self, jupyter_name: str | None = None):
        """The Axon account a Jupyter-authenticated request acts as.

        It is the configured admin when there is one (so the notebook and the REST
        login see the same workflows), else a password-less admin created on first use.
        """
        if self._owner_id is not None:
            user = await self.store.get_user(self._owner_id)
            if user is not None:
                return user
        email = self.config.owner_email or self.config.admin_email or "jupyter@localhost"
        # The owner of a single-user server is not throttled by its own server's
        # standard plan: the enterprise budget applies (a configured admin keeps theirs).
        user = await self.auth.ensure_user(
            email, None, name=jupyter_name or "Jupyter owner", role="admin", plan="enterprise"
        )
        self._owner_id = user.id
        return user

    async def stop(self) -> None:
        self._stopping = True
        for hook in list(self.closing_hooks):
            hook()
        await self.health.stop()
        if self._started is not None and self._started.done() and not self._started.exception():
            await self.engine.stop()
        self.events.close()
        if self._started is not None and self._started.done() and not self._started.exception():
            await self.store.close()
        self._started = None
