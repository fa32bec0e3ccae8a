"""`/health` (no auth) and `/openapi.json` (the REST contract, kept true by a test)."""

from __future__ import annotations

from ..._version import __version__
from ..base import AxonHandler


class HealthHandler(AxonHandler):
    auth_required = False

    async def get(self) -> None:
        self.write_json({"status": "ok", "version": __version__})


class OpenAPIHandler(AxonHandler):
    auth_required = False

    async def get(self) -> None:
        from ..openapi import openapi_document

        self.write_json(openapi_document())


routes = [
    (r"/health", HealthHandler),
    (r"/openapi.json", OpenAPIHandler),
]
