"""Can two records be the same person? First names and birth dates that clearly differ say no, however strong the
link that proposed them: that is what keeps a household (shared address, landline, family mailbox) apart.

The same first name: equal once folded (case, accents, hyphens), a nickname or an initial of the other. A close
one: the first part of a compound (Jean / Jean-Pierre) or one typo apart (a letter missed, added or changed, two
swapped), but never another name (Jean / Jeanne, Léo / Léa); a close first name needs the last names to agree.
Where both sides state the same birth date, a first name keyed in carelessly is close too: cut short (Kayl), split
by a stray space (Emi Ilu) or two typos off (Maruc): a household rarely holds two people born the same day, and
twins' names differ by more than a slip of the keyboard.
Compatible birth dates: equal, day and month swapped, or one digit mistyped (1984 / 1983, 15 / 25) or two swapped
where that leaves them less than a generation apart: a parent and a child of the same name are born 18 years or
more apart. A missing value is no evidence either way.
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
    if name.isascii():  # most names: nothing to decompose
        return " ".join(name.lower().replace("-", " ").replace(".", " ").replace("'", " ").split())
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.replace("-", " ").replace(".", " ").replace("'", " ").split())


def _initials(folded: str) -> str:
    return "".join(part[0] for part in folded.split())


SAME, CLOSE = "same", "close"
# Endings that make another first name, often the other sex's: Jean/Jeanne, Louis/Louise, Julie/Julien, Paul/Paula.
_OTHER_NAME_ENDINGS = ("e", "a", "n", "ne", "le", "te")


def first_name_match(a: str | None, b: str | None, nicknames: Mapping[str, str] = NICKNAMES,
                     same_birth: bool = False) -> str | None:
    """SAME (equal, a nickname, an initial, or missing), CLOSE (a compound's first part, one typo; with
    ``same_birth``, a careless entry) or None."""
    if not a or not b:
        return SAME
    x, y = fold(a), fold(b)
    if x == y:
        return SAME
    as_written = x, y
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
    if _one_typo_apart(short, long) or (same_birth and _careless_entry(*as_written)):
        return CLOSE
    return None


def _careless_entry(x: str, y: str) -> bool:
    """Spaces aside: one cut short (two letters kept at least), a letter missed, added or two swapped at three
    letters, or two typos at five; never the other name an ending makes (Louis / Louise), nor one letter changed
    in a short name (Léo / Léa)."""
    x, y = x.replace(" ", ""), y.replace(" ", "")
    short, long = sorted((x, y), key=len)
    if long.startswith(short):
        return len(short) >= 2 and long[len(short):] not in _OTHER_NAME_ENDINGS
    typos = OSA.distance(short, long, score_cutoff=2)
    if typos == 1:
        return len(short) >= 4 or (len(short) == 3 and (len(long) == 4 or sorted(short) == sorted(long)))
    return typos == 2 and len(short) >= 5


def first_names_compatible(a: str | None, b: str | None, nicknames: Mapping[str, str] = NICKNAMES,
                           same_birth: bool = False) -> bool:
    return first_name_match(a, b, nicknames, same_birth) is not None


def last_names_compatible(a: str | None, b: str | None) -> bool:
    """Equal, one typo apart, or one part of the other (a double-barrelled name); missing is no evidence."""
    if not a or not b:
        return True
    x, y = fold(a), fold(b)
    return x == y or _one_typo_apart(x, y) or set(x.split()) <= set(y.split()) or set(y.split()) <= set(x.split())


def names_compatible(first_a: str | None, last_a: str | None, first_b: str | None, last_b: str | None,
                     nicknames: Mapping[str, str] = NICKNAMES, same_birth: bool = False) -> bool:
    """First names that are the same (or a nickname, an initial) allow any last name (marriage changes it); first
    names that are only close (a typo, a compound's part) need the last names to agree too."""
    match = first_name_match(first_a, first_b, nicknames, same_birth)
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


GENERATION_YEARS = 15  # birth dates a mistyped digit apart, no further: beyond, a parent and a child


def birth_dates_compatible(a: date | None, b: date | None) -> bool:
    if a is None or b is None or a == b:
        return True
    if a.year == b.year and a.day == b.month and a.month == b.day:
        return True
    return abs(a.year - b.year) < GENERATION_YEARS and _one_digit_slip(a.strftime("%Y%m%d"), b.strftime("%Y%m%d"))


def _one_digit_slip(x: str, y: str) -> bool:
    """One digit changed, or two adjacent digits swapped."""
    differ = [i for i, (u, v) in enumerate(zip(x, y, strict=True)) if u != v]
    return len(differ) == 1 or (len(differ) == 2 and differ[1] == differ[0] + 1
                                and x[differ[0]] == y[differ[1]] and x[differ[1]] == y[differ[0]])


def groups_compatible(names_a: Iterable[tuple[str | None, str | None]],
                      names_b: Iterable[tuple[str | None, str | None]], births_a: Iterable[date],
                      births_b: Iterable[date], nicknames: Mapping[str, str] = NICKNAMES) -> str | None:
    """Why two groups of records cannot be one person, or None when every pair across them is compatible.
    ``names_*`` hold (first name, last name) pairs."""
    births_a, births_b = list(births_a), list(births_b)
    for x in births_a:
        for y in births_b:
            if not birth_dates_compatible(x, y):
                return f"birth dates differ ({x} and {y})"
    same_birth = bool(set(births_a) & set(births_b))
    names_b = list(names_b)
    for first_a, last_a in names_a:
        for first_b, last_b in names_b:
            if not names_compatible(first_a, last_a, first_b, last_b, nicknames, same_birth):
                if first_names_compatible(first_a, first_b, nicknames, same_birth):
                    return f"names differ ({first_a} {last_a} and {first_b} {last_b})"
                return f"first names differ ({first_a} and {first_b})"
    return None
