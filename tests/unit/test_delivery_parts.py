"""The pure parts of exactly-once delivery: what is stored stays bounded, when an attempt is Lambda's last, how
much time reads may take, and which baselines a revert trusts."""

from __future__ import annotations

import random
import time
from typing import Any

from trailguard.alerts import MAX_ACTION_CHARS, MAX_FIX_CHARS, drift_alert
from trailguard.baseline import Baseline
from trailguard.config import LAMBDA_ATTEMPTS, SENDING_RESERVE, Deadline
from trailguard.events import Actor, TrailCall, TrailRef
from trailguard.fix import plan
from trailguard.flow import last_attempt
from trailguard.judge import Policy, TrailState, evaluate_trail
from trailguard.state_table import MAX_STORED_BYTES, pack, unpack

from .builders import basic, basics, judge, trail

NOW = 1_800_000_000.0


def when(seconds_ago: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW - seconds_ago))


def huge_selectors(count: int = 480, length: int = 1_000) -> dict[str, Any]:
    rng = random.Random(3)
    values = [
        "arn:aws:s3:::" + "".join(rng.choice("abcdefghij0123456789") for _ in range(length)) for _ in range(count)
    ]
    return basics(basic(data=[{"Type": "AWS::S3::Object", "Values": values[:250]}]))


# --- bounded --------------------------------------------------------------------------------------------------


def test_a_baseline_too_large_to_store_keeps_its_destinations_and_a_digest_of_its_selectors() -> None:
    description = trail("big", S3BucketName="audit-logs")
    full = Baseline.of(description, huge_selectors())

    kept = full.bounded(MAX_STORED_BYTES // 10, pack)

    assert kept.selectors == {} and len(kept.selectors_digest) == 64
    assert kept.trail == full.trail  # what a destination revert restores
    assert kept.same_trail(description, huge_selectors())
    assert not kept.same_trail(description, basics(basic()))
    assert len(pack(kept.to_json())) < MAX_STORED_BYTES // 10
    (_, recreated), *_ = [call for call in kept.recreate_calls() if call[0] == "PutEventSelectors"]
    assert recreated["EventSelectors"] == [{"ReadWriteType": "All", "IncludeManagementEvents": True}]


def test_a_baseline_that_fits_is_stored_whole_and_comes_back_the_same() -> None:
    full = Baseline.of(trail("small"), basics(basic()), source="event")

    assert full.bounded(MAX_STORED_BYTES, pack) is full
    assert Baseline.from_json(unpack(pack(full.to_json())), recorded_at=5) == full


def test_an_alert_carries_at_most_a_few_kilobytes_of_fix_and_action_whatever_the_trail() -> None:
    findings = judge(trail("big", IsMultiRegionTrail=False), huge_selectors())
    call = TrailCall("e-1", "UpdateTrail", "123456789012", "us-east-1", TrailRef("big", "us-east-1", None, "aws"),
                     Actor(user_agent="x" * 100_000))  # fmt: skip

    alert = drift_alert(call, tuple(findings), None, "Reverted: " + "y" * 1_000_000)

    assert len(alert.action) <= MAX_ACTION_CHARS
    assert all(len(f.fix) <= MAX_FIX_CHARS for f in alert.findings)
    assert alert.actor is not None and len(alert.actor.user_agent) < 5_000
    assert len(alert.to_json()) < 60_000


# --- Lambda's last attempt and the deadline ------------------------------------------------------------------


def test_the_third_claim_is_the_last_attempt_whatever_the_time() -> None:
    assert last_attempt(LAMBDA_ATTEMPTS, when(5), now=NOW)
    assert not last_attempt(LAMBDA_ATTEMPTS - 1, when(5), now=NOW)


def test_a_second_claim_three_minutes_after_the_call_is_the_last_attempt_too() -> None:
    assert last_attempt(2, when(200), now=NOW)  # the first attempt's claim must have failed
    assert not last_attempt(2, when(100), now=NOW)
    assert not last_attempt(1, when(200), now=NOW)  # a late first delivery is still retried
    assert not last_attempt(2, when(7 * 3600), now=NOW)  # older than any live delivery: a replayed record
    assert not last_attempt(2, "not a time", now=NOW)


class Context:
    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def test_reads_get_the_invocations_remaining_time_less_what_sending_needs() -> None:
    clock = [100.0]
    deadline = Deadline.of(Context(60_000), clock=lambda: clock[0])

    assert deadline.left() == 60.0 and deadline.for_reading() == 60.0 - SENDING_RESERVE
    clock[0] += 50  # 10 s left: half of it for reading, half for sending
    assert deadline.for_reading() == 5.0 and deadline.ms() == 10_000
    clock[0] += 20
    assert deadline.for_reading() == 0.0 and deadline.ms() == 0
    assert Deadline.of(object(), clock=lambda: 0.0).left() == 60.0  # no context: the function's timeout


# --- which baseline a revert restores ---------------------------------------------------------------------------


def test_a_destination_is_restored_only_from_a_trusted_baseline_that_predates_the_change() -> None:
    def planned(baseline: Baseline, since: int = 0) -> Any:
        state = TrailState(trail("t", S3BucketName="elsewhere"), {"IsLogging": True}, basics(basic()), None, baseline)
        facts = state.facts(Policy(), ident="t")
        return plan(facts, evaluate_trail(facts), since)

    sweep = Baseline.of(trail("t", S3BucketName="audit-logs"), basics(basic()))
    older = Baseline.from_json(sweep.to_json(), recorded_at=1_000)

    assert [op for op, _ in planned(older, since=2_000).calls] == ["UpdateTrail"]
    assert planned(older, since=500).calls == () and "recorded after the change" in planned(older, 500).why_not
    event = Baseline.of(trail("t", S3BucketName="audit-logs"), basics(basic()), source="event")
    assert planned(event).calls == () and "may be the change itself" in planned(event).why_not
