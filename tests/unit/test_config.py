from __future__ import annotations

from pathlib import Path

import pytest

from cdp.config import ConfigError, example_config_path, parse_config
from cdp.segments.rules import check_rules


def test_the_retail_example_declares_its_sources_with_their_columns() -> None:
    config = parse_config(example_config_path().read_text())
    assert list(config.sources) == ["crm", "accounts", "orders", "order_lines", "web_events", "stores", "postcodes"]
    assert list(config.sources["crm"].columns) == [
        "customer_id", "first_name", "last_name", "email", "phone", "birth_date", "street", "postcode", "city",
        "country", "email_opt_in", "sms_opt_in", "updated_at"]
    assert list(config.sources["accounts"].columns) == ["account_id", "email", "first_name", "last_name", "phone",
                                                        "created_at"]
    assert list(config.sources["orders"].columns) == ["order_id", "customer_id", "account_id", "email", "order_date",
                                                      "channel", "store_id", "amount", "currency"]
    assert list(config.sources["order_lines"].columns) == ["order_id", "line_no", "sku", "category", "quantity",
                                                           "unit_price"]
    assert list(config.sources["web_events"].columns) == ["event_id", "anonymous_id", "account_id", "event_type", "ts",
                                                          "url", "sku", "category", "search_terms"]
    assert check_rules(config.segments) == []


def broken(old: str, new: str) -> str:
    text = example_config_path().read_text()
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("email: {type: email}", "email: {type: emial}", "sources.crm.columns.email.type: 'emial' is not allowed"),
        ("default_region: FR", "default_region: France", "two-letter ISO 3166"),
        ("    holdout_share: 0.1\n", "    holdout_share: 1.5\n", "holdout_share: 1.5"),
        ("channels: [email, ads]", "channels: [email, fax]", "channel 'fax'"),
        ("consent: consent_sms", "consent: sms_opt_in", ("channels.sms.consent: 'sms_opt_in': a record field; "
                                                         "name the profile's consent field 'consent_sms' instead")),
        ("consent: consent_ads", "consent: ads", ("'ads' is not allowed; input should be 'consent_email', "
                                                  "'consent_sms' or 'consent_ads'")),
        ("  deterministic_keys:", "  determinstic_keys:", "identity.determinstic_keys: unknown key"),
        ("table: records", "table: scores", "line 10: sources.crm.table: 'scores': is not a table that files land "
                                            "in; expected one of: records, orders, order_lines, events"),
    ],
)
def test_errors_name_the_line_the_key_the_value_and_what_is_expected(old: str, new: str, expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(broken(old, new), Path("cdp.yaml"))
    message = str(raised.value)
    assert expected in message
    assert "line " in message


def test_a_segment_rule_on_an_unknown_column_is_reported() -> None:
    config = parse_config(broken("rule: revenue >= 1500", "rule: revenu >= 1500"))
    problems = check_rules(config.segments)
    assert len(problems) == 1 and "high_value" in problems[0] and "revenue" in problems[0]


def test_a_region_outside_the_european_union_needs_an_explicit_setting(retail_config) -> None:
    from pydantic import ValidationError

    from cdp.config import Config

    settings = retail_config.model_dump(mode="json")
    with pytest.raises(ValidationError, match="outside the European Union"):
        Config.model_validate({**settings, "region": "us-east-1"})
    with pytest.raises(ValidationError, match="outside the European Union"):
        Config.model_validate({**settings, "region": "eu-west-2"})  # London: not in the Union
    assert Config.model_validate({**settings, "region": "us-east-1", "allow_outside_eu": True}).region == "us-east-1"
    assert Config.model_validate({**settings, "region": "eu-central-1"}).region == "eu-central-1"


def test_a_plan_is_refused_where_a_source_feeding_it_does_not_allow_its_use(retail_config) -> None:
    from pydantic import ValidationError

    from cdp.config import Config
    from cdp.config.purposes import sources_feeding

    settings = retail_config.model_dump(mode="json")
    # Web visits collected for analytics and linking only: no segment built on features may market from them.
    settings["sources"]["web_events"]["uses"] = ["analytics", "linking"]
    with pytest.raises(ValidationError, match="'high_value' uses data for ads_audiences, but source 'web_events'"):
        Config.model_validate(settings)
    # Declaring another use does not declare the channels' away.
    for plan in settings["activation_plans"]:
        plan["use"] = "analytics"
    with pytest.raises(ValidationError, match="uses data for email_marketing, but source 'web_events'"):
        Config.model_validate(settings)
    # A segment on profile columns alone is fed by the person sources only.
    config = retail_config
    plan = config.activation_plans[0].model_copy(update={"segment": "x"})
    assert set(sources_feeding(config, plan)) == {"crm", "accounts"}
    high_value = config.activation_plans[0]
    assert {"orders", "web_events"} <= set(sources_feeding(config, high_value))
