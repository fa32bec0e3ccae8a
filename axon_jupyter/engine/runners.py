"""Runners: where a node's code runs, behind one small interface.

    result = await runner.run(node_type, inputs, config, ctx)

- `InlineRunner`: `await node_type.run(inputs, config, ctx)` in the event loop (the async
  built-ins). Cancelling the awaiting task stops it.
- `ProcessRunner`: Python source (`node_type.code`, else `config["code"]`) in a worker
  process (engine/worker.py). Node code never runs in the server process. Each worker
  runs one job and exits: no state, no open file or planted import leaks from one run
  (or one user) into the next, and the CPU limit counts one job only. To keep that
  cheap, `warm` workers are started ahead of demand. A worker gets a scrubbed
  environment (an allowlist: nothing of AXON_* / JUPYTER* or any other secret), a
  private temp dir as cwd/HOME/TMPDIR, rlimits, and its own session; on stop or timeout
  its whole process group is killed with SIGKILL.

A dead worker (exception, os._exit, segfault, OOM kill, CPU limit) fails only its node,
with an error that says what happened. Must never import tornado or anything from api/.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import pwd
import shutil
import signal
import sys
import tempfile
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..nodes.types import NodeContext, NodeType

log = logging.getLogger("axon.engine")

WORKER_SCRIPT = str(Path(__file__).with_name("worker.py"))
MAX_MESSAGE = 64 * 1024 * 1024  # largest result line a worker may send
_ENV_ALLOW = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ")


class NodeFailure(Exception):
    """A node attempt failed; `error` is the record shown to the client."""

    def __init__(self, error: dict[str, Any]):
        super().__init__(error.get("message", "node failed"))
        self.error = error


class Runner(Protocol):
    def run(
        self, node_type: NodeType, inputs: dict[str, Any], config: dict[str, Any], ctx: NodeContext
    ) -> Awaitable[Any]: ...


class InlineRunner:
    """Async built-ins, awaited in the event loop. `run` hands back the node's own
    coroutine rather than wrapping it: one frame less on the per-node hot path."""

    def run(
        self, node_type: NodeType, inputs: dict[str, Any], config: dict[str, Any], ctx: NodeContext
    ) -> Awaitable[Any]:
        if node_type.run is None:
            raise NodeFailure(
                {"code": "NODE_ERROR", "message": f"node type {node_type.ref} has no run function"}
            )
        return node_type.run(inputs, config, ctx)


@dataclass(frozen=True)
class WorkerSettings:
    max_workers: int = 4  # worker processes running at once (others wait)
    warm: int = 1  # idle workers kept started ahead of demand
    cpu_seconds: int = 300  # RLIMIT_CPU per job; 0: unlimited
    memory_mb: int = 2048  # RLIMIT_AS per job; 0: unlimited
    user: str = ""  # run workers as this OS user (needs root); "": the server's user
    start_timeout: float = 30.0


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def describe_exit(returncode: int | None, settings: WorkerSettings) -> dict[str, Any]:
    """What a worker's death means, for the node's error record."""
    if returncode is None:
        return {"code": "WORKER_CRASHED", "message": "worker process vanished"}
    if returncode >= 0:
        return {
            "code": "WORKER_CRASHED",
            "message": f"worker process exited with code {returncode} before returning a result",
            "exit_code": returncode,
        }
    number = -returncode
    name = _signal_name(number)
    if number == signal.SIGSEGV:
        message = "worker process crashed: segmentation fault (SIGSEGV)"
    elif number == signal.SIGXCPU:
        message = f"worker process exceeded its CPU time limit ({settings.cpu_seconds} s)"
    elif number == signal.SIGKILL:
        message = "worker process was killed (SIGKILL): out of memory or over its CPU time limit"
    else:
        message = f"worker process was killed by {name}"
    return {"code": "WORKER_CRASHED", "message": message, "signal": name}


class _Worker:
    """One started, single-use worker process."""

    def __init__(self, proc: asyncio.subprocess.Process, workdir: str):
        self.proc = proc
        self.workdir = workdir

    def kill(self) -> None:
        """SIGKILL the worker's whole process group (it leads its own session)."""
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        else:
            # The leader is gone; anything it forked still carries its group id.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)

    async def dispose(self) -> None:
        self.kill()
        with contextlib.suppress(ProcessLookupError):
            await self.proc.wait()
        await asyncio.to_thread(shutil.rmtree, self.workdir, True)


class ProcessRunner:
    """Runs Python node code in worker processes (see the module docstring)."""

    def __init__(self, settings: WorkerSettings | None = None):
        self.settings = settings or WorkerSettings()
        self._slots = asyncio.Semaphore(max(1, self.settings.max_workers))
        self._idle: deque[_Worker] = deque()
        self._starting = 0
        self._background: set[asyncio.Task] = set()
        self._closed = False
        self._limits = self._limit_args()

    # ------------------------------------------------------------------ workers
    def _limit_args(self) -> str:
        s = self.settings
        args: dict[str, Any] = {
            "cpu_seconds": s.cpu_seconds,
            "memory_bytes": s.memory_mb * 1024 * 1024,
        }
        if s.user:
            entry = pwd.getpwnam(s.user)
            args["uid"], args["gid"] = entry.pw_uid, entry.pw_gid
        return json.dumps(args)

    def _environment(self, workdir: str) -> dict[str, str]:
        env = {k: os.environ[k] for k in _ENV_ALLOW if k in os.environ}
        env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
        env.update(HOME=workdir, TMPDIR=workdir, PYTHONIOENCODING="utf-8")
        return env

    async def _spawn(self) -> _Worker:
        workdir = await asyncio.to_thread(tempfile.mkdtemp, prefix="axon-worker-")
        if self.settings.user:
            entry = pwd.getpwnam(self.settings.user)
            os.chown(workdir, entry.pw_uid, entry.pw_gid)
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-I",
                WORKER_SCRIPT,
                self._limits,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=workdir,
                env=self._environment(workdir),
                start_new_session=True,
                limit=MAX_MESSAGE,
            )
        except BaseException:
            shutil.rmtree(workdir, True)
            raise
        worker = _Worker(proc, workdir)
        try:
            async with asyncio.timeout(self.settings.start_timeout):
                line = await proc.stdout.readline()
            if json.loads(line or b"{}").get("t") != "ready":
                raise RuntimeError("worker did not start")
        except BaseException:
            await worker.dispose()
            raise
        return worker

    def _replenish(self) -> None:
        while not self._closed and len(self._idle) + self._starting < self.settings.warm:
            self._starting += 1
            task = asyncio.ensure_future(self._warm_one())
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _warm_one(self) -> None:
        try:
            worker = await self._spawn()
        except Exception:
            log.exception("could not start a warm worker process")
            return
        finally:
            self._starting -= 1
        if self._closed:
            await worker.dispose()
        else:
            self._idle.append(worker)

    async def _take(self) -> _Worker:
        while self._idle:
            worker = self._idle.popleft()
            if worker.proc.returncode is None:
                return worker
            await worker.dispose()
        return await self._spawn()

    async def start(self) -> None:
        """Accept jobs. Warm workers are started at the first job, not here: a server
        that never runs code nodes never pays for idle worker processes."""
        self._closed = False

    async def close(self) -> None:
        self._closed = True
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        while self._idle:
            await self._idle.popleft().dispose()

    # ------------------------------------------------------------------ jobs
    async def run(
        self, node_type: NodeType, inputs: dict[str, Any], config: dict[str, Any], ctx: NodeContext
    ) -> Any:
        source = node_type.code if node_type.code is not None else config.get("code")
        if not isinstance(source, str) or not source.strip():
            raise NodeFailure(
                {"code": "NODE_ERROR", "message": "no code to run: config.code is empty"}
            )
        job = {"node_id": ctx.node_id, "source": source, "inputs": inputs, "config": config}
        try:
            payload = json.dumps(job, ensure_ascii=False, allow_nan=False).encode() + b"\n"
        except (TypeError, ValueError) as exc:
            raise NodeFailure(
                {"code": "NODE_ERROR", "message": f"inputs are not JSON-serializable: {exc}"}
            ) from None
        async with self._slots:
            worker = await self._take()
            self._replenish()
            try:
                return await self._exchange(worker, payload, ctx)
            finally:
                # Single use: whatever the outcome, the group goes (with anything the
                # code forked) and the private dir with it.
                await asyncio.shield(worker.dispose())

    async def _exchange(self, worker: _Worker, payload: bytes, ctx: NodeContext) -> Any:
        proc = worker.proc
        stderr_task = asyncio.ensure_future(self._pump_stderr(proc, ctx))
        try:
            proc.stdin.write(payload)
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                await proc.stdin.drain()
            while True:
                try:
                    line = await proc.stdout.readline()
                except ValueError:  # a line over MAX_MESSAGE
                    raise NodeFailure(
                        {
                            "code": "OUTPUT_ERROR",
                            "message": f"node result larger than {MAX_MESSAGE} bytes",
                        }
                    ) from None
                if not line:
                    await proc.wait()
                    await asyncio.wait([stderr_task], timeout=1.0)
                    raise NodeFailure(describe_exit(proc.returncode, self.settings))
                message = json.loads(line)
                kind = message.get("t")
                if kind == "log":
                    ctx.log(str(message.get("level", "info")), str(message.get("msg", "")))
                elif kind == "result":
                    await asyncio.wait([stderr_task], timeout=0.2)
                    if message.get("ok"):
                        return message.get("value")
                    error = message.get("error") or {"code": "CODE_ERROR", "message": "failed"}
                    if error.get("traceback"):
                        ctx.log("error", error["traceback"].rstrip())
                    raise NodeFailure(error)
        finally:
            worker.kill()
            stderr_task.cancel()

    @staticmethod
    async def _pump_stderr(proc: asyncio.subprocess.Process, ctx: NodeContext) -> None:
        while True:
            line = await proc.stderr.readline()
            if not line:
                return
            ctx.log("error", line.decode("utf-8", "replace").rstrip("\n")[:16384])
