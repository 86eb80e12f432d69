"""Phone numbers to E.164: one regular expression per region built from phonenumbers' metadata, the library
itself for what that cannot decide, once per distinct value."""

from __future__ import annotations

from functools import cache

import numpy as np
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc

from cdp.ingest.normalisers.common import (
    STRING_NULL,
    Normalised,
    flag,
    has_non_ascii,
    invalid_where,
    per_distinct,
    value_bytes,
    value_offsets,
)

_PHONE_PUNCTUATION = r"[\s.\-()/\x{00a0}]"

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
    if raw.offset or has_non_ascii(raw):  # no-break spaces and the like
        return pc.replace_substring_regex(raw, _PHONE_PUNCTUATION, "")
    # ASCII only: drop the separator bytes from the values buffer in one numpy pass.
    offsets = value_offsets(raw)
    data = value_bytes(raw)
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
    return flag(pc.and_(pc.and_(pc.match_substring_regex(compact, prefix), pc.invert(foreign)),
                         pc.match_substring_regex(digits, plain)))


def phone(raw: pa.Array, default_region: str) -> Normalised:
    fast = _region_fast_path(default_region)
    if fast is None:
        e164 = per_distinct(raw, lambda value: _to_e164(value, default_region))
        return Normalised(e164, invalid_where(raw, e164), "phone_e164")
    prefix, valid = fast
    code = phonenumbers.country_code_for_region(default_region)
    compact = _compact_phone(raw)
    # One pass: the region's prefix (+33, 0033 or 0) then a number valid in the region; the prefix is then
    # rewritten as +33 by position, cheaper than a regular expression.
    in_region = flag(pc.match_substring_regex(compact, prefix + valid[1:]))
    international = pc.starts_with(compact, "00")
    e164 = pc.if_else(international, pc.utf8_replace_slice(compact, 0, 2, "+"), compact)
    trunk = phonenumbers.PhoneMetadata.metadata_for_region(default_region).national_prefix
    if trunk:
        national = pc.and_(pc.starts_with(compact, trunk), pc.invert(international))
        e164 = pc.if_else(national, pc.utf8_replace_slice(compact, 0, len(trunk), f"+{code}"), e164)
    e164 = pc.if_else(in_region, e164, STRING_NULL)
    rest = pc.and_(pc.is_null(e164), pc.is_valid(raw))
    if pc.any(rest).as_py():
        # What the regex did not take goes to the library once per value (+49…, 0049…, letters, +33 06…),
        # except plain digits after the region's prefix, which the library would call invalid as well.
        others = compact.filter(rest)
        parse = pc.invert(_known_invalid(others, prefix, code, trunk))
        parsed = per_distinct(pc.if_else(parse, raw.filter(rest), STRING_NULL),
                              lambda value: _to_e164(value, default_region))
        e164 = pc.replace_with_mask(e164, rest, parsed)
    return Normalised(e164, invalid_where(raw, e164), "phone_e164")
