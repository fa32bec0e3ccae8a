"""OAuth 2.0: client registration rules and the authorization server's entry points.

The transport (api/rest/oauth.py) hands in `HttpRequestData` and writes back what it
gets; the protocol itself is authlib's, adapted in auth/oauth.py. Rules that live here:
- only admins register clients; a client acts as its owner (the registering admin by
  default); admins see every client, an owner sees their own, anyone else gets 404;
- redirect URIs are absolute, fragment-free, https (http only on loopback, RFC 8252) or a
  reverse-domain private-use scheme, and are matched exactly;
- the token and revocation endpoints sit behind brute-force protection per client id
  and per address, answering 429 with Retry-After in RFC 6749's JSON, like their other
  errors (OAuth clients parse `error` as a string, so these endpoints keep that shape;
  /oauth/clients keeps Axon's envelope).
Never imports tornado.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

from authlib.oauth2.base import OAuth2Error
from authlib.oauth2.rfc6749.util import extract_basic_authorization

from ..auth.identity import ALL_SCOPES, SCOPE_DESCRIPTIONS, Principal
from ..auth.oauth import AxonAuthorizationServer, HttpRequestData, OAuthResponse
from ..auth.oauth_models import (
    CLIENT_TYPES,
    GRANT_TYPES,
    PUBLIC_GRANT_TYPES,
    SECRET_PREFIX,
    OAuthClient,
    digest,
    new_secret,
    scope_list,
)
from ..errors import Forbidden, RateLimited, not_found
from ..models import User, new_id, utcnow
from .inputs import get_str, invalid, reject_unknown, require_object

T = TypeVar("T")

AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
NO_STORE = [("Cache-Control", "no-store"), ("Pragma", "no-cache")]
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
MAX_REDIRECT_URIS = 20

# authlib is synchronous: protocol calls run here, store calls hop back to the loop.
# One small pool per process bounds how many OAuth requests are in flight at once.
_pool: ThreadPoolExecutor | None = None


def _protocol_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="axon-oauth")
    return _pool


@dataclass(frozen=True, slots=True)
class ConsentRequest:
    """A valid authorization request waiting for the resource owner's decision."""

    client: OAuthClient
    scopes: list[str]
    redirect_uri: str

    def scope_rows(self) -> list[tuple[str, str]]:
        return [(s, SCOPE_DESCRIPTIONS.get(s, s)) for s in self.scopes]


def redirect_uri_issue(uri: Any) -> str | None:
    """Why a redirect URI cannot be registered, or None when it can."""
    if not isinstance(uri, str) or not uri:
        return "must be a non-empty string"
    if len(uri) > 2000:
        return "must be at most 2000 characters"
    try:
        parts = urlsplit(uri)
        host = parts.hostname
    except ValueError:
        return "is not a valid URI"
    if "#" in uri:
        return "must not contain a fragment"
    if parts.scheme == "https":
        return None if host else "needs a host"
    if parts.scheme == "http":
        if host in LOOPBACK_HOSTS:
            return None
        return "must use https (http is allowed only for localhost / 127.0.0.1 / [::1])"
    if "." in parts.scheme and parts.scheme.replace(".", "").replace("-", "").isalnum():
        return None  # a private-use scheme for native apps (RFC 8252 7.1): com.example.app
    return "must be https, http on loopback, or a reverse-domain scheme (com.example.app:/cb)"


def _string_list(
    body: dict[str, Any], key: str, default: list[str], choices: tuple[str, ...]
) -> list[str]:
    value = body.get(key, default)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid(key, "must be a list of strings")
    if not value:
        raise invalid(key, "must not be empty")
    for item in value:
        if item not in choices:
            raise invalid(key, f"{item!r} is not allowed here", allowed=list(choices))
    return sorted(set(value), key=choices.index)


class OAuthService:
    def __init__(self, runtime: Any):
        self.store = runtime.store
        self.auth = runtime.auth
        self.guard = runtime.bruteforce
        self.config = runtime.config
        self.server = AxonAuthorizationServer(
            runtime.store, runtime.signer, code_ttl=runtime.config.oauth_code_ttl
        )

    async def _protocol(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        self.server.loop = loop
        return await loop.run_in_executor(_protocol_pool(), functools.partial(fn, *args))

    def _error(self, error: OAuth2Error) -> OAuthResponse:
        return self.server.handle_response(*error())

    # ------------------------------------------------------------ client registry
    @staticmethod
    def _require_admin(principal: Principal) -> None:
        if not principal.user.is_admin:
            raise Forbidden("only admins may register OAuth clients", {"role": "admin"})

    async def register_client(
        self, principal: Principal, body: Any
    ) -> tuple[OAuthClient, str | None]:
        """Register a client; the secret of a confidential client is returned once."""
        self._require_admin(principal)
        body = require_object(body)
        reject_unknown(
            body, {"name", "client_type", "redirect_uris", "scopes", "grant_types", "owner_id"}
        )
        name = get_str(body, "name", required=True, max_len=200, min_len=1)
        client_type = get_str(body, "client_type", default="confidential", choices=CLIENT_TYPES)
        public = client_type == "public"
        allowed_grants = PUBLIC_GRANT_TYPES if public else GRANT_TYPES
        grant_types = _string_list(body, "grant_types", list(allowed_grants), allowed_grants)
        owner = principal.user
        owner_id = get_str(body, "owner_id", max_len=100)
        if owner_id is not None and owner_id != owner.id:
            found = await self.store.get_user(owner_id)
            if found is None:
                raise invalid("owner_id", "no such user")
            owner = found
        scopes = _string_list(body, "scopes", [s for s in ALL_SCOPES if s != "admin"], ALL_SCOPES)
        if "admin" in scopes and not owner.is_admin:
            raise invalid("scopes", "the admin scope needs an admin owner")
        uris = body.get("redirect_uris", [])
        if not isinstance(uris, list):
            raise invalid("redirect_uris", "must be a list of URIs")
        if len(uris) > MAX_REDIRECT_URIS:
            raise invalid("redirect_uris", f"at most {MAX_REDIRECT_URIS} URIs")
        for index, uri in enumerate(uris):
            issue = redirect_uri_issue(uri)
            if issue:
                raise invalid(f"redirect_uris[{index}]", issue)
        if "authorization_code" in grant_types and not uris:
            raise invalid("redirect_uris", "the authorization_code grant needs a redirect URI")
        secret = None if public else new_secret(SECRET_PREFIX)
        client = OAuthClient(
            id=new_id("client"),
            name=name,
            owner_id=owner.id,
            created_by=principal.user.id,
            client_type=client_type,
            redirect_uris=list(dict.fromkeys(uris)),
            scopes=scopes,
            grant_types=grant_types,
            secret_hash=digest(secret) if secret else None,
        )
        await self.store.create_oauth_client(client)
        return client, secret

    async def list_clients(self, principal: Principal) -> list[OAuthClient]:
        user = principal.user
        return await self.store.list_oauth_clients(None if user.is_admin else user.id)

    async def get_client(self, principal: Principal, client_id: str) -> OAuthClient:
        client = await self.store.get_oauth_client(client_id)
        user = principal.user
        if client is None or not (user.is_admin or client.owner_id == user.id):
            raise not_found("OAuth client", client_id)
        return client

    async def delete_client(self, principal: Principal, client_id: str) -> None:
        """Delete a client; every token it was issued stops working at once."""
        await self.get_client(principal, client_id)
        until = utcnow() + timedelta(seconds=self.server.signer.access_ttl + 60)
        if not await self.store.delete_oauth_client(client_id, until):
            raise not_found("OAuth client", client_id)

    # ------------------------------------------------------------ authorization endpoint
    async def consent_request(self, data: HttpRequestData) -> ConsentRequest | OAuthResponse:
        """Validate an authorization request. Invalid client or redirect URI: an error
        to show (never a redirect, RFC 6749 4.1.2.1); other errors: a redirect carrying
        the error to the client; valid: what the consent page shows."""
        try:
            request = self.server.create_authorization_request(data)
            grant = await self._protocol(self.server.get_consent_grant, request, None)
        except OAuth2Error as error:
            return self._error(error)
        return ConsentRequest(
            client=grant.request.client,
            scopes=scope_list(grant.request.scope),
            redirect_uri=grant.redirect_uri,
        )

    async def decide(
        self, data: HttpRequestData, user: User | None, approve: bool
    ) -> OAuthResponse:
        """The resource owner's answer: a redirect with a code, or with access_denied."""

        def answer() -> OAuthResponse:
            request = self.server.create_authorization_request(data)
            grant = self.server.get_consent_grant(request, end_user=user)
            return self.server.create_authorization_response(
                request, grant_user=user if approve else None, grant=grant
            )

        try:
            return await self._protocol(answer)
        except OAuth2Error as error:
            return self._error(error)

    async def sign_in(self, email: str, password: str, address: str | None) -> User:
        """The consent page's sign-in: same checks and brute-force protection as login."""
        return await self.auth.verify_credentials(email, password, address)

    # ------------------------------------------------------------ token and revocation
    def _client_id_of(self, data: HttpRequestData) -> str | None:
        basic_id, _ = extract_basic_authorization(data.headers)
        client_id = basic_id or next(iter(data.form.get("client_id", [])), None)
        return client_id[:200] if client_id else None

    async def _guarded(
        self, data: HttpRequestData, address: str | None, call: Callable[[], Any]
    ) -> OAuthResponse:
        repeated = sorted(k for k, v in data.form.items() if len(v) > 1)
        if repeated:
            return OAuthResponse(
                400,
                {
                    "error": "invalid_request",
                    "error_description": f"Parameter '{repeated[0]}' is repeated.",
                },
                list(NO_STORE),
            )
        try:
            client_id = self._client_id_of(data)
        except UnicodeDecodeError:
            return OAuthResponse(
                401,
                {"error": "invalid_client", "error_description": "Malformed Basic credentials."},
                [*NO_STORE, ("WWW-Authenticate", 'Basic realm="axon"')],
            )
        keys = self.guard.keys("oauth", client_id, address)
        try:
            self.guard.begin(keys)
        except RateLimited as exc:
            return OAuthResponse(
                429,
                {
                    "error": "temporarily_unavailable",
                    "error_description": "Too many failed attempts; retry later.",
                    "retry_after": exc.retry_after,
                },
                [*NO_STORE, ("Retry-After", str(exc.retry_after))],
            )
        try:
            response = await self._protocol(call)
        except OAuth2Error as error:  # e.g. insecure_transport, raised before authlib's try
            response = self._error(error)
        if response.status == 200:
            self.guard.succeeded(keys)
        return response

    async def token(self, data: HttpRequestData, address: str | None) -> OAuthResponse:
        return await self._guarded(
            data, address, functools.partial(self.server.create_token_response, data)
        )

    async def revoke(self, data: HttpRequestData, address: str | None) -> OAuthResponse:
        return await self._guarded(
            data,
            address,
            functools.partial(self.server.create_endpoint_response, "revocation", data),
        )

    # ------------------------------------------------------------ discovery
    def issuer(self, default: str) -> str:
        return (self.config.oauth_issuer or default).rstrip("/")

    def metadata(self, default_issuer: str) -> dict[str, Any]:
        """RFC 8414 authorization server metadata."""
        issuer = self.issuer(default_issuer)
        return {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/oauth/authorize",
            "token_endpoint": f"{issuer}/oauth/token",
            "revocation_endpoint": f"{issuer}/oauth/revoke",
            "scopes_supported": list(ALL_SCOPES),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": list(GRANT_TYPES),
            "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
            "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
            "code_challenge_methods_supported": ["S256"],
        }
