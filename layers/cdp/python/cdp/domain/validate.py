"""Apply a source contract to rows of text: type, normalise, and split accepted rows from quarantined ones."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from cdp.config import ColumnSpec, SourceSpec
from cdp.domain import normalize
from cdp.domain.readers import FileRejected, RawRows
from cdp.schemas import TABLES


@dataclass
class Validated:
    accepted: pa.Table  # rows in the target table's schema
    quarantine: pa.Table  # rows in the quarantine table's schema
    rows_in: int
    rows_warned: int
    unknown_columns: list[str]


def _normalise(column: ColumnSpec, raw: pd.Series, spec: SourceSpec, today: datetime) -> normalize.Normalised:
    match column.type:
        case "email":
            return normalize.email(raw)
        case "phone":
            return normalize.phone(raw, spec.default_region)
        case "name":
            return normalize.name(raw)
        case "date":
            return normalize.date(raw, column.formats, today)
        case "datetime":
            return normalize.timestamp(raw, column.formats)
        case "boolean":
            return normalize.boolean(raw)
        case "integer":
            return normalize.number(raw, integer=True)
        case "number":
            return normalize.number(raw)
        case "country":
            return normalize.country(raw)
        case _:
            return normalize.text(raw)


def _reasons_by_row(problems: list[tuple[str, pd.Series, pd.Series, str]]) -> dict[int, list[dict]]:
    """Reasons for the rows that have any, by position: only flagged rows cost Python work."""
    reasons: dict[int, list[dict]] = {}
    for field, mask, raw, rule in problems:
        positions = np.flatnonzero(mask.to_numpy(dtype=bool, na_value=False))
        if not len(positions):
            continue
        values = raw.iloc[positions].astype(object).where(raw.iloc[positions].notna(), None).tolist()
        for position, value in zip(positions.tolist(), values, strict=True):
            reasons.setdefault(position, []).append({"field": field, "value": value, "rule": rule})
    return reasons


def _row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """A row's identity for idempotency: MD5 of its normalised values, so the same content always hashes alike.

    DuckDB computes it over the whole batch in native code (five times faster than pandas' hashing here); a
    NUL stands for a missing value so that (a, null) and (null, a) differ.
    """
    con = duckdb.connect()
    con.register("batch", frame)
    values = ", ".join(f'coalesce(CAST("{column}" AS VARCHAR), chr(0))' for column in frame.columns)
    return con.sql(f"SELECT md5(concat_ws(chr(31), {values})) AS content_hash FROM batch").fetchnumpy()["content_hash"]


def validate(rows: RawRows, *, source: str, spec: SourceSpec, file_id: str, now: datetime) -> Validated:
    frame = rows.frame.rename(columns=lambda name: str(name).strip())
    declared = list(spec.columns)
    missing = [name for name, column in spec.columns.items() if column.required and name not in frame.columns]
    if missing and (len(frame) or not rows.malformed):
        found = ", ".join(map(str, frame.columns)) or "none"
        raise FileRejected(
            f"missing required column(s) {', '.join(missing)}; found columns: {found}. "
            "Check the header line and the delimiter, or the source's contract in the config"
        )
    if len(frame) == 0 and rows.malformed and not len(frame.columns):
        raise FileRejected("no row of the file could be read; check its format against the source's contract")
    unknown = [name for name in frame.columns if name not in spec.columns]
    table_schema = TABLES[spec.table].schema

    normalised: dict[str, pd.Series] = {}
    fatal = pd.Series(False, index=frame.index)
    warned = pd.Series(False, index=frame.index)
    problems: list[tuple[str, pd.Series, pd.Series, str]] = []
    warnings: list[tuple[str, pd.Series, pd.Series, str]] = []
    for name in declared:
        column = spec.columns[name]
        raw_text = frame[name] if name in frame.columns else pd.Series(pd.NA, index=frame.index, dtype="string")
        raw = normalize.strip_nulls(raw_text)
        result = _normalise(column, raw, spec, now)
        if column.required:
            absent = result.values.isna() & ~result.invalid
            problems.append((name, absent, raw_text, "required"))
            problems.append((name, result.invalid, raw_text, result.rule))
            fatal |= absent | result.invalid
        else:
            warned |= result.invalid
            warnings.append((name, result.invalid, raw_text, result.rule))
        normalised[spec.target(name)] = result.values

    reasons = _reasons_by_row(problems)
    quarantined = fatal.to_numpy()
    bad_positions = np.flatnonzero(quarantined)
    raw_records = frame.iloc[bad_positions].to_dict(orient="records")
    quarantine_rows = [
        {
            "file_id": file_id,
            "source": source,
            "row_number": rows.row_numbers[i],
            "raw": json.dumps({k: (None if pd.isna(v) else v) for k, v in raw.items()}, ensure_ascii=False),
            "reasons": reasons[int(i)],
            "quarantined_at": now,
        }
        for i, raw in zip(bad_positions, raw_records, strict=True)
    ] + [
        {
            "file_id": file_id,
            "source": source,
            "row_number": bad.row_number,
            "raw": bad.raw,
            "reasons": [{"field": None, "value": None, "rule": f"unreadable_row: {bad.problem}"}],
            "quarantined_at": now,
        }
        for bad in rows.malformed
    ]
    quarantine = pa.Table.from_pylist(quarantine_rows, schema=TABLES["quarantine"].schema)

    keep = ~quarantined
    accepted = pd.DataFrame({target: values[keep] for target, values in normalised.items()})
    key_parts = [frame.loc[keep, column].astype("string").str.strip() for column in spec.key]
    record_key = key_parts[0].str.cat(key_parts[1:], sep="|") if len(key_parts) > 1 else key_parts[0]
    accepted["record_key"] = (source + ":" + record_key).to_numpy()
    accepted["content_hash"] = _row_hashes(accepted.drop(columns=["record_key"])) if len(accepted) else []
    accepted["source"] = source
    accepted["file_id"] = file_id
    accepted["row_number"] = np.asarray(rows.row_numbers, dtype="int64")[keep]
    accepted["ingested_at"] = now
    # An invalid optional value is dropped to null; the row keeps the reason, so nothing is silently lost.
    row_warnings = _reasons_by_row(warnings)
    accepted["warnings"] = [row_warnings.get(int(i)) for i in np.flatnonzero(keep)] if row_warnings else None
    if unknown:
        extra = frame.loc[keep, unknown].apply(normalize.strip_nulls)
        accepted["attributes"] = [
            [(k, v) for k, v in zip(unknown, values, strict=True) if not pd.isna(v)]
            for values in extra.itertuples(index=False, name=None)
        ]
    else:
        accepted["attributes"] = [[] for _ in range(len(accepted))]
    for missing_column in set(table_schema.names) - set(accepted.columns):
        accepted[missing_column] = None
    accepted_table = pa.Table.from_pandas(
        accepted[table_schema.names], schema=table_schema, preserve_index=False
    )
    return Validated(accepted_table, quarantine, rows.rows_in, int((warned & ~fatal).sum()), unknown)
