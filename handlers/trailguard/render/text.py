"""Untrusted text made harmless. Every string of an alert except ``console_url`` came from a CloudTrail event.

For Slack it is escaped (``& < >``), its backticks become a lookalike (U+02CB) so it can neither open nor close a
code span, control and bidi characters become U+FFFD, line breaks collapse (no forged lines), and it is clipped
with a visible marker so a message stays inside Slack's limits however large the event. The console link is
percent-encoded before use.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from ..alerts import PART, Alert

MAX_URL = 3000
TRUNCATED = "…(truncated)"
BACKTICK_LOOKALIKE = "\u02cb"
REPLACEMENT = "\ufffd"
# mrkdwn's formatting characters, each as a lookalike that formats nothing (asterisk operator, modifier
# letter low macron, tilde operator); inside code spans and blocks they stay as they are.
FORMATTING_LOOKALIKES = str.maketrans({"*": "\u2217", "_": "\u02cd", "~": "\u223c"})
_FORMATTING_EDGE = re.compile(r"(?<![^\W_])[*_~]|[*_~](?![^\W_])")  # not between two letters or digits
TITLES = {
    "drift": "CloudTrail drift",
    "failed-attempt": "Failed attempt to change CloudTrail",
    "unjudged": "CloudTrail change not judged",
    "sweep-drift": "CloudTrail drift found by the sweep",
    "sweep-compliant": "CloudTrail compliant again",
    "sweep-exempt": "CloudTrail findings now exempt",
    "tampered": "trailguard itself tampered with",
}
NO_FINDINGS = {
    "failed-attempt": "None: the call failed, so nothing changed.",
    "unjudged": "Unknown: the trail could not be read.",
    "sweep-compliant": "None: the trail is compliant again.",
    "sweep-exempt": "None counted: the trail's findings are exempt (the exemptions file) or snoozed (said above).",
}


def escape_slack(text: str) -> str:
    """Slack's three control characters as entities: the text can no longer form a mention, link or command."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _safe_char(char: str) -> str:
    if char.isprintable() or char in "\n\t":
        return char
    category = unicodedata.category(char)
    if category == "Zs":
        return " "
    return char if category in ("Co", "Cn") else REPLACEMENT


def clean(text: str) -> str:
    """Line breaks as ``\\n``; controls, format characters (zero-width, bidi, tags), line separators and lone
    surrogates as U+FFFD: none belongs in a message, some hide or reorder text, and the replacement shows it."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text if text.isprintable() else "".join(map(_safe_char, text))


def one_line(text: str) -> str:
    return " ".join(clean(text).split())


def width(text: str) -> int:
    """Length as Slack counts it (UTF-16 code units): never less than ``len``."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def clip(text: str, limit: int) -> str:
    """``text`` within ``limit`` (UTF-16 units), cut with a visible marker, never inside an ``&amp;`` entity."""
    if width(text) <= limit:
        return text
    room = limit - width(TRUNCATED)
    cut = text[:room]
    cut = cut[: len(cut) - max(0, width(cut) - room)]
    amp = cut.rfind("&", max(0, len(cut) - 4))
    if amp >= 0 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + TRUNCATED


def md(text: str, limit: int) -> str:
    """Untrusted text for mrkdwn prose: one line, escaped, clipped, without backticks, and with a lookalike for
    each ``*``, ``_`` or ``~`` that could open or close formatting (one at a word's edge), so that a selector
    name or a user agent cannot make bold, italic or strikethrough; Slack has no escape for them. Inside a word
    (``audit_trail``, ``REMEDIATION_MODE``) they format nothing and stay as they are."""
    escaped = escape_slack(one_line(text)).replace("`", BACKTICK_LOOKALIKE)
    return clip(_FORMATTING_EDGE.sub(lambda m: m.group(0).translate(FORMATTING_LOOKALIKES), escaped), limit)


def code(text: str, limit: int) -> str:
    """Untrusted text as an inline code span, shown exactly (no formatting applies inside), or ``_unknown_``."""
    value = clip(escape_slack(one_line(text)).replace("`", BACKTICK_LOOKALIKE), limit)
    return f"`{value}`" if value else "_unknown_"


def code_block(text: str, limit: int) -> str:
    """A command to paste, lines kept; no backtick inside can close the block."""
    body = escape_slack(clean(text).strip()).replace("`", BACKTICK_LOOKALIKE)
    return f"```{clip(body, limit)}```"


def safe_url(url: str) -> str:
    """An https URL with anything that could end Slack link markup percent-encoded; "" if unusable."""
    if not url.startswith("https://"):
        return ""
    safe = quote(clean(url), safe=":/?#[]@!$&'()*+,;=%-._~")
    if len(safe) > MAX_URL:
        safe = safe.partition("#/trails/")[0] + "#/trails"
    return safe if len(safe) <= MAX_URL else ""


def severity_label(alert: Alert) -> str:
    return one_line(alert.severity).upper() or "UNKNOWN"


OUTCOME_LABELS = {"reverted": "REVERTED", "would-revert": "WOULD REVERT"}


def status_label(alert: Alert) -> str:
    """What a headline and subject lead with: REVERTED after a verified revert, WOULD REVERT in dry-run, else
    the severity."""
    return OUTCOME_LABELS.get(alert.outcome, "") or severity_label(alert)


def subject_label(alert: Alert) -> str:
    """What the alert is about, as a field's label: a trail, or a part of the detector itself."""
    return "Detector part" if alert.trail_name.startswith(PART) else "Trail"


def account_label(alert: Alert) -> str:
    """The account as an alert names it: its id, and its name in the organization when known."""
    return f"{alert.account} ({alert.account_name})" if alert.account_name else alert.account


def held_back(alert: Alert) -> str:
    """What the alert says of the snoozes that held back some of the trail's findings, or ""."""
    return f"Held back by a snooze (not alerted, not reverted while it runs): {alert.snoozed}" if alert.snoozed else ""
