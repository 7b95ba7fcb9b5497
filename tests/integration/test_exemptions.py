"""Exemptions end to end: the real ``trailguard audit --exemptions`` and the real handler with EXEMPTIONS_FILE,
against moto's server. A data-events-only trail beside a compliant one is the estate this is for."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import drift_handler
from tests.events import event, scheduled
from trailguard_dev.emulator import Emulator

from .conftest import BUCKET, REGION, Detector, cloudtrail, run_trailguard

pytestmark = pytest.mark.integration

DATA_ONLY = {
    "EventSelectors": [
        {
            "ReadWriteType": "All",
            "IncludeManagementEvents": False,
            "DataResources": [{"Type": "AWS::S3::Object", "Values": [f"arn:aws:s3:::{BUCKET}/"]}],
        }
    ]
}
REGIONS = ("--region", REGION)


def exemptions_file(tmp_path: Path, *entries: dict[str, Any]) -> str:
    path = tmp_path / "exemptions.json"
    path.write_text(json.dumps(list(entries)))
    return str(path)


def data_exemption(**changes: Any) -> dict[str, Any]:
    return {"trail": "s3-data", "rules": ["management-events-excluded"], "reason": "S3 data events only", **changes}


@pytest.fixture
def estate(aws: Emulator, trail: Callable[..., str]) -> str:
    """One compliant multi-region trail and one that logs S3 data events only; the data trail's ARN."""
    trail(REGION, "org-main")
    return trail(REGION, "s3-data", selectors=DATA_ONLY)


def test_without_an_exemption_the_one_verdict_is_not_compliant_and_says_how_to_exempt(estate: str) -> None:
    done = run_trailguard("audit", *REGIONS)

    assert done.code == 1
    lines = done.stdout.strip().splitlines()
    assert lines[-1] == "not compliant: 1 finding(s) count."
    account_row = next(line for line in lines if line.startswith("(account)"))
    assert "NOT COMPLIANT" in account_row
    assert "logs data events only" in done.stdout and "--exemptions" in done.stdout and estate in done.stdout


def test_with_the_exemption_the_account_is_compliant_and_the_finding_still_shown(tmp_path: Path, estate: str) -> None:
    path = exemptions_file(tmp_path, data_exemption())

    table = run_trailguard("audit", *REGIONS, "--exemptions", path)
    document = run_trailguard("audit", *REGIONS, "--exemptions", path, "--json")

    assert table.code == 0 and document.code == 0
    assert table.stdout.strip().splitlines()[-1] == "compliant (1 exempt finding(s) not counted)."
    assert "exempt:   S3 data events only" in table.stdout
    report = json.loads(document.stdout)
    assert report["compliant"] is True and report["verdict"] == "compliant"
    [finding] = report["findings"]
    assert finding["rule"] == "management-events-excluded" and finding["trail_arn"] == estate
    assert finding["counted"] is False and finding["exempt"] == {"reason": "S3 data events only", "expires": None}


def test_an_expired_exemption_counts_again_and_says_so(tmp_path: Path, estate: str) -> None:
    done = run_trailguard(
        "audit", *REGIONS, "--exemptions", exemptions_file(tmp_path, data_exemption(expires="2020-01-31"))
    )

    assert done.code == 1
    assert "exemption expired: it applied through 2020-01-31 (S3 data events only); it counts again" in done.stdout


def test_a_tag_on_the_trail_exempts_nothing(estate: str) -> None:
    cloudtrail().add_tags(ResourceId=estate, TagsList=[{"Key": "trailguard:exempt", "Value": "*"}])
    assert run_trailguard("audit", *REGIONS).code == 1


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("[{", "is not valid JSON"),
        (json.dumps([data_exemption(rules=["no-compliant-trail"])]), "no-compliant-trail can never be exempted"),
    ],
)
def test_a_bad_exemptions_file_is_one_sentence_and_exit_2(
    tmp_path: Path, aws: Emulator, content: str, says: str
) -> None:
    path = tmp_path / "exemptions.json"
    path.write_text(content)

    done = run_trailguard("audit", *REGIONS, "--exemptions", str(path))

    assert done.code == 2 and done.stdout == ""
    assert done.stderr.startswith("trailguard: ") and says in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_missing_exemptions_file_is_one_sentence_and_exit_2(tmp_path: Path, aws: Emulator) -> None:
    done = run_trailguard("audit", *REGIONS, "--exemptions", str(tmp_path / "nope.json"))
    assert done.code == 2 and "cannot be read" in done.stderr and "Traceback" not in done.stderr


# --- the Lambda and the sweep ------------------------------------------------------------------------------


@pytest.fixture
def exempting(detector: Detector, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Detector:
    monkeypatch.setenv("EXEMPTIONS_FILE", exemptions_file(tmp_path, data_exemption()))
    monkeypatch.setattr(drift_handler, "_runtime", None)
    return detector


def test_the_handler_does_not_alert_on_an_exempt_finding(exempting: Detector, estate: str) -> None:
    cloudtrail().put_event_selectors(TrailName="s3-data", **DATA_ONLY)

    result = exempting.run(event("puteventselectors_stratus_mgmt_off", trail="s3-data"))

    assert result["status"] == "compliant" and result["notified"] == []
    assert [(f["rule"], f["exempt"]) for f in result["findings"]] == [
        ("management-events-excluded", "S3 data events only")
    ]
    assert exempting.slack.messages == [] and exempting.inbox() == []


def test_without_the_exemption_the_same_call_is_alerted(detector: Detector, estate: str) -> None:
    result = detector.run(event("puteventselectors_stratus_mgmt_off", trail="s3-data"))
    assert result["status"] == "drift" and result["notified"] == ["slack", "sns"]


def test_an_exempt_finding_is_never_reverted(exempting: Detector, estate: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMEDIATION_MODE", "on")
    monkeypatch.setattr(drift_handler, "_runtime", None)
    cloudtrail().stop_logging(Name="s3-data")

    result = exempting.run(event("stoplogging_cli", trail="s3-data"))

    assert result["status"] == "drift"
    assert [(a["action"], a["result"]) for a in result["actions"]] == [("StartLogging", "done")]  # not the selectors
    assert cloudtrail().get_trail_status(Name="s3-data")["IsLogging"] is True
    selectors = cloudtrail().get_event_selectors(TrailName="s3-data")
    assert selectors["EventSelectors"][0]["IncludeManagementEvents"] is False


def test_the_sweep_says_a_trail_reported_before_is_now_exempt_not_compliant(
    detector: Detector, estate: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = detector.run(scheduled())
    monkeypatch.setenv("EXEMPTIONS_FILE", exemptions_file(tmp_path, data_exemption()))
    monkeypatch.setattr(drift_handler, "_runtime", None)
    second = detector.run(scheduled())

    assert first["status"] == "drift" and second["status"] == "compliant"
    texts = detector.slack_texts()
    assert len(texts) == 2 and "is no longer reported: its findings are exempt" in texts[1]
    assert "compliant again" not in texts[1]


def test_the_sweep_leaves_an_exempt_trail_quiet(exempting: Detector, estate: str) -> None:
    result = exempting.run(scheduled())

    assert result["status"] == "compliant" and result["notified"] == []
    assert exempting.slack.messages == []


def test_format_json_is_the_json_flag(tmp_path: Path, estate: str) -> None:
    path = exemptions_file(tmp_path, data_exemption())
    by_format = run_trailguard("audit", *REGIONS, "--exemptions", path, "--format", "json")
    by_flag = run_trailguard("audit", *REGIONS, "--exemptions", path, "--json")

    assert by_format.code == by_flag.code == 0
    assert json.loads(by_format.stdout) == json.loads(by_flag.stdout)
    assert run_trailguard("audit", "--format", "xml").code == 2
