"""Remembering: the state table (``STATE_TABLE``), the detector's only memory between invocations.

Items (partition key ``pk``, TTL attribute ``expires_at``):

- ``alert#<key>``: one per event id (or sweep alert). ``claim`` takes it with a conditional write; it holds
  the alert as sent, the channels that delivered it, ``done`` once all did, and a short lease so that two
  concurrent deliveries of one event do not both send. A failed attempt releases the lease, so Lambda's
  retry sends the same alert to the channels still missing, and no others.
- ``reported#<trail arn>`` (and ``reported#account``): the findings last reported for a trail, so the
  sweep repeats itself only when they change and can say when a trail is compliant again.
- ``baseline#<trail arn>``: the trail as it was when last judged compliant (see ``baseline.py``).
- ``reverts#<trail arn>``: reverts spent in the current hour, so a trail switched off again and again is not
  fought forever.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from .aws import error_code
from .baseline import Baseline

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ALERT_TTL = 30 * 24 * 3600  # delivery records outlive any EventBridge or Lambda retry by far
LEASE_SECONDS = 60  # at least the function's timeout; Lambda's first async retry comes a minute later
ACCOUNT_KEY = "account"
REVERTS_PER_HOUR = 3  # then the detector stops fighting and a person must act
REVERT_WINDOW = 3600
# A batch's unprocessed part is sent again after each pause (DynamoDB's advice: back off exponentially), then
# the call gives up: raising lets Lambda retry the event later rather than spin within one invocation.
UNPROCESSED_PAUSES = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)
MAX_KEY_BYTES = 1024  # DynamoDB takes partition keys of up to 2,048 bytes; event ids are 36


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming an alert key: new, a retry (with what was already done), or a duplicate."""

    duplicate: bool
    alert_json: str = ""
    delivered: frozenset[str] = field(default_factory=frozenset)


class Unprocessed(RuntimeError):
    """DynamoDB kept answering part of a batch as unprocessed (throttled) after every retry."""


class StateTable:
    def __init__(self, client: DynamoDBClient, table: str, clock: Any = time.time, sleep: Any = time.sleep) -> None:
        self.client, self.table, self.clock, self.sleep = client, table, clock, sleep

    def claim(self, key: str) -> Claim:
        """Take ``alert#<key>`` unless it is done or another invocation holds its lease (one write)."""
        now = int(self.clock())
        try:
            item = self.client.update_item(
                TableName=self.table,
                Key=_alert_key(key),
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
            if error_code(error) == "ConditionalCheckFailedException":
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
            Key=_alert_key(key),
            UpdateExpression=update,
            ExpressionAttributeNames={"#alert": "alert"},
            ExpressionAttributeValues=values,
        )

    def _get_many(self, prefix: str, keys: Iterable[str], attribute: str) -> dict[str, str]:
        """``attribute`` of the items ``<prefix><key>`` that exist (BatchGetItem, 100 keys a call)."""
        keys = sorted(set(keys))
        found: dict[str, str] = {}
        for start in range(0, len(keys), 100):
            request: Mapping[str, Any] = {
                self.table: {
                    "Keys": [{"pk": {"S": prefix + k}} for k in keys[start : start + 100]],
                    "ConsistentRead": True,
                }
            }
            for pause in (*UNPROCESSED_PAUSES, None):
                response = self.client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table, []):
                    found[item["pk"]["S"].removeprefix(prefix)] = item.get(attribute, {}).get("S", "")
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                if pause is None:
                    raise Unprocessed(
                        f"DynamoDB left {prefix}* keys unprocessed after {len(UNPROCESSED_PAUSES)} retries"
                    )
                self.sleep(pause)
        return found

    def _put_many(self, items: list[dict[str, Any]]) -> None:
        for start in range(0, len(items), 25):  # BatchWriteItem takes at most 25 items
            request: Mapping[str, Any] = {self.table: [{"PutRequest": {"Item": i}} for i in items[start : start + 25]]}
            for pause in (*UNPROCESSED_PAUSES, None):
                request = self.client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
                if not request:
                    break
                if pause is None:
                    raise Unprocessed("DynamoDB kept items unprocessed through every retry")
                self.sleep(pause)

    def reported(self, subjects: Iterable[str]) -> dict[str, str]:
        """The findings fingerprint last reported for each subject (trail ARN or ``account``)."""
        return self._get_many("reported#", subjects, "fingerprint")

    def baselines(self, arns: Iterable[str]) -> dict[str, Baseline]:
        """The stored baseline of each trail that has one."""
        return {arn: Baseline.from_json(text) for arn, text in self._get_many("baseline#", arns, "baseline").items()}

    def save_baselines(self, baselines: Iterable[Baseline]) -> None:
        now = str(int(self.clock()))
        self._put_many([
            {"pk": {"S": f"baseline#{b.arn}"}, "baseline": {"S": b.to_json()}, "recorded_at": {"N": now}}
            for b in baselines
        ])  # fmt: skip

    def spend_revert(self, arn: str, limit: int = REVERTS_PER_HOUR) -> bool:
        """Count one revert of ``arn``; False once ``limit`` reverts were spent within the hour (at most 2 writes)."""
        now = int(self.clock())
        key = {"pk": {"S": f"reverts#{arn}"}}
        try:  # a new window, when there is none or the last one is over
            self.client.update_item(
                TableName=self.table, Key=key,
                UpdateExpression="SET window_start = :now, spent = :one, expires_at = :ttl",
                ConditionExpression="attribute_not_exists(pk) OR window_start < :cutoff",
                ExpressionAttributeValues={":now": {"N": str(now)}, ":one": {"N": "1"},
                                           ":ttl": {"N": str(now + 2 * REVERT_WINDOW)},
                                           ":cutoff": {"N": str(now - REVERT_WINDOW)}},
            )  # fmt: skip
            return True
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
        try:
            self.client.update_item(
                TableName=self.table, Key=key, UpdateExpression="ADD spent :one",
                ConditionExpression="spent < :limit",
                ExpressionAttributeValues={":one": {"N": "1"}, ":limit": {"N": str(limit)}},
            )  # fmt: skip
            return True
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise

    def set_reported(self, fingerprints: Mapping[str, str]) -> None:
        """Remember what was reported for each subject (one BatchWriteItem per 25 subjects)."""
        now = str(int(self.clock()))
        self._put_many([
            {"pk": {"S": f"reported#{subject}"}, "fingerprint": {"S": printed}, "reported_at": {"N": now}}
            for subject, printed in sorted(fingerprints.items())
        ])  # fmt: skip


def _alert_key(key: str) -> dict[str, Any]:
    """``alert#<key>``; a key too long for a partition key (2,048 bytes) is stored by its SHA-256 instead."""
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        key = "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return {"pk": {"S": f"alert#{key}"}}


def fingerprint(rules: Iterable[str]) -> str:
    """What identifies a set of findings for "report once per distinct set": the sorted rule ids."""
    return ",".join(sorted(set(rules)))
