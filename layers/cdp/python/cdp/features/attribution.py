"""Attribution: which profile each fact (order, web event) belongs to, through source links and then the email."""

from __future__ import annotations


def owner_sql(table: str, sources: dict[str, dict[str, str]], by_email: bool) -> str:
    """SQL giving (record_key, profile_id) for a fact table: through each link column, then by email.

    ``sources`` maps each source landing in the table to its link columns (column → person source); the SQL
    reads the fact table, ``identities`` and ``profiles`` by those names.

    The first link that resolves wins, so an order with both a customer id and an email is counted once.
    """
    branches = []
    for priority, (source, links) in enumerate(
        (s, column_links) for s, column_links in sources.items()
    ):
        for column, target in links.items():
            branches.append(
                f"SELECT f.record_key, i.profile_id, {priority * 10 + len(branches)} AS priority FROM {table} f "
                f"JOIN identities i ON i.record_key = '{target}:' || f.{column} WHERE f.source = '{source}'"
            )
    if by_email:
        branches.append(
            f"SELECT f.record_key, p.profile_id, 1000 AS priority FROM {table} f JOIN profiles p ON p.email = f.email"
        )
    if not branches:
        return "SELECT NULL::VARCHAR AS record_key, NULL::VARCHAR AS profile_id WHERE false"
    return (
        "SELECT record_key, arg_min(profile_id, priority) AS profile_id FROM ("
        + " UNION ALL ".join(branches)
        + ") GROUP BY record_key"
    )
