"""Column normalisers: each takes a column of text and returns normalised values plus a mask of invalid entries.

They run on whole Arrow arrays with Arrow's compute kernels (RE2 regular expressions, Unicode case and
normalisation) and DuckDB's date parsing, so no Python code runs per row. Where a library must look at a value
(phone numbers outside the default region, country names) it looks at each *distinct* value once.
"""

from __future__ import annotations

import gettext
import itertools
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from datetime import date as date_type
from functools import cache

import duckdb
import numpy as np
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
import pycountry

from cdp import sql
from cdp.tables import TIMESTAMP

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

# Where Arrow's title case could differ from the reference casing: a letter after a sign other than a space,
# hyphen or apostrophe (3rd, (jean), o’neil), several apostrophes, or a particle.
_NAME_NEEDS_REFERENCE = r"[^\pL\s'-]\pL|'.*'|" + _NAME_NEEDS_PARTICLES

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


def _offsets(text: pa.Array) -> np.ndarray:
    """Where each value of a string array starts and ends in its data buffer (len + 1 entries), without copying."""
    if not len(text) or text.buffers()[1] is None:
        return np.zeros(1, dtype=np.int32)
    return np.frombuffer(text.buffers()[1], dtype=np.int32, count=len(text) + 1, offset=4 * text.offset)


def _value_bytes(text: pa.Array) -> np.ndarray:
    """The UTF-8 bytes of a string array's values, without copying."""
    offsets = _offsets(text)
    data = text.buffers()[2]
    if data is None or offsets[-1] == offsets[0]:
        return np.zeros(0, dtype=np.uint8)
    return np.frombuffer(data, dtype=np.uint8)[offsets[0]:offsets[-1]]


def _has_non_ascii(text: pa.Array) -> bool:
    data = _value_bytes(text)
    return bool(len(data)) and int(data.max()) >= 0x80


# First and last bytes of a value that may be (part of) white space: ASCII spaces and controls, the lead bytes
# of no-break (C2 A0), Ogham, and the general-punctuation and ideographic spaces (E1, E2, E3), and any
# continuation byte at the end.
_MAY_OPEN_SPACE = np.zeros(256, dtype=bool)
_MAY_OPEN_SPACE[[9, 10, 11, 12, 13, 0x20, 0xC2, 0xE1, 0xE2, 0xE3]] = True
_MAY_CLOSE_SPACE = np.zeros(256, dtype=bool)
_MAY_CLOSE_SPACE[[9, 10, 11, 12, 13, 0x20]] = True
_MAY_CLOSE_SPACE[0x80:0xC0] = True


def _may_have_outer_spaces(text: pa.Array) -> bool:
    """Whether some value may start or end with white space, from its first and last bytes only."""
    offsets = _offsets(text)
    starts, ends = offsets[:-1], offsets[1:]
    present = ends > starts
    if not present.any():
        return False
    data = np.frombuffer(text.buffers()[2], dtype=np.uint8)
    return bool(_MAY_OPEN_SPACE[data[starts[present]]].any() or _MAY_CLOSE_SPACE[data[ends[present] - 1]].any())


def strip_nulls(raw: pa.Array) -> pa.Array:
    """Trim text and read null-like tokens as missing."""
    text = as_text(raw)
    data = _value_bytes(text)
    if len(data) and data.min() == 0:  # a NUL byte somewhere: a column-wide test, far cheaper than a search
        text = pc.replace_substring(text, "\x00", "")
    if _may_have_outer_spaces(text):
        text = pc.utf8_trim_whitespace(text)
    # Every upper/lower-case spelling of the tokens is in the set: no need to lower-case the whole column.
    return pc.if_else(pc.is_in(text, value_set=_null_token_spellings()), _STRING_NULL, text)


@cache
def _null_token_spellings() -> pa.Array:
    spellings: set[str] = set()
    for token in NULL_TOKENS:
        spellings |= {"".join(chars) for chars in itertools.product(*({c.lower(), c.upper()} for c in token))}
    return pa.array(sorted(spellings), pa.string())


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
    # A valid address is ASCII (see EMAIL_PATTERN): ASCII lower-casing is enough and much cheaper.
    text = pc.ascii_lower(raw)
    valid = _flag(pc.match_substring_regex(text, EMAIL_PATTERN))
    bad = pc.and_(pc.is_valid(raw), pc.invert(valid))
    if pc.any(bad).as_py():
        # Spaces typed inside an address (jean .dupont@…) are dropped, and those addresses checked again.
        fixed = pc.replace_substring_regex(text.filter(bad), _SPACE + "+", "")
        text = pc.replace_with_mask(text, bad, fixed)
        valid = pc.replace_with_mask(valid, bad, _flag(pc.match_substring_regex(fixed, EMAIL_PATTERN)))
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


def _compact_phone(raw: pa.Array) -> pa.Array:
    """Phone numbers without spaces, dots, dashes, brackets or slashes."""
    if raw.offset or _has_non_ascii(raw):  # no-break spaces and the like
        return pc.replace_substring_regex(raw, _PHONE_PUNCTUATION, "")
    # ASCII only: drop the separator bytes from the values buffer in one numpy pass.
    offsets = _offsets(raw)
    data = _value_bytes(raw)
    keep = _KEEP_IN_PHONE[data]
    kept_before = np.concatenate([[0], np.cumsum(keep)]).astype(np.int32)
    new_offsets = kept_before[offsets - offsets[0]]
    return pa.StringArray.from_buffers(len(raw), pa.py_buffer(new_offsets), pa.py_buffer(data[keep].tobytes()),
                                       raw.buffers()[0], raw.null_count)


_KEEP_IN_PHONE = np.ones(256, dtype=bool)
_KEEP_IN_PHONE[np.frombuffer(b" \t.-()/", dtype=np.uint8)] = False


def _known_invalid(compact: pa.Array, prefix: str, code: int, trunk: str | None) -> pa.Array:
    """Numbers that the region's patterns refused and that the library would refuse too."""
    if len(phonenumbers.region_codes_for_country_code(code)) > 1:
        # A +1 or +44 number invalid here may be valid in a neighbour sharing the code (Canada, Jersey…).
        return pa.array(np.zeros(len(compact), dtype=bool))
    foreign = pc.and_(pc.starts_with(compact, "00"), pc.invert(pc.starts_with(compact, f"00{code}")))
    digits = pc.replace_substring_regex(compact, prefix, "", max_replacements=1)
    # Digits that open with the trunk prefix again (+33 06…) are for the library, which strips it.
    plain = rf"^[^{trunk[0]}\D]\d*$" if trunk else r"^\d+$"
    return _flag(pc.and_(pc.and_(pc.match_substring_regex(compact, prefix), pc.invert(foreign)),
                         pc.match_substring_regex(digits, plain)))


def phone(raw: pa.Array, default_region: str) -> Normalised:
    fast = _region_fast_path(default_region)
    if fast is None:
        e164 = per_distinct(raw, lambda value: _to_e164(value, default_region))
        return Normalised(e164, _invalid(raw, e164), "phone_e164")
    prefix, valid = fast
    code = phonenumbers.country_code_for_region(default_region)
    compact = _compact_phone(raw)
    # One pass: the region's prefix (+33, 0033 or 0) then a number valid in the region; the prefix is then
    # rewritten as +33 by position, cheaper than a regular expression.
    in_region = _flag(pc.match_substring_regex(compact, prefix + valid[1:]))
    international = pc.starts_with(compact, "00")
    e164 = pc.if_else(international, pc.utf8_replace_slice(compact, 0, 2, "+"), compact)
    trunk = phonenumbers.PhoneMetadata.metadata_for_region(default_region).national_prefix
    if trunk:
        national = pc.and_(pc.starts_with(compact, trunk), pc.invert(international))
        e164 = pc.if_else(national, pc.utf8_replace_slice(compact, 0, len(trunk), f"+{code}"), e164)
    e164 = pc.if_else(in_region, e164, _STRING_NULL)
    rest = pc.and_(pc.is_null(e164), pc.is_valid(raw))
    if pc.any(rest).as_py():
        # What the regex did not take goes to the library once per value (+49…, 0049…, letters, +33 06…),
        # except plain digits after the region's prefix, which the library would call invalid as well.
        others = compact.filter(rest)
        parse = pc.invert(_known_invalid(others, prefix, code, trunk))
        parsed = per_distinct(pc.if_else(parse, raw.filter(rest), _STRING_NULL),
                              lambda value: _to_e164(value, default_region))
        e164 = pc.replace_with_mask(e164, rest, parsed)
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


def _collapse_spaces(text: pa.Array) -> pa.Array:
    data = _value_bytes(text)
    if len(data) < 2:
        return text
    # Two spaces in a row, a tab or line break, or a no-break space (C2 A0) or narrow one (E2 80 AF).
    pairs = ((data[:-1] == 0x20) & (data[1:] == 0x20)) | ((data[:-1] == 0xC2) & (data[1:] == 0xA0)) \
        | ((data[:-1] == 0x80) & (data[1:] == 0xAF))
    if pairs.any() or np.isin(data, np.array([9, 10, 11, 12, 13], dtype=np.uint8)).any():
        return pc.replace_substring_regex(text, _SPACE + "+", " ")
    return text  # a single space between words already (the usual case)


def name(raw: pa.Array) -> Normalised:
    """NFC, single spaces, and each part of hyphenated and apostrophed names capitalised (Jean-Pierre, O'Neil),
    with particles kept low (de la Fontaine, d'Artagnan) after the first word.

    Arrow's title case gives that for plain names; names where it could differ (particles, elisions, a letter
    after a digit or other sign) take the reference path, once per distinct value.
    """
    has_letter = _flag(pc.match_substring_regex(raw, r"\pL"))
    text = pc.if_else(has_letter, raw, _STRING_NULL)
    if _has_non_ascii(text):
        text = pc.utf8_normalize(text, "NFC")
    text = _collapse_spaces(text)
    cased = pc.utf8_title(text)
    odd = _flag(pc.match_substring_regex(cased, _NAME_NEEDS_REFERENCE))
    if pc.any(odd).as_py():
        cased = pc.replace_with_mask(cased, odd, per_distinct(text.filter(odd), _name_case))
    return Normalised(cased, pc.and_(pc.is_valid(raw), pc.invert(has_letter)), "name_letters")


_duckdb = threading.local()


def _connection() -> duckdb.DuckDBPyConnection:
    """One DuckDB connection per thread (connections are not shared across threads), in UTC."""
    con = getattr(_duckdb, "con", None)
    if con is None:
        con = sql.connect(threads=1)
        _duckdb.con = con
    return con


def sql_over(columns: dict[str, pa.Array], query: str) -> pa.Table:
    """Run a DuckDB query over arrays given as the table ``batch``."""
    batch = pa.table(columns)
    con = _connection()
    con.register("batch", batch)
    try:
        return con.sql(query).to_arrow_table()
    finally:
        con.unregister("batch")


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _parse_with_duckdb(raw: pa.Array, formats: tuple[str, ...], kind: str) -> pa.Array:
    """ISO 8601 first (with or without time and offset), then each format in order; naive times are UTC.

    DuckDB rejects impossible dates (31/02) where Arrow's strptime would roll them over into March.
    """
    parsed = f"try_cast(v AS {kind})"
    if formats:
        parsed = f"coalesce({parsed}, try_strptime(v, [{', '.join(map(_quoted, formats))}])::{kind})"
    return sql_over({"v": raw}, f"SELECT {parsed} AS t FROM batch")["t"].combine_chunks()


def date(raw: pa.Array, formats: tuple[str, ...], today: datetime | None = None) -> Normalised:
    """Calendar dates; impossible (31/02) and future dates are invalid, and so is anything before 1900."""
    today = today or datetime.now(UTC)
    parsed = _parse_with_duckdb(raw, formats, "DATE").cast(pa.date32())
    plausible = _flag(pc.and_(pc.greater_equal(parsed, pa.scalar(date_type(1900, 1, 1), pa.date32())),
                              pc.less_equal(parsed, pa.scalar(today.date(), pa.date32()))))
    values = pc.if_else(plausible, parsed, pa.scalar(None, pa.date32()))
    return Normalised(values, pc.and_(pc.is_valid(raw), pc.invert(plausible)), "date")


def timestamp(raw: pa.Array, formats: tuple[str, ...]) -> Normalised:
    """Date-times; ISO 8601 with an offset is converted to UTC, and times without one are taken as UTC."""
    try:
        # Machine-written columns are usually clean ISO 8601 throughout: Arrow's cast reads them fastest.
        parsed = raw.cast(pa.timestamp("us")).cast(TIMESTAMP)
    except pa.ArrowInvalid:
        try:
            parsed = raw.cast(TIMESTAMP)
        except pa.ArrowInvalid:
            parsed = _parse_with_duckdb(raw, formats, "TIMESTAMPTZ").cast(TIMESTAMP)
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
