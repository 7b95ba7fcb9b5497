"""The trail is logging, but its logs do not arrive: GetTrailStatus reports a delivery error.

CloudTrail keeps the latest error of each delivery (log files and digest files to S3, events to CloudWatch
Logs) in the trail's status. The status gives no time for an error, only for the last successful delivery,
so an error it still reports is taken as current. No API call fixes it: the bucket policy, the KMS key
policy or the CloudWatch Logs role must let CloudTrail deliver again, so a person must act.
"""

from __future__ import annotations

from .registry import Facts, Rule, example, register

# GetTrailStatus error field -> what could not be delivered
DELIVERIES = {
    "LatestDeliveryError": "log files to S3",
    "LatestDigestDeliveryError": "digest files to S3",
    "LatestCloudWatchLogsDeliveryError": "events to CloudWatch Logs",
}


def check(facts: Facts) -> str | None:
    if facts.status.get("IsLogging") is not True:
        return None  # not logging at all is logging-stopped
    failing = [f"{what} ({error})" for key, what in DELIVERIES.items() if (error := str(facts.status.get(key) or ""))]
    if not failing:
        return None
    return f"Trail {facts.name!r} is logging, but CloudTrail cannot deliver {'; '.join(failing)}."


def hint(facts: Facts, _fired: list[str]) -> str:
    where = f"bucket {facts.description.get('S3BucketName')}" if facts.description.get("S3BucketName") else "bucket"
    return (
        f"Let CloudTrail deliver again: the {where} policy must allow cloudtrail.amazonaws.com s3:PutObject "
        "(with aws:SourceArn of this trail), a KMS key policy must allow it kms:GenerateDataKey*, and a "
        "CloudWatch Logs role must allow logs:CreateLogStream and logs:PutLogEvents."
    )


DELIVERY_FAILING = register(
    Rule(
        id="delivery-failing",
        severity="high",
        meaning="The trail is logging but its logs do not arrive: GetTrailStatus reports a delivery error.",
        check=check,
        hint=hint,
        revert_order=80,
        example=lambda: example(status={"LatestDeliveryError": "AccessDenied"}),
    )
)
