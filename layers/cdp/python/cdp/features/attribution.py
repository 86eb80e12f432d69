"""Attribution: which profile each fact (order, web event) belongs to, through source links and then the email."""

from __future__ import annotations

from collections.abc import Set

from cdp import sql


def owner_sql(table: str, sources: dict[str, dict[str, str]], by_email: bool,
              stitch_by: dict[str, str] | None = None, unlinkable: Set[str] = frozenset()) -> str:
    """SQL giving (record_key, profile_id) for a fact table: through each link column, then through the link that
    other rows of the same device carry (``stitch_by``: source → device column), then by email.

    ``sources`` maps each source landing in the table to its link columns (column → person source); the SQL
    reads the fact table, ``identities`` and ``profiles`` by those names.

    The first link that resolves wins, so an order with both a customer id and an email is counted once.

    The email links a fact to a profile made of other sources' records: it is linking, so a fact of a source that
    does not allow it (``unlinkable``) is never attributed by email, nor is any fact to a profile of records of
    such a person source (which holds only that source's records). Its own link columns and its device still
    attribute it.
    """
    branches = []
    for source, device in (stitch_by or {}).items():
        for column, target in sources.get(source, {}).items():
            # The link a device's signed-in rows carry most often reaches its anonymous rows too.
            branches.append(
                f"SELECT f.record_key, i.profile_id, 500 AS priority FROM {table} f "
                f"JOIN (SELECT {device}, mode({column}) AS linked FROM {table} WHERE source = '{source}' "
                f"AND {column} IS NOT NULL AND {device} IS NOT NULL GROUP BY {device}) d USING ({device}) "
                f"JOIN identities i ON i.record_key = '{target}:' || d.linked "
                f"WHERE f.source = '{source}' AND f.{column} IS NULL"
            )
    for priority, (source, links) in enumerate(
        (s, column_links) for s, column_links in sources.items()
    ):
        for column, target in links.items():
            branches.append(
                f"SELECT f.record_key, i.profile_id, {priority * 10 + len(branches)} AS priority FROM {table} f "
                f"JOIN identities i ON i.record_key = '{target}:' || f.{column} WHERE f.source = '{source}'"
            )
    if by_email:
        fenced = ""
        if unlinkable:
            names = ", ".join(sql.literal(name) for name in sorted(unlinkable))
            fenced = (f" WHERE f.source NOT IN ({names}) AND p.profile_id NOT IN "
                      f"(SELECT profile_id FROM identities WHERE source IN ({names}))")
        branches.append(
            f"SELECT f.record_key, p.profile_id, 1000 AS priority FROM {table} f JOIN profiles p ON p.email = f.email"
            + fenced
        )
    if not branches:
        return "SELECT NULL::VARCHAR AS record_key, NULL::VARCHAR AS profile_id WHERE false"
    return (
        "SELECT record_key, arg_min(profile_id, priority) AS profile_id FROM ("
        + " UNION ALL ".join(branches)
        + ") GROUP BY record_key"
    )
