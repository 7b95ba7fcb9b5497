"""delivery-failing: a logging trail whose logs, digests or CloudWatch Logs events do not arrive."""

from __future__ import annotations

import pytest

from trailguard.judge import TrailState, evaluate_account, evaluate_trail
from trailguard.rules import REGISTRY, example


@pytest.mark.parametrize(
    ("field", "says"),
    [
        ("LatestDeliveryError", "log files to S3 (AccessDenied)"),
        ("LatestDigestDeliveryError", "digest files to S3 (AccessDenied)"),
        ("LatestCloudWatchLogsDeliveryError", "events to CloudWatch Logs (AccessDenied)"),
    ],
)
def test_a_delivery_error_in_the_status_is_delivery_failing(field: str, says: str) -> None:
    (finding,) = evaluate_trail(example(status={field: "AccessDenied"}))

    assert finding.rule == "delivery-failing" and finding.severity == "high" and finding.counted
    assert says in finding.message and "'example' is logging" in finding.message
    assert "cloudtrail.amazonaws.com s3:PutObject" in finding.hint and "example-logs" in finding.hint
    assert finding.calls == ()  # a person must fix the bucket, key or role policy


def test_every_failing_delivery_is_named_in_one_finding() -> None:
    facts = example(status={"LatestDeliveryError": "NoSuchBucket", "LatestCloudWatchLogsDeliveryError": "Denied"})
    (finding,) = evaluate_trail(facts)
    assert "log files to S3 (NoSuchBucket); events to CloudWatch Logs (Denied)" in finding.message


@pytest.mark.parametrize("status", [{}, {"LatestDeliveryError": ""}, {"LatestDeliveryTime": 1604522848.468}])
def test_no_error_no_finding(status: dict[str, object]) -> None:
    assert evaluate_trail(example(status=status)) == []


def test_a_stopped_trail_is_logging_stopped_alone() -> None:
    facts = example(status={"IsLogging": False, "LatestDeliveryError": "AccessDenied"})
    assert [f.rule for f in evaluate_trail(facts)] == ["logging-stopped"]


def test_a_trail_whose_logs_do_not_arrive_does_not_cover_the_account() -> None:
    facts = example(status={"LatestDeliveryError": "AccessDenied"})
    verdict = evaluate_account("111122223333", [TrailState(facts.description, facts.status, facts.selectors)])

    assert not verdict.covered
    assert [(f.rule, f.severity) for f in verdict.all_findings] == [
        ("delivery-failing", "critical"),
        ("no-compliant-trail", "critical"),
    ]


def test_it_is_exemptible_and_never_reverted() -> None:
    rule = REGISTRY["delivery-failing"]
    assert rule.exemptible and not rule.revertible and not rule.revert_actions
