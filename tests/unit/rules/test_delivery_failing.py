"""delivery-failing: a logging trail whose logs, digests or CloudWatch Logs events do not arrive."""

from __future__ import annotations

import datetime

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


# --- current or stale: the status gives no time for an error, only for the last success (and, for log files,
# the last attempt, in fields AWS documents as no longer in use)

EARLIER = datetime.datetime(2026, 11, 20, 10, 0, 0, 500000, tzinfo=datetime.UTC)
LATER = datetime.datetime(2026, 11, 20, 10, 5, 0, 250000, tzinfo=datetime.UTC)


def _iso(when: datetime.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")  # how the attempt fields carry a time: to the second


def test_a_log_file_error_whose_delivery_has_since_succeeded_is_stale() -> None:
    status = {"LatestDeliveryError": "AccessDenied", "LatestDeliveryTime": LATER,
              "LatestDeliveryAttemptTime": _iso(LATER), "LatestDeliveryAttemptSucceeded": _iso(LATER)}  # fmt: skip
    assert evaluate_trail(example(status=status)) == []


def test_a_log_file_error_after_the_last_success_is_current_and_says_since_when() -> None:
    status = {"LatestDeliveryError": "AccessDenied", "LatestDeliveryTime": EARLIER,
              "LatestDeliveryAttemptTime": _iso(LATER), "LatestDeliveryAttemptSucceeded": _iso(EARLIER)}  # fmt: skip
    (finding,) = evaluate_trail(example(status=status))
    assert "log files to S3 (AccessDenied; last delivered 2026-11-20T10:00:00+00:00)" in finding.message


@pytest.mark.parametrize(
    "times",
    [
        {},  # no time at all
        {"LatestDeliveryTime": LATER.timestamp()},  # a success, but no attempt time to put it after
        {"LatestDeliveryTime": LATER, "LatestDeliveryAttemptTime": "", "LatestDeliveryAttemptSucceeded": ""},
        {"LatestDeliveryAttemptTime": _iso(LATER)},  # an attempt and no success ever
        {"LatestDeliveryTime": EARLIER, "LatestDeliveryAttemptTime": "not a time"},
    ],
)
def test_a_log_file_error_not_shown_to_be_followed_by_a_success_is_current(times: dict[str, object]) -> None:
    assert [f.rule for f in evaluate_trail(example(status={"LatestDeliveryError": "NoSuchBucket", **times}))] == [
        "delivery-failing"
    ]


@pytest.mark.parametrize(
    ("error", "success"),
    [("LatestDigestDeliveryError", "LatestDigestDeliveryTime"),
     ("LatestCloudWatchLogsDeliveryError", "LatestCloudWatchLogsDeliveryTime")],
)  # fmt: skip
def test_digest_and_cloudwatch_errors_have_no_attempt_time_so_a_later_success_does_not_clear_them(
    error: str, success: str
) -> None:
    """Only the last success is known: whether the error came before or after it cannot be told."""
    status = {error: "AccessDenied", success: LATER, "LatestDeliveryAttemptTime": _iso(EARLIER),
              "LatestDeliveryTime": LATER}  # fmt: skip
    (finding,) = evaluate_trail(example(status=status))
    assert "(AccessDenied; last delivered 2026-11-20T10:05:00+00:00)" in finding.message


def test_a_stale_log_file_error_does_not_hide_a_current_cloudwatch_one() -> None:
    status = {"LatestDeliveryError": "AccessDenied", "LatestDeliveryTime": LATER.timestamp(),
              "LatestDeliveryAttemptTime": _iso(LATER), "LatestCloudWatchLogsDeliveryError": "Denied"}  # fmt: skip
    (finding,) = evaluate_trail(example(status=status))
    assert "events to CloudWatch Logs (Denied)" in finding.message and "log files" not in finding.message


def test_a_success_in_the_same_second_as_the_attempt_is_that_attempt() -> None:
    same = LATER.replace(microsecond=900000)  # the attempt field drops the fraction
    status = {"LatestDeliveryError": "AccessDenied", "LatestDeliveryTime": same,
              "LatestDeliveryAttemptTime": _iso(same)}  # fmt: skip
    assert evaluate_trail(example(status=status)) == []
