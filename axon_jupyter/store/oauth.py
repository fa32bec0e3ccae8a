"""SQLite persistence of the OAuth 2.0 authorization server (a mixin of SqliteStore).

Contract, on top of store/base.py's:
- Codes and refresh tokens are looked up by the SHA-256 of their value, never stored raw.
- Single use is decided by one compare-and-set write (`use_oauth_code`,
  `use_oauth_refresh_token`): of two concurrent exchanges of the same code or refresh
  token exactly one wins, the other is told it came second (reuse).
- Revoking a family marks its refresh tokens and writes the `fam:<family>` marker that
  access-token authentication already checks, in one transaction: tokens of a revoked
  grant stop working at once, wherever they are presented.
Relies on SqliteStore's `_read`, `_write` and `transaction`; never imports tornado.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ..auth.oauth_models import AuthorizationCode, OAuthClient, OAuthRefreshToken
from ..models import from_epoch

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_CLIENT_COLS = (
    "id, name, owner_id, created_by, client_type, secret_hash, redirect_uris, scopes, "
    "grant_types, created_at"
)
_CODE_COLS = (
    "code_hash, client_id, user_id, redirect_uri, scope, code_challenge, "
    "code_challenge_method, created_at, expires_at, used_at, family"
)
_REFRESH_COLS = (
    "token_hash, family, client_id, user_id, scope, created_at, expires_at, used_at, revoked_at"
)
CLIENT_CREDENTIALS_FAMILY = "cc:"  # + client id: the family of client-credentials tokens


def _ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _client(row: Any) -> OAuthClient:
    return OAuthClient(
        id=row[0],
        name=row[1],
        owner_id=row[2],
        created_by=row[3],
        client_type=row[4],
        secret_hash=row[5],
        redirect_uris=json.loads(row[6]),
        scopes=json.loads(row[7]),
        grant_types=json.loads(row[8]),
        created_at=from_epoch(row[9]),
    )


def _code(row: Any) -> AuthorizationCode:
    return AuthorizationCode(
        code_hash=row[0],
        client_id=row[1],
        user_id=row[2],
        redirect_uri=row[3],
        scope=row[4],
        code_challenge=row[5],
        code_challenge_method=row[6],
        created_at=from_epoch(row[7]),
        expires_at=from_epoch(row[8]),
        used_at=from_epoch(row[9]),
        family=row[10],
    )


def _refresh(row: Any) -> OAuthRefreshToken:
    return OAuthRefreshToken(
        token_hash=row[0],
        family=row[1],
        client_id=row[2],
        user_id=row[3],
        scope=row[4],
        created_at=from_epoch(row[5]),
        expires_at=from_epoch(row[6]),
        used_at=from_epoch(row[7]),
        revoked_at=from_epoch(row[8]),
    )


class OAuthStoreMixin:
    """OAuth tables of SqliteStore (clients, codes, refresh tokens)."""

    # ---------------------------------------------------------------- clients
    async def create_oauth_client(self, client: OAuthClient) -> None:
        await self._write(
            f"INSERT INTO oauth_clients ({_CLIENT_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                client.id,
                client.name,
                client.owner_id,
                client.created_by,
                client.client_type,
                client.secret_hash,
                _dumps(client.redirect_uris),
                _dumps(client.scopes),
                _dumps(client.grant_types),
                _ts(client.created_at),
            ),
        )

    async def get_oauth_client(self, client_id: str) -> OAuthClient | None:
        rows = await self._read(
            f"SELECT {_CLIENT_COLS} FROM oauth_clients WHERE id = ?", (client_id,)
        )
        return _client(rows[0]) if rows else None

    async def list_oauth_clients(self, owner_id: str | None = None) -> list[OAuthClient]:
        """Every client (owner_id None: the admin's view) or those acting as one user."""
        where, params = ("WHERE owner_id = ?", (owner_id,)) if owner_id else ("", ())
        rows = await self._read(
            f"SELECT {_CLIENT_COLS} FROM oauth_clients {where} ORDER BY created_at DESC, id",
            params,
        )
        return [_client(r) for r in rows]

    async def delete_oauth_client(self, client_id: str, marker_until: datetime) -> bool:
        """Delete the client with its codes and refresh tokens, and revoke every access
        token it was issued (through the family markers) in the same transaction."""
        async with self.transaction() as conn:
            families = [
                r[0]
                for r in await conn.execute_fetchall(
                    "SELECT family FROM oauth_refresh_tokens WHERE client_id = ? "
                    "UNION SELECT family FROM oauth_codes WHERE client_id = ? "
                    "AND family IS NOT NULL",
                    (client_id, client_id),
                )
            ]
            cur = await conn.execute("DELETE FROM oauth_clients WHERE id = ?", (client_id,))
            if cur.rowcount != 1:
                return False
            families.append(CLIENT_CREDENTIALS_FAMILY + client_id)
            await conn.executemany(
                "INSERT OR IGNORE INTO revoked_tokens (jti, expires_at) VALUES (?, ?)",
                [("fam:" + f, _ts(marker_until)) for f in families],
            )
            return True

    # ---------------------------------------------------------------- codes
    async def add_oauth_code(self, code: AuthorizationCode) -> None:
        async with self.transaction() as conn:
            await conn.execute(
                f"INSERT INTO oauth_codes ({_CODE_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    code.code_hash,
                    code.client_id,
                    code.user_id,
                    code.redirect_uri,
                    code.scope,
                    code.code_challenge,
                    code.code_challenge_method,
                    _ts(code.created_at),
                    _ts(code.expires_at),
                    None,
                    None,
                ),
            )
            # Housekeeping rides along with a write that holds the lock anyway; used codes
            # are kept a day so that a late replay is still recognised as reuse.
            await conn.execute(
                "DELETE FROM oauth_codes WHERE expires_at < ?", (_ts(code.created_at) - 86400,)
            )

    async def get_oauth_code(self, code_hash: str) -> AuthorizationCode | None:
        rows = await self._read(
            f"SELECT {_CODE_COLS} FROM oauth_codes WHERE code_hash = ?", (code_hash,)
        )
        return _code(rows[0]) if rows else None

    async def use_oauth_code(self, code_hash: str, family: str, at: datetime) -> bool:
        """Compare-and-set: True only for the one exchange that uses the code; it records
        `family`, the grant the code's tokens belong to, so a replay can revoke them."""
        changed = await self._write(
            "UPDATE oauth_codes SET used_at = ?, family = ? "
            "WHERE code_hash = ? AND used_at IS NULL",
            (_ts(at), family, code_hash),
        )
        return changed == 1

    # ---------------------------------------------------------------- refresh tokens
    async def add_oauth_refresh_token(self, token: OAuthRefreshToken) -> None:
        await self._write(
            f"INSERT INTO oauth_refresh_tokens ({_REFRESH_COLS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
            (
                token.token_hash,
                token.family,
                token.client_id,
                token.user_id,
                token.scope,
                _ts(token.created_at),
                _ts(token.expires_at),
            ),
        )

    async def get_oauth_refresh_token(self, token_hash: str) -> OAuthRefreshToken | None:
        rows = await self._read(
            f"SELECT {_REFRESH_COLS} FROM oauth_refresh_tokens WHERE token_hash = ?",
            (token_hash,),
        )
        return _refresh(rows[0]) if rows else None

    async def use_oauth_refresh_token(self, token_hash: str, at: datetime) -> bool:
        """Compare-and-set: True only for the one caller that rotates a live token."""
        changed = await self._write(
            "UPDATE oauth_refresh_tokens SET used_at = ? "
            "WHERE token_hash = ? AND used_at IS NULL AND revoked_at IS NULL",
            (_ts(at), token_hash),
        )
        return changed == 1

    async def revoke_oauth_family(self, family: str, at: datetime, marker_until: datetime) -> None:
        async with self.transaction() as conn:
            await conn.execute(
                "UPDATE oauth_refresh_tokens SET revoked_at = ? "
                "WHERE family = ? AND revoked_at IS NULL",
                (_ts(at), family),
            )
            await conn.execute(
                "INSERT OR IGNORE INTO revoked_tokens (jti, expires_at) VALUES (?, ?)",
                ("fam:" + family, _ts(marker_until)),
            )
