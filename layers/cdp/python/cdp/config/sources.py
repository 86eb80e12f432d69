"""Sources: the contract of each landed file (format, key, columns and their types, links to other sources)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from cdp.config.base import ConfigModel
from cdp.config.purposes import USES, LegalBasis, Use
from cdp.tables import INGEST_TARGETS, TABLES

ColumnType = Literal["string", "email", "phone", "name", "date", "datetime", "boolean", "integer", "number", "country"]
IDENTIFIER_FIELDS = ("email", "phone")


class ColumnSpec(ConfigModel):
    type: ColumnType = "string"
    required: bool = False
    field: str | None = Field(None, description="Target column in the source's table; defaults to the column name.")
    formats: tuple[str, ...] = Field(
        (), description="strptime formats for dates, tried in order after ISO 8601 (e.g. '%d/%m/%Y')."
    )


class SourceSpec(ConfigModel):
    table: str = Field(description="The table its rows land in: one of the ingest targets of cdp.tables.")
    format: Literal["csv", "jsonl", "parquet"]
    key: tuple[str, ...] = Field(min_length=1, description="Columns that identify a row within the source.")
    default_region: str = Field("FR", description="ISO country used to read phone numbers without a + prefix.")
    delimiter: str | None = Field(None, description="CSV delimiter; detected when omitted.")
    columns: dict[str, ColumnSpec]
    links: dict[str, str] = Field(
        {}, description="Columns holding the key of a person record of another source, e.g. customer_id: crm."
    )
    stitch_by: str | None = Field(
        None, description="A column (a device or cookie id) through which rows without a link take the link that "
                          "other rows with the same value carry: anonymous web events of a device that logged in.")
    events: tuple[str, ...] = Field(
        (), description="EventBridge detail-types whose detail is a row of this source (e.g. Order Placed)."
    )
    legal_basis: LegalBasis | None = Field(None, description="Why the brand may process this source's data "
                                                             "(GDPR article 6): consent, contract, ...")
    uses: tuple[Use, ...] = Field(USES, description="What its data may be used for (the purposes it was collected "
                                                    "for): analytics, linking, email_marketing, sms_marketing, "
                                                    "ads_audiences, crm_sync. Every use unless declared.")

    @field_validator("table")
    @classmethod
    def _table_takes_files(cls, value: str) -> str:
        if value not in INGEST_TARGETS:
            raise ValueError(f"is not a table that files land in; expected one of: {', '.join(INGEST_TARGETS)}")
        return value

    @field_validator("default_region")
    @classmethod
    def _region_is_iso(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z]{2}", value):
            raise ValueError("expected a two-letter ISO 3166 country code such as FR")
        return value

    @model_validator(mode="after")
    def _columns_fit_table(self) -> SourceSpec:
        table_columns = set(TABLES[self.table].schema.names)
        for name, column in self.columns.items():
            target = column.field or name
            if target not in table_columns:
                raise ValueError(
                    f"column {name!r} maps to {target!r}, which table {self.table!r} does not have; "
                    f"set 'field' to one of: {', '.join(sorted(table_columns))}"
                )
        for key in self.key:
            if key not in self.columns:
                raise ValueError(f"key column {key!r} is not declared under 'columns'")
        for column in self.links:
            if column not in self.columns:
                raise ValueError(f"link column {column!r} is not declared under 'columns'")
        if self.stitch_by is not None and (self.stitch_by not in self.columns or not self.links):
            raise ValueError(f"stitch_by names {self.stitch_by!r}: it must be a declared column of a source with links")
        return self

    def target(self, column: str) -> str:
        return self.columns[column].field or column
