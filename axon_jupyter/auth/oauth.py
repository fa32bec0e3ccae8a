"""The OAuth 2.0 authorization server: authlib's protocol code wired to Axon's store.

authlib implements the protocol (RFC 6749 grants, RFC 7636 PKCE, RFC 7009 revocation);
it ships integrations for Flask and Django but none for tornado, and it is synchronous.
This module is the small adapter:

- `HttpRequestData` is what the transport hands in (method, URL, headers, query, form):
  plain data, so nothing here imports tornado; `AxonAuthorizationServer` turns it into an
  authlib `OAuth2Request` (`create_oauth2_request`) and hands back `OAuthResponse`
  (`handle_response`).
- authlib's callbacks are synchronous but the store is async. The service runs each
  protocol call in a small worker pool; a callback that needs the database submits the
  coroutine to the event loop and waits for it (`run`). The loop is never blocked, and
  the store keeps its single writer.

Policy on top of authlib: authorization code + PKCE (S256 only; required for public
clients), client credentials (acting as the client's owner), refresh tokens rotated on
every use with reuse revoking the whole grant, single-use short-lived codes whose replay
revokes what they issued, no implicit and no password grant. Access tokens are the same
HS256 JWTs as a login's (`TokenSigner.issue_access` with `scope` and `client_id`), so
every endpoint accepts them; their `fam` claim ties them to the grant for revocation.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
from collections import defaultdict
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Payload,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    RefreshTokenGrant,
)
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge, create_s256_code_challenge

from ..errors import Unauthorized
from ..models import User, from_epoch, utcnow
from .identity import ALL_SCOPES
from .oauth_models import (
    REFRESH_PREFIX,
    AccessTokenRef,
    AuthorizationCode,
    OAuthClient,
    OAuthRefreshToken,
    digest,
    new_secret,
    scope_list,
    scope_str,
)
from .tokens import TokenSigner, looks_like_jwt

log = logging.getLogger("axon.oauth")
# authlib logs every issued token at DEBUG; secrets must never reach a log, whatever the
# root logger's level.
logging.getLogger("authlib").setLevel(logging.INFO)
T = TypeVar("T")
CLIENT_CREDENTIALS_FAMILY = "cc:"  # + client id (see store/oauth.py)
MAX_PARAM_LENGTH = 4096


# ------------------------------------------------------------------ request / response
def _canonical(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


@dataclass(slots=True)
class HttpRequestData:
    """One HTTP request as plain data; `query` and `form` keep repeated parameters."""

    method: str
    uri: str
    headers: dict[str, str]
    query: dict[str, list[str]] = field(default_factory=dict)
    form: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.headers = {_canonical(k): v for k, v in self.headers.items()}


@dataclass(slots=True)
class OAuthResponse:
    status: int
    body: dict[str, Any] | str
    headers: list[tuple[str, str]]

    @property
    def location(self) -> str | None:
        return next((v for k, v in self.headers if k.lower() == "location"), None)

    @property
    def error(self) -> str | None:
        return self.body.get("error") if isinstance(self.body, dict) else None


class _Payload(OAuth2Payload):
    def __init__(self, params: Mapping[str, list[str]]):
        self._datalist = defaultdict(list, {k: list(v) for k, v in params.items()})
        self._data = {k: v[0] for k, v in params.items() if v}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list]:
        return self._datalist


class AxonOAuth2Request(OAuth2Request):
    """authlib's request over `HttpRequestData`. The authorization endpoint reads its
    parameters from the query string only, the token and revocation endpoints from the
    form body only (RFC 6749 3.1, 3.2), so a sign-in form can never smuggle a parameter
    into the authorization request."""

    def __init__(self, data: HttpRequestData, *, from_form: bool):
        super().__init__(data.method, data.uri, headers=data.headers)
        params = data.form if from_form else data.query
        self.payload = _Payload(params)
        self._args = {k: v[0] for k, v in data.query.items() if v}
        self._form = {k: v[0] for k, v in data.form.items() if v}
        self.axon_family: str | None = None

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


# ------------------------------------------------------------------ grants
def grantable_scope(scope: str | None, user: User) -> str:
    """The scope a user can actually delegate: `admin` only from an admin."""
    scopes = [s for s in scope_list(scope) if s in ALL_SCOPES]
    if not user.is_admin:
        scopes = [s for s in scopes if s != "admin"]
    return scope_str(scopes)


class _AxonGrant:
    """Token issuing shared by every grant: Axon JWTs plus rotating opaque refresh tokens."""

    server: AxonAuthorizationServer
    request: AxonOAuth2Request

    def generate_token(
        self,
        user: User | None = None,
        scope: str | None = None,
        grant_type: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        return self.server.issue_tokens(
            self.request, user=user, scope=scope, include_refresh_token=include_refresh_token
        )


def _compare_s256(verifier: str, challenge: str) -> bool:
    return hmac.compare_digest(create_s256_code_challenge(verifier), challenge)


class _S256CodeChallenge(CodeChallenge):
    """PKCE with S256 only: `plain` (which is also what an absent method means) would
    send the secret in the clear, so it is refused; public clients must use PKCE."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    CODE_CHALLENGE_METHODS = {"S256": _compare_s256}

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        challenge = data.get("code_challenge")
        if not challenge and grant.request.client.is_public:
            raise InvalidRequestError(
                "Public clients must use PKCE: send code_challenge with code_challenge_method=S256."
            )
        if challenge and data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256; plain is refused.")
        return super().validate_code_challenge(grant, redirect_uri)


class _AuthorizationCodeGrant(_AxonGrant, AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def create_authorization_response(self, redirect_uri: str, grant_user):
        self.redirect_uri = redirect_uri
        return super().create_authorization_response(redirect_uri, grant_user)

    def save_authorization_code(self, code: str, request: AxonOAuth2Request) -> None:
        scope = grantable_scope(request.scope, request.user)
        if not scope:
            raise InvalidScopeError(
                "None of the requested scopes can be granted by this account.",
                redirect_uri=self.redirect_uri,
            )
        data = request.payload.data
        now = utcnow()
        self.server.run(
            self.server.store.add_oauth_code(
                AuthorizationCode(
                    code_hash=digest(code),
                    client_id=request.client.id,
                    user_id=request.user.id,
                    redirect_uri=request.payload.redirect_uri or "",
                    scope=scope,
                    created_at=now,
                    expires_at=now + timedelta(seconds=self.server.code_ttl),
                    code_challenge=data.get("code_challenge"),
                    code_challenge_method=data.get("code_challenge") and "S256",
                )
            )
        )

    def query_authorization_code(self, code: str, client: OAuthClient):
        if len(code) > MAX_PARAM_LENGTH:
            return None
        record = self.server.run(self.server.store.get_oauth_code(digest(code)))
        if record is None or not hmac.compare_digest(record.client_id, client.id):
            return None
        if record.used_at is not None:
            # A replayed code: someone else holds a copy. Revoke what it issued.
            if record.family:
                self.server.revoke_family(record.family)
            return None
        if record.is_expired():
            return None
        record.family = secrets.token_urlsafe(12)  # the grant its tokens will belong to
        return record

    def authenticate_user(self, authorization_code: AuthorizationCode) -> User | None:
        return self.server.run(self.server.store.get_user(authorization_code.user_id))

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        """Spend the code: exactly one exchange wins; a concurrent replay that lost the
        race revokes both its own tokens and the winner's."""
        won = self.server.run(
            self.server.store.use_oauth_code(
                authorization_code.code_hash, authorization_code.family, utcnow()
            )
        )
        if not won:
            self.server.revoke_family(authorization_code.family)
            replayed = self.server.run(
                self.server.store.get_oauth_code(authorization_code.code_hash)
            )
            if replayed is not None and replayed.family:
                self.server.revoke_family(replayed.family)
            raise InvalidGrantError("Invalid 'code' in request.")


class _RefreshTokenGrant(_AxonGrant, RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation: every use returns a new refresh token

    def authenticate_refresh_token(self, refresh_token: str) -> OAuthRefreshToken | None:
        if not refresh_token.startswith(REFRESH_PREFIX) or len(refresh_token) > 200:
            return None
        record = self.server.run(self.server.store.get_oauth_refresh_token(digest(refresh_token)))
        if record is None or record.is_revoked():
            return None
        if record.used_at is not None:
            # A rotated token came back: its holder is not the only one. End the grant.
            self.server.revoke_family(record.family)
            return None
        if record.is_expired():
            return None
        return record

    def authenticate_user(self, refresh_token: OAuthRefreshToken) -> User | None:
        return self.server.run(self.server.store.get_user(refresh_token.user_id))

    def revoke_old_credential(self, refresh_token: OAuthRefreshToken) -> None:
        """Retire the presented token; losing the race to a concurrent use is reuse."""
        won = self.server.run(
            self.server.store.use_oauth_refresh_token(refresh_token.token_hash, utcnow())
        )
        if not won:
            self.server.revoke_family(refresh_token.family)
            raise InvalidGrantError("The refresh token was already used.")


class _ClientCredentialsGrant(_AxonGrant, ClientCredentialsGrant):
    """The client acts as its owner, within the scopes it was registered with."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def validate_token_request(self) -> None:
        super().validate_token_request()
        if self.request.client.get_allowed_scope(self.request.payload.scope) is None:
            raise InvalidScopeError()


class _RevocationEndpoint(RevocationEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def query_token(self, token_string: str, token_type_hint: str | None):
        server: AxonAuthorizationServer = self.server
        if len(token_string) > MAX_PARAM_LENGTH:
            return None
        if looks_like_jwt(token_string):
            try:
                claims = server.signer.decode(token_string, "access")
            except Unauthorized:
                return None  # expired or forged: nothing to revoke (RFC 7009: still 200)
            return AccessTokenRef(claims.jti, claims.exp, claims.client_id, claims.scope or "")
        if token_string.startswith(REFRESH_PREFIX):
            return server.run(server.store.get_oauth_refresh_token(digest(token_string)))
        return None

    def revoke_token(self, token, request) -> None:
        server: AxonAuthorizationServer = self.server
        if isinstance(token, AccessTokenRef):
            server.run(server.store.revoke_jti(token.jti, from_epoch(token.exp)))
        else:
            # RFC 7009 2.1: revoking a refresh token also ends the access tokens of its grant.
            server.revoke_family(token.family)


# ------------------------------------------------------------------ the server
class AxonAuthorizationServer(AuthorizationServer):
    """authlib's AuthorizationServer for tornado-free request data and an async store.

    Every public entry point (`get_consent_grant`, `create_authorization_response`,
    `create_token_response`, `create_endpoint_response`) must be called from a worker
    thread while the event loop `loop` runs (see services/oauth.py)."""

    def __init__(self, store, signer: TokenSigner, *, code_ttl: float):
        super().__init__(scopes_supported=list(ALL_SCOPES))
        self.store = store
        self.signer = signer
        self.code_ttl = code_ttl
        self.loop: asyncio.AbstractEventLoop | None = None
        self.register_grant(_AuthorizationCodeGrant, [_S256CodeChallenge(required=True)])
        self.register_grant(_RefreshTokenGrant)
        self.register_grant(_ClientCredentialsGrant)
        self.register_endpoint(_RevocationEndpoint)

    # ---- bridge to the event loop
    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a store coroutine on the event loop and wait for it (worker thread only)."""
        loop = self.loop
        try:
            on_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            on_loop = False
        if loop is None or on_loop:
            coro.close()
            raise RuntimeError("OAuth protocol calls must run in a worker thread")
        return asyncio.run_coroutine_threadsafe(coro, loop).result()

    def revoke_family(self, family: str) -> None:
        until = utcnow() + timedelta(seconds=self.signer.access_ttl + 60)
        self.run(self.store.revoke_oauth_family(family, utcnow(), until))

    # ---- what authlib asks of a framework integration
    def create_oauth2_request(self, request) -> AxonOAuth2Request:
        if isinstance(request, AxonOAuth2Request):
            return request
        return AxonOAuth2Request(request, from_form=request.method.upper() == "POST")

    def create_authorization_request(self, request: HttpRequestData) -> AxonOAuth2Request:
        """The authorization endpoint's request: parameters from the query string, for
        the GET that shows the consent page and for the POST that answers it alike."""
        return AxonOAuth2Request(request, from_form=False)

    def handle_response(self, status, body, headers) -> OAuthResponse:
        return OAuthResponse(status, body, list(headers))

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        client = kwargs.get("client")
        log.debug("oauth %s client=%s", name, getattr(client, "id", None))

    def query_client(self, client_id: str) -> OAuthClient | None:
        if not client_id or len(client_id) > 200:
            return None
        return self.run(self.store.get_oauth_client(client_id))

    # ---- tokens
    def issue_tokens(
        self,
        request: AxonOAuth2Request,
        *,
        user: User | None,
        scope: str | None,
        include_refresh_token: bool,
    ) -> dict[str, Any]:
        client: OAuthClient = request.client
        if request.authorization_code is not None:
            family = request.authorization_code.family
        elif request.refresh_token is not None:
            family = request.refresh_token.family
        else:  # client credentials: the client acts as its owner
            family = CLIENT_CREDENTIALS_FAMILY + client.id
            scope = client.get_allowed_scope(scope)
            user = self.run(self.store.get_user(client.owner_id))
            if user is None:
                raise InvalidGrantError("The client's owner no longer exists.")
            request.user = user
        granted = grantable_scope(scope, user)
        if not granted:
            raise InvalidScopeError("None of the requested scopes can be granted.")
        access, _ = self.signer.issue_access(
            user.id, scope=granted, client_id=client.id, fam=family
        )
        request.axon_family = family
        token: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.signer.access_ttl,
            "scope": granted,
        }
        if include_refresh_token:
            token["refresh_token"] = new_secret(REFRESH_PREFIX)
        return token

    def save_token(self, token: dict[str, Any], request: AxonOAuth2Request) -> None:
        """Access tokens are self-contained JWTs; only refresh tokens are stored (hashed)."""
        if "refresh_token" not in token:
            return
        now = utcnow()
        self.run(
            self.store.add_oauth_refresh_token(
                OAuthRefreshToken(
                    token_hash=digest(token["refresh_token"]),
                    family=request.axon_family,
                    client_id=request.client.id,
                    user_id=request.user.id,
                    scope=token["scope"],
                    created_at=now,
                    expires_at=now + timedelta(seconds=self.signer.refresh_ttl),
                )
            )
        )
