"""The demo's "answer from Slack" part: drift alerts that carry buttons (``SLACK_BUTTONS=on``), clicked by a
person as Slack would send the clicks, signed locally with the Slack app's signing secret, and handed to the
real interaction endpoint (``interaction_handler``).

1. A deliberate move of the logs to another bucket, answered with *Accept as baseline*: the trail as it is
   now becomes what the detector restores; the next sweep finds nothing to say. A forged click (signed with
   another secret) is refused first, with 401, and changes nothing.
2. With REMEDIATION_MODE=on, a trail switched off once more after the detector stopped fighting (three
   reverts within the hour): the alert says it was not reverted, and *Revert now* puts it back.
"""

from __future__ import annotations

import contextlib
import io
import os
import time
from typing import Any

import boto3

from trailguard.render.slack import ACCEPT, REVERT
from trailguard.state_table import REVERTS_PER_HOUR, StateTable

from .demo import ACCOUNT, BUCKET, REGION, TABLE, TRAIL, DemoAccount, Outcome, Scenario, cloudtrail_record, sweep_event
from .emulator import environment
from .replay import replay
from .slack_clicks import SIGNING_SECRET, alert_message, button_value, click_payload, signed_request

OTHER_BUCKET = "org-audit-logs-archive"
TITLES = (
    "Logs moved to the archive bucket on purpose: answered with Accept as baseline",
    "Switched off again after the detector stopped fighting: answered with Revert now",
)
PERSON = "U0SECLEAD"


class Context:
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:trailguard-interaction"


def _endpoint_env(mode: str) -> dict[str, str]:
    """The interaction endpoint's environment, beside the drift handler's (the signing secret made here)."""
    secret = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="trailguard/slack-signing", SecretString=SIGNING_SECRET
    )["ARN"]
    return {"SLACK_SIGNING_SECRET_ARN": secret, "SLACK_ALLOWED_USERS": PERSON, "REMEDIATION_MODE": mode}


def _click(account: DemoAccount, posted: dict[str, Any], action_id: str, secret: str = SIGNING_SECRET) -> int:
    """Click ``action_id`` on the posted alert as Slack would; the endpoint's HTTP status."""
    import interaction_handler

    payload = click_payload(action_id, button_value(posted, action_id), user=PERSON, user_name="sec-lead",
                            response_url=f"{account.slack.base_url}/actions/T0DEMO/1/reply",
                            message=alert_message(posted))  # fmt: skip
    import drift_handler

    loggers = (interaction_handler.logger, drift_handler.logger)  # their JSON lines belong in CloudWatch
    levels = [logger.log_level for logger in loggers]
    for logger in loggers:
        logger.setLevel("ERROR")
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            answer = interaction_handler.handler(signed_request(payload, secret=secret), Context())
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
    return int(answer["statusCode"])


def _replies(account: DemoAccount) -> list[dict[str, Any]]:
    """What the endpoint said in Slack since last asked (through the click's response URL)."""
    said = [m for m in account.new_slack() if "replace_original" in m]
    account.story.slack_posts -= len(said)  # replies to a click, not alerts: not counted as Slack posts
    return said


def _outcome(title: str, status: int, problems: list[str], started: float) -> Outcome:
    outcome = Outcome("answer from Slack", Scenario(title, dict, "answered"), "answered" if not problems else
                      f"HTTP {status}", [], [], [], (time.perf_counter() - started) * 1000)  # fmt: skip
    outcome.problems = problems
    return outcome


def _show_answer(account: DemoAccount, status: int, button: str) -> list[dict[str, Any]]:
    story = account.story
    replies = _replies(account)
    emails = account.new_email()
    story.say(f"  {button} clicked by <@{PERSON}>: the endpoint answered HTTP {status}")
    for reply in replies:
        where = "in the alert's thread" if reply.get("thread_ts") else "the alert, updated" if reply.get(
            "replace_original") else "to the person only"  # fmt: skip
        text = reply.get("text", "") if not reply.get("replace_original") else reply["blocks"][-1]["elements"][0][
            "text"]  # fmt: skip
        story.say(f"    Slack, {where}: {text.splitlines()[0]}")
    for email in emails:
        story.say(f"    SNS notice  Subject: {email['Subject']}")
    return replies


def run_answers(account: DemoAccount) -> list[Outcome]:
    """The two scenarios; each outcome lists what did not come out as expected."""
    story = account.story
    os.environ["SLACK_BUTTONS"] = "on"
    try:
        return [_accept(account), _revert(account)]
    finally:
        os.environ.pop("SLACK_BUTTONS", None)
        story.say()


def _accept(account: DemoAccount) -> Outcome:
    story = account.story
    account.provision("off")
    story.scenario(1, TITLES[0])
    started = time.perf_counter()
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=OTHER_BUCKET)
    record = cloudtrail_record("UpdateTrail", {"name": TRAIL, "s3BucketName": OTHER_BUCKET},
                               userIdentity={"type": "IAMUser", "accountId": ACCOUNT,
                                             "arn": f"arn:aws:iam::{ACCOUNT}:user/ops-lead"})  # fmt: skip
    replay(record, boto3.client("cloudtrail", region_name=REGION))
    result = account.deliver(record)
    slack, emails = account.new_slack(), account.new_email()
    story.show(result, slack, emails, (time.perf_counter() - started) * 1000)
    problems = [] if len(slack) == 1 and button_value(slack[0], ACCEPT) else ["no alert with buttons"]
    if problems:
        return _outcome(TITLES[0], 0, problems, started)
    with environment(_endpoint_env("off")):
        forged = _click(account, slack[0], ACCEPT, secret="not-the-apps-signing-secret")
        story.say(f"  A forged click (signed with another secret): HTTP {forged}, nothing done")
        status = _click(account, slack[0], ACCEPT)
        replies = _show_answer(account, status, "Accept as baseline")
    table = StateTable(boto3.client("dynamodb", region_name=REGION), TABLE)
    arn = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{TRAIL}"
    baseline = table.baselines([arn]).get(arn)
    swept = account.deliver(sweep_event("2026-11-21T11:00:00Z"), wrapped=True)
    account.new_slack(), account.new_email()
    counted = [f["rule"] for f in swept["findings"] if not f["exempt"]]
    story.say(f"  the next sweep: {swept['status']}, findings: {', '.join(counted) or '-'}")
    problems = [p for p, bad in (
        (f"forged click answered {forged}", forged != 401),
        (f"HTTP {status}", status != 200),
        ("no reply in the thread", not any(r.get("thread_ts") for r in replies)),
        ("the baseline is not the archive bucket", not baseline or baseline.trail.get("S3BucketName") != OTHER_BUCKET),
        (f"the sweep still finds {counted}", bool(counted)),
    ) if bad]  # fmt: skip
    return _outcome(TITLES[0], status, problems, started)


def _revert(account: DemoAccount) -> Outcome:
    story = account.story
    account.provision("on")
    story.scenario(2, TITLES[1])
    arn = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{TRAIL}"
    table = StateTable(boto3.client("dynamodb", region_name=REGION), TABLE)
    for _ in range(REVERTS_PER_HOUR):  # the trail was switched off, and reverted, three times this hour
        table.spend_revert(arn)
    story.say(f"  ({REVERTS_PER_HOUR} reverts of {TRAIL} already made this hour: the detector stops fighting)")
    started = time.perf_counter()
    record = cloudtrail_record("StopLogging", {"name": TRAIL})
    replay(record, boto3.client("cloudtrail", region_name=REGION))
    result = account.deliver(record)
    slack, emails = account.new_slack(), account.new_email()
    story.show(result, slack, emails, (time.perf_counter() - started) * 1000)
    if len(slack) != 1 or not button_value(slack[0], REVERT):
        return _outcome(TITLES[1], 0, ["no alert with buttons"], started)
    with environment(_endpoint_env("on")):
        status = _click(account, slack[0], REVERT)
        replies = _show_answer(account, status, "Revert now")
    logging = boto3.client("cloudtrail", region_name=REGION).get_trail_status(Name=TRAIL)["IsLogging"]
    story.say(f"  {TRAIL} is logging again: {'yes' if logging else 'NO'}; bucket {BUCKET} kept")
    problems = [p for p, bad in (
        (f"HTTP {status}", status != 200),
        ("the trail is not logging", not logging),
        ("no reply in the thread", not any(r.get("thread_ts") for r in replies)),
        ("the alert said it was reverted", any(a["result"] == "done" for a in result.get("actions", []))),
    ) if bad]  # fmt: skip
    return _outcome(TITLES[1], status, problems, started)
