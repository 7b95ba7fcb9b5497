"""The heartbeat: each sweep makes one failing StopLogging per watched region; its event coming back proves the
pipeline works, and a region whose heartbeat never came back is event-pipeline-silent, said once, and its
recovery said once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest

from tests.events import event, scheduled
from trailguard import heartbeat

from .conftest import ACCOUNT, REGION, Detector

pytestmark = pytest.mark.integration


def own_arn() -> str:
    return str(boto3.client("sts", region_name=REGION).get_caller_identity()["Arn"])  # the detector's identity here


def echo(beat: dict[str, Any], arn: str | None = None) -> dict[str, Any]:
    """The failed-call event a heartbeat produces (TrailNotFound), as EventBridge delivers it."""
    identity = {"type": "IAMUser", "accountId": ACCOUNT, "arn": arn or own_arn()}
    return event("stoplogging_trail_not_found", trail=beat["name"], region=beat["region"], userIdentity=identity)


def test_a_sweep_sends_one_heartbeat_per_watched_region_and_its_event_is_recorded_not_alerted(
    detector: Detector, trail: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import drift_handler

    monkeypatch.setenv("WATCHED_REGIONS", "us-east-1,eu-west-1")
    monkeypatch.setattr(drift_handler, "_runtime", None)
    trail(REGION, "org-audit")
    detector.emu.clear_calls()

    swept = detector.run(scheduled())
    beats = swept["heartbeats"]

    assert sorted(b["region"] for b in beats) == ["eu-west-1", "us-east-1"]
    assert all(b["account"] == ACCOUNT and b["name"].startswith(heartbeat.PREFIX) for b in beats)
    assert detector.emu.calls()["StopLogging"] == 2
    results = [detector.run(echo(b)) for b in beats]
    assert [r["status"] for r in results] == ["heartbeat", "heartbeat"]
    assert detector.slack_texts() == [] and detector.inbox() == []


def test_a_heartbeat_name_from_anyone_else_is_a_failed_attempt(detector: Detector) -> None:
    forged = {"region": REGION, "name": f"{heartbeat.PREFIX}forged"}

    result = detector.run(echo(forged, arn="arn:aws:iam::123456789012:user/mallory"))

    assert result["status"] == "failed-attempt" and len(detector.slack_texts()) == 1


def test_a_silent_region_is_said_once_and_its_recovery_once(
    detector: Detector, trail: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(heartbeat, "GRACE", -1)  # the next sweep is as late as an hour: no wait here
    trail(REGION, "org-audit")
    detector.run(scheduled())  # sends a heartbeat that never comes back (the rule was, say, disabled)

    silent = detector.run(scheduled())
    again = detector.run(scheduled())

    assert silent["status"] == "drift"
    assert [f["rule"] for f in silent["findings"]] == ["event-pipeline-silent"]
    assert silent["findings"][0]["severity"] == "critical"
    [text] = detector.slack_texts()
    assert "No heartbeat came back from account 123456789012 in us-east-1" in text
    assert "aws events list-rules --region us-east-1" in text
    assert again["notified"] == []  # still silent: not said again
    for beat in again["heartbeats"]:
        assert detector.run(echo(beat))["status"] == "heartbeat"  # the pipeline works again
    recovered = detector.run(scheduled())
    assert len(detector.slack_texts()) == 2 and "compliant again" in detector.slack_texts()[1]
    assert recovered["notified"] == ["slack", "sns"]
