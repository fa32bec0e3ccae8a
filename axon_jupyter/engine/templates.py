"""Rendering of node config templates in Jinja2's sandbox.

Config strings may use `{{ input.x }}` (the execution's input), `{{ nodes.fetch.response
.status }}` (outputs of finished nodes) and `{{ inputs.input }}` (this node's inputs).
A string that is exactly one `{{ expression }}` yields the expression's native value
(a number stays a number, `{{ nodes.a.output }}` stays a dict), so a condition on
`{{ input.flag }}` sees `False`, not the truthy string "False". Anything else renders to
a string. Undefined names fail loudly (StrictUndefined): a typo in a template is a
node failure naming the config key, never a silent empty string.

The sandbox blocks unsafe attribute access; on top of it, `*` and `**` are capped so a
template cannot allocate gigabytes (`{{ 'x' * 10**10 }}`). Compiled templates are
cached by source. Must never import tornado or anything from api/.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from jinja2 import StrictUndefined, TemplateError, Undefined
from jinja2.sandbox import SandboxedEnvironment, SecurityError

MAX_RESULT_ITEMS = 1_000_000  # longest string/list a `*` may build
MAX_EXPONENT = 1_000
_CACHE_SIZE = 2048

_SINGLE = re.compile(r"^\s*\{\{(?P<expr>.*?)\}\}\s*$", re.DOTALL)


class ConfigTemplateError(Exception):
    """A config template that does not compile or render; names the config key."""

    def __init__(self, field: str, message: str):
        super().__init__(f"template error in config.{field}: {message}")
        self.field = field
        self.reason = message


class _Sandbox(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
                raise SecurityError(f"exponent larger than {MAX_EXPONENT}")
            return left**right
        for seq, count in ((left, right), (right, left)):
            if (
                isinstance(seq, str | list | tuple)
                and isinstance(count, int)
                and len(seq) * count > MAX_RESULT_ITEMS
            ):
                raise SecurityError(f"result longer than {MAX_RESULT_ITEMS} items")
        return left * right


_env = _Sandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
_compiled: dict[str, Callable[[dict[str, Any]], Any]] = {}


def is_template(value: Any) -> bool:
    """Whether a config value holds any template (searched through dicts and lists)."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(is_template(v) for v in value.values())
    if isinstance(value, list):
        return any(is_template(v) for v in value)
    return False


def _compile(source: str) -> Callable[[dict[str, Any]], Any]:
    fn = _compiled.get(source)
    if fn is not None:
        return fn
    match = _SINGLE.match(source)
    if match and "{{" not in match["expr"] and "}}" not in match["expr"]:
        expression = _env.compile_expression(match["expr"].strip(), undefined_to_none=False)

        def fn(context: dict[str, Any]) -> Any:
            value = expression(**context)
            if isinstance(value, Undefined):
                value._fail_with_undefined_error()
            return value
    else:
        template = _env.from_string(source)

        def fn(context: dict[str, Any]) -> Any:
            return template.render(context)

    if len(_compiled) >= _CACHE_SIZE:
        _compiled.clear()
    _compiled[source] = fn
    return fn


def _render(value: Any, context: dict[str, Any], field: str) -> Any:
    if isinstance(value, str):
        if "{{" not in value and "{%" not in value:
            return value
        try:
            return _compile(value)(context)
        except (TemplateError, SecurityError, ArithmeticError, TypeError, ValueError) as exc:
            raise ConfigTemplateError(field, str(exc) or type(exc).__name__) from None
    if isinstance(value, dict):
        return {k: _render(v, context, f"{field}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v, context, f"{field}[{i}]") for i, v in enumerate(value)]
    return value


def render_config(
    config: dict[str, Any], context: dict[str, Any], raw_keys: Iterable[str] = ()
) -> dict[str, Any]:
    """The config with every template rendered, except the top-level `raw_keys`."""
    raw = set(raw_keys)
    return {
        key: value if key in raw else _render(value, context, key) for key, value in config.items()
    }


def check_template(source: str, field: str) -> None:
    """Compile once, to report syntax errors at execute time rather than mid-run."""
    try:
        _compile(source)
    except TemplateError as exc:
        raise ConfigTemplateError(field, str(exc)) from None
