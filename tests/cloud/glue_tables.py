"""The Iceberg tables Glue makes from the template's `AWS::Glue::Table` declarations (Iceberg input, Hive columns).

moto does not make Iceberg metadata for a declared table, so the tests make it as Glue does: each declared column's
Hive type becomes the Iceberg type Glue gives it (`timestamp` becomes a timestamp without time zone), with the
table's location, through pyiceberg's Glue catalog.
"""

from __future__ import annotations

from typing import Any

from pyiceberg.schema import Schema
from pyiceberg.types import (
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    IcebergType,
    IntegerType,
    ListType,
    LongType,
    MapType,
    NestedField,
    StringType,
    StructType,
    TimestampType,
)

PRIMITIVES = {"string": StringType, "bigint": LongType, "int": IntegerType, "double": DoubleType,
              "boolean": BooleanType, "date": DateType, "timestamp": TimestampType}


class _Ids:
    def __init__(self) -> None:
        self.last = 0

    def next(self) -> int:
        self.last += 1
        return self.last


def _split(members: str) -> list[str]:
    """Top-level comma-separated parts of a type's arguments (commas inside <> belong to a nested type)."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(members):
        depth += {"<": 1, ">": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(members[start:index])
            start = index + 1
    parts.append(members[start:])
    return [part.strip() for part in parts]


def iceberg_type(hive: str, ids: _Ids) -> IcebergType:
    hive = hive.strip()
    if hive in PRIMITIVES:
        return PRIMITIVES[hive]()
    if hive.startswith("decimal("):
        precision, scale = hive[len("decimal("):-1].split(",")
        return DecimalType(int(precision), int(scale))
    kind, members = hive.split("<", 1)
    members = members[:-1]
    if kind == "array":
        return ListType(ids.next(), iceberg_type(members, ids), element_required=False)
    if kind == "map":
        key, value = _split(members)
        return MapType(ids.next(), iceberg_type(key, ids), ids.next(), iceberg_type(value, ids), value_required=False)
    if kind == "struct":
        fields = []
        for member in _split(members):
            name, member_type = member.split(":", 1)
            fields.append(NestedField(ids.next(), name, iceberg_type(member_type, ids), required=False))
        return StructType(*fields)
    raise ValueError(f"no Iceberg type for Hive type {hive!r}")


def declared_schema(table_input: dict[str, Any]) -> Schema:
    """The Iceberg schema Glue makes of a declared table's columns (every column optional, as Glue makes them)."""
    ids = _Ids()
    columns = table_input["StorageDescriptor"]["Columns"]
    top = [(ids.next(), column) for column in columns]  # top-level ids first, as Iceberg numbers them
    return Schema(*[NestedField(field_id, column["Name"], iceberg_type(column["Type"], ids), required=False)
                    for field_id, column in top])


def declared_tables(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each `AWS::Glue::Table` with Iceberg input: its name -> its TableInput."""
    return {r["Properties"]["TableInput"]["Name"]: r["Properties"]["TableInput"]
            for r in template["Resources"].values()
            if r["Type"] == "AWS::Glue::Table" and "IcebergInput" in r["Properties"].get("OpenTableFormatInput", {})}


def make_declared_tables(catalog: Any, database: str, template: dict[str, Any], resolve: Any) -> list[str]:
    """Make every declared table in ``database`` as Glue would (``resolve`` gives the template's locations)."""
    made = []
    for name, table_input in declared_tables(template).items():
        catalog.create_table(f"{database}.{name}", schema=declared_schema(table_input),
                             location=resolve(table_input["StorageDescriptor"]["Location"]))
        made.append(name)
    return made
