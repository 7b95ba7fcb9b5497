"""The detector's steps for one event, each callable alone: judge a call, run the sweep, shape the result.

``drift_handler.handler`` only wires these together; everything they need from outside (clients, senders,
the state table, configuration) comes in a ``Runtime`` built once per container at the edge.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from .alerts import Alert, attempt_alert, drift_alert, unjudged_alert
from .baseline import Baseline
from .config import LAMBDA_ATTEMPTS, LAST_ATTEMPT_AGE, MAX_EVENT_AGE, Deadline, HandlerConfig
from .events import Ignored, Sweep, TrailCall
from .fix import ActionResult, revert
from .judge import CallReading, CallVerdict, TrailState, judge_call
from .read import ClientFactory, ReadsTimedOut, read_call, read_extras, read_trails
from .render.fix import describe_actions
from .rules import REGISTRY, Finding
from .send import Outcome, Sender, deliver
from .state_table import ACCOUNT_KEY, Claim, StateTable, Unprocessed, fingerprint
from .sweep import plan_sweep

REVERTING = "Reverting (REMEDIATION_MODE=on); this alert was stored before the revert finished: check the trail."
SWEEP_ACTION = "Nothing: the sweep alerts; reverts follow the CloudTrail events themselves."
LOG = logging.getLogger(__name__)
Status = Literal["drift", "compliant", "ignored", "failed-attempt", "duplicate"]


@dataclass
class Runtime:
    """What the steps use from outside, built once per Lambda container."""

    config: HandlerConfig
    account: str
    home: str  # the detector's own region
    cloudtrail: ClientFactory
    table: StateTable
    senders: Mapping[str, Sender]
    regions: Callable[[], list[str]]
    identity: Callable[[], str] = lambda: ""  # the detector's own caller ARN (STS), asked once when needed
    others: Callable[[str, str], Any] | None = None  # (service, region) -> client, for a fix of another service
    pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(max_workers=16))
    deadline: Deadline = field(default_factory=lambda: Deadline.of(None))  # the handler sets it per invocation

    def client(self, service: str, region: str) -> Any:
        """A client of ``service`` in ``region``: CloudTrail's from its cache, another's from ``others``."""
        if service == "cloudtrail" or self.others is None:
            return self.cloudtrail(region)
        return self.others(service, region)

    def is_own(self, actor_arn: str) -> bool:
        """Whether a call was made by the detector itself (its role, any session)."""
        own = self.identity()
        if ":assumed-role/" in own:
            own = own.rsplit("/", 1)[0] + "/"
            return bool(actor_arn) and actor_arn.startswith(own)
        return bool(own) and actor_arn == own


@dataclass(frozen=True)
class HandlerResult:
    """What the handler returns (``to_dict``), and the deliveries that failed and must be retried."""

    status: Status
    event_id: str
    event_name: str
    trail_arn: str | None = None
    findings: tuple[Finding, ...] = ()
    actions: tuple[ActionResult, ...] = ()
    notified: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    reason: str | None = None  # when ignored
    alerts: tuple[str, ...] | None = None  # the sweep: the summaries it sent

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": self.status,
            "event_id": self.event_id,
            "event_name": self.event_name,
            "trail_arn": self.trail_arn,
            "findings": [_finding(f) for f in self.findings],
            "actions": [a.to_dict() for a in self.actions],
            "notified": list(self.notified),
        }
        if self.reason is not None:
            body["reason"] = self.reason
        if self.alerts is not None:
            body["alerts"] = list(self.alerts)
        return body


def _finding(f: Finding) -> dict[str, Any]:
    exempt = f.waiver.reason if f.waiver and f.exempt else None
    return {"rule": f.rule, "severity": f.severity, "message": f.message, "trail_arn": f.trail_arn,
            "account": f.account, "exempt": exempt}  # fmt: skip


def ignored(intake: Ignored) -> HandlerResult:
    return HandlerResult("ignored", intake.event_id, intake.event_name, reason=intake.reason)


def _failures(outcome: Outcome) -> tuple[str, ...]:
    return tuple(f"{d.channel}: {d.detail}" for d in outcome.failed)


class RetryLater(RuntimeError):
    """The trail could not be read now (throttled, no answer in time): raised before Lambda's last attempt,
    after the claim was released, so that Lambda retries the event instead of settling for a weaker verdict."""


def evaluate_call(call: TrailCall, rt: Runtime, settle: Callable[[], bool] = lambda: True) -> CallVerdict:
    """Read the named trail, its baseline and (only when it is no longer compliant) the account's other
    multi-region trails live, and judge them. When reads failed for now or ran out of time, ``RetryLater``
    unless ``settle()`` says this is the last chance: then the trail is judged on what could be read, and
    the verdict's ``unread`` says what could not."""
    policy, ref = rt.config.policy, call.trail
    unread: list[str] = []

    def not_now(problems: list[str]) -> None:
        if problems and not settle():
            raise RetryLater("; ".join(problems))
        unread.extend(problems)

    try:
        reading = read_call(ref.name, ref.arn, ref.region, rt.cloudtrail, reads_trail=call.event_name != "DeleteTrail",
                            baselines=rt.table.baselines, pool=rt.pool, clients=rt.client,
                            time_left=rt.deadline.for_reading)  # fmt: skip
    except ReadsTimedOut as error:
        not_now([str(error)])
        reading = CallReading(None, None, error=str(error))
    not_now(list(reading.transient))
    verdict = judge_call(ref.name, ref.arn, ref.region, call.account, reading, policy)
    if verdict is None:
        others: list[TrailState] = []
        problems: list[str] = []
        try:
            others = read_trails(rt.cloudtrail, reading.others(), call.account, clients=rt.client,
                                 time_left=rt.deadline.for_reading, transient=problems)  # fmt: skip
        except ReadsTimedOut as error:
            problems.append(str(error))
        not_now(problems)
        verdict = judge_call(ref.name, ref.arn, ref.region, call.account, reading, policy, others)
    assert verdict is not None  # given the other trails, the judgement is complete
    return replace(verdict, unread="; ".join(unread))


def handle_call(call: TrailCall, rt: Runtime) -> HandlerResult:
    """Judge one watched call, put the trail back if the operator opted in, and tell people, once."""
    if call.account != rt.account:
        return ignored(Ignored(f"the call was made in account {call.account!r}; this detector watches {rt.account}",
                               call.event_id, call.event_name))  # fmt: skip
    if rt.config.remediation_mode != "off" and rt.is_own(call.actor.arn):
        return ignored(Ignored("the detector's own revert: not judged again, so it cannot loop", call.event_id,
                               call.event_name))  # fmt: skip
    if call.failed:
        outcome = deliver(attempt_alert(call), rt.senders, rt.table, rt.pool, lease_ms=rt.deadline.ms(),
                          time_left=rt.deadline.left)  # fmt: skip
        status: Status = "duplicate" if outcome.duplicate else "failed-attempt"
        return HandlerResult(status, call.event_id, call.event_name, call.trail.arn, notified=outcome.delivered,
                             failed=_failures(outcome))  # fmt: skip
    claim = rt.pool.submit(rt.table.claim, call.event_id, rt.deadline.ms())  # taken while the trail is read

    def settle() -> bool:  # no retry is coming, or none is needed: judge what could be read
        taken = claim.result()
        return taken.duplicate or bool(taken.alert_json) or last_attempt(taken.attempt, call.actor.time)

    try:
        verdict = evaluate_call(call, rt, settle)
    except Exception:  # RetryLater, or the trail could not be read at all
        taken = claim.result()
        if taken.duplicate:
            return HandlerResult("duplicate", call.event_id, call.event_name, call.trail.arn)
        if not taken.alert_json:
            rt.table.release(call.event_id, taken.token)
            raise
        verdict = CallVerdict(None, ())  # a retry owes the alert the first attempt stored, read or not
    taken = claim.result()
    if taken.duplicate:
        return HandlerResult("duplicate", call.event_id, call.event_name, verdict.trail_arn)
    try:
        return _judged(call, verdict, taken, rt)
    except BaseException:  # whatever it is, Lambda retries: give the lease back so the retry is not a "twin"
        rt.table.release(call.event_id, taken.token)
        raise


def _judged(call: TrailCall, verdict: CallVerdict, taken: Claim, rt: Runtime) -> HandlerResult:
    """The claimed event, judged: revert if asked, then store and send the alert (or the stored one)."""
    if taken.alert_json:  # a retry: the first attempt judged (and reverted); finish sending what it stored
        stored = Alert.from_json(taken.alert_json)
        record = functools.partial(_reported, stored.trail_arn, stored.rules, rt) if stored.kind == "drift" else None
        outcome = deliver(stored, rt.senders, rt.table, rt.pool, taken, time_left=rt.deadline.left, then=record)
        return HandlerResult("drift", call.event_id, call.event_name, verdict.trail_arn, verdict.findings,
                             (), outcome.delivered, _failures(outcome))  # fmt: skip
    counted, results = verdict.counted, list[ActionResult]()
    then: Callable[[], None] | None
    if verdict.unread:  # Lambda's last attempt, and the trail (or its baseline) still could not be read
        alert, then = unjudged_alert(call, verdict.unread, taken.attempt), None  # what it found is not all
    elif not counted:
        if verdict.trail is not None and all(REGISTRY[f.rule].advisory for f in verdict.findings):
            _keep_baseline(verdict.trail, verdict.baseline, rt)  # only a compliant trail is a baseline
        rt.table.finish(call.event_id, taken.token, (), budget=rt.deadline.left)
        return HandlerResult("compliant", call.event_id, call.event_name, verdict.trail_arn, verdict.findings)
    else:
        results, alert = _reverted(call, verdict, taken, rt)
        then = functools.partial(_reported, verdict.trail_arn, [f.rule for f in counted], rt)
    outcome = deliver(alert, rt.senders, rt.table, rt.pool, taken, time_left=rt.deadline.left, then=then)
    return HandlerResult("drift", call.event_id, call.event_name, verdict.trail_arn, verdict.findings,
                         tuple(results), outcome.delivered, _failures(outcome))  # fmt: skip


def _reverted(call: TrailCall, verdict: CallVerdict, taken: Claim, rt: Runtime) -> tuple[list[ActionResult], Alert]:
    """The revert the mode asks for (none, said, or made and verified), and the alert that says it."""
    mode, counted = rt.config.remediation_mode, verdict.counted
    region = verdict.trail.home_region if verdict.trail else call.trail.region
    if mode == "on":  # stored first: if this invocation dies during the revert, the retry still tells people
        first = drift_alert(call, counted, verdict.trail_arn, REVERTING)
        rt.table.announce(call.event_id, taken.token, first.to_json(), ())
    results, planned = revert(verdict, mode, rt.config.policy, rt.table, rt.client, since=_change_time(call.actor.time),
                              time_left=rt.deadline.for_reading)  # fmt: skip
    action = describe_actions(mode, results, planned.why_not, region, settled=planned.settled)
    alert = drift_alert(call, counted, verdict.trail_arn, action)
    if any(r.result == "suspended" for r in results):
        alert = replace(alert, severity="critical")
    if mode == "on":
        rt.table.announce(call.event_id, taken.token, alert.to_json(), (), replace_alert=True)
    return results, alert


def last_attempt(attempt: int, event_time: str, now: float | None = None) -> bool:
    """Whether Lambda will not retry after this attempt. ``attempt`` counts this event's claims; an attempt
    whose claim failed (DynamoDB throttled) is not counted, so a second claim made long after the call was
    made (Lambda's third attempt comes at least three minutes after its first) is taken as the last too."""
    if attempt >= LAMBDA_ATTEMPTS:
        return True
    made = _change_time(event_time, now)
    return attempt >= 2 and made > 0 and (time.time() if now is None else now) - made >= LAST_ATTEMPT_AGE


def _reported(trail_arn: str | None, rules: Iterable[str], rt: Runtime) -> None:
    """Remember what every channel was told about the trail and the account, so the sweep need not repeat it.
    Made before the alert is marked done: if it fails, Lambda's retry makes it (and sends nothing again)."""
    rules = list(rules)
    reported = {ACCOUNT_KEY: fingerprint(r for r in rules if REGISTRY[r].scope != "trail")}
    if trail_arn:
        reported[trail_arn] = fingerprint(r for r in rules if REGISTRY[r].scope == "trail")
    rt.table.set_reported(reported)


def _change_time(timestamp: str, now: float | None = None) -> int:
    """When the call was made (``eventTime``, epoch seconds), for "the baseline predates the change"; 0 (not
    known) when it cannot be read, or when it is older than any live delivery can be (Lambda gives up on an
    event after ``MAX_EVENT_AGE``): a replayed record's time says nothing about the baselines stored since."""
    try:
        when = int(datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return 0
    return when if (time.time() if now is None else now) - when <= MAX_EVENT_AGE else 0


def _keep_baseline(state: TrailState, stored: Baseline | None, rt: Runtime) -> None:
    """Remember a compliant trail as it is right after a watched call (a baseline the revert does not trust
    for destinations), unless the stored baseline already says exactly that. Best effort: a baseline that
    cannot be stored must not stop the alert."""
    if state.selectors is None or (stored is not None and stored.same_trail(state.description, state.selectors)):
        return
    try:
        extras = read_extras(rt.cloudtrail(state.home_region), state.arn)
        if extras is not None:
            rt.table.save_baselines([Baseline.of(state.description, state.selectors, *extras, source="event")])
    except (ClientError, BotoCoreError, Unprocessed) as error:
        LOG.warning("baseline of %s not stored: %s", state.arn, error)


def _finish_sweep_alert(key: str, rt: Runtime, notified: set[str], failed: list[str]) -> None:
    """Send a sweep alert an earlier attempt stored but did not finish, though the sweep would not raise it now
    (the trail changed meanwhile): the channels still missing get what the others got."""
    taken = rt.table.claim(key, rt.deadline.ms())
    if taken.duplicate:
        return
    try:
        if not taken.alert_json:  # never stored, so never sent: nothing is owed (a twin may still send it)
            rt.table.release(key, taken.token)
            return
        stored = Alert.from_json(taken.alert_json)
        outcome = deliver(stored, rt.senders, rt.table, rt.pool, taken, time_left=rt.deadline.left)
    except BaseException:
        rt.table.release(key, taken.token)
        raise
    notified.update(outcome.delivered)
    failed.extend(_failures(outcome))


def handle_sweep(sweep: Sweep, rt: Runtime) -> HandlerResult:
    """The scheduled backstop: audit every enabled region and report what changed since last time."""
    report = plan_sweep(
        sweep.event_id,
        cloudtrail=rt.cloudtrail,
        regions=rt.regions(),
        home=rt.home,
        caller_account=lambda: rt.account,
        policy=rt.config.policy,
        table=rt.table,
        action=SWEEP_ACTION,
        clients=rt.client,
    )
    notified: set[str] = set()
    failed: list[str] = []
    owed = {alert.key for _, _, alert in report.alerts}
    for key in rt.table.sweep_alerts(sweep.event_id):  # an earlier attempt of this sweep began these
        if key not in owed:
            _finish_sweep_alert(key, rt, notified, failed)
    for subject, printed, alert in report.alerts:
        rt.table.note_sweep_alert(sweep.event_id, alert.key)
        outcome = deliver(alert, rt.senders, rt.table, rt.pool, lease_ms=rt.deadline.ms(), time_left=rt.deadline.left,
                          then=functools.partial(rt.table.set_reported, {subject: printed}))  # fmt: skip
        notified.update(outcome.delivered)
        failed.extend(_failures(outcome))
    findings = tuple(report.verdict.all_findings)
    return HandlerResult(
        "drift" if report.verdict.counted else "compliant",
        sweep.event_id,
        "Scheduled Event",
        findings=findings,
        notified=tuple(sorted(notified)),
        failed=tuple(failed),
        alerts=tuple(a.summary for _, _, a in report.alerts),
    )
