"""``trailguard baseline show|accept``, ``revert`` and ``snooze`` as a user runs them, against moto's server:
what each does to the trail and the state table, who it records, and its exit codes (0 done, 1 refused,
2 bad input)."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
import pytest

from tests.events import event, scheduled
from trailguard.state_table import StateTable

from .conftest import BUCKET, REGION, TABLE, Detector, cloudtrail, run_trailguard
from .test_interaction import OTHER_BUCKET, TRAIL, make_trail

pytestmark = pytest.mark.integration

CALLER = "arn:aws:sts::123456789012:user/moto"  # who moto says is calling


def swept(detector: Detector) -> str:
    """A compliant trail whose baseline the sweep recorded."""
    arn = make_trail()
    assert detector.run(scheduled())["status"] == "compliant"
    return arn


def redirect() -> None:
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=OTHER_BUCKET)
    cloudtrail().update_trail(Name=TRAIL, S3BucketName=OTHER_BUCKET)


def redirected_record() -> dict[str, Any]:
    """The record of the UpdateTrail that ``redirect`` made."""
    redirect = {"name": TRAIL, "s3BucketName": OTHER_BUCKET}
    return event("updatetrail_single_region", trail=TRAIL, requestParameters=redirect)


def trailguard(*args: str) -> Any:
    return run_trailguard(*args, "--state-table", TABLE)


def bucket() -> str:
    return str(cloudtrail().describe_trails(trailNameList=[TRAIL])["trailList"][0]["S3BucketName"])


def table() -> StateTable:
    return StateTable(boto3.client("dynamodb", region_name=REGION), TABLE)


def decisions() -> list[dict[str, Any]]:
    items = boto3.client("dynamodb", region_name=REGION).scan(TableName=TABLE)["Items"]
    return [{k: next(iter(v.values())) for k, v in i.items()} for i in items if i["pk"]["S"].startswith("decision#")]


def test_baseline_show_says_what_would_be_restored_and_who_recorded_it(detector: Detector) -> None:
    arn = swept(detector)

    shown = trailguard("baseline", "show", TRAIL)
    as_json = trailguard("baseline", "show", arn, "--json")

    assert shown.code == 0 and BUCKET in shown.stdout and "the sweep" in shown.stdout
    doc = json.loads(as_json.stdout)
    assert as_json.code == 0 and doc["destinations"] == {"S3 bucket": BUCKET} and doc["recorded_by"] == "sweep"
    assert doc["settings"]["IsMultiRegionTrail"] is True and doc["person"] is None


def test_baseline_show_without_a_baseline_is_refused(detector: Detector) -> None:
    make_trail()
    done = trailguard("baseline", "show", TRAIL)
    assert done.code == 1 and "No baseline is recorded" in done.stderr and done.stdout == ""


def test_accept_records_the_trail_as_it_is_now_with_the_caller_and_reason(detector: Detector) -> None:
    arn = swept(detector)
    redirect()

    done = trailguard("baseline", "accept", TRAIL, "--reason", "moved to the partner's bucket (CHG-1234)")

    assert done.code == 0 and OTHER_BUCKET in done.stdout, done.stderr
    baseline = table().baselines([arn])[arn]
    assert (baseline.trail["S3BucketName"], baseline.source, baseline.recorded_by, baseline.reason) == (
        OTHER_BUCKET, "accepted", CALLER, "moved to the partner's bucket (CHG-1234)")  # fmt: skip
    [record] = decisions()
    assert (record["action"], record["by"], record["state"], record["via"]) == ("accept", CALLER, "done", "cli")
    shown = trailguard("baseline", "show", TRAIL)
    assert "a person" in shown.stdout and "CHG-1234" in shown.stdout
    assert detector.run(redirected_record())["status"] == "compliant"  # the new baseline: nothing drifted


def test_accept_refuses_a_trail_that_is_not_compliant(detector: Detector) -> None:
    arn = swept(detector)
    cloudtrail().stop_logging(Name=TRAIL)

    done = trailguard("baseline", "accept", TRAIL, "--reason", "try")

    assert done.code == 1 and "not compliant" in done.stderr and "logging-stopped" in done.stderr
    assert table().baselines([arn])[arn].source == "sweep" and decisions() == []


def test_revert_dry_run_prints_the_calls_and_revert_makes_them(detector: Detector) -> None:
    swept(detector)
    redirect()

    dry = trailguard("revert", TRAIL, "--dry-run")
    assert dry.code == 0 and "aws cloudtrail update-trail" in dry.stdout and BUCKET in dry.stdout
    assert bucket() == OTHER_BUCKET and decisions() == []

    made = trailguard("revert", TRAIL, "--reason", "not approved")
    assert made.code == 0 and "reverted" in made.stdout, made.stderr
    assert bucket() == BUCKET
    [record] = decisions()
    assert (record["action"], record["reason"], record["state"]) == ("revert", "not approved", "done")

    again = trailguard("revert", TRAIL)
    assert again.code == 0 and "nothing to revert" in again.stdout


def test_revert_without_a_trusted_baseline_is_refused_and_says_why(detector: Detector) -> None:
    make_trail()  # no sweep: no baseline to restore a destination from
    redirect()
    done = trailguard("revert", TRAIL)
    assert done.code == 0 and "compliant" in done.stdout  # nothing to compare with: nothing is drift
    cloudtrail().stop_logging(Name=TRAIL)
    started = trailguard("revert", TRAIL)
    assert started.code == 0 and cloudtrail().get_trail_status(Name=TRAIL)["IsLogging"] is True


def test_snooze_holds_the_trails_findings_for_the_time_given(detector: Detector) -> None:
    arn = swept(detector)
    redirect()

    done = trailguard("snooze", TRAIL, "--for", "90m", "--reason", "migration window")

    assert done.code == 0 and "snoozed until" in done.stdout, done.stderr
    [snooze] = table().snoozes()
    assert (snooze.arn, snooze.by, snooze.reason) == (arn, CALLER, "migration window")
    assert "destination-changed" in snooze.rules
    result = detector.run(redirected_record())
    assert result["status"] == "compliant" and detector.slack.messages == []
    shown = trailguard("baseline", "show", TRAIL)
    assert "snoozed until" in shown.stdout


def test_snooze_of_a_compliant_trail_is_a_maintenance_window(detector: Detector) -> None:
    swept(detector)
    done = trailguard("snooze", TRAIL, "--for", "2h", "--reason", "planned work")
    assert done.code == 0 and "every rule but its deletion" in done.stdout
    cloudtrail().stop_logging(Name=TRAIL)
    assert detector.run(event("stoplogging_cli", trail=TRAIL))["status"] == "compliant"
    assert detector.slack.messages == []


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("snooze", TRAIL, "--for", "25h", "--reason", "x"), "at most 24h"),
        (("snooze", TRAIL, "--for", "soon", "--reason", "x"), "--for must be a duration"),
        (("snooze", TRAIL, "--for", "2h"), "--reason"),
        (("revert", TRAIL, "--account", "12345"), "--account must be a 12-digit"),
        (("revert", "no-such-trail"), "no trail named 'no-such-trail'"),
        (("baseline", "show", "arn:aws:s3:::bucket"), "is not a trail ARN"),
        (("baseline", "forget", TRAIL), "invalid choice"),
        (("snooze", TRAIL, "--for", "1h", "--reason", "  "), "--reason must say why"),
        (("revert", "arn:aws:cloudtrail:us-east-1:210987654321:trail/theirs"), "add --account 210987654321"),
        (
            ("revert", "arn:aws:cloudtrail:us-east-1:210987654321:trail/theirs", "--account", "123456789012"),
            "there is no trail",  # read in the account named: not there, so never recreated there
        ),
        (
            ("snooze", "arn:aws:cloudtrail:us-east-1:123456789012:trail/nope", "--for", "1h", "--reason", "x"),
            "there is no trail",
        ),
        (("revert", TRAIL, "--bogus", "--json"), "unrecognized arguments"),
    ],
)
def test_bad_input_is_one_sentence_and_exit_2(detector: Detector, args: tuple[str, ...], said: str) -> None:
    make_trail()
    done = trailguard(*args)
    assert done.code == 2 and said in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def without_table_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "STATE_TABLE"}


def test_without_state_table_the_stack_output_is_needed(detector: Detector) -> None:
    make_trail()
    done = run_trailguard("baseline", "show", TRAIL, env=without_table_env())
    assert done.code == 2 and "--state-table is needed" in done.stderr


def test_state_table_from_the_environment(detector: Detector) -> None:
    swept(detector)
    done = run_trailguard("baseline", "show", TRAIL, env={**without_table_env(), "STATE_TABLE": TABLE})
    assert done.code == 0 and BUCKET in done.stdout, done.stderr


def test_the_stack_output_names_the_table(detector: Detector) -> None:
    swept(detector)
    template = {"Resources": {"Nothing": {"Type": "AWS::SNS::Topic"}},
                "Outputs": {"StateTableName": {"Value": TABLE}}}  # fmt: skip
    boto3.client("cloudformation", region_name=REGION).create_stack(StackName="Trailguard",
                                                                    TemplateBody=json.dumps(template))  # fmt: skip
    done = run_trailguard("baseline", "show", TRAIL, env=without_table_env())
    assert done.code == 0 and BUCKET in done.stdout, done.stderr


def test_a_planned_change_snoozed_first_is_not_reverted_and_then_accepted(detector: Detector, monkeypatch: Any) -> None:
    import drift_handler

    arn = swept(detector)
    monkeypatch.setenv("REMEDIATION_MODE", "on")
    monkeypatch.setattr(drift_handler, "_runtime", None)
    held = trailguard("snooze", TRAIL, "--for", "30m", "--rule", "destination-changed", "--reason", "CHG-1234")
    assert held.code == 0, held.stderr

    redirect()
    result = detector.run(redirected_record())

    assert result["actions"] == [] and bucket() == OTHER_BUCKET  # held back: not reverted
    accepted = trailguard("baseline", "accept", TRAIL, "--reason", "CHG-1234")
    assert accepted.code == 0 and table().baselines([arn])[arn].trail["S3BucketName"] == OTHER_BUCKET


def test_a_rule_that_can_never_be_snoozed_is_bad_input(detector: Detector) -> None:
    swept(detector)
    for rule, said in (("detector-tampered", "can never be snoozed"), ("no-such-rule", "is not a rule id")):
        done = trailguard("snooze", TRAIL, "--for", "1h", "--rule", rule, "--reason", "x")
        assert done.code == 2 and said in done.stderr


def test_show_prints_what_people_wrote_as_plain_text(detector: Detector) -> None:
    swept(detector)
    redirect()
    assert trailguard("baseline", "accept", TRAIL, "--reason", "ok\x1b[2J\nforged line").code == 0
    shown = trailguard("baseline", "show", TRAIL)
    assert "\x1b" not in shown.stdout and "forged line" in shown.stdout
    assert not any(line.startswith("forged line") for line in shown.stdout.splitlines())
