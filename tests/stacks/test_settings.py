"""CDK context -> DeploySettings: defaults with no context, the list forms, and one clear sentence per bad value."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from stacks.settings import (
    DEFAULT_SIGNING_SECRET,
    INTERACTIVITY_KEYS,
    KEYS,
    ORGANIZATION_KEYS,
    PROJECT,
    DeploySettings,
    SettingsError,
)
from tests.stacks.conftest import CDK_JSON_CONTEXT

EXEMPTION: dict[str, Any] = {
    "trail": "data-*",
    "rules": ["management-events-excluded"],
    "reason": "logs S3 data events only",
    "expires": "2030-01-01",
}


def from_context(context: dict[str, Any]) -> DeploySettings:
    """As app.py calls it, with a dict for ``app.node.get_all_context()``."""
    return DeploySettings.from_context(context)


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
        "securityHub": "true",
        "reservedConcurrency": "50",
        "slackInteractivity": "true",
        "slackSigningSecretName": "trailguard/signing",
        "slackAllowedUsers": "U024BE7LH,W0A1B2C3D",
    }
    organization = {
        "organization": "true",
        "organizationId": "o-abcdefghij",
        "organizationalUnits": "r-ab12,ou-ab12-cdefgh34",
        "memberRoleName": "trailguard-reader",
    }
    settings = from_context(context | organization)

    assert set(context) | set(organization) == set(KEYS)
    assert settings == DeploySettings(
        alert_emails=("security@example.com",),
        slack_secret_name="trailguard/slack",
        remediation_mode="dry-run",
        regions=("eu-west-1",),
        sweep_schedule="cron(0 * * * ? *)",
        security_hub=True,
        reserved_concurrency=50,
        slack_interactivity=True,
        slack_signing_secret_name="trailguard/signing",
        slack_allowed_users=("U024BE7LH", "W0A1B2C3D"),
        allowed_excluded_sources=("kms.amazonaws.com", "rdsdata.amazonaws.com"),
        exemptions_json=exemptions.read_text(encoding="utf-8"),
        organization=True,
        organization_id="o-abcdefghij",
        organizational_units=("r-ab12", "ou-ab12-cdefgh34"),
        member_role_name="trailguard-reader",
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


# ------------------------------------------------------------------------------------------ organization

ORGANIZATION: dict[str, Any] = {
    "organization": "true",
    "organizationId": "o-abcdefghij",
    "organizationalUnits": "r-ab12",
}


def test_no_organization_keys_is_a_single_account_deployment() -> None:
    settings = from_context({})

    assert settings.organization is False
    assert (settings.organization_id, settings.organizational_units) == ("", ())
    assert from_context({"organization": "false"}) == from_context({"organization": False}) == settings


@pytest.mark.parametrize("flag", [True, "true", "TRUE", " true "])
def test_organization_mode_reads_its_keys_with_the_default_member_role(flag: Any) -> None:
    settings = from_context(ORGANIZATION | {"organization": flag})

    assert settings.organization is True
    assert settings.organization_id == "o-abcdefghij"
    assert settings.organizational_units == ("r-ab12",)
    assert settings.member_role_name == "trailguard-member"


@pytest.mark.parametrize(
    "units",
    [
        ["r-ab12", "ou-ab12-cdefgh34"],
        '["r-ab12", "ou-ab12-cdefgh34"]',
        "r-ab12,ou-ab12-cdefgh34",
        " r-ab12 , ou-ab12-cdefgh34 ,",
    ],
    ids=["json-list", "json-encoded-string", "comma-separated", "comma-separated-with-spaces"],
)
def test_organizational_units_are_read_as_a_list_in_every_form(units: Any) -> None:
    settings = from_context(ORGANIZATION | {"organizationalUnits": units})

    assert settings.organizational_units == ("r-ab12", "ou-ab12-cdefgh34")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("organization", "yes"),
        ("organization", 1),
        ("organizationId", None),  # missing
        ("organizationId", "o-abc"),  # too short
        ("organizationId", "o-ABCDEFGHIJ"),
        ("organizationId", "abcdefghijkl"),
        ("organizationId", ["o-abcdefghij"]),
        ("organizationalUnits", None),  # missing
        ("organizationalUnits", ""),
        ("organizationalUnits", "[]"),
        ("organizationalUnits", "ou-ab12"),
        ("organizationalUnits", "r-ab12,123456789012"),  # an account id is not a deployment target
        ("organizationalUnits", "r-AB12"),
        ("organizationalUnits", "r-ab12,r-ab12"),
        ("organizationalUnits", "[r-ab12"),
        ("memberRoleName", "trailguard member"),
        ("memberRoleName", "x" * 65),
        ("memberRoleName", "role/trailguard"),
    ],
)
def test_bad_organization_value_stops_the_synth_with_one_sentence_naming_the_key(key: str, value: Any) -> None:
    context = {k: v for k, v in (ORGANIZATION | {key: value}).items() if v is not None}

    assert_one_sentence_naming(error_for(context), key)


@pytest.mark.parametrize("key", ORGANIZATION_KEYS[1:])
@pytest.mark.parametrize("organization", [None, False, "false"])
def test_organization_key_without_organization_true_is_an_error(key: str, organization: Any) -> None:
    value = {"organizationId": "o-abcdefghij", "organizationalUnits": "r-ab12", "memberRoleName": "reader"}[key]
    context = {key: value} | ({} if organization is None else {"organization": organization})

    message = error_for(context)

    assert_one_sentence_naming(message, key)
    assert "organization=true" in message


def test_required_organization_keys_say_what_they_are() -> None:
    assert "o-" in error_for({"organization": True, "organizationalUnits": "r-ab12"})
    assert "r-..." in error_for({"organization": True, "organizationId": "o-abcdefghij"})


# ------------------------------------------------------------------------------------------ Slack buttons

INTERACTIVITY: dict[str, Any] = {
    "slackInteractivity": "true",
    "slackSecretName": "trailguard/slack",
    "slackAllowedUsers": "U024BE7LH",
}


def test_no_slack_buttons_without_slack_interactivity() -> None:
    settings = from_context({"slackSecretName": "trailguard/slack"})

    assert settings.slack_interactivity is False
    assert settings.slack_allowed_users == ()
    assert (
        from_context({"slackInteractivity": "false"}) == from_context({"slackInteractivity": False}) == from_context({})
    )


@pytest.mark.parametrize("flag", [True, "true", "TRUE", " true "])
def test_slack_interactivity_reads_its_keys_with_the_default_signing_secret(flag: Any) -> None:
    settings = from_context(INTERACTIVITY | {"slackInteractivity": flag})

    assert settings.slack_interactivity is True
    assert settings.slack_signing_secret_name == DEFAULT_SIGNING_SECRET == "trailguard/slack-signing"
    assert settings.slack_allowed_users == ("U024BE7LH",)
    assert from_context(INTERACTIVITY | {"slackSigningSecretName": "ops/slack-app"}).slack_signing_secret_name == (
        "ops/slack-app"
    )


@pytest.mark.parametrize(
    "users",
    [["U024BE7LH", "W0A1B2C3D"], '["U024BE7LH", "W0A1B2C3D"]', "U024BE7LH,W0A1B2C3D", " U024BE7LH , W0A1B2C3D ,"],
    ids=["json-list", "json-encoded-string", "comma-separated", "comma-separated-with-spaces"],
)
def test_slack_allowed_users_are_read_as_a_list_in_every_form(users: Any) -> None:
    assert from_context(INTERACTIVITY | {"slackAllowedUsers": users}).slack_allowed_users == ("U024BE7LH", "W0A1B2C3D")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("slackInteractivity", "yes"),
        ("slackInteractivity", 1),
        ("slackSigningSecretName", "slack signing secret"),
        ("slackSigningSecretName", ["trailguard/signing"]),
        ("slackSigningSecretName", "trailguard/slack"),  # the webhook's secret: the function must not read it
        ("slackSigningSecretName", "trailguard/slack-signing-secret"),  # "-secret" reads as an ARN's suffix
        ("slackSecretName", "trailguard/slack-alerts"),
        ("slackAllowedUsers", None),  # missing
        ("slackAllowedUsers", ""),
        ("slackAllowedUsers", "[]"),
        ("slackAllowedUsers", "u024be7lh"),  # Slack's ids are upper case
        ("slackAllowedUsers", "C024BE7LH"),  # a channel, not a user
        ("slackAllowedUsers", "U1"),
        ("slackAllowedUsers", "U" + "A" * 21),
        ("slackAllowedUsers", "U024BE7LH,alice"),
        ("slackAllowedUsers", "U024\u0412E7LH"),  # a Cyrillic capital Ve for the B: ASCII only
        ("slackAllowedUsers", "U024BE7L\uff28"),  # a full-width H
        ("slackAllowedUsers", "U024BE7LH,U024BE7LH"),
        ("slackAllowedUsers", "[U024BE7LH"),
        ("slackAllowedUsers", [7]),
    ],
)
def test_bad_slack_buttons_value_stops_the_synth_with_one_sentence_naming_the_key(key: str, value: Any) -> None:
    context = {k: v for k, v in (INTERACTIVITY | {key: value}).items() if v is not None}

    assert_one_sentence_naming(error_for(context), key)


def test_slack_interactivity_needs_the_slack_alerts_that_carry_the_buttons() -> None:
    message = error_for({k: v for k, v in INTERACTIVITY.items() if k != "slackSecretName"})

    assert_one_sentence_naming(message, "slackSecretName")
    assert message.startswith("slackInteractivity=true needs slackSecretName")


def test_slack_interactivity_needs_someone_allowed_to_press_the_buttons() -> None:
    message = error_for({k: v for k, v in INTERACTIVITY.items() if k != "slackAllowedUsers"})

    assert_one_sentence_naming(message, "slackAllowedUsers")
    assert message.startswith("slackInteractivity=true needs slackAllowedUsers")


@pytest.mark.parametrize("key", INTERACTIVITY_KEYS[1:])
@pytest.mark.parametrize("flag", [None, False, "false"])
def test_slack_buttons_key_without_slack_interactivity_true_is_an_error(key: str, flag: Any) -> None:
    value = {"slackSigningSecretName": "trailguard/signing", "slackAllowedUsers": "U024BE7LH"}[key]
    context = {"slackSecretName": "trailguard/slack", key: value} | (
        {} if flag is None else {"slackInteractivity": flag}
    )

    message = error_for(context)

    assert_one_sentence_naming(message, key)
    assert message == f"{key} needs slackInteractivity=true: add -c slackInteractivity=true or remove it."


# ------------------------------------------------------------------------------------- unknown keys


@pytest.mark.parametrize("key", ["bogusKey", "region", "remediation_mode", "organisationId", "Regions"])
def test_unknown_context_key_stops_the_synth_naming_it(key: str) -> None:
    message = error_for({key: "1"})

    assert_one_sentence_naming(message, key)
    assert message.startswith(f"{key} is not a context key trailguard knows;")
    assert all(known in message for known in KEYS)


def test_cdk_json_context_and_what_the_cdk_adds_pass() -> None:
    """cdk.json's feature flags, what the CLI adds to every synth (as app.node.get_all_context() shows it), and
    context lookups cached in cdk.context.json are the CDK's, never ours to refuse."""
    cli = {
        "aws:cdk:enable-path-metadata": True,
        "aws:cdk:enable-asset-metadata": True,
        "aws:cdk:version-reporting": True,
        "aws:cdk:bundling-stacks": ["**"],
        "aws-cdk:enableDiffNoFail": True,
        "acknowledged-issue-numbers": [32775],
        "availability-zones:account=123456789012:region=us-east-1": ["us-east-1a"],
        "ssm:account=123456789012:parameterName=/x:region=us-east-1": "value",
        "vpc-provider:account=123456789012:filter.isDefault=true:region=us-east-1:returnAsymmetricSubnets=true": {},
        "hosted-zone:account=123456789012:domainName=example.com:region=us-east-1": {},
    }

    assert from_context(CDK_JSON_CONTEXT | cli) == from_context({})
    assert from_context(CDK_JSON_CONTEXT | cli | ORGANIZATION).organization is True
