"""The OpenAPI 3.1 description of the REST API, served at /axon/v1/openapi.json.

Built from small helpers so each resource reads as one block. A test checks that every
mounted route is described (and nothing else), that the document is valid OpenAPI 3.1,
and that real responses validate against the schemas here: it cannot drift silently.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from .._version import __version__
from ..auth.identity import SCOPE_DESCRIPTIONS

JSON = "application/json"


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(props: dict[str, Any], required: list[str] | None = None, extra: bool = True) -> dict:
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    if not extra:
        schema["additionalProperties"] = False
    return schema


STR = {"type": "string"}
INT = {"type": "integer"}
NUM = {"type": "number"}
BOOL = {"type": "boolean"}
TIME = {"type": "string", "format": "date-time"}
TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}
ANY_OBJ = {"type": "object"}

SCHEMAS: dict[str, Any] = {
    "Error": obj(
        {
            "error": obj(
                {"code": STR, "message": STR, "details": ANY_OBJ},
                ["code", "message", "details"],
            )
        },
        ["error"],
    ),
    "Pagination": obj(
        {"page": INT, "limit": INT, "total": INT, "total_pages": INT},
        ["page", "limit", "total", "total_pages"],
    ),
    "Health": obj({"status": STR, "version": STR}, ["status", "version"]),
    "UserRef": obj({"id": STR, "email": STR, "name": STR}, ["id", "email", "name"]),
    "User": obj(
        {"id": STR, "email": STR, "name": STR, "role": STR, "plan": STR},
        ["id", "email", "name", "role", "plan"],
    ),
    "Me": obj({"user": ref("User"), "via": STR}, ["user", "via"]),
    "LoginRequest": obj({"email": STR, "password": STR}, ["email", "password"]),
    "RefreshRequest": obj({"refresh_token": STR}, ["refresh_token"]),
    "TokenResponse": obj(
        {
            "token": STR,
            "token_type": STR,
            "expires_in": INT,
            "refresh_token": STR,
            "refresh_expires_in": INT,
            "user": ref("UserRef"),
        },
        ["token", "expires_in", "refresh_token", "user"],
    ),
    "ApiKey": obj(
        {
            "id": STR,
            "name": STR,
            "prefix": STR,
            "scopes": {"type": "array", "items": STR},
            "created_at": TIME,
            "expires_at": TIME_OR_NULL,
            "last_used_at": TIME_OR_NULL,
            "revoked": BOOL,
        },
        ["id", "name", "prefix", "scopes", "created_at", "revoked"],
    ),
    "ApiKeyCreated": {
        "allOf": [ref("ApiKey"), obj({"key": STR}, ["key"])],
    },
    "ApiKeyCreate": obj(
        {"name": STR, "scopes": {"type": "array", "items": STR}, "expires_in_days": INT}
    ),
    "ApiKeyList": obj({"api_keys": {"type": "array", "items": ref("ApiKey")}}, ["api_keys"]),
    "Position": obj({"x": NUM, "y": NUM}, ["x", "y"]),
    "DefinitionNode": obj(
        {
            "id": STR,
            "type": STR,
            "version": STR,
            "name": STR,
            "position": ref("Position"),
            "config": ANY_OBJ,
            "retry": obj({"max_attempts": INT, "backoff_s": NUM}),
            "timeout_s": NUM,
            "disabled": BOOL,
        },
        ["id", "type"],
    ),
    "Connection": obj(
        {"from": STR, "to": STR, "sourcePort": STR, "targetPort": STR}, ["from", "to"]
    ),
    "Definition": obj(
        {
            "nodes": {"type": "array", "items": ref("DefinitionNode")},
            "connections": {"type": "array", "items": ref("Connection")},
        },
        ["nodes", "connections"],
    ),
    "WorkflowSummary": obj(
        {
            "id": STR,
            "name": STR,
            "description": STR,
            "status": {"type": "string", "enum": ["active", "inactive", "draft"]},
            "created_at": TIME,
            "updated_at": TIME,
            "node_count": INT,
            "execution_count": INT,
            "version": INT,
        },
        [
            "id",
            "name",
            "description",
            "status",
            "created_at",
            "updated_at",
            "node_count",
            "execution_count",
            "version",
        ],
    ),
    "Workflow": {
        "allOf": [
            ref("WorkflowSummary"),
            obj({"definition": ref("Definition"), "settings": ANY_OBJ}, ["definition"]),
        ]
    },
    "WorkflowList": obj(
        {
            "workflows": {"type": "array", "items": ref("WorkflowSummary")},
            "pagination": ref("Pagination"),
        },
        ["workflows", "pagination"],
    ),
    "WorkflowCreate": obj(
        {
            "name": STR,
            "description": STR,
            "status": {"type": "string", "enum": ["active", "inactive", "draft"]},
            "definition": ref("Definition"),
            "settings": ANY_OBJ,
        },
        ["name"],
    ),
    "WorkflowUpdate": obj(
        {
            "name": STR,
            "description": STR,
            "status": {"type": "string", "enum": ["active", "inactive", "draft"]},
            "definition": ref("Definition"),
            "settings": ANY_OBJ,
            "version": {"type": "integer", "description": "expected current version (409)"},
        }
    ),
    "WorkflowRevision": obj(
        {
            "workflow_id": STR,
            "version": INT,
            "name": STR,
            "description": STR,
            "status": STR,
            "created_at": TIME,
            "restored_from": {"type": ["integer", "null"]},
            "node_count": INT,
            "definition": ref("Definition"),
        },
        ["workflow_id", "version", "name", "status", "created_at", "node_count"],
    ),
    "WorkflowRevisionList": obj(
        {"versions": {"type": "array", "items": ref("WorkflowRevision")}}, ["versions"]
    ),
    "Port": obj(
        {"name": STR, "type": STR, "required": BOOL, "description": STR},
        ["name", "type", "required", "description"],
    ),
    "NodeType": obj(
        {
            "id": STR,
            "name": STR,
            "description": STR,
            "category": STR,
            "version": STR,
            "inputs": {"type": "array", "items": ref("Port")},
            "outputs": {"type": "array", "items": ref("Port")},
            "config_schema": {"type": "object", "description": "JSON Schema (2020-12)"},
            "builtin": BOOL,
            "code_hash": {"type": "string", "description": "custom nodes: sha256 of code"},
            "created_at": {**TIME, "description": "custom nodes only"},
        },
        [
            "id",
            "name",
            "description",
            "category",
            "version",
            "inputs",
            "outputs",
            "config_schema",
            "builtin",
        ],
    ),
    "NodeTypeList": obj({"nodes": {"type": "array", "items": ref("NodeType")}}, ["nodes"]),
    "NodeTypeVersionList": obj(
        {"versions": {"type": "array", "items": ref("NodeType")}}, ["versions"]
    ),
    "PortCreate": obj(
        {"name": STR, "type": STR, "required": BOOL, "description": STR}, ["name"], extra=False
    ),
    "NodeTypeCreate": obj(
        {
            "id": STR,
            "name": STR,
            "description": STR,
            "category": {"type": "string", "default": "custom"},
            "version": {"type": "string", "description": "e.g. 1.0.0; compared semantically"},
            "code": {"type": "string", "description": "Python source defining run(inputs, config)"},
            "inputs": {"type": "array", "items": ref("PortCreate")},
            "outputs": {"type": "array", "items": ref("PortCreate")},
            "config_schema": ANY_OBJ,
        },
        ["id", "name", "version", "code"],
        extra=False,
    ),
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": ref("Error")}}}


ERRORS = {
    "400": "VALIDATION_ERROR",
    "401": "UNAUTHORIZED",
    "403": "FORBIDDEN",
    "404": "NOT_FOUND",
    "409": "CONFLICT",
    "412": "PRECONDITION_FAILED",
    "413": "PAYLOAD_TOO_LARGE",
    "429": "RATE_LIMITED",
}


def op(
    summary: str,
    responses: dict[str, str | None],
    *,
    body: str | None = None,
    params: list[dict] | None = None,
    auth: bool = True,
    tag: str = "",
) -> dict[str, Any]:
    """One operation. `responses` maps status -> schema name (None: no body); error
    statuses map to the envelope automatically."""
    out: dict[str, Any] = {"summary": summary, "responses": {}}
    if tag:
        out["tags"] = [tag]
    for status, schema in responses.items():
        if status in ERRORS:
            out["responses"][status] = _error(ERRORS[status])
        elif schema is None:
            out["responses"][status] = {"description": summary}
        else:
            out["responses"][status] = {
                "description": summary,
                "content": {JSON: {"schema": ref(schema)}},
            }
    if auth:
        out["responses"].setdefault("401", _error("UNAUTHORIZED"))
        # every authenticated request counts against its user's budget (X-RateLimit-*)
        out["responses"].setdefault("429", _error("RATE_LIMITED"))
    else:
        out["security"] = []
    if body:
        out["requestBody"] = {"required": True, "content": {JSON: {"schema": ref(body)}}}
    if params:
        out["parameters"] = params
    return out


def query(name: str, schema: dict, description: str = "") -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": STR}


PAGING = [
    query("page", {"type": "integer", "minimum": 1, "default": 1}, "page number"),
    query("limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 10}, "per page"),
]

PATHS: dict[str, dict[str, Any]] = {
    "/health": {"get": op("Liveness", {"200": "Health"}, auth=False, tag="meta")},
    "/openapi.json": {"get": op("This document", {"200": None}, auth=False, tag="meta")},
    "/auth/login": {
        "post": op(
            "Log in with email and password",
            {"200": "TokenResponse", "400": None, "401": None, "429": None},
            body="LoginRequest",
            auth=False,
            tag="auth",
        )
    },
    "/auth/refresh": {
        "post": op(
            "Rotate a refresh token",
            {"200": "TokenResponse", "400": None, "401": None},
            body="RefreshRequest",
            auth=False,
            tag="auth",
        )
    },
    "/auth/logout": {
        "post": op("End this token and its refresh family", {"204": None}, tag="auth")
    },
    "/auth/me": {"get": op("Who am I", {"200": "Me"}, tag="auth")},
    "/api-keys": {
        "get": op("List API keys", {"200": "ApiKeyList"}, tag="api-keys"),
        "post": op(
            "Create an API key (shown once)",
            {"201": "ApiKeyCreated", "400": None},
            body="ApiKeyCreate",
            tag="api-keys",
        ),
    },
    "/api-keys/{key_id}": {
        "parameters": [path_param("key_id")],
        "delete": op("Revoke an API key", {"204": None, "404": None}, tag="api-keys"),
    },
    "/workflows": {
        "get": op(
            "List workflows",
            {"200": "WorkflowList", "400": None, "403": None},
            params=[
                *PAGING,
                query("status", {"type": "string", "enum": ["active", "inactive", "draft"]}),
                query("search", STR, "matches name or description"),
            ],
            tag="workflows",
        ),
        "post": op(
            "Create a workflow",
            {"201": "Workflow", "400": None, "403": None, "413": None},
            body="WorkflowCreate",
            tag="workflows",
        ),
    },
    "/workflows/{workflow_id}": {
        "parameters": [path_param("workflow_id")],
        "get": op("Get a workflow", {"200": "Workflow", "404": None}, tag="workflows"),
        "put": op(
            "Update a workflow (the fields given)",
            {"200": "Workflow", "400": None, "404": None, "409": None, "412": None},
            body="WorkflowUpdate",
            params=[{"name": "If-Match", "in": "header", "required": False, "schema": STR}],
            tag="workflows",
        ),
        "delete": op("Delete a workflow", {"204": None, "404": None}, tag="workflows"),
    },
    "/workflows/{workflow_id}/versions": {
        "parameters": [path_param("workflow_id")],
        "get": op("List revisions", {"200": "WorkflowRevisionList", "404": None}, tag="workflows"),
    },
    "/workflows/{workflow_id}/versions/{version}": {
        "parameters": [path_param("workflow_id"), path_param("version")],
        "get": op("Get a revision", {"200": "WorkflowRevision", "404": None}, tag="workflows"),
    },
    "/workflows/{workflow_id}/versions/{version}/restore": {
        "parameters": [path_param("workflow_id"), path_param("version")],
        "post": op(
            "Restore a revision (as a new revision)",
            {"200": "Workflow", "404": None, "409": None},
            tag="workflows",
        ),
    },
    "/nodes": {
        "get": op(
            "List node types (built-ins and your custom ones; latest version of each)",
            {"200": "NodeTypeList", "400": None, "403": None},
            params=[
                query("category", STR, "exact category, case-insensitive"),
                query("search", STR, "matches id, name or description"),
                query("version", STR, "only node types having this version (shown at it)"),
                query("builtin", BOOL, "only built-in (true) or custom (false) node types"),
            ],
            tag="nodes",
        ),
        "post": op(
            "Register a custom node type version from Python source",
            {"201": "NodeType", "400": None, "403": None, "409": None, "413": None},
            body="NodeTypeCreate",
            tag="nodes",
        ),
    },
    "/nodes/{node_id}": {
        "parameters": [path_param("node_id")],
        "get": op(
            "Get a node type (latest version unless ?version=)",
            {"200": "NodeType", "403": None, "404": None},
            params=[query("version", STR, "a specific version")],
            tag="nodes",
        ),
    },
    "/nodes/{node_id}/versions": {
        "parameters": [path_param("node_id")],
        "get": op(
            "Every version of a node type, newest first",
            {"200": "NodeTypeVersionList", "403": None, "404": None},
            tag="nodes",
        ),
    },
}


# ---- OAuth 2.0 (api/rest/oauth.py). /oauth/clients speaks the envelope; the token and
# revocation endpoints speak RFC 6749's form-in / JSON-out, errors included.
FORM = "application/x-www-form-urlencoded"
HTML = "text/html"
SCHEMAS.update(
    {
        "OAuthClient": obj(
            {
                "client_id": STR,
                "name": STR,
                "client_type": {"type": "string", "enum": ["confidential", "public"]},
                "owner_id": STR,
                "redirect_uris": {"type": "array", "items": STR},
                "scopes": {"type": "array", "items": STR},
                "grant_types": {"type": "array", "items": STR},
                "token_endpoint_auth_method": STR,
                "created_at": TIME,
            },
            ["client_id", "name", "client_type", "owner_id", "redirect_uris", "scopes"],
        ),
        "OAuthClientCreated": {
            "allOf": [
                ref("OAuthClient"),
                obj({"client_secret": {"type": "string", "description": "shown once"}}),
            ]
        },
        "OAuthClientCreate": obj(
            {
                "name": STR,
                "client_type": {"type": "string", "enum": ["confidential", "public"]},
                "redirect_uris": {"type": "array", "items": STR},
                "scopes": {"type": "array", "items": STR},
                "grant_types": {"type": "array", "items": STR},
                "owner_id": STR,
            },
            ["name"],
        ),
        "OAuthClientList": obj(
            {"clients": {"type": "array", "items": ref("OAuthClient")}}, ["clients"]
        ),
        "OAuthToken": obj(
            {
                "access_token": STR,
                "token_type": STR,
                "expires_in": INT,
                "scope": STR,
                "refresh_token": STR,
            },
            ["access_token", "token_type", "expires_in"],
        ),
        "OAuthError": obj({"error": STR, "error_description": STR, "retry_after": INT}, ["error"]),
        "OAuthMetadata": obj(
            {
                "issuer": STR,
                "authorization_endpoint": STR,
                "token_endpoint": STR,
                "revocation_endpoint": STR,
                "scopes_supported": {"type": "array", "items": STR},
            },
            ["issuer", "authorization_endpoint", "token_endpoint"],
        ),
    }
)


def _oauth_op(summary: str, responses: dict[str, str | None], *, form: bool = False) -> dict:
    """An RFC 6749 operation: form body in, RFC JSON (or HTML) out, no Axon credential."""
    out: dict[str, Any] = {"summary": summary, "tags": ["oauth"], "security": [], "responses": {}}
    for status, schema in responses.items():
        if schema == HTML:
            content = {HTML: {"schema": STR}}
        elif schema is None:
            content = None
        else:
            content = {JSON: {"schema": ref(schema)}}
        out["responses"][status] = {
            "description": summary,
            **({"content": content} if content else {}),
        }
    if form:
        out["requestBody"] = {"required": True, "content": {FORM: {"schema": ANY_OBJ}}}
    return out


PATHS.update(
    {
        "/oauth/clients": {
            "get": op("List OAuth clients", {"200": "OAuthClientList", "403": None}, tag="oauth"),
            "post": op(
                "Register an OAuth client (admins; the secret is shown once)",
                {"201": "OAuthClientCreated", "400": None, "403": None},
                body="OAuthClientCreate",
                tag="oauth",
            ),
        },
        "/oauth/clients/{client_id}": {
            "parameters": [path_param("client_id")],
            "get": op("Get an OAuth client", {"200": "OAuthClient", "404": None}, tag="oauth"),
            "delete": op(
                "Delete an OAuth client and revoke its tokens",
                {"204": None, "404": None},
                tag="oauth",
            ),
        },
        "/oauth/authorize": {
            "get": _oauth_op(
                "Consent page (HTML); errors redirect to the client when that is safe",
                {"200": HTML, "302": None, "400": HTML},
            ),
            "post": _oauth_op(
                "Approve or deny (the consent page's form, CSRF-protected)",
                {"302": None, "401": HTML, "403": HTML, "429": HTML},
                form=True,
            ),
        },
        "/oauth/token": {
            "post": _oauth_op(
                "Token endpoint: authorization_code (+PKCE), client_credentials, refresh_token",
                {
                    "200": "OAuthToken",
                    "400": "OAuthError",
                    "401": "OAuthError",
                    "429": "OAuthError",
                },
                form=True,
            )
        },
        "/oauth/revoke": {
            "post": _oauth_op(
                "Revoke an access or refresh token (RFC 7009)",
                {"200": None, "400": "OAuthError", "401": "OAuthError", "429": "OAuthError"},
                form=True,
            )
        },
        "/.well-known/oauth-authorization-server": {
            "get": _oauth_op("Authorization server metadata (RFC 8414)", {"200": "OAuthMetadata"})
        },
    }
)


@cache
def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Axon API",
            "version": __version__,
            "description": "Workflow automation inside Jupyter. Errors use the envelope "
            '{"error": {"code", "message", "details"}}.',
        },
        "servers": [{"url": "/axon/v1"}],
        "security": [{"bearer": []}, {"apiKey": []}, {"oauth2": []}],
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "oauth2": {
                    "type": "oauth2",
                    "flows": {
                        "authorizationCode": {
                            "authorizationUrl": "/axon/v1/oauth/authorize",
                            "tokenUrl": "/axon/v1/oauth/token",
                            "refreshUrl": "/axon/v1/oauth/token",
                            "scopes": dict(SCOPE_DESCRIPTIONS),
                        },
                        "clientCredentials": {
                            "tokenUrl": "/axon/v1/oauth/token",
                            "scopes": dict(SCOPE_DESCRIPTIONS),
                        },
                    },
                },
            },
        },
    }


# ---- Executions (api/rest/executions.py)
_EXECUTION_STATUS = {
    "type": "string",
    "enum": ["queued", "running", "succeeded", "failed", "stopped"],
}
_OBJ_OR_NULL = {"type": ["object", "null"]}
SCHEMAS.update(
    {
        "ExecutionNode": obj(
            {
                "node_id": STR,
                "type": STR,
                "version": {"type": ["string", "null"]},
                "status": {
                    "type": "string",
                    "enum": ["pending", "running", "succeeded", "failed", "skipped", "stopped"],
                },
                "attempts": INT,
                "reused": BOOL,
                "started_at": TIME_OR_NULL,
                "finished_at": TIME_OR_NULL,
                "duration": {"type": ["number", "null"]},
                "outputs": _OBJ_OR_NULL,
                "error": _OBJ_OR_NULL,
            },
            ["node_id", "type", "status", "attempts"],
        ),
        "ExecutionSummary": obj(
            {
                "id": STR,
                "workflow_id": STR,
                "workflow_version": INT,
                "status": _EXECUTION_STATUS,
                "progress": {"type": "number", "minimum": 0, "maximum": 1},
                "current_node": {"type": ["string", "null"]},
                "input": ANY_OBJ,
                "output": _OBJ_OR_NULL,
                "error": _OBJ_OR_NULL,
                "node_versions": {"type": "object", "additionalProperties": STR},
                "retry_of": {"type": ["string", "null"]},
                "retry_mode": {"type": ["string", "null"]},
                "created_at": TIME,
                "started_at": TIME_OR_NULL,
                "finished_at": TIME_OR_NULL,
                "duration": {"type": ["number", "null"]},
            },
            ["id", "workflow_id", "workflow_version", "status", "progress", "created_at"],
        ),
        "Execution": {
            "allOf": [
                ref("ExecutionSummary"),
                obj({"nodes": {"type": "array", "items": ref("ExecutionNode")}}, ["nodes"]),
            ]
        },
        "ExecutionList": obj(
            {
                "executions": {"type": "array", "items": ref("ExecutionSummary")},
                "pagination": ref("Pagination"),
            },
            ["executions", "pagination"],
        ),
        "ExecuteRequest": obj({"input": ANY_OBJ}),
        "RetryRequest": obj(
            {
                "mode": {"type": "string", "enum": ["from_failed", "from_start", "from_node"]},
                "node_id": STR,
                "workflow_version": {"type": "string", "enum": ["original", "latest"]},
            }
        ),
        "LogEntry": obj(
            {
                "id": INT,
                "timestamp": TIME,
                "level": STR,
                "node_id": {"type": ["string", "null"]},
                "message": STR,
            },
            ["id", "timestamp", "level", "message"],
        ),
        "LogPage": obj(
            {
                "logs": {"type": "array", "items": ref("LogEntry")},
                "pagination": obj(
                    {
                        "after": INT,
                        "limit": INT,
                        "next_after": INT,
                        "has_more": BOOL,
                        "total": INT,
                    },
                    ["after", "limit", "next_after", "has_more"],
                ),
            },
            ["logs", "pagination"],
        ),
        "GraphQLRequest": obj(
            {
                "query": STR,
                "variables": _OBJ_OR_NULL,
                "operationName": {"type": ["string", "null"]},
            },
            ["query"],
        ),
        "GraphQLResponse": obj({"data": _OBJ_OR_NULL, "errors": {"type": "array"}}),
    }
)

_WAIT = query(
    "wait", {"type": "number", "minimum": 0}, "wait up to this many seconds for a terminal state"
)
_EXEC_FILTERS = [*PAGING, query("status", _EXECUTION_STATUS)]
PATHS.update(
    {
        "/workflows/{workflow_id}/execute": {
            "parameters": [path_param("workflow_id")],
            "post": op(
                "Run a workflow (201 with the queued execution)",
                {"201": "Execution", "400": None, "403": None, "404": None},
                body="ExecuteRequest",
                params=[_WAIT],
                tag="executions",
            ),
        },
        "/workflows/{workflow_id}/executions": {
            "parameters": [path_param("workflow_id")],
            "get": op(
                "Execution history of a workflow",
                {"200": "ExecutionList", "400": None, "403": None, "404": None},
                params=_EXEC_FILTERS,
                tag="executions",
            ),
        },
        "/executions": {
            "get": op(
                "List executions",
                {"200": "ExecutionList", "400": None, "403": None},
                params=[*_EXEC_FILTERS, query("workflow_id", STR)],
                tag="executions",
            ),
        },
        "/executions/{execution_id}": {
            "parameters": [path_param("execution_id")],
            "get": op(
                "Get an execution with its per-node records",
                {"200": "Execution", "403": None, "404": None},
                tag="executions",
            ),
        },
        "/executions/{execution_id}/stop": {
            "parameters": [path_param("execution_id")],
            "post": op(
                "Stop a running or queued execution (409 when already finished)",
                {"200": "Execution", "403": None, "404": None, "409": None},
                tag="executions",
            ),
        },
        "/executions/{execution_id}/retry": {
            "parameters": [path_param("execution_id")],
            "post": op(
                "Re-run an execution (from_failed, from_start or from_node)",
                {"201": "Execution", "400": None, "403": None, "404": None},
                body="RetryRequest",
                params=[_WAIT],
                tag="executions",
            ),
        },
        "/executions/{execution_id}/logs": {
            "parameters": [path_param("execution_id")],
            "get": op(
                "Execution logs, oldest first, after a cursor",
                {"200": "LogPage", "400": None, "403": None, "404": None},
                params=[
                    query("after", {"type": "integer", "minimum": 0}, "a log id (cursor)"),
                    query("limit", {"type": "integer", "minimum": 1}),
                ],
                tag="executions",
            ),
        },
        "/graphql": {
            "get": op(
                "GraphQL query (no mutations over GET); a WebSocket upgrade here speaks "
                "graphql-transport-ws for subscriptions",
                {"200": "GraphQLResponse", "400": None},
                params=[query("query", STR), query("variables", STR), query("operationName", STR)],
                tag="graphql",
            ),
            "post": op(
                "GraphQL query or mutation",
                {"200": "GraphQLResponse", "400": None},
                body="GraphQLRequest",
                tag="graphql",
            ),
        },
        "/ws": {
            "get": op(
                'WebSocket event stream: send {"type": "auth", "token": ...} first, then '
                "receive execution_update, node_update and notification events",
                {"101": None},
                auth=False,
                tag="realtime",
            ),
        },
    }
)
