"""Alerts that read right in every mode: REVERTED after a verified revert (what the call did, no fix to paste,
the calls made in full), WOULD REVERT in dry-run, and the account-level finding's shortest real fix. Every
Slack payload is checked by slack_sdk's Block Kit models."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from tests.events import event

from .conftest import Detector, cloudtrail
from .test_remediation import TRAIL, make_trail, mode, record_baseline

pytestmark = pytest.mark.integration
__all__ = ["mode"]  # the fixture: REMEDIATION_MODE, set per test


def blocks_valid(message: dict[str, Any]) -> None:
    for block in message["blocks"]:
        parsed = Block.parse(block)
        assert parsed is not None
        parsed.validate_json()


def test_a_verified_revert_says_reverted_and_shows_every_call_whole(detector: Detector, mode: Any) -> None:
    make_trail()
    record_baseline(detector)
    cloudtrail().delete_trail(Name=TRAIL)

    result = detector.run(event("deletetrail_terraform", trail=TRAIL))

    assert [a["result"] for a in result["actions"]] == ["done"] * 4
    [message] = [m.body for m in detector.slack.messages]
    blocks_valid(message)
    [text] = detector.slack_texts()
    assert text.startswith(":white_check_mark: REVERTED · CloudTrail drift: org-audit")
    assert "reverted since and verified" in text and "Fix:" not in text and "no command to paste" not in text
    assert "aws cloudtrail create-trail" in text and "aws cloudtrail start-logging" in text
    assert "truncated" not in text and "…" not in text.split("What trailguard did", 1)[1]
    [email] = detector.inbox()
    assert email["Subject"].startswith("[trailguard] REVERTED drift: org-audit")
    body = email["Message"]
    assert "Severity:    CRITICAL" in body or "Severity:    HIGH" in body
    assert "     Fix:" not in body and "    aws cloudtrail put-event-selectors" in body


def test_dry_run_says_would_revert_and_keeps_the_fix_to_paste(detector: Detector, mode: Any) -> None:
    mode("dry-run")
    make_trail()
    record_baseline(detector)
    cloudtrail().stop_logging(Name=TRAIL)

    result = detector.run(event("stoplogging_cli", trail=TRAIL))

    assert [a["result"] for a in result["actions"]] == ["dry-run"]
    blocks_valid(detector.slack.messages[0].body)
    [text] = detector.slack_texts()
    assert "WOULD REVERT · CloudTrail drift: org-audit" in text and "Fix:" in text
    assert "aws cloudtrail start-logging --region us-east-1 --name org-audit" in text
    assert detector.inbox()[0]["Subject"].startswith("[trailguard] WOULD REVERT drift")


def test_alert_only_leads_with_the_severity(detector: Detector, mode: Any) -> None:
    mode("off")
    make_trail()
    cloudtrail().stop_logging(Name=TRAIL)

    detector.run(event("stoplogging_cli", trail=TRAIL))

    [text] = detector.slack_texts()
    assert text.startswith(":red_circle: CRITICAL · CloudTrail drift: org-audit") and "REVERT" not in text


def test_the_account_level_fix_is_the_shortest_one(detector: Detector, mode: Any) -> None:
    mode("off")
    make_trail()
    cloudtrail().stop_logging(Name=TRAIL)

    result = detector.run(event("stoplogging_cli", trail=TRAIL))

    [account] = [f for f in result["findings"] if f["rule"] == "no-compliant-trail"]
    assert "shortest fix puts trail org-audit right" in account["message"]
    text = detector.slack_texts()[0]
    fixes = text.split("no-compliant-trail", 1)[1]
    assert "aws cloudtrail start-logging --region us-east-1 --name org-audit" in fixes
    assert "<log-bucket>" not in fixes.split("Hint:", 1)[0]  # the bucket placeholder only in the create hint
