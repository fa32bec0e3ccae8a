"""A worker process: runs ONE node's Python code, then exits.

Started by engine/runners.py as `python -I worker.py '<limits json>'` in its own session
(process group), with a scrubbed environment and a private working directory. This file
is run as a script, not imported as part of the package: it must use the standard
library only, and it never sees anything of the server but the job it is handed.

Protocol (JSON lines): the worker writes `{"t": "ready"}` on its protocol channel, reads
one job `{"node_id", "source", "inputs", "config"}` from stdin, streams
`{"t": "log", "level", "msg"}` for print() and logging, and ends with
`{"t": "result", "ok": true, "value": ...}` or `{"t": "result", "ok": false, "error":
{...}}`. The protocol channel is a private copy of fd 1; fd 1 itself is pointed at
stderr, so C-level writes cannot corrupt the protocol (the server logs stderr lines).

Before any node code runs: resource limits (CPU seconds, address space, no core
files), and when running as root, CAP_SYS_RESOURCE is dropped so the code cannot raise
them back; optionally a switch to an unprivileged uid/gid.
"""

# Everything the worker itself needs is imported before it drops privileges: with
# `worker_user` set, the Python installation may not be readable afterwards.
import asyncio
import contextlib
import ctypes
import faulthandler
import json
import linecache
import logging
import os
import resource
import sys
import threading
import traceback

MAX_LINE = 16 * 1024
CAP_SYS_RESOURCE = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAPBSET_DROP = 24
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

_lock = threading.Lock()
_proto = None


def send(message):
    data = json.dumps(message, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    with _lock:
        _proto.write(data + "\n")
        _proto.flush()


class _LogWriter:
    """sys.stdout / sys.stderr replacement: every complete line becomes a log message."""

    def __init__(self, level):
        self.level = level
        self.buffer = ""
        self.encoding = "utf-8"
        self.errors = "replace"

    def write(self, text):
        if not isinstance(text, str):
            text = str(text)
        self.buffer += text
        while "\n" in self.buffer:
            line, self.buffer = self.buffer.split("\n", 1)
            send({"t": "log", "level": self.level, "msg": line[:MAX_LINE]})
        if len(self.buffer) > MAX_LINE:
            send({"t": "log", "level": self.level, "msg": self.buffer[:MAX_LINE]})
            self.buffer = ""
        return len(text)

    def flush(self):
        if self.buffer:
            send({"t": "log", "level": self.level, "msg": self.buffer[:MAX_LINE]})
            self.buffer = ""

    def isatty(self):
        return False

    def writable(self):
        return True


def _drop_cap_sys_resource():
    """As root, a process may raise its own hard limits; without CAP_SYS_RESOURCE it
    may not. Drop it from the bounding set and from the current sets."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_CAPBSET_DROP, CAP_SYS_RESOURCE, 0, 0, 0)

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [
            ("effective", ctypes.c_uint32),
            ("permitted", ctypes.c_uint32),
            ("inheritable", ctypes.c_uint32),
        ]

    header = Header(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (Data * 2)()
    if libc.capget(ctypes.byref(header), data) != 0:
        return
    mask = ~(1 << CAP_SYS_RESOURCE) & 0xFFFFFFFF
    data[0].effective &= mask
    data[0].permitted &= mask
    data[0].inheritable &= mask
    libc.capset(ctypes.byref(header), data)


def _harden(limits):
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    cpu = int(limits.get("cpu_seconds") or 0)
    if cpu > 0:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    memory = int(limits.get("memory_bytes") or 0)
    if memory > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    if os.geteuid() == 0:
        with contextlib.suppress(OSError, AttributeError):
            _drop_cap_sys_resource()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    uid, gid = limits.get("uid"), limits.get("gid")
    if gid is not None:
        os.setgroups([])
        os.setgid(int(gid))
    if uid is not None:
        os.setuid(int(uid))


def _user_traceback(exc, filename):
    """The traceback from the first frame of the node's own code on."""
    frames = traceback.extract_tb(exc.__traceback__)
    for i, frame in enumerate(frames):
        if frame.filename == filename:
            frames = frames[i:]
            break
    lines = ["Traceback (most recent call last):\n"]
    lines += traceback.format_list(frames)
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines)


def _run_job(job, limits):
    node_id = str(job.get("node_id", "node"))
    source = job.get("source") or ""
    filename = f"<node {node_id}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"__name__": "__axon_node__", "__builtins__": __builtins__}
    try:
        code = compile(source, filename, "exec")
        exec(code, namespace)
        run = namespace.get("run")
        if not callable(run):
            return {
                "ok": False,
                "error": {
                    "code": "CODE_ERROR",
                    "type": "TypeError",
                    "message": "node code must define run(inputs, config)",
                },
            }
        value = run(job.get("inputs") or {}, job.get("config") or {})
        if hasattr(value, "__await__"):

            async def _await(awaitable):
                return await awaitable

            value = asyncio.run(_await(value))
        return {"ok": True, "value": value}
    except MemoryError:
        limit = int(limits.get("memory_bytes") or 0) // (1024 * 1024)
        namespace.clear()
        return {
            "ok": False,
            "error": {
                "code": "OUT_OF_MEMORY",
                "type": "MemoryError",
                "message": f"node code ran out of memory (limit {limit} MiB)"
                if limit
                else "node code ran out of memory",
            },
        }
    except SystemExit as exc:
        return {
            "ok": False,
            "error": {
                "code": "CODE_ERROR",
                "type": "SystemExit",
                "message": f"node code called sys.exit({exc.code!r})",
            },
        }
    except BaseException as exc:
        text = str(exc)
        return {
            "ok": False,
            "error": {
                "code": "CODE_ERROR",
                "type": type(exc).__name__,
                "message": f"{type(exc).__name__}: {text}" if text else type(exc).__name__,
                "traceback": _user_traceback(exc, filename),
            },
        }


def main():
    global _proto
    limits = json.loads(sys.argv[1])
    _proto = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # C-level stdout now lands in stderr, never in the protocol
    faulthandler.enable(file=sys.__stderr__)
    _harden(limits)
    send({"t": "ready"})
    line = sys.stdin.readline()
    if not line:
        os._exit(0)
    job = json.loads(line)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    out, err = _LogWriter("info"), _LogWriter("error")
    sys.stdout, sys.stderr = out, err

    class _Handler(logging.Handler):
        def emit(self, record):
            try:
                level = record.levelname.lower()
                level = {"critical": "error", "warn": "warning"}.get(level, level)
                send({"t": "log", "level": level, "msg": self.format(record)[:MAX_LINE]})
            except Exception:
                self.handleError(record)

    root = logging.getLogger()
    root.handlers[:] = [_Handler()]
    root.setLevel(logging.DEBUG)

    result = _run_job(job, limits)
    out.flush()
    err.flush()
    try:
        send({"t": "result", **result})
    except (TypeError, ValueError) as exc:
        send(
            {
                "t": "result",
                "ok": False,
                "error": {
                    "code": "OUTPUT_ERROR",
                    "type": type(exc).__name__,
                    "message": f"node result is not JSON-serializable: {exc}",
                },
            }
        )
    os._exit(0)


if __name__ == "__main__":
    main()
