"""A Slack message read as a person sees it: blocks rendered to text, entities decoded. For the demo and the
tests (which read what Slack would show); the Lambda never needs it."""

from __future__ import annotations

import re
from typing import Any


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


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
    return unescape(text)


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
        return unescape(str(message.get("text", ""))) + "\n"
    return "\n".join(text for text in map(_read_block, blocks) if text) + "\n"
