-- Axon schema, version 1. Times are unix epoch seconds (REAL); JSON columns are TEXT.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name          TEXT NOT NULL,
    password_hash TEXT,
    role          TEXT NOT NULL DEFAULT 'member' CHECK (role IN ('admin', 'member')),
    plan          TEXT NOT NULL DEFAULT 'standard',
    rate_limit    INTEGER,
    created_at    REAL NOT NULL
);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    scopes       TEXT NOT NULL DEFAULT '[]',
    created_at   REAL NOT NULL,
    expires_at   REAL,
    last_used_at REAL,
    revoked_at   REAL
);
CREATE INDEX api_keys_user ON api_keys(user_id, created_at);

-- Refresh tokens: one row per issued token; a family is one login's chain of rotations.
CREATE TABLE refresh_tokens (
    jti        TEXT PRIMARY KEY,
    family     TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_at REAL NOT NULL,
    used_at    REAL,
    revoked_at REAL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(family);

-- Revoked access-token ids (and revoked families), kept until they would have expired.
CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at REAL NOT NULL
);
CREATE INDEX revoked_tokens_expiry ON revoked_tokens(expires_at);

CREATE TABLE workflows (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('active', 'inactive', 'draft')),
    definition      TEXT NOT NULL,
    settings        TEXT NOT NULL DEFAULT '{}',
    node_count      INTEGER NOT NULL DEFAULT 0,
    execution_count INTEGER NOT NULL DEFAULT 0,
    version         INTEGER NOT NULL DEFAULT 1,
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL
);
CREATE INDEX workflows_user_created ON workflows(user_id, created_at DESC, id DESC);
CREATE INDEX workflows_user_status ON workflows(user_id, status, created_at DESC, id DESC);

CREATE TABLE workflow_revisions (
    workflow_id   TEXT NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    version       INTEGER NOT NULL,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL,
    status        TEXT NOT NULL,
    definition    TEXT NOT NULL,
    created_at    REAL NOT NULL,
    restored_from INTEGER,
    PRIMARY KEY (workflow_id, version)
) WITHOUT ROWID;
