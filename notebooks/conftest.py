"""The example notebooks as tests (nbval), collected by a plain `python -m pytest`.

Each notebook runs top to bottom in a fresh kernel of this same Python, in embedded mode:
the kernel gets its own empty AXON_DATA_DIR and no AXON_URL / AXON_API_KEY / AXON_TOKEN,
so it starts an Axon server inside itself on the default (temporary) database, exactly
as in VS Code or nbconvert. Lax mode: only cells tagged `nbval-check-output` (or marked
`# NBVAL_CHECK_OUTPUT`) compare their outputs, after the sanitizers in
nbval_sanitize.cfg replace ids and timings; every cell must run without error.
Fixtures cannot reach an nbval kernel, the environment does: hence the hook below.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from nbval.kernel import CURRENT_ENV_KERNEL_NAME, RunningKernel
from nbval.plugin import IPyNbFile

HERE = Path(__file__).resolve().parent
SANITIZE = HERE / "nbval_sanitize.cfg"
CLEARED = ("AXON_URL", "AXON_API_KEY", "AXON_TOKEN", "AXON_DB_URL")


@contextmanager
def embedded_kernel_env(config: pytest.Config) -> Iterator[None]:
    """os.environ as the next kernel should inherit it, restored afterwards."""
    data_dir = tempfile.mkdtemp(prefix="axon-nbval-")
    config.add_cleanup(lambda: shutil.rmtree(data_dir, ignore_errors=True))
    saved = dict(os.environ)
    os.environ["AXON_DATA_DIR"] = data_dir
    # The same default as the test suite's subprocess servers: no platformdirs warning.
    os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")
    for name in CLEARED:
        os.environ.pop(name, None)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    # nbval starts a notebook's kernel while setting up its first cell; whichever
    # collector made the item (ours, or nbval's own with --nbval), give it this env.
    notebook = item.parent
    if isinstance(notebook, IPyNbFile) and notebook.kernel is None:
        with embedded_kernel_env(item.config):
            yield
    else:
        yield


class AxonNotebook(IPyNbFile):
    """nbval's notebook collector, lax, on this Python's kernel, with our sanitizers."""

    def setup(self) -> None:
        self.kernel = RunningKernel(
            CURRENT_ENV_KERNEL_NAME,
            cwd=str(self.path.parent),
            startup_timeout=self.config.option.nbval_kernel_startup_timeout,
        )
        self.setup_sanitize_files()

    def collect(self):  # type: ignore[no-untyped-def]
        # A checked cell without a stored output would compare nothing and pass: refuse.
        for item in super().collect():
            if item.options.get("check") and not item.cell.outputs:
                raise ValueError(
                    f"{self.path.name} {item.name} is marked nbval-check-output but has no "
                    "stored output: run the notebook and save it with its outputs"
                )
            yield item

    def get_sanitize_files(self) -> list[str]:
        return [str(SANITIZE), *super().get_sanitize_files()]


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    option = parent.config.option
    if file_path.suffix != ".ipynb" or option.nbval or option.nbval_lax:
        return None  # with --nbval/--nbval-lax, nbval's own hook collects it
    notebook = AxonNotebook.from_parent(parent, path=file_path)
    notebook.compare_outputs = False  # --nbval-lax
    return notebook
