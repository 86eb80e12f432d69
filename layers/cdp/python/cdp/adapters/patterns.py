"""EventBridge content-based event patterns, evaluated locally so that the local bus routes like the cloud one.

Supported: exact values (an event array matches when any element does), nested objects, ``prefix``,
``suffix``, ``equals-ignore-case``, ``anything-but`` (values or a prefix), ``exists``, ``numeric`` ranges,
``wildcard`` and ``$or``. The tests compare this matcher with moto's EventBridge on the same patterns.
"""

from __future__ import annotations

import fnmatch
import operator
from typing import Any

_MISSING = object()
_NUMERIC = {"<": operator.lt, "<=": operator.le, "=": operator.eq, ">=": operator.ge, ">": operator.gt}


def _values(value: Any) -> list[Any]:
    if value is _MISSING:
        return []
    return value if isinstance(value, list) else [value]


def _matches_condition(condition: Any, value: Any) -> bool:
    if not isinstance(condition, dict):
        return any(v == condition and type(v) is type(condition) for v in _values(value))
    ((kind, argument),) = condition.items()
    if kind == "exists":
        return (value is not _MISSING) == argument
    candidates = _values(value)
    if kind == "prefix":
        if isinstance(argument, dict):
            return any(isinstance(v, str) and v.lower().startswith(argument["equals-ignore-case"].lower())
                       for v in candidates)
        return any(isinstance(v, str) and v.startswith(argument) for v in candidates)
    if kind == "suffix":
        if isinstance(argument, dict):
            return any(isinstance(v, str) and v.lower().endswith(argument["equals-ignore-case"].lower())
                       for v in candidates)
        return any(isinstance(v, str) and v.endswith(argument) for v in candidates)
    if kind == "equals-ignore-case":
        return any(isinstance(v, str) and v.lower() == argument.lower() for v in candidates)
    if kind == "wildcard":
        return any(isinstance(v, str) and fnmatch.fnmatchcase(v, argument) for v in candidates)
    if kind == "numeric":
        pairs = list(zip(argument[::2], argument[1::2], strict=True))
        return any(
            isinstance(v, int | float) and not isinstance(v, bool)
            and all(_NUMERIC[op](v, bound) for op, bound in pairs)
            for v in candidates
        )
    if kind == "anything-but":
        if value is _MISSING:
            return False
        if isinstance(argument, dict):
            return not any(_matches_condition(argument, v) for v in candidates)
        excluded = argument if isinstance(argument, list) else [argument]
        return not any(_matches_condition(e, v) for e in excluded for v in candidates)
    raise ValueError(f"unsupported event pattern operator {kind!r}")


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    for key, expected in pattern.items():
        if key == "$or":
            if not any(matches(branch, event) for branch in expected):
                return False
            continue
        value = event.get(key, _MISSING) if isinstance(event, dict) else _MISSING
        if isinstance(expected, dict):
            if not isinstance(value, dict):
                return False
            if not matches(expected, value):
                return False
        elif not any(_matches_condition(condition, value) for condition in expected):
            return False
    return True
