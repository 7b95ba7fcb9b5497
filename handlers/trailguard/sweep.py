"""The backstop sweep: the audit over every enabled region, reporting each trail once per distinct findings.

EventBridge delivers CloudTrail events only while some trail is logging, so the scheduled sweep catches what
the events could not show. What was reported is remembered per trail (and for the account) in the state
table, by real-time alerts and the sweep alike: the sweep speaks when a trail's counted findings change, and
says so when a trail reported before is compliant again (or exempt).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from botocore.exceptions import BotoCoreError, ClientError

from .alerts import Alert, sweep_alert
from .aws import WORKERS
from .baseline import Baseline
from .judge import AccountVerdict, Policy, TrailState, evaluate_account
from .read import ClientFactory, read_account, read_extras
from .rules import Clients, Facts
from .rules.not_evaluable import NOT_EVALUABLE
from .snooze import snoozed_findings
from .state_table import ACCOUNT_KEY, StateTable, Unprocessed, fingerprint

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepReport:
    verdict: AccountVerdict
    alerts: list[tuple[str, str, Alert]] = field(default_factory=list)  # (subject, fingerprint, alert)
    trails: tuple[TrailState, ...] = ()  # as read (an organization's trails among them, for the other accounts)
    own_covered: bool | None = None  # some compliant trail other than an organization trail covers the account


def account_subject(account: str, own: str) -> str:
    """What the sweep remembers an account's own findings under: ``account`` for the detector's own account
    (``own``, or any account when ``own`` is not given), ``account:<id>`` for every other account of an
    organization."""
    return ACCOUNT_KEY if own in ("", account) else f"{ACCOUNT_KEY}:{account}"


def unreachable(account: str, why: str, home: str) -> AccountVerdict:
    """The verdict on an account that could not be read at all (its member role could not be assumed)."""
    message = f"Account {account} could not be evaluated: {why}."
    return AccountVerdict(account, (), (NOT_EVALUABLE.finding(message, Facts(region=home), account=account),))


def alert_key(sweep_id: str, subject: str, printed: str) -> str:
    """A sweep alert's key: the sweep, what it is about and what it says (so that a retry of the sweep that
    finds the findings changed sends a new alert, and one that finds them the same finishes the same one)."""
    return f"sweep:{sweep_id}:{subject}#{printed}"


def refresh_baselines(cloudtrail: ClientFactory, compliant: list[TrailState], table: StateTable) -> None:
    """Record every compliant trail whose stored baseline is missing or out of date (insights and tags too).
    Best effort, trail by trail: a baseline that cannot be stored is logged, and never stops the sweep."""
    fresh = []
    for trail in compliant:
        if (
            trail.baseline is not None
            and trail.selectors is not None
            and trail.baseline.same_trail(trail.description, trail.selectors)
        ):
            continue  # unchanged since it was recorded: no need to read its insights and tags again
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
    shared: tuple[TrailState, ...] = (),
    own_account: str = "",
    account_name: str = "",
    workers: int = WORKERS,
    known: Mapping[str, str] | None = None,
) -> SweepReport:
    """Read and judge the account, and decide which alerts the sweep owes (not sending them). ``home`` is the
    detector's own region: where an account-level fix is made. ``shared`` are the organization's trails, read
    and reported once for the whole sweep: they count for this account but are not reported again here.
    ``known``: what was reported for some subjects, already read (one read for many accounts)."""
    state = read_account(cloudtrail, regions, caller_account, workers=workers, clients=clients, shared=shared)
    skip = {t.arn for t in shared}
    # A baseline recorded right after a watched call is the sweep's to confirm: it is judged against only once
    # the sweep itself (or a person) has recorded one, so that the caller of that call cannot set it for good.
    mine = [t for t in state.trails if t.arn not in skip]
    stored = {arn: b for arn, b in table.baselines(t.arn for t in mine).items() if b.trusted}
    trails = [t if t.arn in skip else replace(t, baseline=stored.get(t.arn)) for t in state.trails]
    verdict = evaluate_account(state.account, trails, policy, home, sorted(state.region_errors))
    judged = [t for t in verdict.trails if t.trail.arn not in skip]
    refresh_baselines(cloudtrail, [t.trail for t in judged if t.compliant], table)
    subject = account_subject(verdict.account, own_account)
    now = {t.trail.arn: fingerprint(f.rule for f in t.counted) for t in judged}
    now[subject] = fingerprint(f.rule for f in verdict.findings if f.counted)
    known = known or {}
    before = {subject: known[subject] for subject in now if subject in known}
    unknown = [subject for subject in now if subject not in known]
    if unknown:
        before.update(table.reported(unknown))
    own_covered = any(t.compliant and not t.trail.description.get("IsOrganizationTrail") for t in verdict.trails)
    report = SweepReport(verdict, trails=tuple(trails), own_covered=own_covered)
    for trail_verdict in judged:
        trail = trail_verdict.trail
        if now[trail.arn] != before.get(trail.arn, ""):
            key = alert_key(sweep_id, trail.arn, now[trail.arn])
            alert = sweep_alert(
                key, trail_verdict.counted, what=f"trail {trail.name} in {trail.home_region}",
                region=trail.home_region, account=state.account, action=action,
                trail_name=trail.name, trail_arn=trail.arn, exempt=trail_verdict.exempt,
            )  # fmt: skip
            alert = replace(alert, snoozed=snoozed_findings(trail_verdict.findings))
            gone = _gone(before.get(trail.arn, ""), now[trail.arn])
            report.alerts.append((trail.arn, now[trail.arn], replace(alert, account_name=account_name, resolved=gone)))
    if now[subject] != before.get(subject, ""):
        alert = sweep_alert(
            alert_key(sweep_id, subject, now[subject]), tuple(f for f in verdict.findings if f.counted),
            what=f"account {verdict.account}", region=home, account=verdict.account, action=action,
            trail_name="(account)", exempt=any(f.exempt for f in verdict.findings),
        )  # fmt: skip
        alert = replace(alert, snoozed=snoozed_findings(verdict.findings))
        gone = _gone(before.get(subject, ""), now[subject])
        report.alerts.append((subject, now[subject], replace(alert, account_name=account_name, resolved=gone)))
    return report


def _gone(before: str, now: str) -> tuple[str, ...]:
    """The rules reported before (a fingerprint) that no longer fire."""
    return tuple(sorted({r for r in before.split(",") if r} - set(now.split(","))))
