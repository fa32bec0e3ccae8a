"""`/auth/login`, `/auth/refresh`, `/auth/logout`, `/auth/me`."""

from __future__ import annotations

from ..base import AxonHandler


class LoginHandler(AxonHandler):
    auth_required = False

    async def post(self) -> None:
        body = self.json_body()
        self.write_json(await self.axon.auth.login(body, address=self.request.remote_ip))


class RefreshHandler(AxonHandler):
    auth_required = False

    async def post(self) -> None:
        self.write_json(await self.axon.auth.refresh(self.json_body()))


class LogoutHandler(AxonHandler):
    async def post(self) -> None:
        await self.axon.auth.logout(self.principal)
        self.no_content()


class MeHandler(AxonHandler):
    async def get(self) -> None:
        self.write_json({"user": self.principal.user.to_api(), "via": self.principal.via})


routes = [
    (r"/auth/login", LoginHandler),
    (r"/auth/refresh", RefreshHandler),
    (r"/auth/logout", LogoutHandler),
    (r"/auth/me", MeHandler),
]
