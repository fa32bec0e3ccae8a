"""Workflows: create, read, list, update with optimistic concurrency, revisions.

Every change of a workflow writes a new numbered revision in the same transaction, so
an execution can always name the exact definition it ran and any revision can be
restored (a restore is itself a new revision).
"""

from __future__ import annotations

from typing import Any

from ..auth.identity import Principal
from ..errors import Conflict, PreconditionFailed, not_found
from ..models import WORKFLOW_STATUSES, Page, Workflow, WorkflowRevision, new_id, utcnow
from ..store.base import Store
from .definitions import DefinitionChecker, normalize_definition
from .inputs import get_int, get_str, invalid, paging, reject_unknown, require_object

_FIELDS = {"name", "description", "status", "definition", "settings", "version"}


class WorkflowService:
    def __init__(self, store: Store, checker: DefinitionChecker | None = None):
        self.store = store
        # The node catalog plugs in here to check types, ports and config schemas.
        self.checker = checker

    async def _definition(self, user_id: str, raw: Any) -> dict[str, Any]:
        definition = normalize_definition(raw)
        if self.checker is not None:
            await self.checker(user_id, definition)
        return definition

    @staticmethod
    def _settings(raw: Any) -> dict[str, Any]:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            raise invalid("settings", "must be an object")
        return raw

    async def create(self, principal: Principal, body: Any) -> Workflow:
        body = require_object(body)
        reject_unknown(body, _FIELDS - {"version"})
        definition = await self._definition(principal.user_id, body.get("definition"))
        now = utcnow()
        wf = Workflow(
            id=new_id("wf"),
            user_id=principal.user_id,
            name=get_str(body, "name", required=True, min_len=1, max_len=200),
            description=get_str(body, "description", default="", max_len=10_000),
            status=get_str(body, "status", default="draft", choices=WORKFLOW_STATUSES),
            definition=definition,
            settings=self._settings(body.get("settings")),
            node_count=len(definition["nodes"]),
            version=1,
            created_at=now,
            updated_at=now,
        )
        await self.store.create_workflow(wf)
        return wf

    async def get(self, principal: Principal, workflow_id: str) -> Workflow:
        wf = await self.store.get_workflow(principal.user_id, workflow_id)
        if wf is None:
            raise not_found("Workflow", workflow_id)
        return wf

    async def get_many(self, principal: Principal, workflow_ids: list[str]) -> dict[str, Workflow]:
        """The principal's workflows among `workflow_ids`, by id, in one store read
        (GraphQL's dataloader); others' and missing ids are absent, never an error."""
        return {wf.id: wf for wf in await self.store.get_workflows(principal.user_id, workflow_ids)}

    async def list(
        self,
        principal: Principal,
        *,
        page: Any = None,
        limit: Any = None,
        status: str | None = None,
        search: str | None = None,
    ) -> Page:
        page_n, limit_n = paging(page, limit)
        if status is not None and status not in WORKFLOW_STATUSES:
            raise invalid("status", f"must be one of {', '.join(WORKFLOW_STATUSES)}")
        if search is not None and len(search) > 200:
            raise invalid("search", "must be at most 200 characters")
        return await self.store.list_workflows(
            principal.user_id, page=page_n, limit=limit_n, status=status, search=search or None
        )

    async def update(
        self, principal: Principal, workflow_id: str, body: Any, if_match: str | None = None
    ) -> Workflow:
        """Replace the fields given; a stale `version` is 409, a stale If-Match is 412."""
        body = require_object(body)
        reject_unknown(body, _FIELDS)
        current = await self.get(principal, workflow_id)
        if if_match is not None and if_match.strip() not in (current.etag, "*"):
            raise PreconditionFailed(
                "workflow changed since it was read",
                {"etag": current.etag, "if_match": if_match},
            )
        if "version" in body:
            expected = get_int(body["version"], "version", default=0, minimum=1)
            if expected != current.version:
                raise Conflict(
                    "workflow version mismatch",
                    {"field": "version", "expected": expected, "current": current.version},
                )
        updated = Workflow(
            id=current.id,
            user_id=current.user_id,
            name=get_str(body, "name", default=current.name, min_len=1, max_len=200),
            description=get_str(body, "description", default=current.description, max_len=10_000),
            status=get_str(body, "status", default=current.status, choices=WORKFLOW_STATUSES),
            definition=(
                await self._definition(principal.user_id, body["definition"])
                if "definition" in body
                else current.definition
            ),
            settings=self._settings(body["settings"]) if "settings" in body else current.settings,
            version=current.version + 1,
            created_at=current.created_at,
            updated_at=utcnow(),
            execution_count=current.execution_count,
        )
        updated.node_count = len(updated.definition["nodes"])
        return await self._save(updated, current.version)

    async def _save(
        self, wf: Workflow, expected: int, restored_from: int | None = None
    ) -> Workflow:
        if not await self.store.update_workflow(wf, expected, restored_from):
            # Someone else wrote between our read and our write.
            raise Conflict("workflow was changed concurrently", {"field": "version"})
        return wf

    async def delete(self, principal: Principal, workflow_id: str) -> None:
        if not await self.store.delete_workflow(principal.user_id, workflow_id):
            raise not_found("Workflow", workflow_id)

    async def revisions(self, principal: Principal, workflow_id: str) -> list[WorkflowRevision]:
        revs = await self.store.list_revisions(principal.user_id, workflow_id)
        if not revs:
            raise not_found("Workflow", workflow_id)
        return revs

    async def revision(
        self, principal: Principal, workflow_id: str, version: Any
    ) -> WorkflowRevision:
        number = get_int(version, "version", default=0, minimum=1)
        rev = await self.store.get_revision(principal.user_id, workflow_id, number)
        if rev is None:
            await self.get(principal, workflow_id)  # 404 for the workflow itself first
            raise not_found("Workflow version", str(number))
        return rev

    async def restore(self, principal: Principal, workflow_id: str, version: Any) -> Workflow:
        rev = await self.revision(principal, workflow_id, version)
        current = await self.get(principal, workflow_id)
        restored = Workflow(
            id=current.id,
            user_id=current.user_id,
            name=rev.name,
            description=rev.description,
            status=current.status,
            definition=rev.definition,
            settings=current.settings,
            node_count=len(rev.definition["nodes"]),
            version=current.version + 1,
            created_at=current.created_at,
            updated_at=utcnow(),
            execution_count=current.execution_count,
        )
        return await self._save(restored, current.version, restored_from=rev.version)
