"""The intake (``trailguard.events.parse``) on every real shape of the calls trailguard watches.

Each fixture in ``tests/events`` is one shape seen in published CloudTrail records (console, CLI, Terraform,
CloudFormation, SSO sessions, attack tools; failed calls; trimmed, stringified, scrubbed and 2020-era
exports), written with this project's own values. ``wrap(record(name))`` feeds a record exactly as written;
``event(name, ...)`` points it at a test's trail, account and region. Every fixture file must be classified
in ``EXPECTED`` below, so a new shape cannot be added without deciding what the intake should make of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.events import ACCOUNT, event, names, record, scheduled, wrap
from trailguard.events import Actor, Ignored, Intake, Sweep, TrailCall, TrailRef, parse


def trail_arn(region: str, name: str, account: str = ACCOUNT, partition: str = "aws") -> str:
    return f"arn:{partition}:cloudtrail:{region}:{account}:trail/{name}"


def as_call(outcome: Intake) -> TrailCall:
    assert isinstance(outcome, TrailCall), outcome
    return outcome


def as_ignored(outcome: Intake) -> Ignored:
    assert isinstance(outcome, Ignored), outcome
    return outcome


def as_written(name: str, **changes: Any) -> dict[str, Any]:
    """The fixture exactly as written (no trail, account, region or id rewritten), in its envelope."""
    detail = record(name)
    detail.update(changes)
    return wrap(detail)


def with_params(params: Any) -> dict[str, Any]:
    evt = event("stoplogging_cli", trail="org-audit")
    evt["detail"]["requestParameters"] = params
    return evt


# --- the table: every fixture file, as written, and what the intake makes of it -------------------------


@dataclass(frozen=True)
class Called:
    event_name: str
    trail: str
    region: str
    arn: str | None
    error: str = ""
    account: str = ACCOUNT


@dataclass(frozen=True)
class Skipped:
    because: str  # a substring of the Ignored reason


Expected = Called | Skipped


def watched(event_name: str, trail: str, region: str, error: str = "") -> Called:
    """A call on a trail of this account, named by name or ARN: the ARN is known."""
    return Called(event_name, trail, region, trail_arn(region, trail), error)


EXPECTED: dict[str, Expected] = {
    # unwatched calls
    "createtrail_failed_invalid_token": Skipped("'CreateTrail' is not a watched call"),
    "createtrail_terraform": Skipped("'CreateTrail' is not a watched call"),
    "lookupevents_console": Skipped("'LookupEvents' is not a watched call"),
    "putinsightselectors_console_trimmed": Skipped("'PutInsightSelectors' is not a watched call"),
    "startlogging_cloudshell": Skipped("'StartLogging' is not a watched call"),
    # DeleteTrail
    "deletetrail_cli_arn": watched("DeleteTrail", "org-audit", "us-west-2"),
    "deletetrail_cli_arn_scrubbed_account": Called(
        "DeleteTrail", "scrubbed-trail", "us-west-2", None, account="1234567890123"
    ),
    "deletetrail_cloudformation": watched("DeleteTrail", "stack-audit-trail", "us-west-2"),
    "deletetrail_conflict": watched("DeleteTrail", "stack-audit-trail", "us-west-2", "ConflictException"),
    "deletetrail_console_arn_trimmed": watched("DeleteTrail", "console-trail", "us-east-2"),
    "deletetrail_terraform": watched("DeleteTrail", "org-audit", "us-east-1"),
    "deletetrail_trail_not_found": watched(
        "DeleteTrail", "redteam-ct-delete-trail-qpzvx", "us-east-1", "TrailNotFoundException"
    ),
    # PutEventSelectors
    "puteventselectors_advanced_drop_iam": watched("PutEventSelectors", "org-audit", "us-east-1"),
    "puteventselectors_console_advanced_trimmed": watched("PutEventSelectors", "console-trail", "us-east-2"),
    "puteventselectors_fake_region": Skipped("region 'euwest-southnorth-4q' is not an AWS region"),
    "puteventselectors_read_only": watched("PutEventSelectors", "org-audit", "us-east-1"),
    "puteventselectors_restore_all": watched("PutEventSelectors", "org-audit", "us-east-1"),
    "puteventselectors_sso_mgmt_off": watched("PutEventSelectors", "org-audit", "us-west-2"),
    "puteventselectors_sso_mgmt_on": watched("PutEventSelectors", "org-audit", "us-west-2"),
    "puteventselectors_stratus_mgmt_off": watched("PutEventSelectors", "org-audit", "us-east-1"),
    # StopLogging
    "stoplogging_access_denied": watched("StopLogging", "org-audit", "us-east-1", "AccessDenied"),
    "stoplogging_cli": watched("StopLogging", "org-audit", "us-east-1"),
    "stoplogging_console_2020": watched("StopLogging", "legacy-trail", "us-east-1"),
    "stoplogging_console_arn": watched("StopLogging", "org-audit", "us-east-1"),
    "stoplogging_console_arn_trimmed": watched("StopLogging", "console-trail", "us-east-2"),
    "stoplogging_invalid_trail_name": watched("StopLogging", "org-audit", "us-west-2", "InvalidTrailNameException"),
    "stoplogging_non_iso_time": watched("StopLogging", "org-audit", "us-west-2"),
    "stoplogging_redacted_stringified": Called("StopLogging", "XXXXXXXXXX", "eu-central-1", None, account="XXXXXXXXXX"),
    "stoplogging_root_not_org_master": watched(
        "StopLogging", "org-trail-us-east-1", "us-east-1", "NotOrganizationMasterAccountException"
    ),
    "stoplogging_trail_not_found": watched(
        "StopLogging", "redteam-ct-stop-trail-hwqjne", "ap-southeast-2", "TrailNotFoundException"
    ),
    # UpdateTrail
    "updatetrail_console_form": watched("UpdateTrail", "org-audit", "us-west-2"),
    "updatetrail_single_region": watched("UpdateTrail", "org-audit", "us-east-1"),
    "updatetrail_trail_not_found": watched("UpdateTrail", "old-trail-2", "us-east-2", "TrailNotFoundException"),
    "updatetrail_vpce_network_activity": Skipped("eventType 'AwsVpceEvent' is not AwsApiCall"),
}

CALLED = sorted(name for name, expected in EXPECTED.items() if isinstance(expected, Called))


def test_every_fixture_has_an_expected_outcome() -> None:
    unclassified = sorted(set(names()) - set(EXPECTED))
    stale = sorted(set(EXPECTED) - set(names()))
    assert not unclassified, f"classify these fixtures in EXPECTED: {unclassified}"
    assert not stale, f"EXPECTED names fixtures that do not exist: {stale}"


@pytest.mark.parametrize("name", names())
def test_fixture_as_written_gets_its_expected_outcome(name: str) -> None:
    expected = EXPECTED.get(name)
    assert expected is not None, f"{name}.json has no expected outcome in EXPECTED"
    outcome = parse(as_written(name))
    if isinstance(expected, Skipped):
        assert expected.because in as_ignored(outcome).reason
        return
    call = as_call(outcome)
    assert (call.event_name, call.trail.name, call.trail.region, call.trail.arn, call.account) == (
        expected.event_name,
        expected.trail,
        expected.region,
        expected.arn,
        expected.account,
    )
    assert (call.failed, call.error_code) == (bool(expected.error), expected.error)


@pytest.mark.parametrize("name", CALLED)
def test_every_watched_fixture_follows_the_trail_account_and_region_a_test_points_it_at(name: str) -> None:
    evt = event(name, trail="payments-trail", account="210987654321", region="eu-west-1", event_id="e-1")
    call = as_call(parse(evt))

    assert (call.event_id, call.account, call.region) == ("e-1", "210987654321", "eu-west-1")
    assert call.trail == TrailRef(
        "payments-trail", "eu-west-1", trail_arn("eu-west-1", "payments-trail", "210987654321")
    )


# --- DeleteTrail ---------------------------------------------------------------------------------------


def test_cli_delete_by_arn_is_a_successful_call_with_the_full_actor() -> None:
    assert parse(as_written("deletetrail_cli_arn")) == TrailCall(
        event_id="9a4e2c71-3d8b-4f0e-a516-7b2d9e0c8f14",
        event_name="DeleteTrail",
        account=ACCOUNT,
        region="us-west-2",
        trail=TrailRef("org-audit", "us-west-2", trail_arn("us-west-2", "org-audit")),
        actor=Actor(
            arn="arn:aws:iam::123456789012:user/ops-admin",
            principal_type="IAMUser",
            source_ip="203.0.113.41",
            user_agent="aws-cli/1.29.84 Python/3.8.18 Darwin/22.6.0 botocore/1.31.84",
            time="2026-11-20T21:31:07Z",
        ),
    )


def test_delete_by_arn_reads_the_trail_in_the_arns_region_not_where_the_call_landed() -> None:
    call = as_call(parse(as_written("deletetrail_cli_arn", awsRegion="us-east-1")))

    assert call.region == "us-east-1"
    assert call.trail == TrailRef("org-audit", "us-west-2", trail_arn("us-west-2", "org-audit"))


def test_console_delete_from_a_trimmed_export_is_a_call_with_only_the_user_agent_and_time_known() -> None:
    call = as_call(parse(as_written("deletetrail_console_arn_trimmed")))

    assert call.event_id == "e1b7d3a2-6c94-4f08-9a1e-5d2c8b7f3a60"
    assert call.trail == TrailRef("console-trail", "us-east-2", trail_arn("us-east-2", "console-trail"))
    assert not call.failed  # errorCode null is success
    assert call.actor == Actor(user_agent="AWS Internal", time="2026-11-20T21:40:12Z")


def test_trimmed_record_in_an_envelope_without_account_takes_the_account_from_the_trail_arn() -> None:
    evt = wrap(record("deletetrail_console_arn_trimmed"), account="")
    evt["detail"]["requestParameters"]["name"] = trail_arn("us-east-2", "console-trail", "210987654321")

    assert as_call(parse(evt)).account == "210987654321"


def test_delete_by_a_cloudformation_stack_names_the_invoking_service() -> None:
    call = as_call(parse(as_written("deletetrail_cloudformation")))

    assert not call.failed
    assert call.actor == Actor(
        arn="arn:aws:sts::123456789012:assumed-role/StackOpsRole/AWSCloudFormation",
        principal_type="AssumedRole",
        source_ip="cloudformation.amazonaws.com",
        user_agent="cloudformation.amazonaws.com",
        time="2026-11-20T21:44:51Z",
        invoked_by="cloudformation.amazonaws.com",
    )


def test_delete_that_hit_a_conflict_is_a_failed_attempt_without_a_message() -> None:
    call = as_call(parse(as_written("deletetrail_conflict")))

    assert call.failed
    assert (call.error_code, call.error_message) == ("ConflictException", "")
    assert call.actor.invoked_by == "cloudformation.amazonaws.com"


def test_delete_of_a_trail_that_does_not_exist_is_a_failed_attempt_with_the_aws_message() -> None:
    call = as_call(parse(as_written("deletetrail_trail_not_found")))

    assert call.failed
    assert call.error_code == "TrailNotFoundException"
    assert call.error_message == (
        "Unknown trail: arn:aws:cloudtrail:us-east-1:123456789012:trail/redteam-ct-delete-trail-qpzvx "
        "for the user: 123456789012"
    )
    assert call.actor.user_agent.startswith("stratus-red-team_")


def test_arn_with_a_scrubbed_13_digit_account_still_names_the_trail_and_region_but_no_arn() -> None:
    call = as_call(parse(as_written("deletetrail_cli_arn_scrubbed_account")))

    assert call.trail == TrailRef("scrubbed-trail", "us-west-2", None)
    assert call.account == "1234567890123"  # the envelope's; the handler ignores calls from other accounts


def test_scrubbed_arn_in_a_real_account_envelope_keeps_the_envelope_account() -> None:
    call = as_call(parse(wrap(record("deletetrail_cli_arn_scrubbed_account"), account=ACCOUNT)))

    assert (call.account, call.trail.arn) == (ACCOUNT, None)


# --- PutEventSelectors -----------------------------------------------------------------------------------


def test_console_advanced_selectors_from_a_trimmed_export_name_the_trail_by_arn() -> None:
    call = as_call(parse(as_written("puteventselectors_console_advanced_trimmed")))

    assert call.event_name == "PutEventSelectors"
    assert call.trail == TrailRef("console-trail", "us-east-2", trail_arn("us-east-2", "console-trail"))
    assert call.actor == Actor(user_agent="AWS Internal", time="2026-11-20T21:40:01Z")


SSO_ROLE = "AWSReservedSSO_AdministratorAccess_5e0c1a9b7d3f2e84"
SSO_SESSION = f"arn:aws:sts::123456789012:assumed-role/{SSO_ROLE}/maria.garcia@example.com"


def test_sso_session_disabling_management_events_is_a_call_by_the_sso_session() -> None:
    call = as_call(parse(as_written("puteventselectors_sso_mgmt_off")))

    assert call.event_id == "f2b8d6e0-4a7c-4c31-8e95-0d3b7a9f1c26"
    assert call.trail == TrailRef("org-audit", "us-west-2", trail_arn("us-west-2", "org-audit"))
    assert (call.actor.arn, call.actor.principal_type) == (SSO_SESSION, "AssumedRole")
    assert call.actor.time == "2026-11-20 21:51:21.000000000"  # a log platform's time format, kept verbatim


def test_sso_session_enabling_management_events_is_still_a_call_since_live_state_decides() -> None:
    call = as_call(parse(as_written("puteventselectors_sso_mgmt_on")))

    assert (call.event_name, call.failed, call.actor.arn) == ("PutEventSelectors", False, SSO_SESSION)


def test_record_from_a_fake_region_is_ignored_as_not_an_aws_region() -> None:
    ignored = as_ignored(parse(as_written("puteventselectors_fake_region")))

    assert "is not an AWS region" in ignored.reason
    assert (ignored.event_id, ignored.event_name) == ("4d9e2a6f-b3c1-4e05-8f7a-1c5b0d3e9a62", "PutEventSelectors")


def test_arn_in_a_fake_region_names_no_valid_trail_even_from_a_real_region() -> None:
    evt = event("puteventselectors_advanced_drop_iam", region="us-east-1")
    evt["detail"]["requestParameters"]["trailName"] = trail_arn("euwest-southnorth-4q", "org-audit")

    assert "names no valid trail" in as_ignored(parse(evt)).reason


# --- StopLogging -----------------------------------------------------------------------------------------


def test_console_stop_from_a_trimmed_export_is_a_call_by_arn() -> None:
    assert parse(as_written("stoplogging_console_arn_trimmed")) == TrailCall(
        event_id="7b3e9f1a-2d6c-4a85-b0e4-f8c1d5a2b976",
        event_name="StopLogging",
        account=ACCOUNT,
        region="us-east-2",
        trail=TrailRef("console-trail", "us-east-2", trail_arn("us-east-2", "console-trail")),
        actor=Actor(user_agent="AWS Internal", time="2026-11-20T21:40:33Z"),
    )


def test_2020_console_stop_without_recipient_account_takes_the_envelope_account_and_odd_ids() -> None:
    call = as_call(parse(wrap(record("stoplogging_console_2020"), account="000000000000")))

    assert call.event_id == "d81f-4b2c-0a9e-sanitized-07"  # ids are not validated as UUIDs
    assert call.account == "000000000000"
    assert call.trail == TrailRef("legacy-trail", "us-east-1", trail_arn("us-east-1", "legacy-trail"))
    assert (call.actor.invoked_by, call.actor.user_agent) == ("signin.amazonaws.com", "signin.amazonaws.com")


def test_redacted_record_with_stringified_values_is_a_successful_call_without_an_arn() -> None:
    call = as_call(parse(as_written("stoplogging_redacted_stringified")))

    assert not call.failed
    assert call.event_id == "XXXXXXXXXX"
    assert call.trail == TrailRef("XXXXXXXXXX", "eu-central-1", None)
    assert call.account == "XXXXXXXXXX"  # the handler drops calls from accounts other than its own


@pytest.mark.parametrize("error_code", [None, "null", ""])
def test_an_error_code_of_null_or_empty_means_the_call_succeeded(error_code: str | None) -> None:
    call = as_call(parse(event("stoplogging_cli", errorCode=error_code, errorMessage="null")))

    assert not call.failed
    assert (call.error_code, call.error_message) == ("", "")


def test_stop_refused_for_an_invalid_trail_name_is_a_failed_attempt_without_a_message() -> None:
    call = as_call(parse(as_written("stoplogging_invalid_trail_name")))

    assert call.failed
    assert (call.error_code, call.error_message) == ("InvalidTrailNameException", "")
    assert call.trail.arn == trail_arn("us-west-2", "org-audit")


def test_root_stopping_an_organization_trail_from_a_member_account_is_a_failed_attempt() -> None:
    assert parse(as_written("stoplogging_root_not_org_master")) == TrailCall(
        event_id="5c0e8b3a-7f19-4d62-a1b8-e4d7f2c6a093",
        event_name="StopLogging",
        account=ACCOUNT,
        region="us-east-1",
        trail=TrailRef("org-trail-us-east-1", "us-east-1", trail_arn("us-east-1", "org-trail-us-east-1")),
        actor=Actor(
            arn="arn:aws:iam::123456789012:root",
            principal_type="Root",
            source_ip="203.0.113.250",
            user_agent="console.amazonaws.com",
            time="2026-11-20T08:30:03Z",
        ),
        error_code="NotOrganizationMasterAccountException",
        error_message="Cannot stop trail, not master trail.",
    )


def test_stop_with_a_non_iso_event_time_is_a_call_that_keeps_the_time_as_written() -> None:
    call = as_call(parse(as_written("stoplogging_non_iso_time")))

    assert (call.event_name, call.failed) == ("StopLogging", False)
    assert call.actor.time == "2026-11-20 21:16:40.000000000"


def test_stop_of_a_trail_that_does_not_exist_in_ap_southeast_2_is_a_failed_attempt_there() -> None:
    call = as_call(parse(as_written("stoplogging_trail_not_found")))

    assert (call.region, call.trail.region) == ("ap-southeast-2", "ap-southeast-2")
    assert (call.failed, call.error_code) == (True, "TrailNotFoundException")


# --- UpdateTrail ---------------------------------------------------------------------------------------


def test_console_update_resending_the_whole_form_is_a_call_naming_only_the_trail() -> None:
    assert parse(as_written("updatetrail_console_form")) == TrailCall(
        event_id="8e2d5b1f-6a4c-4f93-b7e0-d1c3a9f5e286",
        event_name="UpdateTrail",
        account=ACCOUNT,
        region="us-west-2",
        trail=TrailRef("org-audit", "us-west-2", trail_arn("us-west-2", "org-audit")),
        actor=Actor(
            arn="arn:aws:iam::123456789012:user/dana",
            principal_type="IAMUser",
            source_ip="203.0.113.17",
            user_agent="signin.amazonaws.com",
            time="2026-11-20T20:58:45Z",
            invoked_by="signin.amazonaws.com",
        ),
    )


def test_update_of_a_missing_trail_in_an_old_record_is_a_failed_attempt() -> None:
    call = as_call(parse(as_written("updatetrail_trail_not_found")))

    assert (call.error_code, call.error_message) == (
        "TrailNotFoundException",
        "Unknown trail: old-trail-2 for the user: 123456789012",
    )
    assert call.trail == TrailRef("old-trail-2", "us-east-2", trail_arn("us-east-2", "old-trail-2"))


def test_update_trail_seen_as_vpc_endpoint_network_activity_is_ignored() -> None:
    evt = as_written("updatetrail_vpce_network_activity")
    ignored = as_ignored(parse(evt))

    assert "'AwsVpceEvent' is not AwsApiCall" in ignored.reason
    assert (ignored.event_id, ignored.event_name) == (evt["id"], "UpdateTrail")  # no eventID: the envelope id


def test_a_service_event_about_a_watched_call_is_ignored() -> None:
    assert "is not AwsApiCall" in as_ignored(parse(event("stoplogging_cli", eventType="AwsServiceEvent"))).reason


# --- calls that are not watched ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "event_name"),
    [
        ("createtrail_terraform", "CreateTrail"),
        ("createtrail_failed_invalid_token", "CreateTrail"),
        ("startlogging_cloudshell", "StartLogging"),
        ("putinsightselectors_console_trimmed", "PutInsightSelectors"),
        ("lookupevents_console", "LookupEvents"),
    ],
)
def test_unwatched_call_is_ignored_even_when_it_names_a_trail(name: str, event_name: str) -> None:
    ignored = as_ignored(parse(event(name, trail="org-audit")))

    assert ignored.reason == f"{event_name!r} is not a watched call"
    assert ignored.event_name == event_name


def test_masked_account_envelope_of_an_unwatched_call_is_ignored_for_the_call() -> None:
    ignored = as_ignored(parse(wrap(record("lookupevents_console"), account="892xxxxxxxxx")))

    assert "is not a watched call" in ignored.reason


# --- the envelope --------------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["aws.cloudtrail.fake", "custom.app", "aws.events", "AWS.CloudTrail", ""])
def test_a_perfect_cloudtrail_record_from_another_source_is_ignored(source: str) -> None:
    ignored = as_ignored(parse(wrap(record("stoplogging_cli"), source=source)))

    assert ignored.reason.startswith(f"source {source!r} ")
    assert "is not aws.cloudtrail" in ignored.reason or "does not match the record's eventSource" in ignored.reason


@pytest.mark.parametrize("source", [None, 7, ["aws.cloudtrail"], {"name": "aws.cloudtrail"}])
def test_a_source_that_is_not_a_string_is_ignored(source: Any) -> None:
    evt = event("stoplogging_cli")
    evt["source"] = source

    assert "is not aws.cloudtrail" in as_ignored(parse(evt)).reason


def test_an_event_without_source_is_ignored() -> None:
    evt = event("stoplogging_cli")
    del evt["source"]

    assert "is not aws.cloudtrail" in as_ignored(parse(evt)).reason


@pytest.mark.parametrize(
    "detail_type", ["AWS Service Event via CloudTrail", "AWS Console Sign In via CloudTrail", "Scheduled Event", None]
)
def test_a_cloudtrail_event_of_another_detail_type_is_ignored(detail_type: str | None) -> None:
    evt = event("stoplogging_cli")
    evt["detail-type"] = detail_type

    ignored = as_ignored(parse(evt))
    assert ignored.reason.startswith("detail-type")
    assert "'AWS API Call via CloudTrail'" in ignored.reason


@pytest.mark.parametrize("detail", [None, {}, "null", [], ["eventName"]])
def test_an_envelope_without_a_record_in_detail_is_ignored(detail: Any) -> None:
    evt = event("stoplogging_cli")
    evt["detail"] = detail

    assert as_ignored(parse(evt)).reason == "no CloudTrail record in detail"


@pytest.mark.parametrize("event_source", ["iam.amazonaws.com", "cloudtrail.amazonaws.com.evil.example", None])
def test_a_record_from_another_event_source_is_ignored(event_source: str | None) -> None:
    ignored = as_ignored(parse(event("stoplogging_cli", eventSource=event_source)))

    assert "is not cloudtrail.amazonaws.com" in ignored.reason


def test_a_record_without_event_source_is_ignored() -> None:
    evt = event("stoplogging_cli")
    del evt["detail"]["eventSource"]

    assert "is not cloudtrail.amazonaws.com" in as_ignored(parse(evt)).reason


def test_a_record_without_event_id_is_known_by_the_envelope_id() -> None:
    evt = event("stoplogging_cli")
    del evt["detail"]["eventID"]

    assert as_call(parse(evt)).event_id == evt["id"]


def test_a_record_without_event_id_in_an_envelope_without_id_is_ignored() -> None:
    evt = event("stoplogging_cli")
    del evt["detail"]["eventID"]
    del evt["id"]

    assert as_ignored(parse(evt)).reason == "no eventID"


def test_a_stringified_null_event_id_counts_as_missing() -> None:
    evt = event("stoplogging_cli", eventID="null")
    evt["id"] = None

    assert as_ignored(parse(evt)).reason == "no eventID"


# --- the trail the call names ------------------------------------------------------------------------------


@pytest.mark.parametrize("params", [None, "null", {}, {"name": None}, {"trailName": ""}, {"trailName": None}, []])
def test_a_call_whose_request_names_no_trail_is_ignored(params: Any) -> None:
    ignored = as_ignored(parse(with_params(params)))

    assert "names no valid trail" in ignored.reason
    assert ignored.event_name == "StopLogging"


def test_a_trail_literally_named_null_is_a_name_not_a_missing_one() -> None:
    # "null" is a legal trail name, and a real request always carries the name, so it is not read as JSON null
    assert as_call(parse(with_params({"name": "null"}))).trail.name == "null"


@pytest.mark.parametrize(
    "name",
    [
        "org audit",
        "<script>alert(1)</script>",
        "a" * 200,
        "-leading-dash",
        "../org-audit",
        "org-audit;rm -rf",
        42,
        ["org-audit"],
        {"name": "org-audit"},
        "arn:aws:cloudtrail:us-east-1:123456789012:trail/<script>",
        "arn:aws:cloudtrail:us-east-1:123456789012:trail/" + "a" * 200,
        "arn:aws:iam::123456789012:role/org-audit",
        "arn:aws:cloudtrail:us-east-1:123456789012:eventdatastore/org-audit",
    ],
)
def test_a_name_that_is_no_valid_trail_name_or_arn_is_ignored(name: Any) -> None:
    assert "names no valid trail" in as_ignored(parse(with_params({"name": name}))).reason


def test_put_event_selectors_names_its_trail_by_trail_name() -> None:
    evt = event("puteventselectors_read_only", trail="org-audit")
    evt["detail"]["requestParameters"]["name"] = "some-other-trail"

    assert as_call(parse(evt)).trail.name == "org-audit"


@pytest.mark.parametrize(
    ("arn", "partition", "region"),
    [
        ("arn:aws-cn:cloudtrail:cn-north-1:123456789012:trail/org-audit", "aws-cn", "cn-north-1"),
        ("arn:aws-us-gov:cloudtrail:us-gov-west-1:123456789012:trail/org-audit", "aws-us-gov", "us-gov-west-1"),
    ],
)
def test_an_arn_in_another_partition_keeps_its_partition_and_region(arn: str, partition: str, region: str) -> None:
    call = as_call(parse(with_params({"name": arn})))

    assert call.trail == TrailRef("org-audit", region, arn, partition)


@pytest.mark.parametrize(("region", "partition"), [("cn-northwest-1", "aws-cn"), ("us-gov-east-1", "aws-us-gov")])
def test_a_plain_name_in_another_partition_gets_that_partitions_arn(region: str, partition: str) -> None:
    call = as_call(parse(event("stoplogging_cli", trail="org-audit", region=region)))

    assert call.trail == TrailRef("org-audit", region, trail_arn(region, "org-audit", partition=partition), partition)


def test_a_plain_name_in_an_envelope_with_a_masked_account_gets_no_arn() -> None:
    call = as_call(parse(wrap(record("stoplogging_cli"), account="892xxxxxxxxx")))

    assert (call.account, call.trail.arn) == ("892xxxxxxxxx", None)


def test_untrusted_strings_are_kept_but_bounded() -> None:
    call = as_call(parse(event("stoplogging_cli", userAgent="A" * 1_000_000, errorMessage="é" * 5000)))

    assert call.actor.user_agent == "A" * 2048
    assert len(call.error_message) == 2048


# --- the schedule and things that are not events -----------------------------------------------------------


def test_the_scheduled_event_starts_a_sweep() -> None:
    assert parse(scheduled("sched-1")) == Sweep(event_id="sched-1", account=ACCOUNT, time="2026-11-21T08:00:00Z")


def test_a_scheduled_event_without_id_is_ignored() -> None:
    evt = scheduled()
    del evt["id"]

    assert as_ignored(parse(evt)).reason == "scheduled event without an id"


def test_a_scheduled_event_claiming_to_come_from_elsewhere_is_not_a_sweep() -> None:
    evt = scheduled()
    evt["source"] = "custom.scheduler"

    assert "is not aws.cloudtrail" in as_ignored(parse(evt)).reason


@pytest.mark.parametrize("evt", [None, [], [{"source": "aws.cloudtrail"}], "aws.cloudtrail", 42, 3.5, True, b"{}"])
def test_something_that_is_not_an_object_is_ignored(evt: Any) -> None:
    assert as_ignored(parse(evt)).reason == f"event is a {type(evt).__name__}, not an object"


# --- known intake defects, pinned (strict: they fail loudly once events.py is fixed) -----------------------


@pytest.mark.parametrize("event_name", [["StopLogging"], {"name": "StopLogging"}])
def test_an_event_name_that_is_a_list_or_object_is_ignored(event_name: Any) -> None:
    assert "is not a watched call" in as_ignored(parse(event("stoplogging_cli", eventName=event_name))).reason


def test_a_region_with_a_trailing_newline_is_not_an_aws_region() -> None:
    assert "is not an AWS region" in as_ignored(parse(event("stoplogging_cli", awsRegion="us-east-1\n"))).reason


def test_a_region_with_non_ascii_digits_is_not_an_aws_region() -> None:
    assert "is not an AWS region" in as_ignored(parse(event("stoplogging_cli", awsRegion="us-east-\u0661"))).reason


@pytest.mark.parametrize("name", ["org-audit\n", "arn:aws:cloudtrail:us-east-1:123456789012:trail/org-audit\n"])
def test_a_trail_name_with_a_trailing_newline_names_no_valid_trail(name: str) -> None:
    assert "names no valid trail" in as_ignored(parse(with_params({"name": name}))).reason


def test_an_envelope_account_with_a_trailing_newline_builds_no_arn() -> None:
    assert as_call(parse(wrap(record("stoplogging_cli"), account=f"{ACCOUNT}\n"))).trail.arn is None


def test_an_arn_whose_trail_name_starts_with_a_dash_names_no_valid_trail() -> None:
    assert "names no valid trail" in as_ignored(parse(with_params({"name": trail_arn("us-east-1", "-org")}))).reason
