"""node_python: user Python code, run by the engine in a worker process.

The type has no code of its own (`code=None`): the engine takes `config["code"]`, a
source defining `run(inputs, config)`. The catalog checks at definition time that it
compiles and defines `run`; "code" is raw config, never template-rendered (Jinja
syntax and Python syntax overlap).
"""

from __future__ import annotations

from typing import Any

from ..custom import check_code
from ..types import NodeType, Port
from ._common import NodeSettings, object_schema


def check_python_config(config: dict[str, Any]) -> list[tuple[str, str]]:
    code = config.get("code")
    if not isinstance(code, str):
        return []  # the JSON Schema reports a missing or non-string code
    issue = check_code(code)
    return [("code", issue)] if issue else []


def node_types(settings: NodeSettings) -> list[NodeType]:
    return [
        NodeType(
            id="node_python",
            name="Python",
            description="Runs Python code defining run(inputs, config) (sync or async) in an "
            "isolated worker process; its return value is the node's output.",
            category="code",
            version="1.0.0",
            inputs=[Port("input", "any", False, "Upstream data, as inputs['input']")],
            outputs=[Port("output", "any", description="What run() returned")],
            config_schema=object_schema(
                {
                    "code": {
                        "type": "string",
                        "minLength": 1,
                        "description": "Python source defining run(inputs, config)",
                    }
                },
                required=("code",),
                closed=False,  # other keys are the code's own parameters: run(inputs, config)
            ),
            builtin=True,
            execution="process",
            extra={"raw_config": ["code"], "check_config": check_python_config},
        )
    ]
