"""The platform's configuration (``cdp.yaml``), one module per concern; import its names from here."""

from cdp.config.activation import ActivationPlanSpec, ChannelSpec
from cdp.config.features import FeatureSpec
from cdp.config.identity import IdentitySpec, SurvivorshipSpec
from cdp.config.loading import ConfigError, example_config_path, load_config, parse_config
from cdp.config.platform import Config
from cdp.config.scoring import IntentSpec, ScoringSpec
from cdp.config.segments import SegmentSpec
from cdp.config.sources import IDENTIFIER_FIELDS, ColumnSpec, ColumnType, SourceSpec

__all__ = [
    "IDENTIFIER_FIELDS", "ActivationPlanSpec", "ChannelSpec", "ColumnSpec", "ColumnType", "Config", "ConfigError",
    "FeatureSpec", "IdentitySpec", "IntentSpec", "ScoringSpec", "SegmentSpec", "SourceSpec", "SurvivorshipSpec",
    "example_config_path", "load_config", "parse_config",
]
