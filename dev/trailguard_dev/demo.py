"""``make demo``: the whole flow offline, on one machine, with no AWS account.

moto's server stands in for AWS and a local Slack-compatible webhook receiver for Slack, both on 127.0.0.1.
An account is provisioned with a compliant baseline (a multi-region trail logging all management events and
S3 and Lambda data events, an alert topic with an email inbox, the Slack secret, the state table). Then each
scenario makes a real API call against the emulator, builds the CloudTrail event that call produces, in the
shape real records have, and hands it to the real Lambda handler (or, for a call whose event is lost, runs the
scheduled sweep); the Slack message and the email are shown as people receive them. Some attacks are then
played with REMEDIATION_MODE=dry-run, and all of them again with REMEDIATION_MODE=on. Two alerts are then
answered from Slack, by clicks signed as Slack signs them: *Accept as baseline* and *Revert now*.

To stay readable to the end, each kind of Slack message (its headline without the trail) is shown in full the
first time, and later ones only by the lines that differ from that first one; an email shows its subject, and
only the first one its body. ``--brief`` shows the scenario headers, one verdict line each and the summary.
The exit status is 0 only if every scenario came out as expected.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import json
import os
import re
import sys
import textwrap
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3

from . import records
from .dynamodb import create_state_table
from .emulator import Emulator, environment, pointed_at
from .records import envelope, iam_user
from .replay import replay
from .slack_server import SlackServer

ACCOUNT = "123456789012"
REGION = "us-east-1"
TRAIL = "org-audit"
BUCKET = "org-audit-logs"
TABLE = "trailguard-state"
DATA_RESOURCES = [
    {"Type": "AWS::S3::Object", "Values": [f"arn:aws:s3:::{BUCKET}/"]},
    {"Type": "AWS::Lambda::Function", "Values": ["arn:aws:lambda"]},
]
DATA_RESOURCES_LC = [{"type": r["Type"], "values": r["Values"]} for r in DATA_RESOURCES]  # as records spell it
BASELINE_SELECTORS: list[Any] = [
    {"ReadWriteType": "All", "IncludeManagementEvents": True, "DataResources": DATA_RESOURCES,
     "ExcludeManagementEventSources": []}
]  # fmt: skip
ATTACKER = iam_user("mallory")


def cloudtrail_record(event_name: str, params: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The record the attacker's call produces (from 203.0.113.66, with the AWS CLI)."""
    changes = {"userIdentity": ATTACKER, "sourceIPAddress": "203.0.113.66", **changes}
    return records.cloudtrail_record(event_name, params, account=ACCOUNT, region=REGION, **changes)


@dataclass(frozen=True)
class Scenario:
    title: str
    record: Callable[[], dict[str, Any]]
    status: str  # the verdict expected
    rule: str = ""  # a finding expected among the verdict's
    makes_call: bool = True  # a failed call changed nothing: there is nothing to replay
    twice: bool = False
    reverts: tuple[str, ...] = ()  # the calls a revert makes (REMEDIATION_MODE=on), or would make (dry-run)
    put_back: bool = False  # the attacker starts the trail again before its event reaches the detector
    swept: bool = False  # the call's event never reaches the detector: the next scheduled sweep finds the drift


ADVANCED_WITHOUT_IAM = [{"name": "Management events", "fieldSelectors": [
    {"field": "eventCategory", "equals": ["Management"]},
    {"field": "eventSource", "notEquals": ["iam.amazonaws.com"]},
]}]  # fmt: skip
STRATUS = [{"readWriteType": "ReadOnly", "includeManagementEvents": False, "excludeManagementEventSources": [],
            "dataResources": [{"type": "AWS::S3::Object", "values": []},
                              {"type": "AWS::Lambda::Function", "values": []}]}]  # fmt: skip

ATTACKS = (
    Scenario("StopLogging: the trail stops recording",
             lambda: cloudtrail_record("StopLogging", {"name": TRAIL}), "drift", "logging-stopped",
             reverts=("StartLogging",)),
    Scenario("PutEventSelectors as Stratus Red Team does it: management events off",
             lambda: cloudtrail_record("PutEventSelectors", {"trailName": TRAIL, "eventSelectors": STRATUS}),
             "drift", "management-events-excluded", reverts=("PutEventSelectors",)),
    Scenario("PutEventSelectors: read-only management events, every change unrecorded",
             lambda: cloudtrail_record("PutEventSelectors", {"trailName": TRAIL, "eventSelectors": [
                 {"readWriteType": "ReadOnly", "includeManagementEvents": True, "dataResources": DATA_RESOURCES_LC,
                  "excludeManagementEventSources": []}]}),
             "drift", "management-events-partial", reverts=("PutEventSelectors",)),
    Scenario("PutEventSelectors: advanced selectors that quietly drop iam.amazonaws.com",
             lambda: cloudtrail_record("PutEventSelectors", {
                 "trailName": f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{TRAIL}",
                 "advancedEventSelectors": ADVANCED_WITHOUT_IAM}),
             "drift", "management-sources-excluded", reverts=("PutEventSelectors",)),
    Scenario("UpdateTrail: single-region, every other region goes dark",
             lambda: cloudtrail_record("UpdateTrail", {"name": TRAIL, "isMultiRegionTrail": False}),
             "drift", "not-multi-region", reverts=("UpdateTrail",)),
    Scenario("DeleteTrail: the trail is gone",
             lambda: cloudtrail_record("DeleteTrail", {"name": TRAIL}), "drift", "trail-deleted",
             reverts=("CreateTrail", "PutEventSelectors", "StartLogging")),
)  # fmt: skip
BENIGN = (
    Scenario("PutEventSelectors: selectors restored to All (benign)",
             lambda: cloudtrail_record("PutEventSelectors", {"trailName": TRAIL, "eventSelectors": [
                 {"readWriteType": "All", "includeManagementEvents": True, "dataResources": DATA_RESOURCES_LC,
                  "excludeManagementEventSources": []}]}),
             "compliant"),
    Scenario("StopLogging denied with AccessDenied (a failed attempt)",
             lambda: cloudtrail_record("StopLogging", {"name": TRAIL}, errorCode="AccessDenied",
                                       errorMessage=f"User: {ATTACKER['arn']} is not authorized to perform: "
                                                    "cloudtrail:StopLogging"),
             "failed-attempt", makes_call=False),
    Scenario("The same StopLogging event delivered twice",
             lambda: cloudtrail_record("StopLogging", {"name": TRAIL}), "duplicate", twice=True),
    Scenario("StopLogging, act, StartLogging before anyone looks: the window is a logging gap",
             lambda: cloudtrail_record("StopLogging", {"name": TRAIL}), "drift", "logging-gap", put_back=True),
)  # fmt: skip


SWEPT = (
    Scenario("UpdateTrail whose event is lost: the scheduled sweep finds the drift",
             lambda: cloudtrail_record("UpdateTrail", {"name": TRAIL, "isMultiRegionTrail": False}),
             "drift", "not-multi-region", swept=True),
)  # fmt: skip
DRY_RUN = (ATTACKS[0], ATTACKS[5])  # what a revert would do, shown and not done
PHASES = (
    ("alert only", "off", ATTACKS + BENIGN + SWEPT),
    ("dry run", "dry-run", DRY_RUN),
    ("remediation on", "on", ATTACKS),
)
WIDTH = 100  # the summary's and the banners' columns
TITLE_WIDTH = 66  # a scenario's title in the summary, cut at a word boundary


@dataclass
class Outcome:
    phase: str
    scenario: Scenario
    status: str
    rules: list[str]
    channels: list[str]
    actions: list[tuple[str, str]]
    millis: float
    problems: list[str] = field(default_factory=list)
    sent: int = 0  # the Slack posts and emails the scenario produced
    baseline: list[str] | None = None  # after a revert: what still differs from the baseline (empty: nothing)


_HEADER_ICON = re.compile(r"^:[a-z0-9_+-]+:\s*")
_VARYING = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # alert and event ids
    r"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?"  # times
)


def message_kind(text: str) -> str:
    """A Slack message's kind: its headline without the icon and the trail, as in "CRITICAL · CloudTrail drift"
    for ":red_circle: CRITICAL · CloudTrail drift: org-audit"."""
    headline = _HEADER_ICON.sub("", text.split("\n", 1)[0])
    cut = headline.find(": ", max(headline.find(" · "), 0))
    return headline[:cut] if cut > 0 else headline


def differences(first: list[str], this: list[str]) -> list[str]:
    """The lines of ``this`` message that differ from ``first`` (ids and times aside): ``~`` a line that replaces
    one of the first's, ``+`` a line it adds, ``-`` a line of the first's it lacks (shortened)."""
    old, new = [_VARYING.sub("…", line) for line in first], [_VARYING.sub("…", line) for line in this]
    lines: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        paired = min(i2 - i1, j2 - j1)
        lines += [f"~ {line}" for line in this[j1 : j1 + paired]]
        lines += [f"+ {line}" for line in this[j1 + paired : j2]]
        lines += [f"- {_fit(line, WIDTH - 8)}" for line in first[i1 + paired : i2]]
    return lines


class Story:
    """What the demo prints: every detail, or with ``brief`` only headers, verdicts and the summary. It keeps
    the first Slack message of each kind (shown in full; later ones by their differences) and counts what was
    sent."""

    def __init__(self, brief: bool = False) -> None:
        self.brief = brief
        self.kinds: dict[str, tuple[int, list[str]]] = {}  # kind -> (its number, the first message's lines)
        self.body_shown = False
        self.slack_posts = self.emails = self.duplicates = 0

    def heading(self, text: str) -> None:
        print(text)

    def say(self, text: str = "") -> None:
        if not self.brief:
            print(text)

    def banner(self, text: str) -> None:
        self.heading(f"━━ {text} " + "━" * max(3, WIDTH - len(text) - 4))

    def scenario(self, number: int, title: str) -> None:
        self.say()
        self.heading(f"── {number}. {title}")

    def verdict(self, result: dict[str, Any], notified: str = "") -> None:
        rules = ", ".join(f"{f['rule']} ({f['severity']})" for f in result.get("findings", [])) or "-"
        notified = notified or ", ".join(result.get("notified", [])) or "-"
        self.heading(f"  verdict: {result.get('status')}   findings: {rules}   notified: {notified}")

    def show(self, result: dict[str, Any], slack: list[dict[str, Any]], emails: list[dict[str, Any]], millis: float,
             *, since: str = "the call", notified: str = "") -> None:  # fmt: skip
        """The verdict, the reverts, the time to the alert (when one was sent) and what people received."""
        self.verdict(result, notified)
        for action in result.get("actions", []):
            self.say(f"  revert: {action['action']} -> {action['result']} {action.get('detail', '')}".rstrip())
        if slack or emails:
            self.say(f"  time from {since} to the alert: {millis:.0f} ms")
        for message in slack:
            self.slack(message)
        for email in emails:
            self.email(email)

    def relation(self, message: dict[str, Any]) -> tuple[str, int, list[str]]:
        """The message's kind, the number of the first of its kind (0 if it is the first), and its differences."""
        from .slack_text import slack_as_text

        lines = slack_as_text(message).splitlines()
        kind = message_kind("\n".join(lines))
        number, first = self.kinds.get(kind, (0, []))
        return kind, number, differences(first, lines) if number else lines

    def slack(self, message: dict[str, Any]) -> None:
        kind, number, lines = self.relation(message)
        if not number:
            self.kinds[kind] = (len(self.kinds) + 1, lines)
            self.say(f"  Slack message #{len(self.kinds)}, in full (the first “{kind}”):")
        elif lines:
            self.say(f"  Slack message: as #{number} except:")
        else:
            self.say(f"  Slack message: as #{number}, no other line differs")
        if lines:
            self.say(_indent("\n".join(lines)))

    def email(self, email: dict[str, Any]) -> None:
        self.say(f"  Email  Subject: {email['Subject']}")
        if self.body_shown:
            self.say("         body as before, with this trail's facts")
            return
        self.body_shown = True
        self.say(_indent(email["Message"].rstrip("\n")))


def sweep_event(at: str = "2026-11-21T08:00:00Z") -> dict[str, Any]:
    """The EventBridge schedule's event that runs the backstop sweep."""
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
            "account": ACCOUNT, "time": at, "region": REGION, "resources": [], "detail": {}}  # fmt: skip


class DemoAccount:
    """The emulated account, its detector's resources, and what people receive."""

    def __init__(self, emu: Emulator, slack: SlackServer, story: Story | None = None) -> None:
        self.emu, self.slack = emu, slack
        self.story = story or Story()
        self.queue_url = ""
        self.seen_slack = 0

    def provision(self, mode: str) -> None:
        """A fresh account holding the compliant trail, the detector's resources and its recorded baseline."""
        import drift_handler

        self.emu.reset()
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
        ct = boto3.client("cloudtrail", region_name=REGION)
        ct.create_trail(Name=TRAIL, S3BucketName=BUCKET, IsMultiRegionTrail=True, EnableLogFileValidation=True,
                        TagsList=[{"Key": "owner", "Value": "security"}])  # fmt: skip
        ct.put_event_selectors(TrailName=TRAIL, EventSelectors=BASELINE_SELECTORS)
        ct.start_logging(Name=TRAIL)
        create_state_table(boto3.client("dynamodb", region_name=REGION), TABLE)
        sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
        topic = sns.create_topic(Name="trailguard-alerts")["TopicArn"]
        self.queue_url = sqs.create_queue(QueueName="security-team-inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn["QueueArn"])
        secret = boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name="trailguard/slack", SecretString=json.dumps({"webhook_url": self.slack.webhook_url})
        )["ARN"]
        os.environ.update(STATE_TABLE=TABLE, ALERT_TOPIC_ARN=topic, SLACK_SECRET_ARN=secret, REMEDIATION_MODE=mode)
        drift_handler._runtime = None  # a new Lambda container with this configuration
        baseline = self.deliver(sweep_event(), wrapped=True)
        assert baseline["status"] == "compliant", baseline  # the sweep has recorded the trail's baseline
        self.new_slack()  # (none: the account is compliant)

    def deliver(self, record: dict[str, Any], *, wrapped: bool = False) -> dict[str, Any]:
        """Run the handler on a CloudTrail record (in its EventBridge envelope), or on an event as it is."""
        import drift_handler

        class Context:
            invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:trailguard-drift"

        level = drift_handler.logger.log_level
        drift_handler.logger.setLevel("WARNING")  # its JSON log lines and metrics belong in CloudWatch
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                result: dict[str, Any] = drift_handler.handler(record if wrapped else envelope(record), Context())
        finally:
            drift_handler.logger.setLevel(level)
        return result

    def new_slack(self) -> list[dict[str, Any]]:
        messages = [m.body for m in self.slack.messages[self.seen_slack :]]
        self.seen_slack += len(messages)
        self.story.slack_posts += len(messages)
        return messages

    def new_email(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs", region_name=REGION)
        emails = []
        while got := sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", []):
            for message in got:
                emails.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        self.story.emails += len(emails)
        return emails

    def back_to_baseline(self) -> list[str]:
        """What differs from the provisioned trail (an empty list: the trail is back, data events and all)."""
        ct = boto3.client("cloudtrail", region_name=REGION)
        trails = [t for t in ct.describe_trails()["trailList"] if t["Name"] == TRAIL]
        if not trails:
            return ["the trail does not exist"]
        problems = []
        trail = trails[0]
        if (trail["S3BucketName"], trail["IsMultiRegionTrail"]) != (BUCKET, True):
            problems.append(f"bucket/multi-region are {trail['S3BucketName']}/{trail['IsMultiRegionTrail']}")
        if not ct.get_trail_status(Name=TRAIL)["IsLogging"]:
            problems.append("not logging")
        if ct.get_event_selectors(TrailName=TRAIL)["EventSelectors"] != BASELINE_SELECTORS:
            problems.append("its selectors are not the baseline's (data events lost?)")
        return problems


def _indent(text: str, prefix: str = "    │ ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def play(account: DemoAccount, scenario: Scenario, phase: str) -> Outcome:
    record, story = scenario.record(), account.story
    cloudtrail = boto3.client("cloudtrail", region_name=REGION)
    started = time.perf_counter()
    if scenario.makes_call:
        replay(record, cloudtrail)
    if scenario.put_back:
        cloudtrail.start_logging(Name=TRAIL)
    if scenario.swept:
        story.say(f"  {record['eventName']} made; its event never reaches the detector. The next scheduled sweep:")
        started = time.perf_counter()
        result = account.deliver(sweep_event(), wrapped=True)
    else:
        result = account.deliver(record)
    first: list[str] = []
    if scenario.twice:
        first = _first_delivery(account, result)
        result = account.deliver(record)
    millis = (time.perf_counter() - started) * 1000
    slack, emails = account.new_slack(), account.new_email()
    outcome = Outcome(phase, scenario, result["status"], [f["rule"] for f in result["findings"]], result["notified"],
                      [(a["action"], a["result"]) for a in result.get("actions", [])], millis,
                      sent=len(slack) + len(emails))  # fmt: skip
    story.show(result, slack, emails, millis, since="the sweep" if scenario.swept else "the call")
    if scenario.twice:
        story.duplicates += outcome.sent
        if not outcome.sent:
            story.say("  no message: duplicate of the first delivery")
    outcome.problems = first + _problems(outcome, slack, emails, account)
    return outcome


def _first_delivery(account: DemoAccount, result: dict[str, Any]) -> list[str]:
    """Show the first of two deliveries in one line (its alert was shown before); what did not come out right."""
    slack, emails = account.new_slack(), account.new_email()
    same = ""
    if slack:
        _, number, changes = account.story.relation(slack[0])
        same = f"; its alert is #{number}'s again, ids and times aside" if number and not changes else ""
    account.story.say(f"  first delivery: verdict {result['status']}, notified: {', '.join(result['notified']) or '-'}"
                      f"{same}")  # fmt: skip
    if (result["status"], len(slack), len(emails)) != ("drift", 1, 1):
        return [f"first delivery: {result['status']}, {len(slack)} Slack message(s), {len(emails)} email(s)"]
    return []


def _problems(outcome: Outcome, slack: list[Any], emails: list[Any], account: DemoAccount) -> list[str]:
    expected, problems = outcome.scenario, []
    if outcome.status != expected.status:
        problems.append(f"verdict {outcome.status}, expected {expected.status}")
    if expected.rule and expected.rule not in outcome.rules:
        problems.append(f"no {expected.rule} finding")
    once = (1, 1) if expected.status in {"drift", "failed-attempt"} else (0, 0)  # one Slack message, one email
    # the sweep alerts once per place it judged wrong (the trail, the account), each to Slack and by email
    right = len(slack) == len(emails) >= 1 if expected.swept else (len(slack), len(emails)) == once
    if not right:
        problems.append(f"{len(slack)} Slack message(s) and {len(emails)} email(s)")
    return problems + _revert_problems(outcome, account)


def _revert_problems(outcome: Outcome, account: DemoAccount) -> list[str]:
    """With remediation on: the reverts made and the trail back at its baseline; in dry-run: the reverts that
    would be made, and the trail left as the attacker left it."""
    said = {"remediation on": "done", "dry run": "dry-run"}.get(outcome.phase)
    if said is None:
        return []
    problems = []
    if outcome.actions != [(call, said) for call in outcome.scenario.reverts]:
        problems.append(f"reverts {outcome.actions}, expected {list(outcome.scenario.reverts)} {said}")
    differs = account.back_to_baseline()
    if said == "done":
        outcome.baseline = differs
        problems += differs
    elif not differs:
        problems.append("the trail is at its baseline again: dry-run changed it")
    return problems


def summary(outcomes: list[Outcome], story: Story) -> bool:
    """The table, one row per scenario within WIDTH columns, then what matters, then the verdict line."""
    print("\nSummary")
    print(f"  {'':4}{'SCENARIO':<{TITLE_WIDTH}} {'VERDICT':<14} {'MS':>5}  OK")
    phase, number = "", 0
    for o in outcomes:
        if o.phase != phase:
            phase, number = o.phase, 0
            print(f"  {phase}")
        number += 1
        millis = f"{o.millis:>5.0f}" if o.sent else f"{'-':>5}"
        print(f"  {number:>2}. {_fit(o.scenario.title, TITLE_WIDTH):<{TITLE_WIDTH}} {o.status:<14} {millis}  "
              f"{'yes' if not o.problems else 'NO'}")  # fmt: skip
        for line in textwrap.wrap("; ".join(o.problems), WIDTH - 8):
            print(f"{'':8}{line}")
    reverted = [o.baseline for o in outcomes if o.baseline is not None]
    back = sum(not differs for differs in reverted)
    print(f"\n  Every trail back at its baseline after the remediation phase: "
          f"{'yes' if back == len(reverted) else 'NO'} ({back} of {len(reverted)})")  # fmt: skip
    print(f"  Sent in total: {story.slack_posts} Slack posts and {story.emails} emails. "
          f"Duplicates sent: {story.duplicates}.")  # fmt: skip
    passed = all(not o.problems for o in outcomes) and back == len(reverted) and not story.duplicates
    print("\nEvery scenario came out as expected." if passed else "\nSome scenarios did NOT come out as expected.")
    return passed


def _fit(text: str, width: int) -> str:
    """``text`` within ``width`` columns, cut at a word boundary with "…" when longer."""
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    if text[width - 1] != " " and " " in cut:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;") + "…"


def command(argv: list[str]) -> int:
    """``trailguard demo [--port N] [--brief]``: the entry point the trailguard command finds this plugin by."""
    import argparse

    parser = argparse.ArgumentParser(prog="trailguard demo", description="the offline demo against a local emulator")
    parser.add_argument("--port", type=int, default=0, help="emulator port (default: any free port)")
    parser.add_argument("--brief", action="store_true", help="only the scenario headers, verdicts and the summary")
    args = parser.parse_args(argv)
    return run_demo(port=args.port, brief=args.brief)


INTRO = (
    "How to read it: each kind of Slack message (its headline without the trail) is shown in full the first "
    'time, numbered. Later ones say "as #N except:" and list only their lines that differ from #N: ~ replaces '
    "a line of #N, + adds one, - is a line of #N this one lacks. Alert ids and times, different in every "
    "message, are not compared. Each email shows its subject; only the first one its body. "
    "`trailguard demo --brief` shows only the verdicts and the summary."
)
DETECTOR_ENV = ("STATE_TABLE", "ALERT_TOPIC_ARN", "SLACK_SECRET_ARN", "REMEDIATION_MODE", "MEMBER_ROLE_NAME",
                "ORGANIZATION_ID", "WATCHED_REGIONS", "SWEEP_QUEUE_URL", "DETECTOR_RESOURCES", "SLACK_BUTTONS",
                "SLACK_SIGNING_SECRET_ARN", "SLACK_ALLOWED_USERS")  # fmt: skip


def run_demo(port: int = 0, brief: bool = False) -> int:
    story = Story(brief)
    story.heading("trailguard demo: an emulated AWS account (moto) and a Slack stand-in on 127.0.0.1; no AWS account.")
    outcomes: list[Outcome] = []
    with (
        Emulator(port=port) as emu,
        pointed_at(emu),
        SlackServer() as slack,
        environment(dict.fromkeys(DETECTOR_ENV, "")),
    ):
        account = DemoAccount(emu, slack, story)
        story.say()
        story.say(textwrap.fill(f"Account {ACCOUNT}: trail {TRAIL!r} in {REGION}, multi-region, logging all "
                                "management events and S3 and Lambda data events; alerts to Slack and email.",
                                WIDTH))  # fmt: skip
        story.say()
        story.say(textwrap.fill(INTRO, WIDTH))
        for phase, mode, scenarios in PHASES:
            story.say()
            story.banner(f"{phase.upper()} (REMEDIATION_MODE={mode})")
            for number, scenario in enumerate(scenarios, 1):
                account.provision(mode)
                story.scenario(number, scenario.title)
                outcomes.append(play(account, scenario, phase))
        from .demo_watch import run_watchers

        story.say()
        story.banner("WATCH THE WATCHERS (the detector itself, and the event pipeline)")
        outcomes += run_watchers(account)
        from .demo_answer import run_answers

        story.say()
        story.banner("ANSWER FROM SLACK (SLACK_BUTTONS=on; clicks signed locally with the app's signing secret)")
        outcomes += run_answers(account)
        from .demo_org import run_organization

        story.say()
        story.banner("ORGANIZATION (MEMBER_ROLE_NAME=trailguard-member, SWEEP_QUEUE_URL set)")
        outcomes += run_organization(account)
    return 0 if summary(outcomes, story) else 1


if __name__ == "__main__":
    sys.exit(run_demo(brief="--brief" in sys.argv[1:]))
