"""A snooze: a person's "I have seen this, give me time", for one trail, bounded and visible.

A snooze covers the rules that fired on the trail when it was set (the alert's, or the trail's as read then),
never ``detector-tampered``, ``event-pipeline-silent`` or any other rule no exemption may cover, and lasts at
most ``MAX_SECONDS``. While it runs, the findings it covers are shown marked "snoozed until ... by ...: why"
(in the sweep's results and the audit's) and are neither alerted nor reverted; any other rule that fires on
the trail is alerted as ever, and the alert says the trail is snoozed. It is applied as a live exemption of
the trail (see ``exemptions``), read from the state table at each invocation. Pure: plain data in and out.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from dataclasses import dataclass

from .exemptions import Exemption
from .rules import REGISTRY, Finding
from .rules.no_compliant_trail import NO_COMPLIANT_TRAIL

MAX_SECONDS = 24 * 3600
PREFIX = "snoozed until"  # how every snoozed finding's reason begins
_PART = re.compile(r"(\d+)([smhd])", re.ASCII)
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class DurationError(ValueError):
    """A snooze duration that cannot be used; the message is one sentence."""


def parse_duration(text: str) -> int:
    """Seconds in ``2h``, ``90m``, ``1h30m`` or ``45s`` (at most ``MAX_SECONDS``); ``DurationError`` otherwise."""
    spoken = text.strip().lower()
    if not spoken or _PART.sub("", spoken):
        raise DurationError(f"--for must be a duration like 2h, 90m or 1h30m, not {text!r}")
    seconds = sum(int(n) * _UNIT[unit] for n, unit in _PART.findall(spoken))
    if not 0 < seconds <= MAX_SECONDS:
        raise DurationError(f"--for must be more than 0 and at most 24h (a snooze is bounded), not {text!r}")
    return seconds


ACCOUNT_RULE = NO_COMPLIANT_TRAIL.id  # what the trail's drift may also cost the account, snoozed with it


def snoozable(rules: Iterable[str]) -> tuple[str, ...]:
    """The rules a snooze may cover: those an exemption may, and the account's ``no-compliant-trail`` that the
    alert showed with them (a snooze is a person's, bounded and visible; an exemption file is for good). Never
    the detector's own health, nor "could not tell"."""
    return tuple(sorted({r for r in rules if r in REGISTRY and (REGISTRY[r].exemptible or r == ACCOUNT_RULE)}))


@dataclass(frozen=True)
class Snooze:
    arn: str  # the trail
    until: int  # epoch seconds
    by: str  # who set it: a caller ARN, or a Slack user
    reason: str
    rules: tuple[str, ...]
    at: int = 0  # when it was set
    account: str = ""  # where the trail was read: the account whose no-compliant-trail it may cover

    def active(self, now: float) -> bool:
        return now < self.until

    @property
    def label(self) -> str:
        """How a finding it covers is marked: ``snoozed until 2026-11-28 21:07 UTC by <who>: <why>``."""
        when = datetime.datetime.fromtimestamp(self.until, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        return f"{PREFIX} {when} by {self.by}: {self.reason or 'no reason given'}"

    def exemption(self) -> Exemption:
        """The snooze as the evaluator applies it: an exemption of this trail for its rules, already bounded in
        time by the reader (only an active snooze is applied)."""
        return SnoozeExemption(trail=self.arn, rules=self.rules, reason=self.label, account=self.account)


@dataclass(frozen=True)
class SnoozeExemption(Exemption):
    """An exemption that also covers its account's ``no-compliant-trail`` when the snooze names that rule."""

    def covers(self, finding: Finding, account: str) -> bool:
        if finding.trail_arn is None and finding.rule == ACCOUNT_RULE:
            return ACCOUNT_RULE in self.rules and bool(self.account) and (finding.account or account) == self.account
        return super().covers(finding, account)


def snoozed_findings(findings: Iterable[Finding]) -> str:
    """The snoozes that hold back some of ``findings`` (live exemptions that are snoozes), said once each; ""
    when none does."""
    return "; ".join(sorted({f.waiver.reason for f in findings if f.exempt and f.waiver and
                             f.waiver.reason.startswith(PREFIX)}))  # fmt: skip
