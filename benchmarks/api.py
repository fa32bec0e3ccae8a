"""REST read throughput, start-up time and idle memory of Axon, each beside a floor.

    python benchmarks/api.py [--runs 3] [--seconds 10] [--connections 32]

Needs `wrk` (Debian package) as the load generator: it is C and single-threaded here,
so it takes little of the 2 cores from the server. Prints one Markdown table.

- list: GET /axon/v1/workflows?limit=50 (50 stored workflows, Bearer JWT) under
  `--connections` concurrent connections, vs a bare tornado + aiosqlite handler serving
  the same rows (benchmarks/floor_server.py). Target: >= 0.75x the floor.
- start-up: seconds from spawning to the first healthy answer: `jupyter axon` (as a
  user runs it), a bare `jupyter server` with every extension disabled (the baseline),
  and that same bare server with only axon_jupyter enabled (the extension's own cost).
- idle memory: RSS after start-up, same three processes.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    PYTHON,
    free_port,
    jupyter_env,
    median,
    rss_mib,
    spawn,
    stop,
    table,
    wait_http,
)

EMAIL, PASSWORD = "bench@example.com", "bench-password-1"


def post(url: str, body: dict, headers: dict | None = None) -> dict:
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def wrk(url: str, seconds: int, connections: int, headers: dict[str, str]) -> dict[str, float]:
    args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    for key, value in headers.items():
        args += ["-H", f"{key}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"{non2xx.group(1)} failed requests:\n{out}")

    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return {"rps": rps, "p50": ms("50"), "p99": ms("99")}


def axon_cmd(port: int, token: str, data_dir: Path) -> list[str]:
    return [
        PYTHON, "-m", "axon_jupyter", f"--port={port}", "--ip=127.0.0.1",
        f"--IdentityProvider.token={token}", f"--AxonApp.data_dir={data_dir}",
    ]  # fmt: skip


def enabled_extensions() -> list[str]:
    out = subprocess.run(
        [PYTHON, "-m", "jupyter", "server", "extension", "list"], capture_output=True, text=True
    )
    names = re.findall(r"^\s+(\S+) .*enabled", out.stdout + out.stderr, re.M)
    return sorted(set(names))


def bare_server_cmd(port: int, token: str, root: Path, axon: bool, data_dir: Path) -> list[str]:
    exts = {name: (axon and name == "axon_jupyter") for name in enabled_extensions()}
    exts["axon_jupyter"] = axon
    return [
        PYTHON, "-m", "jupyter_server", f"--port={port}", "--ip=127.0.0.1", "--no-browser",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--allow-root",
        f"--AxonApp.data_dir={data_dir}",
        *(f"--ServerApp.jpserver_extensions={k}={v}" for k, v in exts.items()),
    ]  # fmt: skip


def measure_startup(name: str, cmd: list[str], health: str, env: dict, work: Path) -> tuple:
    proc = spawn(cmd, env, work, work / f"{name}.log")
    try:
        seconds = wait_http(health, proc)
        time.sleep(2.0)  # let start-up work settle before reading memory
        return seconds, rss_mib(proc.pid)
    finally:
        stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install -y wrk")

    work = Path(tempfile.mkdtemp(prefix="axon-bench-"))
    env = jupyter_env(work / "home")
    data_dir = work / "data"
    token = "benchtoken"

    # --- start-up and idle memory (fresh data dir each time: first start included)
    starts: dict[str, list[tuple[float, float]]] = {"axon": [], "bare": [], "bare+axon": []}
    for run in range(args.runs):
        port = free_port()
        d = work / f"start-{run}"
        starts["bare"].append(
            measure_startup(
                "bare", bare_server_cmd(port, token, work, False, d / "b"),
                f"http://127.0.0.1:{port}/api/status?token={token}", env, work,
            )
        )  # fmt: skip
        starts["bare+axon"].append(
            measure_startup(
                "bare+axon", bare_server_cmd(port, token, work, True, d / "ba"),
                f"http://127.0.0.1:{port}/axon/v1/health", env, work,
            )
        )  # fmt: skip
        starts["axon"].append(
            measure_startup(
                "axon", axon_cmd(port, token, d / "a"),
                f"http://127.0.0.1:{port}/axon/v1/health", env, work,
            )
        )  # fmt: skip

    # --- list throughput
    port = free_port()
    env_admin = {**env, "AXON_ADMIN_EMAIL": EMAIL, "AXON_ADMIN_PASSWORD": PASSWORD}
    axon = spawn(axon_cmd(port, token, data_dir), env_admin, work, work / "axon.log")
    floor = None
    try:
        api = f"http://127.0.0.1:{port}/axon/v1"
        wait_http(f"{api}/health", axon)
        # The limiter stays on (it is part of the hot path); this user's own budget is
        # simply large enough for the run.
        with sqlite3.connect(data_dir / "axon.db") as db:
            db.execute("UPDATE users SET rate_limit = 1000000000 WHERE email = ?", (EMAIL,))
        login = post(f"{api}/auth/login", {"email": EMAIL, "password": PASSWORD})
        auth = {"Authorization": f"Bearer {login['token']}"}
        for i in range(50):
            post(
                f"{api}/workflows",
                {
                    "name": f"workflow {i}",
                    "description": "ETL workflow for customer data",
                    "definition": {
                        "nodes": [{"id": f"n{j}", "type": "node_set"} for j in range(5)],
                        "connections": [],
                    },
                },
                auth,
            )
        user_id = login["user"]["id"]
        snapshot = work / "floor.db"
        with sqlite3.connect(data_dir / "axon.db") as src, sqlite3.connect(snapshot) as dst:
            src.backup(dst)
        floor_port = free_port()
        floor = spawn(
            [PYTHON, str(Path(__file__).parent / "floor_server.py"), str(snapshot), user_id,
             str(floor_port)],
            env, work, work / "floor.log",
        )  # fmt: skip
        wait_http(f"http://127.0.0.1:{floor_port}/workflows?limit=1", floor)
        axon_url = f"{api}/workflows?limit=50"
        floor_url = f"http://127.0.0.1:{floor_port}/workflows?limit=50"
        wrk(axon_url, 2, args.connections, auth)  # warm-up
        wrk(floor_url, 2, args.connections, {})
        axon_runs, floor_runs = [], []
        for _ in range(args.runs):
            floor_runs.append(wrk(floor_url, args.seconds, args.connections, {}))
            axon_runs.append(wrk(axon_url, args.seconds, args.connections, auth))
    finally:
        stop(axon)
        if floor is not None:
            stop(floor)

    def med(runs: list[dict], key: str) -> float:
        return median([r[key] for r in runs])

    a_rps, f_rps = med(axon_runs, "rps"), med(floor_runs, "rps")
    s = {
        k: (median([v[0] for v in vals]), median([v[1] for v in vals]))
        for k, vals in starts.items()
    }
    rows = [
        [f"GET /workflows?limit=50, {args.connections} conns (req/s)", f"{a_rps:.0f}",
         f"{f_rps:.0f} (bare tornado+aiosqlite)", f"{a_rps / f_rps:.2f}x", ">= 0.75x"],
        ["  latency p50 / p99 (ms)", f"{med(axon_runs, 'p50'):.1f} / {med(axon_runs, 'p99'):.1f}",
         f"{med(floor_runs, 'p50'):.1f} / {med(floor_runs, 'p99'):.1f}", "", ""],
        ["start-up to first healthy answer, `jupyter axon` (s)", f"{s['axon'][0]:.2f}",
         f"{s['bare'][0]:.2f} (bare jupyter server)", f"+{s['axon'][0] - s['bare'][0]:.2f} s",
         "<= 3 s"],
        ["start-up, bare jupyter server + axon only (s)", f"{s['bare+axon'][0]:.2f}",
         f"{s['bare'][0]:.2f}", f"+{s['bare+axon'][0] - s['bare'][0]:.2f} s", "<= +0.5 s"],
        ["idle RSS, `jupyter axon` (MiB)", f"{s['axon'][1]:.0f}", f"{s['bare'][1]:.0f}",
         f"+{s['axon'][1] - s['bare'][1]:.0f} MiB", "<= 150 MiB"],
        ["idle RSS, bare jupyter server + axon only (MiB)", f"{s['bare+axon'][1]:.0f}",
         f"{s['bare'][1]:.0f}", f"+{s['bare+axon'][1] - s['bare'][1]:.0f} MiB", "<= +40 MiB"],
    ]  # fmt: skip
    print(
        table(
            f"Axon REST API (medians of {args.runs} runs, {args.seconds} s each)",
            ["measure", "axon", "floor / baseline", "ratio / delta", "target"],
            rows,
        )
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
