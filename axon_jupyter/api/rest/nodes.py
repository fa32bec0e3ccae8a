"""`/nodes`, `/nodes/{id}` and `/nodes/{id}/versions`: the node catalog, in the seed's JSON
plus `config_schema` and `builtin`."""

from __future__ import annotations

from urllib.parse import quote

from ..base import AxonHandler

READ = {"get": "workflows:read"}
WRITE = {"get": "workflows:read", "post": "nodes:write"}


class NodesHandler(AxonHandler):
    required_scopes = WRITE

    async def get(self) -> None:
        nodes = await self.axon.nodes.list(
            self.principal,
            category=self.get_query_argument("category", None),
            search=self.get_query_argument("search", None),
            version=self.get_query_argument("version", None),
            builtin=self.get_query_argument("builtin", None),
        )
        self.write_json({"nodes": [nt.to_api() for nt in nodes]})

    async def post(self) -> None:
        nt = await self.axon.nodes.register(self.principal, self.json_body())
        location = f"{self.request.path}/{quote(nt.id)}?version={quote(nt.version)}"
        self.created(nt.to_api(), location)


class NodeHandler(AxonHandler):
    required_scopes = READ

    async def get(self, node_id: str) -> None:
        nt = await self.axon.nodes.get(
            self.principal, node_id, self.get_query_argument("version", None)
        )
        self.write_json(nt.to_api())


class NodeVersionsHandler(AxonHandler):
    required_scopes = READ

    async def get(self, node_id: str) -> None:
        versions = await self.axon.nodes.versions(self.principal, node_id)
        self.write_json({"versions": [nt.to_api() for nt in versions]})


routes = [
    (r"/nodes", NodesHandler),
    (r"/nodes/([^/]+)", NodeHandler),
    (r"/nodes/([^/]+)/versions", NodeVersionsHandler),
]
