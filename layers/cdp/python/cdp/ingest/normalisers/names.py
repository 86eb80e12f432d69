"""Person and place names: NFC, single spaces, each part capitalised, particles kept low after the first word."""

from __future__ import annotations

import unicodedata

import pyarrow as pa
import pyarrow.compute as pc

from cdp.ingest.normalisers.common import (
    STRING_NULL,
    Normalised,
    collapse_spaces,
    flag,
    has_non_ascii,
    per_distinct,
)

NAME_PARTICLES = frozenset({"de", "du", "des", "la", "le", "van", "von", "der", "den", "di", "da", "dos", "del", "y"})

# A title-cased name that needs a closer look: a particle after the first word, or an elided d' or l'.
_NAME_NEEDS_PARTICLES = (
    r" (?:" + "|".join(sorted(p.title() for p in NAME_PARTICLES)) + r")(?: |$)|(?:^|[ -])[DL]'"
)

# Where Arrow's title case could differ from the reference casing: a letter after a sign other than a space,
# hyphen or apostrophe (3rd, (jean), o’neil), several apostrophes, or a particle.
_NAME_NEEDS_REFERENCE = r"[^\pL\s'-]\pL|'.*'|" + _NAME_NEEDS_PARTICLES


def reference_name_case(value: str) -> str:
    """The reference casing, value by value: what the vectorised path gives wherever it is used."""
    value = unicodedata.normalize("NFC", " ".join(value.split()))
    words = []
    for index, word in enumerate(value.split(" ")):
        if index > 0 and word.lower() in NAME_PARTICLES:
            words.append(word.lower())
            continue
        # Capitalise each part of hyphenated and apostrophed names: Jean-Pierre, O'Neil, d'Artagnan stays lower.
        word = "-".join(p[:1].upper() + p[1:].lower() for p in word.split("-"))
        if "'" in word:
            head, _, tail = word.partition("'")
            word = (head.lower() if head.lower() in ("d", "l") else head) + "'" + tail[:1].upper() + tail[1:]
        words.append(word)
    return " ".join(words)


def name(raw: pa.Array) -> Normalised:
    """NFC, single spaces, and each part of hyphenated and apostrophed names capitalised (Jean-Pierre, O'Neil),
    with particles kept low (de la Fontaine, d'Artagnan) after the first word.

    Arrow's title case gives that for plain names; names where it could differ (particles, elisions, a letter
    after a digit or other sign) take the reference path, once per distinct value.
    """
    has_letter = flag(pc.match_substring_regex(raw, r"\pL"))
    text = pc.if_else(has_letter, raw, STRING_NULL)
    if has_non_ascii(text):
        text = pc.utf8_normalize(text, "NFC")
    text = collapse_spaces(text)
    cased = pc.utf8_title(text)
    odd = flag(pc.match_substring_regex(cased, _NAME_NEEDS_REFERENCE))
    if pc.any(odd).as_py():
        cased = pc.replace_with_mask(cased, odd, per_distinct(text.filter(odd), reference_name_case))
    return Normalised(cased, pc.and_(pc.is_valid(raw), pc.invert(has_letter)), "name_letters")
