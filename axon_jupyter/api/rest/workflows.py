"""`/workflows` and `/workflows/{id}` with revisions, in the seed's JSON."""

from __future__ import annotations

from ..base import AxonHandler

READ = {"get": "workflows:read"}
WRITE = {
    "get": "workflows:read",
    "post": "workflows:write",
    "put": "workflows:write",
    "delete": "workflows:write",
}


class WorkflowsHandler(AxonHandler):
    required_scopes = WRITE

    async def get(self) -> None:
        page = await self.axon.workflows.list(
            self.principal,
            page=self.get_query_argument("page", None),
            limit=self.get_query_argument("limit", None),
            status=self.get_query_argument("status", None),
            search=self.get_query_argument("search", None),
        )
        self.write_json(
            {"workflows": [wf.summary() for wf in page.items], "pagination": page.pagination()}
        )

    async def post(self) -> None:
        wf = await self.axon.workflows.create(self.principal, self.json_body())
        self.set_header("ETag", wf.etag)
        self.created(wf.to_api(), f"{self.request.path}/{wf.id}")


class WorkflowHandler(AxonHandler):
    required_scopes = WRITE

    async def get(self, workflow_id: str) -> None:
        wf = await self.axon.workflows.get(self.principal, workflow_id)
        self.set_header("ETag", wf.etag)
        self.write_json(wf.to_api())

    async def put(self, workflow_id: str) -> None:
        wf = await self.axon.workflows.update(
            self.principal, workflow_id, self.json_body(), self.request.headers.get("If-Match")
        )
        self.set_header("ETag", wf.etag)
        self.write_json(wf.to_api())

    async def delete(self, workflow_id: str) -> None:
        await self.axon.workflows.delete(self.principal, workflow_id)
        self.no_content()


class WorkflowVersionsHandler(AxonHandler):
    required_scopes = WRITE

    async def get(self, workflow_id: str) -> None:
        revs = await self.axon.workflows.revisions(self.principal, workflow_id)
        self.write_json({"versions": [r.to_api(with_definition=False) for r in revs]})


class WorkflowVersionHandler(AxonHandler):
    required_scopes = WRITE

    async def get(self, workflow_id: str, version: str) -> None:
        rev = await self.axon.workflows.revision(self.principal, workflow_id, version)
        self.write_json(rev.to_api())


class WorkflowRestoreHandler(AxonHandler):
    required_scopes = WRITE

    async def post(self, workflow_id: str, version: str) -> None:
        wf = await self.axon.workflows.restore(self.principal, workflow_id, version)
        self.set_header("ETag", wf.etag)
        self.write_json(wf.to_api())


routes = [
    (r"/workflows", WorkflowsHandler),
    (r"/workflows/([^/]+)", WorkflowHandler),
    (r"/workflows/([^/]+)/versions", WorkflowVersionsHandler),
    (r"/workflows/([^/]+)/versions/([^/]+)", WorkflowVersionHandler),
    (r"/workflows/([^/]+)/versions/([^/]+)/restore", WorkflowRestoreHandler),
]
