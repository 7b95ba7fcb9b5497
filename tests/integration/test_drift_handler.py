"""The real handler against moto's server (CloudTrail, DynamoDB, SNS, Secrets Manager over HTTP) and a local
Slack stand-in: each watched call made for real, then its event delivered, and what people receive checked."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

import drift_handler
from tests.events import event, scheduled, wrap
from trailguard.send import SLACK_TIMEOUT

from .conftest import ACCOUNT, DATA_RESOURCES, REGION, Detector, cloudtrail

pytestmark = pytest.mark.integration


def rules(result: dict[str, Any]) -> list[tuple[str, str]]:
    return [(f["rule"], f["severity"]) for f in result["findings"]]


# --- each watched call, made for real -------------------------------------------------------------------


def test_stop_logging_alerts_slack_and_email_once_as_critical(detector: Detector, trail: Callable[..., str]) -> None:
    arn = trail(REGION, "org-audit")
    cloudtrail().stop_logging(Name="org-audit")

    result = detector.run(event("stoplogging_cli", trail="org-audit"))

    assert result["status"] == "drift"
    assert result["trail_arn"] == arn
    assert rules(result) == [("logging-stopped", "critical"), ("no-compliant-trail", "critical")]
    assert [f["trail_arn"] for f in result["findings"]] == [arn, None]
    assert [(f["account"], f["exempt"]) for f in result["findings"]] == [(ACCOUNT, None), (ACCOUNT, None)]
    assert result["notified"] == ["slack", "sns"]
    assert result["actions"] == []
    [text] = detector.slack_texts()
    assert "CRITICAL" in text and "org-audit" in text and ACCOUNT in text and REGION in text
    assert "arn:aws:iam::123456789012:user/ops-admin" in text and "198.51.100.23" in text
    assert "aws cloudtrail start-logging --region us-east-1 --name org-audit" in text
    assert "alert only" in text
    [email] = detector.inbox()
    assert "org-audit" in email["Subject"] and "CRITICAL" in email["Subject"].upper()
    assert "aws cloudtrail start-logging --region us-east-1 --name org-audit" in email["Message"]
    assert email["MessageAttributes"]["severity"]["Value"] == "critical"
    assert email["MessageAttributes"]["event_name"]["Value"] == "StopLogging"
    assert "logging-stopped" in json.loads(email["MessageAttributes"]["rule"]["Value"])


def test_stratus_selectors_turning_management_off_keep_data_events_in_the_fix(
    detector: Detector, trail: Callable[..., str]
) -> None:
    trail(REGION, "org-audit")
    cloudtrail().put_event_selectors(
        TrailName="org-audit",
        EventSelectors=[
            {"ReadWriteType": "ReadOnly", "IncludeManagementEvents": False, "DataResources": DATA_RESOURCES}
        ],
    )

    result = detector.run(event("puteventselectors_stratus_mgmt_off", trail="org-audit"))

    assert ("management-events-excluded", "critical") in rules(result)
    [text] = detector.slack_texts()
    fix = text[text.index("put-event-selectors") :]
    assert "AWS::S3::Object" in fix and "AWS::Lambda::Function" in fix and '"IncludeManagementEvents":true' in fix


def test_read_only_selectors_are_partial(detector: Detector, trail: Callable[..., str]) -> None:
    trail(REGION, "org-audit")
    cloudtrail().put_event_selectors(
        TrailName="org-audit", EventSelectors=[{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True}]
    )

    result = detector.run(event("puteventselectors_read_only", trail="org-audit"))

    assert rules(result)[0] == ("management-events-partial", "critical")


def test_advanced_selectors_dropping_iam_name_the_dropped_source(detector: Detector, trail: Callable[..., str]) -> None:
    arn = trail(REGION, "org-audit")
    cloudtrail().put_event_selectors(
        TrailName="org-audit",
        AdvancedEventSelectors=[
            {
                "Name": "Management events selector",
                "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Management"]},
                    {"Field": "eventSource", "NotEquals": ["iam.amazonaws.com"]},
                ],
            }
        ],
    )

    result = detector.run(event("puteventselectors_advanced_drop_iam", trail="org-audit"))

    assert result["trail_arn"] == arn
    assert rules(result)[0] == ("management-sources-excluded", "critical")
    assert "iam.amazonaws.com" in result["findings"][0]["message"]


def test_update_to_single_region_is_drift(detector: Detector, trail: Callable[..., str]) -> None:
    trail(REGION, "org-audit")
    cloudtrail().update_trail(Name="org-audit", IsMultiRegionTrail=False)

    result = detector.run(event("updatetrail_single_region", trail="org-audit"))

    assert rules(result)[0] == ("not-multi-region", "critical")


def test_deleted_trail_is_reported_and_the_account_judged(detector: Detector, trail: Callable[..., str]) -> None:
    arn = trail(REGION, "org-audit")
    cloudtrail().delete_trail(Name="org-audit")

    result = detector.run(event("deletetrail_terraform", trail="org-audit"))

    assert result["status"] == "drift"
    assert result["trail_arn"] is None
    assert rules(result) == [("trail-deleted", "critical"), ("no-compliant-trail", "critical")]
    assert result["findings"][0]["trail_arn"] == arn
    assert len(detector.slack.messages) == 1 and len(detector.inbox()) == 1


def test_regression_while_another_compliant_trail_remains_is_high(
    detector: Detector, trail: Callable[..., str]
) -> None:
    trail(REGION, "org-audit")
    trail("eu-west-1", "backup-trail")
    cloudtrail().stop_logging(Name="org-audit")

    result = detector.run(event("stoplogging_cli", trail="org-audit"))

    assert rules(result) == [("logging-stopped", "high")]
    assert detector.inbox()[0]["MessageAttributes"]["severity"]["Value"] == "high"


# --- benign calls, failures, duplicates -----------------------------------------------------------------


def test_selectors_restored_to_all_are_compliant_and_send_nothing(
    detector: Detector, trail: Callable[..., str]
) -> None:
    arn = trail(REGION, "org-audit")

    result = detector.run(event("puteventselectors_restore_all", trail="org-audit"))

    assert result == {
        "status": "compliant",
        "event_id": result["event_id"],
        "event_name": "PutEventSelectors",
        "account": ACCOUNT,
        "trail_arn": arn,
        "findings": [],
        "actions": [],
        "notified": [],
    }
    assert detector.slack.attempts == 0 and detector.inbox() == []


def test_trail_switched_off_and_on_again_is_a_logging_gap_not_a_revert(
    detector: Detector, trail: Callable[..., str]
) -> None:
    trail(REGION, "org-audit")
    cloudtrail().stop_logging(Name="org-audit")
    cloudtrail().start_logging(Name="org-audit")

    result = detector.run(event("stoplogging_console_arn", trail="org-audit"))

    assert result["status"] == "drift" and rules(result) == [("logging-gap", "high")]
    assert result["actions"] == []
    [text] = detector.slack_texts()
    assert "was stopped by arn:aws:" in text and "events made in between were not logged" in text
    assert len(detector.inbox()) == 1


def test_denied_stop_logging_is_a_low_notice_without_reading_state(
    detector: Detector, trail: Callable[..., str]
) -> None:
    trail(REGION, "org-audit")
    detector.emu.clear_calls()

    result = detector.run(event("stoplogging_access_denied", trail="org-audit"))

    assert result["status"] == "failed-attempt"
    assert result["findings"] == []
    assert result["notified"] == ["slack", "sns"]
    calls = detector.emu.calls()
    assert not [op for op in calls if op in {"DescribeTrails", "GetTrailStatus", "GetEventSelectors"}]
    [text] = detector.slack_texts()
    assert "LOW" in text and "AccessDenied" in text and "intruder" in text
    assert detector.inbox()[0]["MessageAttributes"]["severity"]["Value"] == "low"


def test_duplicate_delivery_sends_nothing_more(detector: Detector, trail: Callable[..., str]) -> None:
    trail(REGION, "org-audit")
    cloudtrail().stop_logging(Name="org-audit")
    evt = event("stoplogging_cli", trail="org-audit")

    first, second = detector.run(evt), detector.run(evt)

    assert (first["status"], second["status"]) == ("drift", "duplicate")
    assert second["notified"] == []
    assert len(detector.slack.messages) == 1 and len(detector.inbox()) == 1


def test_an_event_id_longer_than_a_partition_key_is_still_alerted_once(
    detector: Detector, trail: Callable[..., str]
) -> None:
    trail(REGION, "org-audit")
    cloudtrail().stop_logging(Name="org-audit")
    evt = event("stoplogging_cli", trail="org-audit", event_id="\u00e9" * 2000)  # 2,000 characters, 4,000 bytes

    first, second = detector.run(evt), detector.run(evt)

    assert (first["status"], second["status"]) == ("drift", "duplicate")
    assert len(detector.slack.messages) == 1 and len(detector.inbox()) == 1


def test_duplicate_of_a_compliant_event_is_a_duplicate(detector: Detector, trail: Callable[..., str]) -> None:
    trail(REGION, "org-audit")
    evt = event("puteventselectors_restore_all", trail="org-audit")

    assert [detector.run(evt)["status"], detector.run(evt)["status"]] == ["compliant", "duplicate"]


def test_spoofed_source_is_ignored_without_touching_aws(detector: Detector, trail: Callable[..., str]) -> None:
    trail(REGION, "org-audit")
    cloudtrail().stop_logging(Name="org-audit")
    evt = event("stoplogging_cli", trail="org-audit")
    evt["source"] = "custom.cloudtrail"
    detector.emu.clear_calls()

    result = detector.run(evt)

    assert result["status"] == "ignored"
    assert "custom.cloudtrail" in result["reason"]
    assert sum(detector.emu.calls().values()) == 0
    assert detector.slack.attempts == 0


@pytest.mark.parametrize(
    "evt",
    [
        None,
        [],
        "StopLogging",
        {},
        {"source": "aws.cloudtrail"},
        {"source": "aws.cloudtrail", "detail": "null"},
        wrap({"eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging", "eventID": "x"}),
    ],
    ids=["none", "list", "string", "empty", "no-detail", "detail-string", "no-trail"],
)
def test_malformed_events_are_ignored_and_never_raise(detector: Detector, evt: Any) -> None:
    result = detector.run(evt)

    assert result["status"] == "ignored"
    assert result["reason"]
    assert detector.slack.attempts == 0


def test_event_from_another_account_is_ignored(detector: Detector, trail: Callable[..., str]) -> None:
    result = detector.run(event("stoplogging_cli", trail="org-audit", account="999988887777"))

    assert result["status"] == "ignored"
    assert "999988887777" in result["reason"]


def test_crafted_user_agent_and_principal_reach_slack_escaped(detector: Detector, trail: Callable[..., str]) -> None:
    trail(REGION, "org-audit")
    cloudtrail().stop_logging(Name="org-audit")
    evt = event("stoplogging_cli", trail="org-audit", userAgent="<!channel> <http://evil.example|click me> & more")
    evt["detail"]["userIdentity"]["arn"] = "arn:aws:sts::123456789012:assumed-role/x/<@U0ADMIN>"

    detector.run(evt)

    [posted] = detector.slack.messages
    raw = json.dumps(posted.body)
    assert "<!channel>" not in raw and "<http://evil" not in raw and "<@U0ADMIN>" not in raw
    assert "&lt;!channel&gt;" in raw and "&amp; more" in raw
    email = detector.inbox()[0]
    assert "\n" not in email["Subject"] and len(email["Subject"]) <= 100


# --- the backstop sweep ---------------------------------------------------------------------------------


def test_sweep_reports_each_drift_once_and_says_when_it_is_compliant_again(
    detector: Detector, trail: Callable[..., str]
) -> None:
    trail(REGION, "org-audit")
    stopped = trail(REGION, "backup-trail", logging=False)
    detector.emu.clear_calls()

    first = detector.run(scheduled())
    again = detector.run(scheduled())
    cloudtrail().start_logging(Name="backup-trail")
    healed = detector.run(scheduled())

    assert first["status"] == "drift"
    assert [(f["rule"], f["trail_arn"]) for f in first["findings"]] == [("logging-stopped", stopped)]
    assert first["notified"] == ["slack", "sns"]
    assert again["status"] == "drift" and again["notified"] == []
    assert healed["status"] == "compliant" and healed["notified"] == ["slack", "sns"]
    texts = detector.slack_texts()
    assert len(texts) == 2 and "compliant again" in texts[1]
    assert len(detector.inbox()) == 2


def test_sweep_does_not_repeat_what_a_real_time_alert_said(detector: Detector, trail: Callable[..., str]) -> None:
    trail(REGION, "org-audit")
    cloudtrail().stop_logging(Name="org-audit")
    detector.run(event("stoplogging_cli", trail="org-audit"))

    swept = detector.run(scheduled())

    assert swept["status"] == "drift" and swept["notified"] == []
    assert len(detector.slack.messages) == 1 and len(detector.inbox()) == 1


# --- faults: nothing lost, nothing sent twice -------------------------------------------------------------


def test_slack_down_raises_for_a_retry_that_sends_only_to_slack(detector: Detector, trail: Callable[..., str]) -> None:
    trail(REGION, "org-audit")
    cloudtrail().stop_logging(Name="org-audit")
    evt = event("stoplogging_cli", trail="org-audit")
    detector.slack.fail_next(3, status=500)

    with pytest.raises(drift_handler.DeliveryFailed, match="slack"):
        detector.run(evt)
    assert detector.slack.messages == [] and len(detector.inbox()) == 1
    retried = detector.run(evt)  # Lambda's retry of the same event

    assert retried["status"] == "drift" and retried["notified"] == ["slack", "sns"]
    assert len(detector.slack.messages) == 1 and len(detector.inbox()) == 1
    assert detector.run(evt)["status"] == "duplicate"


def test_slack_rate_limit_is_waited_out_and_delivered_once(detector: Detector, trail: Callable[..., str]) -> None:
    trail(REGION, "org-audit")
    cloudtrail().stop_logging(Name="org-audit")
    detector.slack.rate_limit_next(1, retry_after=1)

    result = detector.run(event("stoplogging_cli", trail="org-audit"))

    assert result["notified"] == ["slack", "sns"]
    assert detector.slack.attempts == 2 and len(detector.slack.messages) == 1


def test_slack_refusing_connections_then_back_delivers_once(detector: Detector, trail: Callable[..., str]) -> None:
    trail(REGION, "org-audit")
    cloudtrail().stop_logging(Name="org-audit")
    evt = event("stoplogging_cli", trail="org-audit")
    detector.slack.refuse()

    with pytest.raises(drift_handler.DeliveryFailed):
        detector.run(evt)
    detector.slack.accept()
    detector.run(evt)

    assert len(detector.slack.messages) == 1 and len(detector.inbox()) == 1


def test_sns_failing_is_retried_without_resending_slack(
    detector: Detector, trail: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    trail(REGION, "org-audit")
    cloudtrail().stop_logging(Name="org-audit")
    evt = event("stoplogging_cli", trail="org-audit")
    topic = boto3.client("sns", region_name=REGION).list_topics()["Topics"][0]["TopicArn"]
    monkeypatch.setenv("ALERT_TOPIC_ARN", topic.replace("trailguard-alerts", "gone"))  # publish fails

    with pytest.raises(drift_handler.DeliveryFailed, match="sns"):
        detector.run(evt)
    monkeypatch.setenv("ALERT_TOPIC_ARN", topic)
    monkeypatch.setattr(drift_handler, "_runtime", None)  # the retry may land in a new container
    retried = detector.run(evt)

    assert retried["notified"] == ["slack", "sns"]
    assert len(detector.slack.messages) == 1 and len(detector.inbox()) == 1


def test_missing_slack_secret_fails_slack_only_and_the_retry_completes(
    detector: Detector, trail: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    trail(REGION, "org-audit")
    cloudtrail().stop_logging(Name="org-audit")
    evt = event("stoplogging_cli", trail="org-audit")
    secret = boto3.client("secretsmanager", region_name=REGION).list_secrets()["SecretList"][0]["ARN"]
    monkeypatch.setenv("SLACK_SECRET_ARN", secret.replace("trailguard/slack", "trailguard/missing"))

    with pytest.raises(drift_handler.DeliveryFailed, match="slack"):
        detector.run(evt)
    monkeypatch.setenv("SLACK_SECRET_ARN", secret)
    monkeypatch.setattr(drift_handler, "_runtime", None)
    detector.run(evt)

    assert len(detector.slack.messages) == 1 and len(detector.inbox()) == 1


def test_cloudtrail_throttling_is_retried_and_judged(detector: Detector, trail: Callable[..., str]) -> None:
    trail(REGION, "org-audit")
    cloudtrail().stop_logging(Name="org-audit")
    detector.emu.throttle_next(2)

    result = detector.run(event("stoplogging_cli", trail="org-audit"))

    assert rules(result)[0] == ("logging-stopped", "critical")
    assert len(detector.slack.messages) == 1


def test_slack_answering_too_slowly_is_sent_again_by_the_retry_as_a_possible_repeat(
    detector: Detector, trail: Callable[..., str]
) -> None:
    trail(REGION, "org-audit")
    cloudtrail().stop_logging(Name="org-audit")
    evt = event("stoplogging_cli", trail="org-audit")
    detector.slack.hang_next(1, seconds=SLACK_TIMEOUT + 0.5)

    with pytest.raises(drift_handler.DeliveryFailed, match="unconfirmed"):
        detector.run(evt)  # Slack got the post but answered too late: posted or not, the detector cannot know
    retry = detector.run(evt)

    assert retry["notified"] == ["slack", "sns"]
    posts = detector.slack.wait_for_messages(2, timeout=5)
    assert len(posts) == 2 and len(detector.inbox()) == 1  # email once; Slack the one documented duplicate
    assert sum("Possibly a repeat" in t for t in detector.slack_texts()) == 1
