"""The sweep across an organization: every active account read through its member role, the organization's
trails read once, each account's changes reported once, and many changes at once grouped into one alert.

Two ways to run it, one result: one invocation sweeps every account concurrently (``ACCOUNTS_AT_ONCE`` at a
time), or, with ``SWEEP_QUEUE_URL``, the scheduled invocation puts one SQS message per account (carrying the
organization's trails as it read them) and the same Lambda, invoked by SQS, sweeps the accounts of each batch.
The organization trail's blast radius comes from what the sweeps recorded about each account's own trails
(``own:<account>`` in the state table): whether some compliant trail other than an organization trail covers
it.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .alerts import Alert, AlertFinding
from .aws import AuditAborted
from .baseline import Baseline
from .judge import AccountVerdict, Policy, TrailState, TrailVerdict
from .organization import Account, AccountUnreachable, MemberAccess
from .read import ReadsTimedOut
from .rules import SEVERITIES, Facts, worst
from .rules.not_evaluable import NOT_EVALUABLE
from .state_table import StateTable, Unprocessed, fingerprint
from .sweep import SweepReport, account_subject, alert_key, plan_sweep, unreachable

ACCOUNTS_AT_ONCE = 32  # accounts read at the same time by one invocation (each with a few reads in flight)
ACCOUNT_TIME = 15.0  # seconds of reading time an account may need (its reads with their retries): none left, not begun
ORGANIZATION_SUBJECT = "organization"  # what the sweep reports the organization's own listing under
READS_PER_ACCOUNT = 4  # an account's own reads in flight: its regions' DescribeTrails, then its trails'
GROUP_ABOVE = 5  # more alerts than this from one sweep (or one SQS batch) go out as one grouped alert
GROUP_SHOWN = 40  # lines a grouped alert lists; the rest are counted
RADIUS_NAMED = 10  # accounts a blast radius names; the rest are counted
MESSAGE_KIND = "trailguard-sweep-account"
LOG = logging.getLogger(__name__)
COVERED, UNCOVERED = "yes", "no"


def coverage_subject(account: str) -> str:
    """Where the sweep records whether an account has a compliant trail of its own."""
    return f"own:{account}"


@dataclass(frozen=True)
class Radius:
    """Who an organization trail's regression leaves with no compliant trail: ``lost`` (id, name) pairs, of
    ``total`` accounts; ``unknown`` of them were never swept (taken as uncovered: failing closed)."""

    lost: tuple[tuple[str, str], ...]
    total: int
    unknown: int = 0
    covering: tuple[str, ...] = ()  # other organization trails that are compliant: they cover every account

    def sentence(self, trail: str, organization: str) -> str:
        if self.covering:
            names = ", ".join(repr(t) for t in self.covering)
            return (f"Blast radius: none: every account of {organization or 'the organization'} is still covered by "
                    f"organization trail {names}.")  # fmt: skip
        if not self.lost:
            return (f"Blast radius: every one of the {self.total} accounts of {organization or 'the organization'} "
                    f"still has a compliant trail of its own besides {trail!r}.")  # fmt: skip
        named = ", ".join(f"{a} ({n})" if n else a for a, n in self.lost[:RADIUS_NAMED])
        more = f" and {len(self.lost) - RADIUS_NAMED} more" if len(self.lost) > RADIUS_NAMED else ""
        unknown = f" ({self.unknown} not swept yet, so not known to have one)" if self.unknown else ""
        return (
            f"Blast radius: {len(self.lost)} of {self.total} accounts of {organization or 'the organization'} lost "
            f"their only compliant trail with {trail!r}{unknown}: {named}{more}."
        )


def radius(accounts: Sequence[Account], covered: Mapping[str, str], covering: Sequence[str] = ()) -> Radius:
    """The accounts with no compliant trail of their own (``covered``: subject -> yes/no, as recorded); none
    when another organization trail (``covering``, the compliant ones) still covers every account."""
    if covering:
        return Radius((), len(accounts), covering=tuple(covering))
    lost, unknown = [], 0
    for account in accounts:
        said = covered.get(coverage_subject(account.id), "")
        if said != COVERED:
            lost.append((account.id, account.name))
            unknown += said == ""
    return Radius(tuple(lost), len(accounts), unknown)


def with_radius(alert: Alert, found: Radius, organization: str) -> Alert:
    """An organization trail's alert, saying its blast radius; critical when some account lost its only
    compliant trail."""
    sentence = found.sentence(alert.trail_name, organization)
    findings = alert.findings
    if findings:
        first = findings[0]
        findings = (replace(first, message=f"{first.message} {sentence}"), *findings[1:])
    if found.lost:
        findings = tuple(replace(f, severity="critical") if f.severity == "high" else f for f in findings)
    severity = "critical" if found.lost and alert.findings else alert.severity
    return replace(alert, summary=f"{alert.summary} {sentence}", findings=findings, severity=severity)


def organization_trails(trails: Iterable[TrailVerdict]) -> list[TrailVerdict]:
    return [t for t in trails if t.trail.description.get("IsOrganizationTrail")]


def sweep_account(
    sweep_id: str,
    account: Account,
    *,
    access: MemberAccess,
    regions: list[str],
    home: str,
    policy: Policy,
    table: StateTable,
    action: str,
    shared: tuple[TrailState, ...],
    known: Mapping[str, str] | None = None,
) -> SweepReport:
    """One member account through its role, with the organization's trails as already read. An account whose
    role cannot be assumed (or that cannot be read at all) is ``not-evaluable``, with the reason."""
    try:
        clients = access.clients(account.id)
        return plan_sweep(
            sweep_id, cloudtrail=lambda region: clients("cloudtrail", region), regions=regions, home=home,
            caller_account=lambda: account.id, policy=policy, table=table, action=action, clients=clients,
            shared=shared, own_account=access.own_account, account_name=account.name, workers=READS_PER_ACCOUNT,
            known=known,
        )  # fmt: skip
    except AccountUnreachable as error:
        if error.retry:
            raise
        why = str(error)
    except AuditAborted as error:
        why = str(error)
    return unreachable_report(sweep_id, account, why, home=home, table=table, action=action, own=access.own_account)


def unreachable_report(
    sweep_id: str, account: Account, why: str, *, home: str, table: StateTable, action: str, own: str
) -> SweepReport:
    from .alerts import sweep_alert

    verdict = unreachable(account.id, why, home)
    subject = account_subject(account.id, own)
    printed = fingerprint(f.rule for f in verdict.findings)
    report = SweepReport(verdict)
    if table.reported([subject]).get(subject, "") != printed:
        alert = sweep_alert(
            alert_key(sweep_id, subject, printed), verdict.findings, what=f"account {account.id}", region=home,
            account=account.id, action=action, trail_name="(account)",
        )  # fmt: skip
        report.alerts.append((subject, printed, replace(alert, account_name=account.name)))
    return report


def sweep_accounts(
    sweep_id: str, accounts: Sequence[Account], *, time_left: Callable[[], float] | None = None, **kwargs: Any
) -> tuple[list[SweepReport], list[Account]]:
    """``sweep_account`` for each account, ``ACCOUNTS_AT_ONCE`` at a time: the reports, in the accounts' order,
    and the accounts left for the next sweep, each logged: those not started while ``time_left()`` still
    allowed ``ACCOUNT_TIME``, and those that failed for now (a throttled role, the state table)."""
    if not accounts:
        return [], []

    def one(account: Account) -> SweepReport | None:
        if time_left is not None and time_left() < ACCOUNT_TIME:
            LOG.warning("account %s not swept: the invocation's time ran out", account.id)
            return None
        try:
            return sweep_account(sweep_id, account, **kwargs)
        except (AccountUnreachable, ClientError, BotoCoreError, Unprocessed, ReadsTimedOut) as error:
            LOG.warning("account %s not swept this time: %s", account.id, error)
            return None

    with ThreadPoolExecutor(max_workers=min(ACCOUNTS_AT_ONCE, len(accounts)), thread_name_prefix="tg-acct") as pool:
        results = list(pool.map(one, accounts))
    return [r for r in results if r is not None], [a for a, r in zip(accounts, results, strict=True) if r is None]


def listing_report(sweep_id: str, why: str, *, home: str, own: str, table: StateTable, action: str) -> SweepReport:
    """The organization itself as the sweep reports it: ``not-evaluable`` while its accounts cannot be listed
    (``why``), said once, and said again once they can."""
    from .alerts import sweep_alert

    message = f"The organization's accounts could not be listed, so only account {own} was swept: {why}."
    findings = (NOT_EVALUABLE.finding(message, Facts(region=home), account=own),) if why else ()
    printed = fingerprint(f.rule for f in findings)
    report = SweepReport(AccountVerdict(own, (), findings))
    if table.reported([ORGANIZATION_SUBJECT]).get(ORGANIZATION_SUBJECT, "") != printed:
        key = alert_key(sweep_id, ORGANIZATION_SUBJECT, printed)
        alert = sweep_alert(key, findings, what="the organization's account list", region=home, account=own,
                            action=action, trail_name="(organization)")  # fmt: skip
        report.alerts.append((ORGANIZATION_SUBJECT, printed, alert))
    return report


def record_coverage(
    reports: Iterable[SweepReport], table: StateTable, known: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Remember, for each account read, whether a compliant trail of its own covers it (for the blast radius
    of a later organization trail change); only what changed from ``known`` (as already read) is written."""
    covered = {
        coverage_subject(r.verdict.account): COVERED if r.own_covered else UNCOVERED
        for r in reports
        if r.own_covered is not None
    }
    known = known or {}
    table.set_reported({subject: said for subject, said in covered.items() if known.get(subject) != said})
    return covered


def known_reports(table: StateTable, accounts: Iterable[Account], own: str) -> dict[str, str]:
    """What was reported about each account and its coverage, read at once for the whole sweep (100 keys a
    call), with "" for what was never reported: each account's sweep then reads only its own trails'."""
    subjects = [s for a in accounts for s in (account_subject(a.id, own), coverage_subject(a.id))]
    found = table.reported(subjects)
    return {subject: found.get(subject, "") for subject in subjects}


def owed(reports: Iterable[SweepReport]) -> list[Alert]:
    """Every alert the reports owe, each knowing what it reports (``reported``)."""
    return [replace(alert, reported={subject: printed}) for r in reports for subject, printed, alert in r.alerts]


def grouped(
    sweep_id: str, alerts: Sequence[Alert], *, organization: str, home: str, own: str, apart: Iterable[str] = ()
) -> list[Alert]:
    """The alerts as sent: as they are when few; else the alerts about subjects in ``apart`` (the organization
    trails) as they are, and every other change in one alert (no flood when many accounts drift at once)."""
    if len(alerts) <= GROUP_ABOVE:
        return list(alerts)
    keep = set(apart)
    headline = [a for a in alerts if keep & set(a.reported)]
    rest = sorted((a for a in alerts if a not in headline), key=lambda a: (SEVERITIES.index(a.severity), a.key))
    reported = {subject: printed for a in rest for subject, printed in a.reported.items()}
    digest = hashlib.sha256(json.dumps(sorted(reported.items())).encode()).hexdigest()[:32]
    drifted = [a for a in rest if a.kind == "sweep-drift"]
    accounts = sorted({a.account for a in rest})
    lines = tuple(
        AlertFinding(
            a.findings[0].rule if a.findings else a.kind, a.severity if a.findings else "low",
            f"{a.account}{f' ({a.account_name})' if a.account_name else ''}, {a.trail_name}: {a.summary}",
        )
        for a in rest[:GROUP_SHOWN]
    )  # fmt: skip
    if len(rest) > GROUP_SHOWN:
        more = f"… and {len(rest) - GROUP_SHOWN} more changes: `trailguard audit --organization` lists every account."
        lines += (AlertFinding("more", "low", more),)
    summary = (
        f"The backstop sweep found {len(rest)} changes in {len(accounts)} accounts of "
        f"{organization or 'the organization'}: {len(drifted)} non-compliant, "
        f"{len(rest) - len(drifted)} compliant again or exempt."
    )
    group = Alert(
        key=alert_key(sweep_id, "group", digest),
        kind="sweep-drift" if drifted else "sweep-compliant",
        severity=worst([a.severity for a in drifted]) if drifted else "low",
        summary=summary,
        account=own,
        account_name=organization,
        region=home,
        trail_name="(several accounts)",
        event_name="Scheduled Event",
        findings=lines,
        action=rest[0].action if drifted else "Nothing to do.",
        reported=reported,
    )
    return [*headline, group]


# --- the SQS fan-out ---------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A CloudTrail answer as JSON can carry it: its times as ISO strings, marked so they come back as times."""
    if isinstance(value, datetime.datetime):
        return {"$time": value.isoformat()}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _rich(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$time"}:
            return datetime.datetime.fromisoformat(value["$time"])
        return {k: _rich(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rich(v) for v in value]
    return value


def trail_json(state: TrailState) -> Any:
    """A trail as read and judged for the sweep (its baseline too), for a sweep message."""
    baseline = state.baseline
    return _plain({"description": state.description, "status": state.status, "selectors": state.selectors,
                   "error": state.error, "extra": state.extra,
                   "baseline": [baseline.to_json(), baseline.recorded_at] if baseline else None})  # fmt: skip


def trail_from_json(data: Mapping[str, Any]) -> TrailState:
    data = _rich(dict(data))
    stored = data.get("baseline")
    baseline = Baseline.from_json(str(stored[0]), int(stored[1])) if stored else None
    return TrailState(data["description"], data.get("status"), data.get("selectors"), data.get("error"),
                      baseline=baseline, extra=data.get("extra") or {})  # fmt: skip


@dataclass(frozen=True)
class Order:
    """One account to sweep, as the scheduled sweep put it on the queue. The organization's trails, as that
    sweep read them, are stored once for all its orders (``StateTable.save_shared``), not in each message:
    a trail with hundreds of selector values would otherwise push ten messages past SQS's batch limit."""

    sweep_id: str
    account: Account
    regions: tuple[str, ...]

    def body(self) -> str:
        return json.dumps({"kind": MESSAGE_KIND, "sweep": self.sweep_id, "account": self.account.id,
                           "name": self.account.name, "regions": list(self.regions)})  # fmt: skip

    @classmethod
    def parse(cls, body: str) -> Order:
        """The order in a message body; ``ValueError`` naming what is wrong."""
        data = json.loads(body)
        if not isinstance(data, dict) or data.get("kind") != MESSAGE_KIND:
            raise ValueError("not a trailguard sweep message")
        account, sweep = str(data.get("account", "")), str(data.get("sweep", ""))
        if not (len(account) == 12 and account.isdigit()) or not sweep:
            raise ValueError("the message names no account or no sweep")
        regions = tuple(str(r) for r in data.get("regions") or ())
        return cls(sweep, Account(account, str(data.get("name", ""))), regions)


def shared_json(trails: Iterable[TrailState]) -> str:
    return json.dumps([trail_json(t) for t in trails])


def shared_from_json(text: str) -> tuple[TrailState, ...]:
    return tuple(trail_from_json(t) for t in json.loads(text))


def enqueue(sqs: Any, queue_url: str, orders: Sequence[Order], send: Callable[..., Any] | None = None) -> None:
    """Put one message per account on the sweep queue (SendMessageBatch, 10 at a time); entries SQS did not
    take are sent again once, then the sweep fails (and Lambda retries it: a repeated order costs a read, the
    sweep's alerts are deduplicated)."""
    send = send or sqs.send_message_batch
    for start in range(0, len(orders), 10):
        entries = [{"Id": str(n), "MessageBody": o.body()} for n, o in enumerate(orders[start : start + 10])]
        for _ in range(2):
            failed = {f["Id"] for f in send(QueueUrl=queue_url, Entries=entries).get("Failed", [])}
            entries = [e for e in entries if e["Id"] in failed]
            if not entries:
                break
        if entries:
            raise RuntimeError(f"SQS did not take {len(entries)} sweep message(s) for {queue_url}")
