"""axonos: the Python SDK of Axon, workflow automation that lives inside Jupyter.

    from axonos import AxonOS

    client = AxonOS(api_key="axon_...", base_url="http://127.0.0.1:8888/axon/v1")
    workflows = client.workflows.list()
    execution = client.workflows.execute("wf_123")

`AsyncAxonOS` is the same client for asyncio code. Depends on httpx and websockets
only: it never imports Jupyter, so it runs anywhere the server is reachable.
"""

from ._client import AsyncAxonOS, AxonOS
from ._exceptions import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    AxonError,
    ConfigurationError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    PreconditionFailedError,
    RateLimitError,
    ServiceUnavailableError,
    ValidationError,
    WaitTimeoutError,
    error_from_response,
)
from ._pagination import AsyncPage, SyncPage
from ._types import (
    ApiKey,
    AxonObject,
    Event,
    Execution,
    ExecutionLog,
    ExecutionNode,
    ExecutionUpdate,
    Health,
    LogPage,
    NodeType,
    NodeUpdate,
    Notification,
    Port,
    Token,
    User,
    Workflow,
    WorkflowVersion,
)
from ._version import __version__

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "ApiKey",
    "AsyncAxonOS",
    "AsyncPage",
    "AuthenticationError",
    "AxonError",
    "AxonOS",
    "AxonObject",
    "ConfigurationError",
    "ConflictError",
    "Event",
    "Execution",
    "ExecutionLog",
    "ExecutionNode",
    "ExecutionUpdate",
    "Health",
    "InternalServerError",
    "LogPage",
    "NodeType",
    "NodeUpdate",
    "NotFoundError",
    "Notification",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "Port",
    "PreconditionFailedError",
    "RateLimitError",
    "ServiceUnavailableError",
    "SyncPage",
    "Token",
    "User",
    "ValidationError",
    "WaitTimeoutError",
    "Workflow",
    "WorkflowVersion",
    "__version__",
    "error_from_response",
]
