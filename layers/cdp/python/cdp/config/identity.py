"""Identity resolution and survivorship: which keys link records, which values are junk or shared, how the
probabilistic model compares records, and which value each profile field keeps."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from cdp.config.base import ConfigModel
from cdp.tables import TABLES

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


SurvivorshipRule = Literal["source_priority", "most_recent", "most_frequent", "most_complete"]
# The profile fields a survivorship rule chooses: those a person record carries, except its date and its consents
# (consent_email, consent_sms and consent_ads always come from the most recent record that states them).
SURVIVING_FIELDS: tuple[str, ...] = tuple(
    name for name in TABLES["profiles"].schema.names
    if name in TABLES["records"].schema.names and name != "updated_at"
)


class SurvivorshipSpec(ConfigModel):
    """Which value each profile field keeps. Rules: ``source_priority`` (most trusted source, then most recent),
    ``most_recent``, ``most_frequent`` (carried by most records, then most recent), ``most_complete`` (most letters
    and digits, e.g. a full street over a truncated one, then most recent). A null never wins."""

    source_priority: tuple[str, ...] = Field((), description="Sources in order of trust; first wins on ties.")
    default: SurvivorshipRule = "most_recent"
    fields: dict[str, SurvivorshipRule] = {}

    @field_validator("fields")
    @classmethod
    def _fields_are_profile_fields(cls, fields: dict[str, str]) -> dict[str, str]:
        for name in fields:
            if name.startswith("consent_"):
                raise ValueError(f"{name!r} takes no rule: consent comes from the most recent record stating it")
            if name not in SURVIVING_FIELDS:
                raise ValueError(f"{name!r} is not a profile field a rule chooses; expected one of: "
                                 f"{', '.join(SURVIVING_FIELDS)}")
        return fields

    @model_validator(mode="after")
    def _source_priority_is_listed(self) -> SurvivorshipSpec:
        uses = [name for name, rule in self.fields.items() if rule == "source_priority"]
        if (self.default == "source_priority" or uses) and not self.source_priority:
            where = "default" if self.default == "source_priority" else f"fields {', '.join(uses)}"
            raise ValueError(f"rule 'source_priority' ({where}) needs survivorship.source_priority, the sources in "
                             "order of trust")
        return self
