"""CloudTrail records in the shape real ones have, and the EventBridge event around them, for the demo and
the benchmark: lowerCamel ``requestParameters``, ``userIdentity``, a fresh ``eventID`` each time."""

from __future__ import annotations

import time
import uuid
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
CLI_AGENT = "aws-cli/2.22.4 md/awscrt#0.22.0 ua/2.1 os/linux#6.8.0 md/arch#x86_64 lang/python#3.12.6"


def iam_user(name: str, account: str = ACCOUNT) -> dict[str, Any]:
    return {"type": "IAMUser", "principalId": f"AIDA{name.upper():X<17}"[:21], "userName": name,
            "arn": f"arn:aws:iam::{account}:user/{name}", "accountId": account}  # fmt: skip


def cloudtrail_record(
    event_name: str, params: dict[str, Any], *, account: str = ACCOUNT, region: str = REGION, **changes: Any
) -> dict[str, Any]:
    """The record a successful call by an IAM user produces; ``changes`` replace any top-level key."""
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": iam_user("ops-admin", account),
        "eventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "eventSource": "cloudtrail.amazonaws.com",
        "eventName": event_name,
        "awsRegion": region,
        "sourceIPAddress": "198.51.100.23",
        "userAgent": CLI_AGENT,
        "requestParameters": params,
        "responseElements": None,
        "requestID": str(uuid.uuid4()),
        "eventID": str(uuid.uuid4()),
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }
    record.update(changes)
    return record


def envelope(record: dict[str, Any]) -> dict[str, Any]:
    """The "AWS API Call via CloudTrail" event around a record, as the Lambda receives it."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.cloudtrail",
        "account": record.get("recipientAccountId", ACCOUNT),
        "time": record.get("eventTime"),
        "region": record.get("awsRegion", REGION),
        "resources": [],
        "detail": record,
    }
