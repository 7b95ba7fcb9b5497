"""Security Hub, optionally (SECURITY_HUB=on, the stack's securityHub=true): the handler and the sweep import
their findings as ASFF into the emulator's Security Hub, update them as the trail changes, and archive them
when it is compliant again, each alert imported exactly once like any channel's."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

import drift_handler
from tests.events import event, scheduled

from .conftest import ACCOUNT, REGION, Detector, cloudtrail

pytestmark = pytest.mark.integration
TRAIL = "org-audit"


@pytest.fixture
def hub(detector: Detector, monkeypatch: pytest.MonkeyPatch, trail: Any) -> Any:
    monkeypatch.setenv("SECURITY_HUB", "on")
    monkeypatch.setattr(drift_handler, "_runtime", None)
    trail(REGION, TRAIL)
    assert detector.run(scheduled())["status"] == "compliant"  # the baseline; nothing imported
    return boto3.client("securityhub", region_name=REGION)


def findings(hub: Any) -> dict[str, dict[str, Any]]:
    return {f["Id"]: f for f in hub.get_findings()["Findings"]}


def test_a_drift_is_imported_once_and_archived_when_the_sweep_finds_the_trail_compliant(
    detector: Detector, hub: Any
) -> None:
    arn = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{TRAIL}"
    cloudtrail().stop_logging(Name=TRAIL)

    first = detector.run(event("stoplogging_cli", trail=TRAIL))
    again = detector.run(event("stoplogging_cli", trail=TRAIL, event_id=first["event_id"]))

    assert "securityhub" in first["notified"] and again["status"] == "duplicate"
    imported = findings(hub)
    stopped = imported[f"trailguard/{ACCOUNT}/{arn}/logging-stopped"]
    assert stopped["RecordState"] == "ACTIVE" and stopped["Severity"]["Label"] == "CRITICAL"
    assert stopped["Resources"][0]["Id"] == arn and stopped["Compliance"]["Status"] == "FAILED"
    assert imported[f"trailguard/{ACCOUNT}/account/no-compliant-trail"]["RecordState"] == "ACTIVE"

    cloudtrail().start_logging(Name=TRAIL)
    swept = detector.run(scheduled())

    assert "securityhub" in swept["notified"]
    after = findings(hub)
    assert after[f"trailguard/{ACCOUNT}/{arn}/logging-stopped"]["RecordState"] == "ARCHIVED"
    assert after[f"trailguard/{ACCOUNT}/account/no-compliant-trail"]["RecordState"] == "ARCHIVED"
    assert len(after) == len(imported)  # updated in place, not doubled


def test_a_verified_revert_stays_visible_until_the_next_sweep_archives_it(
    detector: Detector, hub: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REMEDIATION_MODE", "on")
    monkeypatch.setattr(drift_handler, "_runtime", None)
    cloudtrail().stop_logging(Name=TRAIL)

    result = detector.run(event("stoplogging_cli", trail=TRAIL))

    assert [a["result"] for a in result["actions"]] == ["done"]
    assert {f["RecordState"] for f in findings(hub).values()} == {"ACTIVE"}  # the call happened: it is shown
    detector.run(scheduled())
    assert {f["RecordState"] for f in findings(hub).values()} == {"ARCHIVED"}


def test_a_silent_region_is_a_finding_of_its_own_archived_when_it_recovers(
    detector: Detector, hub: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trailguard import heartbeat

    from .test_heartbeat import echo

    monkeypatch.setattr(heartbeat, "GRACE", -1)  # the fixture's sweep sent a heartbeat that never came back
    silent = detector.run(scheduled())
    pipeline = f"trailguard/{ACCOUNT}/pipeline/{REGION}/event-pipeline-silent"

    assert "securityhub" in silent["notified"] and findings(hub)[pipeline]["RecordState"] == "ACTIVE"
    for beat in silent["heartbeats"]:
        detector.run(echo(beat))
    detector.run(scheduled())
    assert findings(hub)[pipeline]["RecordState"] == "ARCHIVED"


def test_without_security_hub_nothing_is_imported(detector: Detector, trail: Any) -> None:
    trail(REGION, TRAIL)
    cloudtrail().stop_logging(Name=TRAIL)

    result = detector.run(event("stoplogging_cli", trail=TRAIL))

    assert "securityhub" not in result["notified"]
    assert boto3.client("securityhub", region_name=REGION).get_findings()["Findings"] == []
