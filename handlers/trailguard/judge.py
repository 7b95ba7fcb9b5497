"""The judgement: does a trail, and does the account, log all management events, read and write?

Pure: plain data in (DescribeTrails items, GetTrailStatus and GetEventSelectors answers, baselines, the
operator's policy), findings out. Every trail rule of the registry is run over each trail's facts; the
account is compliant (CIS AWS 3.1) when some trail without a counted finding covers it. Imports nothing that
does I/O or formats text.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from . import exemptions as exempting
from .arn import TrailArn, account_of
from .baseline import Baseline
from .exemptions import Exemption
from .rules import REGISTRY, Call, Facts, Finding, Waiver, in_order
from .rules.logging_gap import LOGGING_GAP
from .rules.no_compliant_trail import NO_COMPLIANT_TRAIL
from .rules.not_evaluable import NOT_EVALUABLE
from .rules.organization_trail_elsewhere import ORGANIZATION_TRAIL_ELSEWHERE
from .rules.trail_deleted import TRAIL_DELETED

Outcome = Literal["compliant", "findings", "unknown"]


@dataclass(frozen=True)
class Policy:
    """What the operator decided: event sources that may be excluded, and the exemptions file."""

    allowed_excluded_sources: frozenset[str] = frozenset()
    exemptions: tuple[Exemption, ...] = ()
    today: datetime.date | None = None  # for exemption expiry; None: the current UTC date

    @property
    def date(self) -> datetime.date:
        return self.today or exempting.today()


@dataclass(frozen=True)
class TrailState:
    """One trail as read from the account: its description, and status and selectors unless unreadable."""

    description: Mapping[str, Any]
    status: Mapping[str, Any] | None = None
    selectors: Mapping[str, Any] | None = None
    error: str | None = None
    baseline: Baseline | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # what the rules' own reads found

    @property
    def arn(self) -> str:
        return str(self.description.get("TrailARN", ""))

    @property
    def name(self) -> str:
        return str(self.description.get("Name", ""))

    @property
    def home_region(self) -> str:
        parsed = TrailArn.parse(self.arn)
        return str(self.description.get("HomeRegion") or (parsed.region if parsed else ""))

    @property
    def owner_account(self) -> str:
        parsed = TrailArn.parse(self.arn)
        return parsed.account if parsed else ""

    def facts(self, policy: Policy, ident: str = "") -> Facts:
        return Facts(
            self.description, self.status or {}, self.selectors or {}, self.baseline,
            policy.allowed_excluded_sources, ident, extra=self.extra,
        )  # fmt: skip


@dataclass(frozen=True)
class TrailVerdict:
    trail: TrailState
    findings: tuple[Finding, ...]
    evaluated: bool

    @property
    def compliant(self) -> bool:
        """Logs what the policy asks: evaluated, and no finding but advisory ones (exemptions do not make a
        trail log management events, so they never make it cover the account)."""
        return self.evaluated and all(REGISTRY[f.rule].advisory for f in self.findings)

    @property
    def counted(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.counted)

    @property
    def exempt(self) -> bool:
        """Every finding that would count is exempt (and there is one)."""
        return any(f.exempt for f in self.findings) and not self.counted

    @property
    def snoozed(self) -> Waiver | None:
        """The snooze that alone keeps this trail from being compliant (every finding but advisory ones held
        back by a snooze), or None."""
        held = [f for f in self.findings if not REGISTRY[f.rule].advisory]
        if not self.evaluated or not held or not all(f.exempt and f.waiver and f.waiver.snoozed for f in held):
            return None
        return held[0].waiver


@dataclass(frozen=True)
class AccountVerdict:
    account: str
    trails: tuple[TrailVerdict, ...]
    findings: tuple[Finding, ...] = field(default=())
    unread_regions: tuple[str, ...] = ()

    @property
    def covered(self) -> bool:
        """CIS AWS 3.1: some compliant trail covers the account."""
        return any(t.compliant for t in self.trails)

    @property
    def all_findings(self) -> list[Finding]:
        return [f for t in self.trails for f in t.findings] + list(self.findings)

    @property
    def counted(self) -> list[Finding]:
        return [f for f in self.all_findings if f.counted]

    def outcome(self) -> Outcome:
        """The one verdict. ``findings`` when a counted finding says drift; ``unknown`` when the rest could not
        be told (a trail or a region unread); ``compliant`` when a compliant trail covers the account and no
        finding counts. Exempt and advisory findings never count."""
        counted = self.counted
        if any(not REGISTRY[f.rule].unknown for f in counted):
            return "findings"
        if counted or self.unread_regions or not self.covered:
            return "unknown"
        return "compliant"

    @property
    def compliant(self) -> bool:
        return self.outcome() == "compliant"


def evaluate_trail(facts: Facts, account: str = "") -> list[Finding]:
    """Every trail-level finding for one trail, in the registry's order, each with its fix and hint."""
    fired = [(rule, message) for rule in in_order() if rule.scope == "trail" and (message := rule.fires(facts))]
    ids = [rule.id for rule, _ in fired if rule.exemptible]
    return [
        rule.finding(message, facts, account=account, hint=rule.hint(facts, ids) if rule.hint else "")
        for rule, message in fired
    ]


def _judge(state: TrailState, account: str, policy: Policy) -> TrailVerdict:
    facts = state.facts(policy)
    elsewhere: tuple[Finding, ...] = ()
    if state.description.get("IsOrganizationTrail") and account and state.owner_account not in ("", account):
        message = (
            f"Trail {state.name!r} is an organization trail owned by account {state.owner_account}; it is judged "
            "here by its ARN, and only that account can change it."
        )
        elsewhere = (ORGANIZATION_TRAIL_ELSEWHERE.finding(message, facts, account=account),)
    if state.error or state.status is None or state.selectors is None:
        message = f"Trail {state.name!r} could not be read: {state.error or 'no status or selectors'}."
        return TrailVerdict(state, (NOT_EVALUABLE.finding(message, facts, account=account), *elsewhere), False)
    return TrailVerdict(state, (*evaluate_trail(facts, account), *elsewhere), evaluated=True)


def _exempted(findings: Sequence[Finding], account: str, policy: Policy) -> tuple[Finding, ...]:
    if not policy.exemptions:
        return tuple(findings)
    return tuple(exempting.apply(findings, policy.exemptions, account, policy.date))


def evaluate_account(
    account: str,
    trails: Sequence[TrailState],
    policy: Policy = Policy(),
    region: str = "us-east-1",
    unread_regions: Sequence[str] = (),
) -> AccountVerdict:
    """Judge every trail and the account (CIS 3.1: at least one compliant trail); ``region`` is where an
    account-level fix is made (the caller's own region).

    A trail regression is ``high`` while another compliant trail remains, ``critical`` when none does.
    When no trail is compliant but some trail or region could not be read, the account's verdict is
    unknown (``not-evaluable``), not drift.
    """
    judged = [_judge(t, account, policy) for t in trails]
    verdicts = [replace(v, findings=_exempted(v.findings, account, policy)) for v in judged]
    where, unread = Facts(region=region), tuple(unread_regions)
    if any(v.compliant for v in verdicts):
        return AccountVerdict(account, tuple(verdicts), unread_regions=unread)
    unjudged = [v for v in verdicts if not v.evaluated]
    if unjudged or unread_regions:
        gaps = [f"{len(unjudged)} trail(s) could not be judged"] if unjudged else []
        gaps += [f"regions {', '.join(unread_regions)} could not be read"] if unread_regions else []
        message = (
            f"No trail was found compliant and {' and '.join(gaps)}, "
            "so whether the account logs all management events is unknown."
        )
        unknown = NOT_EVALUABLE.finding(message, where, account=account)
        return AccountVerdict(account, tuple(verdicts), (unknown,), unread)
    escalated = [  # what counts is critical now: nothing covers the account
        replace(v, findings=tuple(replace(f, severity="critical") if f.counted and f.severity == "high" else f
                                  for f in v.findings))
        for v in verdicts
    ]  # fmt: skip
    count = len(verdicts)
    shortest = _shortest_fix(verdicts, account)
    if shortest is not None:  # the fewest calls that make one trail compliant: that is the fix to paste
        calls, home, name = shortest
        create = NO_COMPLIANT_TRAIL.finding("", where, account=account).calls
        message = (f"No trail in account {account} logs all management events from every region. The shortest "
                   f"fix puts trail {name} right, with its own findings' fixes; or create a trail.")  # fmt: skip
        finding = replace(NO_COMPLIANT_TRAIL.finding(message, where, account=account,
                                                     hint=f"Or create a trail: {_cli(create, region)}"),
                          calls=calls, region=home)  # fmt: skip
        return AccountVerdict(account, tuple(escalated), (_held(finding, verdicts),), unread)
    fix = (" Fix the trail, or create one:" if count == 1 else f" Fix one of the {count} trails, or create one:"
           if count else " Create one:")  # fmt: skip
    message = f"No trail in account {account} logs all management events from every region.{fix}"
    finding = NO_COMPLIANT_TRAIL.finding(message, where, account=account)
    return AccountVerdict(account, tuple(escalated), (_held(finding, verdicts),), unread)


def _held(finding: Finding, verdicts: Sequence[TrailVerdict]) -> Finding:
    """``no-compliant-trail``, held back by the snooze of a trail that is compliant but for its snoozed findings
    (what a person chose to give time to); never by the exemptions file."""
    snoozes = [v.snoozed for v in verdicts if v.snoozed is not None]
    return replace(finding, waiver=snoozes[0]) if snoozes else finding


SHORTEST_FIX = 3  # calls at most: beyond that, a person is better served by the trails' own findings


def _shortest_fix(verdicts: Sequence[TrailVerdict], account: str) -> tuple[tuple[Call, ...], str, str] | None:
    """(calls, home region, name) of the account's own trail that the fewest calls make compliant, when every
    finding that counts on it has a fix that needs no person's input; None when there is none."""
    best: tuple[tuple[Call, ...], str, str] | None = None
    for verdict in verdicts:
        trail = verdict.trail
        if not verdict.evaluated or not trail.arn or account_of(trail.arn) != account or not verdict.counted:
            continue
        if any(not REGISTRY[f.rule].revertible or not f.calls for f in verdict.counted):
            continue
        if any(f.exempt and not REGISTRY[f.rule].advisory for f in verdict.findings):
            continue  # an exempt finding still keeps the trail from covering the account: fixing the rest is not enough
        unique = {json.dumps(call, sort_keys=True, default=str): call for f in verdict.counted for call in f.calls}
        calls = tuple(unique.values())
        if len(calls) <= SHORTEST_FIX and (best is None or len(calls) < len(best[0])):
            best = (calls, trail.home_region, trail.name)
    return best


def _cli(calls: Sequence[Call], region: str) -> str:
    from .render.fix import cli

    return cli(calls, region)


# --- a watched call, judged -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallReading:
    """What was read for one watched call: the home region's DescribeTrails listing (None when it failed),
    the named trail's state (None when it is not listed) and its stored baseline."""

    listing: tuple[Mapping[str, Any], ...] | None
    trail: TrailState | None
    baseline: Baseline | None = None
    error: str = ""
    transient: tuple[str, ...] = ()  # reads that failed for now (throttled, 5xx, no answer): worth a retry

    def others(self) -> list[Mapping[str, Any]]:
        """The account's other multi-region trails: only they can keep it covered."""
        mine = self.trail.arn if self.trail else None
        return [t for t in self.listing or () if t.get("IsMultiRegionTrail") and t.get("TrailARN") != mine]


@dataclass(frozen=True)
class CallVerdict:
    """The event's trail as it is now (None when it is gone) and the findings about it and the account."""

    trail: TrailState | None
    findings: tuple[Finding, ...]
    baseline: Baseline | None = None
    unread: str = ""  # reads that failed for now, when the judgement had to be made anyway (the last attempt)
    others: tuple[TrailVerdict, ...] = ()  # the account's other trails, when they had to be judged too

    @property
    def trail_arn(self) -> str | None:
        return self.trail.arn if self.trail else None

    @property
    def counted(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.counted)


def judge_call(  # noqa: PLR0917 - the call's trail, as the event named it, then what was read
    trail_name: str,
    trail_arn: str | None,
    region: str,
    account: str,
    reading: CallReading,
    policy: Policy,
    others: Sequence[TrailState] | None = None,
) -> CallVerdict | None:
    """Judge the trail a call named and, when it is no longer compliant, the account with ``others`` (the
    states of ``reading.others()``). None when those are needed and not given yet: read them, then call again."""
    if reading.listing is None:
        state = TrailState({"Name": trail_name, "TrailARN": trail_arn or "", "HomeRegion": region},
                           error=reading.error)  # fmt: skip
        return CallVerdict(state, tuple(evaluate_account(account, [state], policy, region).all_findings))
    if reading.trail is None:
        if others is None:
            return None
        verdict = evaluate_account(account, others, policy, region)
        gone = {"Name": trail_name, "TrailARN": trail_arn or "", "HomeRegion": region}
        message = f"Trail {trail_name!r} ({region}) no longer exists." + (
            "" if verdict.covered else " No compliant trail remains in the account."
        )
        facts = Facts(gone, baseline=reading.baseline, region=region)
        deleted = TRAIL_DELETED.finding(message, facts, account=account,
                                        severity="high" if verdict.covered else "critical")  # fmt: skip
        (deleted,) = _exempted([deleted], account, policy)
        return CallVerdict(None, (deleted, *verdict.findings), reading.baseline, others=verdict.trails)
    alone = evaluate_account(account, [reading.trail], policy, region)
    if alone.covered:
        return CallVerdict(reading.trail, alone.trails[0].findings, reading.baseline)
    if others is None:
        return None
    verdict = evaluate_account(account, [reading.trail, *others], policy, region)
    return CallVerdict(reading.trail, (*verdict.trails[0].findings, *verdict.findings), reading.baseline,
                       others=verdict.trails[1:])  # fmt: skip


# --- a gap: the call's effect, undone before the trail was read --------------------------------------------

NARROWING = frozenset({"StopLogging", "DeleteTrail", "PutEventSelectors", "UpdateTrail"})


def logging_gap(  # noqa: PLR0917 - the call as its record tells it, then the trail as it is now
    event_name: str,
    parameters: Mapping[str, Any],
    actor: str,
    event_time: str,
    trail: TrailState,
    policy: Policy,
    account: str,
) -> Finding | None:
    """When a successful watched call switched ``trail``'s logging off or narrowed it, and the trail (judged
    compliant now) is back: the gap, saying who, what was set, and for how long where the status tells.
    None when the call did not narrow anything."""
    facts = trail.facts(policy)
    who = f" by {actor}" if actor else ""
    if event_name == "StopLogging":
        what = f"stopped{who} at {event_time or 'an unknown time'}"
        lasted = _lasted(trail.status or {})
    elif event_name == "DeleteTrail":
        what, lasted = f"deleted{who} at {event_time or 'an unknown time'} and created again since", ""
    elif event_name == "UpdateTrail":
        narrowed = [label for key, label in (("IsMultiRegionTrail", "made single-region"),
                                             ("IncludeGlobalServiceEvents", "set to exclude global service events"))
                    if parameters.get(key) is False]  # fmt: skip
        if not narrowed:
            return None
        what, lasted = f"{' and '.join(narrowed)}{who} at {event_time or 'an unknown time'}", ""
    elif event_name == "PutEventSelectors":
        set_to = {k: parameters[k] for k in ("EventSelectors", "AdvancedEventSelectors") if k in parameters}
        if not set_to:
            return None
        judged = _exempted(evaluate_trail(replace(facts, selectors=set_to), account), account, policy)
        dropped = [f for f in judged if REGISTRY[f.rule].coverage_setting and f.counted]  # exempt: what it is for
        if not dropped:
            return None
        less = dropped[0].message.rstrip(".")
        what = f"given selectors{who} at {event_time or 'an unknown time'} that logged less ({less})"
        lasted = ""
    else:
        return None
    message = (
        f"Trail {trail.name!r} was {what}; it logs all management events again now, but events made in between "
        f"were not logged{lasted}. Look for what was done in that window in other logs (the service's own, "
        "AWS Config, VPC flow logs)."
    )
    (gap,) = _exempted([LOGGING_GAP.finding(message, facts, account=account)], account, policy)
    return gap


def _lasted(status: Mapping[str, Any]) -> str:
    """ " for <duration> (from <stop> to <start>)" when the status gives both times, else ""."""
    stopped, started = status.get("StopLoggingTime"), status.get("StartLoggingTime")
    if not isinstance(stopped, datetime.datetime) or not isinstance(started, datetime.datetime) or started < stopped:
        return ""
    seconds = int((started - stopped).total_seconds())
    span = f"{seconds // 3600} h {seconds % 3600 // 60} min" if seconds >= 3600 else (
        f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s")  # fmt: skip
    return f" for {span} (from {stopped.isoformat()} to {started.isoformat()})"
