"""Privacy: what erasing a person does to the facts they leave behind, and whether they may come back."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cdp.config.base import ConfigModel


class ErasureSpec(ConfigModel):
    facts: Literal["delete", "pseudonymise"] = Field(
        "pseudonymise",
        description="The person's orders and web events: deleted with their lines, or kept for the totals with "
                    "every column that could point back to them (links, email, device, URL, search, raw attributes) "
                    "emptied.")
    suppress: bool = Field(
        True, description="Keep the erased identifiers as salted hashes, so that ingestion drops the rows that "
                          "carry them and a later file does not bring the person back.")


class PrivacySpec(ConfigModel):
    erasure: ErasureSpec = ErasureSpec()
