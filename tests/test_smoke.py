async def test_health(axon_client):
    resp = await axon_client.get("health")
    assert resp.status == 200
    assert resp.json()["status"] == "ok"


async def test_create_and_list(axon_user):
    resp = await axon_user.client.post("workflows", {"name": "etl"})
    assert resp.status == 201, resp
    listed = await axon_user.client.get("workflows")
    assert listed.json()["pagination"]["total"] == 1
