"""Logging gaps: a successful watched call that switched logging off or narrowed it is evidence that events were
lost, even when the trail is back by the time the detector reads it (stop, act, start again)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.events import event

from .conftest import REGION, Detector, cloudtrail

pytestmark = pytest.mark.integration


def rules(result: dict[str, Any]) -> list[tuple[str, str]]:
    return [(f["rule"], f["severity"]) for f in result["findings"]]


def test_a_stop_start_window_is_a_logging_gap_saying_who_and_for_how_long(
    detector: Detector, trail: Callable[..., str]
) -> None:
    trail(REGION, "org-audit")
    cloudtrail().stop_logging(Name="org-audit")
    cloudtrail().start_logging(Name="org-audit")  # before the detector reads it

    result = detector.run(event("stoplogging_cli", trail="org-audit"))

    assert result["status"] == "drift" and rules(result) == [("logging-gap", "high")]
    message = result["findings"][0]["message"]
    assert "was stopped by arn:aws:iam::123456789012:user/ops-admin" in message
    assert re.search(r" for \d+ s \(from 20\S+ to 20\S+\)", message)  # the status's StopLoggingTime to StartLoggingTime
    [text] = detector.slack_texts()
    assert "cannot be recovered" in text and "logging-gap" in text


def test_selectors_narrowed_and_restored_are_a_gap_judged_on_what_the_call_set(
    detector: Detector, trail: Callable[..., str]
) -> None:
    trail(REGION, "org-audit")  # logging all management events again by now

    result = detector.run(event("puteventselectors_read_only", trail="org-audit"))

    assert rules(result) == [("logging-gap", "high")]
    assert "given selectors" in result["findings"][0]["message"]
    assert "logs only read management events; write events are not logged)" in result["findings"][0]["message"]


def test_made_single_region_and_back_is_a_gap(detector: Detector, trail: Callable[..., str]) -> None:
    trail(REGION, "org-audit")

    result = detector.run(event("updatetrail_single_region", trail="org-audit"))

    assert rules(result) == [("logging-gap", "high")]
    assert "made single-region" in result["findings"][0]["message"]


def test_a_call_that_logs_more_or_the_same_is_no_gap(detector: Detector, trail: Callable[..., str]) -> None:
    trail(REGION, "org-audit")

    restored = detector.run(event("puteventselectors_restore_all", trail="org-audit"))
    redirect = {"name": "org-audit", "s3BucketName": "trailguard-test-logs"}
    updated = detector.run(event("updatetrail_single_region", trail="org-audit", requestParameters=redirect))

    assert restored["status"] == updated["status"] == "compliant"
    assert detector.slack_texts() == []


def test_a_gap_is_not_reverted_and_a_trail_still_stopped_is_logging_stopped_not_a_gap(
    detector: Detector, trail: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import drift_handler

    monkeypatch.setenv("REMEDIATION_MODE", "on")
    monkeypatch.setattr(drift_handler, "_runtime", None)
    trail(REGION, "org-audit")
    cloudtrail().stop_logging(Name="org-audit")
    cloudtrail().start_logging(Name="org-audit")
    gap = detector.run(event("stoplogging_cli", trail="org-audit"))
    cloudtrail().stop_logging(Name="org-audit")
    stopped = detector.run(event("stoplogging_cli", trail="org-audit"))

    assert rules(gap) == [("logging-gap", "high")] and gap["actions"] == []
    assert "logging-gap" not in [r for r, _ in rules(stopped)] and stopped["actions"][0]["action"] == "StartLogging"


def test_an_exempt_gap_is_not_alerted(detector: Detector, trail: Callable[..., str], tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    import drift_handler

    exemptions = tmp_path / "exemptions.json"
    exemptions.write_text(json.dumps([{"trail": "org-audit", "rules": ["logging-gap"], "reason": "test trail"}]))
    monkeypatch.setenv("EXEMPTIONS_FILE", str(exemptions))
    monkeypatch.setattr(drift_handler, "_runtime", None)
    trail(REGION, "org-audit")

    result = detector.run(event("puteventselectors_read_only", trail="org-audit"))

    assert result["status"] == "compliant" and detector.slack_texts() == []
