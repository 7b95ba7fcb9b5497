"""``make demo``: the whole flow offline, on one machine, with no AWS account.

moto's server stands in for AWS and a local Slack-compatible webhook receiver for Slack, both on 127.0.0.1.
An account is provisioned with a compliant baseline (a multi-region trail logging all management events and
S3 and Lambda data events, an alert topic with an email inbox, the Slack secret, the state table). Then each
scenario makes a real API call against the emulator, builds the CloudTrail event that call produces, in the
shape real records have, and hands it to the real Lambda handler; the Slack message and the email are shown
as people receive them. The attacks are then played again with REMEDIATION_MODE=on. The exit status is 0
only if every scenario came out as expected.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3

from . import records
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
    reverts: tuple[str, ...] = ()  # the calls a revert makes, with REMEDIATION_MODE=on
    put_back: bool = False  # the attacker starts the trail again before its event reaches the detector


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


class DemoAccount:
    """The emulated account, its detector's resources, and what people receive."""

    def __init__(self, emu: Emulator, slack: SlackServer) -> None:
        self.emu, self.slack = emu, slack
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
        boto3.client("dynamodb", region_name=REGION).create_table(
            TableName=TABLE, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        )  # fmt: skip
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
        sweep = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": ACCOUNT,
            "time": "2026-11-21T08:00:00Z",
            "region": REGION,
            "resources": [],
            "detail": {},
        }
        baseline = self.deliver(sweep, wrapped=True)
        assert baseline["status"] == "compliant", baseline  # the sweep has recorded the trail's baseline
        self.seen_slack = len(self.slack.messages)

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
        return messages

    def new_email(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs", region_name=REGION)
        emails = []
        while got := sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", []):
            for message in got:
                emails.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
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


def _show(result: dict[str, Any], slack: list[dict[str, Any]], emails: list[dict[str, Any]], millis: float) -> None:
    from .slack_text import slack_as_text

    rules = ", ".join(f"{f['rule']} ({f['severity']})" for f in result["findings"]) or "-"
    print(f"  verdict: {result['status']}   findings: {rules}   notified: {', '.join(result['notified']) or '-'}")
    for action in result.get("actions", []):
        print(f"  revert: {action['action']} -> {action['result']} {action.get('detail', '')}".rstrip())
    print(f"  time from the call to the alert: {millis:.0f} ms")
    for message in slack:
        print("  Slack, as people read it:")
        print(_indent(slack_as_text(message)))
    for email in emails:
        body = email["Message"].splitlines()
        shown = body[:14] + ([f"… ({len(body) - 14} more lines)"] if len(body) > 14 else [])
        print(f"  Email  Subject: {email['Subject']}")
        print(_indent("\n".join(shown)))


def play(account: DemoAccount, scenario: Scenario, phase: str) -> Outcome:
    record = scenario.record()
    started = time.perf_counter()
    if scenario.makes_call:
        replay(record, boto3.client("cloudtrail", region_name=REGION))
    if scenario.put_back:
        boto3.client("cloudtrail", region_name=REGION).start_logging(Name=TRAIL)
    result = account.deliver(record)
    if scenario.twice:
        result = account.deliver(record)
    millis = (time.perf_counter() - started) * 1000
    outcome = Outcome(phase, scenario, result["status"], [f["rule"] for f in result["findings"]], result["notified"],
                      [(a["action"], a["result"]) for a in result.get("actions", [])], millis)  # fmt: skip
    slack, emails = account.new_slack(), account.new_email()
    _show(result, slack, emails, millis)
    outcome.problems = _problems(outcome, slack, emails, account)
    return outcome


def _problems(outcome: Outcome, slack: list[Any], emails: list[Any], account: DemoAccount) -> list[str]:
    expected, problems = outcome.scenario, []
    if outcome.status != expected.status and not (expected.twice and outcome.status == "duplicate"):
        problems.append(f"verdict {outcome.status}, expected {expected.status}")
    if expected.rule and expected.rule not in outcome.rules:
        problems.append(f"no {expected.rule} finding")
    alerting = expected.status in {"drift", "failed-attempt", "duplicate"}
    if (len(slack), len(emails)) != ((1, 1) if alerting else (0, 0)):
        problems.append(f"{len(slack)} Slack message(s) and {len(emails)} email(s)")
    if outcome.phase == "remediation on":
        if outcome.actions != [(call, "done") for call in expected.reverts]:
            problems.append(f"reverts {outcome.actions}, expected {list(expected.reverts)} done")
        problems += account.back_to_baseline()
    return problems


def summary(outcomes: list[Outcome]) -> bool:
    print("\nSummary")
    print(f"  {'PHASE':<15} {'SCENARIO':<72} {'VERDICT':<15} {'MS':>5}  OK")
    for o in outcomes:
        print(f"  {o.phase:<15} {_fit(o.scenario.title, 72):<72} {o.status:<15} {o.millis:>5.0f}  "
              f"{'yes' if not o.problems else 'NO: ' + '; '.join(o.problems)}")  # fmt: skip
    passed = all(not o.problems for o in outcomes)
    print("\nEvery scenario came out as expected." if passed else "\nSome scenarios did NOT come out as expected.")
    return passed


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def command(argv: list[str]) -> int:
    """``trailguard demo [--port N]``: the entry point the trailguard command finds this plugin by."""
    import argparse

    parser = argparse.ArgumentParser(prog="trailguard demo", description="the offline demo against a local emulator")
    parser.add_argument("--port", type=int, default=0, help="emulator port (default: any free port)")
    return run_demo(port=parser.parse_args(argv).port)


def run_demo(port: int = 0) -> int:
    print("trailguard demo: an emulated AWS account (moto) and a Slack stand-in on 127.0.0.1; no AWS account.\n")
    outcomes: list[Outcome] = []
    detector_env = dict.fromkeys(
        (
            "STATE_TABLE",
            "ALERT_TOPIC_ARN",
            "SLACK_SECRET_ARN",
            "REMEDIATION_MODE",
            "MEMBER_ROLE_NAME",
            "ORGANIZATION_ID",
            "WATCHED_REGIONS",
            "SWEEP_QUEUE_URL",
            "DETECTOR_RESOURCES",
        ),
        "",
    )
    with Emulator(port=port) as emu, pointed_at(emu), SlackServer() as slack, environment(detector_env):
        account = DemoAccount(emu, slack)
        print(f"Account {ACCOUNT}: trail {TRAIL!r} in {REGION}, multi-region, logging all management events and "
              "S3 and Lambda data events; alerts to Slack and email.\n")  # fmt: skip
        for phase, mode, scenarios in (("alert only", "off", ATTACKS + BENIGN), ("remediation on", "on", ATTACKS)):
            print(f"━━ {phase.upper()} (REMEDIATION_MODE={mode}) " + "━" * 60)
            for number, scenario in enumerate(scenarios, 1):
                account.provision(mode)
                print(f"\n── {number}. {scenario.title}")
                outcomes.append(play(account, scenario, phase))
            print()
        from .demo_watch import run_watchers

        print("━━ WATCH THE WATCHERS (the detector itself, and the event pipeline) " + "━" * 51)
        outcomes += run_watchers(account)
        print()
        from .demo_org import run_organization

        print("━━ ORGANIZATION (MEMBER_ROLE_NAME=trailguard-member, SWEEP_QUEUE_URL set) " + "━" * 45)
        outcomes += run_organization(account)
        print()
    return 0 if summary(outcomes) else 1


if __name__ == "__main__":
    sys.exit(run_demo())
