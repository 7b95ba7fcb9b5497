"""The trail is logging, but its logs do not arrive: GetTrailStatus reports a delivery error that is current.

CloudTrail keeps the latest error of each delivery (log files and digest files to S3, events to CloudWatch
Logs) in the trail's status, and it may keep it after deliveries succeed again. The CloudTrail API reference
(GetTrailStatus) gives no time for an error: only the last successful delivery of each kind
(``LatestDeliveryTime``, ``LatestDigestDeliveryTime``, ``LatestCloudWatchLogsDeliveryTime``), plus, for log files
only, ``LatestDeliveryAttemptTime`` and ``LatestDeliveryAttemptSucceeded``, which it documents as "no longer in
use" (AWS may still fill them in, or leave them empty). So an error is stale only when its delivery has
provably succeeded since: a log-file error whose last success is at or after the last attempt. Every other
reported error is taken as current (the conservative reading), so a person looks rather than nobody.

No API call fixes it: the bucket policy, the KMS key policy or the CloudWatch Logs role must let CloudTrail
deliver again, so a person must act.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .registry import Facts, Rule, example, register


@dataclass(frozen=True)
class Delivery:
    """One kind of delivery, by its GetTrailStatus fields."""

    what: str  # what could not be delivered, for the message
    error: str  # the field holding its latest error
    succeeded: tuple[str, ...]  # the fields holding the time of its latest successful delivery
    attempted: str = ""  # the field holding the time of its latest attempt, successful or not ("" when none)


DELIVERIES = (
    Delivery(
        "log files to S3",
        "LatestDeliveryError",
        ("LatestDeliveryTime", "LatestDeliveryAttemptSucceeded"),
        "LatestDeliveryAttemptTime",
    ),
    Delivery("digest files to S3", "LatestDigestDeliveryError", ("LatestDigestDeliveryTime",)),
    Delivery("events to CloudWatch Logs", "LatestCloudWatchLogsDeliveryError", ("LatestCloudWatchLogsDeliveryTime",)),
)


def moment(value: Any) -> datetime.datetime | None:
    """A status time as an aware datetime: boto3 gives datetimes, JSON gives epoch seconds, and the fields AWS no
    longer documents are ISO 8601 strings (often empty). None when there is no time."""
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.datetime.fromtimestamp(value, datetime.UTC)
    if isinstance(value, str) and value.strip():
        try:
            return moment(datetime.datetime.fromisoformat(value.strip()))
        except ValueError:
            return None
    return None


def last_success(delivery: Delivery, status: Mapping[str, Any]) -> datetime.datetime | None:
    times = [when for key in delivery.succeeded if (when := moment(status.get(key)))]
    return max(times) if times else None


def current(delivery: Delivery, status: Mapping[str, Any]) -> bool:
    """Whether the reported error may still hold: no successful delivery is known at or after the last attempt
    (to the second: the attempt fields carry no fractions)."""
    attempted, succeeded = moment(status.get(delivery.attempted)), last_success(delivery, status)
    return attempted is None or succeeded is None or succeeded.replace(microsecond=0) < attempted


def failing(facts: Facts) -> list[str]:
    """What cannot be delivered, each with its error (and its last success when the status gives it)."""
    found = []
    for delivery in DELIVERIES:
        error = str(facts.status.get(delivery.error) or "")
        if not error or not current(delivery, facts.status):
            continue
        succeeded = last_success(delivery, facts.status)
        since = f"; last delivered {succeeded.isoformat(timespec='seconds')}" if succeeded else ""
        found.append(f"{delivery.what} ({error}{since})")
    return found


def check(facts: Facts) -> str | None:
    if facts.status.get("IsLogging") is not True:
        return None  # not logging at all is logging-stopped
    broken = failing(facts)
    if not broken:
        return None
    return f"Trail {facts.name!r} is logging, but CloudTrail cannot deliver {'; '.join(broken)}."


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
        meaning=(
            "The trail is logging but its logs do not arrive: GetTrailStatus reports a delivery error that no "
            "successful delivery has followed."
        ),
        check=check,
        hint=hint,
        revert_order=80,
        example=lambda: example(status={"LatestDeliveryError": "AccessDenied"}),
    )
)
