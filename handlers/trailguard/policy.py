"""The policy: does a trail, and does the account, log all management events, read and write?

Pure: plain data in (DescribeTrails item, GetTrailStatus and GetEventSelectors responses), findings out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .baseline import Baseline, changed_destinations, describe_change, validation_disabled
from .fixes import account_fix_command, arn_region, home_region, trail_fix_command
from .rules import RULES, Severity
from .selectors import EVERY_OTHER_SOURCE, READ, WRITE, Coverage, coverage


@dataclass(frozen=True)
class Settings:
    allowed_excluded_sources: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    message: str
    trail_arn: str | None = None
    fix: str = ""

    def to_dict(self) -> dict[str, Any]:
        rule = RULES[self.rule]
        return {
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "trail_arn": self.trail_arn,
            "fix": {"cli": self.fix, "cloudformation": rule.cloudformation, "terraform": rule.terraform},
        }


@dataclass(frozen=True)
class TrailState:
    """One trail as read from the account: its description, and status and selectors unless unreadable."""

    description: Mapping[str, Any]
    status: Mapping[str, Any] | None = None
    selectors: Mapping[str, Any] | None = None
    error: str | None = None
    baseline: Baseline | None = None

    @property
    def arn(self) -> str:
        return str(self.description.get("TrailARN", ""))

    @property
    def name(self) -> str:
        return str(self.description.get("Name", ""))

    @property
    def home_region(self) -> str:
        return str(self.description.get("HomeRegion") or arn_region(self.arn))

    @property
    def owner_account(self) -> str:
        parts = self.arn.split(":")
        return parts[4] if len(parts) > 5 else ""


@dataclass(frozen=True)
class TrailVerdict:
    trail: TrailState
    findings: tuple[Finding, ...]
    evaluated: bool

    @property
    def compliant(self) -> bool:
        return self.evaluated and not self.findings


@dataclass(frozen=True)
class AccountVerdict:
    account: str
    trails: tuple[TrailVerdict, ...]
    findings: tuple[Finding, ...] = field(default=())

    @property
    def compliant(self) -> bool:
        return any(t.compliant for t in self.trails) and not self.findings

    @property
    def all_findings(self) -> list[Finding]:
        return [f for t in self.trails for f in t.findings] + list(self.findings)


def _finding(
    rule: str,
    message: str,
    trail: Mapping[str, Any],
    selectors: Mapping[str, Any] | None,
    settings: Settings,
    *,
    baseline: Baseline | None = None,
) -> Finding:
    fix = trail_fix_command(rule, trail, selectors, settings.allowed_excluded_sources, baseline)
    return Finding(rule, RULES[rule].severity, message, str(trail.get("TrailARN") or "") or None, fix)


def _listing(items: Iterable[str], most: int = 5) -> str:
    items = sorted(items)
    shown = ", ".join(items[:most])
    return shown + (f" and {len(items) - most} more" if len(items) > most else "")


def _selector_problems(name: str, cov: Coverage) -> list[tuple[str, str]]:
    if not cov.selectors:
        return [
            ("management-events-excluded", f"Trail {name} has no event selectors, so it logs no management events.")
        ]
    problems: list[tuple[str, str]] = []
    if not cov.logs_anything:
        problems.append(("management-events-excluded", f"Trail {name}: no selector logs management events."))
    else:
        for half, other in ((READ, "write"), (WRITE, "read")):
            if cov.half_missing(half):
                missing = "read" if half == READ else "write"
                problems.append(
                    (
                        "management-events-partial",
                        f"Trail {name} logs only {other} management events; {missing} events are not logged.",
                    )
                )
        dropped = cov.missing_sources()
        if dropped:
            halves = {rw for rws in dropped.values() for rw in rws}
            kind = "" if len(halves) == 2 else ("read " if halves == {READ} else "write ")
            if EVERY_OTHER_SOURCE in dropped:
                what = f"logs {kind}management events only from {_listing(cov.logged_sources())}"
            else:
                what = f"drops {kind}management events from {_listing(dropped)}"
            problems.append(("management-sources-excluded", f"Trail {name} {what}."))
    if cov.maybe_missing != cov.surely_missing and cov.unknown:
        problems.append(
            (
                "selectors-unrecognized",
                f"Trail {name} has management selectors trailguard does not understand ({_listing(cov.unknown, 3)}); "
                "they are treated as logging nothing.",
            )
        )
    return problems


def _baseline_problems(name: str, trail: Mapping[str, Any], baseline: Baseline | None) -> list[tuple[str, str]]:
    if baseline is None:
        return []
    problems = []
    changed = changed_destinations(trail, baseline)
    if changed:
        what = "; ".join(describe_change(trail, baseline, key) for key in changed)
        problems.append(("destination-changed", f"Trail {name} no longer delivers where it did: {what}."))
    if validation_disabled(trail, baseline):
        problems.append(("log-validation-disabled", f"Trail {name} no longer validates its log files."))
    return problems


def evaluate_trail(
    trail: Mapping[str, Any],
    status: Mapping[str, Any],
    selectors: Mapping[str, Any],
    settings: Settings = Settings(),
    baseline: Baseline | None = None,
) -> list[Finding]:
    """Every trail-level finding for one trail, in the rule table's order; ``baseline`` adds drift against it."""
    name = repr(str(trail.get("Name", "")))
    problems: list[tuple[str, str]] = []
    if status.get("IsLogging") is not True:
        problems.append(("logging-stopped", f"Trail {name} is not logging."))
    problems += _selector_problems(name, coverage(selectors, settings.allowed_excluded_sources))
    if trail.get("IsMultiRegionTrail") is not True:
        problems.append(("not-multi-region", f"Trail {name} logs only its home region {home_region(trail)}."))
    if trail.get("IncludeGlobalServiceEvents") is not True:
        problems.append(("global-events-excluded", f"Trail {name} does not log global service events (IAM, STS)."))
    problems += _baseline_problems(name, trail, baseline)
    order = list(RULES)
    problems.sort(key=lambda p: order.index(p[0]))
    return [_finding(rule, message, trail, selectors, settings, baseline=baseline) for rule, message in problems]


def _judge(state: TrailState, account: str, settings: Settings) -> TrailVerdict:
    desc = state.description
    if desc.get("IsOrganizationTrail") and account and state.owner_account not in ("", account):
        message = (
            f"Trail {state.name!r} is an organization trail owned by account {state.owner_account}; "
            "it can only be judged from there."
        )
        return TrailVerdict(state, (Finding("not-evaluable", "low", message, state.arn),), evaluated=False)
    if state.error or state.status is None or state.selectors is None:
        message = f"Trail {state.name!r} could not be read: {state.error or 'no status or selectors'}."
        return TrailVerdict(state, (Finding("not-evaluable", "medium", message, state.arn),), evaluated=False)
    findings = evaluate_trail(desc, state.status, state.selectors, settings, state.baseline)
    return TrailVerdict(state, tuple(findings), evaluated=True)


def evaluate_account(
    account: str,
    trails: Sequence[TrailState],
    settings: Settings = Settings(),
    region: str = "us-east-1",
    unread_regions: Sequence[str] = (),
) -> AccountVerdict:
    """Judge every trail and the account (CIS 3.1: at least one compliant trail).

    A trail regression is ``high`` while another compliant trail remains, ``critical`` when none does.
    When no trail is compliant but some trail or region could not be read, the account's verdict is
    unknown (``not-evaluable``), not drift.
    """
    verdicts = [_judge(t, account, settings) for t in trails]
    if any(v.compliant for v in verdicts):
        return AccountVerdict(account, tuple(verdicts))
    unjudged = [v for v in verdicts if not v.evaluated]
    if unjudged or unread_regions:
        gaps = [f"{len(unjudged)} trail(s) could not be judged"] if unjudged else []
        gaps += [f"regions {', '.join(unread_regions)} could not be read"] if unread_regions else []
        message = (
            f"No trail was found compliant and {' and '.join(gaps)}, "
            "so whether the account logs all management events is unknown."
        )
        return AccountVerdict(account, tuple(verdicts), (Finding("not-evaluable", "medium", message),))
    escalated = [
        replace(v, findings=tuple(replace(f, severity="critical") if f.severity == "high" else f for f in v.findings))
        for v in verdicts
    ]
    count = len(verdicts)
    where = (" Fix the trail, or create one:" if count == 1 else f" Fix one of the {count} trails, or create one:"
             if count else " Create one:")  # fmt: skip
    message = f"No trail in account {account} logs all management events from every region.{where}"
    finding = Finding("no-compliant-trail", "critical", message, None, account_fix_command(region))
    return AccountVerdict(account, tuple(escalated), (finding,))
