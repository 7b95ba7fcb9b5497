"""What an alert says, as data, and how one is made from a verdict. Rendering for Slack and email lives in
``render``; sending in ``send``.

An ``Alert`` is built once per event (or per sweep change), stored with the delivery record so that a retry
sends every channel the very same message, and rendered per channel by pure functions. Only counted findings
are alerted: exempt and advisory ones are not.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, astuple, dataclass, field
from typing import Any, Literal

from .arn import TrailArn, partition_of
from .events import Actor, TrailCall
from .render.fix import cli
from .rules import SEVERITIES, Finding, Severity, worst

AlertKind = Literal["drift", "failed-attempt", "unjudged", "sweep-drift", "sweep-compliant", "sweep-exempt", "tampered"]
# What one finding may carry, so that a stored alert stays far below DynamoDB's item limit and a message below
# Slack's and SNS's: a fix for a trail with hundreds of long selector values can run to megabytes.
MAX_MESSAGE_CHARS = 2_000
MAX_FIX_CHARS = 4_000
MAX_ACTION_CHARS = 4_000  # what the detector did: a revert's calls, which can carry every selector value
CUT_FIX = "\n# ... cut here: the full command is too long for an alert; `trailguard audit --format json` prints it"

CONSOLE_HOSTS = {
    "aws": "console.aws.amazon.com",
    "aws-cn": "console.amazonaws.cn",
    "aws-us-gov": "console.amazonaws-us-gov.com",
}


@dataclass(frozen=True)
class AlertFinding:
    rule: str
    severity: Severity
    message: str
    fix: str = ""
    hint: str = ""


@dataclass(frozen=True)
class Alert:
    """One notification. ``key`` is what delivery is deduplicated on (the event id, or a sweep key)."""

    key: str
    kind: AlertKind
    severity: Severity
    summary: str
    account: str
    region: str
    trail_name: str
    trail_arn: str | None = None
    event_name: str | None = None
    actor: Actor | None = None
    findings: tuple[AlertFinding, ...] = ()
    action: str = "Nothing: alert only (REMEDIATION_MODE=off)."
    console_url: str = ""
    error: str = ""
    account_name: str = ""  # the account's name in its organization, when known
    reported: dict[str, str] = field(default_factory=dict)  # a sweep alert: what it reports, subject -> findings
    note: str = ""  # said at sending time only (a possible repeat), never stored
    outcome: str = ""  # "reverted" (verified) or "would-revert" (dry-run): what the headline and subject say
    calls: str = ""  # the revert's calls (made, or that would be), one whole command a line
    resolved: tuple[str, ...] = ()  # a sweep alert: the rules reported before that no longer fire
    # A drift alert: the trail as the alert shows it (``baseline.state_digest``), so that a person's answer to
    # it (a Slack button) acts only while the trail is still as shown.
    state: str = ""
    snoozed: str = ""  # the snoozes that held back some of the trail's findings, said in the alert

    @property
    def rules(self) -> list[str]:
        return sorted({f.rule for f in self.findings})

    def to_json(self) -> str:
        data = asdict(self)
        del data["note"]
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Alert:
        data: dict[str, Any] = json.loads(text)
        actor = data.pop("actor")
        findings = tuple(AlertFinding(**f) for f in data.pop("findings"))
        data["resolved"] = tuple(data.get("resolved", ()))
        return cls(**data, actor=Actor(**actor) if actor else None, findings=findings)


MAX_CALLS_CHARS = 8_000  # a revert's commands, stored whole: the ones beyond are left out and counted


def whole_commands(commands: Iterable[str], limit: int) -> str:
    """The commands one a line, as many whole ones as fit ``limit`` characters; the rest left out and said so
    (never cut inside one: a command cut mid-JSON cannot be pasted)."""
    listed = [c for c in commands if c]
    kept: list[str] = []
    for number, command in enumerate(listed):
        more = len(listed) - number - 1
        note = f"\n# ... and {more + 1} more, left out here to stay inside the message's limits" if more else ""
        if len("\n".join([*kept, command])) + len(note) > limit:
            return "\n".join([*kept, f"# ... and {len(listed) - number} more, left out here to stay inside the "
                                       "message's limits"])  # fmt: skip
        kept.append(command)
    return "\n".join(kept)


def alert_findings(findings: Iterable[Finding]) -> tuple[AlertFinding, ...]:
    """Findings as an alert carries them: words and the fix to paste (an expired exemption is said)."""
    return tuple(
        AlertFinding(
            f.rule,
            f.severity,
            _cut(f.message, MAX_MESSAGE_CHARS, " …")
            + (f" (its exemption applied through {f.waiver.expires})" if f.waiver and f.waiver.expired else ""),
            _cut(cli(f.calls, f.region), MAX_FIX_CHARS, CUT_FIX),
            _cut(f.hint, MAX_MESSAGE_CHARS, " …"),
        )
        for f in findings
    )


def _bounded(actor: Actor) -> Actor:
    """The caller as an alert keeps it: each field of the record cut to a length a person can read."""
    return Actor(*(_cut(str(value), MAX_MESSAGE_CHARS, " …") for value in astuple(actor)))


def _cut(text: str, limit: int, marker: str) -> str:
    return text if len(text) <= limit else text[: limit - len(marker)] + marker


def console_url(trail_arn: str | None, region: str) -> str:
    """The CloudTrail console page of the trail (its trail list when the trail is gone or unknown)."""
    parsed = TrailArn.parse(trail_arn)
    host = CONSOLE_HOSTS.get(parsed.partition if parsed else partition_of(region), CONSOLE_HOSTS["aws"])
    base = f"https://{region}.{host}/cloudtrailv2/home?region={region}#/trails"
    return f"{base}/{trail_arn}" if trail_arn else base


def drift_alert(call: TrailCall, findings: tuple[Finding, ...], trail_arn: str | None, action: str) -> Alert:
    """A watched call left the trail (or the account) drifted: ``findings`` are the counted ones."""
    first = _cut(min(findings, key=lambda f: SEVERITIES.index(f.severity)).message, 500, " …")
    return _about(
        call,
        kind="drift",
        severity=worst([f.severity for f in findings]),
        summary=f"{call.event_name} on trail {call.trail.name} in {call.trail.region}: {first}",
        trail_arn=trail_arn or call.trail.arn,
        findings=alert_findings(findings),
        action=_cut(action, MAX_ACTION_CHARS, " … (cut here: too long for an alert)"),
        console_url=console_url(trail_arn, call.trail.region),
    )


def unjudged_alert(call: TrailCall, why: str, attempts: int) -> Alert:
    """The trail a watched call named could not be read in time on Lambda's last attempt: say so, rather than
    nothing. High: the call may have stopped or blinded the trail, and nobody has looked yet."""
    return _about(
        call,
        kind="unjudged",
        severity="high",
        summary=(
            f"{call.event_name} on trail {call.trail.name} in {call.trail.region}: the trail could not be read "
            f"after {attempts} attempts, so the change was not judged. Check the trail now."
        ),
        action="Nothing: the trail's state is unknown, so nothing was reverted.",
        error=_cut(why, MAX_MESSAGE_CHARS, " …"),
    )


def attempt_alert(call: TrailCall, action: str = "Nothing: the call failed, so nothing changed.") -> Alert:
    how = _cut(f"{call.error_code}: {call.error_message}" if call.error_message else call.error_code,
               MAX_MESSAGE_CHARS, " …")  # fmt: skip
    return _about(
        call,
        kind="failed-attempt",
        severity="low",
        summary=f"{call.event_name} on trail {call.trail.name} in {call.trail.region} was tried and failed ({how}).",
        action=action,
        error=how,
    )


def _about(call: TrailCall, *, kind: AlertKind, severity: Severity, summary: str, **fields: Any) -> Alert:
    """An alert about a watched call: its id, account, region, trail and caller, and ``fields``."""
    arn = fields.pop("trail_arn", call.trail.arn)
    return Alert(
        key=call.event_id,
        kind=kind,
        severity=severity,
        summary=summary,
        account=call.account,
        region=call.trail.region,
        trail_name=call.trail.name,
        trail_arn=arn,
        event_name=call.event_name,
        actor=_bounded(call.actor),
        **{"console_url": console_url(call.trail.arn, call.trail.region), **fields},
    )


def delivery_alert(
    key: str, event_name: str, *, service: str, resource: str, account: str, region: str, actor: Actor,
    findings: tuple[Finding, ...], trail_name: str, trail_arn: str | None,
    action: str = "Nothing: a person must fix the bucket policy, key or log group (see the findings).",
) -> Alert:  # fmt: skip
    """A call on a bucket, key or log group left a trail that uses it unable to deliver or encrypt its logs (or
    an organization-level call removed CloudTrail's reach)."""
    first = _cut(min(findings, key=lambda f: SEVERITIES.index(f.severity)).message, 500, " …")
    return _side_call(
        key, event_name, account=account, region=region, about=trail_name, actor=actor, kind="drift",
        severity=worst([f.severity for f in findings]),
        summary=f"{event_name} on {service} {_cut(resource, 300, ' …')} in {region}: {first}",
        trail_arn=trail_arn, findings=alert_findings(findings), action=action,
        console_url=console_url(trail_arn, region),
    )  # fmt: skip


def _side_call(
    key: str, event_name: str, *, account: str, region: str, about: str, actor: Actor, **fields: Any
) -> Alert:
    """An alert about a call on another service's resource (not a trail's own call): its id, where, what it is
    about and who made it, and ``fields``."""
    return Alert(key=key, account=account, region=region, trail_name=about, event_name=event_name,
                 actor=_bounded(actor), **fields)  # fmt: skip


PART = "the detector's "  # how a detector part is named where an alert names a trail
PIPELINE = "(event pipeline)"  # what a heartbeat's alert names where an alert names a trail


def tamper_alert(
    key: str, event_name: str, *, part: str, account: str, region: str, actor: Actor, findings: tuple[Finding, ...],
    error: str = "",
) -> Alert:  # fmt: skip
    """A call disabled, deleted or redirected a part of the detector (``findings``), or tried to and failed
    (``error``: a failed attempt, low, with no findings). ``part`` starts with ``PART``: what it is and its name."""
    if error:
        return _side_call(
            key, event_name, account=account, region=region, about=part, actor=actor, kind="failed-attempt",
            severity="low",
            summary=f"{event_name} on {_cut(part, 300, ' …')} in {region} was tried and failed "
            f"({_cut(error, 300, ' …')}).",
            action="Nothing: the call failed, so nothing changed.", error=_cut(error, MAX_MESSAGE_CHARS, " …"),
        )  # fmt: skip
    return _side_call(
        key, event_name, account=account, region=region, about=part, actor=actor, kind="tampered",
        severity=worst([f.severity for f in findings]),
        summary=f"{event_name} on {_cut(part, 300, ' …')} in {region}: {_cut(findings[0].message, 500, ' …')}",
        findings=alert_findings(findings),
        action="Nothing: a person must restore the detector (see the findings); trailguard does not undo this.",
    )  # fmt: skip


def sweep_alert(
    key: str, findings: tuple[Finding, ...], *, what: str, region: str, account: str, action: str,
    trail_name: str, trail_arn: str | None = None, exempt: bool = False,
) -> Alert:  # fmt: skip
    """A change the sweep found for a trail or the account: new findings, or compliant (or exempt) again."""
    if findings:
        summary = f"The backstop sweep found {what} non-compliant: {findings[0].message}"
    elif exempt:
        summary = f"{what[0].upper()}{what[1:]}, reported before, is no longer reported: its findings are exempt."
    else:
        summary = f"{what[0].upper()}{what[1:]}, reported before, is compliant again."
    return Alert(
        key=key,
        kind="sweep-drift" if findings else "sweep-exempt" if exempt else "sweep-compliant",
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
