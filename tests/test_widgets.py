"""ExecutionMonitor and WorkflowBuilder driven by real executions on a real server.

ipywidgets 8 works without a frontend (dummy comms), so the widgets are exercised
through their traits and controls exactly as clicks would. The server runs on this
test's event loop: blocking SDK calls run in a thread, and the monitor's background
mode (what a kernel uses) runs on the loop itself, as in a kernel.
"""

from __future__ import annotations

import asyncio
import re

import ipywidgets as widgets
import pytest

from axon_jupyter.notebook.builder import Workflow
from axon_jupyter.notebook.connection import connection_for
from axon_jupyter.notebook.widgets.builder import WorkflowBuilder
from axon_jupyter.notebook.widgets.monitor import ExecutionMonitor

call = asyncio.to_thread


@pytest.fixture
def connection(axon_client, jp_auth_header, jp_asyncio_loop):
    token = jp_auth_header["Authorization"].split(" ", 1)[1]
    conn = jp_asyncio_loop.run_until_complete(
        call(connection_for, axon_client.api_url, token=token, source="jupyter", detail="test")
    )
    yield conn
    jp_asyncio_loop.run_until_complete(call(conn.close))


def chain(connection, name: str, seconds: float, fail: bool = False) -> Workflow:
    wf = Workflow(name, connection=connection)
    start = wf.add("node_manual_trigger", "start")
    pause = wf.add("node_delay", "pause", seconds=seconds)
    last = (
        wf.add("node_python", "boom", code="def run(inputs, config):\n    raise ValueError('no')\n")
        if fail
        else wf.add("node_log", "say", message="hello {{ input.name }}")
    )
    start >> pause >> last
    return wf


def record(monitor: ExecutionMonitor) -> list[tuple[str, object]]:
    seen: list[tuple[str, object]] = []
    monitor.observe(
        lambda c: seen.append((c["name"], c["new"])),
        names=["status", "progress", "current_node", "node_states"],
    )
    return seen


def node_history(seen, node_id: str) -> list[str]:
    out: list[str] = []
    for name, value in seen:
        if name == "node_states" and value.get(node_id) and (not out or out[-1] != value[node_id]):
            out.append(value[node_id])
    return out


async def test_monitor_follows_a_real_execution(connection, axon_jupyter_client):
    wf = chain(connection, "watched", 0.4)
    await call(wf.save)
    execution = await call(connection.client.workflows.execute, wf.id, input={"name": "ada"})
    monitor = await call(
        ExecutionMonitor, execution, connection=connection, workflow_name="watched"
    )
    assert monitor.status in ("queued", "running")
    assert set(monitor.node_states) == {"start", "pause", "say"}
    assert 'data-node="pause"' in monitor._dag.value
    seen = record(monitor)

    final = await call(monitor.follow)

    statuses = [v for k, v in seen if k == "status"]
    assert statuses[-1] == "succeeded" and "running" in [monitor.status, *statuses]
    progress = [v for k, v in seen if k == "progress"]
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert node_history(seen, "pause")[-2:] == ["running", "succeeded"]
    assert "pause" in [v for k, v in seen if k == "current_node"]
    assert monitor.current_node is None
    assert final.status == "succeeded" and monitor.output == final.output
    assert monitor.output == {"say": {"output": {"name": "ada"}}}
    assert monitor.duration == pytest.approx(final.duration)
    assert any("hello ada" in line for line in monitor.log_lines)
    # What is drawn follows the traits.
    assert 'axon-execution-status" data-status="succeeded"' in monitor._header.value
    assert monitor._bar.value == 1.0 and monitor._bar.bar_style == "success"
    assert monitor._dag.value.count('data-state="succeeded"') == 3
    assert "hello ada" in monitor._logs.value
    assert "&quot;name&quot;: &quot;ada&quot;" in monitor._outcome.value
    assert monitor.stop_button.disabled and monitor.stop_button.layout.visibility == "hidden"
    stored = (await axon_jupyter_client.get(f"executions/{execution.id}")).json()
    assert stored["status"] == "succeeded"


async def test_monitor_in_the_background_and_stop_button(connection, axon_jupyter_client):
    """As in a kernel: the follow is a task on the running loop, the 'cell' returns at
    once, the widget keeps updating, and the Stop button stops the execution."""
    wf = chain(connection, "slow", 30)
    await call(wf.save)
    execution = await call(connection.client.workflows.execute, wf.id)
    monitor = await call(ExecutionMonitor, execution, connection=connection)
    seen = record(monitor)
    task = monitor.follow_in_background()  # returns at once
    assert not task.done()
    for _ in range(200):
        if monitor.node_states.get("pause") == "running":
            break
        await asyncio.sleep(0.05)
    assert monitor.status == "running" and monitor.node_states["pause"] == "running"
    assert not monitor.stop_button.disabled

    monitor.stop_button.click()  # schedules the stop on this loop: never blocks it
    assert monitor.stop_button.disabled and monitor.stop_button.description == "Stopping…"
    final = await asyncio.wait_for(task, 20)

    assert final.status == "stopped" and monitor.status == "stopped"
    assert "pause" in [k for k, v in monitor.node_states.items() if v == "stopped"]
    assert [v for k, v in seen if k == "status"][-1] == "stopped"
    assert 'class="axon-error"' in monitor._outcome.value
    stored = (await axon_jupyter_client.get(f"executions/{execution.id}")).json()
    assert stored["status"] == "stopped"


async def test_monitor_shows_a_failure(connection):
    wf = chain(connection, "failing", 0, fail=True)
    await call(wf.save)
    execution = await call(connection.client.workflows.execute, wf.id)
    monitor = await call(ExecutionMonitor, execution.id, connection=connection)  # by id
    final = await call(monitor.follow)
    assert final.status == "failed" and monitor.status == "failed"
    assert monitor.node_states["boom"] == "failed" and monitor.node_states["pause"] == "succeeded"
    assert monitor._bar.bar_style == "danger"
    assert re.search(r'data-node="boom" data-state="failed".*?fill="#fee2e2"', monitor._dag.value)
    assert "failed:" in monitor._outcome.value and monitor.error
    assert "failed" in repr(monitor)


async def test_builder_from_catalog_to_a_run(connection, axon_jupyter_client):
    builder = await call(WorkflowBuilder, connection=connection, name="built")
    assert builder.name_text.value == "built"
    assert "add at least one node" in builder.problems[0]

    # The catalog, searched.
    builder.search.value = "delay"
    assert [v for _, v in builder.type_select.options] == ["node_delay"]
    builder.search.value = ""
    builder.category.value = "trigger"
    assert [v for _, v in builder.type_select.options] == ["node_manual_trigger"]
    builder.category.value = "all"

    # Add nodes as a user would: pick, click.
    for type_id in ("node_manual_trigger", "node_delay", "node_set"):
        builder.type_select.value = type_id
        builder.add_button.click()
    assert [n["id"] for n in builder.definition["nodes"]] == ["manual_trigger", "delay", "set"]
    assert "required" in " ".join(builder.problems)  # node_delay needs seconds

    # Typed config widgets from each node's JSON Schema.
    builder.nodes_select.value = "delay"
    (seconds,) = [f for f in builder._fields if f.key == "seconds"]
    assert isinstance(seconds.widget, widgets.FloatText) and seconds.required
    seconds.widget.value = 0.2
    assert builder._node("delay")["config"] == {"seconds": 0.2}
    builder.nodes_select.value = "set"
    kinds = {f.key: type(f.widget) for f in builder._fields}
    assert kinds == {"values": widgets.Textarea, "merge_input": widgets.Checkbox}
    values = next(f for f in builder._fields if f.key == "values")
    values.widget.value = "{not json"
    assert any("config.values: is not valid JSON" in p for p in builder.problems)
    values.widget.value = '{"greeting": "hi"}'
    assert builder._node("set")["config"] == {"values": {"greeting": "hi"}}  # untouched: omitted
    builder.type_select.value = "node_log"
    builder.node_id_text.value = "log"
    builder.add_button.click()
    builder.nodes_select.value = "log"
    level = next(f for f in builder._fields if f.key == "level")
    assert isinstance(level.widget, widgets.Dropdown) and "warning" in level.widget.options

    # Connect ports with the dropdowns.
    for src, dst in (("manual_trigger", "delay"), ("delay", "set"), ("set", "log")):
        builder.from_node.value, builder.to_node.value = src, dst
        assert builder.from_port.value == "output" and builder.to_port.value == "input"
        builder.connect_button.click()
    assert builder.problems == []
    assert "no problems found" in builder.problems_html.value
    assert builder.dag.value.count('class="axon-edge"') == 3
    builder.from_node.value, builder.to_node.value = "log", "manual_trigger"
    builder.connect_button.click()  # manual_trigger has no input port
    assert any("has no input port" in p for p in builder.problems)
    builder.connections_select.value = 3
    builder.disconnect_button.click()
    assert builder.problems == []

    await call(builder.save_button.click)
    assert "saved built (wf_" in builder.message.value
    stored = (await axon_jupyter_client.get(f"workflows/{builder.workflow_id}")).json()
    assert [n["id"] for n in stored["definition"]["nodes"]] == [
        "manual_trigger",
        "delay",
        "set",
        "log",
    ]
    assert len(stored["definition"]["connections"]) == 3

    final = await call(builder.run, {"x": 1}, wait=True)
    assert final.status == "succeeded"
    assert builder.monitor_box.children == (builder.monitor,)
    assert builder.monitor.status == "succeeded"
    assert final.output == {"log": {"output": {"greeting": "hi"}}}


async def test_builder_edits_an_existing_workflow_and_reports_server_errors(
    connection, axon_jupyter_client
):
    wf = chain(connection, "existing", 0.1)
    saved = await call(wf.save)
    builder = await call(WorkflowBuilder, "existing", connection=connection)
    assert builder.workflow_id == saved.id and builder.saved_version == saved.version
    assert [n["id"] for n in builder.definition["nodes"]] == ["start", "pause", "say"]
    assert len(builder.connections_select.options) == 2
    builder.set_config("pause", seconds=-5)  # the schema's minimum is the server's to check
    await call(builder.save_button.click)
    message = builder.message.value
    assert "node &#x27;pause&#x27; (node_delay)" in message and "config.seconds" in message
    stored = (await axon_jupyter_client.get(f"workflows/{saved.id}")).json()
    assert stored["version"] == saved.version  # nothing changed
    builder.set_config("pause", seconds=0.05)
    builder.remove_node("say")
    await call(builder.save_button.click)
    stored = (await axon_jupyter_client.get(f"workflows/{saved.id}")).json()
    assert stored["version"] == saved.version + 1
    assert [n["id"] for n in stored["definition"]["nodes"]] == ["start", "pause"]
    assert stored["definition"]["connections"] == [
        {"from": "start", "to": "pause", "sourcePort": "output", "targetPort": "input"}
    ]


def test_config_fields_are_typed_from_the_schema():
    """One widget per JSON Schema type; untouched optional fields stay out of the config."""
    from axon_jupyter.notebook.widgets.builder import ConfigField

    retries = ConfigField("retries", {"type": "integer", "default": 3}, None, False)
    assert isinstance(retries.widget, widgets.IntText) and retries.widget.value == 3
    assert not retries.included  # the node's default applies
    retries.widget.value = 5
    assert retries.included and retries.read() == 5

    ratio = ConfigField("ratio", {"type": "number"}, 0.5, True)
    assert isinstance(ratio.widget, widgets.FloatText) and ratio.included and ratio.read() == 0.5
    assert ratio.widget.description == "ratio *"  # required fields are marked

    url = ConfigField("url", {"type": "string"}, "http://x", True)
    assert isinstance(url.widget, widgets.Text) and url.read() == "http://x"
    code = ConfigField("code", {"type": "string"}, None, True)
    assert isinstance(code.widget, widgets.Textarea)

    method = ConfigField("method", {"type": "string", "enum": ["GET", "POST"]}, None, False)
    assert isinstance(method.widget, widgets.Dropdown) and method.widget.value == "GET"

    headers = ConfigField("headers", {"type": "object"}, {"a": "b"}, False)
    assert isinstance(headers.widget, widgets.Textarea) and headers.read() == {"a": "b"}
    headers.widget.value = "[1, 2]"
    with pytest.raises(ValueError, match="must be a JSON object"):
        headers.read()

    flag = ConfigField("flag", {"type": "boolean", "default": True}, None, False)
    assert isinstance(flag.widget, widgets.Checkbox) and flag.read() is True

    mixed = ConfigField("expression", {"type": ["string", "boolean"]}, None, True)
    mixed.widget.value = "true"
    assert mixed.read() is True  # several types: JSON when it is JSON
    mixed.widget.value = "{{ input.ok }}"
    assert mixed.read() == "{{ input.ok }}"
