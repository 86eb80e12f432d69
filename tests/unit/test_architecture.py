"""The shape of the code: stages know nothing of AWS, and the functions carry neither the CLI nor the demo."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

import cdp

PACKAGE = Path(cdp.__file__).parent
ROOT = PACKAGE.parent.parent.parent.parent
CLOUD_MODULES = {"boto3", "botocore", "aws_cdk", "aws_lambda_powertools", "moto"}
COMMAND_LINE_AND_DEMO = {"faker", "typer", "rich"}
# Stage packages and shared definitions: pure logic over Arrow, pandas and DuckDB.
PURE = ["ingest", "identity", "profiles", "features", "segments", "activation", "privacy", "report", "pipeline",
        "config", "demo"]


def imports_of(path: Path) -> set[str]:
    """Fully qualified modules a file imports (``from cdp.x import y`` gives ``cdp.x`` and ``cdp.x.y``), but those
    for type checkers only (``if TYPE_CHECKING:``), which never run."""
    names = set()
    pending: list[ast.AST] = [ast.parse(path.read_text())]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            pending.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
        pending.extend(ast.iter_child_nodes(node))
    return names


def module_file(name: str) -> Path | None:
    parts = name.split(".")[1:]
    if not parts:
        return PACKAGE / "__init__.py"
    relative = Path(*parts)
    for candidate in (PACKAGE / relative.with_suffix(".py"), PACKAGE / relative / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def reachable(start: Path) -> tuple[set[str], set[str]]:
    """cdp modules a file reaches through its imports, and the third-party top-level modules they import."""
    seen: set[str] = set()
    third_party: set[str] = set()
    pending = [start]
    while pending:
        for name in imports_of(pending.pop()):
            if name.split(".")[0] != "cdp":
                third_party.add(name.split(".")[0])
                continue
            path = module_file(name)
            if path is not None and name not in seen:
                seen.add(name)
                pending.append(path)
    return seen, third_party


def test_stages_import_nothing_from_aws() -> None:
    files = [*PACKAGE.glob("*.py")] + [path for package in PURE for path in (PACKAGE / package).rglob("*.py")]
    offenders = {str(p.relative_to(PACKAGE)): {m.split(".")[0] for m in imports_of(p)} & CLOUD_MODULES for p in files}
    assert {name: modules for name, modules in offenders.items() if modules} == {}


def test_every_stage_package_exists_with_its_pure_logic() -> None:
    for package in PURE:
        modules = [p for p in (PACKAGE / package).glob("*.py") if p.name != "__init__.py"]
        assert modules, f"cdp.{package} holds no module"


def test_functions_reach_neither_the_command_line_nor_the_demo_generator() -> None:
    for handler in sorted((ROOT / "functions").glob("*/handler.py")):
        modules, third_party = reachable(handler)
        assert not {m for m in modules if m.startswith(("cdp.demo", "cdp.cli"))}, handler
        assert not third_party & COMMAND_LINE_AND_DEMO, (handler, third_party & COMMAND_LINE_AND_DEMO)


def test_command_line_and_demo_libraries_are_extras_not_core_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {dependency.split(">")[0].split("[")[0].split("=")[0] for dependency in project["dependencies"]}
    assert not core & COMMAND_LINE_AND_DEMO
    extras = " ".join(" ".join(values) for values in project["optional-dependencies"].values())
    assert all(library in extras for library in COMMAND_LINE_AND_DEMO)


def zip_functions() -> set[str]:
    """The functions the stack ships as zips with the light layer (not the container image of the data functions)."""
    stack = "\n".join(path.read_text() for path in (ROOT / "infra").rglob("*.py"))
    return set(re.findall(r'Code\.from_asset\(str\(ROOT / "functions" / "(\w+)"\)', stack))


def test_the_light_functions_reach_only_the_standard_library_and_their_layer() -> None:
    """A zip function has the shared code, the light layer and the runtime's boto3: importing pyarrow or pandas,
    even through a shared module, would fail when it starts."""
    layer = (ROOT / "layers" / "requirements" / "light.txt").read_text()
    available = set(sys.stdlib_module_names) | {"boto3", "botocore"} | {
        line.split("[")[0].split("=")[0].strip().replace("-", "_") for line in layer.splitlines()
        if line.strip() and not line.startswith("#")}
    light = zip_functions()
    assert {"channel_sender", "pipeline_starter", "integration_batcher"} <= light
    for name in sorted(light):
        _, third_party = reachable(ROOT / "functions" / name / "handler.py")
        assert third_party <= available, (name, third_party - available)
