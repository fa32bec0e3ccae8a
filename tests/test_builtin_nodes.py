"""Each built-in node's run function, for real: a local tornado server for HTTP (with
the SSRF policy refusing internal targets), a real kernel for node_notebook."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
from pathlib import Path
from typing import Any

import nbformat
import pytest
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port

from axon_jupyter.nodes.builtin import NodeSettings, builtin_node_types
from axon_jupyter.nodes.http import BlockedAddress, HttpPolicy
from axon_jupyter.nodes.types import NodeError

DATA = Path(__file__).parent / "data"


class RecordingContext:
    """A NodeContext for calling run functions directly (the engine supplies the real one)."""

    def __init__(self, input: dict[str, Any] | None = None, workflow_id: str = "wf_parent"):
        self.execution_id = "exec_test"
        self.workflow_id = workflow_id
        self.user_id = "user_test"
        self.node_id = "n1"
        self.attempt = 1
        self.input = input or {}
        self.nodes: dict[str, dict[str, Any]] = {}
        self.logs: list[tuple[str, str]] = []
        self.subworkflow_calls: list[tuple[str, dict[str, Any]]] = []

    def log(self, level: str, message: str) -> None:
        self.logs.append((level, message))

    async def run_subworkflow(self, workflow_id: str, input: dict[str, Any]) -> dict[str, Any]:
        self.subworkflow_calls.append((workflow_id, input))
        return {"ran": workflow_id, "doubled": {k: v * 2 for k, v in input.items()}}


def node(node_id: str, **settings: Any):
    types = {nt.id: nt for nt in builtin_node_types(NodeSettings(**settings))}
    return types[node_id]


async def run(node_id: str, inputs=None, config=None, ctx=None, **settings: Any):
    nt = node(node_id, **settings)
    assert nt.execution == "inline" and nt.run is not None
    return await nt.run(inputs or {}, config or {}, ctx or RecordingContext())


# ---------------------------------------------------------------- a real HTTP server


class Target:
    """What the local server saw, so tests can prove a refused request never left."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []


def make_app(seen: Target) -> web.Application:
    class Echo(web.RequestHandler):
        def prepare(self) -> None:
            seen.requests.append(
                {
                    "method": self.request.method,
                    "path": self.request.path,
                    "headers": dict(self.request.headers),
                    "body": self.request.body.decode(),
                }
            )

        def _echo(self) -> None:
            self.set_header("Content-Type", "application/json")
            self.set_header("X-Multi", "a")
            self.add_header("X-Multi", "b")
            self.finish(json.dumps(seen.requests[-1]))

        get = post = put = delete = patch = _echo

    class Redirect(web.RequestHandler):
        def get(self) -> None:
            seen.requests.append({"method": "GET", "path": self.request.path})
            self.redirect(
                self.get_query_argument("to"), status=int(self.get_query_argument("code", "302"))
            )

        post = get

    class Status(web.RequestHandler):
        def get(self, code: str) -> None:
            self.set_status(int(code))
            self.finish("nope")

    class Slow(web.RequestHandler):
        async def get(self) -> None:
            await asyncio.sleep(3)
            self.finish("late")

    class Big(web.RequestHandler):
        def get(self) -> None:
            self.finish("x" * 5000)

    class Loop(web.RequestHandler):
        def get(self) -> None:
            self.redirect("/loop")

    return web.Application(
        [
            (r"/echo.*", Echo),
            (r"/redirect", Redirect),
            (r"/status/(\d+)", Status),
            (r"/slow", Slow),
            (r"/big", Big),
            (r"/loop", Loop),
        ]
    )


@pytest.fixture
def target(jp_asyncio_loop):
    seen = Target()

    async def start():
        sock, port = bind_unused_port()
        server = HTTPServer(make_app(seen))
        server.add_sockets([sock])
        return server, port

    server, port = jp_asyncio_loop.run_until_complete(start())
    seen.base = f"http://127.0.0.1:{port}"
    seen.port = port
    yield seen
    server.stop()
    jp_asyncio_loop.run_until_complete(server.close_all_connections())


ALLOW_LOCAL = HttpPolicy(("127.0.0.1",))


async def test_http_request_get_json_and_response_shape(target):
    ctx = RecordingContext()
    out = await run(
        "node_http_request",
        config={"url": f"{target.base}/echo/x", "headers": {"X-Token": "t1"}, "query": {"q": 5}},
        ctx=ctx,
        http=ALLOW_LOCAL,
    )
    resp = out["response"]
    assert set(out) == {"response"}
    assert resp["status"] == 200
    assert resp["headers"]["content-type"] == "application/json"
    assert resp["headers"]["x-multi"] == "a, b"
    assert resp["json"]["path"] == "/echo/x" and resp["json"]["headers"]["X-Token"] == "t1"
    assert json.loads(resp["body"]) == resp["json"]
    assert target.requests[-1]["method"] == "GET"
    assert ctx.logs and ctx.logs[0][0] == "info" and "-> 200" in ctx.logs[0][1]


async def test_http_request_post_json_body_and_url_input_port(target):
    out = await run(
        "node_http_request",
        inputs={"url": f"{target.base}/echo/in", "body": {"a": [1, 2]}},
        config={"url": "http://10.0.0.1/never-used", "method": "post", "timeout": "5"},
        http=ALLOW_LOCAL,
    )
    seen = out["response"]["json"]
    assert seen["method"] == "POST" and seen["path"] == "/echo/in"
    assert json.loads(seen["body"]) == {"a": [1, 2]}
    assert seen["headers"]["Content-Type"] == "application/json"


async def test_http_request_string_body_sent_as_is(target):
    out = await run(
        "node_http_request",
        config={"url": f"{target.base}/echo", "method": "PUT", "body": "plain text"},
        http=ALLOW_LOCAL,
    )
    assert out["response"]["json"]["body"] == "plain text"


async def test_http_error_status_is_a_response_unless_raise_for_status(target):
    out = await run(
        "node_http_request", config={"url": f"{target.base}/status/404"}, http=ALLOW_LOCAL
    )
    assert out["response"]["status"] == 404 and out["response"]["json"] is None
    assert out["response"]["body"] == "nope"
    with pytest.raises(NodeError, match="HTTP 503"):
        await run(
            "node_http_request",
            config={"url": f"{target.base}/status/503", "raise_for_status": True},
            http=ALLOW_LOCAL,
        )


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/echo",
        "http://localhost:{port}/echo",
        "http://10.1.2.3/",
        "http://172.16.0.1/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:{port}/echo",
        "http://[::ffff:127.0.0.1]:{port}/echo",
        "http://0.0.0.0:{port}/echo",
        "http://100.64.0.1/",
    ],
)
async def test_ssrf_internal_targets_refused_without_allowlist(target, url):
    with pytest.raises(BlockedAddress, match="http_allowed_hosts"):
        await run("node_http_request", config={"url": url.format(port=target.port)})
    assert target.requests == []  # refused before any connection


async def test_ssrf_redirect_to_private_address_is_rechecked(target):
    for to in ("http://10.0.0.1/admin", "http://169.254.169.254/", "http://[fe80::1]/"):
        with pytest.raises(BlockedAddress):
            await run(
                "node_http_request",
                config={"url": f"{target.base}/redirect?to={to}"},
                http=HttpPolicy(("127.0.0.1",)),
            )
    # Only the allowlisted first hop was ever contacted.
    assert [r["path"] for r in target.requests] == ["/redirect"] * 3


async def test_redirects_followed_with_method_rules_and_credentials_dropped(target):
    # 303 after POST becomes a GET without body; the Authorization header does not
    # follow to another host (127.0.0.1 -> localhost), but the request still arrives.
    policy = HttpPolicy(("127.0.0.1", "localhost"))
    to = f"http://localhost:{target.port}/echo/after"
    out = await run(
        "node_http_request",
        config={
            "url": f"{target.base}/redirect?code=303&to={to}",
            "method": "POST",
            "body": {"x": 1},
            "headers": {"Authorization": "Bearer secret"},
        },
        http=policy,
    )
    seen = out["response"]["json"]
    assert seen["method"] == "GET" and seen["path"] == "/echo/after" and seen["body"] == ""
    assert "Authorization" not in seen["headers"]
    # The name stays in Host while the connection went to the checked address.
    assert seen["headers"]["Host"] == f"localhost:{target.port}"


async def test_redirect_not_followed_when_disabled_and_loop_is_bounded(target):
    out = await run(
        "node_http_request",
        config={"url": f"{target.base}/redirect?to=/echo", "follow_redirects": False},
        http=ALLOW_LOCAL,
    )
    assert out["response"]["status"] == 302 and out["response"]["headers"]["location"] == "/echo"
    with pytest.raises(NodeError, match="too many redirects"):
        await run("node_http_request", config={"url": f"{target.base}/loop"}, http=ALLOW_LOCAL)
    assert sum(r["path"] == "/echo" for r in target.requests) == 0


async def test_allowlist_by_cidr_and_by_name(target):
    by_net = HttpPolicy(("127.0.0.0/8",))
    out = await run("node_http_request", config={"url": f"{target.base}/echo"}, http=by_net)
    assert out["response"]["status"] == 200
    by_name = HttpPolicy(("localhost",))
    out = await run(
        "node_http_request", config={"url": f"http://localhost:{target.port}/echo"}, http=by_name
    )
    assert out["response"]["status"] == 200
    with pytest.raises(BlockedAddress):  # the name is allowed, not the address behind it
        await run("node_http_request", config={"url": f"{target.base}/echo"}, http=by_name)


async def test_http_timeout_size_cap_and_bad_urls(target):
    with pytest.raises(NodeError, match="timed out"):
        await run(
            "node_http_request",
            config={"url": f"{target.base}/slow", "timeout": 0.3},
            http=ALLOW_LOCAL,
        )
    small = HttpPolicy(("127.0.0.1",), max_response_bytes=1000)
    with pytest.raises(NodeError, match="larger than 1000 bytes"):
        await run("node_http_request", config={"url": f"{target.base}/big"}, http=small)
    for bad in ("file:///etc/passwd", "ftp://example.com/", "not a url", "http://"):
        with pytest.raises(NodeError):
            await run("node_http_request", config={"url": bad}, http=ALLOW_LOCAL)
    with pytest.raises(NodeError, match="no URL"):
        await run("node_http_request", config={}, http=ALLOW_LOCAL)
    with pytest.raises(NodeError, match="method"):
        await run(
            "node_http_request", config={"url": target.base, "method": "BREW"}, http=ALLOW_LOCAL
        )


async def test_next_address_is_tried_when_one_refuses(target):
    class DualStack(HttpPolicy):
        async def resolve(self, host, port):
            checked = await super().resolve(host, port)
            return [ipaddress.ip_address("::1"), *checked]  # nothing listens on ::1 here

    out = await run(
        "node_http_request",
        config={"url": f"{target.base}/echo/dual"},
        http=DualStack(("127.0.0.1", "::1")),
    )
    assert out["response"]["status"] == 200 and target.requests[-1]["path"] == "/echo/dual"


async def test_query_strings_and_credentials_stay_out_of_logs_and_errors(target):
    ctx = RecordingContext()
    await run(
        "node_http_request",
        config={"url": f"{target.base}/echo/k?api_key=SECRET1"},
        ctx=ctx,
        http=ALLOW_LOCAL,
    )
    assert ctx.logs == [("info", f"GET {target.base}/echo/k -> 200")]
    with pytest.raises(NodeError) as err:
        await run(
            "node_http_request",
            config={"url": f"{target.base}/status/500?token=SECRET2", "raise_for_status": True},
            http=ALLOW_LOCAL,
        )
    assert "SECRET2" not in str(err.value) and "/status/500" in str(err.value)
    with pytest.raises(BlockedAddress) as err:
        await run("node_http_request", config={"url": "http://user:SECRET3@10.0.0.1/?k=SECRET4"})
    assert "SECRET" not in str(err.value)


# ---------------------------------------------------------------- data and flow nodes


async def test_manual_trigger_passes_input_over_defaults():
    ctx = RecordingContext(input={"a": 1})
    out = await run("node_manual_trigger", config={"defaults": {"a": 0, "b": 2}}, ctx=ctx)
    assert out == {"output": {"a": 1, "b": 2}}


async def test_set_and_merge_input():
    assert await run("node_set", config={"values": {"k": [1]}}) == {"output": {"k": [1]}}
    out = await run(
        "node_set",
        inputs={"input": {"a": 1, "k": 0}},
        config={"values": {"k": 2}, "merge_input": True},
    )
    assert out == {"output": {"a": 1, "k": 2}}
    assert await run("node_set") == {"output": {}}


async def test_transform_builds_nested_objects_without_touching_input():
    source = {"user": {"id": 7, "tags": ["a"]}, "keep": True}
    out = await run(
        "node_transform",
        inputs={"input": source},
        config={
            "mapping": {
                "label": "already rendered",
                "items": [1, 2],
                "user.name": "Ada",
                "meta.source.kind": "api",
                ".dotted.": "kept as is",
            },
            "keep_input": True,
        },
    )
    assert out["output"] == {
        "user": {"id": 7, "tags": ["a"], "name": "Ada"},
        "keep": True,
        "label": "already rendered",
        "items": [1, 2],
        "meta": {"source": {"kind": "api"}},
        ".dotted.": "kept as is",
    }
    assert source == {"user": {"id": 7, "tags": ["a"]}, "keep": True}
    fresh = await run("node_transform", inputs={"input": source}, config={"mapping": {"a": 1}})
    assert fresh == {"output": {"a": 1}}
    with pytest.raises(NodeError, match="mapping"):
        await run("node_transform", config={"mapping": "x"})


@pytest.mark.parametrize(
    "expression,branch",
    [
        ("true", "true"),
        ("yes", "true"),
        ("200", "true"),
        ("anything", "true"),
        ("", "false"),
        ("False", "false"),
        ("0", "false"),
        ("0.0", "false"),
        ("None", "false"),
        ("null", "false"),
        (" NO ", "false"),
        (True, "true"),
        (0, "false"),
        (None, "false"),
    ],
)
async def test_condition_emits_only_the_chosen_port(expression, branch):
    out = await run("node_condition", inputs={"input": {"v": 1}}, config={"expression": expression})
    assert out == {branch: {"v": 1}}


async def test_condition_requires_expression():
    with pytest.raises(NodeError, match="expression"):
        await run("node_condition", inputs={"input": 1}, config={})


@pytest.mark.parametrize(
    "mode,expected",
    [
        ("object", {"input_1": {"a": 1}, "input_3": {"b": 2}}),
        ("list", [{"a": 1}, {"b": 2}]),
        ("merge", {"a": 1, "b": 2}),
        ("first", {"a": 1}),
    ],
)
async def test_merge_uses_whatever_arrived(mode, expected):
    out = await run(
        "node_merge", inputs={"input_3": {"b": 2}, "input_1": {"a": 1}}, config={"mode": mode}
    )
    assert out == {"output": expected}


async def test_merge_rejects_non_objects_in_merge_mode():
    with pytest.raises(NodeError, match="input_2 carries list"):
        await run("node_merge", inputs={"input_2": [1]}, config={"mode": "merge"})


async def test_delay_sleeps_and_is_cancellable():
    loop = asyncio.get_running_loop()
    start = loop.time()
    out = await run("node_delay", inputs={"input": "x"}, config={"seconds": "0.2"})
    assert out == {"output": "x"} and loop.time() - start >= 0.2
    task = asyncio.ensure_future(run("node_delay", config={"seconds": 60}))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert loop.time() - start < 5
    with pytest.raises(NodeError, match="seconds"):
        await run("node_delay", config={"seconds": "soon"})
    with pytest.raises(NodeError, match="between"):
        await run("node_delay", config={"seconds": -1})


async def test_log_writes_to_context_and_passes_input_through():
    ctx = RecordingContext()
    out = await run(
        "node_log",
        inputs={"input": {"k": 1}},
        config={"message": "hello", "level": "warning"},
        ctx=ctx,
    )
    assert out == {"output": {"k": 1}} and ctx.logs == [("warning", "hello")]
    ctx = RecordingContext()
    await run("node_log", inputs={"input": {"k": 1}}, ctx=ctx)
    assert ctx.logs == [("info", '{"k": 1}')]
    with pytest.raises(NodeError, match="level"):
        await run("node_log", config={"level": "loud"})


async def test_subworkflow_calls_the_context():
    ctx = RecordingContext()
    out = await run(
        "node_subworkflow", inputs={"input": {"n": 2}}, config={"workflow_id": "wf_child"}, ctx=ctx
    )
    assert out == {"output": {"ran": "wf_child", "doubled": {"n": 4}}}
    assert ctx.subworkflow_calls == [("wf_child", {"n": 2})]
    out = await run(
        "node_subworkflow", config={"workflow_id": "wf_child", "input": {"n": 5}}, ctx=ctx
    )
    assert ctx.subworkflow_calls[-1] == ("wf_child", {"n": 5})
    with pytest.raises(NodeError, match="cannot run itself"):
        await run("node_subworkflow", config={"workflow_id": "wf_parent"}, ctx=ctx)
    with pytest.raises(NodeError, match="must be an object"):
        await run(
            "node_subworkflow", inputs={"input": [1]}, config={"workflow_id": "wf_x"}, ctx=ctx
        )
    assert len(ctx.subworkflow_calls) == 2


def test_node_python_is_a_process_node_with_raw_code():
    nt = node("node_python")
    assert nt.execution == "process" and nt.code is None and nt.run is None
    assert nt.extra["raw_config"] == ["code"]
    check = nt.extra["check_config"]
    assert check({"code": "def run(inputs, config):\n    return 1\n"}) == []
    assert check({"code": "async def run(inputs, config, extra=None):\n    return 1\n"}) == []
    assert check({"code": "def run(inputs config):"})[0][0] == "code"
    assert "run(inputs, config)" in check({"code": "x = 1"})[0][1]
    assert "two positional" in check({"code": "def run(inputs):\n    pass\n"})[0][1]


def test_builtin_catalog_ids_versions_and_schemas():
    from jsonschema import Draft202012Validator

    types = builtin_node_types(NodeSettings())
    versions = {nt.id: nt.version for nt in types}
    assert versions == {
        "node_manual_trigger": "1.0.0",
        "node_http_request": "1.2.0",
        "node_python": "1.0.0",
        "node_notebook": "1.0.0",
        "node_set": "1.0.0",
        "node_transform": "1.0.0",
        "node_merge": "1.0.0",
        "node_condition": "1.0.0",
        "node_delay": "1.0.0",
        "node_log": "1.0.0",
        "node_subworkflow": "1.0.0",
    }
    for nt in types:
        Draft202012Validator.check_schema(nt.config_schema)
        assert nt.builtin and nt.category and nt.outputs
        assert (nt.execution == "inline" and callable(nt.run)) or nt.id == "node_python"
    http = next(nt for nt in types if nt.id == "node_http_request")
    assert http.inputs[0].to_api() == {
        "name": "url",
        "type": "string",
        "required": True,
        "description": "Target URL for request",
    }
    assert [p.name for p in http.outputs] == ["response"]


# ---------------------------------------------------------------- node_notebook, real kernel


def _ipykernel_children() -> set[int]:
    """Live kernel processes started by this test process."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == os.getpid() and b"ipykernel" in cmdline and " Z " not in stat:
            pids.add(int(entry.name))
    return pids


async def test_notebook_runs_with_parameters_and_returns_axon_outputs(monkeypatch):
    monkeypatch.setenv("AXON_JWT_SECRET", "must-not-reach-the-kernel")
    ctx = RecordingContext()
    out = await run(
        "node_notebook",
        inputs={"input": {"rows": 3}, "parameters": {"name": "axon"}},
        config={"path": "parameterized.ipynb", "parameters": {"x": 21, "name": "config"}},
        ctx=ctx,
        notebook_root=str(DATA),
    )
    assert out == {
        "output": {
            "y": 42,
            "greeting": "hello axon",  # the input port's parameters win over config
            "input": {"rows": 3},
            "cwd": str(DATA.resolve()),
            "leaked_env": [],
        }
    }
    assert ctx.logs[0][0] == "info" and "parameterized.ipynb" in ctx.logs[0][1]
    assert _ipykernel_children() == set()
    # The notebook on disk is untouched (a copy ran).
    assert len(nbformat.read(DATA / "parameterized.ipynb", as_version=4).cells) == 4


async def test_notebook_paths_stay_inside_the_root(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "outside.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), outside)
    (root / "link.ipynb").symlink_to(outside)
    (root / "plain.txt").write_text("x")
    cases = {
        "../outside.ipynb": "must not leave",
        str(outside): "relative",
        "link.ipynb": "must not leave",
        "missing.ipynb": "no notebook",
        "plain.txt": ".ipynb",
        "": "required",
    }
    for path, message in cases.items():
        with pytest.raises(NodeError, match=message):
            await run("node_notebook", config={"path": path}, notebook_root=str(root))


async def test_notebook_failing_cell_is_a_node_error_and_parameter_names_checked(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("raise ValueError('bad data: ' + str(limit))")]
    nbformat.write(nb, tmp_path / "fails.ipynb")
    with pytest.raises(NodeError, match="ValueError: bad data: 3"):
        await run(
            "node_notebook",
            config={"path": "fails.ipynb", "parameters": {"limit": 3}},
            notebook_root=str(tmp_path),
        )
    assert _ipykernel_children() == set()
    with pytest.raises(NodeError, match="identifier"):
        await run(
            "node_notebook",
            config={"path": "fails.ipynb", "parameters": {"not valid": 1}},
            notebook_root=str(tmp_path),
        )


async def test_notebook_cancel_kills_the_kernel(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import time\nopen('started', 'w').close()\ntime.sleep(60)")
    ]
    nbformat.write(nb, tmp_path / "sleepy.ipynb")
    task = asyncio.ensure_future(
        run("node_notebook", config={"path": "sleepy.ipynb"}, notebook_root=str(tmp_path))
    )
    for _ in range(300):
        if (tmp_path / "started").exists():
            break
        await asyncio.sleep(0.05)
    assert (tmp_path / "started").exists() and _ipykernel_children()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(100):
        if not _ipykernel_children():
            break
        await asyncio.sleep(0.05)
    assert _ipykernel_children() == set()
