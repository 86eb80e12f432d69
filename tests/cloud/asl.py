"""A small interpreter of the Amazon States Language, to run the state machines as the stack synthesizes them.

moto records executions but runs no Lambda code, so a test that called the handlers itself would test its own idea
of the machine, not the machine. This runs the synthesized definition: Task (Lambda, direct or through
``lambda:invoke``, and AWS SDK integrations), Map (ItemsPath, ItemSelector, ItemProcessor), Choice, Pass, Succeed and
Fail; InputPath, Parameters, ResultSelector (with States.ArrayLength), ResultPath and OutputPath; Retry and Catch.
Each Lambda task calls, in-process, the handler that the template's function names in its image command; an SDK
task calls ``sdk(service, action, parameters)``.
"""

from __future__ import annotations

import copy
import importlib
import json
from collections.abc import Callable
from typing import Any


class StatesError(Exception):
    """An execution that ended in a Fail state, or on an error no Catch took."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}")
        self.error, self.cause = error, cause


def _flatten(part: Any) -> str:
    if isinstance(part, str):
        return part
    if isinstance(part, dict) and "Fn::GetAtt" in part:
        return f"function:{part['Fn::GetAtt'][0]}"  # a Lambda function's ARN: its logical id stands in
    return "aws"  # Ref AWS::Partition and the like


def definitions(template: dict[str, Any]) -> list[dict[str, Any]]:
    """The definitions of the template's state machines, Lambda ARNs as ``function:<logical id>``."""
    out = []
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::StepFunctions::StateMachine":
            body = resource["Properties"]["DefinitionString"]
            text = "".join(_flatten(p) for p in body["Fn::Join"][1]) if isinstance(body, dict) else body
            out.append(json.loads(text))
    return out


def handlers(template: dict[str, Any]) -> dict[str, Callable[[dict, Any], Any]]:
    """``function:<logical id>`` -> the Python handler its image command names."""
    found = {}
    for logical_id, resource in template["Resources"].items():
        command = resource.get("Properties", {}).get("ImageConfig", {}).get("Command")
        if resource["Type"] == "AWS::Lambda::Function" and command:
            module, name = command[0].rsplit(".", 1)
            found[f"function:{logical_id}"] = getattr(importlib.import_module(module), name)
    return found


def _get(data: Any, path: str, context: dict[str, Any]) -> Any:
    root, rest = (context, path[2:]) if path.startswith("$$") else (data, path[1:])
    for name in filter(None, rest.split(".")):
        if not isinstance(root, dict) or name not in root:
            raise StatesError("States.Runtime", f"the path {path!r} matches nothing in the state's input")
        root = root[name]
    return root


def _set(data: Any, path: str | None, value: Any) -> Any:
    if path is None:
        return data
    if path == "$":
        return value
    out = copy.deepcopy(data)
    target = out
    names = path[2:].split(".")
    for name in names[:-1]:
        target = target.setdefault(name, {})
    target[names[-1]] = value
    return out


def _value(expression: str, data: Any, context: dict[str, Any]) -> Any:
    if expression.startswith("States.ArrayLength(") and expression.endswith(")"):
        return len(_get(data, expression[len("States.ArrayLength("):-1], context))
    return _get(data, expression, context)


def _resolve(template: Any, data: Any, context: dict[str, Any]) -> Any:
    if isinstance(template, dict):
        return {(k[:-2] if k.endswith(".$") else k): (_value(v, data, context) if k.endswith(".$") else
                                                        _resolve(v, data, context)) for k, v in template.items()}
    if isinstance(template, list):
        return [_resolve(v, data, context) for v in template]
    return template


def _test(rule: dict[str, Any], data: Any) -> bool:
    if "And" in rule:
        return all(_test(r, data) for r in rule["And"])
    if "Or" in rule:
        return any(_test(r, data) for r in rule["Or"])
    if "Not" in rule:
        return not _test(rule["Not"], data)
    if "IsPresent" in rule:
        try:
            _get(data, rule["Variable"], {})
            return rule["IsPresent"]
        except StatesError:
            return not rule["IsPresent"]
    value = _get(data, rule["Variable"], {})
    for operator, expected in rule.items():
        if operator in ("BooleanEquals", "StringEquals", "NumericEquals"):
            return value == expected
        if operator == "NumericGreaterThan":
            return value > expected
        if operator == "NumericLessThan":
            return value < expected
    raise NotImplementedError(f"choice rule {rule}")


def _matches(errors: list[str], name: str) -> bool:
    return "States.ALL" in errors or name in errors or (name.startswith("States.") and "States.TaskFailed" in errors
                                                        and name == "States.TaskFailed")


Sdk = Callable[[str, str, dict[str, Any]], dict[str, Any]]


def run(definition: dict[str, Any], data: Any, functions: dict[str, Callable[[dict, Any], Any]],
        lambda_context: Any, context: dict[str, Any] | None = None, sdk: Sdk | None = None) -> Any:
    """Execute ``definition`` on ``data``; returns the execution's output or raises ``StatesError``. ``context``
    is what ``$$`` reads (Execution, StateMachine)."""
    context = context or {}
    name = definition["StartAt"]
    while True:
        state = definition["States"][name]
        kind = state["Type"]
        if kind == "Succeed":
            return data
        if kind == "Fail":
            raise StatesError(state.get("Error", "States.Fail"), state.get("Cause", ""))
        if kind == "Choice":
            name = next((rule["Next"] for rule in state["Choices"] if _test(rule, data)), state.get("Default"))
            if name is None:
                raise StatesError("States.NoChoiceMatched", "")
            continue
        given = _get(data, state.get("InputPath", "$"), context)
        try:
            if kind == "Pass":
                result = state.get("Result", given)
            elif kind == "Task":
                result = _task(state, given, functions, lambda_context, context, sdk)
            elif kind == "Map":
                items = _get(given, state.get("ItemsPath", "$"), context)
                selector = state.get("ItemSelector", state.get("Parameters"))
                inner = state.get("ItemProcessor", state.get("Iterator"))
                result = []
                for index, item in enumerate(items):
                    item_context = {**context, "Map": {"Item": {"Value": item, "Index": index}}}
                    item_input = _resolve(selector, given, item_context) if selector else item
                    result.append(run(inner, item_input, functions, lambda_context, item_context, sdk))
            else:
                raise NotImplementedError(f"state type {kind}")
        except StatesError as exc:
            catch = next((c for c in state.get("Catch", []) if _matches(c["ErrorEquals"], exc.error)), None)
            if catch is None:
                raise
            data = _set(data, catch.get("ResultPath", "$"), {"Error": exc.error, "Cause": exc.cause})
            name = catch["Next"]
            continue
        if "ResultSelector" in state:
            result = _resolve(state["ResultSelector"], result, context)
        data = _set(data, state.get("ResultPath", "$"), result)
        data = _get(data, state.get("OutputPath", "$"), context)
        if state.get("End"):
            return data
        name = state["Next"]


def _task(state: dict[str, Any], given: Any, functions: dict[str, Callable[[dict, Any], Any]],
          lambda_context: Any, context: dict[str, Any], sdk: Sdk | None) -> Any:
    parameters = _resolve(state["Parameters"], given, context) if "Parameters" in state else given
    resource = state["Resource"]
    if ":states:::aws-sdk:" in resource:
        service, action = resource.split(":states:::aws-sdk:")[1].split(":")
        if sdk is None:
            raise StatesError("States.TaskFailed", f"no SDK given for {service}:{action}")
        return sdk(service, action, parameters)
    through_invoke = resource.endswith(":states:::lambda:invoke")
    function = parameters["FunctionName"] if through_invoke else resource
    payload = parameters.get("Payload", given) if through_invoke else parameters
    attempts = {id(r): 0 for r in state.get("Retry", [])}
    while True:
        try:
            # A real Lambda sees the payload as JSON: no Python object crosses the boundary.
            response = functions[function](json.loads(json.dumps(payload)), lambda_context)
            response = json.loads(json.dumps(response))
            return {"Payload": response, "StatusCode": 200} if through_invoke else response
        except Exception as exc:  # a handler's exception is the task's error, by its class name
            error = type(exc).__name__
            retry = next((r for r in state.get("Retry", []) if _matches(r["ErrorEquals"], error)), None)
            if retry is None or attempts[id(retry)] >= retry.get("MaxAttempts", 3):
                raise StatesError(error, str(exc)) from exc
            attempts[id(retry)] += 1
