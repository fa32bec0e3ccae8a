"""Helpers for driving a real Axon server from tests and benchmarks (no pytest here)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

API = "axon/v1"


class AxonServerProcess:
    """A real `jupyter axon` in a subprocess: for restart, crash and end-to-end tests."""

    def __init__(
        self, workdir: Path, *, port: int, token: str, args: list[str], env: dict[str, str]
    ):
        self.workdir = workdir
        self.port = port
        self.token = token
        self.args = args
        self.env = env
        self.proc = None
        self.log_path = workdir / f"server-{port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/{API}"

    def start(self, timeout: float = 60) -> AxonServerProcess:
        cmd = [
            sys.executable,
            "-m",
            "axon_jupyter",
            f"--port={self.port}",
            "--ip=127.0.0.1",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            *self.args,
        ]
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env},
            cwd=self.workdir,
        )
        self._log = log
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.api_url}/health", timeout=1) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        raise TimeoutError(
            f"server not healthy in {timeout}s:\n{self.log_path.read_text()[-3000:]}"
        )

    def stop(self, kill: bool = False, timeout: float = 20) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except Exception:
                self.proc.kill()
                self.proc.wait(timeout)
        self._log.close()
        self.proc = None
