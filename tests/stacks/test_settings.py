"""CDK context -> DeploySettings: defaults with no context, the list forms, and one clear sentence per bad value."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from stacks.settings import KEYS, PROJECT, DeploySettings, SettingsError

EXEMPTION: dict[str, Any] = {
    "trail": "data-*",
    "rules": ["management-events-excluded"],
    "reason": "logs S3 data events only",
    "expires": "2030-01-01",
}


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


def write_exemptions(tmp_path: Path, entries: Any, name: str = "exemptions.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(entries, indent=2) + "\n", encoding="utf-8")
    return path


def test_every_key_is_read_into_the_settings(tmp_path: Path) -> None:
    exemptions = write_exemptions(tmp_path, [EXEMPTION])
    context = {
        "alertEmails": "security@example.com",
        "slackSecretName": "trailguard/slack",
        "remediationMode": "dry-run",
        "regions": "eu-west-1",
        "sweepSchedule": "cron(0 * * * ? *)",
        "allowedExcludedSources": "kms.amazonaws.com,rdsdata.amazonaws.com",
        "exemptionsFile": str(exemptions),
    }
    settings = from_context(context)

    assert set(context) == set(KEYS)
    assert settings == DeploySettings(
        alert_emails=("security@example.com",),
        slack_secret_name="trailguard/slack",
        remediation_mode="dry-run",
        regions=("eu-west-1",),
        sweep_schedule="cron(0 * * * ? *)",
        allowed_excluded_sources=("kms.amazonaws.com", "rdsdata.amazonaws.com"),
        exemptions_json=exemptions.read_text(encoding="utf-8"),
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
        ("regions", "us-east-1,cn-north-1"),  # EventBridge cannot forward between partitions
        ("regions", "us-gov-west-1,eu-west-1"),
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


def test_regions_of_one_other_partition_are_fine_and_mixed_ones_say_which() -> None:
    assert from_context({"regions": "cn-north-1,cn-northwest-1"}).regions == ("cn-north-1", "cn-northwest-1")
    assert "'cn-north-1' is in aws-cn, 'us-east-1' in aws" in error_for({"regions": "us-east-1,cn-north-1"})


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


# ------------------------------------------------------------------------------------------ exemptionsFile


def test_valid_exemptions_file_is_read_as_its_text(tmp_path: Path) -> None:
    """The file's text, as written, is what the stack ships beside the handler."""
    path = write_exemptions(tmp_path, [EXEMPTION, {"trail": "org-audit", "rules": ["*"], "reason": "migration"}])

    assert from_context({"exemptionsFile": str(path)}).exemptions_json == path.read_text(encoding="utf-8")


def test_relative_exemptions_file_is_found_from_the_project_root_not_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_exemptions(tmp_path, [EXEMPTION])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    settings = from_context({"exemptionsFile": os.path.relpath(path, PROJECT)})

    assert settings.exemptions_json == path.read_text(encoding="utf-8")


def test_no_exemptions_file_ships_no_exemptions() -> None:
    assert from_context({}).exemptions_json == ""
    assert from_context({"exemptionsFile": "  "}).exemptions_json == ""


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ('[{"trail": "data-*", "rules": ["management-events-excluded"],', "is not valid JSON"),
        ([EXEMPTION | {"rules": ["no-such-rule"]}], "entry 1 (trail 'data-*'): 'no-such-rule' is not a rule id"),
        ([EXEMPTION | {"rules": ["no-compliant-trail"]}], "entry 1 (trail 'data-*'): no-compliant-trail can never"),
        ([EXEMPTION, EXEMPTION | {"trail": "audit-*", "expires": "2030-13-01"}], "entry 2 (trail 'audit-*')"),
        ([EXEMPTION | {"expires": "01/01/2030"}], "expires must be a date YYYY-MM-DD, not '01/01/2030'"),
    ],
    ids=["bad-json", "unknown-rule", "non-exemptible-rule", "bad-expiry-date", "expiry-not-iso"],
)
def test_bad_exemptions_file_stops_the_synth_with_one_sentence_naming_the_key_and_entry(
    tmp_path: Path, entries: Any, expected: str
) -> None:
    path = tmp_path / "exemptions.json"
    path.write_text(entries if isinstance(entries, str) else json.dumps(entries), encoding="utf-8")

    message = error_for({"exemptionsFile": str(path)})

    assert_one_sentence_naming(message, "exemptionsFile")
    assert str(path) in message
    assert expected in message


def test_missing_exemptions_file_stops_the_synth_with_one_sentence_naming_the_key(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-exemptions.json"

    message = error_for({"exemptionsFile": str(missing)})

    assert_one_sentence_naming(message, "exemptionsFile")
    assert repr(str(missing)) in message
    assert "cannot be read" in message


@pytest.mark.parametrize("content", [b"\xff\xfe[\x00]\x00", b"[]\x80"], ids=["utf-16-with-bom", "stray-latin-1-byte"])
def test_exemptions_file_that_is_not_utf8_stops_the_synth_with_one_sentence(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "exemptions.json"
    path.write_bytes(content)

    message = error_for({"exemptionsFile": str(path)})

    assert_one_sentence_naming(message, "exemptionsFile")
    assert repr(str(path)) in message


def test_exemptions_file_that_is_a_string_is_required(tmp_path: Path) -> None:
    assert_one_sentence_naming(error_for({"exemptionsFile": ["a.json", "b.json"]}), "exemptionsFile")
