"""Loading ``cdp.yaml``: YAML to typed models, and errors that say where (line, key) and how to fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from cdp.config.platform import Config


class ConfigError(Exception):
    """A config that cannot be used, with one message per problem (where, what, expected)."""

    def __init__(self, path: Path | str, problems: list[str]):
        self.path = str(path)
        self.problems = problems
        super().__init__(f"{path}: invalid configuration\n" + "\n".join(f"  - {p}" for p in problems))


def _line_index(node: yaml.Node, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], int]:
    """Map every key path of a YAML document to its 1-based line, so errors can point at the line."""
    lines = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = path + (key_node.value,)
            lines.update(_line_index(value_node, child))
            lines[child] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines.update(_line_index(item, path + (index,)))
    return lines


def _describe(error: dict[str, Any], lines: dict[tuple[Any, ...], int]) -> str:
    loc = tuple(part for part in error["loc"] if not (isinstance(part, str) and part.startswith("function-")))
    # pydantic appends the union/literal branch name for some errors; keep the path the user wrote.
    while loc and loc not in lines and len(loc) > 1:
        loc = loc[:-1]
    where = ".".join(str(part) for part in loc) or "(top level)"
    line = lines.get(loc)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key; remove it or check its spelling"
    elif error["type"] == "literal_error":
        message = f"{error['input']!r} is not allowed; {message[0].lower()}{message[1:]}"
    elif error["type"] == "missing":
        message = "required key is missing"
    elif "input" in error and not isinstance(error["input"], dict | list):
        message = f"{error['input']!r}: {message}"
    return f"line {line}: {where}: {message}" if line else f"{where}: {message}"


def parse_config(text: str, path: Path | str = "cdp.yaml") -> Config:
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(path, [f"not valid YAML: {exc}"]) from exc
    if not isinstance(data, dict):
        raise ConfigError(path, ["expected a mapping with at least a 'sources' key"])
    lines = _line_index(node) if node is not None else {}
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(path, [_describe(e, lines) for e in exc.errors()]) from exc


def load_config(path: Path | str) -> Config:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, [f"cannot read the file: {exc.strerror}"]) from exc
    return parse_config(text, path)


def example_config_path() -> Path:
    """The retail example shipped with the package (``cdp demo`` uses it)."""
    return Path(__file__).parent.parent / "examples" / "retail" / "cdp.yaml"
