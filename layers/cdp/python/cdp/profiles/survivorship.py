"""Survivorship: merge the records of each person into one golden profile, field by field, and say which record
supplied each value.

Each field of ``SURVIVING_FIELDS`` follows its rule (``survivorship.fields``, else ``survivorship.default``):

- ``most_recent``: the value of the most recently updated record (``updated_at``, else ``ingested_at``);
- ``source_priority``: the value of the most trusted source (``survivorship.source_priority``, first is most
  trusted; unlisted sources rank last), then the most recent;
- ``most_frequent``: the value carried by most of the person's records, then the most recent;
- ``most_complete``: the value with most letters and digits (a full street over a truncated one), then the most recent.

A null never wins: a record without the field says nothing about it. Remaining ties go to the greatest record_key,
so that a rerun on the same records gives the same profile.

Consent does not follow these rules: ``consent_email`` and ``consent_sms`` come from the most recent record that
states ``email_opt_in`` / ``sms_opt_in`` (a newer opt-out wins over an older opt-in; a newer null erases nothing).
``consent_ads`` is the email consent, unless a record states ``ads_opt_in`` (an undeclared column, kept in its
``attributes``): then the most recent such statement.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from cdp import sql
from cdp.config import SurvivorshipSpec
from cdp.config.identity import SURVIVING_FIELDS
from cdp.ingest.normalisers import FALSE_TOKENS, TRUE_TOKENS
from cdp.tables import TABLES

MERGED_FIELDS = list(SURVIVING_FIELDS)
# Profile consent field → the record field that states it.
CONSENT_FIELDS = {"consent_email": "email_opt_in", "consent_sms": "sms_opt_in"}
ADS_ATTRIBUTE = "ads_opt_in"
# The rule recorded in profile_lineage for the consent fields.
STATEMENT_RULE = "most_recent_statement"
ADS_FOLLOWS_EMAIL_RULE = "consent_email"

_RECENCY = "recency DESC, record_key DESC"


def _tokens(tokens: frozenset[str]) -> str:
    return ", ".join("'" + token.replace("'", "''") + "'" for token in sorted(tokens))


def _order(rule: str, field: str) -> str:
    """The ORDER BY of one field's pick: the first row wins."""
    if rule == "source_priority":
        return f"trust DESC, {_RECENCY}"
    if rule == "most_frequent":
        return f"{field}__frequency DESC, {_RECENCY}"
    if rule == "most_complete":
        return f"{field}__completeness DESC, {_RECENCY}"
    if rule == "most_recent":
        return _RECENCY
    raise ValueError(f"unknown survivorship rule {rule!r}")


def _pick(value: str, order: str, alias: str) -> str:
    """The winning value with the record that supplied it, null when no record has a value."""
    return (f"first(struct_pack(v := {value}, record_key := record_key, source := source, "
            f"content_hash := content_hash) ORDER BY {order}) FILTER (WHERE {value} IS NOT NULL) AS {alias}")


@dataclass(frozen=True)
class GoldenRecords:
    profiles: pa.Table  # one row per profile_id
    lineage: pa.Table  # profile_lineage: per profile and filled field, the record that supplied it and the rule


def merge_profiles(
    records: pa.Table, identities: pa.Table, survivorship: SurvivorshipSpec, run_id: str
) -> GoldenRecords:
    """The golden profiles and their lineage. ``records`` must hold the current version of each record."""
    rules = {field: survivorship.fields.get(field, survivorship.default) for field in MERGED_FIELDS}
    trust = " ".join(f"WHEN '{source}' THEN {len(survivorship.source_priority) - rank}"
                     for rank, source in enumerate(survivorship.source_priority))
    derived = []
    for field, rule in rules.items():
        if rule == "most_frequent":
            derived.append(f"count(r.{field}) OVER (PARTITION BY i.profile_id, r.{field}) AS {field}__frequency")
        elif rule == "most_complete":
            derived.append(f"length(regexp_replace(CAST(r.{field} AS VARCHAR), '[^[:alnum:]]', '', 'g')) "
                           f"AS {field}__completeness")
    ads = f"lower(trim(element_at(r.attributes, '{ADS_ATTRIBUTE}')[1]))"
    base = f"""
        SELECT i.profile_id, r.record_key, r.source, r.content_hash, r.ingested_at, r.updated_at,
               coalesce(r.updated_at, r.ingested_at) AS recency,
               {f"CASE r.source {trust} ELSE 0 END" if trust else "0"} AS trust,
               {', '.join(f"r.{field}" for field in MERGED_FIELDS)},
               {', '.join(f"r.{field}" for field in CONSENT_FIELDS.values())},
               CASE WHEN {ads} IN ({_tokens(TRUE_TOKENS)}) THEN true
                    WHEN {ads} IN ({_tokens(FALSE_TOKENS)}) THEN false END AS {ADS_ATTRIBUTE}
               {''.join(', ' + d for d in derived)}
        FROM records r JOIN identities i USING (record_key)
    """
    picks = [_pick(field, _order(rule, field), field) for field, rule in rules.items()]
    picks += [_pick(stated, _RECENCY, consent) for consent, stated in CONSENT_FIELDS.items()]
    picks.append(_pick(ADS_ATTRIBUTE, _RECENCY, "ads_statement"))
    con = sql.connect()
    con.register("records", records)
    con.register("identities", identities)
    con.execute(f"""
        CREATE TEMP TABLE picked AS
        SELECT profile_id, {', '.join(picks)},
               coalesce(ads_statement, consent_email) AS consent_ads,
               CASE WHEN ads_statement IS NULL THEN '{ADS_FOLLOWS_EMAIL_RULE}' ELSE '{STATEMENT_RULE}' END AS ads_rule,
               count(*) AS record_count,
               list_sort(list_distinct(list(source))) AS sources,
               min(least(ingested_at, coalesce(updated_at, ingested_at))) AS first_seen,
               max(recency) AS last_seen
        FROM ({base})
        GROUP BY profile_id
    """)
    supplied = [*MERGED_FIELDS, *CONSENT_FIELDS, "consent_ads"]
    profiles = con.sql(f"""
        SELECT profile_id, {', '.join(f"{field}.v AS {field}" for field in supplied)},
               record_count, sources, first_seen, last_seen, '{run_id}' AS run_id
        FROM picked ORDER BY profile_id
    """).to_arrow_table()
    rule_of = {**rules, **dict.fromkeys(CONSENT_FIELDS, f"'{STATEMENT_RULE}'"), "consent_ads": "ads_rule"}
    lineage = con.sql(" UNION ALL ".join(
        f"""SELECT profile_id, '{field}' AS field, {field}.record_key AS record_key, {field}.source AS source,
                   {field}.content_hash AS content_hash,
                   {rule_of[field] if field.startswith("consent_") else repr(rule_of[field])} AS rule,
                   '{run_id}' AS run_id
            FROM picked WHERE {field} IS NOT NULL"""
        for field in supplied
    ) + " ORDER BY profile_id, field").to_arrow_table()
    return GoldenRecords(_conform(profiles, "profiles"), _conform(lineage, "profile_lineage"))


def _conform(table: pa.Table, name: str) -> pa.Table:
    schema = TABLES[name].schema
    return table.select(schema.names).cast(schema)
