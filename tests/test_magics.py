"""`%axon` / `%%axon` through a real IPython shell against a real server.

The server runs on this test's event loop and the magics make blocking SDK calls, so
each magic runs in a thread (`await magic(...)`); outside a kernel the magics run to
completion, which is what these tests see. Output is read with capsys: errors go to
stderr as one line plus the subcommand's help, never a traceback.
"""

from __future__ import annotations

import asyncio
import re

import pytest
from axonos import Execution
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

from axon_jupyter.notebook import connection as conn_module
from axon_jupyter.notebook.magics import SUBCOMMANDS

# The test shell keeps no history file in the user's ~/.ipython.
NO_HISTORY = Config({"HistoryManager": {"enabled": False}})

call = asyncio.to_thread

NODE_CELL = '''
def run(inputs, config):
    """Shout the greeting."""
    value = inputs.get("input") or {}
    print("shouting", value)
    return {"output": str(value.get("name", "nobody")).upper()}
'''

WORKFLOW_CELL = """
nodes:
  - {id: start, type: node_manual_trigger}
  - {id: shout, type: shout}
  - {id: log, type: node_log, config: {message: "said {{ nodes.shout.output }}"}}
connections:
  - start -> shout
  - shout -> log
"""


@pytest.fixture
def shell():
    ip = InteractiveShell.instance(config=NO_HISTORY)
    ip.extension_manager.load_extension("axon_jupyter")
    yield ip
    conn_module.disconnect()


@pytest.fixture(autouse=True)
def no_axon_env(monkeypatch):
    for name in ("AXON_URL", "AXON_API_KEY", "AXON_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def jupyter_token(jp_auth_header) -> str:
    return jp_auth_header["Authorization"].split(" ", 1)[1]


def line(shell, text: str):
    sub, _, rest = text.partition(" ")
    assert sub == "axon"
    return call(shell.run_line_magic, "axon", rest)


def cell(shell, args: str, body: str):
    return call(shell.run_cell_magic, "axon", args, body)


def said(capsys) -> str:
    """What the magics printed to stderr: their own lines only. The server shares this
    process, so its request log lands on the same stream."""
    err = capsys.readouterr().err
    return "\n".join(x for x in err.splitlines() if x.startswith("%axon"))


def test_help_lists_every_subcommand(shell, capsys):
    doc = shell.find_line_magic("axon").__doc__
    for sub in SUBCOMMANDS:
        assert f"%axon {sub}" in doc or f"%%axon {sub}" in doc, sub
    shell.run_cell("%axon?")
    shown = capsys.readouterr().out
    assert "%axon run" in shown and "%%axon node" in shown and "AXON_URL" in shown
    shell.run_line_magic("axon", "help run")
    out = capsys.readouterr().out
    assert "--no-wait" in out and "KEY=VALUE" in out


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ("frobnicate", "unknown subcommand 'frobnicate'"),
        ("run", "the following arguments are required: workflow"),
        ("run etl --input novalue", "--input takes key=value"),
        ("run etl --input-json [1]", "--input-json must be a JSON object"),
        ("logs", "the following arguments are required: execution"),
        ("list things", "invalid choice: 'things'"),
        ("node shout", "%%axon node is a cell magic"),
        ("connect --api-key k", "--api-key/--token need a URL"),
    ],
)
def test_argument_errors_print_help_not_a_traceback(shell, capsys, args, error):
    result = shell.run_line_magic("axon", args)
    captured = capsys.readouterr()
    assert result is None
    assert error in captured.err
    assert "Traceback" not in captured.out + captured.err
    # The help that says how to do it right: usage lines as IPython formats them.
    assert re.search(r"^\s*%%?axon \w+", captured.out, re.M)


def test_cell_magic_argument_errors(shell, capsys):
    assert shell.run_cell_magic("axon", "workflow", "nodes: []") is None
    assert "the following arguments are required: name" in capsys.readouterr().err
    assert shell.run_cell_magic("axon", "run etl", "x") is None
    assert "%axon run is a line magic" in capsys.readouterr().err
    # The shell's own error path stays quiet too: no exception reached IPython.
    result = shell.run_cell("%axon run")
    assert result.error_in_exec is None and result.error_before_exec is None


async def test_every_magic_against_a_real_server(
    shell, capsys, axon_client, axon_jupyter_client, jupyter_token
):
    await line(shell, f"axon connect {axon_client.api_url} --token {jupyter_token}")
    out = capsys.readouterr().out
    assert f"Connected to {axon_client.api_url}" in out and "jupyter@localhost" in out

    await line(shell, "axon whoami")
    out = capsys.readouterr().out
    assert f"server: {axon_client.api_url}" in out
    assert "user:   jupyter@localhost" in out and "admin" in out
    assert "minted for this kernel from the Jupyter token" in out

    await line(shell, "axon nodes --category flow")
    out = capsys.readouterr().out
    assert "node_delay" in out and "node_condition" in out and "node_set" not in out

    # %%axon node: register, same again (unchanged), a new version.
    await cell(shell, "node shout --category text", NODE_CELL)
    assert "Registered node shout@1.0.0 (text): input → output" in capsys.readouterr().out
    await cell(shell, "node shout --category text", NODE_CELL)
    assert "Unchanged: node shout@1.0.0" in capsys.readouterr().out
    await cell(shell, "node shout --category text", NODE_CELL.replace(".upper()", ".lower()"))
    assert "already registered with different code" in said(capsys)
    await cell(shell, "node shout --version 1.1.0 --category text", NODE_CELL + "\n# v1.1\n")
    assert "Registered node shout@1.1.0" in capsys.readouterr().out
    versions = (await axon_jupyter_client.get("nodes/shout/versions")).json()["versions"]
    assert sorted(v["version"] for v in versions) == ["1.0.0", "1.1.0"]

    # %%axon workflow: YAML in, saved; an invalid one names node and field.
    await cell(shell, "workflow greet --description 'says hi'", WORKFLOW_CELL)
    out = capsys.readouterr().out
    assert re.search(r"Saved workflow greet \(wf_\w+, version 1\): 3 nodes, 2 connections", out)
    await cell(shell, "workflow bad", WORKFLOW_CELL.replace("type: node_log,", "type: node_log_x,"))
    err = said(capsys)
    assert "workflow 'bad' is invalid" in err and "node 'log' (node_log_x)" in err
    listed = (await axon_jupyter_client.get("workflows")).json()["workflows"]
    assert [w["name"] for w in listed] == ["greet"]

    await line(shell, "axon list")
    out = capsys.readouterr().out
    assert "greet" in out and "draft" in out

    # %axon run waits, shows the outcome and returns the execution.
    result = await line(shell, "axon run greet --input name=ada --input n=3")
    out = capsys.readouterr().out
    assert isinstance(result, Execution)
    assert result.status == "succeeded", result
    assert result.input == {"name": "ada", "n": 3}  # n=3 read as JSON
    assert result.output == {"log": {"output": "ADA"}}
    assert f"{result.id} succeeded" in out
    stored = (await axon_jupyter_client.get(f"executions/{result.id}")).json()
    assert stored["status"] == "succeeded"

    await line(shell, f"axon show {result.id}")
    out = capsys.readouterr().out
    assert "shout" in out and "succeeded" in out and '"ADA"' in out
    await line(shell, "axon show greet")
    out = capsys.readouterr().out
    assert "greet (wf_" in out and "says hi" in out and "node_log" in out

    await line(shell, f"axon logs {result.id}")
    out = capsys.readouterr().out
    assert "[shout] shouting {'name': 'ada', 'n': 3}" in out  # print() in node code
    assert "said ADA" in out

    await line(shell, "axon list executions --workflow greet")
    assert result.id in capsys.readouterr().out

    # Not found: one readable line.
    await line(shell, "axon run nosuchflow")
    assert "%axon run: no workflow named or numbered 'nosuchflow'" in said(capsys)
    await line(shell, "axon stop exec_nope")
    assert "NOT_FOUND" in said(capsys)


async def test_run_no_wait_then_stop(
    shell, capsys, axon_client, axon_jupyter_client, jupyter_token
):
    await line(shell, f"axon connect {axon_client.api_url} --token {jupyter_token}")
    await cell(
        shell,
        "workflow slow",
        "nodes: {start: node_manual_trigger, pause: {type: node_delay, config: {seconds: 30}}}\n"
        "connections: [start -> pause]\n",
    )
    capsys.readouterr()
    started = await line(shell, "axon run slow --no-wait")
    assert isinstance(started, Execution) and started.status in ("queued", "running")
    assert f"follow it: %axon logs {started.id} -f" in capsys.readouterr().out
    await line(shell, f"axon stop {started.id}")
    assert f"{started.id}: stopped" in capsys.readouterr().out
    stored = (await axon_jupyter_client.get(f"executions/{started.id}")).json()
    assert stored["status"] == "stopped"
    await line(shell, f"axon stop {started.id}")
    assert "already finished: stopped" in capsys.readouterr().out
    # --follow on a finished execution prints its log and returns.
    await line(shell, f"axon logs {started.id} --follow")
    assert "stopped" in capsys.readouterr().out.lower()


async def test_connect_errors_are_readable(shell, capsys, axon_client):
    await line(shell, f"axon connect {axon_client.api_url} --token not-the-jupyter-token")
    err = said(capsys)
    assert "did not accept the Jupyter token" in err and "401" in err
    await line(shell, "axon connect http://127.0.0.1:9/ --api-key axon_nothing")
    assert "%axon connect: cannot reach the Axon server" in said(capsys)
