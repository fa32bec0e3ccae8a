"""WebSocket fan-out: 1,000 subscribers on one `jupyter axon` receiving real executions.

    python benchmarks/realtime.py [--subscribers 1000] [--executions 30] [--rate 3] [--runs 3]

What runs: a real Axon server (AxonApp, the `jupyter axon` entry point, started by this
script with `--serve`) with a 5-node workflow (manual trigger and four node_set); the
subscribers are real WebSocket connections (RFC 6455 handshake, masked frames; a lean
client, see `Subscriber`) in separate processes, each authenticated with a JWT on
`/axon/v1/ws`; the parent submits `--executions`
executions through the REST API at `--rate` per second. Every event the engine publishes
(execution_update, node_update, notification) goes to every subscriber.

Measured, per run: delivered events per second (events x subscribers, over the time
from the first publish to the last receipt), the publish-to-receipt delay p50/p99 over
every delivery, whether every subscriber got every event, and the server's RSS before
the subscribers connect, with them connected and idle, and after the run. To time the
delay the `--serve` process stamps each event's data with `_published` (time.time(),
same clock as the clients) in EventBus.publish; nothing else differs from `jupyter axon`.
Target: all subscribers served, p99 < 250 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import multiprocessing as mp
import os
import re
import resource
import sqlite3
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PYTHON, free_port, jupyter_env, median, rss_mib, spawn, stop, table, wait_http

EMAIL, PASSWORD = "bench@example.com", "bench-password-1"
STAMP = re.compile(rb'"_published":([0-9.eE+-]+)')
LINK = {"sourcePort": "output", "targetPort": "input"}
WORKFLOW = {
    "name": "fan-out bench",
    "definition": {
        "nodes": [{"id": "start", "type": "node_manual_trigger"}]
        + [{"id": f"s{i}", "type": "node_set", "config": {"values": {"i": i}}} for i in range(4)],
        "connections": [{"from": "start", "to": "s0", **LINK}]
        + [{"from": f"s{i}", "to": f"s{i + 1}", **LINK} for i in range(3)],
    },
}


# ---------------------------------------------------------------- server side
def serve(argv: list[str]) -> None:
    """`jupyter axon` with each published event stamped with its publish time."""
    from axon_jupyter.app import main
    from axon_jupyter.engine import events

    original = events.EventBus.publish

    def publish(self: events.EventBus, event: events.Event) -> events.Event:
        data = {**event.data, "_published": time.time()}
        stamped = events.Event(
            event.type, data, event.user_id, event.workflow_id, event.execution_id
        )
        return original(self, stamped)

    events.EventBus.publish = publish  # type: ignore[method-assign]
    sys.argv = ["jupyter-axon", *argv]
    main()


# ---------------------------------------------------------------- subscribers
class Subscriber(asyncio.Protocol):
    """A lean RFC 6455 client: the opening handshake, one masked `auth` text frame, then
    frames parsed straight from the socket buffer. The `websockets` package spends more
    CPU per message than the server does, and on a 2-core machine the clients would
    otherwise be what the benchmark measures."""

    def __init__(self, host: str, path: str, token: str, on_event: Any):
        self.host, self.path, self.token, self.on_event = host, path, token, on_event
        self.key = base64.b64encode(os.urandom(16)).decode()
        self.buffer = bytearray()
        self.upgraded = False
        self.ready: asyncio.Future = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(
            (
                f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {self.key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )

    def send_text(self, text: str) -> None:
        payload, mask = text.encode(), os.urandom(4)
        n = len(payload)
        head = (
            bytes((0x81, 0x80 | n)) if n < 126 else bytes((0x81, 0x80 | 126)) + n.to_bytes(2, "big")
        )
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.transport.write(head + mask + masked)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head, self.buffer = bytes(self.buffer[:end]), self.buffer[end + 4 :]
            accept = base64.b64encode(
                hashlib.sha1((self.key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
            )
            if not head.startswith(b"HTTP/1.1 101") or accept not in head:
                self.ready.set_exception(RuntimeError(head[:200].decode(errors="replace")))
                return
            self.upgraded = True
            self.send_text(json.dumps({"type": "auth", "token": self.token}))
        now = time.time()
        buf, pos = self.buffer, 0
        while len(buf) - pos >= 2:
            opcode, n, start = buf[pos] & 0x0F, buf[pos + 1] & 0x7F, pos + 2
            if n == 126:
                if len(buf) - pos < 4:
                    break
                n, start = int.from_bytes(buf[pos + 2 : pos + 4], "big"), pos + 4
            elif n == 127:
                if len(buf) - pos < 10:
                    break
                n, start = int.from_bytes(buf[pos + 2 : pos + 10], "big"), pos + 10
            if len(buf) - start < n:
                break
            payload = bytes(buf[start : start + n])
            pos = start + n
            if opcode == 0x8:
                if not self.closed.done():
                    self.closed.set_result(payload)
            elif opcode == 0x1:
                if not self.ready.done():
                    self.ready.set_result(json.loads(payload))
                else:
                    self.on_event(payload, now)
        del buf[:pos]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(b"")
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed before auth_ok"))


async def _subscribers(port: int, token: str, count: int, ready: Any, go: Any, idle: float):
    loop = asyncio.get_running_loop()
    delays: list[float] = []
    received = [0] * count
    last = [0.0]
    conns: list[Subscriber] = []

    def counter(i: int) -> Any:
        def on_event(payload: bytes, now: float) -> None:
            match = STAMP.search(payload)
            if match is None:
                return  # system_health ticks are not part of the workload
            delays.append(now - float(match.group(1)))
            received[i] += 1
            last[0] = now

        return on_event

    for i in range(count):
        proto = Subscriber(f"127.0.0.1:{port}", "/axon/v1/ws", token, counter(i))
        await loop.create_connection(lambda p=proto: p, "127.0.0.1", port)
        conns.append(proto)
        if i % 50 == 49:
            await asyncio.gather(*(c.ready for c in conns[-50:]))
    for conn in conns:
        hello = await asyncio.wait_for(conn.ready, 60)
        assert hello["type"] == "auth_ok", hello
    ready.set()
    await loop.run_in_executor(None, go.wait)
    # Run until the workload is over: no event for `idle` seconds after the first one.
    while not last[0] or time.time() - last[0] < idle:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    for conn in conns:
        conn.transport.close()
    return delays, received, last[0]


def subscriber_process(port, token, count, ready, go, out, idle) -> None:
    delays, received, last = asyncio.run(_subscribers(port, token, count, ready, go, idle))
    out.put((delays, received, last))


# ---------------------------------------------------------------- driver
def request(url: str, body: Any = None, token: str | None = None, method: str = "POST") -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def one_run(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    env = jupyter_env(work / "home")
    data_dir = work / "data"
    port = free_port()
    cmd = [
        PYTHON, __file__, "--serve", f"--port={port}", "--ip=127.0.0.1",
        "--IdentityProvider.token=benchtoken", f"--AxonApp.data_dir={data_dir}",
        "--AxonApp.ws_ping_interval=0",
    ]  # fmt: skip
    server = spawn(
        cmd,
        {**env, "AXON_ADMIN_EMAIL": EMAIL, "AXON_ADMIN_PASSWORD": PASSWORD},
        work,
        work / "server.log",
    )
    procs: list[mp.Process] = []
    try:
        api = f"http://127.0.0.1:{port}/axon/v1"
        wait_http(f"{api}/health", server)
        with sqlite3.connect(data_dir / "axon.db") as db:  # the limiter stays on, budget large
            db.execute("UPDATE users SET rate_limit = 1000000000 WHERE email = ?", (EMAIL,))
        token = request(f"{api}/auth/login", {"email": EMAIL, "password": PASSWORD})["token"]
        wf = request(f"{api}/workflows", WORKFLOW, token)
        execute = f"{api}/workflows/{wf['id']}/execute"
        request(f"{execute}?wait=10", {}, token)  # warm-up: imports, first plan
        rss_before = rss_mib(server.pid)

        ctx = mp.get_context("spawn")
        go, out = ctx.Event(), ctx.Queue()
        share = [args.subscribers // args.processes] * args.processes
        share[0] += args.subscribers - sum(share)
        readies = []
        for n in share:
            ready = ctx.Event()
            proc = ctx.Process(
                target=subscriber_process, args=(port, token, n, ready, go, out, args.idle)
            )
            proc.start()
            procs.append(proc)
            readies.append(ready)
        for ready in readies:
            if not ready.wait(180):
                raise TimeoutError("subscribers did not connect")
        time.sleep(0.5)
        rss_idle = rss_mib(server.pid)

        go.set()
        started = time.time()
        ids = []
        for i in range(args.executions):
            due = started + i / args.rate
            time.sleep(max(0.0, due - time.time()))
            ids.append(request(execute, {"input": {"n": i}}, token)["id"])
        results = [out.get(timeout=300) for _ in procs]
        rss_after = rss_mib(server.pid)
        statuses = {request(f"{api}/executions/{i}", None, token, "GET")["status"] for i in ids}
    finally:
        for proc in procs:
            proc.join(30)
            if proc.is_alive():
                proc.kill()
        stop(server)

    delays = [d for r in results for d in r[0]]
    per_sub = [c for r in results for c in r[1]]
    last = max(r[2] for r in results)
    return {
        "deliveries": len(delays),
        "events": max(per_sub),
        "all_served": min(per_sub) == max(per_sub),
        "per_s": len(delays) / (last - started),
        "p50": percentile(delays, 0.50) * 1000,
        "p99": percentile(delays, 0.99) * 1000,
        "max": max(delays) * 1000,
        "rss": (rss_before, rss_idle, rss_after),
        "statuses": statuses,
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--executions", type=int, default=30)
    parser.add_argument("--rate", type=float, default=3.0, help="executions per second")
    parser.add_argument("--processes", type=int, default=2, help="subscriber processes")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle", type=float, default=2.0)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, 4 * args.subscribers + 256))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

    runs = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="axon-rt-") as tmp:
            runs.append(one_run(Path(tmp), args))
    rows = [
        [
            i + 1,
            f"{r['events']}",
            f"{r['deliveries']:,}",
            "yes" if r["all_served"] else "NO",
            f"{r['per_s']:,.0f}",
            f"{r['p50']:.1f}",
            f"{r['p99']:.1f}",
            f"{r['max']:.1f}",
            " / ".join(f"{m:.0f}" for m in r["rss"]),
            ",".join(sorted(r["statuses"])),
        ]
        for i, r in enumerate(runs)
    ]
    rows.append(
        [
            "median",
            "",
            "",
            "yes" if all(r["all_served"] for r in runs) else "NO",
            f"{median([r['per_s'] for r in runs]):,.0f}",
            f"{median([r['p50'] for r in runs]):.1f}",
            f"{median([r['p99'] for r in runs]):.1f}",
            f"{median([r['max'] for r in runs]):.1f}",
            " / ".join(f"{median([r['rss'][k] for r in runs]):.0f}" for k in range(3)),
            "",
        ]
    )
    print(
        table(
            f"WebSocket fan-out: {args.subscribers} subscribers, {args.executions} executions "
            f"of a 5-node workflow at {args.rate:g}/s (target: all served, p99 < 250 ms)",
            [
                "run",
                "events",
                "deliveries",
                "all served",
                "delivered/s",
                "p50 ms",
                "p99 ms",
                "max ms",
                "RSS MiB before / 1k idle / after",
                "executions",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
