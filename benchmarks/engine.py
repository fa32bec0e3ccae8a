"""Engine overhead and execution throughput, each beside a floor measured in the same run.

    python benchmarks/engine.py [--runs 5] [--executions 200]

Prints one Markdown table of medians over `--runs` runs.

- chain-100 / chain-1000: a chain of in-process no-op nodes, persistence on (a real
  SQLite file, node records and the execution row committed), from `start_execution`
  (plan, insert) to the terminal state committed. Target <= 0.1 ms per node.
- fan-out 1000 + join: one root, 1000 parallel no-ops, one join fed by all of them.
  Target <= 60 ms.
- growth: 1k, 5k and 10k-node chains; 10k must stay within 12x of 1k.
- throughput: `--executions` executions of a 3-node built-in workflow (manual trigger,
  two node_set) submitted at once through the HTTP API of a real `jupyter axon`
  (POST .../execute?wait=60 on pre-opened keep-alive connections) until all are
  terminal. Target >= 500 executions/s.

Floors: for the DAG figures, one bare asyncio task per node (awaited in the same
shape: a chain awaits one after another, a fan-out gathers) plus the same node records
and execution row written to SQLite in one batched transaction. For throughput, a bare
tornado server (no auth, no Jupyter; run by this script with `--floor-server`) whose
handler runs three bare tasks and group-commits the same rows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PYTHON, free_port, jupyter_env, median, spawn, stop, table, wait_http

EMAIL, PASSWORD = "bench@example.com", "bench-password-1"
_dumps = json.JSONEncoder(separators=(",", ":")).encode


# ---------------------------------------------------------------- in-process DAGs
def chain(size: int) -> dict[str, Any]:
    nodes = [{"id": f"n{i}", "type": "noop", "config": {}} for i in range(size)]
    conns = [
        {"from": f"n{i}", "to": f"n{i + 1}", "sourcePort": "output", "targetPort": "input"}
        for i in range(size - 1)
    ]
    return {"nodes": nodes, "connections": conns}


def fan_out(width: int) -> dict[str, Any]:
    nodes = [{"id": "root", "type": "noop", "config": {}}]
    nodes += [{"id": f"f{i}", "type": "noop", "config": {}} for i in range(width)]
    nodes.append({"id": "join", "type": "noop", "config": {}})
    conns = []
    for i in range(width):
        conns.append({"from": "root", "to": f"f{i}", "sourcePort": "output", "targetPort": "input"})
        conns.append({"from": f"f{i}", "to": "join", "sourcePort": "output", "targetPort": "input"})
    return {"nodes": nodes, "connections": conns}


class InProcess:
    """A real store (SQLite file) and a real engine, resolving one no-op inline type."""

    async def open(self, work: Path) -> None:
        from axon_jupyter.engine.engine import Engine
        from axon_jupyter.engine.events import EventBus
        from axon_jupyter.models import User, new_id
        from axon_jupyter.nodes.types import NodeType, Port
        from axon_jupyter.store.sqlite import SqliteStore

        async def noop(inputs, config, ctx):
            return {"output": inputs.get("input")}

        noop_type = NodeType(
            "noop", "No-op", "", "bench", "1.0.0", [Port("input")], [Port("output")], {}, True,
            run=noop,
        )  # fmt: skip

        async def resolve(user_id: str, type_id: str, version: str | None) -> NodeType:
            return noop_type

        self.store = SqliteStore(work / "engine.db")
        await self.store.open()
        self.engine = Engine(self.store, EventBus(), resolver=resolve)
        await self.engine.start()
        self.user = User(new_id("user"), "bench@example.com", "bench", None, role="admin")
        await self.store.create_user(self.user)
        self.workflows: dict[str, Any] = {}

    async def workflow(self, name: str, definition: dict[str, Any]) -> Any:
        from axon_jupyter.models import Workflow, new_id, utcnow

        if name not in self.workflows:
            wf = Workflow(
                new_id("wf"), self.user.id, name, "", "active", definition, 1, utcnow(),
                utcnow(), len(definition["nodes"]),
            )  # fmt: skip
            await self.store.create_workflow(wf)
            self.workflows[name] = wf
        return self.workflows[name]

    async def axon(self, name: str, definition: dict[str, Any]) -> float:
        wf = await self.workflow(name, definition)
        start = time.perf_counter()
        run = await self.engine.start_execution(
            user=self.user, workflow=wf, definition=definition, workflow_version=1, input={}
        )
        await run.done
        elapsed = time.perf_counter() - start
        assert run.status == "succeeded", run.error
        return elapsed

    async def floor(self, definition: dict[str, Any], shape: str) -> float:
        """Bare tasks in the same shape, then the same rows in one batched transaction."""

        async def noop(value: Any) -> dict[str, Any]:
            return {"output": value}

        start = time.perf_counter()
        outputs: dict[str, dict[str, Any]] = {}
        nodes = [n["id"] for n in definition["nodes"]]
        if shape == "chain":
            value = None
            for nid in nodes:
                outputs[nid] = await asyncio.create_task(noop(value))
                value = outputs[nid]["output"]
        else:
            outputs["root"] = await asyncio.create_task(noop(None))
            middle = nodes[1:-1]
            results = await asyncio.gather(*(asyncio.create_task(noop(None)) for _ in middle))
            outputs.update(zip(middle, results, strict=True))
            outputs["join"] = await asyncio.create_task(noop([r["output"] for r in results]))
        now = time.time()
        ex_id = f"exec_floor_{time.perf_counter_ns()}"
        rows = [
            (ex_id, nid, "noop", "1.0.0", "succeeded", 1, now, now, _dumps(outputs[nid]), None)
            for nid in nodes
        ]
        async with self.store.transaction() as conn:
            await conn.execute(
                "INSERT INTO executions (id, workflow_id, user_id, workflow_version, status, "
                "input, definition, created_at) VALUES (?, ?, ?, 1, 'running', '{}', ?, ?)",
                (
                    ex_id,
                    next(iter(self.workflows.values())).id,
                    self.user.id,
                    _dumps(definition),
                    now,
                ),
            )
            await conn.executemany(
                "INSERT INTO execution_nodes (execution_id, node_id, node_type, node_version, "
                "status, attempts, started_at, finished_at, outputs, error) "
                "VALUES (?,?,?,?,?,?,?,?,?,?)",
                rows,
            )
            await conn.execute(
                "UPDATE executions SET status = 'succeeded', progress = 1, finished_at = ? "
                "WHERE id = ?",
                (now, ex_id),
            )
        return time.perf_counter() - start

    async def close(self) -> None:
        await self.engine.stop()
        await self.store.close()


async def in_process(work: Path, runs: int) -> dict[str, tuple[list[float], list[float]]]:
    bench = InProcess()
    await bench.open(work)
    cases = {
        "chain-100": (chain(100), "chain"),
        "chain-1000": (chain(1000), "chain"),
        "fan-out-1000": (fan_out(1000), "fan"),
        "chain-5000": (chain(5000), "chain"),
        "chain-10000": (chain(10000), "chain"),
    }
    results: dict[str, tuple[list[float], list[float]]] = {}
    try:
        for name, (definition, shape) in cases.items():
            await bench.workflow(name, definition)
            await bench.axon(name, definition)  # warm-up: caches, first plan
            axon, floor = [], []
            for _ in range(runs):
                floor.append(await bench.floor(definition, shape))
                axon.append(await bench.axon(name, definition))
            results[name] = (axon, floor)
    finally:
        await bench.close()
    return results


# ---------------------------------------------------------------- HTTP throughput
async def http_call(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, headers: str
) -> tuple[int, bytes]:
    body = b'{"input": {}}'
    writer.write(
        (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        + body
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return status, await reader.readexactly(length)


async def burst(port: int, path: str, headers: str, count: int) -> float:
    """Open `count` keep-alive connections, then send one request on each at once;
    seconds until every answer (a terminal execution) is back."""
    conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(count)]
    try:
        start = time.perf_counter()
        answers = await asyncio.gather(*(http_call(r, w, path, headers) for r, w in conns))
        elapsed = time.perf_counter() - start
    finally:
        for _, writer in conns:
            writer.close()
    for status, body in answers:
        if status != 201:
            raise RuntimeError(f"HTTP {status}: {body[:300]!r}")
        if b'"status":"queued"' not in body and json.loads(body).get("status") != "succeeded":
            raise RuntimeError(f"not terminal: {body[:300]!r}")
    return elapsed


def post(url: str, body: dict, headers: dict | None = None) -> dict:
    import urllib.request

    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def throughput(work: Path, runs: int, count: int) -> tuple[list[float], list[float]]:
    env = jupyter_env(work / "home")
    data_dir = work / "http-data"
    port, floor_port = free_port(), free_port()
    cmd = [
        PYTHON, "-m", "axon_jupyter", f"--port={port}", "--ip=127.0.0.1",
        "--IdentityProvider.token=benchtoken", f"--AxonApp.data_dir={data_dir}",
    ]  # fmt: skip
    env_admin = {**env, "AXON_ADMIN_EMAIL": EMAIL, "AXON_ADMIN_PASSWORD": PASSWORD}
    axon = spawn(cmd, env_admin, work, work / "axon-engine.log")
    floor = spawn(
        [PYTHON, __file__, "--floor-server", str(floor_port), str(work / "floor.db")],
        env,
        work,
        work / "floor-engine.log",
    )
    try:
        api = f"http://127.0.0.1:{port}/axon/v1"
        wait_http(f"{api}/health", axon)
        wait_http(f"http://127.0.0.1:{floor_port}/health", floor)
        # The rate limiter stays on (it is on the hot path); this user's budget is large.
        with sqlite3.connect(data_dir / "axon.db") as db:
            db.execute("UPDATE users SET rate_limit = 1000000000 WHERE email = ?", (EMAIL,))
        token = post(f"{api}/auth/login", {"email": EMAIL, "password": PASSWORD})["token"]
        link = {"sourcePort": "output", "targetPort": "input"}
        wf = post(
            f"{api}/workflows",
            {
                "name": "three nodes",
                "definition": {
                    "nodes": [
                        {"id": "start", "type": "node_manual_trigger"},
                        {"id": "a", "type": "node_set", "config": {"values": {"a": 1}}},
                        {"id": "b", "type": "node_set", "config": {"values": {"b": 2}}},
                    ],
                    "connections": [
                        {"from": "start", "to": "a", **link},
                        {"from": "a", "to": "b", **link},
                    ],
                },
            },
            {"Authorization": f"Bearer {token}"},
        )
        path = f"/axon/v1/workflows/{wf['id']}/execute?wait=60"
        headers = f"Authorization: Bearer {token}\r\n"
        asyncio.run(burst(port, path, headers, 20))  # warm-up
        asyncio.run(burst(floor_port, "/execute", "", 20))
        axon_runs, floor_runs = [], []
        for _ in range(runs):
            floor_runs.append(count / asyncio.run(burst(floor_port, "/execute", "", count)))
            axon_runs.append(count / asyncio.run(burst(port, path, headers, count)))
        return axon_runs, floor_runs
    finally:
        stop(axon)
        stop(floor)


def floor_server(port: int, db_path: str) -> None:
    """Bare tornado: POST /execute runs three bare tasks and group-commits the rows of
    one execution (the execution row and three node records), then answers 201."""
    import aiosqlite
    import tornado.web

    async def main() -> None:
        db = await aiosqlite.connect(db_path, isolation_level=None)
        await db.executescript(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
            "CREATE TABLE IF NOT EXISTS executions (id TEXT PRIMARY KEY, status TEXT, "
            "input TEXT, output TEXT, created_at REAL, finished_at REAL);"
            "CREATE TABLE IF NOT EXISTS execution_nodes (execution_id TEXT, node_id TEXT, "
            "status TEXT, outputs TEXT, PRIMARY KEY (execution_id, node_id)) WITHOUT ROWID;"
        )
        pending: list[tuple[list, asyncio.Future]] = []
        flushing = False

        async def flush() -> None:
            nonlocal flushing, pending
            while pending:
                batch, pending = pending, []
                await db.execute("BEGIN IMMEDIATE")
                await db.executemany(
                    "INSERT INTO executions VALUES (?,?,?,?,?,?)", [b[0][0] for b in batch]
                )
                await db.executemany(
                    "INSERT INTO execution_nodes VALUES (?,?,?,?)",
                    [row for b in batch for row in b[0][1]],
                )
                await db.execute("COMMIT")
                for _, fut in batch:
                    fut.set_result(None)
            flushing = False

        async def noop(value: Any) -> dict[str, Any]:
            return {"output": value}

        counter = iter(range(10**9))
        tasks: set[asyncio.Future] = set()

        class Execute(tornado.web.RequestHandler):
            async def post(self) -> None:
                nonlocal flushing
                payload = json.loads(self.request.body or b"{}")
                ex_id = f"exec_{next(counter)}"
                value, nodes = payload.get("input"), []
                for nid in ("start", "a", "b"):
                    out = await asyncio.create_task(noop(value))
                    nodes.append((ex_id, nid, "succeeded", _dumps(out)))
                now = time.time()
                row = (ex_id, "succeeded", _dumps(payload), _dumps(out), now, now)
                fut = asyncio.get_running_loop().create_future()
                pending.append(([row, nodes], fut))
                if not flushing:
                    flushing = True
                    task = asyncio.ensure_future(flush())
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                await fut
                self.set_status(201)
                self.finish(_dumps({"id": ex_id, "status": "succeeded", "output": out}))

        class Health(tornado.web.RequestHandler):
            def get(self) -> None:
                self.finish({"status": "ok"})

        tornado.web.Application([(r"/execute", Execute), (r"/health", Health)]).listen(
            port, "127.0.0.1"
        )
        await asyncio.Event().wait()

    asyncio.run(main())


# ---------------------------------------------------------------- report
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--executions", type=int, default=200)
    parser.add_argument("--skip-http", action="store_true", help="only the in-process DAGs")
    parser.add_argument("--floor-server", nargs=2, metavar=("PORT", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor_server:
        floor_server(int(args.floor_server[0]), args.floor_server[1])
        return

    work = Path(tempfile.mkdtemp(prefix="axon-bench-engine-"))
    dags = asyncio.run(in_process(work, args.runs))
    rows: list[list[object]] = []

    def ms(values: list[float]) -> float:
        return median(values) * 1000

    for name, per_node_target in (("chain-100", 0.1), ("chain-1000", 0.1)):
        axon, floor = dags[name]
        size = int(name.split("-")[1])
        rows.append(
            [
                f"{name}, ms/node",
                f"{ms(axon) / size:.4f}",
                f"{ms(floor) / size:.4f}",
                f"{ms(axon) / ms(floor):.2f}x",
                f"<= {per_node_target}",
                "ok" if ms(axon) / size <= per_node_target else "MISSED",
            ]
        )
    axon, floor = dags["fan-out-1000"]
    rows.append(
        [
            "fan-out 1000 + join, ms",
            f"{ms(axon):.1f}",
            f"{ms(floor):.1f}",
            f"{ms(axon) / ms(floor):.2f}x",
            "<= 60",
            "ok" if ms(axon) <= 60 else "MISSED",
        ]
    )
    base = ms(dags["chain-1000"][0])
    for name in ("chain-1000", "chain-5000", "chain-10000"):
        axon, floor = dags[name]
        growth = ms(axon) / base
        rows.append(
            [
                f"growth {name}, ms (x of 1k)",
                f"{ms(axon):.1f} ({growth:.1f}x)",
                f"{ms(floor):.1f}",
                f"{ms(axon) / ms(floor):.2f}x",
                "10k <= 12x of 1k" if name == "chain-10000" else "",
                ("ok" if growth <= 12 else "MISSED") if name == "chain-10000" else "",
            ]
        )
    if not args.skip_http:
        axon_rate, floor_rate = throughput(work, args.runs, args.executions)
        rate = median(axon_rate)
        rows.append(
            [
                f"throughput, {args.executions} x 3-node via HTTP, exec/s",
                f"{rate:.0f}",
                f"{median(floor_rate):.0f}",
                f"{rate / median(floor_rate):.2f}x",
                ">= 500",
                "ok" if rate >= 500 else "MISSED",
            ]
        )
    print(
        table(
            f"Engine (medians of {args.runs} runs; floor measured in the same run)",
            ["benchmark", "axon", "floor", "axon/floor", "target", ""],
            rows,
        )
    )


if __name__ == "__main__":
    main()
