"""The Slack interaction endpoint's steps: a button click on a drift alert, checked, then carried out.

A request is acted on only when all of these hold, in this order:

1. its Slack signature verifies (slack_sdk's ``SignatureVerifier``: HMAC-SHA256 of the raw body with the app's
   signing secret, compared in constant time, and a timestamp within five minutes): otherwise 401;
2. it is a ``block_actions`` click of one of the alert buttons, by a Slack user in ``SLACK_ALLOWED_USERS``:
   otherwise 403 (a click by anyone else) or 200 and nothing (anything else Slack sends);
3. the alert it names exists in the state table, is a drift alert about a trail, and the trail as it reads now
   is still what the alert showed (``Alert.state``); otherwise it answers "this alert is stale" and does nothing;
4. the same action on the same alert was not taken already (``decision#<alert>#<action>``, a conditional write:
   a double click, or Slack sending the request again, does nothing twice).

Then the answer is carried out exactly as the command line does (``answers``), recorded in the state table,
announced on the alert topic (SNS), said in the alert's thread and marked on the original message (through the
click's ``response_url``). Every untrusted string (trail names, reasons, Slack user names) is escaped for Slack.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from . import answers
from .alerts import Alert, whole_commands
from .fix import Reading
from .flow import Runtime
from .render.email import notice_subject
from .render.slack import ACCEPT, ANSWERS, ANSWERS_BLOCK, REVERT, SNOOZE, answerable
from .render.text import BACKTICK_LOOKALIKE, clean, escape_slack, md, one_line

LOG = logging.getLogger(__name__)
SNOOZE_SECONDS = 2 * 3600  # the button's "Snooze 2 h"
ACTIONS = {REVERT: answers.REVERT, ACCEPT: answers.ACCEPT, SNOOZE: answers.SNOOZE}
DONE_WORDS = {answers.REVERT: "Reverted now", answers.ACCEPT: "Accepted as baseline", answers.SNOOZE: "Snoozed 2 h"}
MAX_BODY = 1024 * 1024  # a block_actions payload carries the whole message, form-encoded: far below this


@dataclass(frozen=True)
class Request:
    """What a Function URL (payload format 2.0) delivers of Slack's POST."""

    body: str
    timestamp: str
    signature: str

    @classmethod
    def of(cls, event: Any) -> Request:
        if not isinstance(event, Mapping):
            return cls("", "", "")
        given = event.get("headers")
        headers = {str(k).lower(): str(v) for k, v in given.items()} if isinstance(given, Mapping) else {}
        raw = event.get("body") or ""
        if not isinstance(raw, str):
            raw = ""
        if event.get("isBase64Encoded"):
            try:
                raw = base64.b64decode(raw, validate=True).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                raw = ""
        return cls(raw, headers.get("x-slack-request-timestamp", ""), headers.get("x-slack-signature", ""))


def verified(request: Request, signing_secret: str, now: Callable[[], float] = time.time) -> bool:
    """Whether Slack signed this very body within five minutes (slack_sdk's window; constant-time comparison)."""
    from slack_sdk.signature import Clock, SignatureVerifier

    class At(Clock):
        def now(self) -> float:
            return now()

    if not request.signature or not request.timestamp or len(request.body) > MAX_BODY:
        return False
    try:
        return SignatureVerifier(signing_secret, clock=At()).is_valid(request.body, request.timestamp,
                                                                      request.signature)  # fmt: skip
    except (ValueError, TypeError):  # a timestamp that is no number, a signature that is not ASCII
        return False


@dataclass(frozen=True)
class Click:
    """One button click, as Slack's ``block_actions`` payload tells it (strings untrusted until checked)."""

    action: str  # accept | revert | snooze
    alert_id: str
    user_id: str
    user_name: str
    team_id: str
    response_url: str
    message_ts: str
    message: Mapping[str, Any] = field(default_factory=dict)

    @property
    def who(self) -> str:
        """How the person is recorded: ``slack:<team>/<user id> (<name>)``."""
        return f"slack:{self.team_id or '?'}/{self.user_id} ({one_line(clean(self.user_name))[:80] or 'no name'})"


def click_of(body: str) -> Click | None:
    """The click a verified body carries, or None when it is not a click of an alert button."""
    try:
        payload = json.loads(parse_qs(body, strict_parsing=False).get("payload", [""])[-1])
    except ValueError:
        return None
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        return None
    listed = payload.get("actions")
    actions = [a for a in listed if isinstance(a, dict) and a.get("action_id") in ACTIONS] if isinstance(
        listed, list) else []  # fmt: skip
    user, team = payload.get("user"), payload.get("team")
    container = _mapping(payload.get("container"))
    message = _mapping(payload.get("message"))
    if not actions or not isinstance(user, dict) or not isinstance(actions[0].get("value"), str):
        return None
    return Click(
        action=ACTIONS[actions[0]["action_id"]],
        alert_id=actions[0]["value"][:2000],
        user_id=str(user.get("id", "")),
        user_name=str(user.get("username") or user.get("name") or ""),
        team_id=str((team or {}).get("id", "") if isinstance(team, dict) else user.get("team_id", "")),
        response_url=str(payload.get("response_url", "")),
        message_ts=str(container.get("message_ts") or message.get("ts") or ""),
        message=message,
    )


@dataclass(frozen=True)
class Reply:
    """What the endpoint says: to the person who clicked only (``private``), or in the alert's thread, with the
    original message marked as answered (``marked``)."""

    text: str
    private: bool = True
    head: str = ""  # said first (trusted words), followed by a mention of the person who clicked
    user: str = ""
    commands: tuple[str, ...] = ()  # a revert's calls, shown whole in a code block

    @property
    def acted(self) -> bool:
        return not self.private


def answer(click: Click, rt: Runtime, publish: Callable[[str, str], None] | None = None) -> Reply:
    """Carry out a click from an allowed user, or say why not (stale, done already, refused). One answer to an
    alert is carried out at a time (``decision#<alert>`` held as a lock), so that *Accept* and *Revert* clicked
    together cannot both act on what they read before the other."""
    stored = rt.table.alert(click.alert_id)
    if not stored:
        return Reply(f"trailguard knows no alert {click.alert_id!r} (it may have expired): nothing was done.")
    alert = Alert.from_json(stored)
    if not answerable(alert) or not alert.trail_arn:
        return Reply("This alert cannot be answered from Slack (only a drift alert about a trail, not reverted "
                     "already, can).")  # fmt: skip
    if click.action == answers.REVERT and rt.config.remediation_mode == "off":
        return Reply("Reverts are off for this detector (REMEDIATION_MODE=off), so nothing was done. Someone allowed "
                     f"to change the trail can run: trailguard revert {alert.trail_arn}")  # fmt: skip
    if not rt.table.hold(click.alert_id, {"action": click.action, "by": click.who}):
        return Reply("Someone is answering this alert right now: nothing was done. Look at the thread in a moment.")
    try:
        return _answer_held(click, alert, rt, publish)
    finally:
        rt.table.release_hold(click.alert_id)


def _answer_held(click: Click, alert: Alert, rt: Runtime, publish: Callable[[str, str], None] | None) -> Reply:
    key = f"{click.alert_id}#{click.action}"
    before = rt.table.decision(key)
    ended = click.action == answers.SNOOZE and _age(before.get("at", "")) > SNOOZE_SECONDS  # a new snooze may follow
    if before.get("state") == "done" and not ended:
        return Reply(f"Already done: {DONE_WORDS[click.action]} by {before.get('by', 'someone')} at "
                     f"{_when(before.get('at', ''))}. Nothing was done again.")  # fmt: skip
    assert alert.trail_arn is not None  # answerable
    target = answers.Target.of_arn(alert.trail_arn, alert.account)
    now = answers.read(rt, target)
    if now.error:
        return Reply(f"Trail {alert.trail_name} could not be read ({now.error}), so nothing was done. Try again.")
    if answers.digest(now) != alert.state:
        return Reply(f"This alert is stale: trail {alert.trail_name} has changed since the alert was sent "
                     "(reverted, fixed or changed again), so nothing was done. `trailguard audit` shows it as it "
                     "is now.")  # fmt: skip
    result = _carry_out(click, alert, target, now, rt)
    LOG.info("%s on alert %s by %s: %s", click.action, click.alert_id, click.who, result.said)
    if not result.changed:  # refused, a dry run, nothing to revert: said to the person, nothing recorded
        return Reply(result.said if result.done else f"Refused: {result.said}", commands=result.commands)
    fields = {"action": click.action, "by": click.who, "trail": target.arn, "via": "slack", "alert": click.alert_id}
    # a revert that changed the trail but did not verify is recorded, announced and said as such: it may be tried
    # again, and people must know the trail was touched
    if not rt.table.record_decision(key, fields, result.said, "done" if result.done else "failed"):
        LOG.error("%s on alert %s was carried out but could not be recorded", click.action, click.alert_id)
    words = DONE_WORDS[click.action] if result.done else f"{DONE_WORDS[click.action]} (it did not fully work)"
    if publish is not None:
        _announce(publish, click, alert, result, words)
    return Reply(result.said, private=False, head=f"{words} by", user=click.user_id, commands=result.commands)


def _carry_out(click: Click, alert: Alert, target: answers.Target, now: Reading,
               rt: Runtime) -> answers.Answer:  # fmt: skip
    why = f"answered from Slack, alert {click.alert_id}"
    if click.action == answers.ACCEPT:
        return answers.accept(rt, target, click.who, why, reading=now)
    if click.action == answers.SNOOZE:
        return answers.snooze(rt, target, click.who, why, seconds=SNOOZE_SECONDS)
    dry_run = rt.config.remediation_mode != "on"
    return answers.revert_now(rt, target, click.who, dry_run=dry_run, since=answers.since_of(alert.actor))


def _announce(publish: Callable[[str, str], None], click: Click, alert: Alert, result: answers.Answer,
              words: str) -> None:  # fmt: skip
    """The answer as an SNS notice on the alert topic: the durable record people subscribed to."""
    subject = notice_subject(words, alert.trail_name)
    lines = [
        f"{words} from Slack by {click.who}.",
        "",
        clean(result.said),
        "",
        f"Trail: {clean(alert.trail_arn or '')}",
        f"Account: {alert.account}",
        f"Alert: {clean(click.alert_id)}",
    ]
    if result.commands:
        lines += ["", "Calls:", *(clean(c) for c in result.commands)]
    try:
        publish(subject, "\n".join(lines))
    except (ClientError, BotoCoreError) as error:  # the answer is done and recorded; the notice is logged
        LOG.warning("the notice of %s on alert %s was not published: %s", click.action, click.alert_id, error)


def respond(click: Click, reply: Reply, post: Callable[[str, Mapping[str, Any]], None]) -> None:
    """Say ``reply`` through the click's ``response_url``: privately to the person, or in the alert's thread
    and then on the original message, whose answer buttons give way to who did what."""
    if not _safe_response_url(click.response_url):
        LOG.warning("alert %s: response_url is not Slack's, nothing said there", click.alert_id)
        return
    text = md(reply.text, 2000)
    if reply.commands:
        calls = escape_slack(clean("\n".join(reply.commands))).replace("`", BACKTICK_LOOKALIKE)
        text += f"\n```{whole_commands(calls.split(chr(10)), 2000)}```"
    if reply.private:
        post(click.response_url, {"response_type": "ephemeral", "replace_original": False, "text": text})
        return
    who = f"{reply.head} <@{_user_id(reply.user)}>"
    thread = {"thread_ts": click.message_ts} if click.message_ts else {}
    post(click.response_url, {"response_type": "in_channel", "replace_original": False, "text": f"{who}: {text}",
                              **thread})  # fmt: skip
    if click.message.get("blocks"):
        post(click.response_url, {"replace_original": True, "text": str(click.message.get("text", ""))[:3000],
                                  "blocks": marked(click.message["blocks"], who)})  # fmt: skip


def marked(blocks: Any, line: str) -> list[dict[str, Any]]:
    """The original message's blocks without the answer buttons (the console link stays), with ``line`` (Slack
    mrkdwn, already escaped) saying who answered it."""
    kept: list[dict[str, Any]] = []
    for block in blocks if isinstance(blocks, list) else []:
        if not isinstance(block, dict):
            continue
        if block.get("type") != "actions":
            kept.append(block)
            continue
        elements = [e for e in block.get("elements", []) if isinstance(e, dict) and e.get("action_id") not in ANSWERS]
        if elements:
            rest = {k: v for k, v in block.items() if k != "block_id" or v != ANSWERS_BLOCK}
            kept.append(rest | {"elements": elements})
    note = {"type": "context", "elements": [{"type": "mrkdwn", "text": f":white_check_mark: {line}",
                                             "verbatim": True}]}  # fmt: skip
    return [*kept, note]


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _safe_response_url(url: str) -> bool:
    """Slack's own response URLs are https; plain http only to this machine (a local stand-in for Slack)."""
    parts = urlsplit(url)
    return bool(parts.hostname) and (parts.scheme == "https" or parts.hostname in ("127.0.0.1", "localhost"))


def _user_id(user_id: str) -> str:
    return "".join(c for c in user_id if c.isalnum())[:24]


def _age(epoch: str) -> float:
    """Seconds since ``epoch`` (a stored time), or 0 when it cannot be read."""
    try:
        return time.time() - int(epoch)
    except ValueError:
        return 0.0


def _when(epoch: str) -> str:
    try:
        return answers.when(int(epoch))
    except ValueError:
        return "an unknown time"
