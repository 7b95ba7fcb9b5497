"""Alerts rendered for Slack and email, checked as data: facts present, untrusted text inert, limits kept.

Every string of an alert except ``console_url`` comes from a CloudTrail event, so a crafted user agent, session
name or trail name must not ping a channel, mention someone, hide a link, break out of a code block, forge a
line in the email or push a message past Slack's or SNS's limits.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block

from trailguard.alerts import Alert, AlertFinding, console_url
from trailguard.events import Actor
from trailguard.render.email import MAX_EMAIL_FINDINGS_BYTES, email_body, email_subject, sns_attributes, sns_message
from trailguard.render.fix import cli
from trailguard.render.slack import MAX_BLOCKS_JSON, slack_message
from trailguard.render.text import BACKTICK_LOOKALIKE, TRUNCATED, escape_slack
from trailguard.rules import REGISTRY, Facts
from trailguard_dev.slack_text import slack_as_text

ACCOUNT = "123456789012"
REGION = "us-east-1"
TRAIL_ARN = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/prod-trail"
PRINCIPAL = f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/alice"
FIX = "aws cloudtrail start-logging --region us-east-1 --name prod-trail"
CONSOLE = console_url(TRAIL_ARN, REGION)
ACTION = "Would revert: StartLogging (REMEDIATION_MODE=dry-run)."
PINGS = ("<!channel>", "<!here>", "<!everyone>", "<@U123>", "<http://evil|click>")


def account_fix_command(region: str) -> str:
    """The no-compliant-trail fix as a person pastes it: create a trail, then start logging."""
    return cli(REGISTRY["no-compliant-trail"].calls(Facts(region=region)), region)


def example_alert(**changes: Any) -> Alert:
    """StopLogging on prod-trail by alice; keyword arguments replace fields of the alert."""
    alert = Alert(
        key="0a1b2c3d-4e5f-6789-abcd-ef0123456789",
        kind="drift",
        severity="high",
        summary=f"{PRINCIPAL} called StopLogging on trail prod-trail: the trail is no longer logging.",
        account=ACCOUNT,
        region=REGION,
        trail_name="prod-trail",
        trail_arn=TRAIL_ARN,
        event_name="StopLogging",
        actor=Actor(
            arn=PRINCIPAL,
            principal_type="AssumedRole",
            source_ip="203.0.113.7",
            user_agent="aws-cli/2.15.0",
            time="2024-05-01T12:34:56Z",
        ),
        findings=(AlertFinding("logging-stopped", "high", "Trail prod-trail is not logging.", FIX),),
        action=ACTION,
        console_url=CONSOLE,
    )
    return replace(alert, **changes)


def with_actor(**changes: str) -> Alert:
    alert = example_alert()
    assert alert.actor is not None
    return replace(alert, actor=replace(alert.actor, **changes))


def findings(count: int, message: str = "Trail prod-trail is not logging.", fix: str = FIX) -> tuple[AlertFinding, ...]:
    return tuple(AlertFinding(f"rule-{n}", "high", f"{message} #{n}", fix) for n in range(count))


def text_objects(value: Any) -> Iterator[dict[str, Any]]:
    """Every text object (anything with a string ``text``) in a block tree."""
    if isinstance(value, dict):
        if isinstance(value.get("text"), str):
            yield value
        for child in value.values():
            yield from text_objects(child)
    elif isinstance(value, list):
        for child in value:
            yield from text_objects(child)


def all_text(message: dict[str, Any]) -> list[str]:
    """The fallback and every text and URL of the blocks: all that Slack would parse or show."""
    urls = [e["url"] for b in message["blocks"] for e in b.get("elements", []) if "url" in e]
    return [message["text"], *(t["text"] for t in text_objects(message["blocks"])), *urls]


def width(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def assert_within_slack_limits(message: dict[str, Any]) -> None:
    blocks = message["blocks"]
    assert 1 <= len(blocks) <= 50
    assert 0 < width(message["text"]) < 4000
    assert width(json.dumps(blocks, ensure_ascii=False)) <= MAX_BLOCKS_JSON
    for block in blocks:
        parsed = Block.parse(block)  # slack_sdk's own checks of types and limits
        assert parsed is not None and parsed.to_dict() == block
        parsed.validate_json()
        if block["type"] == "header":
            assert width(block["text"]["text"]) <= 150
        if block["type"] == "section":
            assert "text" not in block or width(block["text"]["text"]) <= 3000
            assert len(block.get("fields", [])) <= 10
            assert all(width(f["text"]) <= 2000 for f in block.get("fields", []))
        if block["type"] == "context":
            assert 1 <= len(block["elements"]) <= 10
        if block["type"] == "actions":
            assert all(width(e["text"]["text"]) <= 75 and len(e["url"]) <= 3000 for e in block["elements"])
    assert all(t["text"] for t in text_objects(blocks)), "Slack rejects empty text objects"


def assert_inert(message: dict[str, Any]) -> None:
    """No text can form Slack markup: no < or > at all (we add no link markup), code spans balanced."""
    for text in all_text(message):
        assert "<" not in text and ">" not in text, text
    for obj in text_objects(message["blocks"]):
        if obj["type"] == "mrkdwn":
            assert obj["verbatim"] is True
            assert obj["text"].count("`") % 2 == 0, obj["text"]


def assert_valid_subject(subject: str) -> None:
    assert 1 <= len(subject) < 100
    assert all(" " <= c <= "~" for c in subject), subject
    assert subject == subject.strip() and subject[0] == "["


# --- Slack: the facts -----------------------------------------------------------------------------------------


def test_slack_message_states_every_fact_of_the_example() -> None:
    message = slack_message(example_alert())
    seen = slack_as_text(message)
    for fact in ("HIGH", "CloudTrail drift", "Trail: prod-trail", f"Account: {ACCOUNT}", f"Region: {REGION}"):
        assert fact in seen
    for fact in (f"Principal: {PRINCIPAL}", "Source IP: 203.0.113.7", "User agent: aws-cli/2.15.0"):
        assert fact in seen
    assert "Time: 2024-05-01T12:34:56Z" in seen
    assert "called StopLogging on trail prod-trail" in seen
    assert "logging-stopped: Trail prod-trail is not logging." in seen
    assert f"\n    {FIX}\n" in seen
    assert f"What trailguard did\n{ACTION}" in seen
    assert f"[Open the trail in the CloudTrail console] {CONSOLE}" in seen
    assert_within_slack_limits(message)
    assert_inert(message)


def test_fallback_text_carries_the_facts_for_notifications() -> None:
    text = slack_message(example_alert())["text"]
    for fact in ("HIGH", "prod-trail", ACCOUNT, REGION, PRINCIPAL, "203.0.113.7", "aws-cli/2.15.0", ACTION):
        assert fact in text
    assert "logging-stopped: Trail prod-trail is not logging." in text
    assert f"Console: {CONSOLE}" in text


def test_console_link_is_a_button_to_the_trail() -> None:
    actions = [b for b in slack_message(example_alert())["blocks"] if b["type"] == "actions"]
    assert actions == [
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Open the trail in the CloudTrail console", "emoji": True},
                    "url": CONSOLE,
                    "action_id": "trailguard-console",
                }
            ],
        }
    ]


def test_rule_meaning_comes_from_the_rule_table() -> None:
    assert "The trail is not logging (GetTrailStatus IsLogging is false)." in slack_as_text(
        slack_message(example_alert())
    )


def test_finding_outside_the_rule_table_still_renders() -> None:
    assert "rule-from-a-newer-version" not in REGISTRY
    newer = AlertFinding("rule-from-a-newer-version", "critical", "Trail prod-trail is odd.", "")
    message = slack_message(example_alert(findings=(newer,), severity="critical"))
    seen = slack_as_text(message)
    assert "1. CRITICAL rule-from-a-newer-version: Trail prod-trail is odd.\nFix: no command to paste." in seen
    assert "Fix: no command to paste." in seen
    assert_within_slack_limits(message)


def test_account_fix_with_shell_metacharacters_reads_back_exactly() -> None:
    fix = account_fix_command(REGION)
    assert "<log-bucket>" in fix and "&&" in fix
    finding = AlertFinding("no-compliant-trail", "critical", "No trail in the account is compliant.", fix)
    message = slack_message(example_alert(findings=(finding,)))
    assert f"\n    {fix}\n" in slack_as_text(message)
    assert_inert(message)


def test_failed_attempt_says_who_tried_and_how_it_failed() -> None:
    alert = example_alert(
        kind="failed-attempt",
        severity="low",
        summary=f"{PRINCIPAL} tried StopLogging on trail prod-trail and was refused.",
        error="AccessDenied: User is not authorized to perform: cloudtrail:StopLogging",
        findings=(),
        action="Nothing: the call failed.",
    )
    message = slack_message(alert)
    seen = slack_as_text(message)
    assert "LOW · Failed attempt to change CloudTrail: prod-trail" in seen
    assert "How it failed\nAccessDenied: User is not authorized to perform: cloudtrail:StopLogging" in seen
    assert f"Principal: {PRINCIPAL}" in seen and "None: the call failed, so nothing changed." in seen
    assert "How it failed: AccessDenied" in message["text"]
    assert_within_slack_limits(message)


def test_sweep_compliant_has_no_caller_and_no_findings() -> None:
    alert = example_alert(kind="sweep-compliant", severity="low", event_name=None, actor=None, findings=())
    message = slack_message(alert)
    seen = slack_as_text(message)
    assert seen.startswith(":white_check_mark: LOW · CloudTrail compliant again: prod-trail")
    assert "Who\nNo caller: the backstop sweep found this." in seen
    assert "Event: sweep-compliant" in seen and "None: the trail is compliant again." in seen
    assert_within_slack_limits(message)


def test_slack_as_text_reads_blocks_not_json() -> None:
    seen = slack_as_text(slack_message(example_alert()))
    assert seen.splitlines()[0] == ":large_orange_circle: HIGH · CloudTrail drift: prod-trail"
    assert '"type"' not in seen and "*" not in seen and "`" not in seen and "&amp;" not in seen


def test_slack_as_text_reads_links_and_plain_text_messages() -> None:
    link = {"type": "section", "text": {"type": "mrkdwn", "text": "see <https://x.test/a?b=1&amp;c=2|the page>"}}
    assert slack_as_text({"blocks": [link]}) == "see the page (https://x.test/a?b=1&c=2)\n"
    assert slack_as_text({"text": "a &lt;b&gt; &amp; c"}) == "a <b> & c\n"


# --- Slack: untrusted text stays inert ------------------------------------------------------------------------


def test_escape_slack_replaces_the_three_control_characters() -> None:
    assert escape_slack("a & <!channel> > b") == "a &amp; &lt;!channel&gt; &gt; b"


def test_crafted_user_agent_cannot_ping_channel() -> None:
    message = slack_message(with_actor(user_agent="aws-cli <!channel> <!here> wake up"))
    assert_inert(message)
    assert not any(ping in text for text in all_text(message) for ping in PINGS)
    assert "User agent: aws-cli <!channel> <!here> wake up" in slack_as_text(message)  # shown, not acted on


def test_session_name_cannot_mention_a_user() -> None:
    message = slack_message(with_actor(arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/<@U123>"))
    assert_inert(message)
    assert "&lt;@U123&gt;" in message["text"]


def test_trail_name_cannot_hide_a_link() -> None:
    message = slack_message(example_alert(trail_name="<http://evil|x>"))
    assert_inert(message)
    assert "CloudTrail drift: <http://evil|x>" in slack_as_text(message)


def test_ampersand_is_escaped_once() -> None:
    message = slack_message(example_alert(trail_name="a&b &amp;"))
    assert "a&amp;b &amp;amp;" in message["blocks"][0]["text"]["text"]
    assert "drift: a&b &amp;" in slack_as_text(message)


UNTRUSTED_FIELDS = [
    "key",
    "summary",
    "account",
    "region",
    "trail_name",
    "trail_arn",
    "event_name",
    "action",
    "error",
    "actor.arn",
    "actor.principal_type",
    "actor.source_ip",
    "actor.user_agent",
    "actor.time",
    "actor.invoked_by",
    "finding.rule",
    "finding.message",
    "finding.fix",
    "finding.severity",
]


def alert_with(field: str, value: str) -> Alert:
    alert = example_alert()
    where, _, name = field.partition(".")
    changes: dict[str, Any] = {name or field: value}
    if where == "actor":
        return with_actor(**changes)
    if where == "finding":
        return replace(alert, findings=(replace(alert.findings[0], **changes),))
    return replace(alert, **changes)


@pytest.mark.parametrize("field", UNTRUSTED_FIELDS)
def test_every_untrusted_field_is_escaped(field: str) -> None:
    message = slack_message(alert_with(field, "<!channel> & <@U123> <http://evil|x> ```"))
    assert_inert(message)
    assert any("&lt;!channel&gt;" in text.lower() for text in all_text(message))  # rendered, not dropped
    assert_within_slack_limits(message)


def test_triple_backticks_cannot_close_the_fix_code_block() -> None:
    finding = AlertFinding("logging-stopped", "high", "``` <!here>", "aws x ```\n*pwned* ```")
    message = slack_message(example_alert(findings=(finding,)))
    assert_inert(message)
    section = next(b["text"]["text"] for b in message["blocks"] if "Findings (1)" in b.get("text", {}).get("text", ""))
    assert section.count("```") == 2
    lookalikes = BACKTICK_LOOKALIKE * 3
    assert section.endswith(f"```aws x {lookalikes}\n*pwned* {lookalikes}```")


def test_newlines_in_untrusted_text_cannot_forge_lines() -> None:
    message = slack_message(with_actor(user_agent="x\n*What trailguard did*\nReverted."))
    seen = slack_as_text(message)
    assert "User agent: x *What trailguard did* Reverted." in seen
    assert seen.count("What trailguard did") == 2  # the heading and the quoted user agent, on one line


def test_control_and_bidi_characters_are_shown_as_replacements() -> None:
    message = slack_message(with_actor(user_agent="cli\x1b[31m\u202eevil\u200b"))
    assert "User agent: cli\ufffd[31m\ufffdevil\ufffd" in slack_as_text(message)


def test_console_link_with_markup_characters_is_percent_encoded() -> None:
    message = slack_message(example_alert(console_url=CONSOLE + "/<http://evil|x> y"))
    assert_inert(message)
    assert message["text"].endswith("%3Chttp://evil%7Cx%3E%20y")


def test_console_link_that_is_not_https_is_left_out() -> None:
    message = slack_message(example_alert(console_url="javascript:alert(1)"))
    assert not [b for b in message["blocks"] if b["type"] == "actions"]
    assert "javascript" not in json.dumps(message)


# --- Slack: limits --------------------------------------------------------------------------------------------


def test_two_hundred_findings_stay_inside_slack_limits_with_a_count_of_the_rest() -> None:
    message = slack_message(example_alert(findings=findings(200)))
    assert_within_slack_limits(message)
    seen = slack_as_text(message)
    shown = sum(f"rule-{n}: " in seen for n in range(200))
    assert 0 < shown < 200
    assert all(f"rule-{n}: " in seen for n in range(shown))  # the first ones, in order
    assert f"… and {200 - shown} more findings" in seen
    assert "Findings (200)" in seen and "… and 180 more findings" in message["text"]


def test_few_short_findings_are_all_shown() -> None:
    message = slack_message(example_alert(findings=findings(8)))
    seen = slack_as_text(message)
    assert all(f"rule-{n}: " in seen for n in range(8)) and "more findings" not in seen


def test_ten_kilobyte_user_agent_is_truncated_with_a_marker() -> None:
    message = slack_message(with_actor(user_agent="A" * 10_000))
    assert_within_slack_limits(message)
    assert "User agent: " + "A" * 400 in slack_as_text(message)
    assert any(text.endswith("A" + TRUNCATED + "`") for text in all_text(message))


def test_every_field_huge_and_two_hundred_findings_still_make_a_valid_message() -> None:
    big = "<!channel>&`\U0001f600" * 2000
    alert = example_alert(
        key=big,
        summary=big,
        account=big,
        region=big,
        trail_name=big,
        trail_arn=big,
        event_name=big,
        error=big,
        action=big,
        actor=Actor(big, big, big, big, big, big),
        findings=findings(200, message=big, fix=big),
    )
    message = slack_message(alert)
    assert_within_slack_limits(message)
    assert_inert(message)
    assert "more findings" in slack_as_text(message) and TRUNCATED in message["text"]


def test_truncation_never_cuts_an_entity_in_half() -> None:
    for pad in range(6):
        message = slack_message(with_actor(user_agent="x" * pad + "&" * 3000))
        for text in all_text(message):
            cut = text.rsplit(TRUNCATED, 1)[0] if TRUNCATED in text else ""
            assert not cut.endswith(("&", "&a", "&am", "&amp")), cut[-8:]


# --- SNS email ------------------------------------------------------------------------------------------------


def test_email_subject_of_the_example() -> None:
    assert email_subject(example_alert()) == f"[trailguard] HIGH drift: prod-trail ({ACCOUNT} {REGION})"


@pytest.mark.parametrize(
    "trail_name",
    [
        "prød-trail-日本語-\U0001f600",
        "line\nbreak\r\nand\rreturn",
        "t" * 128,
        "",
        "\x00\x1b[31m\x7f\u202e\u2028",
        "   ",
        "<!channel> & `x`",
    ],
)
def test_subject_is_one_line_of_ascii_under_100_characters_whatever_the_trail_name(trail_name: str) -> None:
    subject = email_subject(example_alert(trail_name=trail_name))
    assert_valid_subject(subject)
    assert f"({ACCOUNT} {REGION})" in subject


def test_subject_keeps_accents_readable() -> None:
    assert "prod-trail-ete" in email_subject(example_alert(trail_name="prod-trail-été"))


def test_subject_stays_valid_when_every_field_is_huge_unicode() -> None:
    huge = "\u65e5\n" * 500
    assert_valid_subject(email_subject(example_alert(trail_name=huge, account=huge, region=huge)))


def test_email_body_states_the_same_facts() -> None:
    body = email_body(example_alert())
    assert body.startswith("HIGH: CloudTrail drift on trail prod-trail\n")
    for fact in ("Trail:       prod-trail", f"Trail ARN:   {TRAIL_ARN}", f"Account:     {ACCOUNT}"):
        assert fact in body
    for fact in (f"Region:      {REGION}", "Event:       StopLogging", f"Principal:   {PRINCIPAL}"):
        assert fact in body
    for fact in ("Source IP:   203.0.113.7", "User agent:  aws-cli/2.15.0", "Time:        2024-05-01T12:34:56Z"):
        assert fact in body
    assert "1. [HIGH] logging-stopped: Trail prod-trail is not logging." in body
    assert f"Fix:  {FIX}\n" in body
    assert f"What trailguard did\n  {ACTION}\n" in body
    assert f"Console: {CONSOLE}\n" in body
    assert "called StopLogging on trail prod-trail" in body


def test_email_body_keeps_angle_brackets_and_drops_control_characters() -> None:
    body = email_body(with_actor(user_agent="<!channel> & \x00\x1b\u202e"))
    assert "User agent:  <!channel> & \ufffd\ufffd\ufffd" in body
    assert "&amp;" not in body


def test_email_newline_in_user_agent_cannot_forge_a_line() -> None:
    body = email_body(with_actor(user_agent="x\n\nWhat trailguard did\n  Reverted."))
    assert body.count("\nWhat trailguard did\n") == 1
    assert "User agent:  x What trailguard did Reverted." in body


def test_email_multiline_fix_is_indented_under_its_finding() -> None:
    fix = account_fix_command(REGION).replace(" && ", " &&\n")
    body = email_body(example_alert(findings=(AlertFinding("no-compliant-trail", "critical", "None.", fix),)))
    first, second = fix.split("\n")
    assert f"Fix:  {first}\n           {second}\n" in body


def test_email_with_two_hundred_huge_findings_fits_one_sns_publish() -> None:
    body = email_body(example_alert(findings=findings(200, message="m" * 10_000, fix="f" * 10_000)))
    assert len(body.encode()) < MAX_EMAIL_FINDINGS_BYTES + 20_000 < 256 * 1024
    assert "more findings (message size limit)." in body
    assert "1. [HIGH] rule-0: " in body


def test_sns_attributes_let_subscribers_filter() -> None:
    alert = example_alert(findings=(*findings(1), AlertFinding("logging-stopped", "high", "again")))
    assert sns_attributes(alert) == {
        "severity": {"DataType": "String", "StringValue": "high"},
        "kind": {"DataType": "String", "StringValue": "drift"},
        "event_name": {"DataType": "String", "StringValue": "StopLogging"},
        "rule": {"DataType": "String.Array", "StringValue": '["logging-stopped", "rule-0"]'},
    }


def test_alert_without_findings_has_no_rule_attribute_and_event_name_falls_back_to_kind() -> None:
    attributes = sns_attributes(example_alert(kind="sweep-compliant", event_name=None, findings=()))
    assert "rule" not in attributes
    assert attributes["event_name"] == {"DataType": "String", "StringValue": "sweep-compliant"}


def test_sns_message_is_the_publish_arguments() -> None:
    alert = example_alert()
    assert sns_message(alert) == {
        "Subject": email_subject(alert),
        "Message": email_body(alert),
        "MessageAttributes": sns_attributes(alert),
    }


# --- any text at all ------------------------------------------------------------------------------------------

NASTY = st.lists(
    st.sampled_from([*PINGS, "```", "`", "&", "&amp;", "&lt;", "*", "_", "~", "\n", "\r", "\x00", "\u202e", "\ud800"])
    | st.text(max_size=20)
    | st.just("x" * 900),
    max_size=12,
).map("".join)
TEXT = st.text() | NASTY
SEVERITY = st.sampled_from(["critical", "high", "medium", "low"])
FINDING = st.builds(AlertFinding, rule=TEXT, severity=SEVERITY, message=TEXT, fix=TEXT)
ACTOR = st.none() | st.builds(Actor, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT)
ALERT = st.builds(
    Alert,
    key=TEXT,
    kind=st.sampled_from(["drift", "failed-attempt", "sweep-drift", "sweep-compliant"]),
    severity=SEVERITY,
    summary=TEXT,
    account=TEXT,
    region=TEXT,
    trail_name=TEXT,
    trail_arn=st.none() | TEXT,
    event_name=st.none() | TEXT,
    actor=ACTOR,
    findings=st.lists(FINDING, max_size=40).map(tuple),
    action=TEXT,
    console_url=st.just(CONSOLE) | TEXT.map(lambda t: "https://" + t),
    error=TEXT,
)


def no_unsafe_characters(text: str) -> bool:
    categories = {unicodedata.category(c) for c in text if c not in "\n\t"}
    return not categories & {"Cc", "Cf", "Cs", "Zl", "Zp"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ALERT)
def test_any_untrusted_text_renders_inert_and_within_limits(alert: Alert) -> None:
    message = slack_message(alert)
    assert_inert(message)
    assert_within_slack_limits(message)
    assert slack_as_text(message)
    assert_valid_subject(email_subject(alert))
    body = email_body(alert)
    assert no_unsafe_characters(body) and "\r" not in body
    assert len(body.encode()) < 256 * 1024
    for name, attribute in sns_attributes(alert).items():
        assert attribute["StringValue"] and no_unsafe_characters(attribute["StringValue"]), name
    if "rule" in sns_attributes(alert):
        rules = json.loads(sns_attributes(alert)["rule"]["StringValue"])
        assert rules and all(isinstance(r, str) and r for r in rules)


def test_formatting_from_untrusted_prose_is_neutralised_and_identifiers_stay_as_they_are() -> None:
    forged = 'selector "*urgent* _ignore_ ~this~" on audit_trail (REMEDIATION_MODE=on)'
    alert = example_alert(
        summary=forged, action=f"Reverted {forged}", findings=(AlertFinding("logging-stopped", "high", forged),)
    )
    message = slack_message(alert)
    texts = [message["text"], *(o["text"] for o in text_objects(message["blocks"]) if o["type"] == "mrkdwn")]
    prose = [t for t in texts if "urgent" in t]

    assert prose, "the forged text is shown"
    for text in prose:
        assert "*urgent*" not in text and "_ignore_" not in text and "~this~" not in text
        assert "\u2217urgent\u2217" in text and "\u02cdignore\u02cd" in text and "\u223cthis\u223c" in text
        assert "audit_trail" in text and "REMEDIATION_MODE" in text
