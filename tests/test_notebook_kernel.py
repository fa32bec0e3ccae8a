"""Inside a real IPython kernel: `%axon run --no-wait` returns at once and the
ExecutionMonitor keeps updating from a task on the kernel's event loop afterwards.

The kernel is a real ipykernel process of this Python (no Jupyter server runs it, so it
starts its embedded Axon server on a temp data dir); the proof is on the wire: widget
`comm_msg` updates carrying the succeeded state arrive while the kernel is idle, after
the cell that started the run has replied.
"""

from __future__ import annotations

import os
import time
from queue import Empty

import pytest
from jupyter_client.manager import KernelManager
from nbval.kernel import CURRENT_ENV_KERNEL_NAME, NbvalKernelspecManager

SETUP = """
%load_ext axon_jupyter
from axon_jupyter.notebook import axon
"""

WORKFLOW = """%%axon workflow slow
nodes:
  - {id: start, type: node_manual_trigger}
  - {id: pause, type: node_delay, config: {seconds: 2}}
connections: [start -> pause]
"""


@pytest.fixture
def kernel(tmp_path):
    env = {**os.environ, "AXON_DATA_DIR": str(tmp_path / "axon"), "JUPYTER_PLATFORM_DIRS": "1"}
    for name in ("AXON_URL", "AXON_API_KEY", "AXON_TOKEN"):
        env.pop(name, None)
    manager = KernelManager(
        kernel_name=CURRENT_ENV_KERNEL_NAME, kernel_spec_manager=NbvalKernelspecManager()
    )
    manager.start_kernel(env=env, cwd=str(tmp_path))
    client = manager.client()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    yield client
    client.stop_channels()
    manager.shutdown_kernel(now=True)


def execute(client, code: str, timeout: float = 60) -> tuple[dict, list[dict]]:
    messages: list[dict] = []
    reply = client.execute_interactive(code, timeout=timeout, output_hook=messages.append)
    assert reply["content"]["status"] == "ok", (reply["content"], messages)
    return reply, messages


def stdout(messages: list[dict]) -> str:
    return "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream")


def test_no_wait_monitor_updates_after_the_cell_returned(kernel):
    execute(kernel, SETUP)
    _, messages = execute(kernel, WORKFLOW)
    assert "Saved workflow slow" in stdout(messages)

    started = time.monotonic()
    _, messages = execute(kernel, "execution = %axon run slow --no-wait\nexecution.status")
    returned_after = time.monotonic() - started
    assert returned_after < 1.5  # the run takes 2 s: the cell did not wait for it
    shown = [m for m in messages if m["msg_type"] == "display_data"]
    assert any("application/vnd.jupyter.widget-view+json" in m["content"]["data"] for m in shown), (
        "the ExecutionMonitor was displayed"
    )

    # The kernel is idle now; the monitor's task on its loop keeps sending updates.
    seen_succeeded = False
    deadline = time.monotonic() + 30
    while not seen_succeeded and time.monotonic() < deadline:
        try:
            msg = kernel.get_iopub_msg(timeout=1)
        except Empty:
            continue
        if msg["msg_type"] != "comm_msg":
            continue
        value = str(msg["content"]["data"].get("state", {}).get("value", ""))
        # The monitor's header badge, redrawn by the task on the kernel's loop.
        seen_succeeded = 'axon-execution-status" data-status="succeeded"' in value
    assert seen_succeeded, "no widget update with the final state reached the frontend"

    _, messages = execute(
        kernel,
        "m = axon.last_monitor()\n"
        "print(m.status, sorted(m.node_states.items()), m.execution_id == execution.id)",
    )
    assert stdout(messages).strip() == (
        "succeeded [('pause', 'succeeded'), ('start', 'succeeded')] True"
    )
