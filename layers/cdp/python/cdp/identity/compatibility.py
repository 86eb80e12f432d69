"""Can two records be the same person? First names and birth dates that clearly differ say no, however strong the
link that proposed them: that is what keeps a household (shared address, landline, family mailbox) apart.

The same first name: equal once folded (case, accents, hyphens), a nickname or an initial of the other. A close
one: the first part of a compound (Jean / Jean-Pierre) or one typo apart (a letter missed, added or changed, two
swapped), but never another name (Jean / Jeanne, Léo / Léa); a close first name needs the last names to agree.
Compatible birth dates: equal, or day and month swapped. A missing value is no evidence either way.
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


SAME, CLOSE = "same", "close"
# Endings that make another first name, often the other sex's: Jean/Jeanne, Louis/Louise, Julie/Julien, Paul/Paula.
_OTHER_NAME_ENDINGS = ("e", "a", "n", "ne", "le", "te")


def first_name_match(a: str | None, b: str | None, nicknames: Mapping[str, str] = NICKNAMES) -> str | None:
    """SAME (equal, a nickname, an initial, or missing), CLOSE (a compound's first part, one typo) or None."""
    if not a or not b:
        return SAME
    x, y = fold(a), fold(b)
    if x == y:
        return SAME
    x, y = nicknames.get(x, x), nicknames.get(y, y)
    if x == y:
        return SAME
    short, long = sorted((x, y), key=len)
    if len(short.replace(" ", "")) <= 2 and short.replace(" ", "") == _initials(long)[: len(short.replace(" ", ""))]:
        return SAME  # an initial, or the initials of a compound name (J, JP)
    if len(short.split()) < len(long.split()):
        long = long.split()[0]  # Jean / Jean Pierre: the compound's first part
        if long == short:
            return CLOSE
    return CLOSE if _one_typo_apart(short, long) else None


def first_names_compatible(a: str | None, b: str | None, nicknames: Mapping[str, str] = NICKNAMES) -> bool:
    return first_name_match(a, b, nicknames) is not None


def last_names_compatible(a: str | None, b: str | None) -> bool:
    """Equal, one typo apart, or one part of the other (a double-barrelled name); missing is no evidence."""
    if not a or not b:
        return True
    x, y = fold(a), fold(b)
    return x == y or _one_typo_apart(x, y) or set(x.split()) <= set(y.split()) or set(y.split()) <= set(x.split())


def names_compatible(first_a: str | None, last_a: str | None, first_b: str | None, last_b: str | None,
                     nicknames: Mapping[str, str] = NICKNAMES) -> bool:
    """First names that are the same (or a nickname, an initial) allow any last name (marriage changes it); first
    names that are only close (a typo, a compound's part) need the last names to agree too."""
    match = first_name_match(first_a, first_b, nicknames)
    return match == SAME or (match == CLOSE and last_names_compatible(last_a, last_b))


def _one_typo_apart(x: str, y: str) -> bool:
    """Equal, or one typo apart (a letter missed, added, changed, or two swapped) in a name of four letters or
    more; in a shorter one only two swapped letters, since Léo and Léa, Ana and Ane are different people."""
    if x == y:
        return True
    if OSA.distance(x, y, score_cutoff=1) > 1:
        return False
    short, long = sorted((x, y), key=len)
    if long.startswith(short) and long[len(short):] in _OTHER_NAME_ENDINGS:
        return False
    return min(len(x), len(y)) >= 4 or sorted(x) == sorted(y)


def birth_dates_compatible(a: date | None, b: date | None) -> bool:
    if a is None or b is None or a == b:
        return True
    return a.year == b.year and a.day == b.month and a.month == b.day


def groups_compatible(names_a: Iterable[tuple[str | None, str | None]],
                      names_b: Iterable[tuple[str | None, str | None]], births_a: Iterable[date],
                      births_b: Iterable[date], nicknames: Mapping[str, str] = NICKNAMES) -> str | None:
    """Why two groups of records cannot be one person, or None when every pair across them is compatible.
    ``names_*`` hold (first name, last name) pairs."""
    births_b = list(births_b)
    for x in births_a:
        for y in births_b:
            if not birth_dates_compatible(x, y):
                return f"birth dates differ ({x} and {y})"
    names_b = list(names_b)
    for first_a, last_a in names_a:
        for first_b, last_b in names_b:
            if not names_compatible(first_a, last_a, first_b, last_b, nicknames):
                if first_names_compatible(first_a, first_b, nicknames):
                    return f"names differ ({first_a} {last_a} and {first_b} {last_b})"
                return f"first names differ ({first_a} and {first_b})"
    return None
