"""Email addresses: trimmed, lower-cased (ASCII), and checked against what marketing systems can send to."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from cdp.ingest.normalisers.common import SPACE, STRING_NULL, Normalised, flag

# Deliberately stricter than RFC 5322: addresses that marketing systems can actually send to.
EMAIL_PATTERN = r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$"



def email(raw: pa.Array) -> Normalised:
    # A valid address is ASCII (see EMAIL_PATTERN): ASCII lower-casing is enough and much cheaper.
    text = pc.ascii_lower(raw)
    valid = flag(pc.match_substring_regex(text, EMAIL_PATTERN))
    bad = pc.and_(pc.is_valid(raw), pc.invert(valid))
    if pc.any(bad).as_py():
        # Spaces typed inside an address (jean .dupont@…) are dropped, and those addresses checked again.
        fixed = pc.replace_substring_regex(text.filter(bad), SPACE + "+", "")
        text = pc.replace_with_mask(text, bad, fixed)
        valid = pc.replace_with_mask(valid, bad, flag(pc.match_substring_regex(fixed, EMAIL_PATTERN)))
    return Normalised(pc.if_else(valid, text, STRING_NULL), pc.and_(pc.is_valid(raw), pc.invert(valid)),
                      "email_syntax")
