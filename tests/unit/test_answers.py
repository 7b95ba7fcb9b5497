"""Answering an alert, the pure parts: the buttons a drift alert carries, Slack's request signature and payload
as the endpoint reads them, the original message marked as answered, snooze durations and what a snooze may
cover, and the endpoint's configuration."""

from __future__ import annotations

import datetime
import time
from dataclasses import replace
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from tests.unit import builders
from tests.unit.test_render import example_alert
from trailguard import exemptions
from trailguard.config import ConfigError, InteractionConfig
from trailguard.interact import Click, Reply, Request, click_of, marked, respond, verified
from trailguard.judge import Policy, evaluate_account
from trailguard.render.slack import ACCEPT, ANSWERS, REVERT, SNOOZE, slack_message
from trailguard.rules import Finding
from trailguard.snooze import MAX_SECONDS, DurationError, Snooze, every_rule, parse_duration, snoozable
from trailguard_dev.slack_clicks import SIGNING_SECRET, click_payload, signed_request

ARN = "arn:aws:cloudtrail:us-east-1:123456789012:trail/prod-trail"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:trailguard/slack-signing-AbCdEf"


def actions(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]


def test_a_drift_alert_carries_the_three_buttons_only_when_asked() -> None:
    alert = example_alert(state="0123abcd")
    with_buttons = slack_message(alert, buttons=True)
    ids = [e["action_id"] for e in actions(with_buttons)]
    assert ids == [REVERT, ACCEPT, SNOOZE, "trailguard-console"]
    assert {e["value"] for e in actions(with_buttons) if e["action_id"] in ANSWERS} == {alert.key}
    for block in with_buttons["blocks"]:
        Block.parse(block).validate_json()  # type: ignore[union-attr]  # slack_sdk's own limits
    assert [e["action_id"] for e in actions(slack_message(alert))] == ["trailguard-console"]


@pytest.mark.parametrize(
    "change",
    [{"kind": "sweep-drift"}, {"kind": "tampered"}, {"kind": "failed-attempt"}, {"state": ""}, {"trail_arn": None}],
)
def test_only_a_drift_alert_that_remembers_its_trail_can_be_answered(change: dict[str, Any]) -> None:
    alert = example_alert(**{"state": "0123abcd", **change})
    assert not {e["action_id"] for e in actions(slack_message(alert, buttons=True))} & set(ANSWERS)


def test_a_snooze_held_back_is_said_in_the_alert() -> None:
    alert = example_alert(snoozed="snoozed until 2026-11-28 21:00 UTC by <!channel>: *migration*")
    message = slack_message(alert)
    said = [e["text"] for b in message["blocks"] if b["type"] == "context" for e in b["elements"]]
    assert any("Held back by a snooze" in t and "&lt;!channel&gt;" in t for t in said)
    assert "<!channel>" not in str(message)


def test_signature_checks() -> None:
    payload = click_payload(ACCEPT, "alert-1", response_url="https://hooks.slack.com/actions/T/1/x")
    good = Request.of(signed_request(payload))
    assert verified(good, SIGNING_SECRET)
    assert not verified(good, "another-secret")
    assert not verified(replace(good, body=good.body + "x"), SIGNING_SECRET)
    assert not verified(replace(good, timestamp="soon"), SIGNING_SECRET)
    assert not verified(replace(good, signature="v0=é"), SIGNING_SECRET)
    assert not verified(replace(good, signature=""), SIGNING_SECRET)
    old = Request.of(signed_request(payload, timestamp=int(time.time()) - 301))
    assert not verified(old, SIGNING_SECRET)
    assert verified(old, SIGNING_SECRET, now=lambda: time.time() - 10)  # the window is five minutes
    assert Request.of(signed_request(payload, base64_body=True)) == replace(good, timestamp=good.timestamp,
                                                                              signature=good.signature)  # fmt: skip


@pytest.mark.parametrize(
    "body",
    ["", "payload=not-json", "payload=%7B%7D", "payload=%5B1%5D",
     'payload={"type":"view_submission","user":{"id":"U1"}}',
     'payload={"type":"block_actions","user":{"id":"U1"},"actions":[{"action_id":"other","value":"x"}]}',
     'payload={"type":"block_actions","user":"U1","actions":[{"action_id":"trailguard-accept","value":"x"}]}',
     'payload={"type":"block_actions","user":{"id":"U1"},"actions":[{"action_id":"trailguard-accept","value":1}]}'],
)  # fmt: skip
def test_anything_but_a_click_of_an_alert_button_is_no_click(body: str) -> None:
    assert click_of(body) is None


def test_a_click_is_read_from_the_payload() -> None:
    payload = click_payload(SNOOZE, "alert-1", response_url="https://hooks.slack.com/actions/T/1/x", user="U0ABC",
                            user_name="alice\n<!here>")  # fmt: skip
    click = click_of(Request.of(signed_request(payload)).body)
    assert click is not None
    assert (click.action, click.alert_id, click.user_id, click.message_ts) == ("snooze", "alert-1", "U0ABC",
                                                                                "1700000000.000100")  # fmt: skip
    assert "\n" not in click.who and click.who.startswith("slack:T0TRAILGRD/U0ABC")


def test_the_answered_message_loses_its_answer_buttons_and_keeps_the_console_link() -> None:
    blocks = slack_message(example_alert(state="0123abcd"), buttons=True)["blocks"]
    kept = marked(blocks, "Accepted as baseline by <@U0ABC>")
    assert [e["action_id"] for e in actions({"blocks": kept})] == ["trailguard-console"]
    assert kept[-1]["elements"][0]["text"].endswith("Accepted as baseline by <@U0ABC>")
    only_answers = [b for b in blocks if b["type"] != "actions"] + [{"type": "actions", "elements": [
        {"type": "button", "action_id": ACCEPT, "text": {"type": "plain_text", "text": "x"}}]}]  # fmt: skip
    assert all(b["type"] != "actions" for b in marked(only_answers, "x"))


def test_replies_escape_what_people_and_events_wrote() -> None:
    sent: list[tuple[str, dict[str, Any]]] = []
    click = Click("accept", "a1", "U0ABC", "alice", "T1", "https://hooks.slack.com/actions/T/1/x", "17.1",
                  {"text": "t", "blocks": [{"type": "divider"}]})  # fmt: skip
    reply = Reply("Trail <!channel> *bold* accepted", private=False, head="Accepted as baseline by", user="U0ABC>",
                  commands=("aws cloudtrail x --name '`<@U1>`'",))  # fmt: skip
    respond(click, reply, lambda u, b: sent.append((u, b)))
    thread, update = (b for _, b in sent)
    assert thread["thread_ts"] == "17.1" and "<!channel>" not in thread["text"] and "<@U1>" not in thread["text"]
    assert thread["text"].startswith("Accepted as baseline by <@U0ABC>:")
    assert update["replace_original"] is True and update["blocks"][0] == {"type": "divider"}
    sent.clear()
    respond(replace(click, response_url="http://attacker.example/x"), Reply("x"), lambda u, b: sent.append((u, b)))
    assert sent == []  # only Slack's own (https) response URLs, or this machine's stand-in


@pytest.mark.parametrize(("text", "seconds"), [("2h", 7200), ("90m", 5400), ("1h30m", 5400), ("45s", 45),
                                               ("24h", MAX_SECONDS), ("1d", MAX_SECONDS), (" 2H ", 7200)])  # fmt: skip
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0h", "25h", "1d1s", "2 hours", "h", "-2h", "2h!"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(DurationError, match="--for"):
        parse_duration(text)


def test_a_snooze_never_covers_the_detectors_health() -> None:
    rules = ["detector-tampered", "event-pipeline-silent", "not-evaluable", "destination-changed",
             "no-compliant-trail", "logging-stopped", "no-such-rule"]  # fmt: skip
    assert snoozable(rules) == ("destination-changed", "logging-stopped")  # never the account's missing trail
    assert "trail-deleted" not in every_rule() and {"logging-stopped", "logging-gap"} <= set(every_rule())


def test_a_snooze_covers_its_trails_rules_only() -> None:
    exemption = Snooze(ARN, int(time.time()) + 60, "me", "why", ("logging-stopped",)).exemption()

    def finding(rule: str, trail: str | None = ARN) -> Finding:
        return Finding(rule, "high", "m", trail, account="123456789012")

    assert exemption.covers(finding("logging-stopped"), "123456789012")
    assert not exemption.covers(finding("destination-changed"), "123456789012")
    assert not exemption.covers(finding("logging-stopped", ARN.replace("prod-trail", "other")), "123456789012")
    assert not exemption.covers(finding("no-compliant-trail", None), "123456789012")


def test_the_accounts_missing_trail_is_held_only_while_the_snoozed_trail_is_compliant_but_for_it() -> None:
    arn = builders.trail()["TrailARN"]
    policy = Policy(exemptions=(Snooze(arn, int(time.time()) + 60, "me", "why", ("logging-stopped",)).exemption(),))
    stopped = builders.state(status=builders.STOPPED)

    held = evaluate_account(builders.ACCOUNT, [stopped], policy)
    [missing] = held.findings
    assert missing.rule == "no-compliant-trail" and missing.exempt and missing.waiver and missing.waiver.snoozed
    assert not held.counted

    gone = evaluate_account(builders.ACCOUNT, [], policy)  # the snoozed trail deleted meanwhile
    assert [f.rule for f in gone.counted] == ["no-compliant-trail"]

    one_region = builders.state(builders.trail(IsMultiRegionTrail=False), status=builders.STOPPED)
    more = evaluate_account(builders.ACCOUNT, [one_region], policy)  # another rule fires on it: not held
    assert "no-compliant-trail" in [f.rule for f in more.counted]
    assert exemptions.apply(more.findings, policy.exemptions, builders.ACCOUNT, datetime.date.today()) == list(
        more.findings)  # the file's mechanism never covers it  # fmt: skip


def test_the_endpoints_configuration_is_checked() -> None:
    env = {"STATE_TABLE": "t", "SLACK_SIGNING_SECRET_ARN": SECRET_ARN, "SLACK_ALLOWED_USERS": "U0ABC, W0DEF"}
    config = InteractionConfig.from_env(env)
    assert config.allowed_users == {"U0ABC", "W0DEF"} and config.signing_secret_arn == SECRET_ARN
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET_ARN"):
        InteractionConfig.from_env({**env, "SLACK_SIGNING_SECRET_ARN": "my-secret"})
    with pytest.raises(ConfigError, match="SLACK_ALLOWED_USERS"):
        InteractionConfig.from_env({**env, "SLACK_ALLOWED_USERS": "U0ABC,@here"})
    with pytest.raises(ConfigError, match="SLACK_BUTTONS"):
        InteractionConfig.from_env({**env, "SLACK_BUTTONS": "yes"})
