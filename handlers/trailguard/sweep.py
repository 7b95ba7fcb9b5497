"""The backstop sweep: the audit over every enabled region, reporting each trail once per distinct findings.

EventBridge delivers CloudTrail events only while some trail is logging, so the scheduled sweep catches what
the events could not show. What was reported is remembered per trail (and for the account) in the state
table, by real-time alerts and the sweep alike: the sweep speaks when a trail's counted findings change, and
says so when a trail reported before is compliant again (or exempt).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from botocore.exceptions import BotoCoreError, ClientError

from .alerts import Alert, sweep_alert
from .baseline import Baseline
from .judge import AccountVerdict, Policy, TrailState, evaluate_account
from .read import ClientFactory, read_account, read_extras
from .rules import Clients
from .state_table import ACCOUNT_KEY, StateTable, Unprocessed, fingerprint

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepReport:
    verdict: AccountVerdict
    alerts: list[tuple[str, str, Alert]] = field(default_factory=list)  # (subject, fingerprint, alert)


def alert_key(sweep_id: str, subject: str, printed: str) -> str:
    """A sweep alert's key: the sweep, what it is about and what it says (so that a retry of the sweep that
    finds the findings changed sends a new alert, and one that finds them the same finishes the same one)."""
    return f"sweep:{sweep_id}:{subject}#{printed}"


def refresh_baselines(cloudtrail: ClientFactory, compliant: list[TrailState], table: StateTable) -> None:
    """Record every compliant trail whose stored baseline is missing or out of date (insights and tags too).
    Best effort, trail by trail: a baseline that cannot be stored is logged, and never stops the sweep."""
    fresh = []
    for trail in compliant:
        extras = read_extras(cloudtrail(trail.home_region), trail.arn)
        if extras is None or trail.selectors is None:
            continue
        baseline = Baseline.of(trail.description, trail.selectors, *extras)
        if baseline != trail.baseline:
            fresh.append(baseline)
    try:
        table.save_baselines(fresh)
    except (ClientError, BotoCoreError, Unprocessed):
        for baseline in fresh:  # one by one, so that one bad item cannot keep the others out
            try:
                table.save_baselines([baseline])
            except (ClientError, BotoCoreError, Unprocessed) as error:
                LOG.warning("baseline of %s not stored: %s", baseline.arn, error)


def plan_sweep(
    sweep_id: str,
    *,
    cloudtrail: ClientFactory,
    regions: list[str],
    home: str,
    caller_account: Callable[[], str],
    policy: Policy,
    table: StateTable,
    action: str,
    clients: Clients | None = None,
) -> SweepReport:
    """Read and judge the account, and decide which alerts the sweep owes (not sending them). ``home`` is the
    detector's own region: where an account-level fix is made."""
    state = read_account(cloudtrail, regions, caller_account, clients=clients)
    # A baseline recorded right after a watched call is the sweep's to confirm: it is judged against only once
    # the sweep itself (or a person) has recorded one, so that the caller of that call cannot set it for good.
    stored = {arn: b for arn, b in table.baselines(t.arn for t in state.trails).items() if b.trusted}
    trails = [replace(t, baseline=stored.get(t.arn)) for t in state.trails]
    verdict = evaluate_account(state.account, trails, policy, home, sorted(state.region_errors))
    refresh_baselines(cloudtrail, [t.trail for t in verdict.trails if t.compliant], table)
    now = {t.trail.arn: fingerprint(f.rule for f in t.counted) for t in verdict.trails}
    now[ACCOUNT_KEY] = fingerprint(f.rule for f in verdict.findings if f.counted)
    before = table.reported(now)
    report = SweepReport(verdict)
    for judged in verdict.trails:
        trail = judged.trail
        if now[trail.arn] != before.get(trail.arn, ""):
            key = alert_key(sweep_id, trail.arn, now[trail.arn])
            alert = sweep_alert(
                key, judged.counted, what=f"trail {trail.name} in {trail.home_region}",
                region=trail.home_region, account=state.account, action=action,
                trail_name=trail.name, trail_arn=trail.arn, exempt=judged.exempt,
            )  # fmt: skip
            report.alerts.append((trail.arn, now[trail.arn], alert))
    if now[ACCOUNT_KEY] != before.get(ACCOUNT_KEY, ""):
        alert = sweep_alert(
            alert_key(sweep_id, ACCOUNT_KEY, now[ACCOUNT_KEY]), tuple(f for f in verdict.findings if f.counted),
            what=f"account {verdict.account}", region=home, account=verdict.account, action=action,
            trail_name="(account)",
        )  # fmt: skip
        report.alerts.append((ACCOUNT_KEY, now[ACCOUNT_KEY], alert))
    return report
