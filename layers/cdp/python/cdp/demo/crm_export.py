"""A large CRM export, written with whole-column operations: the demo's CRM source at benchmark scale.

``cdp demo`` draws its data person by person (``cdp.demo.synthetic``), in Python: right for a few thousand
profiles and the ground truth they need, far too slow for the 1M–7M rows the ingestion benchmarks read. This
module writes the same kind of file (the CRM contract's columns, the demo's locales, null tokens, country
spellings, true/false tokens, phone styles and kinds of bad rows) a chunk of rows at a time with NumPy, without
persons behind the rows. It keeps what makes a benchmark honest: thousands of distinct first names, tens of
thousands of last names and cities (work done once per distinct value is not flattered), update times to the
second, about 0.5% of rows quarantined and about 23% kept with a warning.

The same seed always gives the same bytes, in any process: every pool is sorted or drawn in a fixed order (Faker's
Italian town list, built from a set, follows string hashing; it is sorted before use).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import phonenumbers
from faker import Faker

from cdp.demo.synthetic import (
    BAD_CRM_ROWS,
    COUNTRY_SPELLINGS,
    CRM_COLUMNS,
    FALSE_TOKENS,
    FR_PHONE_STYLES,
    LOCALES,
    NULL_TOKENS,
    TRUE_TOKENS,
    email_name,
)

CHUNK = 200_000  # rows drawn and written at a time
# The demo's kinds of bad rows but the unreadable update time: one such value in a batch sends the whole required
# timestamp column from Arrow's cast to the slower text parser, and the benchmark would measure that fallback.
BAD_KINDS = [kind for kind in BAD_CRM_ROWS if "updated_at" not in kind]
BAD_ROWS = 0.025  # rows of one of those kinds: a fifth of them (no customer id) quarantined, so 0.5% of the file
PHONE_DIGIT_DROPPED = 0.16  # phones typed with a digit missing (kept, with a warning)
EMAIL_WITHOUT_TLD = 0.10  # addresses typed without their ending: jean.dupont@gmail (kept, with a warning)
DOUBLE_BARRELLED = 5_000  # hyphenated last names made per locale from its own
DOUBLE_BARRELLED_SHARE = 0.3  # rows with one of them
# Customers from elsewhere in Europe mostly give a French mobile: a foreign number is checked by phonenumbers once
# per value, not by the vectorised French patterns, and the benchmark's figures are about the bulk of a French file.
FOREIGN_PHONE = 0.05
DIGIT = "#"  # a digit's place in a phone pattern


@dataclass(frozen=True)
class _Pool:
    """Values of every locale end to end; a row of locale ``i`` draws among ``values[start[i]:start[i] + size[i]]``."""
    values: np.ndarray
    start: np.ndarray
    size: np.ndarray

    @classmethod
    def of(cls, per_locale: list[list[str]]) -> _Pool:
        sizes = np.array([len(values) for values in per_locale])
        return cls(np.array([v for values in per_locale for v in values]),
                   np.concatenate([[0], np.cumsum(sizes)[:-1]]), sizes)

    def draw(self, rng: np.random.Generator, locale: np.ndarray) -> np.ndarray:
        return self.values[self.start[locale] + (rng.random(len(locale)) * self.size[locale]).astype(np.int64)]


def _pools(seed: int) -> dict[str, _Pool]:
    per_locale: dict[str, list[list[str]]] = {key: [] for key in ("first", "last", "double", "street", "postcode", "city")}
    for index, locale in enumerate(LOCALES):
        fake = Faker(locale)
        fake.seed_instance(seed * 1000 + index)
        first = sorted({fake.first_name() for _ in range(5_000)})
        last = sorted({fake.last_name() for _ in range(5_000)})
        # Double-barrelled names, from the locale's own: most of a customer base's distinct last names.
        pairs = np.random.default_rng([seed, index]).integers(0, len(last), (DOUBLE_BARRELLED, 2))
        double = sorted({f"{last[a]}-{last[b]}" for a, b in pairs if a != b})
        listed = getattr(fake.provider("faker.providers.address"), "cities", None)
        cities = sorted(listed) if isinstance(listed, list | tuple) and listed else \
            sorted({fake.city() for _ in range(6_000)})
        per_locale["first"].append(first)
        per_locale["last"].append(last)
        per_locale["double"].append(double)
        # Streets on one line and without the comma after the number (12 rue …, as most exports write them): a
        # quoted field sends the reader down its slower path, which the benchmark is not about.
        per_locale["street"].append([fake.street_address().replace("\n", " ").replace(",", "")
                                     for _ in range(2_000)])
        per_locale["postcode"].append([fake.postcode() for _ in range(2_000)])
        per_locale["city"].append(cities)
    pools = {key: _Pool.of(values) for key, values in per_locale.items()}
    # Email addresses are made from the names as the demo makes them (email_name: first.last).
    for key in ("first", "last", "double"):
        pools[f"{key}_plain"] = _Pool.of([[email_name(v) for v in values] for values in per_locale[key]])
    pools["domain"] = _Pool.of([LOCALES[locale][2] for locale in LOCALES])
    pools["country"] = _Pool.of([COUNTRY_SPELLINGS[LOCALES[locale][1]] for locale in LOCALES])
    return pools


def _digit_pattern(formatted: str, national: str, kept: int) -> str:
    """``formatted`` (a number written one way) with the national number's digits after the first ``kept`` as
    places for new digits."""
    positions = [i for i, char in enumerate(formatted) if char.isdigit()][-len(national):][kept:]
    chars = list(formatted)
    for i in positions:
        chars[i] = DIGIT
    return "".join(chars)


def _phone_patterns() -> list[list[str]]:
    """Per locale, the ways its mobiles are typed, as patterns: the demo's French styles; elsewhere, international
    and E.164 forms of phonenumbers' example mobile, its first three digits kept."""
    patterns = []
    for locale in LOCALES:
        country = LOCALES[locale][1]
        if country == "FR":
            nine = DIGIT * 9
            patterns.append([style.format(first=DIGIT, pairs="## ## ## ##", digits=nine, e164=f"+33{nine}",
                                          dotted="##.##.##.##") for style in FR_PHONE_STYLES])
            continue
        example = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.MOBILE)
        national = str(example.national_number)
        patterns.append([_digit_pattern(phonenumbers.format_number(example, style), national, 3)
                         for style in (phonenumbers.PhoneNumberFormat.INTERNATIONAL,
                                       phonenumbers.PhoneNumberFormat.E164)])
    return patterns


def _fill(pattern: str, digits: np.ndarray) -> np.ndarray:
    """``pattern`` once per row of ``digits`` (characters '0'–'9'), the row's digits in its places, in order."""
    chars = np.tile(np.array(list(pattern)), (len(digits), 1))
    places = [i for i, char in enumerate(pattern) if char == DIGIT]
    chars[:, places] = digits[:, :len(places)]
    return np.ascontiguousarray(chars).view(f"<U{len(pattern)}").ravel()


def _phones(rng: np.random.Generator, locale: np.ndarray, patterns: list[list[str]]) -> np.ndarray:
    n = len(locale)
    digits = rng.integers(0, 10, (n, 12)).astype(str)
    # French mobiles: 06 or 07, then a second digit that is allocated (06 0–8, 07 3–9).
    france = list(LOCALES).index(next(loc for loc in LOCALES if LOCALES[loc][1] == "FR"))
    locale = np.where(rng.random(n) < FOREIGN_PHONE, locale, france)
    mobile = rng.random(n) < 0.5
    digits[:, 0] = np.where(mobile, "6", "7")
    digits[:, 1] = np.where(mobile, rng.integers(0, 9, n), rng.integers(3, 10, n)).astype(str)
    style = rng.random(n)
    dropped = rng.random(n) < PHONE_DIGIT_DROPPED
    phones = np.empty(n, dtype=object)
    for index, styles in enumerate(patterns):
        for choice, pattern in enumerate(styles):
            picked = (locale == index) & ((style * len(styles)).astype(int) == choice)
            for short in (False, True):
                rows = picked & (dropped == short)
                if rows.any():
                    # A digit left out: the pattern without its last place.
                    typed = pattern[::-1].replace(DIGIT, "", 1)[::-1] if short else pattern
                    phones[rows] = _fill(typed, digits[rows] if index == france else digits[rows][:, 2:])
    return phones.astype(str)


def _dates(rng: np.random.Generator, n: int) -> np.ndarray:
    """Birth dates, half ISO and half day/month/year, as the demo writes them."""
    iso = (np.datetime64("1941-01-01") + rng.integers(0, 65 * 365, n)).astype("<U10")
    chars = iso.view("<U1").reshape(n, 10)
    slash = np.full((n, 1), "/")
    french = np.hstack([chars[:, 8:10], slash, chars[:, 5:7], slash, chars[:, 0:4]]).view("<U10").ravel()
    return np.where(rng.random(n) < 0.5, iso, french)


def _vary(rng: np.random.Generator, names: np.ndarray) -> np.ndarray:
    """Names as the demo varies them: upper case, lower case, a leading space, accents dropped."""
    roll = rng.random(len(names))
    varied = np.where(roll < 0.12, np.char.upper(names), names)
    varied = np.where((roll >= 0.12) & (roll < 0.18), np.char.lower(names), varied)
    return np.where((roll >= 0.18) & (roll < 0.21), np.char.add(" ", names), varied)


def _blank(rng: np.random.Generator, values: np.ndarray, share: float, tokens: list[str] | None = None) -> np.ndarray:
    """``values`` with a ``share`` of them left empty, or written as one of ``tokens``."""
    empty = np.array(tokens or [""])[rng.integers(0, len(tokens or [""]), len(values))]
    return np.where(rng.random(len(values)) < share, empty, values)


def _csv(values: np.ndarray) -> np.ndarray:
    """Quoted where a value holds a comma, a quote or a line break, as Python's csv module writes them."""
    special = (np.char.find(values, ",") >= 0) | (np.char.find(values, '"') >= 0) | (np.char.find(values, "\n") >= 0)
    if not special.any():
        return values
    values = values.astype(object)
    values[special] = ['"' + v.replace('"', '""') + '"' for v in values[special]]
    return values.astype(str)


def _chunk(rng: np.random.Generator, pools: dict[str, _Pool], patterns: list[list[str]], start: int,
           n: int) -> dict[str, np.ndarray]:
    shares = np.array([LOCALES[locale][0] for locale in LOCALES])
    locale = rng.choice(len(shares), size=n, p=shares / shares.sum())
    first_at = pools["first"].start[locale] + (rng.random(n) * pools["first"].size[locale]).astype(np.int64)
    last_at = pools["last"].start[locale] + (rng.random(n) * pools["last"].size[locale]).astype(np.int64)
    double_at = pools["double"].start[locale] + (rng.random(n) * pools["double"].size[locale]).astype(np.int64)
    double = rng.random(n) < DOUBLE_BARRELLED_SHARE
    last = np.where(double, pools["double"].values[double_at], pools["last"].values[last_at])
    last_plain = np.where(double, pools["double_plain"].values[double_at], pools["last_plain"].values[last_at])
    # Addresses: first.last, a number for some and the row's for the others (a customer base's are distinct).
    number = np.where(rng.random(n) < 0.4, rng.integers(1, 99, n), np.arange(start, start + n)).astype(str)
    local = np.char.add(np.char.add(pools["first_plain"].values[first_at], "."), last_plain)
    email = np.char.add(np.char.add(local, number), np.char.add("@", pools["domain"].draw(rng, locale)))
    email = np.where(rng.random(n) < EMAIL_WITHOUT_TLD, np.char.rpartition(email, ".")[:, 0], email)
    roll = rng.random(n)
    email = np.where(roll < 0.10, np.char.upper(email), np.where(roll < 0.15, np.char.add(" ", np.char.add(email, " ")),
                                                                 email))
    city = pools["city"].draw(rng, locale)
    opt_in = [np.where(rng.random(n) < share, np.array(TRUE_TOKENS)[rng.integers(0, len(TRUE_TOKENS), n)],
                       np.array(FALSE_TOKENS)[rng.integers(0, len(FALSE_TOKENS), n)]) for share in (0.62, 0.38)]
    # Seconds across the two years before the demo's end date: update times hardly ever repeat.
    updated = (np.datetime64("2024-11-01T00:00:00") + rng.integers(0, 730 * 86_400, n)).astype(str)
    columns = {
        "customer_id": np.char.add("C", np.char.zfill(np.arange(start + 100_000, start + 100_000 + n).astype(str), 7)),
        "first_name": _vary(rng, pools["first"].values[first_at]),
        "last_name": _vary(rng, last),
        "email": _blank(rng, email, 0.06),
        "phone": _blank(rng, _phones(rng, locale, patterns), 0.20),
        "birth_date": _blank(rng, _dates(rng, n), 0.20, NULL_TOKENS),
        "street": _blank(rng, pools["street"].draw(rng, locale), 0.10),
        "postcode": pools["postcode"].draw(rng, locale),
        "city": np.where(rng.random(n) < 0.2, np.char.upper(city), city),
        "country": pools["country"].draw(rng, locale),
        "email_opt_in": _blank(rng, opt_in[0], 0.07),
        "sms_opt_in": _blank(rng, opt_in[1], 0.07),
        "updated_at": np.char.replace(updated, "T", " "),  # a system writes its times one way
    }
    # A few plainly bad rows, of the demo's kinds.
    bad = np.flatnonzero(rng.random(n) < BAD_ROWS)
    kinds = rng.integers(0, len(BAD_KINDS), len(bad))
    for kind, values in enumerate(BAD_KINDS):
        rows = bad[kinds == kind]
        locals_ = np.char.partition(columns["email"][rows], "@")[:, 0]
        for column, value in values.items():
            columns[column] = columns[column].astype(object)
            columns[column][rows] = [value.format(local=part) for part in locals_] if "{" in value else value
            columns[column] = columns[column].astype(str)
    return columns


def write_crm_export(path: Path, rows: int, seed: int = 0) -> int:
    """Write a CRM export of ``rows`` rows (the columns of the retail example's ``crm`` source) to ``path``;
    return the number of rows written."""
    rng = np.random.default_rng(seed)
    pools, patterns = _pools(seed), _phone_patterns()
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(",".join(CRM_COLUMNS) + "\n")
        for start in range(0, rows, CHUNK):
            n = min(CHUNK, rows - start)
            columns = _chunk(rng, pools, patterns, start, n)
            values = [_csv(columns[name]) for name in CRM_COLUMNS]
            handle.write("\n".join(",".join(row) for row in zip(*values, strict=True)) + "\n")
    return rows
