"""Other typed values: booleans (in several languages), numbers (decimal commas), countries (ISO codes)."""

from __future__ import annotations

import gettext
import unicodedata
from functools import cache

import pyarrow as pa
import pyarrow.compute as pc
import pycountry

from cdp.ingest.normalisers.common import SPACE, STRING_NULL, Normalised, flag, invalid_where, per_distinct, value_set

TRUE_TOKENS = frozenset({"true", "t", "1", "yes", "y", "oui", "o", "vrai", "ja", "si", "sí"})
FALSE_TOKENS = frozenset({"false", "f", "0", "no", "n", "non", "faux", "nein"})

_NUMBER = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"

def boolean(raw: pa.Array) -> Normalised:
    lowered = pc.utf8_lower(raw)
    true = pc.is_in(lowered, value_set=value_set(TRUE_TOKENS))
    false = pc.is_in(lowered, value_set=value_set(FALSE_TOKENS))
    values = pc.if_else(true, True, pc.if_else(false, False, pa.scalar(None, pa.bool_())))
    return Normalised(values, invalid_where(raw, values), "boolean")


def number(raw: pa.Array, *, integer: bool = False) -> Normalised:
    # European exports write 12,50: a lone comma is a decimal separator; spaces group thousands.
    text = pc.replace_substring_regex(raw, SPACE, "")
    text = pc.if_else(flag(pc.match_substring(text, ".")), text, pc.replace_substring(text, ",", "."))
    numeric = flag(pc.match_substring_regex(text, _NUMBER))
    values = pc.if_else(numeric, text, STRING_NULL).cast(pa.float64())
    if not integer:
        return Normalised(values, invalid_where(raw, values), "number")
    # Whole numbers only, and within the range where a float64 holds every integer exactly.
    whole = flag(pc.and_(pc.equal(pc.floor(values), values), pc.less_equal(pc.abs(values), 2.0**53)))
    integers = pc.if_else(whole, values, pa.scalar(None, pa.float64())).cast(pa.int64())
    return Normalised(integers, invalid_where(raw, integers), "integer")


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("-", " ").strip()


@cache
def _country_aliases() -> dict[str, str]:
    """ISO codes, English names and their French, German, Spanish, Italian, Dutch and Portuguese translations."""
    aliases: dict[str, str] = {}
    translations = []
    for language in ("fr", "de", "es", "it", "nl", "pt"):
        try:
            translations.append(gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language]))
        except OSError:
            continue
    for country in pycountry.countries:
        code = country.alpha_2
        names = {country.alpha_2, country.alpha_3, country.name, getattr(country, "common_name", country.name)}
        names |= {t.gettext(country.name) for t in translations}
        for alias in names:
            aliases[_fold(alias)] = code
    aliases.update({"uk": "GB", "england": "GB", "angleterre": "GB", "usa": "US", "holland": "NL"})
    return aliases


def country(raw: pa.Array) -> Normalised:
    aliases = _country_aliases()
    codes = per_distinct(raw, lambda value: aliases.get(_fold(value)))
    return Normalised(codes, invalid_where(raw, codes), "country_iso3166")
