"""The probabilistic matcher: Splink's Fellegi-Sunter model (DuckDB backend), its comparisons declared in config.

What we add around Splink: the records it sees carry only *personal* identifiers (a family mailbox or a landline
is null to it, so it never learns that a shared key is strong evidence); its m-probabilities are trained by EM on
blocks of personal identifiers and of exact full name with birth date, never on shared keys; and a trained model
is a versioned artefact (its JSON) that a run loads and never re-estimates.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cdp.config.identity import ComparisonSpec, ProbabilisticSpec
from cdp.identity.compatibility import NICKNAMES, fold

# Splink logs each training step at INFO; a pipeline run keeps its own log quiet.
logging.getLogger("splink").setLevel(logging.ERROR)

COMPARED = ["first_name", "last_name", "full_name", "birth_date", "email", "phone", "postcode", "street", "city"]


# Records a model is trained on at most (a random sample beyond).
MAX_TRAINING_RECORDS = 300_000


def _folded(values: pa.ChunkedArray | pa.Array, form: Callable[[str], str | None]) -> pa.Array:
    """``form`` of each value, computed once per distinct value (names and towns repeat across records)."""
    distinct = pc.unique(values)
    formed = pa.array([form(v) if isinstance(v, str) else None for v in distinct.to_pylist()], pa.string())
    return pc.take(formed, pc.index_in(values, value_set=distinct))


def compared_values(records: pa.Table, nicknames: Mapping[str, str] = NICKNAMES,
                    columns: Iterable[str] = COMPARED) -> pa.Table:
    """The record-borne columns Splink compares, keyed by ``unique_id``: folded names (a nickname as the name it
    stands for: Manu as Emmanuel), the full name, dates as text, the postcode, street and town (only ``columns``).
    Identifiers are not among them: only their personal values are compared (``model_frame``)."""
    def first(value: str) -> str | None:
        name = fold(value)
        return nicknames.get(name, name) if name else None

    def plain(value: str) -> str | None:
        return fold(value) or None

    def birth_dates() -> pa.Array:
        births = records["birth_date"]
        if pa.types.is_string(births.type) or pa.types.is_large_string(births.type):
            births = pc.strptime(births, format="%Y-%m-%d", unit="s", error_is_null=True)
        if not pa.types.is_date32(births.type):
            births = pc.cast(pc.cast(births, pa.timestamp("s"), safe=False), pa.date32())
        return pc.cast(births, pa.string())  # ISO: 1984-03-07

    wanted = set(columns)
    out: dict[str, Any] = {"unique_id": records["record_key"]}
    if wanted & {"first_name", "full_name"}:
        out["first_name"] = _folded(records["first_name"], first)
    if wanted & {"last_name", "full_name"}:
        out["last_name"] = _folded(records["last_name"], plain)
    if "full_name" in wanted:  # null unless both are known
        out["full_name"] = pc.binary_join_element_wise(out["first_name"], out["last_name"], " ")
    if "birth_date" in wanted:
        out["birth_date"] = birth_dates()
    if "postcode" in wanted:
        out["postcode"] = records["postcode"]
    for column in ("street", "city"):
        if column in wanted:
            out[column] = _folded(records[column], plain)
    return pa.table({name: value for name, value in out.items() if name == "unique_id" or name in wanted})


def model_frame(records: pd.DataFrame, personal: dict[str, pd.Series],
                nicknames: Mapping[str, str] = NICKNAMES) -> pd.DataFrame:
    """What Splink compares: ``compared_values`` and only the personal value of each identifier."""
    columns = ["record_key", "first_name", "last_name", "birth_date", "postcode", "street", "city"]
    compared = compared_values(pa.Table.from_pandas(records[columns], preserve_index=False), nicknames)
    # Text as Python objects with None for missing: what Splink's DuckDB registration expects of a frame.
    frame = pd.DataFrame({name: compared[name].to_numpy() for name in compared.column_names})
    for key in ("email", "phone"):
        frame[key] = personal[key].to_numpy() if key in personal else None
    return frame


def value_counts(compared: pa.Table, column: str, among: pa.Table | None = None) -> pa.Table:
    """How many records carry each non-null value of ``column`` (``column``, ``count_all``); only the values
    ``among`` carries, when given."""
    values = compared.select([column])
    if among is not None:
        values = values.filter(pc.is_in(values[column], value_set=pc.unique(among[column])))
    values = values.filter(pc.is_valid(values[column]))
    return values.group_by(column).aggregate([([], "count_all")])


def term_frequencies(compared: pa.Table, columns: Iterable[str], among: pa.Table | None = None
                     ) -> dict[str, pd.DataFrame]:
    """Splink's term-frequency table of each column (the share of the column's non-null values equal to each
    value) over ``compared``; only the rows of the values ``among`` carries, when given (all a scoring looks up)."""
    tables = {}
    for column in columns:
        counts = value_counts(compared, column, among)
        carried = max(len(compared) - compared[column].null_count, 1)
        shares = pc.divide(pc.cast(counts["count_all"], pa.float64()), float(carried))
        tables[column] = pd.DataFrame({column: counts[column].to_numpy(), f"tf_{column}": shares.to_numpy()})
    return tables


def _comparison(spec: ComparisonSpec) -> Any:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    column = spec.columns[0]
    if spec.method == "forename_surname":
        first, last = spec.columns
        return cl.ForenameSurnameComparison(first, last, forename_surname_concat_col_name="full_name"
                                            if spec.term_frequencies else None)
    if spec.method == "name":
        return cl.NameComparison(column)
    if spec.method == "birth_date":
        # Exact, then day and month swapped (a classic at the till), then one typed digit, then anything else.
        swapped = (f"strftime(try_cast({column}_l AS DATE), '%Y-%d-%m') = {column}_r "
                   f"AND substr({column}_l, 6, 2) <> substr({column}_l, 9, 2)")
        return cl.CustomComparison([
            cll.NullLevel(column), cll.ExactMatchLevel(column),
            cll.CustomLevel(swapped, "day and month swapped"),
            cll.DamerauLevenshteinLevel(column, 1), cll.ElseLevel(),
        ], output_column_name=column, comparison_description="birth date")
    if spec.method == "email":
        # Exact or not, nothing between: Splink's EmailComparison rewards firstname.lastname@ on two domains, and a
        # one-letter level rewards paul.davis@ against paula.davis@: the name again, not new evidence.
        return cl.ExactMatch(column)
    if spec.method == "phone":
        same_line = f"right({column}_l, 8) = right({column}_r, 8)"
        return cl.CustomComparison([
            cll.NullLevel(column), cll.ExactMatchLevel(column), cll.CustomLevel(same_line, "last 8 digits"),
            cll.ElseLevel(),
        ], output_column_name=column, comparison_description="phone")
    if spec.method == "text":
        return cl.JaroWinklerAtThresholds(column, [0.95, 0.88])
    exact = cl.ExactMatch(column)
    return exact.configure(term_frequency_adjustments=True) if spec.term_frequencies else exact


def settings(spec: ProbabilisticSpec) -> Any:
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="dedupe_only",
        comparisons=[_comparison(c) for c in spec.comparisons],
        blocking_rules_to_generate_predictions=[block_on(*columns) for columns in spec.blocking],
        retain_intermediate_calculation_columns=True,  # each comparison's match weight: why a pair links
        retain_matching_columns=False,  # the compared values: the records table has them
    )


def _linker(frame: pd.DataFrame | pa.Table, model: Any) -> tuple[Any, Any]:
    """A Splink linker over ``frame`` on a DuckDB of its own, and that database (to register more tables)."""
    from splink import DuckDBAPI, Linker

    db_api = DuckDBAPI(connection=duckdb.connect())
    return Linker(db_api.register(frame, dataset_display_name="records"), model, log_level=None), db_api


def train(frame: pd.DataFrame, spec: ProbabilisticSpec, *, seed: int = 0) -> dict[str, Any]:
    """Fit the model on ``model_frame`` rows and return it as Splink's JSON (the artefact).

    On a large base, a random sample of records is enough: the m and u probabilities are shares, and the prior
    (the chance that two records are one person) is matching pairs over all pairs, which a sample of records
    thins alike. Memory and time then stop growing with the base."""
    from splink import block_on

    records = len(frame)
    if records > MAX_TRAINING_RECORDS:
        frame = frame.sample(n=MAX_TRAINING_RECORDS, random_state=seed)
    linker, _ = _linker(frame, settings(spec))
    deterministic = [block_on(key) for key in ("email", "phone") if frame[key].notna().any()]
    deterministic.append(block_on("full_name", "birth_date"))
    linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=min(3e5, max(1e5, len(frame) ** 2 / 20)), seed=seed)
    # EM on blocks where most pairs are the same person; each block leaves its own columns untrained.
    for rule in deterministic:
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(rule, fix_u_probabilities=True)
        except Exception as exc:  # a block with no pairs (a base without phones) teaches nothing
            if "no pairs" not in str(exc).lower() and "empty" not in str(exc).lower():
                raise
    model = linker.misc.save_model_to_json(overwrite=True)
    model["cdp"] = {"trained_at": datetime.now(UTC).isoformat(), "records": records, "sampled": len(frame)}
    return model


def term_frequency_columns(model: dict[str, Any]) -> list[str]:
    """The columns whose exact matches the model weighs by term frequency."""
    return sorted({level["tf_adjustment_column"] for comparison in model["comparisons"]
                   for level in comparison["comparison_levels"] if level.get("tf_adjustment_column")})


def predict(frame: pd.DataFrame | pa.Table, model: dict[str, Any], threshold: float,
            new: set[str] | None = None, base_frequencies: Mapping[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Scored pairs at or above ``threshold``: both keys, match weight and probability, and each comparison's
    contribution (its match weight, with the term-frequency adjustment).

    With ``new`` (record keys), only pairs with at least one new record are scored: new against the rest of
    ``frame`` and new against new, blocked the same way, with term frequencies taken from the whole base (the
    ``base_frequencies`` of ``term_frequencies``, when ``frame`` is only the new records' neighbourhood), so that
    a pair scores exactly as a full run would score it. An Arrow ``frame`` reaches DuckDB without a copy.
    """
    # Only what the links keep: the pairs' compared values would double the output (models saved before asked
    # for them).
    splink_model = {k: v for k, v in model.items() if k != "cdp"} | {"retain_matching_columns": False}
    linker, db_api = _linker(frame, splink_model)
    if new is None:
        pairs = linker.inference.predict(threshold_match_probability=threshold)
        return _scored(pairs.as_pandas_dataframe(), splink_model)
    for column in term_frequency_columns(splink_model):
        if base_frequencies is None:
            linker.table_management.compute_tf_table(column)
        else:
            lookup = db_api.register(base_frequencies[column], dataset_display_name=f"base_tf_{column}")
            linker.table_management.register_term_frequency_lookup(lookup, column)
    if isinstance(frame, pa.Table):
        is_new = pc.is_in(frame["unique_id"], value_set=pa.array(sorted(new), pa.string()))
        new_part, base_part = frame.filter(is_new), frame.filter(pc.invert(is_new))
    else:
        is_new = frame["unique_id"].isin(new)
        new_part, base_part = frame[is_new], frame[~is_new]
    new_records = db_api.register(new_part, dataset_display_name="new_records")
    base = db_api.register(base_part, dataset_display_name="base_records")
    between = linker.inference.predict_between(new_records, base, threshold_match_probability=threshold)
    within = linker.inference.predict_within(new_records, threshold_match_probability=threshold)
    return pd.concat([_scored(between.as_pandas_dataframe(), splink_model),
                      _scored(within.as_pandas_dataframe(), splink_model)], ignore_index=True)


def _scored(pairs: pd.DataFrame, splink_model: dict[str, Any]) -> pd.DataFrame:
    names = [c["output_column_name"] for c in splink_model["comparisons"]]
    # The lower key on the left, as a full run gives it, whichever side a pair was scored from.
    swap = pairs["unique_id_l"] > pairs["unique_id_r"]
    pairs = pairs.assign(unique_id_l=pairs["unique_id_l"].where(~swap, pairs["unique_id_r"]),
                         unique_id_r=pairs["unique_id_r"].where(~swap, pairs["unique_id_l"]))
    out = pd.DataFrame({
        "left": pairs["unique_id_l"], "right": pairs["unique_id_r"],
        "match_weight": pairs["match_weight"], "match_probability": pairs["match_probability"],
    })
    parts = {}
    for name in names:
        weight = pairs[f"mw_{name}"].astype(float) if f"mw_{name}" in pairs else pd.Series(0.0, index=pairs.index)
        if f"mw_tf_adj_{name}" in pairs:
            weight = weight + pairs[f"mw_tf_adj_{name}"].astype(float).fillna(0.0)
        parts[name] = weight.round(2).tolist()
    out["contributions"] = [json.dumps(dict(zip(names, values, strict=True))) for values in zip(*parts.values(),
                                                                                                strict=True)] \
        if names else ["{}"] * len(out)
    return out
