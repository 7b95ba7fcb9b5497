"""CDK context -> DeploySettings: defaults with no context, the list forms, and one clear sentence per bad value."""

from __future__ import annotations

import re
from typing import Any

import pytest

from stacks.settings import KEYS, DeploySettings, SettingsError


def from_context(context: dict[str, Any]) -> DeploySettings:
    """As app.py calls it, with ``app.node.try_get_context`` backed by a dict."""
    return DeploySettings.from_context(context.get)


def error_for(context: dict[str, Any]) -> str:
    with pytest.raises(SettingsError) as raised:
        from_context(context)
    return str(raised.value)


def assert_one_sentence_naming(message: str, key: str) -> None:
    assert "\n" not in message
    assert message.endswith(".")
    assert re.search(r"\. [A-Z]", message) is None, f"more than one sentence: {message}"
    assert key in message


def test_no_context_gives_a_working_off_mode_detector_in_the_deploy_region() -> None:
    settings = from_context({})

    assert settings == DeploySettings(
        alert_emails=(),
        slack_secret_name="",
        remediation_mode="off",
        regions=(),
        sweep_schedule="rate(1 hour)",
        allowed_excluded_sources=(),
    )
    assert settings.home_region is None
    assert settings.forwarded_regions == ()


def test_empty_values_count_as_not_given() -> None:
    assert from_context(dict.fromkeys(KEYS, "")) == from_context({})


@pytest.mark.parametrize(
    "regions",
    [
        ["us-east-1", "eu-west-1", "ap-southeast-2"],
        '["us-east-1", "eu-west-1", "ap-southeast-2"]',
        "us-east-1,eu-west-1,ap-southeast-2",
        " us-east-1 , eu-west-1,ap-southeast-2 ,",
    ],
    ids=["json-list", "json-encoded-string", "comma-separated", "comma-separated-with-spaces"],
)
def test_regions_are_read_as_a_list_in_every_form(regions: Any) -> None:
    settings = from_context({"regions": regions})

    assert settings.regions == ("us-east-1", "eu-west-1", "ap-southeast-2")
    assert settings.home_region == "us-east-1"
    assert settings.forwarded_regions == ("eu-west-1", "ap-southeast-2")


@pytest.mark.parametrize(
    "emails",
    [["a@example.com", "b@example.org"], '["a@example.com", "b@example.org"]', "a@example.com,b@example.org"],
    ids=["json-list", "json-encoded-string", "comma-separated"],
)
def test_alert_emails_are_read_as_a_list_in_every_form(emails: Any) -> None:
    assert from_context({"alertEmails": emails}).alert_emails == ("a@example.com", "b@example.org")


def test_every_key_is_read_into_the_settings() -> None:
    settings = from_context(
        {
            "alertEmails": "security@example.com",
            "slackSecretName": "trailguard/slack",
            "remediationMode": "dry-run",
            "regions": "eu-west-1",
            "sweepSchedule": "cron(0 * * * ? *)",
            "allowedExcludedSources": "kms.amazonaws.com,rdsdata.amazonaws.com",
        }
    )

    assert settings == DeploySettings(
        alert_emails=("security@example.com",),
        slack_secret_name="trailguard/slack",
        remediation_mode="dry-run",
        regions=("eu-west-1",),
        sweep_schedule="cron(0 * * * ? *)",
        allowed_excluded_sources=("kms.amazonaws.com", "rdsdata.amazonaws.com"),
    )


@pytest.mark.parametrize("mode", ["off", "dry-run", "on"])
def test_each_remediation_mode_is_accepted(mode: str) -> None:
    assert from_context({"remediationMode": mode}).remediation_mode == mode


@pytest.mark.parametrize(
    "schedule", ["rate(1 hour)", "rate(5 minutes)", "rate(2 days)", "rate(1 minute)", "cron(0 * * * ? *)"]
)
def test_rate_and_cron_schedules_are_accepted(schedule: str) -> None:
    assert from_context({"sweepSchedule": schedule}).sweep_schedule == schedule


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("remediationMode", "maybe"),
        ("remediationMode", "ON"),
        ("alertEmails", "not-an-email"),
        ("alertEmails", "security@example.com,not-an-email"),
        ("regions", "us-east-9"),
        ("regions", "us-east-1,us-east-1"),
        ("regions", "[us-east-1"),
        ("regions", [1, 2]),
        ("sweepSchedule", "every hour"),
        ("sweepSchedule", "rate(1 hours)"),
        ("sweepSchedule", "rate(5 minute)"),
        ("sweepSchedule", "cron(* * *)"),
        ("slackSecretName", "trailguard slack"),
        ("slackSecretName", ["trailguard/slack"]),
        ("allowedExcludedSources", "kms"),
    ],
)
def test_bad_value_stops_the_synth_with_one_sentence_naming_the_key(key: str, value: Any) -> None:
    assert_one_sentence_naming(error_for({key: value}), key)


def test_unknown_mode_error_lists_the_allowed_modes() -> None:
    assert "off, dry-run, on" in error_for({"remediationMode": "maybe"})


def test_bad_schedule_error_shows_both_allowed_forms() -> None:
    message = error_for({"sweepSchedule": "every hour"})

    assert "rate(" in message
    assert "cron(" in message
    assert "'every hour'" in message


def test_unknown_region_error_names_the_region_and_an_example() -> None:
    message = error_for({"regions": "us-east-1,us-east-9"})

    assert "'us-east-9'" in message
    assert "us-east-1" in message


def test_duplicated_region_is_rejected() -> None:
    message = error_for({"regions": ["us-east-1", "eu-west-1", "us-east-1"]})

    assert_one_sentence_naming(message, "regions")
    assert "'us-east-1'" in message


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("alertEmails", "not-an-email", "email addresses"),
        ("allowedExcludedSources", "kms", "event sources like kms.amazonaws.com,"),
    ],
)
def test_bad_list_entry_error_says_what_is_allowed_in_plain_words(key: str, value: str, allowed: str) -> None:
    """What is allowed is said in plain words, never with a stray plural "s" glued on ("an email addresss",
    "kms.amazonaws.coms")."""
    message = error_for({key: value})

    assert allowed in message
    assert "addresss" not in message and ".coms" not in message, message
