"""Exemptions: a reviewed file that says which trails may break which rules, why, and until when.

The file is a JSON list of ``{"trail": "<trail ARN, or a name with * wildcards>", "account": "<optional
account id>", "rules": ["<rule id>", ...] or ["*"], "reason": "<why>", "expires": "<optional YYYY-MM-DD>"}``.
It is read by ``trailguard audit --exemptions FILE``, by the Lambda and by the sweep (the stack ships it and
validates it at synth). Exemptions never come from trail tags: anyone who can tag a trail could otherwise
silence the detector. Rules that are not exemptible (``no-compliant-trail``, the detector's own health) are
refused in the file. An exemption applies through its ``expires`` day (UTC) and stops applying after it.
Pure: parsing takes text, matching takes findings and a date.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .arn import TrailArn
from .rules import REGISTRY, Finding, Waiver

EVERY_RULE = "*"
_ACCOUNT = re.compile(r"[0-9]{12}", re.ASCII)
_NAME_PATTERN = re.compile(r"[A-Za-z0-9._*-]+", re.ASCII)  # CloudTrail's name characters, and * for any
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_KEYS = frozenset({"trail", "account", "rules", "reason", "expires"})


class ExemptionError(ValueError):
    """The exemptions file is wrong; the message is one sentence naming the file and the entry."""


@dataclass(frozen=True)
class Exemption:
    trail: str  # a trail ARN, or a name pattern with * wildcards
    rules: tuple[str, ...]  # rule ids, or ("*",) for every exemptible rule
    reason: str
    account: str = ""
    expires: datetime.date | None = None

    def covers(self, finding: Finding, account: str) -> bool:
        """Whether this exemption names the finding's trail, account and rule (expired or not)."""
        arn = TrailArn.parse(finding.trail_arn)
        if arn is None or not REGISTRY[finding.rule].exemptible:
            return False
        if self.account and self.account != (account or arn.account):
            return False
        subject = str(arn) if self.trail.startswith("arn:") else arn.name
        if not _wildcard(self.trail).fullmatch(subject):
            return False
        return EVERY_RULE in self.rules or finding.rule in self.rules

    def expired(self, today: datetime.date) -> bool:
        return self.expires is not None and today > self.expires

    def waiver(self, today: datetime.date) -> Waiver:
        return Waiver(self.reason, self.expires.isoformat() if self.expires else "", self.expired(today))


def _wildcard(pattern: str) -> re.Pattern[str]:
    """``*`` matches any run of characters; every other character only itself (no ``?`` or ``[...]``)."""
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)


def _entry(raw: Any, where: str) -> Exemption:
    if not isinstance(raw, dict):
        raise ExemptionError(f"{where} must be a JSON object with trail, rules and reason.")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise ExemptionError(f"{where} has an unknown key {unknown[0]!r} (allowed: {', '.join(sorted(_KEYS))}).")
    trail = raw.get("trail")
    if not isinstance(trail, str) or not trail.strip():
        raise ExemptionError(f"{where} must name a trail: its ARN, or a name with * wildcards.")
    trail = trail.strip()
    if trail.startswith("arn:") and TrailArn.parse(trail.replace("*", "x")) is None:
        raise ExemptionError(f"{where}: {trail!r} is not a trail ARN (arn:aws:cloudtrail:REGION:ACCOUNT:trail/NAME).")
    if not trail.startswith("arn:") and not _NAME_PATTERN.fullmatch(trail):
        raise ExemptionError(
            f"{where}: {trail!r} is neither a trail ARN nor a trail name (letters, digits, . _ - and * wildcards)."
        )
    where = f"{where} (trail {trail!r})"
    account = raw.get("account", "")
    if "account" in raw and (not isinstance(account, str) or not _ACCOUNT.fullmatch(account)):
        raise ExemptionError(f"{where}: account must be a 12-digit account id, not {json.dumps(account)}.")
    rules = _rules(raw.get("rules"), where)
    reason = raw.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise ExemptionError(f"{where} must say why: reason is missing or empty.")
    return Exemption(trail, rules, reason.strip(), account, _expiry(raw.get("expires"), where))


def _rules(rules: Any, where: str) -> tuple[str, ...]:
    if not isinstance(rules, list) or not rules or not all(isinstance(r, str) for r in rules):
        raise ExemptionError(f'{where}: rules must be a non-empty list of rule ids, or ["*"].')
    for rule in rules:
        if rule != EVERY_RULE and rule not in REGISTRY:
            raise ExemptionError(f"{where}: {rule!r} is not a rule id (see the README's rule table).")
        if rule != EVERY_RULE and not REGISTRY[rule].exemptible:
            raise ExemptionError(f"{where}: {rule} can never be exempted.")
    return tuple(rules)


def _expiry(value: Any, where: str) -> datetime.date | None:
    if value is None:
        return None
    try:
        if not isinstance(value, str) or not _DATE.fullmatch(value):
            raise ValueError
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise ExemptionError(f"{where}: expires must be a date YYYY-MM-DD, not {value!r}.") from None


class _DuplicateKey(Exception):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    for key in keys:
        if keys.count(key) > 1:
            raise _DuplicateKey(repr(key))
    return dict(pairs)


def parse(text: str, source: str = "the exemptions file") -> tuple[Exemption, ...]:
    """Every entry of an exemptions file, validated; raises ``ExemptionError`` naming the first bad entry."""
    try:
        data = json.loads(text.removeprefix("\ufeff"), object_pairs_hook=_no_duplicates)
    except _DuplicateKey as error:
        raise ExemptionError(f"{source} names {error} twice in one entry: say it once.") from None
    except ValueError as error:
        raise ExemptionError(f"{source} is not valid JSON ({error}).") from None
    except RecursionError:
        raise ExemptionError(f"{source} is nested too deeply to be an exemptions file.") from None
    if not isinstance(data, list):
        raise ExemptionError(f"{source} must hold a JSON list of exemptions, not a {type(data).__name__}.")
    return tuple(_entry(raw, f"{source}: entry {n}") for n, raw in enumerate(data, 1))


def load(path: Path, source: str) -> tuple[str, tuple[Exemption, ...]]:
    """The file's text and its entries; ``source`` names it in the one sentence of an ``ExemptionError``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ExemptionError(f"{source} cannot be read ({error.strerror}).") from None
    except UnicodeDecodeError:
        raise ExemptionError(f"{source} is not UTF-8 text.") from None
    return text, parse(text, source)


def apply(
    findings: Iterable[Finding], exemptions: Sequence[Exemption], account: str, today: datetime.date
) -> list[Finding]:
    """The findings, each with the waiver of the first exemption that covers it (a live one before an expired
    one): exempt findings stay listed, marked, and stop counting; an expired one is listed as expired."""
    result = []
    for finding in findings:
        matching = [e for e in exemptions if e.covers(finding, account)]
        live = [e for e in matching if not e.expired(today)]
        chosen = (live or matching)[:1]
        result.append(replace(finding, waiver=chosen[0].waiver(today)) if chosen else finding)
    return result


def unused(exemptions: Sequence[Exemption], findings: Iterable[Finding], account: str) -> list[int]:
    """The entries (numbered from 1) that cover none of these findings: a typo, or a trail that was fixed."""
    findings = list(findings)
    return [n for n, e in enumerate(exemptions, 1) if not any(e.covers(f, account) for f in findings)]


def today() -> datetime.date:
    return datetime.datetime.now(datetime.UTC).date()
