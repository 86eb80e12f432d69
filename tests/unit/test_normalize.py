from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd

from cdp.domain import normalize


def series(*values) -> pd.Series:
    return normalize.strip_nulls(pd.Series(list(values), dtype="string"))


def test_null_like_tokens_read_as_missing() -> None:
    assert series("NULL", "n/a", " - ", "", "none", "N/A", "x").isna().tolist() == [True] * 6 + [False]


def test_emails_are_trimmed_lowered_and_checked() -> None:
    result = normalize.email(series(" Jean.Dupont@Gmail.COM ", "jean.dupont@", "nobody at mail", None))
    assert result.values.tolist()[0] == "jean.dupont@gmail.com"
    assert result.invalid.tolist() == [False, True, True, False]


def test_phones_in_every_french_format_become_the_same_e164() -> None:
    result = normalize.phone(series("06 12 34 56 78", "+33 6 12 34 56 78", "0033612345678", "0612345678"), "FR")
    assert set(result.values) == {"+33612345678"}
    foreign = normalize.phone(series("+49 30 901820", "12"), "FR")
    assert foreign.values.tolist()[0] == "+4930901820" and foreign.invalid.tolist() == [False, True]


def test_names_are_cased_and_accents_kept() -> None:
    result = normalize.name(series("  hélène ", "JEAN-PIERRE", "de la fontaine", "1234"))
    assert result.values.tolist()[:3] == ["Hélène", "Jean-Pierre", "De la Fontaine"]
    assert result.invalid.tolist() == [False, False, False, True]


def test_impossible_and_future_dates_are_invalid() -> None:
    today = datetime(2026, 11, 1, tzinfo=UTC)
    result = normalize.date(series("1984-03-07", "07/03/1984", "31/02/1990", "2030-01-01"), ("%d/%m/%Y",), today)
    assert result.values.tolist()[:2] == [date(1984, 3, 7), date(1984, 3, 7)]
    assert result.invalid.tolist() == [False, False, True, True]


def test_booleans_in_french_and_english() -> None:
    result = normalize.boolean(series("oui", "NON", "1", "false", "peut-être"))
    assert result.values.tolist()[:4] == [True, False, True, False]
    assert result.invalid.tolist() == [False, False, False, False, True]


def test_countries_by_code_or_name_in_several_languages() -> None:
    result = normalize.country(series("fr", "France", "Allemagne", "Deutschland", "España", "Atlantis"))
    assert result.values.tolist()[:5] == ["FR", "FR", "DE", "DE", "ES"]
    assert result.invalid.tolist()[-1]


def test_amounts_with_a_decimal_comma() -> None:
    assert normalize.number(series("12,50", "1 200.5")).values.tolist() == [12.5, 1200.5]


def test_the_vectorised_phone_path_agrees_with_phonenumbers() -> None:
    import numpy as np
    import phonenumbers

    rng = np.random.default_rng(5)
    digits = ["".join(map(str, rng.integers(0, 10, 9))) for _ in range(2000)]
    shapes = ["0{}", "+33 {}", "0033{}", "{}", "+33 ({})", "00 49 {}", "0{}0", "+49 {}", "06 {} ext 5"]
    values = [shapes[i % len(shapes)].format(d) for i, d in enumerate(digits)]

    def reference(value: str) -> str | None:
        value = "+" + value[2:] if value.startswith("00") else value
        try:
            number = phonenumbers.parse(value, "FR")
        except phonenumbers.NumberParseException:
            return None
        valid = phonenumbers.is_valid_number(number)
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) if valid else None

    result = normalize.phone(series(*values), "FR").values
    assert [None if pd.isna(v) else v for v in result] == [reference(v) for v in values]
