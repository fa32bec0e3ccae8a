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


async def test_execution_responses_match_openapi(axon_user, axon_openapi):
    c = axon_user.client
    check = axon_openapi.check
    wf = await c.post(
        "workflows",
        {
            "name": "run me",
            "definition": {
                "nodes": [
                    {"id": "t", "type": "node_manual_trigger"},
                    {"id": "log", "type": "node_log", "config": {"message": "hi"}},
                ],
                "connections": [{"from": "t", "to": "log"}],
            },
        },
    )
    wf_id = wf.json()["id"]
    run = await c.post(f"workflows/{wf_id}/execute", {"input": {"x": 1}}, params={"wait": 10})
    check(run, "POST", "/workflows/{workflow_id}/execute")
    assert run.json()["status"] == "succeeded", run
    ex_id = run.json()["id"]
    check(
        await c.get(f"workflows/{wf_id}/executions"), "GET", "/workflows/{workflow_id}/executions"
    )
    check(await c.get("executions", params={"workflow_id": wf_id}), "GET", "/executions")
    check(await c.get(f"executions/{ex_id}"), "GET", "/executions/{execution_id}")
    check(await c.get("executions/exec_nope"), "GET", "/executions/{execution_id}")
    logs = await c.get(f"executions/{ex_id}/logs")
    check(logs, "GET", "/executions/{execution_id}/logs")
    assert any(line["node_id"] == "log" for line in logs.json()["logs"])
    stop = await c.post(f"executions/{ex_id}/stop")
    assert stop.status == 409
    check(stop, "POST", "/executions/{execution_id}/stop")
    retry = await c.post(f"executions/{ex_id}/retry", {"mode": "from_start"}, params={"wait": 10})
    check(retry, "POST", "/executions/{execution_id}/retry")
    assert retry.json()["retry_of"] == ex_id
    gql = await c.post("graphql", {"query": "{ workflows { id name } }"})
    check(gql, "POST", "/graphql")
