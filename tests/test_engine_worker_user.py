"""`worker_user`: code nodes run as an unprivileged OS user, cut off from the server's
secrets (its data dir, its environment). Needs a root server and the `nobody` user."""

from __future__ import annotations

import os
import pwd

import pytest
from test_engine_support import install_test_types, py, run, store_workflow


def _nobody() -> bool:
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        return False
    return True


pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not _nobody(), reason="needs root and a 'nobody' user"
)


@pytest.fixture
def axon_config():
    return {"worker_user": "nobody"}


async def test_code_runs_as_nobody_and_cannot_read_server_secrets(axon_admin, axon_runtime):
    install_test_types(axon_runtime)
    secret = os.path.join(axon_runtime.config.data_dir, "jwt_secret")
    assert os.path.exists(secret)
    code = f"""
import os
def run(inputs, config):
    tried = {{}}
    for name, path in (("secret", {secret!r}), ("environ", f"/proc/{{os.getppid()}}/environ")):
        try:
            with open(path, "rb") as fh:
                fh.read()
            tried[name] = "read"
        except OSError as exc:
            tried[name] = type(exc).__name__
    return {{"uid": os.getuid(), "gid": os.getgid(), "tried": tried}}
"""
    wf = await store_workflow(axon_runtime, axon_admin.id, [py("p", code)])
    ex = await run(axon_admin.client, wf)
    assert ex["status"] == "succeeded", ex
    out = ex["output"]["p"]["output"]
    nobody = pwd.getpwnam("nobody")
    assert (out["uid"], out["gid"]) == (nobody.pw_uid, nobody.pw_gid)
    assert out["tried"] == {"secret": "PermissionError", "environ": "PermissionError"}
