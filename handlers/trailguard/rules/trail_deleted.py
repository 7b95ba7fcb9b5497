"""The trail a watched call named is gone. Raised by the evaluator of events; recreated from its baseline."""

from __future__ import annotations

from ..baseline import Baseline
from .registry import Call, Facts, Rule, example, register


def fix(facts: Facts) -> list[Call]:
    """Without a baseline nothing is invented: no bucket to deliver to, no selectors to restore. An organization
    trail is not recreated here: that needs Organizations permissions in its management account."""
    if facts.baseline is None or facts.baseline.trail.get("IsOrganizationTrail"):
        return []
    return facts.baseline.recreate_calls()


def hint(facts: Facts, _fired: list[str]) -> str:
    if facts.baseline is None:
        return "No baseline of this trail was ever recorded, so it cannot be recreated as it was."
    if facts.baseline.trail.get("IsOrganizationTrail"):
        return (
            "An organization trail is recreated from the organization's management account (or its CloudTrail "
            "delegated administrator), which needs Organizations permissions: trailguard does not attempt it."
        )
    return ""


def _example() -> Facts:
    logs = {"CloudWatchLogsLogGroupArn": "arn:aws:logs:us-east-1:111122223333:log-group:audit:*",
            "CloudWatchLogsRoleArn": "arn:aws:iam::111122223333:role/CloudTrailToLogs"}  # fmt: skip
    was = example(logs, selectors={"EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": True}]})
    gone = Baseline.of(was.description, was.selectors, [{"InsightType": "ApiCallRateInsight"}],
                       [{"Key": "owner", "Value": "security"}])  # fmt: skip
    return Facts(baseline=gone, region="us-east-1")


TRAIL_DELETED = register(
    Rule(
        id="trail-deleted",
        severity="high",
        meaning="The trail named by a DeleteTrail (or another watched call) no longer exists.",
        fix=fix,
        revert_actions=(
            "cloudtrail:AddTags",  # tags given to CreateTrail are authorised as AddTags
            "cloudtrail:CreateTrail",
            "cloudtrail:PutEventSelectors",
            "cloudtrail:PutInsightSelectors",
            "cloudtrail:StartLogging",
            "iam:PassRole",
        ),
        revert_order=0,
        restores_baseline=True,
        example=_example,
        hint=hint,
    )
)
