"""The state table (``STATE_TABLE``): who already got which alert, and what was already reported per trail.

Items (partition key ``pk``, TTL attribute ``expires_at``):

- ``alert#<key>``: one per event id (or sweep alert). ``claim`` takes it with a conditional write; it holds
  the alert as sent, the channels that delivered it, ``done`` once all did, and a short lease so that two
  concurrent deliveries of one event do not both send. A failed attempt releases the lease, so Lambda's
  retry sends the same alert to the channels still missing, and no others.
- ``reported#<trail arn>`` (and ``reported#account``): the findings last reported for a trail, so the
  sweep repeats itself only when they change and can say when a trail is compliant again.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ALERT_TTL = 30 * 24 * 3600  # delivery records outlive any EventBridge or Lambda retry by far
LEASE_SECONDS = 60  # at least the function's timeout; Lambda's first async retry comes a minute later
ACCOUNT_KEY = "account"


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming an alert key: new, a retry (with what was already done), or a duplicate."""

    duplicate: bool
    alert_json: str = ""
    delivered: frozenset[str] = field(default_factory=frozenset)


class StateTable:
    def __init__(self, client: DynamoDBClient, table: str, clock: Any = time.time) -> None:
        self.client, self.table, self.clock = client, table, clock

    def claim(self, key: str) -> Claim:
        """Take ``alert#<key>`` unless it is done or another invocation holds its lease (one write)."""
        now = int(self.clock())
        try:
            item = self.client.update_item(
                TableName=self.table,
                Key={"pk": {"S": f"alert#{key}"}},
                UpdateExpression="SET lease_until = :lease, expires_at = :ttl ADD attempts :one",
                ConditionExpression="attribute_not_exists(pk) OR (attribute_not_exists(done) AND lease_until < :now)",
                ExpressionAttributeValues={
                    ":lease": {"N": str(now + LEASE_SECONDS)},
                    ":ttl": {"N": str(now + ALERT_TTL)},
                    ":now": {"N": str(now)},
                    ":one": {"N": "1"},
                },
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return Claim(duplicate=True)
            raise
        return Claim(False, item.get("alert", {}).get("S", ""), frozenset(item.get("delivered", {}).get("SS", [])))

    def record(self, key: str, alert_json: str, delivered: Iterable[str], done: bool) -> None:
        """Store the alert as sent and the channels that delivered it; release the lease (one write)."""
        names = ["#alert = :alert", "lease_until = :zero"] + (["done = :true"] if done else [])
        values: dict[str, Any] = {":alert": {"S": alert_json}, ":zero": {"N": "0"}}
        if done:
            values[":true"] = {"BOOL": True}
        update = "SET " + ", ".join(names)
        delivered = sorted(set(delivered))
        if delivered:
            update += " ADD delivered :delivered"
            values[":delivered"] = {"SS": delivered}
        self.client.update_item(
            TableName=self.table,
            Key={"pk": {"S": f"alert#{key}"}},
            UpdateExpression=update,
            ExpressionAttributeNames={"#alert": "alert"},
            ExpressionAttributeValues=values,
        )

    def reported(self, subjects: Iterable[str]) -> dict[str, str]:
        """The findings fingerprint last reported for each subject (trail ARN or ``account``)."""
        keys = sorted(set(subjects))
        found: dict[str, str] = {}
        for start in range(0, len(keys), 100):  # BatchGetItem takes at most 100 keys
            request: Mapping[str, Any] = {
                self.table: {
                    "Keys": [{"pk": {"S": f"reported#{k}"}} for k in keys[start : start + 100]],
                    "ConsistentRead": True,
                }
            }
            while request:
                response = self.client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table, []):
                    found[item["pk"]["S"].removeprefix("reported#")] = item.get("fingerprint", {}).get("S", "")
                request = response.get("UnprocessedKeys") or {}
        return found

    def set_reported(self, fingerprints: Mapping[str, str]) -> None:
        """Remember what was reported for each subject (one BatchWriteItem per 25 subjects)."""
        now = str(int(self.clock()))
        items = [
            {
                "PutRequest": {
                    "Item": {
                        "pk": {"S": f"reported#{subject}"},
                        "fingerprint": {"S": printed},
                        "reported_at": {"N": now},
                    }
                }
            }
            for subject, printed in sorted(fingerprints.items())
        ]
        for start in range(0, len(items), 25):
            request: Mapping[str, Any] = {self.table: items[start : start + 25]}
            while request:
                request = self.client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}


def fingerprint(rules: Iterable[str]) -> str:
    """What identifies a set of findings for "report once per distinct set": the sorted rule ids."""
    return ",".join(sorted(set(rules)))
