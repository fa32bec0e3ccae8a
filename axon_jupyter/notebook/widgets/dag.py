"""Drawing a workflow definition as SVG: a layered layout, node boxes coloured by state.

Pure functions over the definition dict (`nodes`, `connections`): no widgets, no I/O, so
the monitor, the builder and `%axon show` draw the same picture and tests can read it.
Layers run left to right by longest path from the sources (every edge points right);
within a layer, nodes are ordered by the mean position of their predecessors, which
removes most crossings for the small DAGs people build in notebooks.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

NODE_W = 176
NODE_H = 62
GAP_X = 84
GAP_Y = 22
PAD = 16

# Fill and stroke per node state; "pending" is the state of a node not yet reached.
STATE_COLOURS: dict[str, tuple[str, str]] = {
    "pending": ("#f3f4f6", "#9ca3af"),
    "queued": ("#e5e7eb", "#6b7280"),
    "running": ("#dbeafe", "#2563eb"),
    "retrying": ("#fef3c7", "#d97706"),
    "succeeded": ("#dcfce7", "#16a34a"),
    "failed": ("#fee2e2", "#dc2626"),
    "stopped": ("#ffedd5", "#ea580c"),
    "skipped": ("#f9fafb", "#d1d5db"),
    "invalid": ("#fff1f2", "#e11d48"),
}


@dataclass(frozen=True)
class Box:
    node_id: str
    x: float
    y: float
    layer: int


def _edges(definition: Mapping[str, Any], ids: set[str]) -> list[tuple[str, str, dict]]:
    out = []
    for c in definition.get("connections") or []:
        if isinstance(c, Mapping) and c.get("from") in ids and c.get("to") in ids:
            out.append((c["from"], c["to"], dict(c)))
    return out


def layers(definition: Mapping[str, Any]) -> list[list[str]]:
    """Node ids grouped by layer (longest path from a source); cycles are broken by
    leaving the remaining nodes in one extra layer, so a bad draft still draws."""
    nodes = [n["id"] for n in definition.get("nodes") or [] if isinstance(n, Mapping)]
    ids = set(nodes)
    preds: dict[str, list[str]] = {n: [] for n in nodes}
    succs: dict[str, list[str]] = {n: [] for n in nodes}
    for src, dst, _ in _edges(definition, ids):
        preds[dst].append(src)
        succs[src].append(dst)
    indegree = {n: len(set(preds[n])) for n in nodes}
    level = {n: 0 for n in nodes}
    ready = [n for n in nodes if indegree[n] == 0]
    seen: list[str] = []
    while ready:
        n = ready.pop(0)
        seen.append(n)
        for m in dict.fromkeys(succs[n]):
            level[m] = max(level[m], level[n] + 1)
            indegree[m] -= 1
            if indegree[m] == 0:
                ready.append(m)
    if len(seen) < len(nodes):  # a cycle: park the rest after everything else
        last = max((level[n] for n in seen), default=-1) + 1
        for n in nodes:
            if n not in seen:
                level[n] = last
    grouped: list[list[str]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for n in nodes:
        grouped[level[n]].append(n)
    # Barycentre ordering, one sweep left to right.
    for i in range(1, len(grouped)):
        rank = {n: k for k, n in enumerate(grouped[i - 1])}
        for j in range(i - 1):
            rank.update({n: k for k, n in enumerate(grouped[j])})

        def centre(n: str, rank: dict[str, int] = rank) -> float:
            ps = [rank[p] for p in preds[n] if p in rank]
            return sum(ps) / len(ps) if ps else float("inf")

        grouped[i].sort(key=centre)
    return grouped


def layout(definition: Mapping[str, Any]) -> dict[str, Box]:
    """Box positions for every node, columns centred vertically."""
    grouped = layers(definition)
    tallest = max((len(g) for g in grouped), default=0)
    height = tallest * NODE_H + max(tallest - 1, 0) * GAP_Y
    boxes: dict[str, Box] = {}
    for li, group in enumerate(grouped):
        column = len(group) * NODE_H + max(len(group) - 1, 0) * GAP_Y
        top = PAD + (height - column) / 2
        for k, node_id in enumerate(group):
            x = PAD + li * (NODE_W + GAP_X)
            boxes[node_id] = Box(node_id, x, top + k * (NODE_H + GAP_Y), li)
    return boxes


def positions(definition: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """`position` values ({x, y}) for a definition's nodes, from the same layout."""
    return {n: {"x": int(b.x), "y": int(b.y)} for n, b in layout(definition).items()}


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_svg(
    definition: Mapping[str, Any],
    states: Mapping[str, str] | None = None,
    *,
    current: str | None = None,
    title: str | None = None,
) -> str:
    """The DAG as an inline `<svg>` document; `states` maps node id -> state name."""
    states = states or {}
    nodes = {n["id"]: n for n in definition.get("nodes") or [] if isinstance(n, Mapping)}
    boxes = layout(definition)
    width = max((b.x + NODE_W for b in boxes.values()), default=0) + PAD
    height = max((b.y + NODE_H for b in boxes.values()), default=0) + PAD
    width, height = max(width, 2 * PAD + NODE_W), max(height, 2 * PAD + NODE_H)
    # Deterministic per picture (the same drawing twice on a page shares an identical
    # marker), so saved notebook outputs do not change from run to run.
    digest = hashlib.sha1(
        json.dumps([definition, dict(states), current], sort_keys=True, default=str).encode()
    ).hexdigest()[:10]
    marker = f"axon-arrow-{digest}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="axon-dag" width="{width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
        'font-family="ui-sans-serif, system-ui, sans-serif" role="img"'
        + (f' aria-label="{html.escape(title)}"' if title else "")
        + ">",
        f'<defs><marker id="{marker}" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M 0 0 L 10 5 L 0 10 z" fill="#6b7280"/></marker></defs>',
    ]
    if not boxes:
        parts.append(
            f'<text x="{PAD}" y="{PAD + 20}" font-size="13" fill="#6b7280">(no nodes yet)</text>'
        )
    for src, dst, conn in _edges(definition, set(boxes)):
        a, b = boxes[src], boxes[dst]
        x1, y1 = a.x + NODE_W, a.y + NODE_H / 2
        x2, y2 = b.x, b.y + NODE_H / 2
        if b.layer <= a.layer:  # only inside a cycle: loop around underneath
            bend = max(a.y, b.y) + NODE_H + GAP_Y
            d = f"M {x1:.1f} {y1:.1f} C {x1 + 40:.1f} {bend:.1f}, {x2 - 40:.1f} {bend:.1f}, "
            d += f"{x2:.1f} {y2:.1f}"
        else:
            mid = (x1 + x2) / 2
            d = f"M {x1:.1f} {y1:.1f} C {mid:.1f} {y1:.1f}, {mid:.1f} {y2:.1f}, {x2:.1f} {y2:.1f}"
        src_state = states.get(src, "pending")
        stroke = "#16a34a" if src_state == "succeeded" else "#6b7280"
        parts.append(
            f'<path class="axon-edge" data-from="{html.escape(src)}" data-to="{html.escape(dst)}"'
            f' d="{d}" fill="none" stroke="{stroke}" stroke-width="1.6" '
            f'marker-end="url(#{marker})"/>'
        )
        source_port, target_port = conn.get("sourcePort"), conn.get("targetPort")
        if source_port and source_port != "output":
            parts.append(
                f'<text x="{x1 + 4:.1f}" y="{y1 - 5:.1f}" font-size="10" fill="#4b5563">'
                f"{html.escape(_clip(source_port, 12))}</text>"
            )
        if target_port and target_port != "input":
            parts.append(
                f'<text x="{x2 - 4:.1f}" y="{y2 - 6:.1f}" font-size="10" text-anchor="end" '
                f'fill="#4b5563">{html.escape(_clip(target_port, 12))}</text>'
            )
    for node_id, box in boxes.items():
        state = states.get(node_id, "pending")
        fill, stroke = STATE_COLOURS.get(state, STATE_COLOURS["pending"])
        node = nodes.get(node_id, {})
        kind = str(node.get("type", ""))
        if node.get("version"):
            kind += f"@{node['version']}"
        width_px = 3 if node_id == current else 1.5
        parts.append(
            f'<g class="axon-node" data-node="{html.escape(node_id)}" '
            f'data-state="{html.escape(state)}">'
            f"<title>{html.escape(node_id)}: {html.escape(kind)} ({html.escape(state)})</title>"
            f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{NODE_W}" height="{NODE_H}" rx="8" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="{width_px}"/>'
            f'<text x="{box.x + 10:.1f}" y="{box.y + 19:.1f}" font-size="13" font-weight="600" '
            f'fill="#111827">{html.escape(_clip(node_id, 21))}</text>'
            f'<text x="{box.x + 10:.1f}" y="{box.y + 36:.1f}" font-size="11" fill="#4b5563">'
            f"{html.escape(_clip(kind, 26))}</text>"
            f'<text class="axon-state" x="{box.x + 10:.1f}" y="{box.y + 53:.1f}" font-size="11" '
            f'font-weight="600" fill="{stroke}">{html.escape(state)}</text>'
            "</g>"
        )
    parts.append("</svg>")
    return "".join(parts)
