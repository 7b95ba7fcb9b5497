"""The detector's steps for one event, each callable alone: judge a call, run the sweep, shape the result.

``drift_handler.handler`` only wires these together; everything it needs from outside (clients, senders,
the state table, settings) comes in a ``Runtime`` built once per container at the edge.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from .baseline import Baseline
from .config import Config
from .delivery import Outcome, Sender, deliver
from .detect import CallVerdict, attempt_alert, drift_alert, evaluate_call
from .events import Ignored, Sweep, TrailCall
from .policy import Finding, TrailState
from .remediate import ActionResult, Plan, describe_actions, execute, plan, verify
from .state import ClientFactory, read_extras
from .store import ACCOUNT_KEY, StateTable, fingerprint
from .sweep import plan_sweep

SWEEP_ACTION = "Nothing: the sweep alerts; reverts follow the CloudTrail events themselves."


@dataclass
class Runtime:
    """What the steps use from outside, built once per Lambda container."""

    config: Config
    account: str
    cloudtrail: ClientFactory
    table: StateTable
    senders: Mapping[str, Sender]
    regions: Callable[[], list[str]]
    identity: Callable[[], str] = lambda: ""  # the detector's own caller ARN (STS), asked once when needed
    pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(max_workers=16))

    def is_own(self, actor_arn: str) -> bool:
        """Whether a call was made by the detector itself (its role, any session)."""
        own = self.identity()
        if ":assumed-role/" in own:
            own = own.rsplit("/", 1)[0] + "/"
            return bool(actor_arn) and actor_arn.startswith(own)
        return bool(own) and actor_arn == own


@dataclass(frozen=True)
class Result:
    """The handler's return value (DESIGN.md's contract) and the deliveries that must be retried."""

    body: dict[str, Any]
    failed: tuple[str, ...] = ()


def _body(
    status: str,
    event_id: str,
    event_name: str,
    *,
    trail_arn: str | None = None,
    findings: tuple[Finding, ...] = (),
    notified: tuple[str, ...] = (),
    actions: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "status": status,
        "event_id": event_id,
        "event_name": event_name,
        "trail_arn": trail_arn,
        "findings": [
            {"rule": f.rule, "severity": f.severity, "message": f.message, "trail_arn": f.trail_arn} for f in findings
        ],
        "actions": actions or [],
        "notified": list(notified),
        **extra,
    }


def ignored(intake: Ignored) -> Result:
    return Result(_body("ignored", intake.event_id, intake.event_name, reason=intake.reason))


def _failures(outcome: Outcome) -> tuple[str, ...]:
    return tuple(f"{d.channel}: {d.detail}" for d in outcome.failed)


def handle_call(call: TrailCall, rt: Runtime) -> Result:
    """Judge one watched call, put the trail back if the operator opted in, and tell people, once."""
    if call.account != rt.account:
        return ignored(Ignored(f"the call was made in account {call.account!r}; this detector watches {rt.account}",
                               call.event_id, call.event_name))  # fmt: skip
    if rt.config.remediation_mode != "off" and rt.is_own(call.actor.arn):
        return ignored(Ignored("the detector's own revert: not judged again, so it cannot loop", call.event_id,
                               call.event_name))  # fmt: skip
    if call.failed:
        outcome = deliver(attempt_alert(call), rt.senders, rt.table, rt.pool)
        status = "duplicate" if outcome.duplicate else "failed-attempt"
        body = _body(status, call.event_id, call.event_name, trail_arn=call.trail.arn, notified=outcome.delivered)
        return Result(body, _failures(outcome))
    claim = rt.pool.submit(rt.table.claim, call.event_id)  # taken while the trail is read
    verdict = evaluate_call(call, rt.cloudtrail, rt.config.policy, rt.pool, rt.table.baselines)
    taken = claim.result()
    if taken.duplicate:
        return Result(_body("duplicate", call.event_id, call.event_name, trail_arn=verdict.trail_arn))
    if not verdict.findings and verdict.trail is not None:
        record_baseline(verdict.trail, verdict.baseline, rt)
    if not verdict.findings and not taken.alert_json:
        rt.table.record(call.event_id, "", (), done=True)
        return Result(_body("compliant", call.event_id, call.event_name, trail_arn=verdict.trail_arn))
    results, planned = revert(verdict, rt) if verdict.findings else ([], Plan())
    region = verdict.trail.home_region if verdict.trail else call.trail.region
    alert = drift_alert(call, verdict, describe_actions(rt.config.remediation_mode, results, planned, region))
    if any(r.result == "suspended" for r in results):
        alert = replace(alert, severity="critical")
    outcome = deliver(alert, rt.senders, rt.table, rt.pool, taken)
    if not outcome.failed:  # what the sweep need not repeat
        reported = {ACCOUNT_KEY: fingerprint(f.rule for f in verdict.findings if not f.trail_arn)}
        if verdict.trail_arn:
            reported[verdict.trail_arn] = fingerprint(f.rule for f in verdict.findings if f.trail_arn)
        rt.table.set_reported(reported)
    body = _body("drift", call.event_id, call.event_name, trail_arn=verdict.trail_arn, findings=verdict.findings,
                 notified=outcome.delivered, actions=[r.to_dict() for r in results])  # fmt: skip
    return Result(body, _failures(outcome))


def revert(verdict: CallVerdict, rt: Runtime) -> tuple[list[ActionResult], Plan]:
    """Off: nothing. Dry-run: the calls, not made. On: made within the hourly budget, then verified."""
    mode, settings = rt.config.remediation_mode, rt.config.policy
    if mode == "off":
        return [], Plan()
    trail_findings = [f for f in verdict.findings if f.trail_arn]
    planned = plan(verdict.trail, trail_findings, verdict.baseline, settings)
    if not planned.calls:
        return [], planned
    if mode == "dry-run":
        return [ActionResult(op, "dry-run", args) for op, args in planned.calls], planned
    arn = verdict.trail.arn if verdict.trail else verdict.baseline.arn if verdict.baseline else ""
    if not rt.table.spend_revert(arn):
        return [ActionResult(op, "suspended", args) for op, args in planned.calls], planned
    region = verdict.trail.home_region if verdict.trail else verdict.baseline.home_region if verdict.baseline else ""
    client = rt.cloudtrail(region)
    return verify(execute(planned.calls, client), arn, client, verdict.baseline, settings), planned


def record_baseline(state: TrailState, stored: Baseline | None, rt: Runtime) -> None:
    """Remember a compliant trail as it is, unless the stored baseline already says exactly that."""
    if state.selectors is None or (stored is not None and stored.same_trail(state.description, state.selectors)):
        return
    extras = read_extras(rt.cloudtrail(state.home_region), state.arn)
    if extras is not None:
        rt.table.save_baselines([Baseline.of(state.description, state.selectors, *extras)])


def handle_sweep(sweep: Sweep, rt: Runtime) -> Result:
    """The scheduled backstop: audit every enabled region and report what changed since last time."""
    report = plan_sweep(
        sweep.event_id,
        cloudtrail=rt.cloudtrail,
        regions=rt.regions(),
        caller_account=lambda: rt.account,
        settings=rt.config.policy,
        table=rt.table,
        action=SWEEP_ACTION,
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
    body = _body(
        "drift" if findings else "compliant",
        sweep.event_id,
        "Scheduled Event",
        findings=findings,
        notified=tuple(sorted(notified)),
        alerts=[a.summary for _, _, a in report.alerts],
    )
    return Result(body, tuple(failed))
