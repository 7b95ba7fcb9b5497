"""The trail delivers somewhere else than its baseline: bucket, prefix, KMS key, CloudWatch Logs or SNS."""

from __future__ import annotations

from ..baseline import Baseline, changed_destinations, describe_change, restore_destinations
from .registry import Call, Facts, Rule, example, register


def check(facts: Facts) -> str | None:
    if facts.baseline is None:
        return None
    changed = changed_destinations(facts.description, facts.baseline)
    if not changed:
        return None
    what = "; ".join(describe_change(facts.description, facts.baseline, key) for key in changed)
    return f"Trail {facts.name!r} no longer delivers where it did: {what}."


def fix(facts: Facts) -> list[Call]:
    restore = restore_destinations(facts.description, facts.baseline) if facts.baseline else {}
    return [("UpdateTrail", {"Name": facts.target, **restore})] if restore else []


def _example() -> Facts:
    was = example({"S3BucketName": "audit-logs", "CloudWatchLogsRoleArn": "arn:aws:iam::111122223333:role/ToLogs",
                   "CloudWatchLogsLogGroupArn": "arn:aws:logs:us-east-1:111122223333:log-group:audit:*"})  # fmt: skip
    return example({"S3BucketName": "attacker-bucket"}, baseline=Baseline.of(was.description, was.selectors))


DESTINATION_CHANGED = register(
    Rule(
        id="destination-changed",
        severity="high",
        meaning=(
            "The trail's S3 bucket, key prefix, KMS key, CloudWatch Logs or SNS target changed or was removed "
            "against its baseline."
        ),
        check=check,
        fix=fix,
        revert_actions=("cloudtrail:UpdateTrail", "iam:PassRole"),  # PassRole: the CloudWatch Logs delivery role
        revert_order=10,
        restores_baseline=True,
        example=_example,
    )
)
