"""The demo's organization part: one detector for an AWS Organization, through the real handler.

The management account (the detector's own here) holds the organization trail; three member accounts (dev,
prod, sandbox) keep no trail of their own, as in an AWS Control Tower landing zone, except prod, which has
one. Shown: a member's tamper (high, not critical: the organization trail still covers prod), the
organization trail's tamper with its blast radius, and the sweep fanned out through SQS, one message per
account, answered as a partial batch.
"""

from __future__ import annotations

import json
import os
import textwrap
import time
import uuid
from typing import Any

import boto3

from . import records
from .demo import ATTACKER, REGION, WIDTH, DemoAccount, Outcome, Scenario
from .organization import ALL_MANAGEMENT_EVENTS, Organization, build_organization, client_as

ORG_TRAIL = "org-trail"
TITLES = (
    "A member's own trail stopped while the organization trail covers it: high",
    "The organization trail stopped: one alert with its blast radius",
    "The sweep fanned out through SQS: each member judged, changes reported once",
)


def _provision(account: DemoAccount) -> Organization:
    """The demo account's detector resources, then the organization around it, with the member role in every
    member, and prod's own trail."""
    import drift_handler

    account.provision("off")  # the detector's table, topic, secret and Slack (the old demo trail stays too)
    boto3.client("cloudtrail", region_name=REGION).delete_trail(Name="org-audit")
    org = build_organization(("dev", "prod", "sandbox"), org_trail=ORG_TRAIL)
    prod = org.account("prod")
    client_as(prod, "s3").create_bucket(Bucket=f"prod-logs-{prod}")
    cloudtrail = client_as(prod, "cloudtrail")
    cloudtrail.create_trail(Name="prod-audit", S3BucketName=f"prod-logs-{prod}", IsMultiRegionTrail=True)
    cloudtrail.put_event_selectors(TrailName="prod-audit", EventSelectors=ALL_MANAGEMENT_EVENTS)
    cloudtrail.start_logging(Name="prod-audit")
    queue = boto3.client("sqs", region_name=REGION).create_queue(QueueName="trailguard-sweep")["QueueUrl"]
    os.environ.update(MEMBER_ROLE_NAME=org.role_name, ORGANIZATION_ID=org.id, WATCHED_REGIONS=REGION,
                      SWEEP_QUEUE_URL=queue)  # fmt: skip
    drift_handler._runtime = None  # a new container, in organization mode
    return org


def _sweep_event() -> dict[str, Any]:
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
            "account": records.ACCOUNT, "time": "2026-11-21T09:00:00Z", "region": REGION, "resources": [],
            "detail": {}}  # fmt: skip


def _batch(url: str) -> dict[str, Any]:
    """The sweep queue's messages as Lambda's SQS event source hands them to the function."""
    sqs = boto3.client("sqs", region_name=REGION)
    found: list[dict[str, Any]] = []
    while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        found += got
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                                                        for n, m in enumerate(got)])  # fmt: skip
    return {"Records": [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                         "attributes": {}, "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                         "eventSourceARN": f"arn:aws:sqs:{REGION}:{records.ACCOUNT}:trailguard-sweep",
                         "awsRegion": REGION} for m in found]}  # fmt: skip


def _outcome(title: str, result: dict[str, Any], started: float, account: DemoAccount, problems: list[str],
             *, status: str = "drift", fanned_out: bool = False) -> Outcome:  # fmt: skip
    millis = (time.perf_counter() - started) * 1000
    slack, emails = account.new_slack(), account.new_email()
    channels = ", ".join(name for name, got in (("slack", slack), ("sns", emails)) if got)
    own = ", ".join(result.get("notified", [])) or "none"
    by_batch = f"{channels or '-'} (by the SQS batch; by the sweep itself: {own})" if fanned_out else ""
    account.story.show(
        result, slack, emails, millis, since="the sweep" if fanned_out else "the call", notified=by_batch
    )
    if result.get("status") != status:
        problems.append(f"verdict {result.get('status')}, expected {status}")
    outcome = Outcome("organization", Scenario(title, lambda: {}, status), str(result.get("status")),
                      [f["rule"] for f in result.get("findings", [])], list(result.get("notified", [])), [],
                      millis, sent=len(slack) + len(emails))  # fmt: skip
    outcome.problems = problems + ([] if slack else ["no Slack message"])
    return outcome


def run_organization(account: DemoAccount) -> list[Outcome]:
    """The three organization scenarios; each outcome lists what did not come out as expected."""
    org = _provision(account)
    prod, management = org.account("prod"), org.management
    story = account.story
    story.say(textwrap.fill(
        f"Organization {org.id}: management account {management} with organization trail {ORG_TRAIL!r}; members "
        + ", ".join(f"{name} {acct}" for acct, name in org.members.items())
        + "; only prod keeps a trail of its own (prod-audit). Sweep queue: on.", WIDTH))  # fmt: skip
    account.deliver(_sweep_event(), wrapped=True)  # a first sweep records each account's own coverage
    account.deliver(_batch(os.environ["SWEEP_QUEUE_URL"]), wrapped=True)
    account.new_slack(), account.new_email()  # (nothing to say: every account is covered)
    outcomes = []

    story.scenario(1, TITLES[0])
    story.say(f"  A member's tamper: StopLogging on prod's own trail (account {prod})")
    client_as(prod, "cloudtrail").stop_logging(Name="prod-audit")
    started = time.perf_counter()
    record = records.cloudtrail_record("StopLogging", {"name": "prod-audit"}, account=prod,
                                       userIdentity=records.iam_user("mallory", prod))  # fmt: skip
    result = account.deliver(record)
    problems = [] if [(f["rule"], f["severity"]) for f in result["findings"]] == [("logging-stopped", "high")] else [
        f"findings {result['findings']}, expected logging-stopped (high)"]  # fmt: skip
    outcomes.append(_outcome(TITLES[0], result, started, account, problems))
    client_as(prod, "cloudtrail").start_logging(Name="prod-audit")

    story.scenario(2, TITLES[1])
    story.say(f"  The organization trail's tamper: StopLogging on {ORG_TRAIL!r} (management account)")
    boto3.client("cloudtrail", region_name=REGION).stop_logging(Name=ORG_TRAIL)
    started = time.perf_counter()
    result = account.deliver(records.cloudtrail_record("StopLogging", {"name": ORG_TRAIL}, userIdentity=ATTACKER))
    problems = [] if result["findings"] and result["findings"][0]["severity"] == "critical" else ["not critical"]
    outcomes.append(_outcome(TITLES[1], result, started, account, problems))
    outcomes[-1].problems += [] if "Blast radius: 3 of 4 accounts" in str(account.slack.messages[-1].body) else [
        "no blast radius in the alert"]  # fmt: skip

    story.scenario(3, TITLES[2])
    story.say("  The next sweep, fanned out: one SQS message per member account, a partial-batch answer")
    started = time.perf_counter()
    swept = account.deliver(_sweep_event(), wrapped=True)
    batch = account.deliver(_batch(os.environ["SWEEP_QUEUE_URL"]), wrapped=True)
    story.say(f"  scheduled sweep: {swept['accounts']} accounts, {swept.get('queued', 0)} queued; "
              f"batch answer: {json.dumps(batch)}")  # fmt: skip
    problems = [] if swept.get("queued") == 3 and batch == {"batchItemFailures": []} else ["fan-out failed"]
    outcomes.append(_outcome(TITLES[2], swept, started, account, problems, fanned_out=True))
    for key in ("MEMBER_ROLE_NAME", "ORGANIZATION_ID", "WATCHED_REGIONS", "SWEEP_QUEUE_URL"):
        os.environ.pop(key, None)
    return outcomes
