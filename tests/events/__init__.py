"""Real-shaped CloudTrail records, one JSON file each, and the one helper that turns them into events.

Each file holds a raw CloudTrail record as it appears in ``detail`` of an "AWS API Call via CloudTrail"
EventBridge event, written for this project in the shapes real records take (console, CLI, Terraform,
CloudFormation, attack tools; failed calls; stringified and trimmed exports). ``event()`` wraps one in the
envelope EventBridge delivers, pointed at the trail, account and region a test uses.
"""

from __future__ import annotations

import copy
import json
import uuid
from functools import cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ACCOUNT = "123456789012"


@cache
def _record(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((HERE / f"{name}.json").read_text())
    return data


def names() -> list[str]:
    return sorted(p.stem for p in HERE.glob("*.json"))


def record(name: str) -> dict[str, Any]:
    """A fresh copy of the raw record in ``<name>.json``."""
    return copy.deepcopy(_record(name))


def wrap(detail: dict[str, Any], *, source: str = "aws.cloudtrail", account: str | None = None) -> dict[str, Any]:
    """The EventBridge envelope around a CloudTrail record, as a Lambda target receives it."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "AWS API Call via CloudTrail",
        "source": source,
        "account": account if account is not None else detail.get("recipientAccountId", ACCOUNT),
        "time": detail.get("eventTime", "2026-11-21T07:00:00Z"),
        "region": detail.get("awsRegion", "us-east-1"),
        "resources": [],
        "detail": detail,
    }


def event(
    name: str,
    *,
    trail: str | None = None,
    account: str = ACCOUNT,
    region: str | None = None,
    event_id: str | None = None,
    **changes: Any,
) -> dict[str, Any]:
    """The record ``name`` as an EventBridge event about ``trail`` in ``account`` and ``region``.

    The trail keeps the record's form: a plain name stays a name, an ARN becomes the new trail's ARN.
    ``event_id`` defaults to a fresh id, so that deliveries are not taken for duplicates by accident.
    ``changes`` replace top-level record keys (``errorCode="AccessDenied"``, ``userAgent=...``).
    """
    detail = record(name)
    region = region or detail.get("awsRegion", "us-east-1")
    detail["awsRegion"] = region
    detail["recipientAccountId"] = account
    detail["eventID"] = event_id or str(uuid.uuid4())
    params = detail.get("requestParameters") or {}
    key = "trailName" if "trailName" in params else "name"
    if trail is not None and isinstance(params, dict):
        named_by_arn = str(params.get(key, "")).startswith("arn:")
        params[key] = f"arn:aws:cloudtrail:{region}:{account}:trail/{trail}" if named_by_arn else trail
    identity = detail.get("userIdentity")
    if isinstance(identity, dict) and "accountId" in identity:
        identity["accountId"] = account
    detail.update(changes)
    return wrap(detail, account=account)


def scheduled(event_id: str | None = None, account: str = ACCOUNT) -> dict[str, Any]:
    """The EventBridge "Scheduled Event" that starts the backstop sweep."""
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": "2026-11-21T08:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:events:us-east-1:{account}:rule/trailguard-sweep"],
        "detail": {},
    }


def service_call(
    source: str, name: str, parameters: Any, *, region: str = "us-east-1", **changes: Any
) -> dict[str, Any]:
    """The EventBridge event of a call mallory made on another service's resource (``source``: ``s3``, ``kms``,
    ``events``...), as CloudTrail records it; ``changes`` replace any key of the record."""
    detail = {
        "eventVersion": "1.09", "eventTime": "2026-11-28T09:00:00Z", "eventSource": f"{source}.amazonaws.com",
        "eventName": name, "awsRegion": region, "sourceIPAddress": "203.0.113.7", "userAgent": "aws-cli/2.22.4",
        "userIdentity": {"type": "IAMUser", "accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/mallory"},
        "requestParameters": parameters, "responseElements": None, "eventID": str(uuid.uuid4()),
        "eventType": "AwsApiCall", "recipientAccountId": ACCOUNT, **changes,
    }  # fmt: skip
    return wrap(detail, source=f"aws.{source}")
