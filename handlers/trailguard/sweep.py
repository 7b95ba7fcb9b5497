"""The backstop sweep: the audit over every enabled region, reporting each trail once per distinct findings.

EventBridge delivers CloudTrail events only while some trail is logging, so the scheduled sweep catches what
the events could not show. What was reported is remembered per trail (and for the account) in the state
table, by real-time alerts and the sweep alike: the sweep speaks when a trail's findings change, and says
so when a trail reported before is compliant again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from .alerts import Alert, alert_findings, console_url, worst
from .baseline import Baseline
from .policy import AccountVerdict, Finding, Settings, TrailState, evaluate_account
from .state import ClientFactory, read_account, read_extras
from .store import ACCOUNT_KEY, StateTable, fingerprint


@dataclass(frozen=True)
class SweepReport:
    verdict: AccountVerdict
    alerts: list[tuple[str, str, Alert]] = field(default_factory=list)  # (subject, fingerprint, alert)


def _sweep_alert(
    key: str, findings: tuple[Finding, ...], *, what: str, region: str, account: str, action: str,
    trail_name: str, trail_arn: str | None = None,
) -> Alert:  # fmt: skip
    """A change the sweep found for a trail or the account: new findings, or compliant again."""
    if findings:
        summary = f"The backstop sweep found {what} non-compliant: {findings[0].message}"
    else:
        summary = f"{what[0].upper()}{what[1:]}, reported before, is compliant again."
    return Alert(
        key=key,
        kind="sweep-drift" if findings else "sweep-compliant",
        severity=worst([f.severity for f in findings]),
        summary=summary,
        account=account,
        region=region,
        trail_name=trail_name,
        trail_arn=trail_arn,
        event_name="Scheduled Event",
        findings=alert_findings(findings),
        action=action if findings else "Nothing to do.",
        console_url=console_url(trail_arn, region),
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
    report = SweepReport(verdict)
    for judged in verdict.trails:
        trail = judged.trail
        if now[trail.arn] != before.get(trail.arn, ""):
            alert = _sweep_alert(
                f"sweep:{sweep_id}:{trail.arn}", judged.findings, what=f"trail {trail.name} in {trail.home_region}",
                region=trail.home_region, account=state.account, action=action,
                trail_name=trail.name, trail_arn=trail.arn,
            )  # fmt: skip
            report.alerts.append((trail.arn, now[trail.arn], alert))
    if now[ACCOUNT_KEY] != before.get(ACCOUNT_KEY, ""):
        alert = _sweep_alert(
            f"sweep:{sweep_id}:{ACCOUNT_KEY}", verdict.findings, what=f"account {verdict.account}",
            region=regions[0], account=verdict.account, action=action, trail_name="(account)",
        )  # fmt: skip
        report.alerts.append((ACCOUNT_KEY, now[ACCOUNT_KEY], alert))
    return report
