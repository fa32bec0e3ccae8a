"""Axon: workflow automation inside Jupyter.

Importing this package must stay cheap: the server extension, the magics and the
pytest plugin all import it, so heavy modules load lazily where they are used.
"""

from ._version import __version__


def _jupyter_server_extension_points() -> list[dict]:
    from .app import AxonApp

    return [{"module": "axon_jupyter", "app": AxonApp}]


def load_ipython_extension(ipython) -> None:  # pragma: no cover - wired by the notebook issue
    from .notebook.magics import load_ipython_extension as _load

    _load(ipython)


__all__ = ["__version__"]
