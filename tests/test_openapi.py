"""Real responses validate against the OpenAPI document the server serves."""


async def test_walkthrough_responses_match_openapi(axon_client, axon_user, axon_openapi):
    c = axon_user.client
    check = axon_openapi.check
    check(await axon_client.get("health"), "GET", "/health")
    login = await axon_client.post(
        "auth/login", {"email": axon_user.email, "password": axon_user.password}
    )
    check(login, "POST", "/auth/login")
    check(
        await axon_client.post("auth/login", {"email": "x@y.z", "password": "nope"}),
        "POST",
        "/auth/login",
    )
    check(
        await axon_client.post("auth/refresh", {"refresh_token": login.json()["refresh_token"]}),
        "POST",
        "/auth/refresh",
    )
    check(await c.get("auth/me"), "GET", "/auth/me")
    created = await c.post(
        "workflows",
        {
            "name": "etl",
            "definition": {"nodes": [{"id": "a", "type": "node_set"}], "connections": []},
        },
    )
    check(created, "POST", "/workflows")
    check(await c.post("workflows", {}), "POST", "/workflows")
    wf_id = created.json()["id"]
    check(await c.get("workflows"), "GET", "/workflows")
    check(await c.get(f"workflows/{wf_id}"), "GET", "/workflows/{workflow_id}")
    check(await c.get("workflows/wf_nope"), "GET", "/workflows/{workflow_id}")
    check(await c.put(f"workflows/{wf_id}", {"name": "x"}), "PUT", "/workflows/{workflow_id}")
    check(await c.put(f"workflows/{wf_id}", {"version": 1}), "PUT", "/workflows/{workflow_id}")
    check(await c.get(f"workflows/{wf_id}/versions"), "GET", "/workflows/{workflow_id}/versions")
    check(
        await c.get(f"workflows/{wf_id}/versions/1"),
        "GET",
        "/workflows/{workflow_id}/versions/{version}",
    )
    check(
        await c.post(f"workflows/{wf_id}/versions/1/restore"),
        "POST",
        "/workflows/{workflow_id}/versions/{version}/restore",
    )
    key = await c.post("api-keys", {"name": "k"})
    check(key, "POST", "/api-keys")
    check(await c.get("api-keys"), "GET", "/api-keys")
    check(await c.delete(f"api-keys/{key.json()['id']}"), "DELETE", "/api-keys/{key_id}")
    check(await c.delete(f"workflows/{wf_id}"), "DELETE", "/workflows/{workflow_id}")
    check(await c.post("auth/logout"), "POST", "/auth/logout")
