"""Reverts AWS would take: selector merges within PutEventSelectors' limits, no organization trail recreated
without Organizations permissions, the CloudWatch Logs pair restored together."""

from __future__ import annotations

from typing import Any

from trailguard.baseline import Baseline, restore_destinations
from trailguard.fix import plan
from trailguard.judge import CallReading, Policy, judge_call
from trailguard.rules import Facts
from trailguard.selectors import MAX_ADVANCED_VALUES, MAX_DATA_RESOURCES, baseline_selectors, within_limits

from .builders import basic, basics, trail


def s3(count: int, prefix: str) -> list[dict[str, Any]]:
    return [{"Type": "AWS::S3::Object", "Values": [f"arn:aws:s3:::{prefix}-{n}/" for n in range(count)]}]


def test_a_merge_past_250_data_resources_falls_back_to_keeping_the_current_selectors() -> None:
    baseline = basics(basic(data=s3(MAX_DATA_RESOURCES - 10, "old")))
    current = basics(basic(include=False, data=s3(20, "new")))

    assert baseline_selectors(current, baseline) is None  # 270 data resources: AWS would refuse it
    assert baseline_selectors(basics(basic(include=False, data=s3(10, "new"))), baseline) is not None


def test_advanced_values_are_counted_across_every_condition() -> None:
    condition = {"Field": "resources.ARN", "StartsWith": [f"arn:aws:s3:::b{n}/" for n in range(MAX_ADVANCED_VALUES)]}
    selector = {"Name": "s3", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Data"]}, condition]}
    assert not within_limits({"AdvancedEventSelectors": [selector]})  # 501 values
    condition["StartsWith"].pop()
    assert within_limits({"AdvancedEventSelectors": [selector]})


def test_a_deleted_organization_trail_is_not_recreated_and_the_alert_says_why() -> None:
    description = trail("org-trail", IsOrganizationTrail=True)
    baseline = Baseline.of(description, basics(basic()))
    reading = CallReading(listing=(), trail=None, baseline=baseline)
    verdict = judge_call("org-trail", description["TrailARN"], "eu-west-1", "111122223333", reading, Policy(), [])

    assert verdict is not None
    (deleted, _account) = verdict.findings
    assert deleted.rule == "trail-deleted" and deleted.calls == ()
    assert "Organizations permissions" in deleted.hint
    assert plan(Facts(baseline=baseline, ident=baseline.arn), [deleted]).calls == ()


def test_the_cloudwatch_logs_pair_is_restored_together_when_either_changed() -> None:
    group, role = "arn:aws:logs:eu-west-1:1:log-group:g:*", "arn:aws:iam::1:role/r"
    baseline = Baseline.of(trail(CloudWatchLogsLogGroupArn=group, CloudWatchLogsRoleArn=role), basics(basic()))

    only_role = restore_destinations(trail(CloudWatchLogsLogGroupArn=group, CloudWatchLogsRoleArn="x"), baseline)
    assert only_role == {"CloudWatchLogsLogGroupArn": group, "CloudWatchLogsRoleArn": role}
    removed = restore_destinations(trail(), baseline)
    assert removed == {"CloudWatchLogsLogGroupArn": group, "CloudWatchLogsRoleArn": role}
