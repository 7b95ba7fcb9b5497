"""The Lambda: CloudTrail event (or the scheduled sweep) in, verdict and alerts out.

parse -> read live state -> evaluate -> (remediate) -> notify; each step lives in ``trailguard`` and is
callable alone. This module only wires them, builds the clients once per container, and logs one line and
a few metrics per event. A delivery that still failed after its channel's own retries raises, so that
Lambda retries the event; the retry sends only to the channels that have not delivered.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from trailguard import events, flow
from trailguard.config import Deadline, HandlerConfig

logger = Logger(service="trailguard")
metrics = Metrics(namespace="trailguard", service="trailguard")
_runtime: flow.Runtime | None = None


class DeliveryFailed(RuntimeError):
    """Some channel did not deliver; raised after the others were recorded, so Lambda retries the rest."""


def runtime(context: Any) -> flow.Runtime:
    """Clients and settings, built at first use and kept for the container's life."""
    global _runtime  # noqa: PLW0603 - kept for the container's life, the Lambda way
    if _runtime is not None:
        _runtime.fresh(Deadline.of(context))
    if _runtime is None:
        _runtime = build(HandlerConfig.from_env(os.environ), context)
    return _runtime


def build(config: HandlerConfig, context: Any) -> flow.Runtime:
    """The clients and senders ``config`` asks for (the interaction endpoint builds its own with this too)."""
    built: flow.Runtime | None = None
    import boto3
    from botocore.config import Config as BotoConfig

    from trailguard.arn import Arn, region_of
    from trailguard.aws import CLIENT_CONFIG, EVENT_READS, ClientCache
    from trailguard.read import enabled_regions
    from trailguard.render.email import sns_message
    from trailguard.render.slack import slack_message
    from trailguard.send import Sender, SlackSecret, send_security_hub, send_sns
    from trailguard.state_table import StateTable

    session = boto3.session.Session()
    function = Arn.parse(getattr(context, "invoked_function_arn", None))
    quick = BotoConfig(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=10)
    senders: dict[str, Sender] = {}
    if config.slack_secret_arn:
        slack = SlackSecret(
            config.slack_secret_arn,
            session.client("secretsmanager", region_name=region_of(config.slack_secret_arn), config=quick),
        )
        buttons = config.slack_buttons
        senders["slack"] = lambda alert: slack.send(slack_message(alert, buttons))
    if config.alert_topic_arn:
        topic = config.alert_topic_arn
        sns = session.client("sns", region_name=region_of(topic), config=quick)
        senders["sns"] = lambda alert: send_sns(sns, topic, sns_message(alert))
    if config.security_hub:  # in the detector's region, in the account each alert is about
        hub = functools.cache(lambda: session.client("securityhub", region_name=home, config=quick))

        def hub_of(account: str) -> Any:
            if built is None or account == built.account:
                return hub()
            return built.clients_of(account)("securityhub", home)  # through the member role

        senders["securityhub"] = lambda alert: send_security_hub(alert, hub_of, home)
    # EC2 (the sweep's region list) and STS (the detector's own identity, for reverts) only when needed:
    # a CloudTrail event in REMEDIATION_MODE=off uses neither, and creating a client costs cold-start time.
    identity = functools.cache(lambda: str(session.client("sts", config=quick).get_caller_identity()["Arn"]))
    ec2 = functools.cache(lambda: session.client("ec2", config=CLIENT_CONFIG))
    others = ClientCache(lambda key: session.client(key[0], region_name=key[1], config=quick))
    cloudtrail = ClientCache(lambda region: session.client("cloudtrail", region_name=region, config=EVENT_READS))
    account = function.account if function else _own_account(identity)
    home = (function.region if function else "") or session.region_name or "us-east-1"
    table = StateTable(session.client("dynamodb", config=quick), config.state_table)
    organization = _organization(config, session, account, home, function.partition if function else "aws",
                                 cloudtrail, others)  # fmt: skip
    built = flow.Runtime(
        config=config,
        account=account,
        home=home,
        cloudtrail=cloudtrail,
        table=table,
        senders=senders,
        regions=lambda: enabled_regions(ec2()),
        identity=identity,
        others=lambda service, region: others((service, region)),
        deadline=Deadline.of(context),
        function_arn=str(getattr(context, "invoked_function_arn", "") or ""),
        **organization,
    )
    return built


def _own_account(identity: Any) -> str:
    """The account the function runs in, from its identity, when no invocation context names the function."""
    from botocore.exceptions import BotoCoreError, ClientError

    from trailguard.arn import account_of

    try:
        return account_of(identity())
    except (ClientError, BotoCoreError):  # no account known: the trails' own accounts are read as named
        return ""


def _organization(  # noqa: PLR0917 - the container's parts, each built once in runtime()
    config: HandlerConfig,
    session: Any,
    account: str,
    home: str,
    partition: str,
    cloudtrail: Any,
    others: Any,
) -> dict[str, Any]:
    """Organization mode's parts (``MEMBER_ROLE_NAME`` set): the member accounts' access, the organization's
    directory and the sweep queue's client; nothing otherwise."""
    if not config.organization:
        return {}
    from botocore.config import Config as BotoConfig

    from trailguard.aws import MEMBER_READS
    from trailguard.organization import Directory, MemberAccess

    quick = BotoConfig(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=10)
    own = lambda service, region: cloudtrail(region) if service == "cloudtrail" else others((service, region))  # noqa: E731
    parts: dict[str, Any] = {
        "access": MemberAccess(session, own_account=account, own_clients=own, role_name=config.member_role_name,
                               partition=partition, home=home, config=MEMBER_READS),
        "directory": Directory(session.client("organizations", config=quick), config.organization_id),
    }  # fmt: skip
    if config.sweep_queue_url:
        parts["sqs"] = session.client("sqs", region_name=home, config=quick)
    return parts


def _count(result: flow.HandlerResult) -> None:
    if result.status == "ignored":
        metrics.add_metric(name="EventsIgnored", unit=MetricUnit.Count, value=1)
    if result.status == "heartbeat":  # an alarm fires when these stop (missing data is breaching)
        metrics.add_metric(name="HeartbeatReceived", unit=MetricUnit.Count, value=1)
    if result.status == "drift":
        metrics.add_metric(name="DriftFound", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="AlertsSent", unit=MetricUnit.Count, value=len(result.notified))
    metrics.add_metric(name="AlertFailures", unit=MetricUnit.Count, value=len(result.failed))


@metrics.log_metrics
def handler(event: Any, context: Any) -> dict[str, Any]:
    intake = events.parse(event)
    if isinstance(intake, events.Ignored):
        result = flow.ignored(intake)
    elif isinstance(intake, events.Sweep):
        result = flow.handle_sweep(intake, runtime(context))
    elif isinstance(intake, events.DeliveryCall):  # a call on a trail's bucket, key or log group
        result = flow.handle_delivery(intake, runtime(context))
    elif isinstance(intake, events.TamperCall):  # a call that can disable a part of the detector
        result = flow.handle_tamper(intake, runtime(context))
    elif isinstance(intake, events.SweepBatch):  # the organization sweep's SQS messages: Lambda's batch answer
        answer = flow.handle_batch(intake, runtime(context))
        metrics.add_metric(name="SweepMessagesFailed", unit=MetricUnit.Count, value=len(answer["batchItemFailures"]))
        return answer
    else:
        try:
            result = flow.handle_call(intake, runtime(context))
        except flow.RetryLater as error:  # the trail could not be read now: Lambda retries the event
            logger.warning(f"retry: {intake.event_name} {intake.event_id}: {error}",
                           extra={"event_id": intake.event_id})  # fmt: skip
            metrics.add_metric(name="ReadsRetried", unit=MetricUnit.Count, value=1)
            raise
    logger.info(
        f"{result.status}: {result.event_name or 'event'} {result.event_id}",
        extra={
            "event_id": result.event_id,
            "trail": result.trail_arn,
            "status": result.status,
            "findings": [f.rule for f in result.findings],
            "exempt": [f.rule for f in result.findings if f.exempt],
            "channels": list(result.notified),
            "failed": list(result.failed),
            "reason": result.reason,
        },
    )
    _count(result)
    if result.failed:
        raise DeliveryFailed(f"not delivered, Lambda will retry: {'; '.join(result.failed)}")
    return result.to_dict()
