"""Can two records be the same person? First names and birth dates that clearly differ say no, however strong the
link that proposed them: that is what keeps a household (shared address, landline, family mailbox) apart.

Compatible first names: equal once folded (case, accents, hyphens), one an initial or a nickname of the other, one
the first part of the other (Jean / Jean-Pierre), or one typo apart (one letter missed, added or changed, or two swapped). Compatible birth dates: equal, or
day and month swapped. A missing value is compatible with anything: it is no evidence either way.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from datetime import date
from functools import lru_cache

from rapidfuzz.distance import OSA

# Common short forms in the bases we serve; a config may add its own (identity.nicknames).
NICKNAMES: dict[str, str] = {
    "jp": "jean pierre", "jf": "jean francois", "jl": "jean luc", "jm": "jean marc", "jc": "jean claude",
    "pe": "pierre emmanuel", "ma": "marie anne", "mc": "marie claire", "manu": "emmanuel", "fred": "frederic",
    "seb": "sebastien", "alex": "alexandre", "nico": "nicolas", "cathy": "catherine", "isa": "isabelle",
    "steph": "stephanie", "val": "valerie", "chris": "christophe", "max": "maxime",
    "ben": "benjamin", "tom": "thomas", "bob": "robert", "bill": "william", "liz": "elizabeth", "kate": "katherine",
    "mike": "michael", "jim": "james", "dan": "daniel", "sam": "samuel", "greg": "gregory", "flo": "florence",
    "dom": "dominique", "pat": "patrick", "jo": "joseph",
}


@lru_cache(maxsize=1 << 16)
def fold(name: str) -> str:
    """Lower case, no accents, hyphens and dots as spaces, single spaces: the form names are compared in."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.replace("-", " ").replace(".", " ").replace("'", " ").split())


def _initials(folded: str) -> str:
    return "".join(part[0] for part in folded.split())


def first_names_compatible(a: str | None, b: str | None, nicknames: Mapping[str, str] = NICKNAMES) -> bool:
    if not a or not b:
        return True
    x, y = fold(a), fold(b)
    if x == y:
        return True
    x, y = nicknames.get(x, x), nicknames.get(y, y)
    if x == y:
        return True
    short, long = sorted((x, y), key=len)
    if len(short.replace(" ", "")) <= 2 and short.replace(" ", "") == _initials(long)[: len(short.replace(" ", ""))]:
        return True  # an initial, or the initials of a compound name (J, JP)
    if len(short.split()) < len(long.split()):
        long = long.split()[0]  # Jean / Jean Pierre: the compound's first part
    return _one_typo_apart(short, long)


def _one_typo_apart(x: str, y: str) -> bool:
    """Equal, or one typo apart (a letter missed, added, changed, or two swapped) in a name of four letters or
    more; in a shorter one only two swapped letters, since Léo and Léa, Ana and Ane are different people."""
    if x == y:
        return True
    if OSA.distance(x, y, score_cutoff=1) > 1:
        return False
    return min(len(x), len(y)) >= 4 or sorted(x) == sorted(y)


def birth_dates_compatible(a: date | None, b: date | None) -> bool:
    if a is None or b is None or a == b:
        return True
    return a.year == b.year and a.day == b.month and a.month == b.day


def groups_compatible(first_names_a: Iterable[str], first_names_b: Iterable[str], births_a: Iterable[date],
                      births_b: Iterable[date], nicknames: Mapping[str, str] = NICKNAMES) -> str | None:
    """Why two groups of records cannot be one person, or None when every pair across them is compatible."""
    births_b = list(births_b)
    for x in births_a:
        for y in births_b:
            if not birth_dates_compatible(x, y):
                return f"birth dates differ ({x} and {y})"
    first_names_b = list(first_names_b)
    for x in first_names_a:
        for y in first_names_b:
            if not first_names_compatible(x, y, nicknames):
                return f"first names differ ({x} and {y})"
    return None
