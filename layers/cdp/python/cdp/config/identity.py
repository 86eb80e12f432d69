"""Identity resolution and survivorship: which keys link records, which values are junk or shared, how the
probabilistic model compares records, and which value each profile field keeps."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cdp.config.base import ConfigModel

ComparisonMethod = Literal["name", "forename_surname", "birth_date", "exact", "text", "email", "phone", "postcode"]


class ComparisonSpec(ConfigModel):
    """One comparison of Splink's model. ``columns`` is one column, or first and last name for forename_surname."""

    method: ComparisonMethod
    columns: tuple[str, ...] = Field(min_length=1, max_length=2)
    term_frequencies: bool = Field(
        False, description="Weigh an exact match by how rare the value is (a rare surname says more than Martin).")


class ProbabilisticSpec(ConfigModel):
    enabled: bool = True
    comparisons: tuple[ComparisonSpec, ...] = (
        ComparisonSpec(method="forename_surname", columns=("first_name", "last_name"), term_frequencies=True),
        ComparisonSpec(method="birth_date", columns=("birth_date",)),
        ComparisonSpec(method="postcode", columns=("postcode",)),
        ComparisonSpec(method="text", columns=("street",)),
        ComparisonSpec(method="email", columns=("email",)),
        ComparisonSpec(method="phone", columns=("phone",)),
    )
    # Each rule names columns that must be equal for a pair to be scored at all: no step is quadratic.
    blocking: tuple[tuple[str, ...], ...] = (
        ("first_name", "last_name"), ("last_name", "birth_date"), ("first_name", "birth_date"),
        ("postcode", "last_name"), ("email",), ("phone",),
    )
    match_probability: float = Field(0.99, gt=0, lt=1, description="Pairs scored at least this become links.")
    # A pair that agrees on the full name alone, with nothing else in common, is wrong more often than right when the
    # name is common: such a link needs the full name to be carried by at most this share of the records.
    name_only_max_share: float = Field(0.0002, ge=0, le=1)


class IdentitySpec(ConfigModel):
    deterministic_keys: tuple[Literal["email", "phone"], ...] = Field(
        ("email", "phone"), description="Identifiers that link records of one person, most trusted first.")
    junk_values: dict[Literal["email", "phone"], tuple[str, ...]] = Field(
        {}, description="Normalised values that never link anyone, beyond the built-in ones (test@test.com...).")
    max_people_per_key: int = Field(
        3, ge=1, description="A key carried by more distinct people than this is junk (a till's default, a shop's).")
    nicknames: dict[str, str] = Field({}, description="Extra short forms of first names, e.g. {jp: jean pierre}.")
    probabilistic: ProbabilisticSpec = ProbabilisticSpec()


class SurvivorshipSpec(ConfigModel):
    source_priority: tuple[str, ...] = Field((), description="Sources in order of trust; first wins on ties.")
    default: Literal["most_recent", "source_priority"] = "most_recent"
    fields: dict[str, Literal["most_recent", "source_priority"]] = {}
