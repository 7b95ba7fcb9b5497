"""Reverts that hold on AWS, not only on moto: the fault proxy makes the emulator reject what AWS rejects
(half a CloudWatch Logs pair), answer ConflictException right after CreateTrail as CloudTrail documents, and
show the old state for a moment after a write (CloudTrail is eventually consistent)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import drift_handler
from tests.events import event
from trailguard_dev.emulator import environment
from trailguard_dev.proxy import Fault, FaultProxy

from .conftest import Detector, cloudtrail
from .test_remediation import TRAIL, make_trail, record_baseline, results

pytestmark = pytest.mark.integration

GROUP = "arn:aws:logs:us-east-1:123456789012:log-group:audit:*"
ROLE = "arn:aws:iam::123456789012:role/CloudTrailToLogs"
OTHER_ROLE = "arn:aws:iam::123456789012:role/attacker-reader"


def half_a_pair(arguments: dict[str, Any]) -> bool:
    return ("CloudWatchLogsLogGroupArn" in arguments) != ("CloudWatchLogsRoleArn" in arguments)


@pytest.fixture
def proxied(detector: Detector, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    """The detector (REMEDIATION_MODE=on) and this test's boto3 talking to the emulator through the proxy."""
    with FaultProxy(detector.emu.endpoint) as proxy, environment(proxy.environ()):
        monkeypatch.setenv("REMEDIATION_MODE", "on")
        monkeypatch.setattr(drift_handler, "_runtime", None)
        # AWS takes the CloudWatch Logs group and role together or not at all
        proxy.add(Fault("UpdateTrail", status=400, code="InvalidCloudWatchLogsRoleArnException", times=-1,
                        when=half_a_pair))  # fmt: skip
        yield proxy


def test_a_changed_cloudwatch_role_is_put_back_with_its_group_as_aws_requires(
    detector: Detector, proxied: FaultProxy
) -> None:
    make_trail()
    cloudtrail().update_trail(Name=TRAIL, CloudWatchLogsLogGroupArn=GROUP, CloudWatchLogsRoleArn=ROLE)
    record_baseline(detector)
    cloudtrail().update_trail(Name=TRAIL, CloudWatchLogsLogGroupArn=GROUP, CloudWatchLogsRoleArn=OTHER_ROLE)

    result = detector.run(event("updatetrail_single_region", trail=TRAIL))

    assert results(result) == [("UpdateTrail", "done")]
    assert result["actions"][0]["arguments"]["CloudWatchLogsLogGroupArn"] == GROUP
    assert result["actions"][0]["arguments"]["CloudWatchLogsRoleArn"] == ROLE
    described = cloudtrail().describe_trails(trailNameList=[TRAIL])["trailList"][0]
    assert described["CloudWatchLogsRoleArn"] == ROLE


def test_a_conflict_right_after_create_trail_is_retried_and_the_trail_comes_back(
    detector: Detector, proxied: FaultProxy
) -> None:
    make_trail()
    record_baseline(detector)
    cloudtrail().delete_trail(Name=TRAIL)
    conflict = Fault("PutEventSelectors", status=400, code="ConflictException")
    proxied.add(conflict)

    result = detector.run(event("deletetrail_terraform", trail=TRAIL))

    assert results(result) == [
        ("CreateTrail", "done"),
        ("PutEventSelectors", "done"),
        ("PutInsightSelectors", "done"),
        ("StartLogging", "done"),
    ]
    assert conflict.hits == 1  # answered ConflictException once, then the retry went through
    assert cloudtrail().get_trail_status(Name=TRAIL)["IsLogging"] is True


def test_a_revert_that_shows_only_after_a_while_is_verified_by_reading_again(
    detector: Detector, proxied: FaultProxy
) -> None:
    make_trail()
    record_baseline(detector)
    cloudtrail().stop_logging(Name=TRAIL)
    evt = event("stoplogging_cli", trail=TRAIL)
    proxied.clear()  # from here on: what the detector does
    # the event's own read sees the stop; the first two reads after StartLogging still show it stopped
    stale = Fault("GetTrailStatus", kind="rewrite", times=2, rewrite=lambda answer: {**answer, "IsLogging": False},
                  when=lambda _arguments: proxied.count("StartLogging") > 0)  # fmt: skip
    proxied.add(stale)

    result = detector.run(evt)

    assert results(result) == [("StartLogging", "done")]
    # the event's read, the read right before writing, then three read-backs
    assert stale.hits == 2 and proxied.count("GetTrailStatus") == 5
    assert "Reverted and verified" in detector.slack_texts()[0]


def test_a_revert_that_never_shows_is_reported_failed_after_the_last_read(
    detector: Detector, proxied: FaultProxy
) -> None:
    make_trail()
    record_baseline(detector)
    cloudtrail().stop_logging(Name=TRAIL)
    evt = event("stoplogging_cli", trail=TRAIL)
    proxied.clear()  # from here on: what the detector does
    proxied.add(
        Fault("GetTrailStatus", kind="rewrite", times=-1, rewrite=lambda answer: {**answer, "IsLogging": False},
              when=lambda _a: proxied.count("StartLogging") > 0)
    )  # fmt: skip

    result = detector.run(evt)

    assert results(result) == [("StartLogging", "failed")]
    assert "it still has logging-stopped" in result["actions"][0]["detail"]
    reads_after = [op for op, _ in proxied.seen[[op for op, _ in proxied.seen].index("StartLogging") :]]
    assert reads_after.count("GetTrailStatus") == 5  # one read, then four more after a pause each


def test_a_revert_never_overwrites_what_a_person_changed_after_the_detector_read_the_trail(
    detector: Detector, proxied: FaultProxy
) -> None:
    make_trail()
    record_baseline(detector)
    person = {
        "AdvancedEventSelectors": [
            {"Name": "All management events", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]}
        ]
    }
    cloudtrail().put_event_selectors(TrailName=TRAIL, **person)  # compliant, and not the baseline
    evt = event("puteventselectors_stratus_mgmt_off", trail=TRAIL)
    proxied.clear()
    # the detector's first read still sees the attacker's selectors (management events off)
    proxied.add(Fault("GetEventSelectors", kind="rewrite", times=1, rewrite=lambda answer: {
        **answer, "EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": False, "DataResources": []}],
        "AdvancedEventSelectors": []}))  # fmt: skip

    result = detector.run(evt)

    assert result["status"] == "drift" and result["actions"] == []
    assert proxied.count("PutEventSelectors") == 0
    assert (
        "Nothing to revert: read again right before reverting, the trail was already put right"
        in (detector.slack_texts()[0])
    )
    now = cloudtrail().get_event_selectors(TrailName=TRAIL)
    assert now["AdvancedEventSelectors"][0]["Name"] == "All management events"
