"""Why a record sits in its profile, in plain words: the chain of links that joined it to the profile's other
records (each with its rule, or its match weight and what each comparison added), the candidate links that were
refused and why, and the identifiers that were not trusted as identity.
"""

from __future__ import annotations

import json
from collections import deque

import pandas as pd

RULES = {
    "email": "the same personal email address",
    "phone": "the same personal phone number",
    "cross_reference": "an order that names both (a loyalty card and a web account)",
}


class UnknownRecord(LookupError):
    pass


def _describe(link: pd.Series) -> str:
    if link["rule"] != "probabilistic":
        return RULES.get(link["rule"], link["rule"])
    contributions = json.loads(link["contributions"] or "{}")
    parts = ", ".join(f"{name.replace('_', ' ')} {weight:+.1f}" for name, weight in
                      sorted(contributions.items(), key=lambda item: -item[1]) if weight)
    return (f"the matching model: match weight {link['match_weight']:.1f} (probability {link['score']:.4f}); "
            f"per comparison: {parts}")


def explain(record_key: str, identities: pd.DataFrame, links: pd.DataFrame, reviews: pd.DataFrame) -> list[str]:
    """Lines of text about one record. ``links`` and ``reviews`` are the identity_links and identity_reviews rows."""
    row = identities[identities["record_key"] == record_key]
    if row.empty:
        raise UnknownRecord(f"no record {record_key!r} in identities; record keys look like crm:C0100001 "
                            "(<source>:<key>)")
    profile_id = row["profile_id"].iloc[0]
    members = set(identities.loc[identities["profile_id"] == profile_id, "record_key"])
    lines = [f"{record_key} belongs to profile {profile_id}, with {len(members) - 1} other record(s)."]
    inside = links[links["left_key"].isin(members) & links["right_key"].isin(members)]
    neighbours: dict[str, list[tuple[str, pd.Series]]] = {}
    for _, link in inside.iterrows():
        neighbours.setdefault(link["left_key"], []).append((link["right_key"], link))
        neighbours.setdefault(link["right_key"], []).append((link["left_key"], link))
    # Breadth first from the record: each other record is reached through the link that joined it.
    seen, queue = {record_key}, deque([record_key])
    while queue:
        current = queue.popleft()
        for other, link in sorted(neighbours.get(current, []), key=lambda item: item[0]):
            if other not in seen:
                seen.add(other)
                queue.append(other)
                lines.append(f"  {current} — {other}: {_describe(link)}")
    if len(members) == 1:
        lines.append("  No link joined it to another record.")
    refused = reviews[reviews["kind"] == "refused_link"]
    refused = refused[refused["record_keys"].map(lambda keys: bool(set(keys) & members))]
    if len(refused):
        lines.append("Candidate links refused:")
        for _, review in refused.iterrows():
            left, right = review["record_keys"]
            lines.append(f"  {left} — {right} ({review['rule']}): {review['reason']}")
    if ((reviews["kind"] == "borrowed_email") & reviews["record_keys"].map(lambda keys: record_key in keys)).any():
        lines.append("Its email was not used as identity: the address spells another first name than the record's "
                     "(a partner's or a relative's address typed on this person's card).")
    untrusted = reviews[reviews["kind"].str.startswith(("shared_", "junk_")) &
                        reviews["record_keys"].map(lambda keys: record_key in keys)]
    for _, review in untrusted.iterrows():
        kind, key = review["kind"].split("_", 1)
        others = [k for k in review["record_keys"] if k != record_key]
        lines.append(f"Its {key} was not used as identity ({kind}: {review['reason']}); "
                     f"also on {len(others)} other record(s): {', '.join(others[:5])}{' …' if len(others) > 5 else ''}")
    return lines
