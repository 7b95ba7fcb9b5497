"""Remembering: the state table (``STATE_TABLE``), the detector's only memory between invocations.

Items (partition key ``pk``, TTL attribute ``expires_at``):

- ``alert#<key>``: one per event id (or sweep alert). ``claim`` takes it with a conditional write under a
  fresh owner token; it holds the alert (stored before anything is sent), the channels being sent to and
  those that delivered, ``done`` once all did, and a lease as long as the holder may run, so that two
  concurrent deliveries of one event do not both send. An attempt that fails releases the lease, so Lambda's
  retry sends the stored alert to the channels still missing, and no others.
- ``reported#<trail arn>`` (and ``reported#account``): the findings last reported for a trail, so the
  sweep repeats itself only when they change and can say when a trail is compliant again.
- ``baseline#<trail arn>``: the trail as it was when last judged compliant, compressed, when and by what it
  was recorded (see ``baseline.py``).
- ``reverts#<trail arn>``: reverts spent in the current hour, so a trail switched off again and again is not
  fought forever.
- ``snoozes``: one item holding every snooze (see ``snooze.py``), one attribute per trail, so that each
  invocation reads them all in one request; an ended snooze is ignored and replaced by the next.
- ``decision#<id>``: a person's answer to an alert (accept, revert, snooze; from Slack or the command line):
  who, why, when and what came of it. From Slack the id is ``<alert id>#<action>``, taken with a conditional
  write, so that a second click (or Slack sending the request again) does nothing twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from .aws import error_code
from .baseline import Baseline
from .snooze import Snooze

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ALERT_TTL = 30 * 24 * 3600  # delivery records outlive any EventBridge or Lambda retry by far
# A claim's lease lasts exactly the invocation's remaining time: it runs out when Lambda would stop the holder,
# so a twin delivered meanwhile is turned away, while Lambda's retry, which comes at least a minute after the
# failed attempt ended (and the function's timeout is a minute), always finds it expired, even when the holder
# died without a word. Times are milliseconds, so no whole-second rounding can stretch the lease.
DEFAULT_LEASE_MS = 60_000  # when the caller names no deadline: the function's timeout
ACCOUNT_KEY = "account"
REVERTS_PER_HOUR = 3  # then the detector stops fighting and a person must act
REVERT_WINDOW = 3600
# A batch's unprocessed part is sent again after each pause (DynamoDB's advice: back off exponentially), then
# the call gives up: raising lets Lambda retry the event later rather than spin within one invocation.
UNPROCESSED_PAUSES = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)
# A write that records a delivery is tried again after each pause (on top of botocore's own retries) while
# the invocation has time: a delivery that is not recorded is the one thing that can double an alert.
RECORD_PAUSES = (0.2, 0.5, 1.0, 2.0, 4.0)
MAX_KEY_BYTES = 1024  # DynamoDB takes partition keys of up to 2,048 bytes; event ids are 36
# What one stored document (alert, baseline) may take, compressed: well inside DynamoDB's 400 KB item limit.
MAX_STORED_BYTES = 300 * 1024
DECISION_TTL = 400 * 24 * 3600  # a person's decisions are kept more than a year, for the audit trail
DECISION_LEASE = 90  # seconds: a decision being carried out (a revert, read back) holds its id this long
SNOOZES = "snoozes"
_NAMES = {"#owner": "owner", "#alert": "alert_z", "#done": "done", "#lease": "lease_until", "#sending": "sending",
          "#delivered": "delivered", "#owners": "owners", "#ttl": "expires_at", "#maybe": "maybe"}  # fmt: skip


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming an alert key: ``duplicate`` (done, or another invocation holds its lease), or
    held under ``token``, with what earlier attempts left: the alert they stored, the channels that delivered
    it, and ``unconfirmed``, the channels an attempt began sending to but never recorded an outcome for."""

    duplicate: bool
    token: str = ""
    alert_json: str = ""
    delivered: frozenset[str] = field(default_factory=frozenset)
    unconfirmed: frozenset[str] = field(default_factory=frozenset)
    attempt: int = 1  # how many invocations have held this key, this one included


class Unprocessed(RuntimeError):
    """DynamoDB kept answering part of a batch as unprocessed (throttled) after every retry."""


class StateTable:
    def __init__(self, client: DynamoDBClient, table: str, clock: Any = None, sleep: Any = None) -> None:
        # time.time and time.sleep looked up at each use, so that a test that moves the clock moves this one
        self.client, self.table = client, table
        self.clock = clock or (lambda: time.time())  # noqa: PLW0108 - looked up late on purpose
        self.sleep = sleep or (lambda seconds: time.sleep(seconds))  # noqa: PLW0108

    # --- the alert item: claim, announce, delivered, finish, release --------------------------------------
    # One item per alert, written in this order by the invocation that holds it:
    #   claim     takes the item under a fresh owner token, for a lease as long as the invocation may run;
    #   announce  stores the alert (the first time only) and names the channels about to be sent to;
    #   delivered records each channel as soon as it has delivered;
    #   finish    records the outcome and releases the lease (``done`` when every channel has delivered).
    # Every write is safe to send twice: botocore resends a write whose answer was lost, and a resent claim
    # passes its own condition because the item already names its token as owner.

    def claim(self, key: str, lease_ms: int = DEFAULT_LEASE_MS, token: str | None = None) -> Claim:
        """Take ``alert#<key>`` unless it is done or another invocation's lease still runs (one write)."""
        token = token or uuid.uuid4().hex
        now = self._now_ms()
        try:
            item = self.client.update_item(
                TableName=self.table,
                Key=_alert_key(key),
                UpdateExpression="SET #owner = :token, #lease = :lease, #ttl = :ttl ADD #owners :tokens",
                ConditionExpression="attribute_not_exists(pk) OR #owner = :token "
                "OR (attribute_not_exists(#done) AND #lease <= :now)",
                ExpressionAttributeNames=_names("#owner", "#lease", "#ttl", "#owners", "#done"),
                ExpressionAttributeValues={
                    ":token": {"S": token},
                    ":tokens": {"SS": [token]},
                    ":lease": {"N": str(now + min(max(lease_ms, 0), DEFAULT_LEASE_MS))},
                    ":ttl": {"N": str(now // 1000 + ALERT_TTL)},
                    ":now": {"N": str(now)},
                },
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return Claim(duplicate=True)
            raise
        delivered = frozenset(item.get("delivered", {}).get("SS", []))
        return Claim(
            duplicate=False,
            token=token,
            alert_json=_stored_alert(item),
            delivered=delivered,
            unconfirmed=frozenset([*item.get("sending", {}).get("SS", []), *item.get("maybe", {}).get("SS", [])])
            - delivered,
            attempt=len(item.get("owners", {}).get("SS", [token])),
        )

    def announce(
        self, key: str, token: str, alert_json: str, channels: Iterable[str], *, replace_alert: bool = False
    ) -> None:
        """Store the alert unless an earlier attempt did (or in its place: ``replace_alert``), and name the
        channels about to be sent to (one write, made before anything is sent, so that a retry finds the very
        alert to finish sending)."""
        channels = sorted(set(channels))
        stored = ":alert" if replace_alert else "if_not_exists(#alert, :alert)"
        values: dict[str, Any] = {":alert": {"B": pack(alert_json)}, ":token": {"S": token}}
        update = f"SET #alert = {stored}"
        if channels:
            update += " ADD #sending :channels"
            values[":channels"] = {"SS": channels}
        self.client.update_item(
            TableName=self.table,
            Key=_alert_key(key),
            UpdateExpression=update,
            ConditionExpression="#owner = :token",
            ExpressionAttributeNames=_names("#alert", "#owner", *(["#sending"] if channels else [])),
            ExpressionAttributeValues=values,
        )

    def delivered(self, key: str, channel: str, budget: Callable[[], float] | None = None) -> bool:
        """Record that ``channel`` delivered (one write, tried again while ``budget()`` seconds remain);
        False when it could not be recorded."""
        return self._persist(
            budget,
            Key=_alert_key(key),
            UpdateExpression="ADD #delivered :channel",
            ExpressionAttributeNames=_names("#delivered"),
            ExpressionAttributeValues={":channel": {"SS": [channel]}},
        )

    def finish(
        self, key: str, token: str, delivered: Iterable[str], failed: Iterable[str] = (),
        unsure: Iterable[str] = (), *, done: bool = True, budget: Callable[[], float] | None = None,
    ) -> bool:  # fmt: skip
        """Record the attempt's outcome and release the lease: ``done`` when every channel delivered; the
        channels that surely ``failed`` are no longer "being sent"; those ``unsure`` (no answer) are kept as
        "may have delivered" for good, so every later resend says it may be a repeat; Lambda's retry may take
        the item at once. False when it could not be recorded (the lease then runs out by itself)."""
        delivered, failed, unsure = sorted(set(delivered)), sorted(set(failed)), sorted(set(unsure))
        update = "SET #lease = :zero" + (", #done = :true" if done else "")
        values: dict[str, Any] = {":zero": {"N": "0"}, ":token": {"S": token}}
        names = ["#lease", "#owner"]
        if done:
            values[":true"] = {"BOOL": True}
            names.append("#done")
        added = []
        if delivered:
            added.append("#delivered :delivered")
            values[":delivered"] = {"SS": delivered}
            names.append("#delivered")
        if unsure:
            added.append("#maybe :unsure")
            values[":unsure"] = {"SS": unsure}
            names.append("#maybe")
        if added:
            update += " ADD " + ", ".join(added)
        if failed:
            update += " DELETE #sending :failed"
            values[":failed"] = {"SS": failed}
            names.append("#sending")
        return self._persist(
            budget,
            Key=_alert_key(key),
            UpdateExpression=update,
            ConditionExpression="#owner = :token",
            ExpressionAttributeNames=_names(*names),
            ExpressionAttributeValues=values,
        )

    def release(self, key: str, token: str) -> None:
        """Give the lease back (an invocation about to raise), so Lambda's retry is not taken for a twin.
        Best effort: if this write fails too, the lease runs out by itself before the retry comes."""
        with contextlib.suppress(ClientError, BotoCoreError):
            self.client.update_item(
                TableName=self.table, Key=_alert_key(key), UpdateExpression="SET #lease = :zero",
                ConditionExpression="#owner = :token", ExpressionAttributeNames=_names("#lease", "#owner"),
                ExpressionAttributeValues={":zero": {"N": "0"}, ":token": {"S": token}},
            )  # fmt: skip

    def note_sweep_alert(self, sweep_id: str, key: str) -> None:
        """Remember, before it is sent, that this sweep owes alert ``key`` (``sweep#<id>``), so that a retry of
        the sweep finishes it even if it would not raise the same alert again."""
        self.client.update_item(
            TableName=self.table,
            Key={"pk": {"S": f"sweep#{sweep_id}"}},
            UpdateExpression="ADD #keys :key SET #ttl = :ttl",
            ExpressionAttributeNames={"#keys": "alerts", "#ttl": "expires_at"},
            ExpressionAttributeValues={":key": {"SS": [key]}, ":ttl": {"N": str(int(self.clock()) + ALERT_TTL)}},
        )

    def sweep_alerts(self, sweep_id: str) -> list[str]:
        """The alerts an earlier attempt of this sweep set out to send."""
        item = next(iter(self._get_many("sweep#", [sweep_id]).values()), {})
        return sorted(item.get("alerts", {}).get("SS", []))

    def _persist(self, budget: Callable[[], float] | None, **request: Any) -> bool:
        """UpdateItem ``request``, again after each of ``RECORD_PAUSES`` while ``budget()`` seconds allow; False
        if it never succeeded. A lost ownership (another invocation took the item) is not retried."""
        for pause in (*RECORD_PAUSES, None):
            try:
                self.client.update_item(TableName=self.table, **request)
                return True
            except ClientError as error:
                if error_code(error) == "ConditionalCheckFailedException":
                    return False
            except BotoCoreError:
                pass
            if pause is None or (budget is not None and budget() < pause + 1):
                return False
            self.sleep(pause)
        return False

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _get_many(self, prefix: str, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The items ``<prefix><key>`` that exist (BatchGetItem, 100 keys a call)."""
        keys = sorted(set(keys))
        found: dict[str, dict[str, Any]] = {}
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
                    found[item["pk"]["S"].removeprefix(prefix)] = item
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
        found = self._get_many("reported#", subjects)
        return {subject: item.get("fingerprint", {}).get("S", "") for subject, item in found.items()}

    def baselines(self, arns: Iterable[str]) -> dict[str, Baseline]:
        """The stored baseline of each trail that has one."""
        return _baselines(self._get_many("baseline#", arns))

    def baselines_and_snoozes(self, arns: Iterable[str]) -> tuple[dict[str, Baseline], list[Snooze]]:
        """``baselines`` and ``snoozes`` in one request (what judging a watched call needs from the table)."""
        found = self._get_many("", [*(f"baseline#{arn}" for arn in arns), SNOOZES])
        running = [s for _, s in _snooze_entries(found.pop(SNOOZES, {})) if s.arn and s.active(self.clock())]
        baselines = _baselines({k.removeprefix("baseline#"): v for k, v in found.items()})
        return baselines, sorted(running, key=lambda s: s.arn)

    def save_baselines(self, baselines: Iterable[Baseline], by: str = "", reason: str = "") -> None:
        """Store baselines, each bounded (compressed; too large even so, without its selectors: see
        ``Baseline.bounded``), stamped with the time they were recorded (and, for a person's, by whom and why)."""
        now = str(int(self.clock()))
        who = {"recorded_by": {"S": by[:MAX_KEY_BYTES]}} if by else {}
        why = {"reason": {"S": reason[:MAX_KEY_BYTES]}} if reason else {}
        self._put_many([
            {"pk": {"S": f"baseline#{b.arn}"}, "baseline_z": {"B": pack(b.bounded(MAX_STORED_BYTES, pack).to_json())},
             "recorded_at": {"N": now}, **who, **why}
            for b in baselines
        ])  # fmt: skip

    # --- a person's answers: the stored alert, decisions, snoozes ------------------------------------------

    def alert(self, key: str) -> str:
        """The alert stored under ``key`` (its JSON), or "" when there is none."""
        stored = _alert_key(key)["pk"]["S"]
        return _stored_alert(self._get_many("", [stored]).get(stored, {}))

    def decision(self, key: str) -> dict[str, str]:
        """What ``decision#<key>`` holds (``by``, ``action``, ``at``, ``state``, ``result``...), or {}."""
        stored = _decision_key(key)
        item = self._get_many("", [stored]).get(stored, {})
        return {k: str(v.get("S") or v.get("N") or "") for k, v in item.items() if k != "pk"}

    def hold(self, key: str, fields: Mapping[str, str]) -> bool:
        """Take the lock ``decision#<key>`` for ``DECISION_LEASE`` seconds (one conditional write): False while
        another holder has it. Given back with ``release_hold``, or by the lease running out."""
        now = int(self.clock())
        values = {f":{k}": {"S": v[:MAX_KEY_BYTES]} for k, v in fields.items()}
        try:
            self.client.update_item(
                TableName=self.table, Key={"pk": {"S": _decision_key(key)}},
                UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in fields)
                + ", #state = :held, #lease = :lease, #at = :now, #ttl = :ttl",
                ConditionExpression="attribute_not_exists(pk) OR #state <> :held OR #lease < :now",
                ExpressionAttributeNames={**{f"#{k}": k for k in fields}, "#state": "state", "#lease": "lease_until",
                                          "#at": "at", "#ttl": "expires_at"},
                ExpressionAttributeValues={**values, ":held": {"S": "held"}, ":lease": {"N": str(now + DECISION_LEASE)},
                                           ":now": {"N": str(now)}, ":ttl": {"N": str(now + DECISION_TTL)}},
            )  # fmt: skip
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def release_hold(self, key: str) -> None:
        """Give the lock ``decision#<key>`` back (best effort: otherwise its lease runs out)."""
        with contextlib.suppress(ClientError, BotoCoreError):
            self.client.update_item(
                TableName=self.table, Key={"pk": {"S": _decision_key(key)}}, UpdateExpression="SET #state = :free",
                ExpressionAttributeNames={"#state": "state"}, ExpressionAttributeValues={":free": {"S": "free"}},
            )  # fmt: skip

    def record_decision(self, key: str, fields: Mapping[str, str], result: str, state: str = "done") -> bool:
        """Record a person's answer, carried out, as ``decision#<key>`` (``done``; or ``failed``, which the same
        answer may be given again after): one write, tried again after each of ``RECORD_PAUSES``; False if it
        could not be recorded."""
        now = int(self.clock())
        done = {**fields, "state": state, "result": result[:4000]}
        return self._persist(
            None, Key={"pk": {"S": _decision_key(key)}},
            UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in done) + ", #at = :now, #ttl = :ttl",
            ExpressionAttributeNames={**{f"#{k}": k for k in done}, "#at": "at", "#ttl": "expires_at"},
            ExpressionAttributeValues={**{f":{k}": {"S": v[:4000]} for k, v in done.items()},
                                       ":now": {"N": str(now)}, ":ttl": {"N": str(now + DECISION_TTL)}},
        )  # fmt: skip

    def snooze(self, snooze: Snooze) -> None:
        """Set (or replace) the trail's snooze, in the one ``snoozes`` item, and remove the snoozes that have
        ended, so that the item holds only running ones (one read, one write)."""
        entry = {"arn": {"S": snooze.arn}, "until": {"N": str(snooze.until)}, "by": {"S": snooze.by[:MAX_KEY_BYTES]},
                 "reason": {"S": snooze.reason[:MAX_KEY_BYTES]}, "at": {"N": str(snooze.at or int(self.clock()))},
                 "rules": {"L": [{"S": r} for r in snooze.rules]}, "account": {"S": snooze.account}}  # fmt: skip
        item, now = self._get_many("", [SNOOZES]).get(SNOOZES, {}), self.clock()
        ended = sorted(n for n, s in _snooze_entries(item) if not s.active(now) and n != _snooze_attribute(snooze.arn))
        names = {"#trail": _snooze_attribute(snooze.arn), **{f"#e{n}": name for n, name in enumerate(ended)}}
        remove = (" REMOVE " + ", ".join(f"#e{n}" for n in range(len(ended)))) if ended else ""
        self.client.update_item(
            TableName=self.table, Key={"pk": {"S": SNOOZES}}, UpdateExpression="SET #trail = :entry" + remove,
            ExpressionAttributeNames=names, ExpressionAttributeValues={":entry": {"M": entry}},
        )  # fmt: skip

    def snoozes(self, now: float | None = None) -> list[Snooze]:
        """The snoozes still running at ``now`` (one consistent read)."""
        at = self.clock() if now is None else now
        item = self._get_many("", [SNOOZES]).get(SNOOZES, {})
        found = [snooze for _, snooze in _snooze_entries(item) if snooze.arn and snooze.active(at)]
        return sorted(found, key=lambda s: s.arn)

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

    def heartbeat_sent(self, account: str, region: str, name: str) -> None:
        """Remember the heartbeat just sent into ``region`` of ``account`` (``heartbeat#<account>#<region>``)."""
        self._heartbeat(account, region, "sent", name)

    def heartbeat_seen(self, account: str, region: str, name: str) -> None:
        """A heartbeat's event came back: the pipeline from ``region`` of ``account`` works."""
        self._heartbeat(account, region, "seen", name)

    def _heartbeat(self, account: str, region: str, what: str, name: str) -> None:
        self.client.update_item(
            TableName=self.table, Key={"pk": {"S": f"heartbeat#{account}#{region}"}},
            UpdateExpression="SET #what = :name, #at = :now",
            ExpressionAttributeNames={"#what": what, "#at": f"{what}_at"},
            ExpressionAttributeValues={":name": {"S": name}, ":now": {"N": str(int(self.clock()))}},
        )  # fmt: skip

    def heartbeats(self, places: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, str]]:
        """The last heartbeat sent into each (account, region) and the last seen back: ``sent``, ``sent_at``,
        ``seen``, ``seen_at`` (those known)."""
        found = self._get_many("heartbeat#", [f"{a}#{r}" for a, r in places])
        return {
            _place(key): {k: str(v.get("S") or v.get("N") or "") for k, v in item.items() if k != "pk"}
            for key, item in found.items()
        }

    def save_shared(self, sweep_id: str, text: str) -> None:
        """What every account of an organization sweep shares (its organization trails as read), stored once
        for the accounts the sweep put on its queue (compressed; kept as long as an alert record)."""
        expires = str(int(self.clock()) + ALERT_TTL)
        self._put_many([{"pk": {"S": f"shared#{sweep_id}"}, "doc_z": {"B": pack(text)}, "expires_at": {"N": expires}}])

    def shared(self, sweep_id: str) -> str | None:
        item = self._get_many("shared#", [sweep_id]).get(sweep_id)
        return unpack(item["doc_z"]["B"]) if item and "doc_z" in item else None

    def note_issued(self, access_key: str, expires: float) -> None:
        """Remember an access key STS issued to the detector (a member-role session), until it expires, so that
        any container can tell the detector's own calls from a look-alike session of the same role."""
        self._put_many([{"pk": {"S": f"issued#{access_key}"}, "expires_at": {"N": str(int(expires))}}])

    def issued(self, access_key: str) -> bool:
        return bool(access_key) and access_key in self._get_many("issued#", [access_key])

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


def _decision_key(key: str) -> str:
    """``decision#<key>``; a key too long for a partition key is stored by its SHA-256 instead."""
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        key = "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return f"decision#{key}"


def _baselines(items: Mapping[str, Mapping[str, Any]]) -> dict[str, Baseline]:
    """Baselines by trail ARN, from their stored items."""
    return {
        arn: Baseline.from_json(unpack(item["baseline_z"]["B"]), int(item.get("recorded_at", {}).get("N", 0)),
                                item.get("recorded_by", {}).get("S", ""), item.get("reason", {}).get("S", ""))
        for arn, item in items.items()
        if "baseline_z" in item
    }  # fmt: skip


def _snooze_entries(item: Mapping[str, Any]) -> Iterable[tuple[str, Snooze]]:
    """(attribute name, snooze) of every snooze the ``snoozes`` item holds, running or ended."""
    for name, value in item.items():
        entry = value.get("M") if name.startswith("s_") else None
        if entry:
            yield name, Snooze(
                arn=entry.get("arn", {}).get("S", ""), until=int(entry.get("until", {}).get("N", 0)),
                by=entry.get("by", {}).get("S", ""), reason=entry.get("reason", {}).get("S", ""),
                rules=tuple(r.get("S", "") for r in entry.get("rules", {}).get("L", [])),
                at=int(entry.get("at", {}).get("N", 0)), account=entry.get("account", {}).get("S", ""),
            )  # fmt: skip


def _snooze_attribute(arn: str) -> str:
    """The ``snoozes`` item's attribute for one trail: named by a digest, since an ARN is no attribute name."""
    return "s_" + hashlib.sha256(arn.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _place(key: str) -> tuple[str, str]:
    account, _, region = key.partition("#")
    return account, region


def _names(*names: str) -> dict[str, str]:
    return {name: _NAMES[name] for name in names}


def pack(text: str) -> bytes:
    """A stored document, compressed (zlib): JSON of trail configurations shrinks several times over."""
    return zlib.compress(text.encode("utf-8", "surrogatepass"), 6)


def unpack(data: bytes) -> str:
    return zlib.decompress(data).decode("utf-8", "surrogatepass")


def _stored_alert(item: Mapping[str, Any]) -> str:
    data = item.get("alert_z", {}).get("B")
    return unpack(data) if data else ""


def fingerprint(rules: Iterable[str]) -> str:
    """What identifies a set of findings for "report once per distinct set": the sorted rule ids."""
    return ",".join(sorted(set(rules)))
