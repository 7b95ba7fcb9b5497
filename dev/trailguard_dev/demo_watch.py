"""The demo's "watch the watchers" part: an attacker who blinds the alarm first, and a region gone silent.

1. The detector's own EventBridge rule is disabled before anything else: ``detector-tampered`` (critical).
2. eu-west-1's forwarding rule is disabled, so CloudTrail events from there no longer arrive. Nothing says so,
   except the heartbeat: the sweep's failing StopLogging in us-east-1 comes back, the one in eu-west-1 does not,
   and the next sweep raises ``event-pipeline-silent`` for eu-west-1, naming what to check.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import Any

import boto3

from trailguard import heartbeat

from . import records
from .demo import ACCOUNT, ATTACKER, REGION, DemoAccount, Outcome, Scenario

RULE = "trailguard-TrailChanges"
SILENT = "eu-west-1"
TITLES = (
    "Blind the alarm first: DisableRule on the detector's own rule",
    f"A silenced region: {SILENT}'s heartbeat never comes back, the next sweep says so",
)


def _sweep() -> dict[str, Any]:
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
            "account": ACCOUNT, "time": "2026-11-21T10:00:00Z", "region": REGION, "resources": [],
            "detail": {}}  # fmt: skip


def _outcome(title: str, result: dict[str, Any], started: float, account: DemoAccount, rule: str,
             *, since: str = "the call") -> Outcome:  # fmt: skip
    millis = (time.perf_counter() - started) * 1000
    slack, emails = account.new_slack(), account.new_email()
    account.story.show(result, slack, emails, millis, since=since)
    outcome = Outcome("watch watchers", Scenario(title, lambda: {}, "drift", rule), str(result.get("status")),
                      [f["rule"] for f in result.get("findings", [])], list(result.get("notified", [])), [],
                      millis, sent=len(slack) + len(emails))  # fmt: skip
    outcome.problems = [p for p, bad in (
        (f"verdict {outcome.status}, expected drift", outcome.status != "drift"),
        (f"no {rule} finding", rule not in outcome.rules),
        (f"{len(slack)} Slack message(s) and {len(emails)} email(s)", (len(slack), len(emails)) != (1, 1)),
    ) if bad]  # fmt: skip
    return outcome


def _echo(beat: dict[str, Any], identity: str) -> dict[str, Any]:
    """The failed StopLogging event a heartbeat produces, as it comes back through a working rule."""
    return records.cloudtrail_record(
        "StopLogging", {"name": beat["name"]}, region=beat["region"], errorCode="TrailNotFoundException",
        errorMessage=f"Unknown trail: {beat['name']} for the user: {ACCOUNT}",
        userIdentity={"type": "IAMUser", "accountId": ACCOUNT, "arn": identity},
    )  # fmt: skip


def run_watchers(account: DemoAccount) -> list[Outcome]:
    """The two scenarios; each outcome lists what did not come out as expected."""
    import drift_handler

    outcomes = []
    os.environ["DETECTOR_RESOURCES"] = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{RULE}"  # as the stack lists it
    account.provision("off")
    boto3.client("events", region_name=REGION).put_rule(Name=RULE, EventPattern=json.dumps({"source": ["x"]}))
    story = account.story
    story.scenario(1, TITLES[0])
    story.say(f"  The attacker disables {RULE} first, before stopping the trail:")
    started = time.perf_counter()
    boto3.client("events", region_name=REGION).disable_rule(Name=RULE)
    record = records.cloudtrail_record("DisableRule", {"name": RULE}, eventSource="events.amazonaws.com",
                                       userIdentity=ATTACKER, sourceIPAddress="203.0.113.66")  # fmt: skip
    result = account.deliver({**records.envelope(record), "source": "aws.events"}, wrapped=True)
    outcomes.append(_outcome(TITLES[0], result, started, account, "detector-tampered"))

    account.provision("off")
    os.environ["WATCHED_REGIONS"] = f"{REGION},{SILENT}"
    drift_handler._runtime = None  # a container that watches both regions
    story.scenario(2, TITLES[1])
    started = time.perf_counter()
    swept = account.deliver(_sweep(), wrapped=True)
    identity = boto3.client("sts", region_name=REGION).get_caller_identity()["Arn"]  # the detector's own
    for beat in swept["heartbeats"]:
        shown = f"  heartbeat StopLogging {beat['name']} in {beat['region']}: "
        if beat["region"] == SILENT:
            story.say(shown + "never comes back (trailguard-forward-TrailChanges is disabled there)")
            continue
        back = account.deliver(_echo(beat, identity))
        story.say(shown + f"came back, status {back['status']}")
    grace, heartbeat.GRACE = heartbeat.GRACE, -1  # the next sweep comes an hour later; the demo does not wait
    try:
        story.say("  the next sweep, an hour later (the demo does not wait):")
        result = account.deliver(_sweep(), wrapped=True)
    finally:
        heartbeat.GRACE = grace
        os.environ.pop("WATCHED_REGIONS", None)
    outcomes.append(_outcome(TITLES[1], result, started, account, "event-pipeline-silent", since="the first sweep"))
    silent = [f["message"] for f in result.get("findings", []) if f["rule"] == "event-pipeline-silent"]
    if len(silent) != 1 or f"in {SILENT} since" not in silent[0]:
        outcomes[-1].problems.append(f"expected one silent region, {SILENT}: {silent}")
    return outcomes
