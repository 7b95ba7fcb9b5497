"""Reverts against moto's server: every fix verified by reading the trail back, data-event selectors intact,
a deleted trail recreated from its baseline, dry-run changing nothing, the hourly budget, no loops."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

import drift_handler
from tests.events import event, scheduled
from trailguard.state_table import REVERTS_PER_HOUR

from .conftest import BUCKET, DATA_RESOURCES, REGION, Detector, cloudtrail

pytestmark = pytest.mark.integration

TRAIL = "org-audit"
OTHER_BUCKET = "attacker-owned-logs"
BASIC = [{"ReadWriteType": "All", "IncludeManagementEvents": True, "DataResources": DATA_RESOURCES,
          "ExcludeManagementEventSources": []}]  # fmt: skip
ADVANCED = [
    {"Name": "Management events", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]},
    {
        "Name": "S3 object writes",
        "FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Data"]},
            {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
            {"Field": "readOnly", "Equals": ["false"]},
        ],
    },
]
TAGS = [{"Key": "owner", "Value": "security"}, {"Key": "cost-center", "Value": "1234"}]
INSIGHTS = [{"InsightType": "ApiCallRateInsight"}]


@pytest.fixture
def mode(detector: Detector, monkeypatch: pytest.MonkeyPatch) -> Any:
    def set_mode(value: str) -> None:
        monkeypatch.setenv("REMEDIATION_MODE", value)
        monkeypatch.setattr(drift_handler, "_runtime", None)

    set_mode("on")
    return set_mode


def make_trail(selectors: dict[str, Any] | None = None) -> str:
    """A compliant multi-region trail with a key prefix, log validation, tags, insights and data events."""
    ct = cloudtrail()
    arn = ct.create_trail(Name=TRAIL, S3BucketName=BUCKET, S3KeyPrefix="audit/", IsMultiRegionTrail=True,
                          EnableLogFileValidation=True, TagsList=TAGS)["TrailARN"]  # fmt: skip
    ct.put_event_selectors(TrailName=TRAIL, **(selectors or {"EventSelectors": BASIC}))
    ct.put_insight_selectors(TrailName=TRAIL, InsightSelectors=INSIGHTS)
    ct.start_logging(Name=TRAIL)
    return str(arn)


def record_baseline(detector: Detector) -> None:
    """The scheduled sweep finds the trail compliant and records it as its baseline, one the revert trusts."""
    assert detector.run(scheduled())["status"] == "compliant"


def selectors_now() -> dict[str, Any]:
    got = cloudtrail().get_event_selectors(TrailName=TRAIL)
    return {k: got.get(k) or [] for k in ("EventSelectors", "AdvancedEventSelectors")}


def results(result: dict[str, Any]) -> list[tuple[str, str]]:
    return [(a["action"], a["result"]) for a in result["actions"]]


def test_stopped_trail_is_started_again_and_verified(detector: Detector, mode: Any) -> None:
    make_trail()
    record_baseline(detector)
    cloudtrail().stop_logging(Name=TRAIL)

    result = detector.run(event("stoplogging_cli", trail=TRAIL))

    assert results(result) == [("StartLogging", "done")]
    assert cloudtrail().get_trail_status(Name=TRAIL)["IsLogging"] is True
    [text] = detector.slack_texts()
    assert "Reverted and verified" in text and "aws cloudtrail start-logging" in text


def test_management_events_switched_off_come_back_with_the_basic_data_resources(detector: Detector, mode: Any) -> None:
    make_trail()
    record_baseline(detector)
    stratus = [{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": False, "DataResources": DATA_RESOURCES,
                "ExcludeManagementEventSources": []}]  # fmt: skip
    cloudtrail().put_event_selectors(TrailName=TRAIL, EventSelectors=stratus)

    result = detector.run(event("puteventselectors_stratus_mgmt_off", trail=TRAIL))

    assert results(result) == [("PutEventSelectors", "done")]
    assert selectors_now()["EventSelectors"] == BASIC  # the baseline, exactly: S3 and Lambda data events kept


def test_without_a_baseline_the_selector_fix_keeps_the_data_resources_it_finds(detector: Detector, mode: Any) -> None:
    make_trail()  # no benign event first: no baseline
    stratus = [{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": False, "DataResources": DATA_RESOURCES}]
    cloudtrail().put_event_selectors(TrailName=TRAIL, EventSelectors=stratus)

    result = detector.run(event("puteventselectors_stratus_mgmt_off", trail=TRAIL))

    assert results(result) == [("PutEventSelectors", "done")]
    now = selectors_now()["EventSelectors"]
    assert now[0]["DataResources"] == DATA_RESOURCES and now[0]["ReadWriteType"] == "ReadOnly"
    assert now[1]["IncludeManagementEvents"] is True and now[1]["ReadWriteType"] == "All"


def test_advanced_selectors_dropping_iam_are_restored_with_the_s3_data_selector(detector: Detector, mode: Any) -> None:
    make_trail({"AdvancedEventSelectors": ADVANCED})
    record_baseline(detector)
    dropped = json.loads(json.dumps(ADVANCED))
    dropped[0]["FieldSelectors"].append({"Field": "eventSource", "NotEquals": ["iam.amazonaws.com"]})
    cloudtrail().put_event_selectors(TrailName=TRAIL, AdvancedEventSelectors=dropped)

    result = detector.run(event("puteventselectors_advanced_drop_iam", trail=TRAIL))

    assert results(result) == [("PutEventSelectors", "done")]
    assert selectors_now()["AdvancedEventSelectors"] == ADVANCED


def test_single_region_and_disabled_validation_are_one_update_back_to_the_baseline(
    detector: Detector, mode: Any
) -> None:
    make_trail()
    record_baseline(detector)
    cloudtrail().update_trail(Name=TRAIL, IsMultiRegionTrail=False, EnableLogFileValidation=False)

    result = detector.run(event("updatetrail_single_region", trail=TRAIL))

    assert {f["rule"] for f in result["findings"]} >= {"not-multi-region", "log-validation-disabled"}
    assert results(result) == [("UpdateTrail", "done")]
    trail = cloudtrail().describe_trails()["trailList"][0]
    assert trail["IsMultiRegionTrail"] is True and trail["LogFileValidationEnabled"] is True


def test_logs_redirected_to_another_bucket_go_back_to_the_baseline_bucket_and_prefix(
    detector: Detector, mode: Any
) -> None:
    make_trail()
    record_baseline(detector)
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=OTHER_BUCKET)
    cloudtrail().update_trail(Name=TRAIL, S3BucketName=OTHER_BUCKET, S3KeyPrefix="")

    result = detector.run(event("updatetrail_single_region", trail=TRAIL))

    [finding] = [f for f in result["findings"] if f["rule"] == "destination-changed"]
    assert OTHER_BUCKET in finding["message"] and "audit/" in finding["message"]
    assert results(result) == [("UpdateTrail", "done")]
    trail = cloudtrail().describe_trails()["trailList"][0]
    assert (trail["S3BucketName"], trail["S3KeyPrefix"]) == (BUCKET, "audit/")


def bucket_now() -> str:
    return str(cloudtrail().describe_trails(trailNameList=[TRAIL])["trailList"][0]["S3BucketName"])


def test_a_redirect_before_the_first_sweep_never_becomes_what_a_revert_restores(detector: Detector, mode: Any) -> None:
    make_trail()  # no sweep has run yet: no trusted baseline
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=OTHER_BUCKET)
    cloudtrail().update_trail(Name=TRAIL, S3BucketName=OTHER_BUCKET)
    redirect = {"name": TRAIL, "s3BucketName": OTHER_BUCKET}  # the record of the call just made
    redirected = detector.run(event("updatetrail_single_region", trail=TRAIL, requestParameters=redirect))
    assert redirected["status"] == "compliant"  # nothing to compare with; its aftermath is kept, untrusted

    cloudtrail().update_trail(Name=TRAIL, S3BucketName=BUCKET)  # a person puts it back
    put_back = detector.run(event("updatetrail_single_region", trail=TRAIL))

    assert "destination-changed" in [f["rule"] for f in put_back["findings"]]
    assert put_back["actions"] == [] and bucket_now() == BUCKET  # not "reverted" to the attacker's bucket
    assert "may be the change itself" in detector.slack_texts()[-1]

    swept = detector.run(scheduled())  # the sweep records what it sees: a baseline the revert trusts
    assert swept["status"] == "compliant"
    cloudtrail().update_trail(Name=TRAIL, S3BucketName=OTHER_BUCKET)
    again = detector.run(event("updatetrail_single_region", trail=TRAIL))
    assert results(again) == [("UpdateTrail", "done")] and bucket_now() == BUCKET


def test_a_baseline_recorded_after_the_change_is_not_restored(detector: Detector, mode: Any) -> None:
    make_trail()
    record_baseline(detector)
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=OTHER_BUCKET)
    cloudtrail().update_trail(Name=TRAIL, S3BucketName=OTHER_BUCKET)
    made = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 120))  # before the sweep above ran

    result = detector.run(event("updatetrail_single_region", trail=TRAIL, eventTime=made))

    assert "destination-changed" in [f["rule"] for f in result["findings"]]
    assert result["actions"] == [] and bucket_now() == OTHER_BUCKET
    assert "recorded after the change" in detector.slack_texts()[-1]


def test_deleted_trail_comes_back_from_its_baseline(detector: Detector, mode: Any) -> None:
    arn = make_trail()
    record_baseline(detector)
    cloudtrail().delete_trail(Name=TRAIL)

    result = detector.run(event("deletetrail_terraform", trail=TRAIL))

    assert results(result) == [("CreateTrail", "done"), ("PutEventSelectors", "done"),
                               ("PutInsightSelectors", "done"), ("StartLogging", "done")]  # fmt: skip
    ct = cloudtrail()
    trail = ct.describe_trails()["trailList"][0]
    assert (trail["TrailARN"], trail["S3BucketName"], trail["S3KeyPrefix"]) == (arn, BUCKET, "audit/")
    assert trail["IsMultiRegionTrail"] is True and trail["LogFileValidationEnabled"] is True
    assert selectors_now()["EventSelectors"] == BASIC
    assert ct.get_insight_selectors(TrailName=TRAIL)["InsightSelectors"] == INSIGHTS
    assert ct.list_tags(ResourceIdList=[arn])["ResourceTagList"][0]["TagsList"] == TAGS
    assert ct.get_trail_status(Name=TRAIL)["IsLogging"] is True


def test_deleted_trail_without_a_baseline_is_alerted_and_says_why_it_was_not_recreated(
    detector: Detector, mode: Any
) -> None:
    make_trail()
    cloudtrail().delete_trail(Name=TRAIL)

    result = detector.run(event("deletetrail_terraform", trail=TRAIL))

    assert result["actions"] == []
    assert cloudtrail().describe_trails()["trailList"] == []
    [text] = detector.slack_texts()
    assert "Could not revert: no revert for trail-deleted without a baseline. A person must act." in text


def test_dry_run_says_the_calls_and_changes_nothing(detector: Detector, mode: Any) -> None:
    mode("dry-run")
    make_trail()
    record_baseline(detector)
    cloudtrail().stop_logging(Name=TRAIL)
    detector.emu.clear_calls()

    result = detector.run(event("stoplogging_cli", trail=TRAIL))

    assert results(result) == [("StartLogging", "dry-run")]
    assert "StartLogging" not in detector.emu.calls()
    assert cloudtrail().get_trail_status(Name=TRAIL)["IsLogging"] is False
    assert "Would revert (REMEDIATION_MODE=dry-run, nothing was changed)" in detector.slack_texts()[0]


def test_off_only_alerts(detector: Detector, mode: Any) -> None:
    mode("off")
    make_trail()
    record_baseline(detector)
    cloudtrail().stop_logging(Name=TRAIL)

    result = detector.run(event("stoplogging_cli", trail=TRAIL))

    assert result["actions"] == []
    assert cloudtrail().get_trail_status(Name=TRAIL)["IsLogging"] is False
    assert "alert only" in detector.slack_texts()[0]


def test_a_trail_switched_off_again_and_again_is_suspended_after_three_reverts(detector: Detector, mode: Any) -> None:
    make_trail()
    record_baseline(detector)
    outcomes = []
    for _ in range(REVERTS_PER_HOUR + 1):
        cloudtrail().stop_logging(Name=TRAIL)
        outcomes.append(results(detector.run(event("stoplogging_cli", trail=TRAIL))))

    assert outcomes == [[("StartLogging", "done")]] * REVERTS_PER_HOUR + [[("StartLogging", "suspended")]]
    assert cloudtrail().get_trail_status(Name=TRAIL)["IsLogging"] is False
    last = detector.inbox()[-1]
    assert last["MessageAttributes"]["severity"]["Value"] == "critical"
    assert "Suspended" in last["Message"] and "A person must act" in last["Message"]


def test_the_detectors_own_revert_events_cause_no_further_action(detector: Detector, mode: Any) -> None:
    make_trail()
    record_baseline(detector)
    cloudtrail().stop_logging(Name=TRAIL)
    detector.run(event("stoplogging_cli", trail=TRAIL))  # reverted: the StartLogging it made is not watched
    own = boto3.client("sts", region_name=REGION).get_caller_identity()["Arn"]  # the detector's identity here
    echo = event("puteventselectors_restore_all", trail=TRAIL)
    echo["detail"]["userIdentity"] = {"type": "AssumedRole", "arn": own, "accountId": "123456789012"}
    detector.emu.clear_calls()

    result = detector.run(echo)

    assert result["status"] == "ignored" and "own revert" in result["reason"]
    assert not {"DescribeTrails", "PutEventSelectors", "StartLogging"} & set(detector.emu.calls())


def test_a_revert_that_does_not_take_is_reported_failed(
    detector: Detector, mode: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_trail()
    record_baseline(detector)
    cloudtrail().stop_logging(Name=TRAIL)
    runtime = drift_handler.runtime(None)
    real = runtime.cloudtrail

    class Denied:
        def __init__(self, client: Any) -> None:
            self._client = client

        def __getattr__(self, name: str) -> Any:
            if name == "start_logging":
                raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "denied"}}, "StartLogging")
            return getattr(self._client, name)

    monkeypatch.setattr(runtime, "cloudtrail", lambda region: Denied(real(region)))

    result = detector.run(event("stoplogging_cli", trail=TRAIL))

    assert results(result) == [("StartLogging", "failed")]
    assert "AccessDeniedException" in result["actions"][0]["detail"]
    assert "did not take" in detector.slack_texts()[0]
