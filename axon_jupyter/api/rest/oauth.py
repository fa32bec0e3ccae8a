"""OAuth 2.0 endpoints: client registry, consent page, token, revocation, metadata.

Transport only: each handler turns the tornado request into `HttpRequestData`, calls
the OAuth service and writes back what it answers. Shapes:
- `/oauth/clients` is an Axon resource and speaks the Axon envelope;
- `/oauth/token` and `/oauth/revoke` speak RFC 6749's JSON (`{"error": "invalid_grant"}`),
  what OAuth client libraries parse, including their 429;
- `/oauth/authorize` is an HTML page (jinja2): sign in (or be signed in through
  Jupyter), see the client and scopes, approve or deny. The form is CSRF-protected with
  tornado's `_xsrf` double-submit token, always, whoever the requester is.
- RFC 8414 metadata is served under the API and at the server root (see `root_routes`).
"""

from __future__ import annotations

import urllib.parse
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from jupyter_server.utils import url_path_join
from tornado import httputil, web

from ...auth.oauth import HttpRequestData, OAuthResponse
from ...errors import RateLimited, Unauthorized
from ...services.oauth import ConsentRequest
from .. import jsonbody
from ..base import AxonHandler

FORM = "application/x-www-form-urlencoded"
MAX_FORM_FIELDS = 50


@cache
def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("axon_jupyter", "templates"),
        autoescape=select_autoescape(["html"]),
    )


class OAuthHandler(AxonHandler):
    """Shared plumbing: request data for authlib, form parsing, OAuth-shaped answers."""

    auth_required = False

    def form_fields(self) -> dict[str, list[str]]:
        """The urlencoded body (tornado does not parse streamed bodies); also fed to
        tornado's own arguments so that its XSRF check can read `_xsrf`."""
        content_type = self.request.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip().lower() != FORM:
            return {}
        raw = self.raw_body()
        try:
            fields = urllib.parse.parse_qs(
                raw.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS
            )
        except (UnicodeDecodeError, ValueError):
            return {}
        httputil.parse_body_arguments(
            content_type, raw, self.request.body_arguments, self.request.files
        )
        for name, values in self.request.body_arguments.items():
            self.request.arguments.setdefault(name, []).extend(values)
        return fields

    def request_data(self, form: dict[str, list[str]] | None = None) -> HttpRequestData:
        return HttpRequestData(
            method=self.request.method or "GET",
            uri=self.request.full_url(),
            headers=dict(self.request.headers),
            query=urllib.parse.parse_qs(self.request.query, keep_blank_values=True),
            form=form or {},
        )

    def write_oauth(self, response: OAuthResponse) -> None:
        """An OAuth JSON answer (token, revocation): status, headers and body as given."""
        self.set_status(response.status)
        for name, value in response.headers:
            if name.lower() != "content-type":
                self.set_header(name, value)
        self.set_header("Cache-Control", "no-store")
        body = response.body if isinstance(response.body, dict) else {}
        self.finish(jsonbody.dumps(body), set_content_type="application/json; charset=UTF-8")

    def require_form(self) -> dict[str, list[str]] | None:
        content_type = self.request.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip().lower() == FORM:
            return self.form_fields()
        self.write_oauth(
            OAuthResponse(
                400,
                {
                    "error": "invalid_request",
                    "error_description": f"The body must be {FORM}.",
                },
                [],
            )
        )
        return None


class TokenHandler(OAuthHandler):
    async def post(self) -> None:
        form = self.require_form()
        if form is not None:
            data = self.request_data(form)
            self.write_oauth(await self.axon.oauth.token(data, self.request.remote_ip))


class RevokeHandler(OAuthHandler):
    async def post(self) -> None:
        form = self.require_form()
        if form is not None:
            data = self.request_data(form)
            self.write_oauth(await self.axon.oauth.revoke(data, self.request.remote_ip))


class AuthorizeHandler(OAuthHandler):
    """GET shows the consent page; POST (the page's form) approves or denies."""

    @property
    def content_security_policy(self) -> str:
        # Inline styles only; never framed (clickjacking a consent button is the attack).
        return (
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"
        )

    async def jupyter_user(self):
        """The account a Jupyter login (cookie or token) acts as, if any."""
        if self.current_user is None or not self.axon.config.trust_jupyter_identity:
            return None
        return await self.axon.owner(getattr(self.current_user, "username", None))

    def html(self, name: str, status: int = 200, **context: Any) -> None:
        self.set_status(status)
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("Cache-Control", "no-store")
        self.set_header("Referrer-Policy", "no-referrer")
        page = _templates().get_template(name).render(**context)
        self.finish(page, set_content_type="text/html; charset=UTF-8")

    def answer(self, response: OAuthResponse) -> None:
        """A redirect back to the client, or an error page when redirecting is unsafe."""
        if response.location:
            self.set_header("Cache-Control", "no-store")
            self.redirect(response.location)
            return
        body = response.body if isinstance(response.body, dict) else {}
        self.html(
            "oauth_error.html",
            response.status if response.status >= 400 else 400,
            error=body.get("error", "invalid_request"),
            description=body.get("error_description"),
        )

    def consent_page(
        self, prompt: ConsentRequest, user, *, error: str = "", email: str = "", status: int = 200
    ) -> None:
        self.html(
            "oauth_authorize.html",
            status,
            client=prompt.client,
            scopes=prompt.scope_rows(),
            redirect_host=urllib.parse.urlsplit(prompt.redirect_uri).netloc or prompt.redirect_uri,
            action=self.request.uri,
            xsrf_token=self.xsrf_token.decode(),
            user=user,
            error=error,
            email=email,
        )

    async def get(self) -> None:
        prompt = await self.axon.oauth.consent_request(self.request_data())
        if isinstance(prompt, OAuthResponse):
            self.answer(prompt)
            return
        self.consent_page(prompt, await self.jupyter_user())

    async def post(self) -> None:
        form = self.form_fields()
        try:
            web.RequestHandler.check_xsrf_cookie(self)
        except web.HTTPError:
            self.html(
                "oauth_error.html",
                403,
                error="invalid_request",
                description="This form expired or was not sent from this page. "
                "Go back to the application and start again.",
            )
            return
        data = self.request_data()
        decision = (form.get("decision") or [""])[0]
        user = await self.jupyter_user()
        if decision == "approve" and user is None:
            email = (form.get("email") or [""])[0][:320]
            password = (form.get("password") or [""])[0][:1024]
            try:
                if not email or not password:
                    raise Unauthorized("Enter your email and password.")
                user = await self.axon.oauth.sign_in(email, password, self.request.remote_ip)
            except (Unauthorized, RateLimited) as exc:
                prompt = await self.axon.oauth.consent_request(data)
                if isinstance(prompt, OAuthResponse):
                    self.answer(prompt)
                    return
                if isinstance(exc, RateLimited):
                    self.set_header("Retry-After", str(exc.retry_after))
                self.consent_page(prompt, None, error=exc.message, email=email, status=exc.status)
                return
        response = await self.axon.oauth.decide(data, user, approve=decision == "approve")
        self.answer(response)


class MetadataHandler(OAuthHandler):
    """RFC 8414 authorization server metadata."""

    async def get(self) -> None:
        default_issuer = f"{self.request.protocol}://{self.request.host}" + url_path_join(
            self.base_url, "axon/v1"
        )
        self.write_json(self.axon.oauth.metadata(default_issuer))


class OAuthClientsHandler(AxonHandler):
    required_scopes = {"get": "admin", "post": "admin"}

    async def get(self) -> None:
        clients = await self.axon.oauth.list_clients(self.principal)
        self.write_json({"clients": [c.to_api() for c in clients]})

    async def post(self) -> None:
        client, secret = await self.axon.oauth.register_client(self.principal, self.json_body())
        body = client.to_api()
        if secret is not None:
            body["client_secret"] = secret  # shown once; only its hash is kept
        self.set_header("Cache-Control", "no-store")
        self.created(body, f"{self.request.path}/{client.id}")


class OAuthClientHandler(AxonHandler):
    required_scopes = {"get": "admin", "delete": "admin"}

    async def get(self, client_id: str) -> None:
        client = await self.axon.oauth.get_client(self.principal, client_id)
        self.write_json(client.to_api())

    async def delete(self, client_id: str) -> None:
        await self.axon.oauth.delete_client(self.principal, client_id)
        self.no_content()


routes = [
    (r"/oauth/clients", OAuthClientsHandler),
    (r"/oauth/clients/([^/]+)", OAuthClientHandler),
    (r"/oauth/authorize", AuthorizeHandler),
    (r"/oauth/token", TokenHandler),
    (r"/oauth/revoke", RevokeHandler),
    (r"/.well-known/oauth-authorization-server", MetadataHandler),
]

# Also at the server root ({base_url}.well-known/...): the plain location discovery tools
# probe first, and RFC 8414's own location for the issuer {base_url}axon/v1 (the suffix
# inserted before the path), which is exactly right when base_url is "/". Jupyter serves
# nothing under /.well-known, so these clash with nothing.
root_routes = [
    (r"/.well-known/oauth-authorization-server", MetadataHandler),
    (r"/.well-known/oauth-authorization-server/axon/v1", MetadataHandler),
]
