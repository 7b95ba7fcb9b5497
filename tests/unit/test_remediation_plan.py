"""Each rule's revert, planned from plain data: the calls it makes, and exactly the IAM actions it needs.

The stack grants the union of the rule table's revert actions when remediation is on, and none otherwise
(tests/stacks); here every rule's calls are shown to need exactly the actions its rule declares."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from trailguard.baseline import Baseline
from trailguard.fix import ActionResult, Plan, plan
from trailguard.judge import CallReading, Policy, TrailState, evaluate_trail, judge_call
from trailguard.render.fix import describe_actions
from trailguard.rules import REGISTRY, Facts

from .builders import ACCOUNT, LOGGING, STOPPED, basic, basics, trail
from .test_rule_table import needed_actions

ARN = "arn:aws:cloudtrail:eu-west-1:111122223333:trail/audit-trail"
LOGS_ROLE = "arn:aws:iam::111122223333:role/CloudTrailToLogs"
LOGS_GROUP = "arn:aws:logs:eu-west-1:111122223333:log-group:audit:*"
GOOD = basics(basic("All", True))


def full_baseline(**trail_changes: Any) -> Baseline:
    description = trail(CloudWatchLogsLogGroupArn=LOGS_GROUP, CloudWatchLogsRoleArn=LOGS_ROLE, **trail_changes)
    return Baseline.of(description, GOOD, [{"InsightType": "ApiCallRateInsight"}], [{"Key": "owner", "Value": "sec"}])


def planned(rule: str, description: dict[str, Any], status: dict[str, Any], selectors: dict[str, Any],
            baseline: Baseline | None = None) -> Plan:  # fmt: skip
    state = TrailState(description, status, selectors, baseline=baseline)
    findings = evaluate_trail(state.facts(Policy()))
    assert rule in {f.rule for f in findings}
    return plan(state.facts(Policy(), ident=state.arn), findings)


def deleted(baseline: Baseline | None) -> Plan:
    """The revert of a DeleteTrail on audit-trail, as the handler plans it: the findings of the gone trail."""
    reading = CallReading(listing=(), trail=None, baseline=baseline)
    verdict = judge_call("audit-trail", ARN, "eu-west-1", ACCOUNT, reading, Policy(), others=[])
    assert verdict is not None
    assert "trail-deleted" in {f.rule for f in verdict.findings}
    return plan(Facts(baseline=baseline, ident=ARN), [f for f in verdict.findings if f.trail_arn])


SCENARIOS = {
    "logging-stopped": lambda: planned("logging-stopped", trail(), STOPPED, GOOD),
    "management-events-excluded": lambda: planned("management-events-excluded", trail(), LOGGING, {}),
    "management-events-partial": lambda: planned(
        "management-events-partial", trail(), LOGGING, basics(basic("ReadOnly", True))
    ),
    "management-sources-excluded": lambda: planned(
        "management-sources-excluded", trail(), LOGGING, basics(basic("All", True, exclude=["kms.amazonaws.com"]))
    ),
    "selectors-unrecognized": lambda: planned(
        "selectors-unrecognized", trail(), LOGGING, {"EventSelectors": [{"ReadWriteType": "Sometimes"}]}
    ),
    "not-multi-region": lambda: planned("not-multi-region", trail(IsMultiRegionTrail=False), LOGGING, GOOD),
    "global-events-excluded": lambda: planned(
        "global-events-excluded", trail(IncludeGlobalServiceEvents=False), LOGGING, GOOD
    ),
    "log-validation-disabled": lambda: planned(
        "log-validation-disabled", trail(LogFileValidationEnabled=False), LOGGING, GOOD, Baseline.of(trail(), GOOD)
    ),
    "destination-changed": lambda: planned(
        "destination-changed", trail(S3BucketName="elsewhere"), LOGGING, GOOD, full_baseline()
    ),
    "trail-deleted": lambda: deleted(full_baseline()),
}


@pytest.mark.parametrize("rule", sorted(SCENARIOS))
def test_each_rules_revert_needs_exactly_the_iam_actions_it_declares(rule: str) -> None:
    """Planned through the whole path (judge, plan, merge); every revertible rule's own example is checked the
    same way by the rule table's tests."""
    calls = SCENARIOS[rule]().calls

    assert calls
    assert needed_actions(calls) == set(REGISTRY[rule].revert_actions)


@pytest.mark.parametrize("rule", sorted(r for r in REGISTRY if not REGISTRY[r].revert_actions))
def test_rules_without_a_revert_declare_no_actions_and_have_no_scenario(rule: str) -> None:
    assert rule not in SCENARIOS
    assert not REGISTRY[rule].revertible


def test_several_trail_settings_are_put_back_in_one_update_before_logging_starts() -> None:
    description = trail(IsMultiRegionTrail=False, IncludeGlobalServiceEvents=False, LogFileValidationEnabled=False)
    baseline = Baseline.of(trail(), GOOD)
    facts = Facts(description, STOPPED, GOOD, baseline)
    findings = evaluate_trail(facts)

    calls = plan(replace(facts, ident=ARN), findings).calls

    assert [operation for operation, _ in calls] == ["UpdateTrail", "StartLogging"]
    assert calls[0][1] == {"Name": ARN, "IsMultiRegionTrail": True, "IncludeGlobalServiceEvents": True,
                           "EnableLogFileValidation": True}  # fmt: skip


def test_destination_revert_restores_removed_and_changed_destinations_from_the_baseline() -> None:
    description = trail(S3BucketName="elsewhere")  # and the CloudWatch Logs delivery removed
    facts = Facts(description, LOGGING, GOOD, full_baseline())
    findings = evaluate_trail(facts)

    [(operation, arguments)] = plan(replace(facts, ident=ARN), findings).calls

    assert operation == "UpdateTrail"
    assert arguments == {"Name": ARN, "S3BucketName": "audit-logs", "CloudWatchLogsLogGroupArn": LOGS_GROUP,
                         "CloudWatchLogsRoleArn": LOGS_ROLE}  # fmt: skip


def test_deleted_trail_without_a_baseline_has_no_plan_and_says_why() -> None:
    assert deleted(None) == Plan(why_not="no revert for trail-deleted without a baseline")


@pytest.mark.parametrize(
    ("mode", "results", "says"),
    [
        ("off", [], "Nothing: alert only"),
        ("on", [], "Could not revert"),
        ("dry-run", [ActionResult("StartLogging", "dry-run", {"Name": ARN})], "Would revert"),
        ("on", [ActionResult("StartLogging", "done", {"Name": ARN})], "Reverted and verified"),
        ("on", [ActionResult("StartLogging", "suspended", {"Name": ARN})], "Suspended"),
        ("on", [ActionResult("StartLogging", "failed", {"Name": ARN}, "denied")], "did not take"),
    ],
)
def test_alert_says_what_the_detector_did(mode: str, results: list[ActionResult], says: str) -> None:
    text = describe_actions(mode, results, Plan().why_not, "eu-west-1")

    assert says in text
    if results:
        assert "aws cloudtrail start-logging --region eu-west-1 --name" in text
