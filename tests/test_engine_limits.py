"""Worker resource limits (traits): memory and CPU time fail only the node."""

from __future__ import annotations

import pytest
from test_engine_support import install_test_types, nodes_of, py, run, store_workflow


@pytest.fixture
def axon_config():
    return {"worker_memory_mb": 300, "worker_cpu_seconds": 1, "worker_warm": 0}


@pytest.fixture
def admin(axon_admin, axon_runtime):
    install_test_types(axon_runtime)
    return axon_admin


async def test_memory_limit_is_a_clear_node_error(admin, axon_runtime):
    assert axon_runtime.engine.settings.workers.memory_mb == 300
    code = "def run(inputs, config):\n    return len(bytearray(1024 * 1024 * 1024))\n"
    wf = await store_workflow(axon_runtime, admin.id, [py("p", code)])
    ex = await run(admin.client, wf)
    node = nodes_of(ex)["p"]
    assert ex["status"] == "failed"
    assert node["error"] == {
        "code": "OUT_OF_MEMORY",
        "type": "MemoryError",
        "message": "node code ran out of memory (limit 300 MiB)",
    }


async def test_cpu_limit_ends_a_busy_loop(admin, axon_runtime):
    code = "def run(inputs, config):\n    while True:\n        pass\n"
    wf = await store_workflow(axon_runtime, admin.id, [py("p", code)])
    ex = await run(admin.client, wf)
    node = nodes_of(ex)["p"]
    assert ex["status"] == "failed"
    assert node["error"]["code"] == "WORKER_CRASHED"
    assert node["error"]["message"] == "worker process exceeded its CPU time limit (1 s)"
    assert node["error"]["signal"] == "SIGXCPU"
