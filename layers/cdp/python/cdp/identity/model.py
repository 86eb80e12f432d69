"""The probabilistic matcher: Splink's Fellegi-Sunter model (DuckDB backend), its comparisons declared in config.

What we add around Splink: the records it sees carry only *personal* identifiers (a family mailbox or a landline
is null to it, so it never learns that a shared key is strong evidence); its m-probabilities are trained by EM on
blocks of personal identifiers and of exact full name with birth date, never on shared keys; and a trained model
is a versioned artefact (its JSON) that a run loads and never re-estimates.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from cdp.config.identity import ComparisonSpec, ProbabilisticSpec
from cdp.identity.compatibility import NICKNAMES, fold

# Splink logs each training step at INFO; a pipeline run keeps its own log quiet.
logging.getLogger("splink").setLevel(logging.ERROR)

COMPARED = ["first_name", "last_name", "full_name", "birth_date", "email", "phone", "postcode", "street", "city"]


# Records a model is trained on at most (a random sample beyond).
MAX_TRAINING_RECORDS = 300_000


def model_frame(records: pd.DataFrame, personal: dict[str, pd.Series],
                nicknames: Mapping[str, str] = NICKNAMES) -> pd.DataFrame:
    """What Splink compares: folded names (a nickname as the name it stands for: Manu as Emmanuel), dates as
    text, and only the personal value of each identifier."""
    frame = pd.DataFrame({"unique_id": records["record_key"].to_numpy()})
    for column in ("first_name", "last_name", "street", "city"):
        # Folded once per distinct value (names and towns repeat across records), then spread back by code.
        codes, distinct = pd.factorize(records[column])
        folded = [fold(value) or None if isinstance(value, str) else None for value in distinct]
        if column == "first_name":
            folded = [nicknames.get(name, name) if name else None for name in folded]
        frame[column] = np.asarray([*folded, None], dtype=object)[codes]  # code -1 (missing) takes the last
    frame["full_name"] = (frame["first_name"] + " " + frame["last_name"]).where(
        frame["first_name"].notna() & frame["last_name"].notna())
    births = pd.to_datetime(records["birth_date"], errors="coerce")
    frame["birth_date"] = births.dt.strftime("%Y-%m-%d").astype(object).where(births.notna(), None).to_numpy()
    frame["postcode"] = records["postcode"].to_numpy()
    for key in ("email", "phone"):
        frame[key] = personal[key].to_numpy() if key in personal else None
    return frame


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


def _linker(frame: pd.DataFrame, model: Any) -> tuple[Any, Any]:
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


def predict(frame: pd.DataFrame, model: dict[str, Any], threshold: float,
            new: set[str] | None = None) -> pd.DataFrame:
    """Scored pairs at or above ``threshold``: both keys, match weight and probability, and each comparison's
    contribution (its match weight, with the term-frequency adjustment).

    With ``new`` (record keys), only pairs with at least one new record are scored: new against the rest of the
    base and new against new, blocked the same way, with term frequencies taken from the whole base, so that a
    pair scores exactly as a full run would score it.
    """
    # Only what the links keep: the pairs' compared values would double the output (models saved before asked
    # for them).
    splink_model = {k: v for k, v in model.items() if k != "cdp"} | {"retain_matching_columns": False}
    linker, db_api = _linker(frame, splink_model)
    if new is None:
        pairs = linker.inference.predict(threshold_match_probability=threshold)
        return _scored(pairs.as_pandas_dataframe(), splink_model)
    for column in sorted({level["tf_adjustment_column"] for comparison in splink_model["comparisons"]
                          for level in comparison["comparison_levels"] if level.get("tf_adjustment_column")}):
        linker.table_management.compute_tf_table(column)
    is_new = frame["unique_id"].isin(new)
    new_records = db_api.register(frame[is_new], dataset_display_name="new_records")
    base = db_api.register(frame[~is_new], dataset_display_name="base_records")
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
