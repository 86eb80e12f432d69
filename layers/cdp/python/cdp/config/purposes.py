"""Purpose limitation: what each source's data may be used for, and what each activation plan uses it for."""

from __future__ import annotations

import re
from typing import Any, Literal, get_args

# What data may be used for: measuring and scoring (analytics), each kind of activation, and linking a source's
# records with other sources' into one person.
Use = Literal["analytics", "linking", "email_marketing", "sms_marketing", "ads_audiences", "crm_sync"]
USES: tuple[str, ...] = get_args(Use)
LegalBasis = Literal["consent", "contract", "legitimate_interest", "legal_obligation"]

# The use a channel of each type puts data to, when its plan does not say.
CHANNEL_USE: dict[str, str] = {"email": "email_marketing", "sms": "sms_marketing", "ads_audience": "ads_audiences",
                               "webhook": "crm_sync"}


def plan_uses(plan: Any, channels: dict[str, Any]) -> set[str]:
    """What an activation plan uses data for: what its channels do, and its declared use (a plan cannot declare
    its channels' use away)."""
    return {CHANNEL_USE[channels[c].type] for c in plan.channels if c in channels} | ({plan.use} if plan.use else set())


def sources_not_linking(config: Any) -> frozenset[str]:
    """The sources whose uses lack linking: identity resolution links their records only with records of the same
    source, and their facts link no one."""
    return frozenset(name for name, spec in config.sources.items() if "linking" not in spec.uses)


def sources_feeding(config: Any, plan: Any) -> dict[str, str]:
    """The sources whose data reaches an activation plan, each with how: person sources make the profiles (the
    rule's profile columns, the traits, the identifiers and consent the channels use); fact sources make the
    features and scores its segment's rule reads."""
    from cdp.tables import TABLES

    feeding = {name: "profiles" for name, spec in config.sources.items() if spec.table == "records"}
    segment = next((s for s in config.segments if s.id == plan.segment), None)
    if segment is None:
        return feeding
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", segment.rule))
    derived = {f.name for table in ("features", "scores") for f in TABLES[table].schema} - {"profile_id", "run_id",
                                                                                            "as_of"}
    declared = {f.name: f.source for f in config.features}
    fact_tables = {"orders", "order_lines", "events"} if words & derived else set()
    fact_tables |= {declared[w] for w in words if w in declared}
    for name, spec in config.sources.items():
        if spec.table in fact_tables:
            feeding[name] = "features and scores of the segment's rule"
    return feeding


def purpose_problems(config: Any) -> list[str]:
    """Each activation plan that puts a source's data to a use the source does not allow."""
    problems = []
    for plan in config.activation_plans:
        for use in sorted(plan_uses(plan, config.channels)):
            for source, how in sources_feeding(config, plan).items():
                allowed = config.sources[source].uses
                if use not in allowed:
                    problems.append(
                        f"activation plan for segment {plan.segment!r} uses data for {use}, but source {source!r} "
                        f"(which feeds its {how}) allows only: {', '.join(allowed) or 'nothing'}")
    return problems
