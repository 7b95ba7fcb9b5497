"""An alert as a Slack Block Kit message, with a plain-text fallback. Pure; sending lives in ``send``.

mrkdwn objects set ``verbatim`` so that Slack does not turn a bare ``@channel``, channel name or URL into a
mention or link; every untrusted string goes through ``text`` first.
"""

from __future__ import annotations

import json
from typing import Any

from ..alerts import Alert, AlertFinding, whole_commands
from ..events import Actor
from ..rules import REGISTRY
from .text import (
    BACKTICK_LOOKALIKE,
    NO_FINDINGS,
    TITLES,
    account_label,
    clean,
    clip,
    code,
    code_block,
    escape_slack,
    held_back,
    md,
    one_line,
    safe_url,
    severity_label,
    status_label,
    subject_label,
    width,
)

Block = dict[str, Any]

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_FALLBACK_TEXT = 3000  # Slack advises under 4000 characters and truncates at 40000
# Slack answers msg_blocks_too_long near 13k characters of blocks in all, though no documented limit is hit.
MAX_BLOCKS_JSON = 11_000
EMOJI = {
    "critical": ":red_circle:",
    "high": ":large_orange_circle:",
    "medium": ":large_yellow_circle:",
    "low": ":white_circle:",
}
CONSOLE_BUTTON = "Open the trail in the CloudTrail console"


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _section(text: str) -> Block:
    return {"type": "section", "text": _mrkdwn(text)}


def _fields(pairs: list[tuple[str, str]]) -> Block:
    return {"type": "section", "fields": [_mrkdwn(f"*{label}*\n{value}") for label, value in pairs]}


def _header(alert: Alert) -> Block:
    icon = (
        ":white_check_mark:"
        if alert.kind in ("sweep-compliant", "sweep-exempt") or alert.outcome == "reverted"
        else EMOJI.get(alert.severity, ":white_circle:")
    )
    title = TITLES.get(alert.kind, "trailguard alert")
    trail = escape_slack(one_line(alert.trail_name)) or "(no trail)"
    text = f"{icon} {escape_slack(status_label(alert)[:20])} · {title}: {trail}"
    return {"type": "header", "text": _plain(clip(text, MAX_HEADER_TEXT))}


def _summary(alert: Alert) -> Block:
    text = clip(escape_slack(one_line(alert.summary)), 1000) or "(no summary)"
    return {"type": "section", "text": _plain(text)}


def _where(alert: Alert) -> Block:
    pairs = [
        ("Severity", code(severity_label(alert), 40)),
        ("Event", code(alert.event_name or alert.kind, 200)),
        (subject_label(alert), code(alert.trail_name, 200)),
        ("Account", code(account_label(alert), 200)),
        ("Region", code(alert.region, 100)),
    ]
    if alert.trail_arn:
        pairs.append(("Trail ARN", code(alert.trail_arn, 400)))
    return _fields(pairs)


def _who(alert: Alert) -> Block:
    actor = alert.actor
    if actor is None:
        nobody = "No caller: the backstop sweep found this." if alert.kind.startswith("sweep") else "_unknown_"
        return _section(f"*Who*\n{nobody}")
    pairs = [
        ("Principal", code(actor.arn, 400)),
        ("Source IP", code(actor.source_ip, 100)),
        ("User agent", code(actor.user_agent, 500)),
        ("Time", code(actor.time, 100)),
    ]
    if actor.principal_type:
        pairs.insert(1, ("Principal type", code(actor.principal_type, 100)))
    if actor.invoked_by:
        pairs.append(("Invoked by", code(actor.invoked_by, 200)))
    return _fields(pairs)


def _finding_text(number: int, finding: AlertFinding, reverted: bool = False) -> str:
    rule = REGISTRY.get(finding.rule)
    lines = [f"*{number}. {md(finding.severity.upper(), 40)}* {code(finding.rule, 100)}: {md(finding.message, 800)}"]
    if rule is not None:
        lines.append(f"_{escape_slack(rule.meaning)}_")
    if reverted:  # the revert made the fix: a command to paste would no longer apply
        return "\n".join(lines)
    lines.append(f"Fix:\n{code_block(finding.fix, 1500)}" if finding.fix.strip() else "Fix: no command to paste.")
    if finding.hint.strip():
        lines.append(f"Hint: {md(finding.hint, 600)}")
    return "\n".join(lines)


def _json_width(value: Any) -> int:
    return width(json.dumps(value, ensure_ascii=False))


def _pack(texts: list[str], budget: int, most_blocks: int) -> tuple[list[str], int]:
    """The leading texts joined into as few sections as fit ``budget`` (JSON size) and ``most_blocks``; how many fit."""
    sections: list[str] = []
    used = 0
    for count, text in enumerate(texts):
        joined = f"{sections[-1]}\n\n{text}" if sections else ""
        if sections and width(joined) <= MAX_SECTION_TEXT:
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
    reverted = alert.outcome == "reverted"
    heading = (f"*What the call did ({len(alert.findings)} findings, reverted since and verified)*" if reverted
               else f"*Findings ({len(alert.findings)})*")  # fmt: skip
    texts = [heading]
    texts += [_finding_text(n, f, reverted) for n, f in enumerate(alert.findings, 1)]
    sections, packed = _pack(texts, budget, most_blocks - 1)
    blocks = [_section(s) for s in sections]
    hidden = len(alert.findings) - max(0, packed - 1)  # the first text is the heading
    if hidden:
        more = f"… and {hidden} more findings, not shown to stay inside Slack's limits (`trailguard audit` lists all)."
        blocks.append({"type": "context", "elements": [_mrkdwn(more)]})
    return blocks


# The buttons a person answers a drift alert with (``SLACK_BUTTONS=on``): each carries the alert's id, and the
# interaction endpoint acts only while the trail is still as the alert shows it.
REVERT, ACCEPT, SNOOZE = "trailguard-revert", "trailguard-accept", "trailguard-snooze"
ANSWERS = {
    REVERT: ("Revert now", "danger", "Put the trail back as its baseline has it, now?"),
    ACCEPT: ("Accept as baseline", "primary", "Record the trail as it is now as its baseline? The detector will "
                                              "restore this configuration from then on."),
    SNOOZE: ("Snooze 2 h", "", ""),
}  # fmt: skip
ANSWERS_BLOCK = "trailguard-answers"


def answerable(alert: Alert) -> bool:
    """Whether a person may answer the alert from Slack: a drift alert about a trail, which remembers what it
    showed of it, and which the detector has not reverted already (the trail no longer is as it showed)."""
    return alert.kind == "drift" and bool(alert.trail_arn) and bool(alert.state) and alert.outcome != "reverted"


def _answers(alert: Alert) -> list[Block]:
    buttons = []
    for action_id, (label, style, question) in ANSWERS.items():
        button: Block = {"type": "button", "text": _plain(label), "action_id": action_id, "value": alert.key[:2000]}
        if style:
            button["style"] = style
        if question:
            button["confirm"] = {"title": _plain("trailguard"), "text": _plain(question), "confirm": _plain(label),
                                 "deny": _plain("Cancel")}  # fmt: skip
        buttons.append(button)
    return buttons


def _footer(alert: Alert, buttons: bool = False) -> list[Block]:
    blocks: list[Block] = []
    url = safe_url(alert.console_url)
    elements = _answers(alert) if buttons and answerable(alert) else []
    if url:
        elements.append({"type": "button", "text": _plain(CONSOLE_BUTTON), "url": url,
                         "action_id": "trailguard-console"})  # fmt: skip
    if elements:
        block: Block = {"type": "actions", "elements": elements}
        if len(elements) > 1:
            block["block_id"] = ANSWERS_BLOCK
        blocks.append(block)
    rules = md(", ".join(alert.rules), 400) or "none"
    notes = [_mrkdwn(f"trailguard alert {code(alert.key, 200)}"), _mrkdwn(f"Rules: {rules}")]
    blocks.append({"type": "context", "elements": notes})
    return blocks


def _fallback(alert: Alert) -> str:
    """The notification text: every fact in a few lines, escaped, within ``MAX_FALLBACK_TEXT``."""
    title = TITLES.get(alert.kind, "trailguard alert")
    where = f"{alert.trail_name} (account {account_label(alert)}, {alert.region})"
    lines = [f"{md(status_label(alert), 20)} {title}: {md(where, 400)}. {md(alert.summary, 600)}"]
    for said in (alert.note, held_back(alert)):
        if said:
            lines.append(md(said, 500))
    if alert.actor is not None:
        lines.append(md(f"Who: {_actor_line(alert.actor)}", 800))
    if alert.error:
        lines.append(f"How it failed: {md(alert.error, 400)}")
    listed = "; ".join(f"{f.rule}: {f.message}" for f in alert.findings[:20])
    more = f"; … and {len(alert.findings) - 20} more findings" if len(alert.findings) > 20 else ""
    lines.append(f"Findings ({len(alert.findings)}): {md(listed + more, 1000) or 'none'}")
    lines.append(f"What trailguard did: {md(alert.action, 400)}")
    url = safe_url(alert.console_url)
    if url:
        lines.append(f"Console: {escape_slack(url)}")
    return clip("\n".join(lines), MAX_FALLBACK_TEXT)


def _actor_line(actor: Actor) -> str:
    unknown = "unknown"
    return (
        f"{actor.arn or unknown} from {actor.source_ip or unknown} ({actor.user_agent or unknown}) "
        f"at {actor.time or unknown}"
    )


MAX_CALLS_TEXT = 2_200  # the revert's commands, whole ones only: with the words before them, within 3,000


def _did(alert: Alert) -> str:
    """What the detector did, and the revert's calls in full in a code block (whole commands: the ones that do
    not fit are left out and counted, never cut)."""
    text = f"*What trailguard did*\n{md(alert.action, 600) or '_not recorded_'}"
    if not alert.calls.strip():
        return text
    body = escape_slack(clean(alert.calls).strip()).replace("`", BACKTICK_LOOKALIKE)
    fitted = whole_commands(body.split("\n"), MAX_CALLS_TEXT)
    return f"{text}\n```{fitted}```"


def slack_message(alert: Alert, buttons: bool = False) -> dict[str, Any]:
    """``{"text": fallback, "blocks": [...]}`` for ``chat.postMessage`` or an incoming webhook; with ``buttons``
    (``SLACK_BUTTONS=on``), a drift alert carries *Revert now*, *Accept as baseline* and *Snooze 2 h*.

    Post it without ``link_names`` or ``parse=full``, which would turn bare names back into mentions.
    """
    top = [_header(alert), _summary(alert), _where(alert), _who(alert)]
    for said in (held_back(alert), alert.note):
        if said:
            top.insert(2, {"type": "context", "elements": [_plain(clip(escape_slack(one_line(said)), 500))]})
    if alert.error:
        top.append(_section(f"*How it failed*\n{code(alert.error, 800)}"))
    top.append({"type": "divider"})
    bottom = [{"type": "divider"}, _section(_did(alert)), *_footer(alert, buttons)]
    budget = MAX_BLOCKS_JSON - _json_width(top + bottom) - 300  # 300: room for the "… and N more" note
    findings = _findings(alert, budget, MAX_BLOCKS - len(top) - len(bottom))
    return {"text": _fallback(alert), "blocks": [*top, *findings, *bottom]}
