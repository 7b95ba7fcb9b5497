"""An alert as an SNS email: a subject that SNS accepts whatever the event (printable ASCII, one line, under
100 characters), a plain-text body with the facts of the Slack message, and attributes to filter on. Pure."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

from ..alerts import PART, Alert, AlertFinding
from ..rules import REGISTRY
from .text import (
    NO_FINDINGS,
    TITLES,
    account_label,
    clean,
    clip,
    held_back,
    one_line,
    safe_url,
    status_label,
    subject_label,
)

MAX_SUBJECT = 99  # SNS: "less than 100 characters"
MAX_EMAIL_FINDINGS_BYTES = 150_000  # an SNS message, attributes included, is at most 256 KB
SUBJECT_TITLES = {
    "drift": "drift",
    "failed-attempt": "failed attempt",
    "unjudged": "not judged",
    "sweep-drift": "drift (sweep)",
    "sweep-compliant": "compliant again",
    "sweep-exempt": "exempt now",
    "tampered": "detector tampered",
}


def _ascii(text: str) -> str:
    """Printable ASCII on one line: accents dropped, anything else ``?``."""
    decomposed = unicodedata.normalize("NFKD", one_line(text))
    kept = (c if " " <= c <= "~" else "?" for c in decomposed if not unicodedata.combining(c))
    return " ".join("".join(kept).split())


def email_subject(alert: Alert) -> str:
    """``[trailguard] HIGH drift: prod-trail (123456789012 us-east-1)``: what SNS accepts, whatever the event."""
    trail = _ascii(alert.trail_name.removeprefix(PART)) or "(no trail)"
    if len(trail) > 40:
        trail = trail[:37] + "..."
    title = SUBJECT_TITLES.get(alert.kind, "alert")
    where = _ascii(f"{alert.account} {alert.region}")[:40]
    subject = f"[trailguard] {_ascii(status_label(alert))[:12]} {title}: {trail}" + (f" ({where})" if where else "")
    return subject if len(subject) <= MAX_SUBJECT else subject[: MAX_SUBJECT - 3] + "..."


def notice_subject(what: str, trail_name: str) -> str:
    """``[trailguard] Accepted as baseline: prod-trail``: a person's answer to an alert, as SNS accepts it."""
    trail = _ascii(trail_name) or "(no trail)"
    subject = f"[trailguard] {_ascii(what)[:40]}: {trail}"
    return subject if len(subject) <= MAX_SUBJECT else subject[: MAX_SUBJECT - 3] + "..."


def _value(text: str, limit: int = 1000) -> str:
    return clip(one_line(text), limit) or "(unknown)"


def _indented(text: str, indent: str) -> str:
    return ("\n" + indent).join(clean(text).strip().split("\n"))


def _email_actor(alert: Alert) -> list[str]:
    actor = alert.actor
    if actor is None:
        return ["  No caller: the backstop sweep found this." if alert.kind.startswith("sweep") else "  (unknown)"]
    lines = [f"  Principal:   {_value(actor.arn)}"]
    if actor.principal_type:
        lines.append(f"  Type:        {_value(actor.principal_type)}")
    lines += [
        f"  Source IP:   {_value(actor.source_ip)}",
        f"  User agent:  {_value(actor.user_agent)}",
        f"  Time:        {_value(actor.time)}",
    ]
    if actor.invoked_by:
        lines.append(f"  Invoked by:  {_value(actor.invoked_by)}")
    return lines


def _email_finding(number: int, finding: AlertFinding, reverted: bool = False) -> list[str]:
    lines = [f"  {number}. [{_value(finding.severity, 20).upper()}] {_value(finding.rule, 200)}: "]
    lines[0] += _value(finding.message, 2000)
    rule = REGISTRY.get(finding.rule)
    if rule is not None:
        lines.append(f"     Rule: {rule.meaning}")
    fix = clip(clean(finding.fix).strip(), 20_000)
    if not reverted:  # after a revert, a command to paste would no longer apply
        lines.append(f"     Fix:  {_indented(fix, '           ')}" if fix else "     Fix:  no command to paste.")
    if finding.hint.strip() and not reverted:
        lines.append(f"     Hint: {_value(finding.hint, 2000)}")
    return lines


def _email_findings(alert: Alert) -> list[str]:
    if not alert.findings:
        return ["Findings", "  " + NO_FINDINGS.get(alert.kind, "None.")]
    reverted = alert.outcome == "reverted"
    lines = [f"What the call did ({len(alert.findings)} findings, reverted since and verified)" if reverted
             else f"Findings ({len(alert.findings)})"]  # fmt: skip
    used = 0
    for number, finding in enumerate(alert.findings, 1):
        text = _email_finding(number, finding, reverted)
        used += len("\n".join(text).encode())
        if used > MAX_EMAIL_FINDINGS_BYTES:
            lines.append(f"  … and {len(alert.findings) - number + 1} more findings (message size limit).")
            break
        lines += text
    return lines


def email_body(alert: Alert) -> str:
    """Plain text with the facts of the Slack message; one line per fact, so no value can forge a line."""
    title = TITLES.get(alert.kind, "trailguard alert")
    about = "" if alert.trail_name.startswith(PART) else "trail "
    lines = [f"{_value(status_label(alert), 20)}: {title} on {about}{_value(alert.trail_name, 200)}", ""]
    lines += [_value(alert.summary, 2000), ""]
    for said in (alert.note, held_back(alert)):
        if said:
            lines += [_value(said, 500), ""]
    lines += ["Where"]
    lines += [f"  {subject_label(alert) + ':':<12} {_value(alert.trail_name, 200)}"]
    if alert.trail_arn:
        lines.append(f"  Trail ARN:   {_value(alert.trail_arn, 400)}")
    lines += [
        f"  Account:     {_value(account_label(alert), 200)}",
        f"  Region:      {_value(alert.region, 100)}",
        f"  Severity:    {_value(alert.severity.upper(), 20)}",
        f"  Event:       {_value(alert.event_name or alert.kind, 200)}",
        "",
        "Who",
        *_email_actor(alert),
        "",
    ]
    if alert.error:
        lines += [f"How it failed: {_value(alert.error, 2000)}", ""]
    lines += [*_email_findings(alert), "", "What trailguard did", f"  {_value(alert.action)}"]
    if alert.calls.strip():
        lines += [f"    {line}" for line in clean(alert.calls).strip().split("\n")]
    lines.append("")
    url = safe_url(alert.console_url)
    lines += [f"Console: {url or '(no link)'}", f"Alert key: {_value(alert.key, 200)}"]
    return "\n".join(lines) + "\n"


def _string_attribute(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": clip(one_line(value), 256) or "unknown"}


def sns_attributes(alert: Alert) -> dict[str, dict[str, str]]:
    """Message attributes to filter on: ``severity``, ``kind``, ``event_name`` and, when there are findings, ``rule``.

    SNS rejects an empty attribute value and ``[]`` is of no use to a filter policy, so an alert without findings
    carries no ``rule`` attribute: a subscription can select those with ``{"rule": [{"exists": false}]}``.
    """
    attributes = {
        "severity": _string_attribute(alert.severity),
        "kind": _string_attribute(alert.kind),
        "event_name": _string_attribute(alert.event_name or alert.kind),
    }
    rules = sorted({clip(one_line(rule), 256) for rule in alert.rules} - {""})
    if rules:
        attributes["rule"] = {"DataType": "String.Array", "StringValue": json.dumps(rules)}
    return attributes


def sns_message(alert: Alert) -> dict[str, Any]:
    """Keyword arguments for ``sns.publish`` (add ``TopicArn``): one publish per alert."""
    return {"Subject": email_subject(alert), "Message": email_body(alert), "MessageAttributes": sns_attributes(alert)}
