-- Executions, their per-node records and logs; custom node types; engine leases.

CREATE TABLE executions (
    id               TEXT PRIMARY KEY,
    workflow_id      TEXT NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    user_id          TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    workflow_version INTEGER NOT NULL,
    status           TEXT NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'stopped')),
    progress         REAL NOT NULL DEFAULT 0,
    current_node     TEXT,
    input            TEXT NOT NULL DEFAULT '{}',
    output           TEXT,
    error            TEXT,
    node_versions    TEXT NOT NULL DEFAULT '{}',  -- node id -> "type@version" (+ code hash)
    definition       TEXT,                        -- the frozen snapshot that ran
    retry_of         TEXT REFERENCES executions(id) ON DELETE SET NULL,
    retry_mode       TEXT,
    requeue_count    INTEGER NOT NULL DEFAULT 0,
    engine_id        TEXT,                        -- the engine holding the lease
    lease_expires_at REAL,
    created_at       REAL NOT NULL,
    started_at       REAL,
    finished_at      REAL
);
CREATE INDEX executions_user_created ON executions(user_id, created_at DESC, id DESC);
CREATE INDEX executions_workflow_created ON executions(workflow_id, created_at DESC, id DESC);
CREATE INDEX executions_user_status ON executions(user_id, status, created_at DESC, id DESC);
CREATE INDEX executions_active ON executions(status, lease_expires_at)
    WHERE status IN ('queued', 'running');

CREATE TABLE execution_nodes (
    execution_id TEXT NOT NULL REFERENCES executions(id) ON DELETE CASCADE,
    node_id      TEXT NOT NULL,
    node_type    TEXT NOT NULL,
    node_version TEXT,
    status       TEXT NOT NULL DEFAULT 'pending',
    attempts     INTEGER NOT NULL DEFAULT 0,
    started_at   REAL,
    finished_at  REAL,
    outputs      TEXT,
    error        TEXT,
    PRIMARY KEY (execution_id, node_id)
) WITHOUT ROWID;

CREATE TABLE execution_logs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    execution_id TEXT NOT NULL REFERENCES executions(id) ON DELETE CASCADE,
    ts           REAL NOT NULL,
    level        TEXT NOT NULL,
    node_id      TEXT,
    message      TEXT NOT NULL
);
CREATE INDEX execution_logs_execution ON execution_logs(execution_id, id);

-- Custom node types (built-ins live in code). One row per (id, version).
CREATE TABLE node_types (
    id            TEXT NOT NULL,
    version       TEXT NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    category      TEXT NOT NULL DEFAULT 'custom',
    inputs        TEXT NOT NULL DEFAULT '[]',
    outputs       TEXT NOT NULL DEFAULT '[]',
    config_schema TEXT NOT NULL DEFAULT '{}',
    code          TEXT NOT NULL,
    code_hash     TEXT NOT NULL,
    created_at    REAL NOT NULL,
    PRIMARY KEY (user_id, id, version)
) WITHOUT ROWID;
CREATE INDEX node_types_user ON node_types(user_id, id, created_at);
