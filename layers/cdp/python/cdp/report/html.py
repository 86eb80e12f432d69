"""A self-contained HTML report of the local tables: data quality, identities, segments and activations."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from cdp import sql
from cdp.config import Config
from cdp.config.purposes import plan_uses, sources_feeding
from cdp.ports import TableStore
from cdp.segments.membership import current_members_sql

SECTIONS = {
    "Files and data quality": """
        SELECT source, regexp_extract(uri, '[^/]+$') AS file, status, rows_in, rows_accepted, rows_quarantined,
               rows_warned, round(100.0 * rows_quarantined / nullif(rows_in, 0), 2) AS quarantine_pct, reason
        FROM files ORDER BY source, file""",
    "Top quarantine reasons": """
        SELECT source, r.field, r.rule, count(*) AS rows FROM quarantine, unnest(reasons) AS t(r)
        GROUP BY ALL ORDER BY rows DESC LIMIT 15""",
    "Identity resolution": """
        SELECT count(*) AS records, count(DISTINCT profile_id) AS profiles,
               round(count(*)::DOUBLE / count(DISTINCT profile_id), 2) AS records_per_profile,
               count(*) FILTER (WHERE rule = 'email') AS linked_by_email,
               count(*) FILTER (WHERE rule = 'phone') AS linked_by_phone,
               count(*) FILTER (WHERE rule = 'cross_reference') AS linked_by_orders,
               count(*) FILTER (WHERE rule = 'probabilistic') AS linked_by_model,
               count(*) FILTER (WHERE rule = 'singleton') AS unlinked
        FROM identities""",
    "What identity resolution did not trust": """
        SELECT kind, count(*) AS reviews, sum(len(record_keys))::BIGINT AS records, any_value(reason) AS for_instance
        FROM identity_reviews GROUP BY kind ORDER BY reviews DESC""",
    "Segments": f"""
        WITH members AS ({current_members_sql()})
        SELECT m.segment_id, count(*) AS members, round(sum(f.revenue), 2) AS revenue,
               round(avg(f.revenue), 2) AS avg_revenue
        FROM members m LEFT JOIN features f USING (profile_id)
        GROUP BY m.segment_id ORDER BY members DESC""",
    "Activations": """
        SELECT segment_id, change, holdout, coalesce(array_to_string(channels, ', '), '') AS channels,
               count(*) AS events
        FROM activations GROUP BY ALL ORDER BY segment_id, change, holdout, channels""",
}

STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#1d2433}
table{border-collapse:collapse;margin:0.5rem 0 1.5rem}
td,th{border:1px solid #d5d9e0;padding:4px 8px;text-align:right}
th{background:#eef1f6}td:first-child,th:first-child{text-align:left}
"""


def plans_frame(config: Config) -> pd.DataFrame:
    """Each activation plan's uses and the sources that feed it, with their legal basis: for a data protection
    officer's review."""
    return pd.DataFrame([{
        "segment": plan.segment, "channels": ", ".join(plan.channels),
        "uses": ", ".join(sorted(plan_uses(plan, config.channels))),
        "sources (legal basis)": ", ".join(f"{name} ({config.sources[name].legal_basis or 'not declared'})"
                                           for name in sorted(sources_feeding(config, plan))),
    } for plan in config.activation_plans])


def write_report(store: TableStore, workdir: Path, config: Config | None = None) -> Path:
    """Write ``workdir/report.html`` from the tables of ``store`` (and the activation plans of ``config``)."""
    con = sql.connect()
    for name in ("files", "quarantine", "identities", "identity_reviews", "segment_memberships", "features",
                 "activations"):
        con.register(name, store.read(name))
    parts = [f"<h1>Customer data platform — {html.escape(str(workdir))}</h1>"]
    for title, query in SECTIONS.items():
        frame: pd.DataFrame = con.sql(query).df()
        parts.append(f"<h2>{html.escape(title)}</h2>")
        parts.append(frame.to_html(index=False, na_rep="", border=0) if len(frame) else "<p>Nothing yet.</p>")
    if config is not None:
        parts.append("<h2>Activation plans: their uses and the sources that feed them</h2>")
        parts.append(plans_frame(config).to_html(index=False, border=0) if config.activation_plans
                     else "<p>No activation plan.</p>")
    path = workdir / "report.html"
    path.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>CDP report</title><style>{STYLE}</style></head>"
        f"<body>{''.join(parts)}</body></html>",
        encoding="utf-8",
    )
    return path
