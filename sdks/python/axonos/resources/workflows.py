"""`/workflows`: CRUD with optimistic concurrency, revisions, execute, execution history."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import httpx

from .._base_client import Call, PageSpec, quote, timeout_for_wait
from .._pagination import AsyncPage, SyncPage
from .._types import Execution, Workflow, WorkflowVersion
from ._resource import AsyncAPIResource, SyncAPIResource

_WORKFLOWS = PageSpec("workflows", Workflow.from_api)
_EXECUTIONS = PageSpec("executions", Execution.from_api)


def _path(workflow_id: str, *rest: Any) -> str:
    return "/".join(["workflows", quote(workflow_id), *(quote(r) for r in rest)])


def _list_call(
    page: int | None, limit: int | None, status: str | None, search: str | None
) -> Call[Any]:
    params = {"page": page, "limit": limit, "status": status, "search": search}
    return Call("GET", "workflows", params=params, page=_WORKFLOWS)


def _fields(**fields: Any) -> dict[str, Any]:
    """The body of a create/update: only what the caller gave (None means "not given")."""
    return {key: value for key, value in fields.items() if value is not None}


def _create_call(**fields: Any) -> Call[Workflow]:
    return Call("POST", "workflows", json=_fields(**fields), cast=Workflow.from_api)


def _get_call(workflow_id: str) -> Call[Workflow]:
    return Call("GET", _path(workflow_id), cast=Workflow.from_api)


def _update_call(workflow_id: str, if_match: str | None, **fields: Any) -> Call[Workflow]:
    return Call(
        "PUT",
        _path(workflow_id),
        json=_fields(**fields),
        headers={"If-Match": if_match} if if_match else None,
        cast=Workflow.from_api,
    )


def _delete_call(workflow_id: str) -> Call[None]:
    return Call("DELETE", _path(workflow_id))


def _execute_call(
    workflow_id: str,
    input: Mapping[str, Any] | None,
    wait: float | None,
    timeout: float | httpx.Timeout | None,
    default_timeout: float | httpx.Timeout | None,
) -> Call[Execution]:
    timeout = timeout_for_wait(wait, timeout, default_timeout)
    return Call(
        "POST",
        _path(workflow_id, "execute"),
        params={"wait": wait},
        json={"input": dict(input or {})},
        cast=Execution.from_api,
        timeout=timeout,
    )


def _executions_call(
    workflow_id: str, status: str | None, page: int | None, limit: int | None
) -> Call[Any]:
    params = {"status": status, "page": page, "limit": limit}
    return Call("GET", _path(workflow_id, "executions"), params=params, page=_EXECUTIONS)


def _versions(data: Any) -> list[WorkflowVersion]:
    return [WorkflowVersion.from_api(v) for v in data.get("versions", [])]


def _versions_call(workflow_id: str) -> Call[list[WorkflowVersion]]:
    return Call("GET", _path(workflow_id, "versions"), cast=_versions)


def _version_call(workflow_id: str, version: int) -> Call[WorkflowVersion]:
    return Call("GET", _path(workflow_id, "versions", version), cast=WorkflowVersion.from_api)


def _restore_call(workflow_id: str, version: int) -> Call[Workflow]:
    return Call("POST", _path(workflow_id, "versions", version, "restore"), cast=Workflow.from_api)


class Workflows(SyncAPIResource):
    def list(
        self,
        *,
        page: int | None = None,
        limit: int | None = None,
        status: str | None = None,
        search: str | None = None,
    ) -> SyncPage[Workflow]:
        """One page of your workflows (summaries, no `definition`); iterate it for all."""
        return self._client._request(_list_call(page, limit, status, search))

    def iter(
        self, *, status: str | None = None, search: str | None = None, limit: int = 100
    ) -> Iterator[Workflow]:
        """Every workflow matching the filters, fetching `limit` per request."""
        yield from self.list(limit=limit, status=status, search=search)

    def create(
        self,
        *,
        name: str,
        description: str | None = None,
        definition: Mapping[str, Any] | None = None,
        status: str | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> Workflow:
        """Create a workflow; the definition is validated against the node catalog."""
        return self._client._request(
            _create_call(
                name=name,
                description=description,
                definition=definition,
                status=status,
                settings=settings,
            )
        )

    def get(self, workflow_id: str) -> Workflow:
        return self._client._request(_get_call(workflow_id))

    def update(
        self,
        workflow_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        definition: Mapping[str, Any] | None = None,
        status: str | None = None,
        settings: Mapping[str, Any] | None = None,
        version: int | None = None,
        if_match: str | None = None,
    ) -> Workflow:
        """Change the given fields. Pass the `version` you read to fail with
        ConflictError if someone changed it since (or `if_match` an ETag: 412)."""
        return self._client._request(
            _update_call(
                workflow_id,
                if_match,
                name=name,
                description=description,
                definition=definition,
                status=status,
                settings=settings,
                version=version,
            )
        )

    def delete(self, workflow_id: str) -> None:
        self._client._request(_delete_call(workflow_id))

    def execute(
        self,
        workflow_id: str,
        *,
        input: Mapping[str, Any] | None = None,
        wait: float | None = None,
        timeout: float | httpx.Timeout | None = None,
    ) -> Execution:
        """Start a run (status `queued`); with `wait=` seconds the server answers once it
        finished or that time passed, whichever comes first."""
        return self._client._request(
            _execute_call(workflow_id, input, wait, timeout, self._client.timeout)
        )

    def executions(
        self,
        workflow_id: str,
        *,
        status: str | None = None,
        page: int | None = None,
        limit: int | None = None,
    ) -> SyncPage[Execution]:
        """This workflow's execution history, newest first, one page (iterate for all)."""
        return self._client._request(_executions_call(workflow_id, status, page, limit))

    def versions(self, workflow_id: str) -> list[WorkflowVersion]:
        """Every saved revision (without definitions)."""
        return self._client._request(_versions_call(workflow_id))

    def get_version(self, workflow_id: str, version: int) -> WorkflowVersion:
        """One revision, with its definition."""
        return self._client._request(_version_call(workflow_id, version))

    def restore(self, workflow_id: str, version: int) -> Workflow:
        """Make an old revision current again (itself saved as a new revision)."""
        return self._client._request(_restore_call(workflow_id, version))


class AsyncWorkflows(AsyncAPIResource):
    async def list(
        self,
        *,
        page: int | None = None,
        limit: int | None = None,
        status: str | None = None,
        search: str | None = None,
    ) -> AsyncPage[Workflow]:
        """One page of your workflows (summaries, no `definition`); `async for` it for all."""
        return await self._client._request(_list_call(page, limit, status, search))

    async def iter(
        self, *, status: str | None = None, search: str | None = None, limit: int = 100
    ) -> AsyncIterator[Workflow]:
        """Every workflow matching the filters, fetching `limit` per request."""
        async for workflow in await self.list(limit=limit, status=status, search=search):
            yield workflow

    async def create(
        self,
        *,
        name: str,
        description: str | None = None,
        definition: Mapping[str, Any] | None = None,
        status: str | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> Workflow:
        """Create a workflow; the definition is validated against the node catalog."""
        return await self._client._request(
            _create_call(
                name=name,
                description=description,
                definition=definition,
                status=status,
                settings=settings,
            )
        )

    async def get(self, workflow_id: str) -> Workflow:
        return await self._client._request(_get_call(workflow_id))

    async def update(
        self,
        workflow_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        definition: Mapping[str, Any] | None = None,
        status: str | None = None,
        settings: Mapping[str, Any] | None = None,
        version: int | None = None,
        if_match: str | None = None,
    ) -> Workflow:
        """Change the given fields. Pass the `version` you read to fail with
        ConflictError if someone changed it since (or `if_match` an ETag: 412)."""
        return await self._client._request(
            _update_call(
                workflow_id,
                if_match,
                name=name,
                description=description,
                definition=definition,
                status=status,
                settings=settings,
                version=version,
            )
        )

    async def delete(self, workflow_id: str) -> None:
        await self._client._request(_delete_call(workflow_id))

    async def execute(
        self,
        workflow_id: str,
        *,
        input: Mapping[str, Any] | None = None,
        wait: float | None = None,
        timeout: float | httpx.Timeout | None = None,
    ) -> Execution:
        """Start a run (status `queued`); with `wait=` seconds the server answers once it
        finished or that time passed, whichever comes first."""
        return await self._client._request(
            _execute_call(workflow_id, input, wait, timeout, self._client.timeout)
        )

    async def executions(
        self,
        workflow_id: str,
        *,
        status: str | None = None,
        page: int | None = None,
        limit: int | None = None,
    ) -> AsyncPage[Execution]:
        """This workflow's execution history, one page (`async for` it for all)."""
        return await self._client._request(_executions_call(workflow_id, status, page, limit))

    async def versions(self, workflow_id: str) -> list[WorkflowVersion]:
        """Every saved revision (without definitions)."""
        return await self._client._request(_versions_call(workflow_id))

    async def get_version(self, workflow_id: str, version: int) -> WorkflowVersion:
        """One revision, with its definition."""
        return await self._client._request(_version_call(workflow_id, version))

    async def restore(self, workflow_id: str, version: int) -> Workflow:
        """Make an old revision current again (itself saved as a new revision)."""
        return await self._client._request(_restore_call(workflow_id, version))
