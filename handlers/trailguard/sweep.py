"""The backstop sweep: the audit over every enabled region, reporting each trail once per distinct findings.

EventBridge delivers CloudTrail events only while some trail is logging, so the scheduled sweep catches what
the events could not show. What was reported is remembered per trail (and for the account) in the state
table, by real-time alerts and the sweep alike: the sweep speaks when a trail's findings change, and says
so when a trail reported before is compliant again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from .alerts import Alert, AlertFinding, console_url, worst
from .baseline import Baseline
from .policy import AccountVerdict, Finding, Settings, TrailState, TrailVerdict, evaluate_account
from .state import AccountState, ClientFactory, read_account, read_extras
from .store import ACCOUNT_KEY, StateTable, fingerprint


@dataclass(frozen=True)
class SweepReport:
    state: AccountState
    verdict: AccountVerdict
    alerts: list[tuple[str, str, Alert]] = field(default_factory=list)  # (subject, fingerprint, alert)


def _findings(findings: tuple[Finding, ...]) -> tuple[AlertFinding, ...]:
    return tuple(AlertFinding(f.rule, f.severity, f.message, f.fix) for f in findings)


def _trail_alert(sweep_id: str, account: str, verdict: TrailVerdict, action: str) -> Alert:
    trail = verdict.trail
    region = trail.home_region
    if verdict.findings:
        summary = (
            f"The backstop sweep found trail {trail.name} in {region} non-compliant: {verdict.findings[0].message}"
        )
    else:
        summary = f"Trail {trail.name} in {region}, reported before, is compliant again."
    return Alert(
        key=f"sweep:{sweep_id}:{trail.arn}",
        kind="sweep-drift" if verdict.findings else "sweep-compliant",
        severity=worst([f.severity for f in verdict.findings]),
        summary=summary,
        account=account,
        region=region,
        trail_name=trail.name,
        trail_arn=trail.arn,
        event_name="Scheduled Event",
        findings=_findings(verdict.findings),
        action=action if verdict.findings else "Nothing to do.",
        console_url=console_url(trail.arn, region),
    )


def _account_alert(sweep_id: str, verdict: AccountVerdict, region: str, action: str) -> Alert:
    if verdict.findings:
        summary = f"The backstop sweep found account {verdict.account} at risk: {verdict.findings[0].message}"
    else:
        summary = f"Account {verdict.account} has a compliant trail again."
    return Alert(
        key=f"sweep:{sweep_id}:{ACCOUNT_KEY}",
        kind="sweep-drift" if verdict.findings else "sweep-compliant",
        severity=worst([f.severity for f in verdict.findings]),
        summary=summary,
        account=verdict.account,
        region=region,
        trail_name="(account)",
        event_name="Scheduled Event",
        findings=_findings(verdict.findings),
        action=action if verdict.findings else "Nothing to do.",
        console_url=console_url(None, region),
    )


def refresh_baselines(cloudtrail: ClientFactory, compliant: list[TrailState], table: StateTable) -> None:
    """Record every compliant trail whose stored baseline is missing or out of date (insights and tags too)."""
    fresh = []
    for trail in compliant:
        extras = read_extras(cloudtrail(trail.home_region), trail.arn)
        if extras is None or trail.selectors is None:
            continue
        baseline = Baseline.of(trail.description, trail.selectors, *extras)
        if baseline != trail.baseline:
            fresh.append(baseline)
    if fresh:
        table.save_baselines(fresh)


def plan_sweep(
    sweep_id: str,
    *,
    cloudtrail: ClientFactory,
    regions: list[str],
    caller_account: Callable[[], str],
    settings: Settings,
    table: StateTable,
    action: str,
) -> SweepReport:
    """Read and judge the account, and decide which alerts the sweep owes (not sending them)."""
    state = read_account(cloudtrail, regions, caller_account)
    stored = table.baselines(t.arn for t in state.trails)
    trails = [replace(t, baseline=stored.get(t.arn)) for t in state.trails]
    verdict = evaluate_account(state.account, trails, settings, regions[0], sorted(state.region_errors))
    refresh_baselines(cloudtrail, [t.trail for t in verdict.trails if t.compliant], table)
    now = {t.trail.arn: fingerprint(f.rule for f in t.findings) for t in verdict.trails}
    now[ACCOUNT_KEY] = fingerprint(f.rule for f in verdict.findings)
    before = table.reported(now)
    report = SweepReport(state, verdict)
    for trail in verdict.trails:
        subject = trail.trail.arn
        if now[subject] != before.get(subject, ""):
            report.alerts.append((subject, now[subject], _trail_alert(sweep_id, state.account, trail, action)))
    if now[ACCOUNT_KEY] != before.get(ACCOUNT_KEY, ""):
        alert = _account_alert(sweep_id, verdict, regions[0], action)
        report.alerts.append((ACCOUNT_KEY, now[ACCOUNT_KEY], alert))
    return report
