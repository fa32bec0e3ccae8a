"""Python code nodes in real worker processes: logs, crashes, stop, timeout, hardening,
and the code_nodes policy."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import replace

import pytest
from test_engine_support import e, install_test_types, n, nodes_of, py, run, store_workflow

LOOP_FOREVER = """
import os, subprocess, sys
def run(inputs, config):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    print("pids", os.getpid(), child.pid, flush=True)
    while True:
        pass
"""


def alive(pid: int) -> bool:
    """Exists and is not a zombie (an orphan's zombie may linger in a container)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


@pytest.fixture
def admin(axon_admin, axon_runtime):
    install_test_types(axon_runtime)
    return axon_admin


async def logs_of(client, execution_id: str) -> list[dict]:
    resp = await client.get(f"executions/{execution_id}/logs", params={"limit": 1000})
    assert resp.status == 200
    return resp.json()["logs"]


async def test_code_runs_in_a_worker_and_print_and_logging_become_logs(admin, axon_runtime):
    code = """
import logging, os, sys
# templates in code are not rendered: {{ input.secret }}
def run(inputs, config):
    print("hello", inputs["input"])
    print("to stderr", file=sys.stderr)
    logging.getLogger("mine").warning("careful %s", 1)
    logging.debug("details")
    return {"output": {"pid": os.getpid(), "n": config["n"], "src": "{{" in config["code"]}}
"""
    wf = await store_workflow(
        axon_runtime,
        admin.id,
        [
            n("a", "t_value", value=[1, 2]),
            {**py("p", code), "config": {"code": code, "n": "{{ input.n }}"}},
        ],
        [e("a", "p")],
    )
    ex = await run(admin.client, wf, {"n": 7})
    assert ex["status"] == "succeeded", ex
    out = ex["output"]["p"]["output"]
    assert out["n"] == 7 and out["src"] is True
    assert out["pid"] != os.getpid()
    assert ex["node_versions"]["p"] == "t_py@1.0.0"
    lines = {
        (entry["node_id"], entry["level"], entry["message"])
        for entry in await logs_of(admin.client, ex["id"])
    }
    assert ("p", "info", "hello [1, 2]") in lines
    assert ("p", "error", "to stderr") in lines
    assert ("p", "warning", "careful 1") in lines
    assert ("p", "debug", "details") in lines


async def test_async_run_and_a_plain_return_value(admin, axon_runtime):
    code = "import asyncio\nasync def run(i, c):\n    await asyncio.sleep(0)\n    return 42\n"
    wf = await store_workflow(axon_runtime, admin.id, [py("p", code)])
    ex = await run(admin.client, wf)
    assert ex["status"] == "succeeded"
    assert ex["output"] == {"p": {"output": 42}}


@pytest.mark.parametrize(
    ("code", "check"),
    [
        (
            "def run(inputs, config):\n    raise ValueError('bad value')\n",
            lambda err: (
                err["code"] == "CODE_ERROR"
                and err["message"] == "ValueError: bad value"
                and 'File "<node p>", line 2, in run' in err["traceback"]
            ),
        ),
        (
            "import os\ndef run(inputs, config):\n    os._exit(3)\n",
            lambda err: (
                err["code"] == "WORKER_CRASHED"
                and err["message"] == "worker process exited with code 3 before returning a result"
            ),
        ),
        (
            "import ctypes\ndef run(inputs, config):\n    ctypes.string_at(0)\n",
            lambda err: (
                err["code"] == "WORKER_CRASHED"
                and "segmentation fault" in err["message"]
                and err["signal"] == "SIGSEGV"
            ),
        ),
        (
            "def run(inputs, config):\n    return {'output': object()}\n",
            lambda err: err["code"] == "OUTPUT_ERROR" and "JSON" in err["message"],
        ),
        (
            "x = 1\n",
            lambda err: err["code"] == "CODE_ERROR" and "must define run" in err["message"],
        ),
        (
            "def run(inputs, config)\n    return 1\n",
            lambda err: err["code"] == "CODE_ERROR" and err["type"] == "SyntaxError",
        ),
    ],
    ids=["exception", "os_exit", "segfault", "unserializable", "no_run", "syntax"],
)
async def test_crashes_fail_only_that_node(admin, axon_runtime, code, check):
    wf = await store_workflow(
        axon_runtime, admin.id, [py("p", code), n("other", "t_value", value=1)]
    )
    ex = await run(admin.client, wf)
    assert ex["status"] == "failed"
    node = nodes_of(ex)["p"]
    assert node["status"] == "failed" and node["attempts"] == 1
    assert check(node["error"]), node["error"]
    assert ex["error"]["node_id"] == "p"
    # The server and the worker pool live on: the next code node runs in a fresh worker.
    ok = await store_workflow(
        axon_runtime, admin.id, [py("q", "def run(i, c):\n    return 'fine'\n")]
    )
    again = await run(admin.client, ok)
    assert again["status"] == "succeeded" and again["output"] == {"q": {"output": "fine"}}


async def test_segfault_traceback_lands_in_the_logs(admin, axon_runtime):
    wf = await store_workflow(
        axon_runtime,
        admin.id,
        [py("p", "import ctypes\ndef run(i, c):\n    ctypes.string_at(0)\n")],
    )
    ex = await run(admin.client, wf)
    messages = [
        entry["message"]
        for entry in await logs_of(admin.client, ex["id"])
        if entry["node_id"] == "p"
    ]
    assert any("Segmentation fault" in m for m in messages), messages


async def test_stop_kills_an_infinite_loop_and_its_process_group(admin, axon_runtime):
    wf = await store_workflow(
        axon_runtime, admin.id, [py("p", LOOP_FOREVER), n("after", "t_noop")], [e("p", "after")]
    )
    resp = await admin.client.post(f"workflows/{wf}/execute", {"input": {}})
    ex_id = resp.json()["id"]
    deadline = time.monotonic() + 15
    pids = None
    while pids is None:
        for entry in await logs_of(admin.client, ex_id):
            if entry["message"].startswith("pids "):
                pids = [int(x) for x in entry["message"].split()[1:]]
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    worker, child = pids
    assert alive(worker) and alive(child)
    started = time.monotonic()
    stopped = await admin.client.post(f"executions/{ex_id}/stop")
    assert stopped.status == 200, stopped
    assert time.monotonic() - started < 2
    body = stopped.json()
    assert body["status"] == "stopped"
    assert body["error"]["code"] == "EXECUTION_STOPPED"
    assert nodes_of(body)["p"]["status"] == "stopped"
    assert nodes_of(body)["after"]["status"] == "pending"
    for _ in range(40):
        if not alive(worker) and not alive(child):
            break
        await asyncio.sleep(0.05)
    assert not alive(worker) and not alive(child)
    # Stopping again: the execution is finished now.
    again = await admin.client.post(f"executions/{ex_id}/stop")
    assert again.status == 409 and again.error_code == "CONFLICT"
    assert again.json()["error"]["details"] == {"status": "stopped"}


async def test_timeout_kills_the_worker(admin, axon_runtime):
    wf = await store_workflow(
        axon_runtime,
        admin.id,
        [{**py("p", "def run(i, c):\n    while True:\n        pass\n"), "timeout_s": 0.5}],
    )
    started = time.monotonic()
    ex = await run(admin.client, wf)
    assert time.monotonic() - started < 4
    node = nodes_of(ex)["p"]
    assert node["status"] == "failed" and node["error"]["code"] == "NODE_TIMEOUT"


async def test_workers_are_hardened(admin, axon_runtime, monkeypatch):
    monkeypatch.setenv("AXON_JWT_SECRET_PROBE", "s3cret")
    monkeypatch.setenv("JUPYTER_TOKEN", "t0ken")
    code = """
import os, resource
def run(inputs, config):
    try:
        resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        raised = True
    except (ValueError, OSError):
        raised = False
    return {"output": {
        "env": dict(os.environ), "cwd": os.getcwd(), "pid": os.getpid(),
        "pgid": os.getpgid(0), "sid": os.getsid(0),
        "as": list(resource.getrlimit(resource.RLIMIT_AS)),
        "cpu": list(resource.getrlimit(resource.RLIMIT_CPU)), "raised": raised,
    }}
"""
    wf = await store_workflow(axon_runtime, admin.id, [py("p", code)])
    ex = await run(admin.client, wf)
    assert ex["status"] == "succeeded", ex
    out = ex["output"]["p"]["output"]
    leaked = [k for k in out["env"] if k.startswith(("AXON", "JUPYTER")) or "TOKEN" in k]
    assert leaked == []
    assert "s3cret" not in str(out["env"]) and "t0ken" not in str(out["env"])
    assert os.path.basename(out["cwd"]).startswith("axon-worker-")
    assert out["env"]["HOME"] == out["cwd"] == out["env"]["TMPDIR"]
    assert not os.path.exists(out["cwd"])  # the private dir went with the worker
    assert out["pgid"] == out["pid"] == out["sid"]  # its own session and process group
    settings = axon_runtime.engine.settings.workers
    assert out["as"] == [settings.memory_mb * 1024 * 1024] * 2
    assert out["cpu"] == [settings.cpu_seconds, settings.cpu_seconds + 1]
    assert out["raised"] is False  # the limits cannot be lifted from inside


async def test_code_nodes_policy(admin, axon_runtime, axon_user):
    wf_member = await store_workflow(
        axon_runtime, axon_user.id, [py("p", "def run(i, c):\n    return 1\n")]
    )
    assert axon_runtime.engine.settings.code_nodes == "owner"
    resp = await axon_user.client.post(f"workflows/{wf_member}/execute", {"input": {}})
    assert resp.status == 403 and resp.error_code == "FORBIDDEN"
    assert resp.json()["error"]["details"] == {"policy": "owner", "node": "p"}
    listed = await axon_user.client.get("executions")
    assert listed.json()["pagination"]["total"] == 0  # nothing was queued
    engine = axon_runtime.engine
    engine.settings = replace(engine.settings, code_nodes="all")
    ex = await run(axon_user.client, wf_member)
    assert ex["status"] == "succeeded"
    engine.settings = replace(engine.settings, code_nodes="off")
    wf_admin = await store_workflow(
        axon_runtime, admin.id, [py("p", "def run(i, c):\n    return 1\n")]
    )
    resp = await admin.client.post(f"workflows/{wf_admin}/execute", {"input": {}})
    assert resp.status == 403 and resp.json()["error"]["details"]["policy"] == "off"
