"""Column normalisers: each takes a column of text and returns normalised values plus a mask of invalid entries.

They run on whole Arrow arrays with Arrow's compute kernels (RE2 regular expressions, Unicode case and
normalisation) and DuckDB's date parsing, so no Python code runs per row. Where a library must look at a value
(phone numbers outside the default region, country names) it looks at each *distinct* value once.
"""

from __future__ import annotations

import gettext
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

import duckdb
import numpy as np
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
import pycountry

from cdp.schemas import TIMESTAMP

# Tokens that exports use for "no value"; they must never become identifiers.
NULL_TOKENS = frozenset({"", "null", "n/a", "na", "none", "nan", "nil", "-", "--", "?", "#n/a", "undefined", "(null)"})

TRUE_TOKENS = frozenset({"true", "t", "1", "yes", "y", "oui", "o", "vrai", "ja", "si", "sí"})
FALSE_TOKENS = frozenset({"false", "f", "0", "no", "n", "non", "faux", "nein"})

# Deliberately stricter than RFC 5322: addresses that marketing systems can actually send to.
EMAIL_PATTERN = r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$"

NAME_PARTICLES = frozenset({"de", "du", "des", "la", "le", "van", "von", "der", "den", "di", "da", "dos", "del", "y"})

# RE2's \s is ASCII only; exports also carry no-break and narrow no-break spaces.
_SPACE = r"[\s\x{00a0}\x{202f}]"
_PHONE_PUNCTUATION = r"[\s.\-()/\x{00a0}]"
_NUMBER = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"
# A title-cased name that needs a closer look: a particle after the first word, or an elided d' or l'.
_NAME_NEEDS_PARTICLES = (
    r" (?:" + "|".join(sorted(p.title() for p in NAME_PARTICLES)) + r")(?: |$)|(?:^|[ -])[DL]'"
)

# Where Arrow's title case could differ from the reference: a letter after a sign other than a space, hyphen
# or apostrophe (3rd, (jean), o’neil), or several apostrophes.
_NAME_CASE_DIFFERS = r"[^\pL\s'-]\pL|'.*'"

_STRING_NULL = pa.scalar(None, pa.string())


@dataclass(frozen=True)
class Normalised:
    values: pa.Array
    invalid: pa.Array  # boolean, never null: True where a non-null input could not be read as the expected type
    rule: str


def _flag(mask: pa.Array) -> pa.Array:
    return pc.fill_null(mask, False)


def _invalid(raw: pa.Array, values: pa.Array) -> pa.Array:
    """Present in the input, missing after normalisation."""
    return pc.and_(pc.is_valid(raw), pc.is_null(values))


def as_text(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous string array, whatever Arrow gave (chunks, large strings)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    return values if values.type == pa.string() else values.cast(pa.string())


def strip_nulls(raw: pa.Array) -> pa.Array:
    """Trim text and read null-like tokens as missing."""
    text = as_text(raw)
    if pc.any(pc.match_substring(text, "\x00")).as_py():
        text = pc.replace_substring(text, "\x00", "")
    text = pc.utf8_trim_whitespace(text)
    tokens = pc.is_in(pc.utf8_lower(text), value_set=_value_set(NULL_TOKENS))
    return pc.if_else(tokens, _STRING_NULL, text)


@cache
def _value_set(tokens: frozenset[str]) -> pa.Array:
    return pa.array(sorted(tokens), pa.string())


def per_distinct(values: pa.Array, function: Callable[[str], object], type: pa.DataType = pa.string()) -> pa.Array:
    """Apply a Python function once per distinct non-null value, and spread the results back over the rows."""
    if values.null_count == len(values):
        return pa.nulls(len(values), type)
    encoded = pc.dictionary_encode(values)
    mapped = pa.array([function(value) for value in encoded.dictionary.to_pylist()], type=type)
    return mapped.take(encoded.indices)


def email(raw: pa.Array) -> Normalised:
    text = pc.replace_substring_regex(pc.utf8_lower(raw), _SPACE + "+", "")
    valid = _flag(pc.match_substring_regex(text, EMAIL_PATTERN))
    return Normalised(pc.if_else(valid, text, _STRING_NULL), pc.and_(pc.is_valid(raw), pc.invert(valid)),
                      "email_syntax")


_NUMBER_TYPES = ("fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost", "personal_number", "voip",
                 "pager", "uan", "voicemail")


@cache
def _region_fast_path(region: str) -> tuple[str, str] | None:
    """(prefix pattern, valid national number pattern) of a region, from phonenumbers' own metadata.

    Most numbers in an export belong to its default region; matching them with one vectorised regex built from
    the library's metadata gives the library's answer without parsing each number in Python.
    """
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if metadata is None or metadata.national_prefix_for_parsing not in (None, metadata.national_prefix):
        return None
    patterns = [d.national_number_pattern for t in _NUMBER_TYPES
                if (d := getattr(metadata, t)) is not None and d.national_number_pattern]
    code = metadata.country_code
    national = f"|{metadata.national_prefix}" if metadata.national_prefix else ""
    return rf"^(?:\+{code}|00{code}{national})", "^(?:" + "|".join(patterns) + ")$"


def _to_e164(value: str, region: str) -> str | None:
    candidate = "+" + value[2:] if value.startswith("00") else value
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone(raw: pa.Array, default_region: str) -> Normalised:
    fast = _region_fast_path(default_region)
    if fast is not None:
        prefix, valid = fast
        code = phonenumbers.country_code_for_region(default_region)
        compact = pc.replace_substring_regex(raw, _PHONE_PUNCTUATION, "")
        # "00" opens an international number too: 0049... is German, not a French number with prefix 0.
        foreign = pc.and_(pc.starts_with(compact, "00"), pc.invert(pc.starts_with(compact, f"00{code}")))
        in_region = _flag(pc.and_(pc.match_substring_regex(compact, prefix), pc.invert(foreign)))
        national = pc.replace_substring_regex(compact, prefix, "", max_replacements=1)
        is_valid = _flag(pc.match_substring_regex(national, valid))
        e164 = pc.if_else(pc.and_(in_region, is_valid),
                          pc.binary_join_element_wise(f"+{code}", national, ""), _STRING_NULL)
        # The library would say the same of a plain run of digits in the region that fits no number pattern.
        known_invalid = pc.and_(pc.and_(in_region, pc.invert(is_valid)),
                                _flag(pc.match_substring_regex(national, r"^\d+$")))
        rest = pc.if_else(pc.or_(pc.is_valid(e164), known_invalid), _STRING_NULL, raw)
    else:
        e164, rest = pa.nulls(len(raw), pa.string()), raw
    if rest.null_count < len(rest):
        e164 = pc.coalesce(e164, per_distinct(rest, lambda value: _to_e164(value, default_region)))
    return Normalised(e164, _invalid(raw, e164), "phone_e164")


def _name_case(value: str) -> str:
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
    has_letter = _flag(pc.match_substring_regex(raw, r"\pL"))
    text = pc.replace_substring_regex(pc.utf8_normalize(pc.if_else(has_letter, raw, _STRING_NULL), "NFC"),
                                      _SPACE + "+", " ")
    cased = pc.utf8_title(text)
    odd = _flag(pc.or_(pc.match_substring_regex(cased, _NAME_NEEDS_PARTICLES),
                       pc.match_substring_regex(text, _NAME_CASE_DIFFERS)))
    if pc.any(odd).as_py():
        cased = pc.if_else(odd, per_distinct(pc.if_else(odd, text, _STRING_NULL), _name_case), cased)
    return Normalised(cased, pc.and_(pc.is_valid(raw), pc.invert(has_letter)), "name_letters")


_duckdb = threading.local()


def _connection() -> duckdb.DuckDBPyConnection:
    """One DuckDB connection per thread (connections are not shared across threads), in UTC."""
    con = getattr(_duckdb, "con", None)
    if con is None:
        con = duckdb.connect(config={"threads": 1})
        try:
            con.execute("SET TimeZone = 'UTC'")
        except duckdb.Error:
            pass  # without the ICU extension DuckDB reads and writes TIMESTAMPTZ in UTC already
        _duckdb.con = con
    return con


def sql_over(columns: dict[str, pa.Array], query: str) -> pa.Table:
    """Run a DuckDB query over arrays given as the table ``batch``."""
    batch = pa.table(columns)  # noqa: F841 (read by DuckDB's replacement scan)
    con = _connection()
    con.register("batch", batch)
    try:
        return con.sql(query).to_arrow_table()
    finally:
        con.unregister("batch")


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _parse_datetimes(raw: pa.Array, formats: tuple[str, ...]) -> pa.Array:
    """ISO 8601 first (with or without time and offset), then each format in order; naive times are UTC.

    DuckDB rejects impossible dates (31/02) where Arrow's strptime would roll them over into March.
    """
    parsed = "try_cast(v AS TIMESTAMPTZ)"
    if formats:
        parsed = f"coalesce({parsed}, try_strptime(v, [{', '.join(map(_quoted, formats))}])::TIMESTAMPTZ)"
    result = sql_over({"v": raw}, f"SELECT {parsed} AS t FROM batch")["t"]
    return result.combine_chunks().cast(TIMESTAMP)


def date(raw: pa.Array, formats: tuple[str, ...], today: datetime | None = None) -> Normalised:
    """Calendar dates; impossible (31/02) and future dates are invalid, and so is anything before 1900."""
    today = today or datetime.now(UTC)
    parsed = _parse_datetimes(raw, formats)
    plausible = pc.and_(pc.greater_equal(parsed, pa.scalar(datetime(1900, 1, 1, tzinfo=UTC), TIMESTAMP)),
                        pc.less_equal(parsed, pa.scalar(today, TIMESTAMP)))
    values = pc.if_else(_flag(plausible), parsed, pa.scalar(None, TIMESTAMP))
    return Normalised(values.cast(pa.date32()), pc.and_(pc.is_valid(raw), pc.invert(_flag(plausible))), "date")


def timestamp(raw: pa.Array, formats: tuple[str, ...]) -> Normalised:
    parsed = _parse_datetimes(raw, formats)
    return Normalised(parsed, _invalid(raw, parsed), "datetime")


def boolean(raw: pa.Array) -> Normalised:
    lowered = pc.utf8_lower(raw)
    true = pc.is_in(lowered, value_set=_value_set(TRUE_TOKENS))
    false = pc.is_in(lowered, value_set=_value_set(FALSE_TOKENS))
    values = pc.if_else(true, True, pc.if_else(false, False, pa.scalar(None, pa.bool_())))
    return Normalised(values, _invalid(raw, values), "boolean")


def number(raw: pa.Array, *, integer: bool = False) -> Normalised:
    # European exports write 12,50: a lone comma is a decimal separator; spaces group thousands.
    text = pc.replace_substring_regex(raw, _SPACE, "")
    text = pc.if_else(_flag(pc.match_substring(text, ".")), text, pc.replace_substring(text, ",", "."))
    numeric = _flag(pc.match_substring_regex(text, _NUMBER))
    values = pc.if_else(numeric, text, _STRING_NULL).cast(pa.float64())
    if not integer:
        return Normalised(values, _invalid(raw, values), "number")
    # Whole numbers only, and within the range where a float64 holds every integer exactly.
    whole = _flag(pc.and_(pc.equal(pc.floor(values), values), pc.less_equal(pc.abs(values), 2.0**53)))
    integers = pc.if_else(whole, values, pa.scalar(None, pa.float64())).cast(pa.int64())
    return Normalised(integers, _invalid(raw, integers), "integer")


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
    return Normalised(codes, _invalid(raw, codes), "country_iso3166")


def text(raw: pa.Array) -> Normalised:
    return Normalised(raw, pa.array(np.zeros(len(raw), dtype=bool)), "text")
