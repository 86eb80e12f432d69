"""Every table: its schema, its key and what it holds. The one definition read by the local catalog, the Glue
tables of the CDK stack, the pipeline's declared steps and the tests."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

DATABASE = "cdp"

TIMESTAMP = pa.timestamp("us", tz="UTC")
ATTRIBUTES = pa.map_(pa.string(), pa.string())

# Columns every ingested row carries, whatever its source: where it came from and how to find it again.
_LINEAGE = [
    pa.field("record_key", pa.string(), nullable=False),
    pa.field("source", pa.string(), nullable=False),
    pa.field("file_id", pa.string(), nullable=False),
    pa.field("row_number", pa.int64(), nullable=False),
    pa.field("content_hash", pa.string(), nullable=False),
    pa.field("attributes", ATTRIBUTES),
    pa.field("warnings", pa.list_(pa.struct([("field", pa.string()), ("value", pa.string()), ("rule", pa.string())]))),
    pa.field("ingested_at", TIMESTAMP, nullable=False),
]

PERSON_FIELDS = [
    pa.field("source_id", pa.string(), nullable=False),
    pa.field("email", pa.string()),
    pa.field("phone", pa.string()),
    pa.field("first_name", pa.string()),
    pa.field("last_name", pa.string()),
    pa.field("birth_date", pa.date32()),
    pa.field("street", pa.string()),
    pa.field("postcode", pa.string()),
    pa.field("city", pa.string()),
    pa.field("country", pa.string()),
    pa.field("email_opt_in", pa.bool_()),
    pa.field("sms_opt_in", pa.bool_()),
    pa.field("updated_at", TIMESTAMP),
]

REASON = pa.struct([("field", pa.string()), ("value", pa.string()), ("rule", pa.string())])
# A file's data quality: how many rows each (field, rule) quarantined, and how many it kept with a warning.
QUALITY_ISSUE = pa.struct([("field", pa.string()), ("rule", pa.string()), ("rows_quarantined", pa.int64()),
                           ("rows_warned", pa.int64())])


@dataclass(frozen=True)
class TableSpec:
    name: str
    schema: pa.Schema
    description: str
    # The columns that identify a row: what an upsert matches on, and what one version of a row is about.
    key: tuple[str, ...] = ()
    # Sources may land rows in this table (ingest targets) rather than only the pipeline.
    ingest_target: bool = False
    # Personal data, declared once for erasure and its tests: the columns that hold it (identifiers, names,
    # addresses, raw rows) and the columns that tie a row to a person, each with what it holds (``SUBJECT_KEYS``).
    # A table with neither holds nothing about anyone.
    pii: tuple[str, ...] = ()
    subject: tuple[tuple[str, str], ...] = ()

    @property
    def personal(self) -> bool:
        return bool(self.pii or self.subject)


# What a subject column holds, by which erasure finds a person's rows: a profile id or a list of them, a record key
# (of a person record or a fact) or a list of them, an order id (order lines), or a row as it came (quarantine),
# searched for the person's identifiers.
SUBJECT_KEYS = ("profile", "profiles", "record", "records", "order", "raw")


TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in [
        TableSpec(
            "files",
            pa.schema(
                [
                    pa.field("file_id", pa.string(), nullable=False),
                    pa.field("source", pa.string(), nullable=False),
                    pa.field("uri", pa.string(), nullable=False),
                    pa.field("content_hash", pa.string()),
                    pa.field("status", pa.string(), nullable=False),
                    pa.field("reason", pa.string()),
                    pa.field("rows_in", pa.int64()),
                    pa.field("rows_accepted", pa.int64()),
                    pa.field("rows_quarantined", pa.int64()),
                    pa.field("rows_warned", pa.int64()),
                    pa.field("rows_suppressed", pa.int64()),  # rows of erased persons, dropped
                    pa.field("quality", pa.list_(QUALITY_ISSUE)),
                    pa.field("ingested_at", TIMESTAMP, nullable=False),
                ]
            ),
            "One row per landed file: its status (ingested, rejected, or failed: tried again when notified again), row "
            "counts and data-quality summary.",
            key=("file_id",),
        ),
        TableSpec(
            "records",
            pa.schema(_LINEAGE + PERSON_FIELDS),
            "Person records from every identity-bearing source, normalised; one version per distinct content.",
            key=("record_key",),
            pii=("source_id", "email", "phone", "first_name", "last_name", "birth_date", "street", "postcode", "city",
                 "attributes", "warnings"),
            subject=(("record_key", "record"),),
            ingest_target=True,
        ),
        TableSpec(
            "quarantine",
            pa.schema(
                [
                    pa.field("file_id", pa.string(), nullable=False),
                    pa.field("source", pa.string(), nullable=False),
                    pa.field("row_number", pa.int64(), nullable=False),
                    pa.field("raw", pa.string()),
                    pa.field("reasons", pa.list_(REASON)),
                    pa.field("quarantined_at", TIMESTAMP, nullable=False),
                ]
            ),
            "Rows refused at ingestion, with their raw text and the reasons (field, value, rule).",
            key=("file_id", "row_number"),
            pii=("raw", "reasons"),
            subject=(("raw", "raw"),),
        ),
        TableSpec(
            "identities",
            pa.schema(
                [
                    pa.field("record_key", pa.string(), nullable=False),
                    pa.field("source", pa.string(), nullable=False),
                    pa.field("profile_id", pa.string(), nullable=False),
                    pa.field("rule", pa.string(), nullable=False),
                    pa.field("score", pa.float64()),
                    pa.field("run_id", pa.string(), nullable=False),
                    pa.field("linked_at", TIMESTAMP, nullable=False),
                ]
            ),
            "The identity graph: which profile each record belongs to, and the rule and score that linked it.",
            key=("record_key",),
            pii=("record_key",),
            subject=(("record_key", "record"), ("profile_id", "profile")),
        ),
        TableSpec(
            "identity_links",
            pa.schema(
                [
                    pa.field("left_key", pa.string(), nullable=False),
                    pa.field("right_key", pa.string(), nullable=False),
                    pa.field("rule", pa.string(), nullable=False),
                    pa.field("score", pa.float64()),
                    pa.field("match_weight", pa.float64()),
                    # Splink's match weight per comparison (JSON): why a probabilistic link was made.
                    pa.field("contributions", pa.string()),
                    pa.field("run_id", pa.string(), nullable=False),
                ]
            ),
            "The links that joined records into persons: each with its rule, or its match weight and the part of "
            "each comparison in it.",
            key=("left_key", "right_key"),
            pii=("left_key", "right_key"),
            subject=(("left_key", "record"), ("right_key", "record")),
        ),
        TableSpec(
            "identity_reviews",
            pa.schema(
                [
                    pa.field("kind", pa.string(), nullable=False),
                    pa.field("record_keys", pa.list_(pa.string())),
                    pa.field("rule", pa.string()),
                    pa.field("score", pa.float64()),
                    pa.field("reason", pa.string()),
                    pa.field("run_id", pa.string(), nullable=False),
                ]
            ),
            "What identity resolution did not trust, for a data steward: candidate links refused by the guards "
            "(and why), and identifiers held by several people (shared) or by many (junk), by the records that "
            "carry them.",
            key=("kind", "rule", "reason", "run_id"),
            pii=("record_keys",),
            subject=(("record_keys", "records"),),
        ),
        TableSpec(
            "identity_changes",
            pa.schema(
                [
                    pa.field("run_id", pa.string(), nullable=False),
                    pa.field("kind", pa.string(), nullable=False),  # merge or split
                    pa.field("profile_ids_before", pa.list_(pa.string())),
                    pa.field("profile_ids_after", pa.list_(pa.string())),
                    pa.field("records", pa.int64()),
                    pa.field("reason", pa.string()),
                    pa.field("changed_at", TIMESTAMP, nullable=False),
                ]
            ),
            "Profiles merged or split by a run: which ids became which, how many records moved and why, so that "
            "downstream tables and activation can follow a person whose id changed.",
            key=("run_id", "kind", "profile_ids_before", "profile_ids_after"),
            subject=(("profile_ids_before", "profiles"), ("profile_ids_after", "profiles")),
        ),
        TableSpec(
            "profiles",
            pa.schema(
                [pa.field("profile_id", pa.string(), nullable=False)]
                + [f for f in PERSON_FIELDS if f.name not in ("source_id", "email_opt_in", "sms_opt_in", "updated_at")]
                + [
                    # Consent per channel, from the most recent record that states it (null: never stated, i.e. no).
                    pa.field("consent_email", pa.bool_()),
                    pa.field("consent_sms", pa.bool_()),
                    # Ads audiences follow the email consent unless a record states ads_opt_in (in its attributes).
                    pa.field("consent_ads", pa.bool_()),
                    pa.field("sources", pa.list_(pa.string())),
                    pa.field("record_count", pa.int64()),
                    # Earliest ingested_at or updated_at of its records; latest updated_at (ingested_at without it).
                    pa.field("first_seen", TIMESTAMP),
                    pa.field("last_seen", TIMESTAMP),
                    pa.field("run_id", pa.string(), nullable=False),
                ]
            ),
            "The golden profile: one row per person, fields chosen by the survivorship rules, consent per channel.",
            key=("profile_id",),
            pii=("email", "phone", "first_name", "last_name", "birth_date", "street", "postcode", "city"),
            subject=(("profile_id", "profile"),),
        ),
        # Lineage as a long table rather than a map column in profiles: plain columns that filter, join (to records,
        # on record_key and content_hash) and group the same way in DuckDB and Athena, with no map/struct syntax.
        TableSpec(
            "profile_lineage",
            pa.schema(
                [
                    pa.field("profile_id", pa.string(), nullable=False),
                    pa.field("field", pa.string(), nullable=False),
                    pa.field("record_key", pa.string(), nullable=False),
                    pa.field("source", pa.string(), nullable=False),
                    pa.field("content_hash", pa.string(), nullable=False),
                    pa.field("rule", pa.string(), nullable=False),
                    pa.field("run_id", pa.string(), nullable=False),
                ]
            ),
            "Which record (and which version of it) supplied each field of each profile, and by which rule; a "
            "field no record fills has no row.",
            key=("profile_id", "field"),
            pii=("record_key",),
            subject=(("profile_id", "profile"),),
        ),
        TableSpec(
            "orders",
            pa.schema(
                _LINEAGE
                + [
                    pa.field("order_id", pa.string(), nullable=False),
                    pa.field("customer_id", pa.string()),
                    pa.field("account_id", pa.string()),
                    pa.field("email", pa.string()),
                    pa.field("order_date", TIMESTAMP),
                    pa.field("channel", pa.string()),
                    pa.field("store_id", pa.string()),
                    pa.field("amount", pa.float64()),
                    pa.field("currency", pa.string()),
                ]
            ),
            "Orders from every sales channel.",
            key=("record_key",),
            pii=("customer_id", "account_id", "email", "attributes", "warnings"),
            subject=(("record_key", "record"),),
            ingest_target=True,
        ),
        TableSpec(
            "order_lines",
            pa.schema(
                _LINEAGE
                + [
                    pa.field("order_id", pa.string(), nullable=False),
                    pa.field("line_no", pa.int64(), nullable=False),
                    pa.field("sku", pa.string()),
                    pa.field("category", pa.string()),
                    pa.field("quantity", pa.int64()),
                    pa.field("unit_price", pa.float64()),
                ]
            ),
            "Order lines: what was bought in each order.",
            key=("record_key",),
            subject=(("order_id", "order"),),
            ingest_target=True,
        ),
        TableSpec(
            "events",
            pa.schema(
                _LINEAGE
                + [
                    pa.field("event_id", pa.string(), nullable=False),
                    pa.field("anonymous_id", pa.string()),
                    pa.field("account_id", pa.string()),
                    pa.field("event_type", pa.string()),
                    pa.field("ts", TIMESTAMP),
                    pa.field("url", pa.string()),
                    pa.field("sku", pa.string()),
                    pa.field("category", pa.string()),
                    pa.field("search_terms", pa.string()),
                ]
            ),
            "Web and app behaviour events.",
            key=("record_key",),
            pii=("anonymous_id", "account_id", "url", "search_terms", "attributes", "warnings"),
            subject=(("record_key", "record"),),
            ingest_target=True,
        ),
        TableSpec(
            "stores",
            pa.schema(
                _LINEAGE
                + [
                    pa.field("store_id", pa.string(), nullable=False),
                    pa.field("name", pa.string()),
                    pa.field("postcode", pa.string()),
                    pa.field("city", pa.string()),
                    pa.field("country", pa.string()),
                    pa.field("latitude", pa.float64()),
                    pa.field("longitude", pa.float64()),
                ]
            ),
            "The brand's stores and where they are: the catchment feature measures each profile's distance to the "
            "nearest.",
            key=("record_key",),
            ingest_target=True,
        ),
        TableSpec(
            "postcodes",
            pa.schema(
                _LINEAGE
                + [
                    pa.field("country", pa.string()),
                    pa.field("postcode", pa.string(), nullable=False),
                    pa.field("latitude", pa.float64()),
                    pa.field("longitude", pa.float64()),
                ]
            ),
            "Where each postcode lies (its centroid): how a profile's address is placed for the catchment feature.",
            key=("record_key",),
            ingest_target=True,
        ),
        TableSpec(
            "features",
            pa.schema(
                [
                    pa.field("profile_id", pa.string(), nullable=False),
                    pa.field("as_of", pa.date32(), nullable=False),
                    pa.field("orders_count", pa.int64()),
                    pa.field("revenue", pa.float64()),
                    pa.field("avg_order_value", pa.float64()),
                    pa.field("first_order_at", TIMESTAMP),
                    pa.field("last_order_at", TIMESTAMP),
                    pa.field("days_since_last_order", pa.int64()),
                    pa.field("tenure_days", pa.int64()),  # since the first order
                    pa.field("category_breadth", pa.int64()),  # distinct categories bought (1: single-category)
                    pa.field("web_order_share", pa.float64()),  # channel mix: share of orders on the web or the app
                    pa.field("web_events_count", pa.int64()),
                    pa.field("days_since_web", pa.int64()),  # last web activity
                    # Intent signals over the last scoring.intent.window_days, and their time-decayed weight.
                    pa.field("product_views_recent", pa.int64()),
                    pa.field("add_to_cart_recent", pa.int64()),
                    pa.field("searches_recent", pa.int64()),
                    pa.field("risk_page_visits_recent", pa.int64()),
                    pa.field("intent_decayed", pa.float64()),
                    # Catchment: from the profile's postcode centroid to the nearest store (null when unknown).
                    pa.field("nearest_store_id", pa.string()),
                    pa.field("store_distance_km", pa.float64()),
                    # What the row was computed from (cdp.features.behaviour.facts_digests): the next run computes
                    # again only the profiles whose digest changed.
                    pa.field("facts_digest", pa.int64()),
                    pa.field("run_id", pa.string(), nullable=False),
                ]
            ),
            "Behavioural features per profile, as of the run date.",
            key=("profile_id",),
            subject=(("profile_id", "profile"),),
        ),
        TableSpec(
            "feature_values",
            pa.schema(
                [
                    pa.field("profile_id", pa.string(), nullable=False),
                    pa.field("feature", pa.string(), nullable=False),
                    pa.field("value", pa.float64()),
                    pa.field("as_of", pa.date32(), nullable=False),
                    pa.field("run_id", pa.string(), nullable=False),
                ]
            ),
            "The features a brand declares in its config (features[]), one row per profile and feature as of the "
            "run date; segment rules name them as columns.",
            key=("profile_id", "feature"),
            subject=(("profile_id", "profile"),),
        ),
        TableSpec(
            "scores",
            pa.schema(
                [
                    pa.field("profile_id", pa.string(), nullable=False),
                    pa.field("as_of", pa.date32(), nullable=False),
                    pa.field("recency_days", pa.int64()),
                    pa.field("purchase_days", pa.int64()),
                    pa.field("monetary", pa.float64()),
                    pa.field("rfm_score", pa.string()),
                    pa.field("rfm_segment", pa.string()),
                    pa.field("expected_purchases", pa.float64()),
                    pa.field("probability_alive", pa.float64()),
                    pa.field("predicted_value", pa.float64()),
                    pa.field("churn_probability", pa.float64()),
                    pa.field("ml_segment", pa.string()),
                    pa.field("intent_score", pa.int64()),
                    pa.field("preferred_channel", pa.string()),
                    pa.field("model_version", pa.string()),
                    pa.field("scored_at", TIMESTAMP, nullable=False),
                    pa.field("run_id", pa.string(), nullable=False),
                ]
            ),
            "Scores per profile as of the run date: RFM (customers only), purchase days and value expected over the "
            "scoring horizon, churn probability, web intent (0-100) and preferred channel.",
            key=("profile_id",),
            subject=(("profile_id", "profile"),),
        ),
        TableSpec(
            "segments",
            pa.schema(
                [
                    pa.field("segment_id", pa.string(), nullable=False),
                    pa.field("name", pa.string(), nullable=False),
                    pa.field("kind", pa.string(), nullable=False),
                    pa.field("explanation", pa.string()),
                    pa.field("size", pa.int64(), nullable=False),
                    pa.field("share", pa.float64(), nullable=False),
                    pa.field("avg_predicted_value", pa.float64()),
                    pa.field("total_predicted_value", pa.float64()),
                    pa.field("avg_churn_probability", pa.float64()),
                    pa.field("as_of", pa.date32(), nullable=False),
                    pa.field("run_id", pa.string(), nullable=False),
                ]
            ),
            "Segments as of the run date, with their value potential: size, share of profiles, average and total "
            "value expected over the scoring horizon, average churn probability.",
            key=("segment_id",),
        ),
        TableSpec(
            "segment_memberships",
            pa.schema(
                [
                    pa.field("segment_id", pa.string(), nullable=False),
                    pa.field("profile_id", pa.string(), nullable=False),
                    pa.field("change", pa.string(), nullable=False),
                    pa.field("run_id", pa.string(), nullable=False),
                    pa.field("changed_at", TIMESTAMP, nullable=False),
                    # Null for a change the segment's condition made; else why the id changed, not the person
                    # ("merged into P..." / "merged from P..."): activation contacts nobody for it.
                    pa.field("reason", pa.string()),
                    # The membership's period: since it began (an exit keeps its entry's time; a survivor of a merge,
                    # the merged profile's) until it ended (null while it lasts).
                    pa.field("since", TIMESTAMP),
                    pa.field("until", TIMESTAMP),
                ]
            ),
            "Segment entries and exits, one row per change: a profile is a member while its last change is 'entered'. "
            "A membership follows a merge of profiles: the merged id exits and the surviving id enters, both with "
            "a reason.",
            key=("segment_id", "profile_id", "run_id"),
            subject=(("profile_id", "profile"),),
        ),
        TableSpec(
            "activations",
            pa.schema(
                [
                    pa.field("event_id", pa.string(), nullable=False),
                    pa.field("run_id", pa.string(), nullable=False),
                    pa.field("profile_id", pa.string(), nullable=False),
                    pa.field("segment_id", pa.string(), nullable=False),
                    pa.field("change", pa.string(), nullable=False),
                    pa.field("channels", pa.list_(pa.string())),
                    pa.field("holdout", pa.bool_(), nullable=False),
                    pa.field("occurred_at", TIMESTAMP, nullable=False),
                    pa.field("detail", pa.string()),
                    # Set once the event is on the bus: a retried step publishes only the rows still without it.
                    pa.field("published_at", TIMESTAMP),
                ]
            ),
            "Every segment entry or exit emitted, with its channels and hold-out flag (the basis of uplift).",
            key=("event_id",),
            pii=("detail",),
            subject=(("profile_id", "profile"),),
        ),
        TableSpec(
            "erasures",
            pa.schema(
                [
                    pa.field("erasure_id", pa.string(), nullable=False),
                    # The subject as given (email, phone or profile id), hashed with the platform's secret salt: a
                    # later request for the same person can be matched, the person cannot be read back.
                    pa.field("subject_hash", pa.string(), nullable=False),
                    pa.field("requested_at", TIMESTAMP, nullable=False),
                    pa.field("completed_at", TIMESTAMP, nullable=False),
                    pa.field("erased", pa.string(), nullable=False),  # JSON: rows per table, rows per file kind
                ]
            ),
            "GDPR erasure log: when a subject (as a salted hash) was erased, and how many rows each table lost.",
            key=("erasure_id",),
        ),
        TableSpec(
            "suppressions",
            pa.schema(
                [
                    pa.field("identifier_hash", pa.string(), nullable=False),  # salted, as erasures.subject_hash
                    pa.field("kind", pa.string(), nullable=False),  # email or phone
                    pa.field("erasure_id", pa.string(), nullable=False),
                    pa.field("suppressed_at", TIMESTAMP, nullable=False),
                ]
            ),
            "Identifiers of erased persons (salted hashes): ingestion drops the rows that carry them, so that a later "
            "file does not bring an erased person back.",
            key=("identifier_hash",),
        ),
        TableSpec(
            "pipeline_runs",
            pa.schema(
                [
                    pa.field("run_id", pa.string(), nullable=False),
                    pa.field("step", pa.string(), nullable=False),
                    pa.field("table_name", pa.string(), nullable=False),
                    pa.field("snapshot_id", pa.int64()),
                    pa.field("rows_read", pa.int64(), nullable=False),
                    pa.field("incremental", pa.bool_(), nullable=False),
                    pa.field("completed_at", TIMESTAMP, nullable=False),
                    # A failed step has one row, table_name '' and its error's name; its next run resumes where the
                    # last successful one left off.
                    pa.field("status", pa.string()),
                    pa.field("error", pa.string()),
                ]
            ),
            "Per run and step, the snapshot of each input table the step consumed: where its next run resumes; and "
            "the steps that failed, with their error.",
            key=("run_id", "step", "table_name"),
        ),
    ]
}


INGEST_TARGETS: tuple[str, ...] = tuple(name for name, spec in TABLES.items() if spec.ingest_target)


def empty_table(name: str) -> pa.Table:
    return TABLES[name].schema.empty_table()


def glue_type(data_type: pa.DataType) -> str:
    """The Glue/Athena type name of an Arrow type, for the catalog's table declarations."""
    if pa.types.is_string(data_type) or pa.types.is_large_string(data_type):
        return "string"
    if pa.types.is_int64(data_type):
        return "bigint"
    if pa.types.is_int32(data_type):
        return "int"
    if pa.types.is_float64(data_type):
        return "double"
    if pa.types.is_boolean(data_type):
        return "boolean"
    if pa.types.is_date32(data_type):
        return "date"
    if pa.types.is_timestamp(data_type):
        return "timestamp"
    if pa.types.is_map(data_type):
        return f"map<{glue_type(data_type.key_type)},{glue_type(data_type.item_type)}>"
    if pa.types.is_list(data_type):
        return f"array<{glue_type(data_type.value_type)}>"
    if pa.types.is_struct(data_type):
        members = ",".join(f"{f.name}:{glue_type(f.type)}" for f in data_type)
        return f"struct<{members}>"
    raise TypeError(f"no Glue type for Arrow type {data_type}")
