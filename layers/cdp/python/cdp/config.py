"""The platform's configuration (``cdp.yaml``): typed models, loading, and errors that say where and how to fix."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cdp.schemas import TABLES

ColumnType = Literal["string", "email", "phone", "name", "date", "datetime", "boolean", "integer", "number", "country"]
IDENTIFIER_FIELDS = ("email", "phone")
_ID = r"^[a-z][a-z0-9_]*$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnSpec(_Model):
    type: ColumnType = "string"
    required: bool = False
    field: str | None = Field(None, description="Target column in the source's table; defaults to the column name.")
    formats: tuple[str, ...] = Field(
        (), description="strptime formats for dates, tried in order after ISO 8601 (e.g. '%d/%m/%Y')."
    )


class SourceSpec(_Model):
    table: Literal["records", "orders", "order_lines", "events"]
    format: Literal["csv", "jsonl", "parquet"]
    key: tuple[str, ...] = Field(min_length=1, description="Columns that identify a row within the source.")
    default_region: str = Field("FR", description="ISO country used to read phone numbers without a + prefix.")
    delimiter: str | None = Field(None, description="CSV delimiter; detected when omitted.")
    columns: dict[str, ColumnSpec]
    links: dict[str, str] = Field(
        {}, description="Columns holding the key of a person record of another source, e.g. customer_id: crm."
    )
    events: tuple[str, ...] = Field(
        (), description="EventBridge detail-types whose detail is a row of this source (e.g. Order Placed)."
    )

    @field_validator("default_region")
    @classmethod
    def _region_is_iso(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z]{2}", value):
            raise ValueError("expected a two-letter ISO 3166 country code such as FR")
        return value

    @model_validator(mode="after")
    def _columns_fit_table(self) -> SourceSpec:
        table_columns = set(TABLES[self.table].schema.names)
        for name, column in self.columns.items():
            target = column.field or name
            if target not in table_columns:
                raise ValueError(
                    f"column {name!r} maps to {target!r}, which table {self.table!r} does not have; "
                    f"set 'field' to one of: {', '.join(sorted(table_columns))}"
                )
        for key in self.key:
            if key not in self.columns:
                raise ValueError(f"key column {key!r} is not declared under 'columns'")
        for column in self.links:
            if column not in self.columns:
                raise ValueError(f"link column {column!r} is not declared under 'columns'")
        return self

    def target(self, column: str) -> str:
        return self.columns[column].field or column


class IdentitySpec(_Model):
    deterministic_keys: tuple[Literal["email", "phone"], ...] = ("email", "phone")


class SurvivorshipSpec(_Model):
    source_priority: tuple[str, ...] = Field((), description="Sources in order of trust; first wins on ties.")
    default: Literal["most_recent", "source_priority"] = "most_recent"
    fields: dict[str, Literal["most_recent", "source_priority"]] = {}


class SegmentSpec(_Model):
    id: Annotated[str, Field(pattern=_ID)]
    name: str
    description: str = ""
    rule: str = Field(description="SQL boolean expression over profile, feature and score columns.")


class ActivationPlanSpec(_Model):
    segment: str
    channels: tuple[str, ...] = Field(min_length=1)
    changes: tuple[Literal["entered", "exited"], ...] = ("entered", "exited")
    holdout_share: float = Field(0.1, ge=0.0, lt=1.0)
    objective: str = ""
    traits: tuple[str, ...] = ()


class ChannelSpec(_Model):
    type: Literal["email", "sms", "ads_audience", "webhook"]
    consent: Literal["email_opt_in", "sms_opt_in"] | None = Field(
        None, description="Profile field that must be true for the person to be contacted on this channel."
    )
    identifier: Literal["email", "phone"] | None = Field(
        None, description="Field the channel addresses people by; people without it are skipped."
    )
    hashed: bool = Field(False, description="Send SHA-256 of normalised identifiers instead of clear text.")
    url: str | None = None


class Config(_Model):
    version: Literal[1] = 1
    project: str = "cdp"
    region: str = "eu-west-3"
    sources: dict[Annotated[str, Field(pattern=_ID)], SourceSpec]
    identity: IdentitySpec = IdentitySpec()
    survivorship: SurvivorshipSpec = SurvivorshipSpec()
    segments: tuple[SegmentSpec, ...] = ()
    activation_plans: tuple[ActivationPlanSpec, ...] = ()
    channels: dict[Annotated[str, Field(pattern=_ID)], ChannelSpec] = {}

    @model_validator(mode="after")
    def _references_resolve(self) -> Config:
        segment_ids = [segment.id for segment in self.segments]
        if len(set(segment_ids)) != len(segment_ids):
            raise ValueError("segment ids must be unique")
        for name, source in self.sources.items():
            for column, target in source.links.items():
                if target not in self.sources or self.sources[target].table != "records":
                    raise ValueError(
                        f"sources.{name}.links.{column} names {target!r}; expected a source whose table is records"
                    )
        for source in self.survivorship.source_priority:
            if source not in self.sources:
                raise ValueError(f"survivorship.source_priority names {source!r}, which is not a declared source")
        for plan in self.activation_plans:
            if plan.segment not in segment_ids:
                raise ValueError(f"activation plan names segment {plan.segment!r}; declared: {segment_ids}")
            for channel in plan.channels:
                if channel not in self.channels:
                    raise ValueError(
                        f"activation plan for {plan.segment!r} names channel {channel!r}; "
                        f"declared channels: {sorted(self.channels)}"
                    )
        return self

    def digest(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]


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
    return Path(__file__).parent / "examples" / "retail" / "cdp.yaml"
