"""The detector's steps for one event, each callable alone: judge a call, run the sweep, shape the result.

``drift_handler.handler`` only wires these together; everything they need from outside (clients, senders,
the state table, configuration) comes in a ``Runtime`` built once per container at the edge.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from .alerts import Alert, attempt_alert, drift_alert
from .baseline import Baseline
from .config import HandlerConfig
from .events import Ignored, Sweep, TrailCall
from .fix import ActionResult, Plan, revert
from .judge import CallVerdict, TrailState, judge_call
from .read import ClientFactory, read_call, read_extras, read_trails
from .render.fix import describe_actions
from .rules import REGISTRY, Finding
from .send import Outcome, Sender, deliver
from .state_table import ACCOUNT_KEY, StateTable, fingerprint
from .sweep import plan_sweep

SWEEP_ACTION = "Nothing: the sweep alerts; reverts follow the CloudTrail events themselves."
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


def evaluate_call(call: TrailCall, rt: Runtime) -> CallVerdict:
    """Read the named trail, its baseline and (only when it is no longer compliant) the account's other
    multi-region trails live, and judge them."""
    policy, ref = rt.config.policy, call.trail
    reading = read_call(ref.name, ref.arn, ref.region, rt.cloudtrail, reads_trail=call.event_name != "DeleteTrail",
                        baselines=rt.table.baselines, pool=rt.pool, clients=rt.client)  # fmt: skip
    verdict = judge_call(ref.name, ref.arn, ref.region, call.account, reading, policy)
    if verdict is None:
        others = read_trails(rt.cloudtrail, reading.others(), call.account, clients=rt.client)
        verdict = judge_call(ref.name, ref.arn, ref.region, call.account, reading, policy, others)
    assert verdict is not None  # given the other trails, the judgement is complete
    return verdict


def handle_call(call: TrailCall, rt: Runtime) -> HandlerResult:
    """Judge one watched call, put the trail back if the operator opted in, and tell people, once."""
    if call.account != rt.account:
        return ignored(Ignored(f"the call was made in account {call.account!r}; this detector watches {rt.account}",
                               call.event_id, call.event_name))  # fmt: skip
    if rt.config.remediation_mode != "off" and rt.is_own(call.actor.arn):
        return ignored(Ignored("the detector's own revert: not judged again, so it cannot loop", call.event_id,
                               call.event_name))  # fmt: skip
    if call.failed:
        outcome = deliver(attempt_alert(call), rt.senders, rt.table, rt.pool)
        status: Status = "duplicate" if outcome.duplicate else "failed-attempt"
        return HandlerResult(status, call.event_id, call.event_name, call.trail.arn, notified=outcome.delivered,
                             failed=_failures(outcome))  # fmt: skip
    claim = rt.pool.submit(rt.table.claim, call.event_id)  # taken while the trail is read
    verdict = evaluate_call(call, rt)
    taken = claim.result()
    if taken.duplicate:
        return HandlerResult("duplicate", call.event_id, call.event_name, verdict.trail_arn)
    if verdict.trail is not None and all(REGISTRY[f.rule].advisory for f in verdict.findings):
        record_baseline(verdict.trail, verdict.baseline, rt)  # only a compliant trail is a baseline
    counted = verdict.counted
    if not counted and not taken.alert_json:
        rt.table.record(call.event_id, "", (), done=True)
        return HandlerResult("compliant", call.event_id, call.event_name, verdict.trail_arn, verdict.findings)
    results, planned = revert(verdict, rt.config.remediation_mode, rt.config.policy, rt.table, rt.client) \
        if counted else ([], Plan())  # fmt: skip
    region = verdict.trail.home_region if verdict.trail else call.trail.region
    action = describe_actions(rt.config.remediation_mode, results, planned.why_not, region, settled=planned.settled)
    # A retry whose trail was fixed meanwhile still owes the missing channels the alert stored by the first try.
    alert = drift_alert(call, counted, verdict.trail_arn, action) if counted else Alert.from_json(taken.alert_json)
    if any(r.result == "suspended" for r in results):
        alert = replace(alert, severity="critical")
    outcome = deliver(alert, rt.senders, rt.table, rt.pool, taken)
    if not outcome.failed:  # what the sweep need not repeat
        reported = {ACCOUNT_KEY: fingerprint(f.rule for f in counted if not f.trail_arn)}
        if verdict.trail_arn:
            reported[verdict.trail_arn] = fingerprint(f.rule for f in counted if f.trail_arn)
        rt.table.set_reported(reported)
    return HandlerResult("drift", call.event_id, call.event_name, verdict.trail_arn, verdict.findings,
                         tuple(results), outcome.delivered, _failures(outcome))  # fmt: skip


def record_baseline(state: TrailState, stored: Baseline | None, rt: Runtime) -> None:
    """Remember a compliant trail as it is, unless the stored baseline already says exactly that."""
    if state.selectors is None or (stored is not None and stored.same_trail(state.description, state.selectors)):
        return
    extras = read_extras(rt.cloudtrail(state.home_region), state.arn)
    if extras is not None:
        rt.table.save_baselines([Baseline.of(state.description, state.selectors, *extras)])


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
    for subject, reported, alert in report.alerts:
        outcome = deliver(alert, rt.senders, rt.table, rt.pool)
        notified.update(outcome.delivered)
        failed.extend(_failures(outcome))
        if not outcome.failed:
            rt.table.set_reported({subject: reported})
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
