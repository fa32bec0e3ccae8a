"""The node catalog: which node types exist for a user, at which versions, and whether a
workflow definition uses them correctly.

Built-ins live in code and are visible to everyone; custom types live in the store and
are visible to their owner only (anyone else gets exactly what a missing type gets).
Versions compare semantically (packaging's PEP 440 ordering, so 1.10.0 > 1.9.0) and
"latest" is the highest. Custom versions are immutable rows, so a resolved
(owner, id, version) never changes and its schema validator can be cached forever.

Contract with the engine: `resolve()` and `check_definition()`; both raise
`errors.ValidationError` (400) naming the node and field. Imports nothing from engine/
or api/; the built-ins' heavier libraries (httpx, nbclient, jsonschema) load on first use.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from packaging.version import InvalidVersion, Version

from ..errors import Conflict, ValidationError, not_found
from .builtin import NodeSettings, builtin_node_types
from .builtin._common import is_template
from .http import HttpPolicy
from .types import NodeType

MAX_REPORTED = 50
_CACHE_SIZE = 4096
_MEMO_MAX_CHARS = 2048


def settings_from_config(config: Any) -> NodeSettings:
    """NodeSettings from an AxonConfig (fields it lacks keep their defaults)."""
    defaults = NodeSettings()
    return NodeSettings(
        http=HttpPolicy.from_list(
            getattr(config, "http_allowed_hosts", ()) or (),
            max_response_bytes=getattr(
                config, "http_max_response_bytes", defaults.http.max_response_bytes
            ),
        ),
        notebook_root=getattr(config, "notebook_root", "") or defaults.notebook_root,
        notebook_kernel=getattr(config, "notebook_kernel", "") or defaults.notebook_kernel,
    )


def version_key(version: str) -> tuple[int, Any]:
    """Sort key: semantic order; a string packaging cannot read sorts below all others."""
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)


def same_version(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return False


def _newest_first(types: Iterable[NodeType]) -> list[NodeType]:
    return sorted(types, key=lambda nt: version_key(nt.version), reverse=True)


def _path(base: str, parts: Iterable[Any]) -> str:
    return base + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


class DefinitionIssues:
    """Collects {node, field, issue} problems; raises one 400 naming the first."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, node: str | None, field: str, issue: str, **extra: Any) -> None:
        if len(self.items) < MAX_REPORTED:
            item: dict[str, Any] = {"field": field, "issue": issue, **extra}
            if node is not None:
                item = {"node": node, **item}
            self.items.append(item)

    def raise_first(self) -> None:
        if not self.items:
            return
        first = self.items[0]
        prefix = f"Node {first['node']!r}: " if "node" in first else ""
        details = dict(first)
        if len(self.items) > 1:
            details["errors"] = list(self.items)
        raise ValidationError(
            f"Invalid workflow definition: {prefix}{first['field']} {first['issue']}", details
        )


class NodeCatalog:
    def __init__(self, store: Any, settings: NodeSettings | None = None):
        self.store = store
        self.settings = settings or NodeSettings()
        self._builtins: dict[str, list[NodeType]] = defaultdict(list)
        for nt in builtin_node_types(self.settings):
            self._builtins[nt.id].append(nt)
        for versions in self._builtins.values():
            versions[:] = _newest_first(versions)
        self._validators: dict[tuple[str | None, str, str], Any] = {}
        self._verdicts: dict[tuple[tuple[str | None, str, str], str], list[tuple[str, str]]] = {}

    # ------------------------------------------------------------ lookups
    def is_builtin(self, type_id: str) -> bool:
        return type_id in self._builtins

    def builtins(self) -> list[NodeType]:
        return [nt for versions in self._builtins.values() for nt in versions]

    async def _custom(self, user_id: str, ids: Iterable[str]) -> dict[str, list[NodeType]]:
        wanted = {i for i in ids if i not in self._builtins}
        if not wanted:
            return {}
        found: dict[str, list[NodeType]] = defaultdict(list)
        for nt in await self.store.list_node_types(user_id, wanted):
            found[nt.id].append(nt)
        return {k: _newest_first(v) for k, v in found.items()}

    async def _versions(self, user_id: str, type_id: str) -> list[NodeType]:
        if type_id in self._builtins:
            return list(self._builtins[type_id])
        return (await self._custom(user_id, [type_id])).get(type_id, [])

    @staticmethod
    def _pick(versions: list[NodeType], version: str | None) -> NodeType | None:
        if not versions:
            return None
        if version is None:
            return versions[0]
        return next((nt for nt in versions if same_version(nt.version, version)), None)

    async def resolve(self, user_id: str, type_id: str, version: str | None = None) -> NodeType:
        """The node type `type_id` at `version` (latest when None), as `user_id` sees it."""
        versions = await self._versions(user_id, type_id)
        nt = self._pick(versions, version)
        if nt is not None:
            return nt
        if not versions:
            raise ValidationError(
                f"Unknown node type {type_id!r}",
                {"field": "type", "issue": "unknown node type", "type": type_id},
            )
        raise ValidationError(
            f"Unknown version {version!r} of node type {type_id!r}",
            {
                "field": "version",
                "issue": "unknown node type version",
                "type": type_id,
                "version": version,
                "available": [v.version for v in versions],
            },
        )

    async def get(self, user_id: str, type_id: str, version: str | None = None) -> NodeType:
        """Like resolve(), for the REST API: unknown (or someone else's) is 404."""
        versions = await self._versions(user_id, type_id)
        if not versions:
            raise not_found("Node type", type_id)
        nt = self._pick(versions, version)
        if nt is None:
            raise not_found("Node type version", f"{type_id}@{version}")
        return nt

    async def versions(self, user_id: str, type_id: str) -> list[NodeType]:
        """Every version of `type_id`, newest first (404 when the user sees none)."""
        versions = await self._versions(user_id, type_id)
        if not versions:
            raise not_found("Node type", type_id)
        return versions

    async def list(
        self,
        user_id: str,
        *,
        category: str | None = None,
        search: str | None = None,
        version: str | None = None,
        builtin: bool | None = None,
    ) -> list[NodeType]:
        """One entry per node type: its latest version, or the one equal to `version`."""
        grouped: dict[str, list[NodeType]] = {}
        if builtin is not False:
            grouped.update({k: list(v) for k, v in self._builtins.items()})
        if builtin is not True:
            custom: dict[str, list[NodeType]] = defaultdict(list)
            for nt in await self.store.list_node_types(user_id):
                if nt.id not in self._builtins:
                    custom[nt.id].append(nt)
            grouped.update({k: _newest_first(v) for k, v in custom.items()})
        needle = search.lower() if search else None
        out: list[NodeType] = []
        for versions in grouped.values():
            nt = self._pick(versions, version)
            if nt is None:
                continue
            if category is not None and nt.category.lower() != category.lower():
                continue
            if needle is not None and not any(
                needle in text.lower() for text in (nt.id, nt.name, nt.description)
            ):
                continue
            out.append(nt)
        out.sort(key=lambda nt: (not nt.builtin, nt.category, nt.id))
        return out

    # ------------------------------------------------------------ registration
    async def register(self, nt: NodeType) -> NodeType:
        """Add a custom node type version (409 for a built-in id or an existing version)."""
        if nt.id in self._builtins:
            raise Conflict(
                f"{nt.id!r} is a built-in node type and cannot be redefined",
                {"field": "id", "issue": "is a built-in node type", "id": nt.id},
            )
        existing = (await self._custom(nt.owner_id, [nt.id])).get(nt.id, [])
        clash = next((v for v in existing if same_version(v.version, nt.version)), None)
        if clash is None:
            try:
                await self.store.create_node_type(nt)
                return nt
            except Conflict:
                clash = nt  # registered concurrently between our read and our write
        raise Conflict(
            f"node type {nt.id!r} already has version {clash.version}",
            {"field": "version", "issue": "already exists", "id": nt.id, "version": clash.version},
        )

    # ------------------------------------------------------------ validation
    def _validator(self, nt: NodeType) -> Any:
        key = (nt.owner_id, nt.id, nt.version)
        validator = self._validators.get(key)
        if validator is None:
            from jsonschema import Draft202012Validator

            validator = Draft202012Validator(nt.config_schema)
            self._validators[key] = validator
        return validator

    def config_issues(self, nt: NodeType, config: dict[str, Any]) -> list[tuple[str, str]]:
        """(path under config, issue) for every problem of `config` against the type.

        A string the engine will render as a template cannot be type-checked yet, so a
        schema error about such a value is not one; the node checks it after rendering.
        """
        key = (nt.owner_id, nt.id, nt.version)
        try:
            text = json.dumps(config, sort_keys=True, separators=(",", ":"))
        except (TypeError, ValueError):
            text = ""
        # Only small configs are remembered: a cache of 256 KiB code strings would hoard.
        memo = (key, text) if text and len(text) <= _MEMO_MAX_CHARS else None
        if memo is not None and memo in self._verdicts:
            return self._verdicts[memo]
        issues: list[tuple[str, str]] = []
        for err in self._validator(nt).iter_errors(config):
            if is_template(err.instance):
                continue
            path = list(err.path)
            if err.validator == "required":
                missing = [p for p in err.validator_value if p not in err.instance]
                issues.extend((_path("", [*path, p])[1:], "is required") for p in missing)
            elif err.validator == "additionalProperties" and isinstance(err.instance, dict):
                known = set(err.schema.get("properties", {}))
                for extra in sorted(set(err.instance) - known):
                    issues.append((_path("", [*path, extra])[1:], "is not a known config key"))
            else:
                issues.append((_path("", path)[1:], err.message))
        check = nt.extra.get("check_config")
        if check is not None and not issues:
            issues.extend(check(config))
        if memo is not None:
            if len(self._verdicts) >= _CACHE_SIZE:
                self._verdicts.clear()
            self._verdicts[memo] = issues
        return issues

    async def check_definition(
        self, user_id: str, definition: dict[str, Any]
    ) -> dict[str, NodeType]:
        """Check a (structurally valid) definition against the node types; return the
        type each node resolves to. Raises 400 with {node, field, issue} (and `errors`
        listing every problem found when there are several)."""
        nodes = definition.get("nodes", [])
        connections = definition.get("connections", [])
        custom = await self._custom(user_id, {n["type"] for n in nodes})
        issues = DefinitionIssues()
        resolved: dict[str, NodeType] = {}
        index: dict[str, int] = {}
        for i, node in enumerate(nodes):
            node_id, type_id, version = node["id"], node["type"], node.get("version")
            index[node_id] = i
            where = f"definition.nodes[{i}]"
            versions = self._builtins.get(type_id) or custom.get(type_id, [])
            nt = self._pick(versions, version)
            if nt is None:
                if not versions:
                    issues.add(node_id, f"{where}.type", f"unknown node type {type_id!r}")
                else:
                    issues.add(
                        node_id,
                        f"{where}.version",
                        f"unknown version {version!r} of {type_id} "
                        f"(available: {', '.join(v.version for v in versions)})",
                    )
                continue
            resolved[node_id] = nt
            for path, issue in self.config_issues(nt, node.get("config") or {}):
                issues.add(node_id, f"{where}.config" + (f".{path}" if path else ""), issue)
        connected: set[tuple[str, str]] = set()
        for j, conn in enumerate(connections):
            where = f"definition.connections[{j}]"
            source, target = resolved.get(conn["from"]), resolved.get(conn["to"])
            connected.add((conn["to"], conn["targetPort"]))
            if source is not None and source.port("outputs", conn["sourcePort"]) is None:
                names = ", ".join(p.name for p in source.outputs) or "none"
                issues.add(
                    conn["from"],
                    f"{where}.sourcePort",
                    f"{conn['sourcePort']!r} is not an output of {source.id} (outputs: {names})",
                )
            if target is not None and target.port("inputs", conn["targetPort"]) is None:
                names = ", ".join(p.name for p in target.inputs) or "none"
                issues.add(
                    conn["to"],
                    f"{where}.targetPort",
                    f"{conn['targetPort']!r} is not an input of {target.id} (inputs: {names})",
                )
        for node in nodes:
            nt = resolved.get(node["id"])
            if nt is None:
                continue
            config = node.get("config") or {}
            for port in nt.inputs:
                if (
                    port.required
                    and (node["id"], port.name) not in connected
                    and config.get(port.name) is None
                ):
                    issues.add(
                        node["id"],
                        f"definition.nodes[{index[node['id']]}].inputs.{port.name}",
                        f"is a required input: connect it or set config {port.name!r}",
                    )
        issues.raise_first()
        return resolved
