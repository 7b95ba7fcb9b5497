"""Exactly once under real faults: the real handler, the emulator behind the fault proxy (DynamoDB serialised as
DynamoDB serialises it, answers lost after a write was applied, throttling, slow answers), the Slack stand-in
failing, invocations killed, and Lambda's own retries: about a minute after a failed attempt, then about two
minutes after that ("Asynchronous invocation" in the Lambda developer guide). Each test counts what reached
Slack and email in the end: every alert exactly once.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

import drift_handler
from tests.events import event, scheduled
from trailguard import state_table
from trailguard.config import LAMBDA_ATTEMPTS
from trailguard_dev.dynamodb import MAX_ITEM_BYTES, item_bytes, scan_all
from trailguard_dev.emulator import environment
from trailguard_dev.proxy import Fault, FaultProxy

from .conftest import BUCKET, REGION, TABLE, Context, Detector, cloudtrail
from .test_remediation import TRAIL, make_trail

pytestmark = pytest.mark.integration

RETRY_WAITS = (60.0, 120.0)  # Lambda's waits before its second and third attempts


class Killed(BaseException):
    """The Lambda runtime stopped the invocation here (a timeout, an out-of-memory crash): nothing after it runs,
    not even an ``except`` clause's clean-up, which is why this is not an ``Exception``."""


class Clock:
    """Wall-clock time that a test can move forward, as the state table sees it."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass(frozen=True)
class LambdaContext(Context):
    remaining_ms: int = 60_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@dataclass
class Lambda:
    """Lambda's asynchronous invocation of the detector: an attempt that raises (or is killed) is tried again
    after ``RETRY_WAITS``, each attempt in the same container unless the last one was killed."""

    detector: Detector
    clock: Clock = field(default_factory=Clock)
    remaining_ms: int = 60_000
    outcomes: list[Any] = field(default_factory=list)
    dead: bool = False

    def attempt(self, evt: dict[str, Any]) -> dict[str, Any]:
        context = LambdaContext(remaining_ms=self.remaining_ms)
        if self.dead:  # a killed attempt's container is gone: the next one starts afresh
            drift_handler._runtime = None
            self.dead = False
        drift_handler.runtime(context).table.clock = self.clock
        result: dict[str, Any] = drift_handler.handler(evt, context)
        return result

    def invoke(self, evt: dict[str, Any], between: Callable[[int], None] | None = None) -> list[Any]:
        """Every attempt's outcome (the result, or what it raised) until one succeeds or the retries run out."""
        outcomes: list[Any] = []
        for number, wait in enumerate((*RETRY_WAITS, None), 1):
            try:
                outcomes.append(self.attempt(evt))
                return outcomes
            except (Exception, Killed) as error:
                outcomes.append(error)
            if wait is None:
                return outcomes
            self.clock.advance(wait)
            if between is not None:
                between(number)
        return outcomes

    def kill_at(self, owner: Any, name: str, *, before: bool = False, when: Callable[..., bool] | None = None) -> None:
        """Kill the invocation right after ``owner.name(...)`` returns (or just ``before`` it runs), once, when
        ``when`` holds: from then on, every state-table write and send of this container raises ``Killed``
        without taking effect."""
        original = getattr(owner, name)
        fired: list[bool] = []

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if self.dead:
                raise Killed(name)
            dies = (when is None or when(*args, **kwargs)) and not fired
            if dies and before:
                fired.append(True)
                self.dead = True
                raise Killed(name)
            answer = original(*args, **kwargs)
            if dies:
                fired.append(True)
                self.dead = True
                raise Killed(name)
            return answer

        setattr(owner, name, wrapped)
        table = drift_handler.runtime(LambdaContext()).table
        for method in ("claim", "announce", "delivered", "finish", "release", "set_reported", "save_baselines"):
            if (owner, name) != (table, method):
                _gate(table, method, self)
        senders = drift_handler.runtime(LambdaContext()).senders
        for channel in list(senders):
            send = senders[channel]
            senders[channel] = lambda alert, send=send: _alive(self) and send(alert)  # type: ignore[misc]


def _alive(service: Lambda) -> bool:
    if service.dead:
        raise Killed("after death")
    return True


def _gate(owner: Any, name: str, service: Lambda) -> None:
    original = getattr(owner, name)
    setattr(owner, name, lambda *a, **k: _alive(service) and original(*a, **k))


@pytest.fixture
def faulty(detector: Detector, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    """The detector and this test's boto3 talking to the emulator through the fault proxy."""
    with FaultProxy(detector.emu.endpoint) as proxy, environment(proxy.environ()):
        monkeypatch.setattr(drift_handler, "_runtime", None)
        monkeypatch.setattr(state_table, "RECORD_PAUSES", (0.01, 0.01))
        yield proxy


@pytest.fixture
def lam(detector: Detector, faulty: FaultProxy) -> Lambda:
    return Lambda(detector)


def remediating(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMEDIATION_MODE", "on")
    monkeypatch.setattr(drift_handler, "_runtime", None)


def stopped(detector: Detector, lam: Lambda) -> dict[str, Any]:
    """The trail, recorded as a baseline by the sweep, then stopped: the event that reports it."""
    make_trail()
    lam.attempt(scheduled())
    cloudtrail().stop_logging(Name=TRAIL)
    return event("stoplogging_cli", trail=TRAIL)


def counts(detector: Detector) -> tuple[int, int]:
    """(Slack posts, emails) so far."""
    return len(detector.slack.messages), len(detector.inbox())


def each_alert_once(detector: Detector) -> list[str]:
    """The keys of the alerts sent, after checking that Slack and email each got every one of them once."""
    slack = [m.group(1) for t in detector.slack_texts() for m in [re.search(r"trailguard alert (\S+) ·", t)] if m]
    email = [m.group(1) for e in detector.inbox() for m in [re.search(r"Alert key: (\S+)", e["Message"])] if m]
    assert len(slack) == len(detector.slack.messages) and len(email) == len(detector.inbox())
    assert sorted(slack) == sorted(email) == sorted(set(slack)), (slack, email)
    return sorted(slack)


def is_claim(arguments: dict[str, Any]) -> bool:
    return "attribute_not_exists(pk)" in str(arguments.get("ConditionExpression", ""))


def records_delivery(arguments: dict[str, Any]) -> bool:
    return "#delivered" in str(arguments.get("UpdateExpression", ""))


def second_trail(*, logging: bool) -> str:
    """Another multi-region trail logging all management events (or set up to, when not ``logging``)."""
    ct, name = cloudtrail(), "second-trail"
    ct.create_trail(Name=name, S3BucketName=BUCKET, IsMultiRegionTrail=True)
    ct.put_event_selectors(TrailName=name, EventSelectors=[{"ReadWriteType": "All", "IncludeManagementEvents": True}])
    if logging:
        ct.start_logging(Name=name)
    return name


def logging_now() -> bool:
    return bool(cloudtrail().get_trail_status(Name=TRAIL)["IsLogging"])


# --- 1. a retry after the trail was fixed -----------------------------------------------------------------


def test_a_retry_after_the_revert_fixed_the_trail_sends_slack_the_stored_alert(
    detector: Detector, lam: Lambda, monkeypatch: pytest.MonkeyPatch
) -> None:
    remediating(monkeypatch)
    evt = stopped(detector, lam)
    detector.slack.fail_next(3)  # the first attempt's send and both of slack_sdk's own retries

    outcomes = lam.invoke(evt)

    assert isinstance(outcomes[0], drift_handler.DeliveryFailed)
    assert outcomes[1]["status"] == "drift" and outcomes[1]["notified"] == ["slack", "sns"]
    assert logging_now()  # the first attempt's revert
    assert counts(detector) == (1, 1)
    assert "StopLogging" in detector.slack_texts()[0] and "Reverted and verified" in detector.slack_texts()[0]


def test_a_retry_after_a_person_fixed_the_trail_still_sends_what_the_first_attempt_saw(
    detector: Detector, lam: Lambda
) -> None:
    evt = stopped(detector, lam)
    detector.slack.fail_next(3)

    outcomes = lam.invoke(evt, between=lambda _: cloudtrail().start_logging(Name=TRAIL))

    assert len(outcomes) == 2
    assert counts(detector) == (1, 1)
    assert "logging-stopped" in detector.slack_texts()[0]


# --- 2. a write applied, its answer lost --------------------------------------------------------------------


def test_a_claim_applied_whose_answer_was_lost_is_recognised_as_our_own(
    detector: Detector, lam: Lambda, faulty: FaultProxy
) -> None:
    evt = stopped(detector, lam)
    faulty.add(Fault("UpdateItem", kind="after", when=is_claim))  # applied; the 500 makes botocore resend it

    outcomes = lam.invoke(evt)

    assert [o["status"] for o in outcomes] == ["drift"]
    assert faulty.count("UpdateItem") >= 2
    assert counts(detector) == (1, 1)


def test_every_write_answering_500_after_it_was_applied_still_ends_in_one_alert_each(
    detector: Detector, lam: Lambda, faulty: FaultProxy
) -> None:
    evt = stopped(detector, lam)
    faulty.add(Fault("UpdateItem", kind="after", times=8))

    lam.invoke(evt)

    assert counts(detector) == (1, 1)


# --- 3. death right after the claim ------------------------------------------------------------------------


def test_killed_right_after_the_claim_the_retry_a_minute_later_sends(detector: Detector, lam: Lambda) -> None:
    evt = stopped(detector, lam)
    lam.kill_at(drift_handler.runtime(LambdaContext()).table, "claim")

    outcomes = lam.invoke(evt)

    assert isinstance(outcomes[0], Killed)
    assert outcomes[1]["status"] == "drift"
    assert counts(detector) == (1, 1)


def test_an_attempt_that_raises_gives_its_lease_back(detector: Detector, lam: Lambda, faulty: FaultProxy) -> None:
    evt = stopped(detector, lam)
    faulty.add(Fault("Publish", times=4))  # SNS fails through botocore's 3 retries; Slack delivers

    with pytest.raises(drift_handler.DeliveryFailed):
        lam.attempt(evt)
    second = lam.attempt(evt)  # at once, no minute waited: the lease was released, so this is no "twin"

    assert second["notified"] == ["slack", "sns"]
    assert counts(detector) == (1, 1)


def test_killed_after_slack_delivered_but_before_it_was_recorded_slack_is_told_it_may_be_a_repeat(
    detector: Detector, lam: Lambda
) -> None:
    evt = stopped(detector, lam)
    detector.slack.hang_next(1, 1.0)  # Slack answers last, after the email was sent and recorded
    table = drift_handler.runtime(LambdaContext()).table
    lam.kill_at(table, "delivered", before=True, when=lambda _key, channel, *_: channel == "slack")

    outcomes = lam.invoke(evt)

    assert isinstance(outcomes[0], Killed) and outcomes[-1]["status"] == "drift"
    slack, email = counts(detector)
    assert email == 1
    assert slack == 2  # the one unavoidable duplicate: Slack delivered, and nobody lived to record it
    assert "Possibly a repeat" in detector.slack_texts()[1]


# --- 4. delivered, then the record failed ------------------------------------------------------------------


def test_delivered_everywhere_then_every_record_write_failed_sends_nothing_twice(
    detector: Detector, lam: Lambda, faulty: FaultProxy
) -> None:
    evt = stopped(detector, lam)
    faulty.add(Fault("UpdateItem", times=-1, when=records_delivery))

    outcomes = lam.invoke(evt)

    assert [o["status"] for o in outcomes] == ["drift"]  # no raise, so no retry
    assert counts(detector) == (1, 1)


def test_slack_failed_and_the_sns_record_needed_retries_the_retry_sends_slack_only(
    detector: Detector, lam: Lambda, faulty: FaultProxy
) -> None:
    evt = stopped(detector, lam)
    detector.slack.fail_next(3)
    faulty.add(Fault("UpdateItem", times=4, when=records_delivery))  # through botocore's retries, then ours

    outcomes = lam.invoke(evt)

    assert len(outcomes) == 2
    assert counts(detector) == (1, 1)


# --- 5. items over 400 KB ----------------------------------------------------------------------------------


def huge_selectors(seed: int) -> dict[str, Any]:
    """Valid selectors with hundreds of long, hard-to-compress data-event values (plus management events)."""
    import random

    rng = random.Random(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-"
    values = ["arn:aws:s3:::" + "".join(rng.choice(alphabet) for _ in range(1_000)) + "/" for _ in range(480)]
    return {
        "AdvancedEventSelectors": [
            {"Name": "management", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]},
            {
                "Name": "buckets",
                "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Data"]},
                    {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
                    {"Field": "resources.ARN", "StartsWith": values},
                ],
            },
        ]
    }


def test_a_huge_trail_neither_overflows_an_item_nor_keeps_another_trails_drift_from_the_sweep(
    detector: Detector, lam: Lambda
) -> None:
    make_trail(selectors=huge_selectors(1))
    other = second_trail(logging=False)

    lam.attempt(scheduled())
    cloudtrail().stop_logging(Name=TRAIL)
    lam.invoke(event("stoplogging_cli", trail=TRAIL))

    dynamodb = boto3.client("dynamodb", region_name=REGION)
    sizes = {i["pk"]["S"]: item_bytes(i) for i in scan_all(dynamodb, TABLE)}
    assert max(sizes.values()) < MAX_ITEM_BYTES, sizes
    assert any(k.startswith("baseline#") and TRAIL in k for k in sizes)  # stored, bounded
    texts = detector.slack_texts()
    assert any(other in t for t in texts) and any("StopLogging" in t and TRAIL in t for t in texts)
    assert counts(detector) == (2, 2)


# --- 6. throttled or slow reads -----------------------------------------------------------------------------


def test_a_throttled_status_read_is_retried_by_lambda_not_settled_as_unreadable(
    detector: Detector, lam: Lambda, faulty: FaultProxy
) -> None:
    evt = stopped(detector, lam)
    throttled = Fault("GetTrailStatus", status=400, code="ThrottlingException", times=-1)
    faulty.add(throttled)

    def unthrottle(_: int) -> None:
        throttled.times = 0

    outcomes = lam.invoke(evt, between=unthrottle)

    assert isinstance(outcomes[0], Exception) and "Throttling" in str(outcomes[0])
    assert outcomes[1]["status"] == "drift"
    assert ("logging-stopped", "critical") in {(f["rule"], f["severity"]) for f in outcomes[1]["findings"]}
    assert counts(detector) == (1, 1)


def test_throttled_on_every_attempt_the_last_one_says_the_change_could_not_be_judged(
    detector: Detector, lam: Lambda, faulty: FaultProxy
) -> None:
    evt = stopped(detector, lam)
    faulty.add(Fault("GetTrailStatus", status=400, code="ThrottlingException", times=-1))

    outcomes = lam.invoke(evt)

    assert len(outcomes) == LAMBDA_ATTEMPTS
    assert all(isinstance(o, Exception) for o in outcomes[:-1])
    assert outcomes[-1]["status"] == "drift"
    assert counts(detector) == (1, 1)
    (text,) = detector.slack_texts()
    assert "not judged" in text and "StopLogging" in text


def test_a_slow_cloudtrail_is_given_up_within_the_invocations_time_and_retried(
    detector: Detector, lam: Lambda, faulty: FaultProxy
) -> None:
    evt = stopped(detector, lam)
    slow = Fault("GetTrailStatus", kind="delay", seconds=4, times=-1)
    faulty.add(slow)
    lam.remaining_ms = 6_000  # 3 s for reading, 3 s kept back for sending

    def quick(_: int) -> None:
        slow.times = 0

    started = time.monotonic()
    outcomes = lam.invoke(evt, between=quick)

    assert isinstance(outcomes[0], Exception) and "in time" in str(outcomes[0])
    assert outcomes[1]["status"] == "drift"
    assert time.monotonic() - started < 20
    assert counts(detector) == (1, 1)


# --- concurrency and Lambda's timing ----------------------------------------------------------------------


def test_concurrent_deliveries_of_one_event_send_once(detector: Detector, lam: Lambda) -> None:
    evt = stopped(detector, lam)
    results: list[Any] = []

    def deliver() -> None:
        try:
            results.append(lam.attempt(evt))
        except Exception as error:
            results.append(error)

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    statuses = sorted(r["status"] for r in results)
    assert statuses == ["drift"] + ["duplicate"] * 5
    assert counts(detector) == (1, 1)


def test_slack_down_for_two_attempts_is_sent_on_the_third_and_email_only_on_the_first(
    detector: Detector, lam: Lambda
) -> None:
    evt = stopped(detector, lam)
    detector.slack.fail_next(6)

    outcomes = lam.invoke(evt)

    assert len(outcomes) == 3 and outcomes[-1]["notified"] == ["slack", "sns"]
    assert counts(detector) == (1, 1)


def test_a_twin_delivered_while_the_first_still_runs_is_a_duplicate_and_a_retry_after_it_failed_is_not(
    detector: Detector, lam: Lambda
) -> None:
    evt = stopped(detector, lam)
    detector.slack.fail_next(3)

    first = lam.invoke(evt)
    twin = lam.attempt(evt)  # EventBridge delivered the same event again, later

    assert len(first) == 2 and twin["status"] == "duplicate"
    assert counts(detector) == (1, 1)


# --- what a review of the above found ------------------------------------------------------------------------


def publish_fails(faulty: FaultProxy) -> Fault:
    fault = Fault("Publish", times=4)  # botocore's first try and its 3 retries
    faulty.add(fault)
    return fault


def test_a_sweep_alert_email_missed_is_sent_on_the_retry_though_the_trail_was_fixed_meanwhile(
    detector: Detector, lam: Lambda, faulty: FaultProxy
) -> None:
    make_trail()
    lam.attempt(scheduled())
    cloudtrail().stop_logging(Name=TRAIL)
    publish_fails(faulty)

    outcomes = lam.invoke(scheduled(), between=lambda _: cloudtrail().start_logging(Name=TRAIL))

    assert isinstance(outcomes[0], drift_handler.DeliveryFailed) and outcomes[1]["notified"] == ["slack", "sns"]
    # the trail's alert and the account's, then (on the retry) the account compliant again
    assert len(each_alert_once(detector)) == 3
    assert any("logging-stopped" in e["Message"] and TRAIL in e["Message"] for e in detector.inbox())


def test_a_sweep_retry_that_finds_new_findings_finishes_the_old_alert_and_sends_the_new_one(
    detector: Detector, lam: Lambda, faulty: FaultProxy
) -> None:
    make_trail()
    lam.attempt(scheduled())
    cloudtrail().stop_logging(Name=TRAIL)
    publish_fails(faulty)

    def worse(_: int) -> None:
        cloudtrail().update_trail(Name=TRAIL, IsMultiRegionTrail=False)

    lam.invoke(scheduled(), between=worse)

    keys = each_alert_once(detector)  # the trail's first alert and its second, the account's, on both channels
    assert len(keys) == 3 and len({k for k in keys if TRAIL in k}) == 2
    assert any("not-multi-region" in e["Message"] for e in detector.inbox())
    assert lam.attempt(scheduled())["alerts"] == []  # all remembered as reported


def test_a_claim_throttled_on_the_first_attempt_still_leaves_a_last_attempt_that_alerts(
    detector: Detector, lam: Lambda, faulty: FaultProxy
) -> None:
    make_trail()
    lam.attempt(scheduled())
    cloudtrail().stop_logging(Name=TRAIL)
    made = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 200))  # the third attempt's age
    faulty.add(Fault("UpdateItem", status=400, code="ProvisionedThroughputExceededException", times=4, when=is_claim))
    faulty.add(Fault("GetTrailStatus", status=400, code="ThrottlingException", times=-1))

    outcomes = lam.invoke(event("stoplogging_cli", trail=TRAIL, eventTime=made))

    assert len(outcomes) == LAMBDA_ATTEMPTS and outcomes[-1]["status"] == "drift"
    assert counts(detector) == (1, 1)
    assert "not judged" in detector.slack_texts()[0]


def test_a_throttled_baseline_read_is_retried_not_fatal(detector: Detector, lam: Lambda, faulty: FaultProxy) -> None:
    evt = stopped(detector, lam)
    faulty.add(Fault("BatchGetItem", status=400, code="ProvisionedThroughputExceededException", times=4,
                     when=lambda arguments: "baseline#" in json.dumps(arguments)))  # fmt: skip

    outcomes = lam.invoke(evt)

    assert isinstance(outcomes[0], Exception) and "ProvisionedThroughputExceeded" in str(outcomes[0])
    assert outcomes[1]["status"] == "drift"
    assert counts(detector) == (1, 1)


def test_a_throttled_read_of_the_snoozes_with_the_baseline_is_retried(
    detector: Detector, lam: Lambda, faulty: FaultProxy
) -> None:
    evt = stopped(detector, lam)  # the event's baseline and the snoozes are one read: retried together
    faulty.add(Fault("BatchGetItem", status=400, code="ProvisionedThroughputExceededException", times=4,
                     when=lambda arguments: '"snoozes"' in json.dumps(arguments)))  # fmt: skip

    outcomes = lam.invoke(evt)

    assert isinstance(outcomes[0], Exception) and outcomes[1]["status"] == "drift" and counts(detector) == (1, 1)


def test_snoozes_the_sweep_cannot_read_hold_nothing_back(detector: Detector, lam: Lambda, faulty: FaultProxy) -> None:
    stopped(detector, lam)
    fault = Fault("BatchGetItem", status=400, code="ProvisionedThroughputExceededException", times=10,
                  when=lambda arguments: json.dumps(arguments).count('"pk"') == 1 and '"snoozes"' in
                  json.dumps(arguments))  # fmt: skip
    faulty.add(fault)

    outcomes = lam.invoke(scheduled())

    assert fault.hits >= 1
    assert outcomes[0]["status"] == "drift" and counts(detector)[0] >= 1  # alerted at once, not held back


def test_a_throttled_read_of_the_other_trails_is_retried_before_judging_the_account(
    detector: Detector, lam: Lambda, faulty: FaultProxy
) -> None:
    other = second_trail(logging=True)
    evt = stopped(detector, lam)
    throttled = Fault("GetTrailStatus", status=400, code="ThrottlingException", times=-1,
                      when=lambda arguments: other in str(arguments.get("Name")))  # fmt: skip
    faulty.add(throttled)

    def unthrottle(_: int) -> None:
        throttled.times = 0

    outcomes = lam.invoke(evt, between=unthrottle)

    assert isinstance(outcomes[0], Exception)
    assert [(f["rule"], f["severity"]) for f in outcomes[1]["findings"]] == [("logging-stopped", "high")]
    assert counts(detector) == (1, 1)


def test_slack_silent_then_failing_is_sent_again_by_the_retry_once(detector: Detector, lam: Lambda) -> None:
    evt = stopped(detector, lam)
    detector.slack.hang_next(1, seconds=6, status=500)  # no answer within the 5 s timeout, and nothing posted

    outcomes = lam.invoke(evt)

    assert isinstance(outcomes[0], drift_handler.DeliveryFailed)
    assert counts(detector) == (1, 1)
    assert "Possibly a repeat" in detector.slack_texts()[0]  # the detector could not know it had not posted


def test_slack_posting_but_answering_too_late_is_the_documented_duplicate(detector: Detector, lam: Lambda) -> None:
    evt = stopped(detector, lam)
    detector.slack.hang_next(1, seconds=6)  # posted, but the answer came after the 5 s timeout

    lam.invoke(evt)
    detector.slack.wait_for_messages(2, timeout=5)  # the slow one lands after the retry's

    assert counts(detector) == (2, 1)
    assert sorted("Possibly a repeat" in t for t in detector.slack_texts()) == [False, True]


def test_a_retry_that_sent_the_stored_alert_leaves_the_sweep_nothing_to_repeat(detector: Detector, lam: Lambda) -> None:
    evt = stopped(detector, lam)
    detector.slack.fail_next(3)

    lam.invoke(evt)
    swept = lam.attempt(scheduled())

    assert swept["alerts"] == []
    assert counts(detector) == (1, 1)


# --- what a second review found -----------------------------------------------------------------------------


def test_an_unreadable_baseline_on_the_last_attempt_is_not_judged_compliant_nor_kept(
    detector: Detector, lam: Lambda, faulty: FaultProxy
) -> None:
    make_trail()
    lam.attempt(scheduled())  # the sweep's baseline: the logs go to BUCKET
    boto3.client("s3", region_name=REGION).create_bucket(Bucket="attacker-bucket")
    cloudtrail().update_trail(Name=TRAIL, S3BucketName="attacker-bucket")
    faulty.add(Fault("BatchGetItem", status=400, code="ProvisionedThroughputExceededException", times=-1))

    outcomes = lam.invoke(event("updatetrail_single_region", trail=TRAIL))

    assert len(outcomes) == LAMBDA_ATTEMPTS and outcomes[-1]["status"] == "drift"
    (text,) = detector.slack_texts()
    assert "not judged" in text and "baseline" in text
    faulty.clear()
    stored = drift_handler.runtime(LambdaContext()).table.baselines(
        [cloudtrail().describe_trails()["trailList"][0]["TrailARN"]]
    )
    assert [b.trail["S3BucketName"] for b in stored.values()] == [BUCKET]  # the attacker's bucket was not kept


def test_a_sweep_whose_record_of_what_it_reported_failed_is_not_repeated_by_the_next_sweep(
    detector: Detector, lam: Lambda, faulty: FaultProxy
) -> None:
    make_trail()
    lam.attempt(scheduled())
    cloudtrail().stop_logging(Name=TRAIL)
    faulty.add(Fault("BatchWriteItem", times=4, when=lambda arguments: "reported#" in str(arguments)))

    outcomes = lam.invoke(scheduled())
    later = lam.attempt(scheduled())

    assert isinstance(outcomes[0], Exception) and outcomes[-1]["status"] == "drift"
    assert later["alerts"] == []
    assert len(each_alert_once(detector)) == 2  # the trail's alert and the account's, once each


def test_once_unconfirmed_a_channel_is_told_possibly_a_repeat_on_every_later_send(
    detector: Detector, lam: Lambda
) -> None:
    evt = stopped(detector, lam)
    detector.slack.hang_next(1, seconds=6, status=500)  # attempt 1: no answer (nothing posted)
    detector.slack.fail_next(3, status=500)  # attempt 2: a sure failure, through slack_sdk's retries

    outcomes = lam.invoke(evt)

    assert len(outcomes) == 3 and outcomes[-1]["notified"] == ["slack", "sns"]
    assert counts(detector) == (1, 1)
    assert "Possibly a repeat" in detector.slack_texts()[0]


def test_a_retry_owing_a_stored_alert_sends_it_even_when_the_trail_cannot_be_read_at_all(
    detector: Detector, lam: Lambda, faulty: FaultProxy
) -> None:
    evt = stopped(detector, lam)
    detector.slack.fail_next(3)

    def deny(_: int) -> None:  # a policy change took the baseline read away
        faulty.add(Fault("BatchGetItem", status=400, code="AccessDeniedException", times=-1))

    outcomes = lam.invoke(evt, between=deny)

    assert isinstance(outcomes[0], drift_handler.DeliveryFailed) and outcomes[1]["notified"] == ["slack", "sns"]
    assert counts(detector) == (1, 1)
    assert "logging-stopped" in detector.slack_texts()[0]


def test_a_post_whose_answer_was_lost_is_not_resent_at_once_and_the_retry_says_it_may_be_a_repeat(
    detector: Detector, lam: Lambda
) -> None:
    evt = stopped(detector, lam)
    detector.slack.drop_next(1)  # Slack posts it; the connection closes before the answer

    outcomes = lam.invoke(evt)

    assert isinstance(outcomes[0], drift_handler.DeliveryFailed) and "unconfirmed" in str(outcomes[0])
    assert counts(detector) == (2, 1)  # the documented duplicate, and no more: slack_sdk did not resend it
    assert [("Possibly a repeat" in t) for t in detector.slack_texts()] == [False, True]


def test_killed_while_recording_what_was_reported_sends_nothing_again(detector: Detector, lam: Lambda) -> None:
    evt = stopped(detector, lam)
    lam.kill_at(drift_handler.runtime(LambdaContext()).table, "set_reported", before=True)

    outcomes = lam.invoke(evt)

    assert isinstance(outcomes[0], Killed) and outcomes[1]["status"] == "drift"
    assert counts(detector) == (1, 1)
    assert lam.attempt(scheduled())["alerts"] == []  # the retry recorded what was reported
