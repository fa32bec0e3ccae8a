"""Executions over REST: run a workflow, list/read/stop/retry executions, tail logs.

Thin: parse the request, call services/executions.py, write the JSON. Reading needs
`workflows:read`; starting, stopping and retrying need `executions:run`.
"""

from __future__ import annotations

from jupyter_server.utils import url_path_join

from ..base import AxonHandler

READ = {"get": "workflows:read"}
RUN = {"get": "workflows:read", "post": "executions:run"}


def _page(page) -> dict:
    return {
        "executions": [ex.summary() for ex in page.items],
        "pagination": page.pagination(),
    }


class _ExecutionHandler(AxonHandler):
    def execution_url(self, execution_id: str) -> str:
        return url_path_join(self.base_url, "axon/v1/executions", execution_id)


class WorkflowExecuteHandler(_ExecutionHandler):
    required_scopes = RUN

    async def post(self, workflow_id: str) -> None:
        ex = await self.axon.executions.execute(
            self.principal,
            workflow_id,
            self.json_body(default={}),
            wait=self.get_query_argument("wait", None),
        )
        self.created(ex.to_api(), self.execution_url(ex.id))


class WorkflowExecutionsHandler(AxonHandler):
    required_scopes = READ

    async def get(self, workflow_id: str) -> None:
        page = await self.axon.executions.list_for_workflow(
            self.principal,
            workflow_id,
            page=self.get_query_argument("page", None),
            limit=self.get_query_argument("limit", None),
            status=self.get_query_argument("status", None),
        )
        self.write_json(_page(page))


class ExecutionsHandler(AxonHandler):
    required_scopes = READ

    async def get(self) -> None:
        page = await self.axon.executions.list(
            self.principal,
            page=self.get_query_argument("page", None),
            limit=self.get_query_argument("limit", None),
            workflow_id=self.get_query_argument("workflow_id", None),
            status=self.get_query_argument("status", None),
        )
        self.write_json(_page(page))


class ExecutionHandler(AxonHandler):
    required_scopes = READ

    async def get(self, execution_id: str) -> None:
        ex = await self.axon.executions.get(self.principal, execution_id)
        self.write_json(ex.to_api())


class ExecutionStopHandler(AxonHandler):
    required_scopes = RUN

    async def post(self, execution_id: str) -> None:
        ex = await self.axon.executions.stop(self.principal, execution_id)
        self.write_json(ex.to_api())


class ExecutionRetryHandler(_ExecutionHandler):
    required_scopes = RUN

    async def post(self, execution_id: str) -> None:
        ex = await self.axon.executions.retry(
            self.principal,
            execution_id,
            self.json_body(default={}),
            wait=self.get_query_argument("wait", None),
        )
        self.created(ex.to_api(), self.execution_url(ex.id))


class ExecutionLogsHandler(AxonHandler):
    required_scopes = READ

    async def get(self, execution_id: str) -> None:
        entries, pagination = await self.axon.executions.logs(
            self.principal,
            execution_id,
            after=self.get_query_argument("after", None),
            limit=self.get_query_argument("limit", None),
        )
        self.write_json({"logs": [e.to_api() for e in entries], "pagination": pagination})


routes = [
    (r"/workflows/([^/]+)/execute", WorkflowExecuteHandler),
    (r"/workflows/([^/]+)/executions", WorkflowExecutionsHandler),
    (r"/executions", ExecutionsHandler),
    (r"/executions/([^/]+)", ExecutionHandler),
    (r"/executions/([^/]+)/stop", ExecutionStopHandler),
    (r"/executions/([^/]+)/retry", ExecutionRetryHandler),
    (r"/executions/([^/]+)/logs", ExecutionLogsHandler),
]
