"""node_http_request: a real HTTP call through the SSRF policy of nodes/http.py.

The URL and body may arrive on input ports (`url`, `body`) or in config; a connected
port wins over config. The `response` output is {status, headers, body, json}; a 4xx or
5xx is a response like any other (branch on it with node_condition) unless
`raise_for_status` asks the node to fail instead.
"""

from __future__ import annotations

import json
from typing import Any

from ..http import redact
from ..types import NodeContext, NodeError, NodeType, Port
from ._common import NodeSettings, as_bool, as_number, object_schema

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
MAX_TIMEOUT = 300.0


def _headers(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise NodeError("config headers must be an object of header names to values")
    out: dict[str, str] = {}
    for name, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise NodeError(f"header {name!r} must be a string")
        out[str(name)] = str(value)
    return out


def _body(raw: Any, headers: dict[str, str]) -> bytes | None:
    if raw is None:
        return None
    if isinstance(raw, bytes):
        return raw
    if isinstance(raw, str):
        return raw.encode("utf-8")
    if not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = "application/json"
    return json.dumps(raw, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def make_run(settings: NodeSettings):
    policy = settings.http

    async def run_http_request(
        inputs: dict[str, Any], config: dict[str, Any], ctx: NodeContext
    ) -> dict[str, Any]:
        url = inputs.get("url") if inputs.get("url") is not None else config.get("url")
        if not isinstance(url, str) or not url.strip():
            raise NodeError("no URL: connect the url input or set config url")
        method = str(config.get("method") or "GET").strip().upper()
        if method not in METHODS:
            raise NodeError(f"config method must be one of {', '.join(METHODS)}, got {method!r}")
        headers = _headers(config.get("headers"))
        body = inputs["body"] if inputs.get("body") is not None else config.get("body")
        content = _body(body, headers)
        query = config.get("query")
        if query:
            if not isinstance(query, dict):
                raise NodeError("config query must be an object")
            import httpx  # loaded on first use, not at server start

            params = {k: str(v) for k, v in query.items()}
            url = str(httpx.URL(url.strip()).copy_merge_params(params))
        timeout = as_number(
            config.get("timeout"), "timeout", default=30.0, minimum=0.001, maximum=MAX_TIMEOUT
        )
        response = await policy.fetch(
            method,
            url.strip(),
            headers=headers,
            content=content,
            timeout_s=timeout,
            follow_redirects=as_bool(
                config.get("follow_redirects"), "follow_redirects", default=True
            ),
        )
        ctx.log("info", f"{method} {redact(url)} -> {response['status']}")
        if as_bool(config.get("raise_for_status"), "raise_for_status", default=False) and (
            response["status"] >= 400
        ):
            raise NodeError(f"{method} {redact(url)} answered HTTP {response['status']}")
        return {"response": response}

    return run_http_request


CONFIG_SCHEMA = object_schema(
    {
        "url": {"type": "string", "description": "Target URL (http or https)"},
        "method": {"type": "string", "enum": list(METHODS), "default": "GET"},
        "headers": {
            "type": "object",
            "additionalProperties": {"type": ["string", "number"]},
            "description": "Request headers",
        },
        "query": {
            "type": "object",
            "additionalProperties": {"type": ["string", "number", "boolean"]},
            "description": "Query parameters added to the URL",
        },
        "body": {
            "description": "Request body: a string is sent as is, anything else as JSON",
        },
        "timeout": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": MAX_TIMEOUT,
            "default": 30,
            "description": "Seconds for the whole request, redirects included",
        },
        "follow_redirects": {"type": "boolean", "default": True},
        "raise_for_status": {
            "type": "boolean",
            "default": False,
            "description": "Fail the node on a 4xx or 5xx answer",
        },
    }
)


def node_types(settings: NodeSettings) -> list[NodeType]:
    return [
        NodeType(
            id="node_http_request",
            name="HTTP Request",
            description="Make HTTP requests to external APIs",
            category="integration",
            version="1.2.0",
            inputs=[
                Port("url", "string", True, "Target URL for request"),
                Port("body", "any", False, "Request body (overrides config body)"),
                Port("input", "any", False, "Upstream data, for ordering and templates"),
            ],
            outputs=[
                Port("response", "object", description="HTTP response data"),
            ],
            config_schema=CONFIG_SCHEMA,
            builtin=True,
            run=make_run(settings),
        )
    ]
