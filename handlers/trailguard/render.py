"""An alert as messages: a Slack Block Kit message, an SNS email, and the Slack message read as plain text.

Pure functions over :class:`~trailguard.alerts.Alert`; sending lives in ``channels.py``. Every string of an alert
except ``console_url`` came from a CloudTrail event, so it is untrusted. For Slack it is escaped (``& < >``), its
backticks become a lookalike (U+02CB) so it can neither open nor close a code span, control and bidi characters
become U+FFFD, line breaks collapse (no forged lines), and it is clipped with a visible marker so the message stays
inside Slack's limits however large the event. mrkdwn objects set ``verbatim`` so that Slack does not turn a bare
``@channel``, channel name or URL into a mention or link. The console link is percent-encoded before use. For email
the subject is printable ASCII on one line and under 100 characters; the body is plain text with the same facts.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any
from urllib.parse import quote

from .alerts import Actor, Alert, AlertFinding
from .rules import RULES

Block = dict[str, Any]

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_URL = 3000
MAX_FALLBACK_TEXT = 3000  # Slack advises under 4000 characters and truncates at 40000
# Slack answers msg_blocks_too_long near 13k characters of blocks in all, though no documented limit is hit.
MAX_BLOCKS_JSON = 11_000
MAX_SUBJECT = 99  # SNS: "less than 100 characters"
MAX_EMAIL_FINDINGS_BYTES = 150_000  # an SNS message, attributes included, is at most 256 KB

TRUNCATED = "…(truncated)"
BACKTICK_LOOKALIKE = "\u02cb"
REPLACEMENT = "\ufffd"
TITLES = {
    "drift": "CloudTrail drift",
    "failed-attempt": "Failed attempt to change CloudTrail",
    "sweep-drift": "CloudTrail drift found by the sweep",
    "sweep-compliant": "CloudTrail compliant again",
}
SUBJECT_TITLES = {
    "drift": "drift",
    "failed-attempt": "failed attempt",
    "sweep-drift": "drift (sweep)",
    "sweep-compliant": "compliant again",
}
EMOJI = {
    "critical": ":red_circle:",
    "high": ":large_orange_circle:",
    "medium": ":large_yellow_circle:",
    "low": ":white_circle:",
}
NO_FINDINGS = {
    "failed-attempt": "None: the call failed, so nothing changed.",
    "sweep-compliant": "None: the trail is compliant again.",
}
CONSOLE_BUTTON = "Open the trail in the CloudTrail console"


# --- text hygiene ---------------------------------------------------------------------------------------------


def escape_slack(text: str) -> str:
    """Slack's three control characters as entities: the text can no longer form a mention, link or command."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _unescape_slack(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _safe_char(char: str) -> str:
    if char.isprintable() or char in "\n\t":
        return char
    category = unicodedata.category(char)
    if category == "Zs":
        return " "
    return char if category in ("Co", "Cn") else REPLACEMENT


def _clean(text: str) -> str:
    """Line breaks as ``\\n``; controls, format characters (zero-width, bidi, tags), line separators and lone
    surrogates as U+FFFD: none belongs in a message, some hide or reorder text, and the replacement shows it."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text if text.isprintable() else "".join(map(_safe_char, text))


def _one_line(text: str) -> str:
    return " ".join(_clean(text).split())


def _width(text: str) -> int:
    """Length as Slack counts it (UTF-16 code units): never less than ``len``."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _clip(text: str, limit: int) -> str:
    """``text`` within ``limit`` (UTF-16 units), cut with a visible marker, never inside an ``&amp;`` entity."""
    if _width(text) <= limit:
        return text
    room = limit - _width(TRUNCATED)
    cut = text[:room]
    cut = cut[: len(cut) - max(0, _width(cut) - room)]
    amp = cut.rfind("&", max(0, len(cut) - 4))
    if amp >= 0 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + TRUNCATED


def _md(text: str, limit: int) -> str:
    """Untrusted text for mrkdwn: one line, escaped, without backticks, clipped."""
    return _clip(escape_slack(_one_line(text)).replace("`", BACKTICK_LOOKALIKE), limit)


def _code(text: str, limit: int) -> str:
    value = _md(text, limit)
    return f"`{value}`" if value else "_unknown_"


def _code_block(text: str, limit: int) -> str:
    """A command to paste, lines kept; no backtick inside can close the block."""
    body = escape_slack(_clean(text).strip()).replace("`", BACKTICK_LOOKALIKE)
    return f"```{_clip(body, limit)}```"


def _safe_url(url: str) -> str:
    """An https URL with anything that could end Slack link markup percent-encoded; "" if unusable."""
    if not url.startswith("https://"):
        return ""
    safe = quote(_clean(url), safe=":/?#[]@!$&'()*+,;=%-._~")
    if len(safe) > MAX_URL:
        safe = safe.partition("#/trails/")[0] + "#/trails"
    return safe if len(safe) <= MAX_URL else ""


# --- Slack ----------------------------------------------------------------------------------------------------


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _section(text: str) -> Block:
    return {"type": "section", "text": _mrkdwn(text)}


def _fields(pairs: list[tuple[str, str]]) -> Block:
    return {"type": "section", "fields": [_mrkdwn(f"*{label}*\n{value}") for label, value in pairs]}


def _severity(alert: Alert) -> str:
    return _one_line(alert.severity).upper() or "UNKNOWN"


def _header(alert: Alert) -> Block:
    icon = ":white_check_mark:" if alert.kind == "sweep-compliant" else EMOJI.get(alert.severity, ":white_circle:")
    title = TITLES.get(alert.kind, "trailguard alert")
    trail = escape_slack(_one_line(alert.trail_name)) or "(no trail)"
    text = f"{icon} {escape_slack(_severity(alert)[:20])} · {title}: {trail}"
    return {"type": "header", "text": _plain(_clip(text, MAX_HEADER_TEXT))}


def _summary(alert: Alert) -> Block:
    text = _clip(escape_slack(_one_line(alert.summary)), 1000) or "(no summary)"
    return {"type": "section", "text": _plain(text)}


def _where(alert: Alert) -> Block:
    pairs = [
        ("Severity", _code(_severity(alert), 40)),
        ("Event", _code(alert.event_name or alert.kind, 200)),
        ("Trail", _code(alert.trail_name, 200)),
        ("Account", _code(alert.account, 100)),
        ("Region", _code(alert.region, 100)),
    ]
    if alert.trail_arn:
        pairs.append(("Trail ARN", _code(alert.trail_arn, 400)))
    return _fields(pairs)


def _who(alert: Alert) -> Block:
    actor = alert.actor
    if actor is None:
        nobody = "No caller: the backstop sweep found this." if alert.kind.startswith("sweep") else "_unknown_"
        return _section(f"*Who*\n{nobody}")
    pairs = [
        ("Principal", _code(actor.arn, 400)),
        ("Source IP", _code(actor.source_ip, 100)),
        ("User agent", _code(actor.user_agent, 500)),
        ("Time", _code(actor.time, 100)),
    ]
    if actor.principal_type:
        pairs.insert(1, ("Principal type", _code(actor.principal_type, 100)))
    if actor.invoked_by:
        pairs.append(("Invoked by", _code(actor.invoked_by, 200)))
    return _fields(pairs)


def _finding_text(number: int, finding: AlertFinding) -> str:
    rule = RULES.get(finding.rule)
    lines = [f"*{number}. {_md(finding.severity.upper(), 40)}* {_code(finding.rule, 100)}: {_md(finding.message, 800)}"]
    if rule is not None:
        lines.append(f"_{escape_slack(rule.meaning)}_")
    lines.append(f"Fix:\n{_code_block(finding.fix, 1500)}" if finding.fix.strip() else "Fix: no command to paste.")
    return "\n".join(lines)


def _json_width(value: Any) -> int:
    return _width(json.dumps(value, ensure_ascii=False))


def _pack(texts: list[str], budget: int, most_blocks: int) -> tuple[list[str], int]:
    """The leading texts joined into as few sections as fit ``budget`` (JSON size) and ``most_blocks``; how many fit."""
    sections: list[str] = []
    used = 0
    for count, text in enumerate(texts):
        joined = f"{sections[-1]}\n\n{text}" if sections else ""
        if sections and _width(joined) <= MAX_SECTION_TEXT:
            cost = _json_width(joined) - _json_width(sections[-1])
            if used + cost > budget:
                return sections, count
            sections[-1], used = joined, used + cost
            continue
        cost = _json_width(_section(text)) + 2
        if len(sections) >= most_blocks or used + cost > budget:
            return sections, count
        sections.append(text)
        used += cost
    return sections, len(texts)


def _findings(alert: Alert, budget: int, most_blocks: int) -> list[Block]:
    if not alert.findings:
        return [_section(f"*Findings*\n{NO_FINDINGS.get(alert.kind, 'None.')}")]
    texts = [f"*Findings ({len(alert.findings)})*"]
    texts += [_finding_text(n, f) for n, f in enumerate(alert.findings, 1)]
    sections, packed = _pack(texts, budget, most_blocks - 1)
    blocks = [_section(s) for s in sections]
    hidden = len(alert.findings) - max(0, packed - 1)  # the first text is the heading
    if hidden:
        more = f"… and {hidden} more findings, not shown to stay inside Slack's limits (`trailguard audit` lists all)."
        blocks.append({"type": "context", "elements": [_mrkdwn(more)]})
    return blocks


def _extra(alert: Alert) -> list[Block]:
    items = sorted(alert.extra.items())
    if not items:
        return []
    shown = items[: MAX_CONTEXT_ELEMENTS - 1] if len(items) > MAX_CONTEXT_ELEMENTS else items
    elements = [_mrkdwn(f"{_md(key, 60) or '_unnamed_'}: {_code(value, 200)}") for key, value in shown]
    if len(items) > len(shown):
        elements.append(_mrkdwn(f"… and {len(items) - len(shown)} more details"))
    return [{"type": "context", "elements": elements}]


def _footer(alert: Alert) -> list[Block]:
    blocks: list[Block] = []
    url = _safe_url(alert.console_url)
    if url:
        button = {"type": "button", "text": _plain(CONSOLE_BUTTON), "url": url, "action_id": "trailguard-console"}
        blocks.append({"type": "actions", "elements": [button]})
    rules = _md(", ".join(alert.rules), 400) or "none"
    notes = [_mrkdwn(f"trailguard alert {_code(alert.key, 200)}"), _mrkdwn(f"Rules: {rules}")]
    blocks.append({"type": "context", "elements": notes})
    return blocks


def _fallback(alert: Alert) -> str:
    """The notification text: every fact in a few lines, escaped, within ``MAX_FALLBACK_TEXT``."""
    title = TITLES.get(alert.kind, "trailguard alert")
    where = f"{alert.trail_name} (account {alert.account}, {alert.region})"
    lines = [f"{_md(_severity(alert), 20)} {title}: {_md(where, 400)}. {_md(alert.summary, 600)}"]
    if alert.actor is not None:
        lines.append(_md(f"Who: {_actor_line(alert.actor)}", 800))
    if alert.error:
        lines.append(f"How it failed: {_md(alert.error, 400)}")
    listed = "; ".join(f"{f.rule}: {f.message}" for f in alert.findings[:20])
    more = f"; … and {len(alert.findings) - 20} more findings" if len(alert.findings) > 20 else ""
    lines.append(f"Findings ({len(alert.findings)}): {_md(listed + more, 1000) or 'none'}")
    lines.append(f"What trailguard did: {_md(alert.action, 400)}")
    url = _safe_url(alert.console_url)
    if url:
        lines.append(f"Console: {escape_slack(url)}")
    return _clip("\n".join(lines), MAX_FALLBACK_TEXT)


def _actor_line(actor: Actor) -> str:
    unknown = "unknown"
    return (
        f"{actor.arn or unknown} from {actor.source_ip or unknown} ({actor.user_agent or unknown}) "
        f"at {actor.time or unknown}"
    )


def slack_message(alert: Alert) -> dict[str, Any]:
    """``{"text": fallback, "blocks": [...]}`` for ``chat.postMessage`` or an incoming webhook.

    Post it without ``link_names`` or ``parse=full``, which would turn bare names back into mentions.
    """
    top = [_header(alert), _summary(alert), _where(alert), _who(alert)]
    if alert.error:
        top.append(_section(f"*How it failed*\n{_code(alert.error, 800)}"))
    top.append({"type": "divider"})
    bottom = [
        {"type": "divider"},
        _section(f"*What trailguard did*\n{_md(alert.action, 600) or '_not recorded_'}"),
        *_extra(alert),
        *_footer(alert),
    ]
    budget = MAX_BLOCKS_JSON - _json_width(top + bottom) - 300  # 300: room for the "… and N more" note
    findings = _findings(alert, budget, MAX_BLOCKS - len(top) - len(bottom))
    return {"text": _fallback(alert), "blocks": [*top, *findings, *bottom]}


# --- the Slack message as a person reads it -------------------------------------------------------------------

_MARKUP = re.compile(
    r"```(?P<block>.*?)```"
    r"|`(?P<code>[^`\n]*)`"
    r"|(?<![\w*])\*(?P<bold>[^*\n]+)\*(?![\w*])"
    r"|(?<![\w_])_(?P<italic>[^_\n]+)_(?![\w_])"
    r"|<(?P<url>[^|>]+)(?:\|(?P<label>[^>]*))?>",
    re.DOTALL,
)


def _markup_to_text(match: re.Match[str]) -> str:
    if match["block"] is not None:
        return "\n".join("    " + line for line in match["block"].strip("\n").split("\n"))
    if match["url"] is not None:
        return f"{match['label']} ({match['url']})" if match["label"] else match["url"]
    return match["code"] if match["code"] is not None else match["bold"] or match["italic"] or ""


def _read(text_object: dict[str, Any]) -> str:
    text = str(text_object.get("text", ""))
    if text_object.get("type") == "mrkdwn":
        text = _MARKUP.sub(_markup_to_text, text)
    return _unescape_slack(text)


def _read_block(block: dict[str, Any]) -> str:
    kind = block.get("type")
    if kind == "header":
        title = _read(block["text"])
        return f"{title}\n{'=' * min(len(title), 72)}"
    if kind == "divider":
        return "-" * 72
    if kind == "section":
        parts = [_read(block["text"])] if "text" in block else []
        parts += [_read(field).replace("\n", ": ", 1) for field in block.get("fields", [])]
        return "\n".join(parts)
    if kind == "context":
        return " · ".join(_read(e) if "text" in e else f"[{e.get('alt_text', 'image')}]" for e in block["elements"])
    if kind == "actions":
        return "\n".join(f"[{_read(e['text'])}] {e.get('url', '')}".rstrip() for e in block["elements"])
    return ""


def slack_as_text(message: dict[str, Any]) -> str:
    """The message as a person would read it in Slack: blocks rendered to text, entities decoded."""
    blocks = message.get("blocks") or []
    if not blocks:
        return _unescape_slack(str(message.get("text", ""))) + "\n"
    return "\n".join(text for text in map(_read_block, blocks) if text) + "\n"


# --- SNS email ------------------------------------------------------------------------------------------------


def _ascii(text: str) -> str:
    """Printable ASCII on one line: accents dropped, anything else ``?``."""
    decomposed = unicodedata.normalize("NFKD", _one_line(text))
    kept = (c if " " <= c <= "~" else "?" for c in decomposed if not unicodedata.combining(c))
    return " ".join("".join(kept).split())


def email_subject(alert: Alert) -> str:
    """``[trailguard] HIGH drift: prod-trail (123456789012 us-east-1)``: what SNS accepts, whatever the event."""
    trail = _ascii(alert.trail_name) or "(no trail)"
    if len(trail) > 40:
        trail = trail[:37] + "..."
    title = SUBJECT_TITLES.get(alert.kind, "alert")
    where = _ascii(f"{alert.account} {alert.region}")[:40]
    subject = f"[trailguard] {_ascii(_severity(alert))[:10]} {title}: {trail}" + (f" ({where})" if where else "")
    return subject if len(subject) <= MAX_SUBJECT else subject[: MAX_SUBJECT - 3] + "..."


def _value(text: str, limit: int = 1000) -> str:
    return _clip(_one_line(text), limit) or "(unknown)"


def _indented(text: str, indent: str) -> str:
    return ("\n" + indent).join(_clean(text).strip().split("\n"))


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


def _email_finding(number: int, finding: AlertFinding) -> list[str]:
    lines = [f"  {number}. [{_value(finding.severity, 20).upper()}] {_value(finding.rule, 200)}: "]
    lines[0] += _value(finding.message, 2000)
    rule = RULES.get(finding.rule)
    if rule is not None:
        lines.append(f"     Rule: {rule.meaning}")
    fix = _clip(_clean(finding.fix).strip(), 20_000)
    lines.append(f"     Fix:  {_indented(fix, '           ')}" if fix else "     Fix:  no command to paste.")
    return lines


def _email_findings(alert: Alert) -> list[str]:
    if not alert.findings:
        return ["Findings", "  " + NO_FINDINGS.get(alert.kind, "None.")]
    lines = [f"Findings ({len(alert.findings)})"]
    used = 0
    for number, finding in enumerate(alert.findings, 1):
        text = _email_finding(number, finding)
        used += len("\n".join(text).encode())
        if used > MAX_EMAIL_FINDINGS_BYTES:
            lines.append(f"  … and {len(alert.findings) - number + 1} more findings (message size limit).")
            break
        lines += text
    return lines


def email_body(alert: Alert) -> str:
    """Plain text with the facts of the Slack message; one line per fact, so no value can forge a line."""
    title = TITLES.get(alert.kind, "trailguard alert")
    lines = [f"{_value(_severity(alert), 20)}: {title} on trail {_value(alert.trail_name, 200)}", ""]
    lines += [_value(alert.summary, 2000), "", "Where"]
    lines += [f"  Trail:       {_value(alert.trail_name, 200)}"]
    if alert.trail_arn:
        lines.append(f"  Trail ARN:   {_value(alert.trail_arn, 400)}")
    lines += [
        f"  Account:     {_value(alert.account, 100)}",
        f"  Region:      {_value(alert.region, 100)}",
        f"  Event:       {_value(alert.event_name or alert.kind, 200)}",
        "",
        "Who",
        *_email_actor(alert),
        "",
    ]
    if alert.error:
        lines += [f"How it failed: {_value(alert.error, 2000)}", ""]
    lines += [*_email_findings(alert), "", "What trailguard did", f"  {_value(alert.action)}", ""]
    if alert.extra:
        lines += ["Details", *(f"  {_value(k, 100)}: {_value(v)}" for k, v in sorted(alert.extra.items())[:50]), ""]
    url = _safe_url(alert.console_url)
    lines += [f"Console: {url or '(no link)'}", f"Alert key: {_value(alert.key, 200)}"]
    return "\n".join(lines) + "\n"


def _string_attribute(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": _clip(_one_line(value), 256) or "unknown"}


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
    rules = sorted({_clip(_one_line(rule), 256) for rule in alert.rules} - {""})
    if rules:
        attributes["rule"] = {"DataType": "String.Array", "StringValue": json.dumps(rules)}
    return attributes


def sns_message(alert: Alert) -> dict[str, Any]:
    """Keyword arguments for ``sns.publish`` (add ``TopicArn``): one publish per alert."""
    return {"Subject": email_subject(alert), "Message": email_body(alert), "MessageAttributes": sns_attributes(alert)}
