"""One module per API resource, each with its blocking and its asyncio class.

The calls themselves (path, parameters, body, result type) are built once per method by
the module's `_..._call` functions; the Sync/Async classes only send them.
"""

from .api_keys import ApiKeys, AsyncApiKeys
from .auth import AsyncAuth, Auth
from .executions import AsyncExecutions, Executions
from .nodes import AsyncNodes, Nodes
from .workflows import AsyncWorkflows, Workflows

__all__ = [
    "ApiKeys",
    "AsyncApiKeys",
    "AsyncAuth",
    "AsyncExecutions",
    "AsyncNodes",
    "AsyncWorkflows",
    "Auth",
    "Executions",
    "Nodes",
    "Workflows",
]
