"""`/api-keys`: create (the key is shown once), list, revoke."""

from __future__ import annotations

from ..base import AxonHandler


class ApiKeysHandler(AxonHandler):
    async def get(self) -> None:
        keys = await self.axon.auth.list_api_keys(self.principal.user)
        self.write_json({"api_keys": [k.to_api() for k in keys]})

    async def post(self) -> None:
        record, key = await self.axon.auth.create_api_key(
            self.principal.user, self.json_body(default={}), within=self.principal.scopes
        )
        self.created({**record.to_api(), "key": key}, self.request.path + "/" + record.id)


class ApiKeyHandler(AxonHandler):
    async def delete(self, key_id: str) -> None:
        await self.axon.auth.revoke_api_key(self.principal.user, key_id)
        self.no_content()


routes = [
    (r"/api-keys", ApiKeysHandler),
    (r"/api-keys/([^/]+)", ApiKeyHandler),
]
