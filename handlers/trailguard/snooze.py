"""A snooze: a person's "I have seen this, give me time", for one trail, bounded and visible.

A snooze covers the trail's rules (every one, or those a person names), never ``detector-tampered``,
``event-pipeline-silent``, the trail's deletion or any other rule no exemption may cover, and lasts at most
``MAX_SECONDS``. While it runs, the findings it covers are shown marked "snoozed until ... by ...: why" (in
the handler's results and the sweep's) and are neither alerted nor reverted; a rule it does not cover is
alerted as ever, and the alert says the trail is snoozed. The account's ``no-compliant-trail`` is held back
with them only while the snoozed trail is compliant but for its snoozed findings: a trail deleted meanwhile
is alerted. It is applied as a live exemption of
the trail (see ``exemptions``), read from the state table at each invocation. Pure: plain data in and out.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from dataclasses import dataclass

from .exemptions import Exemption
from .rules import REGISTRY, Finding, Waiver
from .rules.trail_deleted import TRAIL_DELETED

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


UNSNOOZED = frozenset({TRAIL_DELETED.id})  # a snoozed trail deleted is alerted all the same


def snoozable(rules: Iterable[str]) -> tuple[str, ...]:
    """The rules a snooze may cover: a trail's rules that an exemption may cover, but its deletion. Never the
    detector's own health, "could not tell", nor the account's ``no-compliant-trail``, which is held back only
    while the trail it fires for is compliant but for its snoozed findings (see ``judge.evaluate_account``)."""
    return tuple(sorted({r for r in rules if r in REGISTRY and REGISTRY[r].exemptible and r not in UNSNOOZED}))


def every_rule() -> tuple[str, ...]:
    """What a snooze of the whole trail covers."""
    return snoozable(REGISTRY)


@dataclass(frozen=True)
class Snooze:
    arn: str  # the trail
    until: int  # epoch seconds
    by: str  # who set it: a caller ARN, or a Slack user
    reason: str
    rules: tuple[str, ...]
    at: int = 0  # when it was set
    account: str = ""  # the account the trail was named in when it was set (recorded; the ARN is what applies)

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
        return SnoozeExemption(trail=self.arn, rules=self.rules, reason=self.label)


@dataclass(frozen=True)
class SnoozeExemption(Exemption):
    """An exemption whose waiver says it is a snooze."""

    def waiver(self, today: datetime.date) -> Waiver:  # noqa: ARG002 - a snooze is read only while it runs
        return Waiver(self.reason, snoozed=True)


def snoozed_findings(findings: Iterable[Finding]) -> str:
    """The snoozes that hold back some of ``findings``, said once each; "" when none does."""
    return "; ".join(sorted({f.waiver.reason for f in findings if f.exempt and f.waiver and f.waiver.snoozed}))
