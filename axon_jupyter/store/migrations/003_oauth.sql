-- OAuth 2.0 authorization server: registered clients, authorization codes, refresh tokens.
-- Secrets, codes and refresh tokens are stored as SHA-256 hex digests only (they carry
-- 256 bits of randomness, so a fast hash suffices): a stolen database yields nothing usable.

CREATE TABLE oauth_clients (
    id            TEXT PRIMARY KEY,                 -- the client_id
    name          TEXT NOT NULL,
    owner_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_by    TEXT REFERENCES users(id) ON DELETE SET NULL,
    client_type   TEXT NOT NULL CHECK (client_type IN ('confidential', 'public')),
    secret_hash   TEXT,                             -- NULL for public clients
    redirect_uris TEXT NOT NULL DEFAULT '[]',       -- JSON list, matched exactly
    scopes        TEXT NOT NULL DEFAULT '[]',       -- JSON list: the most it may be granted
    grant_types   TEXT NOT NULL DEFAULT '[]',       -- JSON list
    created_at    REAL NOT NULL,
    CHECK ((client_type = 'public') = (secret_hash IS NULL))
);
CREATE INDEX oauth_clients_owner ON oauth_clients(owner_id, created_at);

-- Single-use, short-lived. `family` is set when the code is exchanged: if the code comes
-- back, the tokens issued for it are revoked through that family (RFC 6749 4.1.2).
CREATE TABLE oauth_codes (
    code_hash             TEXT PRIMARY KEY,
    client_id             TEXT NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
    user_id               TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    redirect_uri          TEXT NOT NULL,
    scope                 TEXT NOT NULL,
    code_challenge        TEXT,
    code_challenge_method TEXT,
    created_at            REAL NOT NULL,
    expires_at            REAL NOT NULL,
    used_at               REAL,
    family                TEXT
);
CREATE INDEX oauth_codes_expiry ON oauth_codes(expires_at);

-- One row per issued refresh token; a family is one grant's chain of rotations.
CREATE TABLE oauth_refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    family     TEXT NOT NULL,
    client_id  TEXT NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    scope      TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    used_at    REAL,
    revoked_at REAL
);
CREATE INDEX oauth_refresh_tokens_family ON oauth_refresh_tokens(family);
CREATE INDEX oauth_refresh_tokens_client ON oauth_refresh_tokens(client_id);
