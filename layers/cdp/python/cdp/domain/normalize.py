"""Column normalisers: each takes raw text and returns normalised values plus a mask of invalid entries.

They work on whole columns (pandas/Arrow). Where a library must look at each value (phone numbers, Unicode
normalisation, country names) it looks at each *distinct* value once.
"""

from __future__ import annotations

import gettext
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

import pandas as pd
import phonenumbers
import pycountry

# Tokens that exports use for "no value"; they must never become identifiers.
NULL_TOKENS = frozenset({"", "null", "n/a", "na", "none", "nan", "nil", "-", "--", "?", "#n/a", "undefined", "(null)"})

TRUE_TOKENS = frozenset({"true", "t", "1", "yes", "y", "oui", "o", "vrai", "ja", "si", "sí"})
FALSE_TOKENS = frozenset({"false", "f", "0", "no", "n", "non", "faux", "nein"})

# Deliberately stricter than RFC 5322: addresses that marketing systems can actually send to.
EMAIL_PATTERN = r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$"

NAME_PARTICLES = frozenset({"de", "du", "des", "la", "le", "van", "von", "der", "den", "di", "da", "dos", "del", "y"})


@dataclass(frozen=True)
class Normalised:
    values: pd.Series
    invalid: pd.Series  # True where a non-null input could not be read as the expected type
    rule: str


def strip_nulls(raw: pd.Series) -> pd.Series:
    """Trim text and read null-like tokens as missing."""
    text = raw.astype("string").str.replace("\x00", "", regex=False).str.strip()
    return text.mask(text.str.lower().isin(NULL_TOKENS))


def _per_distinct(values: pd.Series, function: Callable[[str], object]) -> pd.Series:
    distinct = values.dropna().unique()
    mapping = {value: function(value) for value in distinct}
    return values.map(mapping)


def email(raw: pd.Series) -> Normalised:
    text = raw.str.lower().str.replace(r"\s+", "", regex=True)
    valid = text.str.match(EMAIL_PATTERN).fillna(False).astype(bool)
    return Normalised(text.where(valid), raw.notna() & ~valid, "email_syntax")


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
    return rf"^(?:\+{code}|00{code}{national})", "(?:" + "|".join(patterns) + ")"


def phone(raw: pd.Series, default_region: str) -> Normalised:
    e164 = pd.Series(pd.NA, index=raw.index, dtype="string")
    fast = _region_fast_path(default_region)
    if fast is not None:
        prefix, valid = fast
        compact = raw.str.replace(r"[\s.\-()/\u00a0]", "", regex=True)
        national = compact.str.replace(prefix, "", regex=True)
        code = phonenumbers.country_code_for_region(default_region)
        in_region = compact.str.match(prefix).fillna(False).astype(bool)
        # "00" opens an international number too: 0049... is German, not a French number with prefix 0.
        in_region &= ~(compact.str.startswith("00") & ~compact.str.startswith(f"00{code}")).fillna(False)
        is_valid = national.str.fullmatch(valid).fillna(False).astype(bool)
        e164 = e164.mask(in_region & is_valid, f"+{code}" + national)
        # The library would say the same of a plain run of digits in the region that fits no number pattern.
        known_invalid = in_region & ~is_valid & national.str.fullmatch(r"\d+").fillna(False).astype(bool)
    else:
        known_invalid = pd.Series(False, index=raw.index)
    rest = raw.where(e164.isna() & ~known_invalid)

    def to_e164(value: str) -> str | None:
        candidate = value
        if candidate.startswith("00"):
            candidate = "+" + candidate[2:]
        try:
            number = phonenumbers.parse(candidate, default_region)
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_valid_number(number):
            return None
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    e164 = e164.fillna(_per_distinct(rest, to_e164).astype("string"))
    return Normalised(e164, raw.notna() & e164.isna(), "phone_e164")


def _name_case(value: str) -> str:
    value = unicodedata.normalize("NFC", " ".join(value.split()))
    words = []
    for index, word in enumerate(value.split(" ")):
        if index > 0 and word.lower() in NAME_PARTICLES:
            words.append(word.lower())
            continue
        # Capitalise each part of hyphenated and apostrophed names: Jean-Pierre, O'Neil, d'Artagnan stays lower.
        parts = [p[:1].upper() + p[1:].lower() for p in word.split("-")]
        word = "-".join(parts)
        if "'" in word:
            head, _, tail = word.partition("'")
            word = (head.lower() if head.lower() in ("d", "l") else head) + "'" + tail[:1].upper() + tail[1:]
        words.append(word)
    return " ".join(words)


def name(raw: pd.Series) -> Normalised:
    has_letter = raw.str.contains(r"[^\W\d_]", regex=True).fillna(False).astype(bool)
    cased = _per_distinct(raw.where(has_letter), _name_case).astype("string")
    return Normalised(cased, raw.notna() & ~has_letter, "name_letters")


def _parse_datetimes(raw: pd.Series, formats: tuple[str, ...]) -> pd.Series:
    parsed = pd.to_datetime(raw, format="ISO8601", errors="coerce", utc=True)
    for fmt in formats:
        missing = parsed.isna() & raw.notna()
        if not missing.any():
            break
        parsed = parsed.fillna(pd.to_datetime(raw.where(missing), format=fmt, errors="coerce", utc=True))
    return parsed


def date(raw: pd.Series, formats: tuple[str, ...], today: datetime | None = None) -> Normalised:
    """Calendar dates; impossible (31/02) and future dates are invalid, and so is anything before 1900."""
    today = today or datetime.now(UTC)
    parsed = _parse_datetimes(raw, formats)
    plausible = (parsed >= pd.Timestamp("1900-01-01", tz="UTC")) & (parsed <= pd.Timestamp(today))
    values = parsed.where(plausible).dt.date
    return Normalised(values, raw.notna() & ~plausible.fillna(False).astype(bool), "date")


def timestamp(raw: pd.Series, formats: tuple[str, ...]) -> Normalised:
    parsed = _parse_datetimes(raw, formats)
    return Normalised(parsed, raw.notna() & parsed.isna(), "datetime")


def boolean(raw: pd.Series) -> Normalised:
    lowered = raw.str.lower()
    values = pd.Series(pd.NA, index=raw.index, dtype="boolean")
    values[lowered.isin(TRUE_TOKENS).fillna(False).astype(bool)] = True
    values[lowered.isin(FALSE_TOKENS).fillna(False).astype(bool)] = False
    return Normalised(values, raw.notna() & values.isna(), "boolean")


def number(raw: pd.Series, *, integer: bool = False) -> Normalised:
    # European exports write 12,50: a lone comma is a decimal separator; spaces group thousands.
    text = raw.str.replace(r"[\s\u00a0\u202f]", "", regex=True)
    text = text.where(text.str.contains(".", regex=False).fillna(False), text.str.replace(",", ".", regex=False))
    values = pd.to_numeric(text, errors="coerce")
    invalid = raw.notna() & values.isna()
    if integer:
        fractional = values.notna() & (values % 1 != 0)
        invalid |= fractional
        values = values.where(~fractional).astype("Int64")
    else:
        values = values.astype("Float64")
    return Normalised(values, invalid, "integer" if integer else "number")


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


def country(raw: pd.Series) -> Normalised:
    aliases = _country_aliases()
    codes = _per_distinct(raw, lambda value: aliases.get(_fold(value))).astype("string")
    return Normalised(codes, raw.notna() & codes.isna(), "country_iso3166")


def text(raw: pd.Series) -> Normalised:
    return Normalised(raw, pd.Series(False, index=raw.index), "text")
