"""The detector's steps for one event, each callable alone: judge a call, run the sweep, shape the result.

``drift_handler.handler`` only wires these together; everything it needs from outside (clients, senders,
the state table, settings) comes in a ``Runtime`` built once per container at the edge.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .config import Config
from .delivery import Outcome, Sender, deliver
from .detect import attempt_alert, drift_alert, evaluate_call
from .events import Ignored, Sweep, TrailCall
from .policy import Finding
from .state import ClientFactory
from .store import ACCOUNT_KEY, StateTable, fingerprint
from .sweep import plan_sweep

ACTIONS = {
    "off": "Nothing: alert only (REMEDIATION_MODE=off).",
    "dry-run": "Nothing: automatic reversion is not part of this version yet, so dry-run changes nothing.",
    "on": "Nothing: automatic reversion is not part of this version yet; the trail was left as it is.",
}


@dataclass
class Runtime:
    """What the steps use from outside, built once per Lambda container."""

    config: Config
    account: str
    cloudtrail: ClientFactory
    table: StateTable
    senders: Mapping[str, Sender]
    regions: Callable[[], list[str]]
    pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(max_workers=16))

    @property
    def action(self) -> str:
        return ACTIONS[self.config.remediation_mode]


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
        "actions": [],
        "notified": list(notified),
        **extra,
    }


def ignored(intake: Ignored) -> Result:
    return Result(_body("ignored", intake.event_id, intake.event_name, reason=intake.reason))


def _failures(outcome: Outcome) -> tuple[str, ...]:
    return tuple(f"{d.channel}: {d.detail}" for d in outcome.failed)


def handle_call(call: TrailCall, rt: Runtime) -> Result:
    """Judge one watched call and tell people, once."""
    if call.account != rt.account:
        return ignored(
            Ignored(
                f"the call was made in account {call.account!r}; this detector watches {rt.account}",
                call.event_id,
                call.event_name,
            )
        )
    if call.failed:
        outcome = deliver(attempt_alert(call), rt.senders, rt.table, rt.pool)
        status = "duplicate" if outcome.duplicate else "failed-attempt"
        return Result(
            _body(status, call.event_id, call.event_name, trail_arn=call.trail.arn, notified=outcome.delivered),
            _failures(outcome),
        )
    claim = rt.pool.submit(rt.table.claim, call.event_id)  # taken while the trail is read
    verdict = evaluate_call(call, rt.cloudtrail, rt.config.policy, rt.pool)
    taken = claim.result()
    if taken.duplicate:
        return Result(_body("duplicate", call.event_id, call.event_name, trail_arn=verdict.trail_arn))
    if not verdict.findings and not taken.alert_json:
        rt.table.record(call.event_id, "", (), done=True)
        return Result(_body("compliant", call.event_id, call.event_name, trail_arn=verdict.trail_arn))
    outcome = deliver(drift_alert(call, verdict, rt.action), rt.senders, rt.table, rt.pool, taken)
    if not outcome.failed:  # what the sweep need not repeat
        reported = {ACCOUNT_KEY: fingerprint(f.rule for f in verdict.findings if not f.trail_arn)}
        if verdict.trail_arn:
            reported[verdict.trail_arn] = fingerprint(f.rule for f in verdict.findings if f.trail_arn)
        rt.table.set_reported(reported)
    return Result(
        _body(
            "drift",
            call.event_id,
            call.event_name,
            trail_arn=verdict.trail_arn,
            findings=verdict.findings,
            notified=outcome.delivered,
        ),
        _failures(outcome),
    )


def handle_sweep(sweep: Sweep, rt: Runtime) -> Result:
    """The scheduled backstop: audit every enabled region and report what changed since last time."""
    report = plan_sweep(
        sweep.event_id,
        cloudtrail=rt.cloudtrail,
        regions=rt.regions(),
        caller_account=lambda: rt.account,
        settings=rt.config.policy,
        table=rt.table,
        action=rt.action,
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
