"""The `code_nodes` trait decides who may register Python code (owner, all, off)."""

from __future__ import annotations

import pytest

CODE = "async def run(inputs, config):\n    return inputs\n"


def body(node_id: str) -> dict:
    return {"id": node_id, "name": node_id, "version": "0.1.0", "code": CODE}


@pytest.fixture
def axon_config(request):
    return {"code_nodes": request.param}


@pytest.mark.parametrize("axon_config", ["all"], indirect=True)
async def test_policy_all_lets_members_register(axon_user):
    resp = await axon_user.client.post("nodes", body("members_node"))
    assert resp.status == 201, resp
    assert resp.json()["category"] == "custom"
    assert (await axon_user.client.get("nodes/members_node")).status == 200


@pytest.mark.parametrize("axon_config", ["off"], indirect=True)
async def test_policy_off_refuses_everyone(axon_admin, axon_jupyter_client, axon_runtime):
    assert axon_runtime.config.code_nodes == "off"
    for client in (axon_admin.client, axon_jupyter_client):
        resp = await client.post("nodes", body("nobodys_node"))
        assert resp.status == 403 and resp.error_code == "FORBIDDEN"
        assert resp.json()["error"]["details"] == {"policy": "off"}
        assert (await client.get("nodes/nobodys_node")).status == 404
    # Built-ins stay readable.
    assert (await axon_admin.client.get("nodes/node_python")).status == 200


@pytest.mark.parametrize("axon_config", ["owner"], indirect=True)
async def test_policy_owner_admins_yes_members_no(axon_admin, axon_user):
    assert (await axon_admin.client.post("nodes", body("admins_node"))).status == 201
    resp = await axon_user.client.post("nodes", body("members_node"))
    assert resp.status == 403 and resp.json()["error"]["details"] == {"policy": "owner"}
