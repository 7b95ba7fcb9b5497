"""The Slack interaction endpoint against moto's server and a local Slack: payloads signed with a known signing
secret, as Slack signs them, then replayed, forged, aged and clicked twice; each answer's effect on the trail,
the state table, the thread and the SNS notices."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import boto3
import interaction_handler
import pytest

import drift_handler
from tests.events import event, scheduled
from trailguard.render.slack import ACCEPT, REVERT, SNOOZE
from trailguard.state_table import StateTable
from trailguard_dev.slack_clicks import SIGNING_SECRET, USER, alert_message, button_value, click_payload, signed_request

from .conftest import BUCKET, REGION, TABLE, Context, Detector, cloudtrail

pytestmark = pytest.mark.integration

TRAIL = "org-audit"
OTHER_BUCKET = "partner-logs"
Click = Callable[..., dict[str, Any]]


@pytest.fixture
def endpoint(detector: Detector, monkeypatch: pytest.MonkeyPatch) -> Detector:
    """The detector with Slack buttons on, and its interaction endpoint's environment."""
    secret = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="trailguard/slack-signing", SecretString=SIGNING_SECRET
    )["ARN"]
    monkeypatch.setenv("SLACK_BUTTONS", "on")
    monkeypatch.setenv("SLACK_SIGNING_SECRET_ARN", secret)
    monkeypatch.setenv("SLACK_ALLOWED_USERS", f"{USER},W0SECOND")
    monkeypatch.setattr(drift_handler, "_runtime", None)
    monkeypatch.setattr(interaction_handler, "_container", interaction_handler._Container())
    return detector


def set_mode(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    monkeypatch.setenv("REMEDIATION_MODE", mode)
    monkeypatch.setattr(drift_handler, "_runtime", None)


def make_trail() -> str:
    ct = cloudtrail()
    arn = ct.create_trail(Name=TRAIL, S3BucketName=BUCKET, IsMultiRegionTrail=True, EnableLogFileValidation=True)
    ct.put_event_selectors(TrailName=TRAIL, EventSelectors=[{"ReadWriteType": "All", "IncludeManagementEvents": True}])
    ct.start_logging(Name=TRAIL)
    return str(arn["TrailARN"])


def redirected(detector: Detector) -> dict[str, Any]:
    """A compliant trail, its baseline recorded by the sweep, then sent to another bucket: the drift alert's
    Slack message as posted."""
    make_trail()
    assert detector.run(scheduled())["status"] == "compliant"
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=OTHER_BUCKET)
    cloudtrail().update_trail(Name=TRAIL, S3BucketName=OTHER_BUCKET)
    before = len(detector.slack.messages)
    result = detector.run(redirect_event())
    assert result["status"] == "drift" and "destination-changed" in [f["rule"] for f in result["findings"]]
    return detector.slack.messages[before].body


def redirect_event() -> dict[str, Any]:
    """The record of the UpdateTrail that sent the trail to the other bucket."""
    redirect = {"name": TRAIL, "s3BucketName": OTHER_BUCKET}
    return event("updatetrail_single_region", trail=TRAIL, requestParameters=redirect)


def click(detector: Detector, posted: dict[str, Any], action_id: str, **options: Any) -> dict[str, Any]:
    """Click ``action_id`` on the posted alert as Slack would; the endpoint's answer."""
    signing = {k: options.pop(k) for k in ("secret", "timestamp", "base64_body") if k in options}
    payload = click_payload(action_id, options.pop("alert_id", button_value(posted, action_id)),
                            response_url=f"{detector.slack.base_url}/actions/T0/1/reply", message=alert_message(posted),
                            **options)  # fmt: skip
    answer: dict[str, Any] = interaction_handler.handler(signed_request(payload, **signing), Context())
    return answer


def replies(detector: Detector) -> list[dict[str, Any]]:
    return [m.body for m in detector.slack.messages if m.path.startswith("/actions/")]


def bucket() -> str:
    return str(cloudtrail().describe_trails(trailNameList=[TRAIL])["trailList"][0]["S3BucketName"])


def notices(detector: Detector) -> list[dict[str, Any]]:
    return [e for e in detector.inbox() if str(e.get("Subject", "")).startswith("[trailguard] ") and
            any(w in e["Subject"] for w in ("Accepted", "Reverted", "Snoozed"))]  # fmt: skip


def test_drift_alerts_carry_the_three_buttons_with_the_alert_id(endpoint: Detector) -> None:
    posted = redirected(endpoint)
    values = {a: button_value(posted, a) for a in (REVERT, ACCEPT, SNOOZE)}
    assert len(set(values.values())) == 1 and all(values.values())  # one alert id on every button
    assert json.loads(StateTable(boto3.client("dynamodb", region_name=REGION), TABLE).alert(values[ACCEPT]))


def test_accept_records_the_trail_as_its_baseline_and_says_so_everywhere(endpoint: Detector) -> None:
    posted = redirected(endpoint)

    assert click(endpoint, posted, ACCEPT) == {"statusCode": 200}

    table = StateTable(boto3.client("dynamodb", region_name=REGION), TABLE)
    baseline = next(iter(table.baselines([cloudtrail().describe_trails()["trailList"][0]["TrailARN"]]).values()))
    assert baseline.trail["S3BucketName"] == OTHER_BUCKET and baseline.source == "accepted"
    assert baseline.recorded_by.startswith(f"slack:T0TRAILGRD/{USER}")
    thread, update = replies(endpoint)
    assert thread["thread_ts"] == "1700000000.000100" and thread["response_type"] == "in_channel"
    assert "Accepted as baseline by <@U0TRAILGRD>" in thread["text"] and OTHER_BUCKET in thread["text"]
    assert update["replace_original"] is True
    ids = [e.get("action_id") for b in update["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert REVERT not in ids and ACCEPT not in ids  # the answered alert offers no more answers
    [notice] = notices(endpoint)
    assert "Accepted as baseline from Slack by slack:T0TRAILGRD/U0TRAILGRD (alice)" in notice["Message"]
    # the trail is now compliant against its new baseline: the sweep says so, and nothing reverts it
    assert endpoint.run(scheduled())["findings"] == [] and bucket() == OTHER_BUCKET


def test_a_double_click_acts_once(endpoint: Detector) -> None:
    posted = redirected(endpoint)
    assert click(endpoint, posted, ACCEPT)["statusCode"] == 200
    announced = len(notices(endpoint))
    before = len(replies(endpoint))

    assert click(endpoint, posted, ACCEPT)["statusCode"] == 200

    [again] = replies(endpoint)[before:]
    assert again["response_type"] == "ephemeral" and "Already done" in again["text"]
    assert announced == len(notices(endpoint)) == 1


def test_a_forged_or_replayed_request_is_refused_and_changes_nothing(endpoint: Detector) -> None:
    posted = redirected(endpoint)
    forged = click(endpoint, posted, ACCEPT, secret="not-the-signing-secret")
    old = click(endpoint, posted, ACCEPT, timestamp=int(time.time()) - 6 * 60)
    future = click(endpoint, posted, ACCEPT, timestamp=int(time.time()) + 6 * 60)

    assert forged["statusCode"] == old["statusCode"] == future["statusCode"] == 401
    table = StateTable(boto3.client("dynamodb", region_name=REGION), TABLE)
    assert all(b.source == "sweep" for b in table.baselines([a["TrailARN"] for a in cloudtrail().describe_trails()[
        "trailList"]]).values())  # fmt: skip
    assert replies(endpoint) == []


def test_a_tampered_body_fails_the_signature(endpoint: Detector) -> None:
    posted = redirected(endpoint)
    payload = click_payload(ACCEPT, button_value(posted, ACCEPT), response_url=f"{endpoint.slack.base_url}/actions/x")
    request = signed_request(payload)
    request["body"] = request["body"].replace("alice", "mallory")
    assert interaction_handler.handler(request, Context())["statusCode"] == 401


def test_a_base64_body_is_read_as_slack_sent_it(endpoint: Detector) -> None:
    posted = redirected(endpoint)
    assert click(endpoint, posted, SNOOZE, base64_body=True)["statusCode"] == 200
    assert "Snoozed 2 h by" in replies(endpoint)[0]["text"]


def test_a_user_not_allowed_gets_403_and_nothing_changes(endpoint: Detector) -> None:
    posted = redirected(endpoint)

    assert click(endpoint, posted, ACCEPT, user="U0STRANGER")["statusCode"] == 403

    [said] = replies(endpoint)
    assert said["response_type"] == "ephemeral" and "not allowed" in said["text"]
    table = StateTable(boto3.client("dynamodb", region_name=REGION), TABLE)
    assert [b.source for b in table.baselines([f"arn:aws:cloudtrail:{REGION}:123456789012:trail/{TRAIL}"]).values()
            ] == ["sweep"]  # fmt: skip


def test_a_stale_alert_is_not_acted_on(endpoint: Detector, monkeypatch: pytest.MonkeyPatch) -> None:
    posted = redirected(endpoint)
    cloudtrail().stop_logging(Name=TRAIL)  # the trail changed again since the alert was sent
    set_mode(monkeypatch, "on")

    assert click(endpoint, posted, REVERT)["statusCode"] == 200

    [said] = replies(endpoint)
    assert "stale" in said["text"] and bucket() == OTHER_BUCKET  # nothing was reverted


def test_an_unknown_alert_id_does_nothing(endpoint: Detector) -> None:
    posted = redirected(endpoint)
    assert click(endpoint, posted, ACCEPT, alert_id="no-such-alert")["statusCode"] == 200
    assert "knows no alert" in replies(endpoint)[0]["text"]


def test_revert_now_puts_the_trail_back_when_reverts_are_on(
    endpoint: Detector, monkeypatch: pytest.MonkeyPatch
) -> None:
    posted = redirected(endpoint)  # alerted with REMEDIATION_MODE=off: not reverted
    monkeypatch.setenv("REMEDIATION_MODE", "on")  # the endpoint's own environment

    assert click(endpoint, posted, REVERT)["statusCode"] == 200

    assert bucket() == BUCKET
    thread = replies(endpoint)[0]
    assert "Reverted now by <@U0TRAILGRD>" in thread["text"] and "aws cloudtrail update-trail" in thread["text"]
    [notice] = notices(endpoint)
    assert "update-trail" in notice["Message"]
    assert len(notices(endpoint)) == 1
    assert click(endpoint, posted, REVERT)["statusCode"] == 200  # again: done already, and the trail stays
    assert "Already done" in replies(endpoint)[-1]["text"] and bucket() == BUCKET


def test_revert_now_is_refused_when_reverts_are_off(endpoint: Detector) -> None:
    posted = redirected(endpoint)
    assert click(endpoint, posted, REVERT)["statusCode"] == 200
    assert "REMEDIATION_MODE=off" in replies(endpoint)[0]["text"] and bucket() == OTHER_BUCKET


def test_revert_in_dry_run_says_the_calls_and_makes_none(endpoint: Detector, monkeypatch: pytest.MonkeyPatch) -> None:
    posted = redirected(endpoint)
    monkeypatch.setenv("REMEDIATION_MODE", "dry-run")
    assert click(endpoint, posted, REVERT)["statusCode"] == 200
    assert "Would revert" in replies(endpoint)[0]["text"] and bucket() == OTHER_BUCKET


def test_snooze_holds_back_the_trails_findings_for_two_hours(endpoint: Detector) -> None:
    posted = redirected(endpoint)
    assert click(endpoint, posted, SNOOZE)["statusCode"] == 200
    [snooze] = StateTable(boto3.client("dynamodb", region_name=REGION), TABLE).snoozes()
    assert {"destination-changed", "logging-stopped", "logging-gap"} <= set(snooze.rules)
    assert not {"trail-deleted", "detector-tampered", "event-pipeline-silent", "no-compliant-trail"} & set(
        snooze.rules)  # fmt: skip
    assert 7100 < snooze.until - time.time() <= 7200
    slack_before = len(endpoint.slack.messages)

    again = endpoint.run(redirect_event())  # the same drift: held back
    [held] = [f for f in again["findings"] if f["rule"] == "destination-changed"]
    assert again["status"] == "compliant" and held["exempt"].startswith("snoozed until")
    cloudtrail().stop_logging(Name=TRAIL)  # another change of the trail, while the person works on it
    stopped = endpoint.run(event("stoplogging_cli", trail=TRAIL))
    assert stopped["status"] == "compliant" and len(endpoint.slack.messages) == slack_before

    swept = endpoint.run(scheduled())  # the sweep shows them, marked
    assert {f["rule"] for f in swept["findings"] if (f["exempt"] or "").startswith("snoozed until")} >= {
        "destination-changed", "logging-stopped", "no-compliant-trail"}  # fmt: skip


def test_a_snooze_never_hides_a_trail_deleted_meanwhile(endpoint: Detector) -> None:
    posted = redirected(endpoint)
    assert click(endpoint, posted, SNOOZE)["statusCode"] == 200
    cloudtrail().delete_trail(Name=TRAIL)

    deleted = endpoint.run(event("deletetrail_cli_arn", trail=TRAIL, region=REGION))
    swept = endpoint.run(scheduled())

    assert deleted["status"] == "drift" and "trail-deleted" in [f["rule"] for f in deleted["findings"]]
    [alert] = [text for text in endpoint.slack_texts() if "DeleteTrail" in text]
    assert "Held back by a snooze" in alert  # the deletion alert says the trail was snoozed
    counted = [f["rule"] for f in swept["findings"] if not f["exempt"]]
    assert swept["status"] == "drift" and "no-compliant-trail" in counted


def test_one_answer_at_a_time_per_alert(endpoint: Detector, monkeypatch: pytest.MonkeyPatch) -> None:
    posted = redirected(endpoint)
    monkeypatch.setenv("REMEDIATION_MODE", "on")
    table = StateTable(boto3.client("dynamodb", region_name=REGION), TABLE)
    alert_id = button_value(posted, ACCEPT)
    assert table.hold(alert_id, {"action": "accept", "by": "someone"})  # an Accept being carried out

    assert click(endpoint, posted, REVERT)["statusCode"] == 200

    assert "answering this alert right now" in replies(endpoint)[-1]["text"] and bucket() == OTHER_BUCKET
    table.release_hold(alert_id)
    assert click(endpoint, posted, REVERT)["statusCode"] == 200 and bucket() == BUCKET


def test_a_dry_run_revert_is_said_privately_and_does_not_block_a_real_one(
    endpoint: Detector, monkeypatch: pytest.MonkeyPatch
) -> None:
    posted = redirected(endpoint)
    monkeypatch.setenv("REMEDIATION_MODE", "dry-run")
    assert click(endpoint, posted, REVERT)["statusCode"] == 200
    [said] = replies(endpoint)
    assert said["response_type"] == "ephemeral" and "Would revert" in said["text"] and "update-trail" in said["text"]
    assert notices(endpoint) == [] and bucket() == OTHER_BUCKET

    monkeypatch.setenv("REMEDIATION_MODE", "on")
    assert click(endpoint, posted, REVERT)["statusCode"] == 200
    assert bucket() == BUCKET and "Reverted now by" in replies(endpoint)[1]["text"]


def test_an_alert_the_detector_reverted_carries_no_answer_buttons(
    endpoint: Detector, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_trail()
    assert endpoint.run(scheduled())["status"] == "compliant"
    set_mode(monkeypatch, "on")
    cloudtrail().stop_logging(Name=TRAIL)
    result = endpoint.run(event("stoplogging_cli", trail=TRAIL))
    assert [a["result"] for a in result["actions"]] == ["done"]
    assert not button_value(endpoint.slack.messages[-1].body, REVERT)


def test_a_very_long_alert_id_is_answered(endpoint: Detector) -> None:
    make_trail()
    assert endpoint.run(scheduled())["status"] == "compliant"
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=OTHER_BUCKET)
    cloudtrail().update_trail(Name=TRAIL, S3BucketName=OTHER_BUCKET)
    long_id = "事" * 900  # 2,700 bytes: longer than a partition key may be
    record = redirect_event()
    record["detail"]["eventID"] = long_id
    assert endpoint.run(record)["status"] == "drift"
    posted = endpoint.slack.messages[-1].body

    assert click(endpoint, posted, ACCEPT)["statusCode"] == 200
    assert "Accepted as baseline by" in replies(endpoint)[0]["text"]


def test_the_state_table_throttled_gets_an_answer_not_an_error(endpoint: Detector, monkeypatch: Any) -> None:
    from botocore.exceptions import ClientError

    posted = redirected(endpoint)

    def throttled(*_: Any, **__: Any) -> None:
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
                          "BatchGetItem")  # fmt: skip

    monkeypatch.setattr(StateTable, "alert", throttled)
    assert click(endpoint, posted, ACCEPT)["statusCode"] == 200
    assert "could not finish this now" in replies(endpoint)[0]["text"]


def test_a_misconfigured_endpoint_refuses_every_request(endpoint: Detector, monkeypatch: Any) -> None:
    posted = redirected(endpoint)
    monkeypatch.setenv("SLACK_ALLOWED_USERS", "U0TRAILGRD, <!channel>")  # not a Slack user id
    assert click(endpoint, posted, ACCEPT) == {"statusCode": 401}
    assert replies(endpoint) == []


def test_a_revert_that_changed_the_trail_but_did_not_take_is_recorded_and_said(
    endpoint: Detector, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trailguard import fix

    posted = redirected(endpoint)
    cloudtrail().stop_logging(Name=TRAIL)  # two findings now: the bucket, and logging
    assert endpoint.run(event("stoplogging_cli", trail=TRAIL))["status"] == "drift"
    posted = endpoint.slack.messages[-1].body
    monkeypatch.setenv("REMEDIATION_MODE", "on")
    real = fix.execute

    def first_call_only(calls: Any, clients: Any, pause: Any = None) -> Any:  # StartLogging refused, say
        made = real(list(calls)[:1], clients)
        return made + [fix.ActionResult(op, "failed", args, "AccessDenied") for op, args in list(calls)[1:]]

    monkeypatch.setattr("trailguard.fix.execute", first_call_only)

    assert click(endpoint, posted, REVERT)["statusCode"] == 200

    thread = replies(endpoint)[0]
    assert "Reverted now (it did not fully work) by <@U0TRAILGRD>" in thread["text"]
    [notice] = notices(endpoint)
    assert "did not fully work" in notice["Subject"]
    record = StateTable(boto3.client("dynamodb", region_name=REGION), TABLE).decision(
        f"{button_value(posted, REVERT)}#revert")  # fmt: skip
    assert record["state"] == "failed" and record["by"].startswith("slack:")


def test_a_finished_snooze_may_be_clicked_again(endpoint: Detector) -> None:
    posted = redirected(endpoint)
    assert click(endpoint, posted, SNOOZE)["statusCode"] == 200
    assert "Already done" in (click(endpoint, posted, SNOOZE), replies(endpoint)[-1]["text"])[1]  # while it runs
    boto3.client("dynamodb", region_name=REGION).update_item(  # the snooze was set more than two hours ago
        TableName=TABLE,
        Key={"pk": {"S": f"decision#{button_value(posted, SNOOZE)}#snooze"}},
        UpdateExpression="SET #at = :then",
        ExpressionAttributeNames={"#at": "at"},
        ExpressionAttributeValues={":then": {"N": str(int(time.time()) - 2 * 3600 - 60)}},
    )

    assert click(endpoint, posted, SNOOZE)["statusCode"] == 200

    assert "Snoozed 2 h by" in replies(endpoint)[-2]["text"]  # carried out again: thread reply, then the update


def test_a_new_snooze_never_shortens_the_one_that_runs(endpoint: Detector) -> None:
    posted = redirected(endpoint)
    table = StateTable(boto3.client("dynamodb", region_name=REGION), TABLE)
    from trailguard.snooze import Snooze

    arn = cloudtrail().describe_trails()["trailList"][0]["TrailARN"]
    day = int(time.time()) + 86_000
    table.snooze(Snooze(arn, day, "someone", "planned", ("destination-changed",)))

    assert click(endpoint, posted, SNOOZE)["statusCode"] == 200

    [snooze] = table.snoozes()
    assert snooze.until == day and "logging-stopped" in snooze.rules and "destination-changed" in snooze.rules


def test_requests_that_are_not_function_url_events_are_refused(endpoint: Detector) -> None:
    for event_ in (None, [], "payload=x", {"headers": ["x"], "body": 5}):
        assert interaction_handler.handler(event_, Context()) == {"statusCode": 401}  # type: ignore[arg-type]
