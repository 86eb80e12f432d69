"""Scoring: the horizon of predicted purchases and value, what counts as churn, and how web intent is weighed."""

from __future__ import annotations

from pydantic import Field

from cdp.config.base import ConfigModel


class IntentSpec(ConfigModel):
    window_days: int = Field(30, ge=1, description="Web events older than this carry no intent.")
    half_life_days: float = Field(7.0, gt=0, description="An event's weight halves every so many days.")
    weights: dict[str, float] = Field(
        {"product_view": 1.0, "search": 1.0, "add_to_cart": 4.0, "checkout": 6.0},
        description="Weight of each event type; types not listed count for nothing.")
    risk_pages: tuple[str, ...] = Field(
        ("/unsubscribe", "/terms", "/cgv", "/account/delete", "/cancel"),
        description="URL fragments of pages that signal a customer about to leave (not intent to buy).")
    saturation: float = Field(10.0, gt=0, description="Decayed weight at which intent reaches 63 of 100.")


class MLSegmentsSpec(ConfigModel):
    enabled: bool = True
    k_min: int = Field(3, ge=2, description="Fewest clusters tried.")
    k_max: int = Field(8, ge=2, description="Most clusters tried; the k with the best silhouette is kept.")


class ScoringSpec(ConfigModel):
    horizon_days: int = Field(180, ge=7, description="Predicted purchases and value cover this many days ahead.")
    churn_days: int = Field(180, ge=7, description="A customer with no purchase in this many days has churned.")
    min_customers: int = Field(200, ge=20, description="Fewer customers than this: no model is fitted.")
    intent: IntentSpec = IntentSpec()
    ml_segments: MLSegmentsSpec = MLSegmentsSpec()
