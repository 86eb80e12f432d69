"""Typing each identifier before trusting it: personal (one person's), shared (a family mailbox, a landline, a
recycled mobile, a company's address: weak evidence) or junk (typed at a till, held by many: no evidence).

An identifier is shared when the records carrying it name clearly different people (first names or birth dates
that cannot be one person's, see ``compatibility``); junk when it is on a blocklist, looks made up
(0600000000, a@a.fr), or is carried by more distinct people than ``max_people_per_key``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cdp.identity.compatibility import birth_dates_compatible, first_names_compatible, fold, names_compatible

PERSONAL, SHARED, JUNK = "personal", "shared", "junk"

JUNK_EMAILS = frozenset({"test@test.com", "test@test.fr", "a@a.fr", "a@a.com", "aa@aa.fr", "x@x.fr", "xx@xx.fr",
                         "noemail@noemail.com", "no@email.com", "nomail@nomail.com", "email@email.com",
                         "client@client.fr", "none@none.com"})
# Local parts that name no one: a till's placeholder, or a company's generic mailbox.
_PLACEHOLDER_LOCAL = re.compile(r"^(?:test\d*|a+|x+|no-?e?mail|none|nobody|client|anonyme?|[a-z])$")
_GENERIC_LOCAL = re.compile(r"^(?:contact|info|infos|accueil|bonjour|hello|service|services|admin|office|compta|rh|"
                            r"secretariat|direction|commercial|sales|support|reception|magasin|boutique)$")


def _made_up_phone(value: str) -> bool:
    digits = value.lstrip("+")
    national = digits[-9:]
    # One digit repeated (06 00 00 00 00) or a run like 0123456789 / 0612345678's tail.
    return len(set(national[1:])) <= 1 or national[-8:] in ("12345678", "23456789", "87654321")


def built_in_junk(key: str, value: str) -> str | None:
    """Why a value is junk whatever the data says, or None."""
    if key == "email":
        local = value.split("@")[0]
        if value in JUNK_EMAILS or _PLACEHOLDER_LOCAL.match(local):
            return "placeholder address"
    elif key == "phone" and _made_up_phone(value):
        return "made-up number"
    return None


_LOCAL_TOKENS = re.compile(r"[a-z]+")


def first_name_in_email(email: str | None, known_first_names: set[str]) -> str | None:
    """The first name an address spells (marie.dupont@, dupont.marie@, marie-dupont75@), when its local part
    starts or ends with a first name carried by some record of the base, or None."""
    if not isinstance(email, str):
        return None
    tokens = _LOCAL_TOKENS.findall(email.split("@")[0])
    if len(tokens) < 2:
        return None
    for token in (tokens[0], tokens[-1]):
        if len(token) >= 3 and token in known_first_names:
            return token
    return None


def known_first_names(first_names: pd.Series | Iterable[object]) -> frozenset[str]:
    """The first names a base carries, folded: those an email address can be read as spelling."""
    distinct = first_names.dropna().unique() if isinstance(first_names, pd.Series) else first_names
    return frozenset(fold(name) for name in distinct if isinstance(name, str))


def implied_first_names(records: pd.DataFrame, known: Set[str] | None = None) -> pd.Series:
    """Each record's first name, or when it has none (or only an initial), the one its email address spells.

    An account often has no first name, but jeanne.martin@ says whose it is: without this, a partner's address on
    someone's loyalty card would join two people that nothing else tells apart.
    """
    if known is None:
        known = known_first_names(records["first_name"])
    known = {name for name in known if " " not in name and len(name) > 2}
    first = records["first_name"]
    # An initial (P.) says less than the address (paula.davis@) when the two agree on the first letter.
    initials = {name for name in first.dropna().unique() if isinstance(name, str)
                and len(fold(name).replace(" ", "")) == 1}  # looked at once per distinct name
    initial = first.isin(initials)
    wanting = first.isna() | initial
    spelled = records.loc[wanting, "email"].map(lambda email: first_name_in_email(email, known))
    agrees = pd.Series([isinstance(s, str) and isinstance(f, str) and s[0] == fold(f)[0]
                        for s, f in zip(spelled, first[wanting], strict=True)], index=spelled.index, dtype=bool)
    first = first.copy()
    first.loc[agrees[agrees].index] = spelled[agrees]
    missing = first.isna() & wanting
    first.loc[missing] = spelled.reindex(first.index)[missing]
    return first


def borrowed_emails(records: pd.DataFrame, first_names: pd.Series, nicknames: Mapping[str, str],
                    only: pd.Series | None = None, known: Set[str] | None = None) -> pd.Series:
    """True where a record's email spells another first name than the record's own: a partner's or a relative's
    address typed on this person's card. It is no identity of this record's person. ``only`` (a mask) limits the
    records looked at; the others are False."""
    known = {name for name in (known_first_names(first_names) if known is None else known) if " " not in name}

    def borrowed(email: object, first: object) -> bool:
        spelled = first_name_in_email(email, known) if isinstance(first, str) else None
        return spelled is not None and not first_names_compatible(spelled, first, nicknames)

    looked = records.index if only is None else records.index[only.to_numpy()]
    result = pd.Series(False, index=records.index)
    result.loc[looked] = [borrowed(e, f) for e, f in zip(records.loc[looked, "email"], first_names.loc[looked],
                                                        strict=True)]
    return result


@dataclass(frozen=True)
class KeyTypes:
    """Per key column, the kind of each value that occurs more than once or is junk; absent values are personal."""

    kinds: dict[str, dict[str, str]]
    reasons: dict[str, dict[str, str]]

    def kind(self, key: str, value: str | None) -> str | None:
        if value is None or (isinstance(value, float) and pd.isna(value)):
            return None
        return self.kinds.get(key, {}).get(value, PERSONAL)


def _distinct_people(first_names: list[str | None], last_names: list[str | None], births: list,
                     nicknames: Mapping[str, str]) -> tuple[int, str]:
    """How many clearly different people a group of records names (greedy, by name then birth date)."""
    people: list[tuple[str | None, str | None, object]] = []
    for first, last, birth in zip(first_names, last_names, births, strict=True):
        birth = None if pd.isna(birth) else birth
        first = None if pd.isna(first) else first
        last = None if pd.isna(last) else last
        for index, (known_first, known_last, known_birth) in enumerate(people):
            if names_compatible(first, last, known_first, known_last, nicknames) \
                    and birth_dates_compatible(birth, known_birth):
                people[index] = (known_first or first, known_last or last, known_birth or birth)
                break
        else:
            people.append((first, last, birth))
    return len(people), "different names or birth dates" if len(people) > 1 else ""


def _built_in_junk(key: str, values: pd.Series) -> pd.Series:
    """``built_in_junk`` over a column of distinct values, vectorised: the reason or None per value."""
    if key == "email":
        local = values.str.split("@").str[0]
        placeholder = values.isin(JUNK_EMAILS) | local.str.fullmatch(_PLACEHOLDER_LOCAL.pattern).fillna(False)
        return pd.Series(np.where(placeholder, "placeholder address", None), index=values.index)
    if key == "phone":
        national = values.str.replace("+", "", regex=False).str[-9:]
        repeated = national.str[1:].str.fullmatch(r"(\d)\1*").fillna(False)
        run = national.str[-8:].isin(["12345678", "23456789", "87654321"])
        return pd.Series(np.where(repeated | run, "made-up number", None), index=values.index)
    return pd.Series(None, index=values.index, dtype=object)


def type_identifiers(records: pd.DataFrame, keys: tuple[str, ...], *, junk_values: Mapping[str, tuple[str, ...]],
                     max_people: int, nicknames: Mapping[str, str], first_names: pd.Series | None = None) -> KeyTypes:
    """``first_names`` defaults to the records' own; pass ``implied_first_names`` to count what emails spell."""
    kinds: dict[str, dict[str, str]] = {}
    reasons: dict[str, dict[str, str]] = {}
    first_names = records["first_name"] if first_names is None else first_names
    for key in keys:
        kinds[key], reasons[key] = {}, {}
        present = records[key].notna()
        distinct = pd.Series(records.loc[present, key].unique())
        why = _built_in_junk(key, distinct)
        why = why.where(~distinct.isin(list(junk_values.get(key, ()))), "listed as junk in the configuration")
        for value, reason in zip(distinct[why.notna()], why[why.notna()], strict=True):
            kinds[key][value], reasons[key][value] = JUNK, reason
        values = records[key]
        repeated = present & values.duplicated(keep=False) & ~values.isin(list(kinds[key]))
        # Carriers that agree on every name and birth date they give are one person: most repeated values (a
        # person's email on their card and their account) need no pairwise look.
        spread = pd.DataFrame({"value": values[repeated], "first": first_names[repeated],
                               "last": records.loc[repeated, "last_name"],
                               "birth": records.loc[repeated, "birth_date"]}).groupby("value").nunique()
        alike = set(spread.index[(spread <= 1).all(axis=1)])
        # Walk the carriers of each repeated value in one sorted pass: plain lists, no frame per group.
        order = values[repeated].sort_values(kind="stable").index
        carried = values[order].tolist()
        firsts, lasts, births = first_names[order].tolist(), records.loc[order, "last_name"].tolist(), \
            records.loc[order, "birth_date"].tolist()
        start = 0
        while start < len(carried):
            end = start
            while end < len(carried) and carried[end] == carried[start]:
                end += 1
            value = carried[start]
            people, why_shared = (1, "") if value in alike else \
                _distinct_people(firsts[start:end], lasts[start:end], births[start:end], nicknames)
            if people > max_people:
                kinds[key][value], reasons[key][value] = JUNK, f"carried by {people} different people"
            elif people > 1:
                kinds[key][value], reasons[key][value] = SHARED, f"carried by {people} people: {why_shared}"
            elif key == "email" and _GENERIC_LOCAL.match(str(value).split("@")[0]):
                kinds[key][value], reasons[key][value] = SHARED, "a generic mailbox"
            start = end
    return KeyTypes(kinds, reasons)
