"""node_notebook: run a parameterized .ipynb in a fresh kernel and return what it exposes.

Convention (documented in the node's description and the README):
- Parameters: `config.parameters` (merged under the `parameters` input port) become
  variables, injected in a new cell right after the cell tagged `parameters` (as
  papermill does), or as the first cell when no cell has that tag. The `input` port's
  value is always available as `axon_input` (None when nothing is connected).
- Outputs: the notebook exposes its results by assigning a JSON-serialisable value to a
  variable named `axon_outputs`; it becomes the node's `output` ({} when never assigned).
- Paths are relative to the trait `notebook_root` (default: the server's root_dir); a
  path that resolves outside it, symlinks included, is refused.

The kernel is a separate process with a scrubbed environment (no Axon or Jupyter
secrets), working in the notebook's directory, killed when the node ends or is
cancelled. nbclient's kernel setup helper is deliberately not used: it installs
SIGINT/SIGTERM handlers on the running loop, which would replace the server's own.
"""

from __future__ import annotations

import asyncio
import json
import keyword
import logging
import os
import re
from pathlib import Path, PurePath
from typing import Any

import nbformat

from ..types import NodeContext, NodeError, NodeType, Port
from ._common import NodeSettings, as_number, is_template, object_schema

log = logging.getLogger("axon.nodes")

OUTPUTS_MIME = "application/vnd.axon.outputs+json"
PARAMETER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_CELL_TIMEOUT = 86_400.0
# What a kernel needs to start and behave; everything else (tokens, secrets) stays out.
_KEPT_ENV = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LANGUAGE",
    "TZ",
    "TMPDIR",
    "TEMP",
    "TMP",
    "SYSTEMROOT",
    "PYTHONPATH",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "CONDA_DEFAULT_ENV",
)

_EMIT_OUTPUTS = f"""\
def __axon_emit_outputs():
    import json
    from IPython.display import display
    if "axon_outputs" not in globals():
        return
    try:
        text = json.dumps(globals()["axon_outputs"], allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"axon_outputs must be JSON-serialisable: {{exc}}") from None
    display({{"{OUTPUTS_MIME}": {{"value": json.loads(text)}}}}, raw=True)
__axon_emit_outputs()
del __axon_emit_outputs
"""


def kernel_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in _KEPT_ENV or k.startswith("LC_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _bad_parameter(name: str) -> str | None:
    if not PARAMETER_NAME.match(name) or keyword.iskeyword(name):
        return "must be a Python identifier"
    if name.startswith("__axon"):
        return "is reserved"
    return None


def _check_relative(raw: str) -> str | None:
    path = PurePath(raw)
    if path.is_absolute() or raw.startswith(("/", "\\")):
        return "must be relative to the notebook root"
    if ".." in path.parts:
        return "must not leave the notebook root"
    if path.suffix != ".ipynb":
        return "must name a .ipynb notebook"
    return None


def check_notebook_config(config: dict[str, Any]) -> list[tuple[str, str]]:
    """Definition-time checks beyond the schema (template strings are checked at run)."""
    issues: list[tuple[str, str]] = []
    path = config.get("path")
    if isinstance(path, str) and not is_template(path):
        issue = _check_relative(path)
        if issue:
            issues.append(("path", issue))
    params = config.get("parameters")
    if isinstance(params, dict):
        for name in params:
            issue = _bad_parameter(name)
            if issue:
                issues.append((f"parameters.{name}", issue))
    return issues


def resolve_notebook(root: str, raw: Any) -> Path:
    """The notebook file for `raw`, inside `root` (symlinks resolved), or NodeError."""
    if not isinstance(raw, str) or not raw.strip():
        raise NodeError("config path is required")
    issue = _check_relative(raw.strip())
    if issue:
        raise NodeError(f"config path {raw!r} {issue}")
    base = Path(root).resolve()
    target = (base / raw.strip()).resolve()
    if not target.is_relative_to(base):
        raise NodeError(f"config path {raw!r} must not leave the notebook root")
    if not target.is_file():
        raise NodeError(f"no notebook at {raw!r} under the notebook root")
    return target


def _literal_cell(parameters: dict[str, Any]) -> nbformat.NotebookNode:
    lines = ["# Parameters injected by Axon", "import json as __axon_json"]
    for name, value in parameters.items():
        text = json.dumps(value, allow_nan=False, ensure_ascii=False)
        lines.append(f"{name} = __axon_json.loads({text!r})")
    lines.append("del __axon_json")
    cell = nbformat.v4.new_code_cell("\n".join(lines))
    cell.metadata["tags"] = ["injected-parameters"]
    return cell


def prepare_notebook(
    nb: nbformat.NotebookNode, parameters: dict[str, Any]
) -> nbformat.NotebookNode:
    """Inject the parameters after the `parameters` cell (or first) and the outputs cell."""
    injected = _literal_cell(parameters)
    index = next(
        (
            i + 1
            for i, cell in enumerate(nb.cells)
            if "parameters" in (cell.get("metadata", {}).get("tags") or [])
        ),
        0,
    )
    nb.cells.insert(index, injected)
    nb.cells.append(nbformat.v4.new_code_cell(_EMIT_OUTPUTS))
    return nb


def _exposed(nb: nbformat.NotebookNode) -> Any:
    for output in nb.cells[-1].get("outputs", []):
        data = output.get("data", {})
        if OUTPUTS_MIME in data:
            return data[OUTPUTS_MIME]["value"]
    return {}


def _read(path: Path) -> nbformat.NotebookNode:
    try:
        return nbformat.read(path, as_version=4)
    except (OSError, ValueError) as exc:  # nbformat's NotJSONError is a ValueError
        raise NodeError(f"cannot read notebook {path.name}: {exc}") from exc


async def _shutdown(client: Any, km: Any) -> None:
    if client.kc is not None:
        client.kc.stop_channels()
        client.kc = None
    try:
        if km.has_kernel:
            await km.shutdown_kernel(now=True)
    except Exception:  # cleanup must not mask the node's own outcome
        log.warning("could not shut down a notebook kernel cleanly", exc_info=True)


async def execute_notebook(
    path: Path,
    parameters: dict[str, Any],
    *,
    kernel_name: str,
    cell_timeout: float,
    startup_timeout: float,
) -> tuple[Any, nbformat.NotebookNode]:
    """Execute a copy of the notebook; return (axon_outputs, executed notebook)."""
    # nbclient and the kernel manager load on the first notebook run, not at start-up.
    from jupyter_client.kernelspec import NoSuchKernel
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = prepare_notebook(await asyncio.to_thread(_read, path), parameters)
    km = AsyncKernelManager(kernel_name=kernel_name)
    client = NotebookClient(
        nb,
        km=km,
        kernel_name=kernel_name,
        timeout=int(cell_timeout),
        startup_timeout=int(startup_timeout),
        allow_errors=False,
        resources={"metadata": {"path": str(path.parent)}},
    )

    async def run_cells() -> None:
        try:
            await km.start_kernel(
                cwd=str(path.parent),
                env=kernel_env(),
                # No shared IPython history: concurrent notebook nodes would contend on it.
                extra_arguments=["--HistoryManager.hist_file=:memory:"],
            )
        except NoSuchKernel as exc:
            raise NodeError(f"no Jupyter kernel named {kernel_name!r}") from exc
        await client.async_start_new_kernel_client()
        for index, cell in enumerate(nb.cells):
            await client.async_execute_cell(
                cell, index, execution_count=client.code_cells_executed + 1
            )

    # The cells run in their own task: nbclient turns a cancellation that reaches it into
    # DeadKernelError, and a stop must stay a cancellation. So a cancel lands here, kills
    # the kernel at once, and then winds the cell task down.
    work = asyncio.ensure_future(run_cells())
    try:
        try:
            await asyncio.wait({work})
        except asyncio.CancelledError:
            await asyncio.shield(_shutdown(client, km))
            work.cancel()
            await asyncio.wait({work}, timeout=5)
            if work.done() and not work.cancelled():
                work.exception()  # consumed: the stop is the outcome, not the dead kernel
            raise
        work.result()
    except CellTimeoutError as exc:
        raise NodeError(f"notebook {path.name}: a cell ran longer than {cell_timeout:g} s") from exc
    except CellExecutionError as exc:
        raise NodeError(f"notebook {path.name} failed: {exc.ename}: {exc.evalue}") from exc
    except DeadKernelError as exc:
        raise NodeError(f"notebook {path.name}: the kernel died ({exc})") from exc
    finally:
        # Shielded: the kernel must die with the node, whatever ended it.
        await asyncio.shield(_shutdown(client, km))
    return _exposed(nb), nb


def make_run(settings: NodeSettings):
    async def run_notebook(
        inputs: dict[str, Any], config: dict[str, Any], ctx: NodeContext
    ) -> dict[str, Any]:
        path = await asyncio.to_thread(resolve_notebook, settings.notebook_root, config.get("path"))
        merged = {"axon_input": inputs.get("input")}
        for source, label in (
            (config.get("parameters"), "config"),
            (inputs.get("parameters"), "input"),
        ):
            if source is None:
                continue
            if not isinstance(source, dict):
                raise NodeError(f"{label} parameters must be an object")
            merged.update(source)
        for name in merged:
            issue = _bad_parameter(name)
            if issue:
                raise NodeError(f"parameter {name!r} {issue}")
        cell_timeout = as_number(
            config.get("timeout"), "timeout", default=600.0, minimum=1, maximum=MAX_CELL_TIMEOUT
        )
        kernel = str(config.get("kernel_name") or settings.notebook_kernel)
        ctx.log("info", f"executing notebook {config.get('path')} in a {kernel} kernel")
        try:
            outputs, _ = await execute_notebook(
                path,
                merged,
                kernel_name=kernel,
                cell_timeout=cell_timeout,
                startup_timeout=settings.notebook_startup_timeout,
            )
        except (TypeError, ValueError) as exc:  # parameters that are not JSON
            raise NodeError(f"notebook parameters must be JSON values: {exc}") from exc
        return {"output": outputs}

    return run_notebook


def node_types(settings: NodeSettings) -> list[NodeType]:
    return [
        NodeType(
            id="node_notebook",
            name="Notebook",
            description="Executes a parameterized .ipynb (relative to the notebook root) in a "
            "fresh kernel. Parameters go in after the cell tagged `parameters`; the input is "
            "`axon_input`; the notebook's `axon_outputs` variable becomes the output.",
            category="code",
            version="1.0.0",
            inputs=[
                Port("input", "any", False, "Available in the notebook as axon_input"),
                Port("parameters", "object", False, "Parameters, over config parameters"),
            ],
            outputs=[Port("output", "any", description="The notebook's axon_outputs")],
            config_schema=object_schema(
                {
                    "path": {
                        "type": "string",
                        "minLength": 1,
                        "description": "Notebook path relative to the notebook root",
                    },
                    "parameters": {
                        "type": "object",
                        "propertyNames": {"pattern": PARAMETER_NAME.pattern},
                        "description": "Variables injected into the notebook",
                    },
                    "timeout": {
                        "type": "number",
                        "minimum": 1,
                        "maximum": MAX_CELL_TIMEOUT,
                        "default": 600,
                        "description": "Seconds each cell may run",
                    },
                    "kernel_name": {"type": "string", "minLength": 1},
                },
                required=("path",),
            ),
            builtin=True,
            run=make_run(settings),
            extra={"check_config": check_notebook_config},
        )
    ]
