from __future__ import annotations

from datetime import UTC, date, datetime

import pyarrow as pa
import pytest

from cdp.ingest import normalisers as normalize


def series(*values) -> pa.Array:
    return normalize.strip_nulls(pa.array(list(values), pa.string()))


def test_null_like_tokens_read_as_missing() -> None:
    assert series("NULL", "n/a", " - ", "", "none", "N/A", "x").is_null().to_pylist() == [True] * 6 + [False]


def test_emails_are_trimmed_lowered_and_checked() -> None:
    result = normalize.email(series(" Jean.Dupont@Gmail.COM ", "jean.dupont@", "nobody at mail", None))
    assert result.values.to_pylist()[0] == "jean.dupont@gmail.com"
    assert result.invalid.to_pylist() == [False, True, True, False]


def test_phones_in_every_french_format_become_the_same_e164() -> None:
    result = normalize.phone(series("06 12 34 56 78", "+33 6 12 34 56 78", "0033612345678", "0612345678"), "FR")
    assert set(result.values.to_pylist()) == {"+33612345678"}
    foreign = normalize.phone(series("+49 30 901820", "12"), "FR")
    assert foreign.values.to_pylist()[0] == "+4930901820" and foreign.invalid.to_pylist() == [False, True]


def test_names_are_cased_and_accents_kept() -> None:
    result = normalize.name(series("  hélène ", "JEAN-PIERRE", "de la fontaine", "1234"))
    assert result.values.to_pylist()[:3] == ["Hélène", "Jean-Pierre", "De la Fontaine"]
    assert result.invalid.to_pylist() == [False, False, False, True]


def test_impossible_and_future_dates_are_invalid() -> None:
    today = datetime(2026, 11, 1, tzinfo=UTC)
    result = normalize.date(series("1984-03-07", "07/03/1984", "31/02/1990", "2030-01-01"), ("%d/%m/%Y",), today)
    assert result.values.to_pylist()[:2] == [date(1984, 3, 7), date(1984, 3, 7)]
    assert result.invalid.to_pylist() == [False, False, True, True]


def test_booleans_in_french_and_english() -> None:
    result = normalize.boolean(series("oui", "NON", "1", "false", "peut-être"))
    assert result.values.to_pylist()[:4] == [True, False, True, False]
    assert result.invalid.to_pylist() == [False, False, False, False, True]


def test_countries_by_code_or_name_in_several_languages() -> None:
    result = normalize.country(series("fr", "France", "Allemagne", "Deutschland", "España", "Atlantis"))
    assert result.values.to_pylist()[:5] == ["FR", "FR", "DE", "DE", "ES"]
    assert result.invalid.to_pylist()[-1]


def test_amounts_with_a_decimal_comma() -> None:
    assert normalize.number(series("12,50", "1 200.5")).values.to_pylist() == [12.5, 1200.5]


@pytest.mark.parametrize("region", ["FR", "BE", "DE", "ES", "IT", "US"])
def test_the_vectorised_phone_path_agrees_with_phonenumbers(region: str) -> None:
    import numpy as np
    import phonenumbers

    code = phonenumbers.country_code_for_region(region)
    trunk = phonenumbers.PhoneMetadata.metadata_for_region(region).national_prefix or ""
    rng = np.random.default_rng(5)
    digits = ["".join(map(str, rng.integers(0, 10, rng.integers(8, 11)))) for _ in range(2000)]
    shapes = [trunk + "{}", f"+{code} {{}}", f"00{code}{{}}", "{}", f"+{code} ({{}})", "00 49 {}", trunk + "{}0",
              "+49 {}", trunk + "6 {} ext 5", "+33 {}"]
    values = [shapes[i % len(shapes)].format(d) for i, d in enumerate(digits)]

    def reference(value: str) -> str | None:
        value = "+" + value[2:] if value.startswith("00") else value
        try:
            number = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            return None
        valid = phonenumbers.is_valid_number(number)
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) if valid else None

    result = normalize.phone(series(*values), region).values
    assert result.to_pylist() == [reference(v) for v in values]


def test_the_vectorised_name_path_agrees_with_the_reference_casing() -> None:
    import numpy as np

    parts = ["jean", "PIERRE", "hélène", "de", "la", "fontaine", "d'artagnan", "o'neil", "anne-sophie", "VAN",
             "der", "3rd", "(marie)", "l'hôte", "o’brien", "mc\u00a0donald", "zoé", "É", "a'b'c", "y", "<b>x</b>"]
    rng = np.random.default_rng(11)
    values = [" ".join(rng.choice(parts, size=rng.integers(1, 4))) for _ in range(3000)]
    result = normalize.name(series(*values)).values.to_pylist()
    assert result == [normalize.reference_name_case(" ".join(v.split())) for v in values]


def test_whole_numbers_only_for_integers() -> None:
    result = normalize.number(series("3", "3.0", "2,5", "1e30", "x"), integer=True)
    assert result.values.to_pylist() == [3, 3, None, None, None]
    assert result.invalid.to_pylist() == [False, False, True, True, True]
