"""The real ``trailguard audit`` command against moto's server over HTTP (AWS_ENDPOINT_URL)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest

from trailguard_dev.emulator import Emulator

from .conftest import run_trailguard

pytestmark = pytest.mark.integration

TWO_REGIONS = ("--region", "us-east-1", "--region", "eu-west-1")
IAM_DROPPED = {
    "AdvancedEventSelectors": [
        {
            "Name": "Management events selector",
            "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Management"]},
                {"Field": "eventSource", "NotEquals": ["iam.amazonaws.com"]},
            ],
        }
    ]
}


def audit_json(*args: str) -> tuple[int, dict[str, Any]]:
    done = run_trailguard("audit", "--json", *args)
    assert done.stderr == "", done.stderr
    return done.code, json.loads(done.stdout)


def test_multi_region_trail_seen_from_two_regions_is_one_compliant_trail(
    aws: Emulator, trail: Callable[..., str]
) -> None:
    arn = trail("us-east-1", "org-audit")
    aws.clear_calls()

    code, report = audit_json(*TWO_REGIONS)

    assert code == 0
    assert report["compliant"] is True
    assert report["findings"] == []
    assert [(t["arn"], t["home_region"], t["multi_region"], t["logging"]) for t in report["trails"]] == [
        (arn, "us-east-1", True, True)
    ]
    # the shadow copy in eu-west-1 is folded: its status and selectors are read once, in the home region
    assert aws.calls() == {"DescribeTrails": 2, "GetTrailStatus": 1, "GetEventSelectors": 1}


def test_stopped_trail_is_drift_while_another_trail_keeps_the_account_compliant(
    aws: Emulator, trail: Callable[..., str]
) -> None:
    trail("us-east-1", "main")
    stopped = trail("us-east-1", "backup", logging=False)

    code, report = audit_json(*TWO_REGIONS)

    assert code == 1
    assert report["covered"] is True  # CIS 3.1 holds: the other trail covers the account
    assert (report["compliant"], report["verdict"]) == (False, "findings")  # yet a finding counts: exit code 1
    assert [(f["rule"], f["severity"], f["trail_arn"]) for f in report["findings"]] == [
        ("logging-stopped", "high", stopped)
    ]
    assert "start-logging --region us-east-1 --name backup" in report["findings"][0]["fix"]["cli"]


def test_several_drifted_trails_across_regions_each_judged_once(aws: Emulator, trail: Callable[..., str]) -> None:
    trail("us-east-1", "stopped", logging=False)
    trail("us-east-1", "read-only", selectors={"EventSelectors": [{"ReadWriteType": "ReadOnly"}]})
    trail("eu-west-1", "no-iam", selectors=IAM_DROPPED)
    trail("eu-west-1", "eu-only", multi_region=False)
    aws.clear_calls()

    code, report = audit_json(*TWO_REGIONS)

    assert code == 1
    assert report["compliant"] is False
    assert report["covered"] is False
    by_name = {t["name"]: [f["rule"] for f in t["findings"]] for t in report["trails"]}
    assert by_name == {
        "stopped": ["logging-stopped"],
        "read-only": ["management-events-partial"],
        "no-iam": ["management-sources-excluded"],
        "eu-only": ["not-multi-region"],
    }
    severities = {f["rule"]: f["severity"] for f in report["findings"]}
    assert severities["no-compliant-trail"] == "critical"
    assert severities["logging-stopped"] == "critical"  # no compliant trail is left: every regression is critical
    # 3 multi-region trails appear in both regions, 1 single-region trail in one: 4 distinct trails
    assert aws.calls() == {"DescribeTrails": 2, "GetTrailStatus": 4, "GetEventSelectors": 4}


def test_account_without_trails_has_no_compliant_trail(aws: Emulator) -> None:
    aws.clear_calls()

    code, report = audit_json(*TWO_REGIONS)

    assert code == 1
    assert report["account"] == "123456789012"
    assert report["trails"] == []
    assert [(f["rule"], f["severity"], f["trail_arn"]) for f in report["findings"]] == [
        ("no-compliant-trail", "critical", None)
    ]
    assert "create-trail" in report["findings"][0]["fix"]["cli"]
    # with no trail to tell the account id, STS is asked once
    assert aws.calls() == {"DescribeTrails": 2, "GetCallerIdentity": 1}


def test_json_document_keeps_to_the_contract(aws: Emulator, trail: Callable[..., str]) -> None:
    trail("us-east-1", "main", logging=False)

    _, report = audit_json("--region", "us-east-1")

    assert isinstance(report["account"], str)
    assert isinstance(report["compliant"], bool)
    assert isinstance(report["covered"], bool)
    assert report["verdict"] in {"compliant", "findings", "unknown"}
    assert report["compliant"] == (report["verdict"] == "compliant")
    assert {
        "arn", "name", "home_region", "multi_region", "logging", "compliant", "organization_trail", "exempt",
        "findings",
    } <= set(report["trails"][0])  # fmt: skip
    for finding in report["findings"]:
        assert finding["rule"] and finding["message"]
        assert finding["severity"] in {"critical", "high", "medium", "low"}
        assert {"account", "counted", "advisory", "exempt", "exemption_expired", "hint"} <= set(finding)
        assert set(finding["fix"]) == {"cli", "cloudformation", "terraform"}


def test_table_shows_trail_home_region_verdict_and_findings(aws: Emulator, trail: Callable[..., str]) -> None:
    trail("eu-west-1", "eu-only", multi_region=False)

    done = run_trailguard("audit", *TWO_REGIONS)

    assert done.code == 1
    header, row = done.stdout.splitlines()[2:4]
    assert header.split() == ["TRAIL", "HOME", "REGION", "VERDICT", "FINDINGS"]
    assert row.split()[:5] == ["eu-only", "eu-west-1", "DRIFT", "not-multi-region", "(critical)"]
    assert "aws cloudtrail update-trail --region eu-west-1 --name eu-only --is-multi-region-trail" in done.stdout
    # the (account) row and the last line say the same verdict as the exit code
    [account] = [line for line in done.stdout.splitlines() if line.startswith("(account)")]
    assert account.split()[1:3] == ["NOT", "COMPLIANT"]
    assert done.stdout.rstrip().splitlines()[-1] == "not compliant: 2 finding(s) count."


def test_default_regions_are_every_region_enabled_for_the_account(aws: Emulator, trail: Callable[..., str]) -> None:
    trail("ap-southeast-2", "sydney")
    aws.clear_calls()

    code, report = audit_json()

    calls = aws.calls()
    assert code == 0
    assert calls["DescribeRegions"] == 1
    assert calls["DescribeTrails"] == len(report["regions"]) > 2
    assert "ap-southeast-2" in report["regions"]
    assert calls["GetTrailStatus"] == calls["GetEventSelectors"] == 1


def test_throttled_calls_are_retried_and_the_audit_completes(aws: Emulator, trail: Callable[..., str]) -> None:
    trail("us-east-1", "main")
    aws.clear_calls()
    aws.throttle_next(3)

    code, report = audit_json("--region", "us-east-1")

    assert code == 0
    assert report["trails"][0]["compliant"] is True
    assert sum(aws.calls().values()) == 3 + 3  # three throttled attempts, then the three calls that answer


def test_unreachable_endpoint_is_one_sentence_and_exit_2() -> None:
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "y",
    }

    done = run_trailguard("audit", "--region", "us-east-1", env=env)

    assert done.code == 2
    assert done.stdout == ""
    assert done.stderr.startswith("trailguard: The AWS endpoint could not be reached")
    assert len(done.stderr.strip().splitlines()) == 1


def test_missing_credentials_is_one_sentence_and_exit_2(tmp_path: Any) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }

    done = run_trailguard("audit", "--region", "us-east-1", env=env)

    assert done.code == 2
    assert done.stderr.strip() == (
        "trailguard: No AWS credentials were found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY."
    )
