"""The Slack interaction endpoint: a Lambda Function URL (payload format 2.0) that receives Slack's
``block_actions`` POST when a person clicks *Revert now*, *Accept as baseline* or *Snooze 2 h* on a drift alert.

Answers ``{"statusCode": 401}`` to a request whose Slack signature or timestamp does not verify (and to every
request while the endpoint cannot verify any: a bad environment value, an unreadable signing secret), 403 to a click
by a Slack user not in ``SLACK_ALLOWED_USERS``, and 200 to everything else, acting only when the alert exists
and its trail is still as the alert showed it (see ``trailguard.interact`` for every check, in order). This
module only wires the steps to AWS and Slack, and logs one line per request.

Environment: ``STATE_TABLE``, ``SLACK_SIGNING_SECRET_ARN`` (the secret string is the Slack app's signing
secret), ``SLACK_ALLOWED_USERS`` (comma-separated Slack user ids), and the drift handler's
``REMEDIATION_MODE``, ``MEMBER_ROLE_NAME``, ``ALERT_TOPIC_ARN`` (and ``ORGANIZATION_ID``,
``ALLOWED_EXCLUDED_SOURCES``, ``EXEMPTIONS_FILE`` when the detector has them).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from http.client import HTTPException
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from trailguard import interact
from trailguard.aws import describe_error
from trailguard.config import ConfigError, Deadline, InteractionConfig
from trailguard.organization import AccountUnreachable
from trailguard.state_table import Unprocessed

logger = Logger(service="trailguard-interaction")
SECRET_KEPT = 15 * 60  # seconds a container keeps the signing secret before reading it again (rotation)
SECRET_RECHECK = 60  # a signature that fails against a secret older than this is checked against a fresh read
WATCHED_ENV = ("STATE_TABLE", "SLACK_SIGNING_SECRET_ARN", "SLACK_ALLOWED_USERS", "REMEDIATION_MODE",
               "MEMBER_ROLE_NAME", "ORGANIZATION_ID", "ALERT_TOPIC_ARN", "ALLOWED_EXCLUDED_SOURCES",
               "EXEMPTIONS_FILE")  # fmt: skip


class _Container:
    """What one container keeps between requests: its configuration, runtime and signing secret, built again
    when the environment they came from differs (so a process that serves several configurations is right)."""

    def __init__(self) -> None:
        self.env: tuple[str, ...] = ()
        self.config: InteractionConfig | None = None
        self.runtime: Any = None
        self.secret, self.secret_read = "", 0.0
        self.sns: tuple[str, Any] | None = None  # (topic, client)

    def ready(self, context: Any) -> tuple[InteractionConfig, Any]:
        env = tuple(os.environ.get(k, "") for k in WATCHED_ENV)
        if self.config is None or env != self.env:
            from drift_handler import build

            config = InteractionConfig.from_env(os.environ)
            self.runtime = build(config.handler, context)
            self.env, self.config, self.secret = env, config, ""
        self.runtime.fresh(Deadline.of(context))
        self.runtime.apply_snoozes = False  # a person's answer judges the trail by the operator's policy alone
        return self.config, self.runtime

    def publisher(self, topic: str) -> Any:
        """``publish(subject, message)`` on the alert topic, its client made once per container; None without one."""
        if not topic:
            return None
        if self.sns is None or self.sns[0] != topic:
            import boto3

            from trailguard.arn import region_of

            self.sns = (topic, boto3.client("sns", region_name=region_of(topic)))
        client = self.sns[1]
        return lambda subject, message: client.publish(TopicArn=topic, Subject=subject, Message=message)

    def signing_secret(self, arn: str) -> str:
        if not self.secret or time.monotonic() - self.secret_read > SECRET_KEPT:
            import boto3

            from trailguard.arn import region_of

            value = boto3.client("secretsmanager", region_name=region_of(arn)).get_secret_value(SecretId=arn)
            self.secret, self.secret_read = str(value.get("SecretString") or "").strip(), time.monotonic()
        return self.secret


_container = _Container()


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    try:
        config, rt = _container.ready(context)
        request = interact.Request.of(event)
        verified = _verified(request, config.signing_secret_arn)
    except (ConfigError, ClientError, BotoCoreError) as error:  # nothing can be verified, so nothing is trusted
        logger.error(f"the endpoint cannot verify requests, so it refuses them all: {error}")
        return {"statusCode": 401}
    if not verified:
        logger.warning("refused: the Slack signature or timestamp did not verify")
        return {"statusCode": 401}
    click = interact.click_of(request.body)
    if click is None:
        logger.info("ignored: not a click of a trailguard alert button")
        return {"statusCode": 200}
    if click.user_id not in config.allowed_users:
        logger.warning("refused: Slack user not allowed", extra={"slack_user": click.user_id, "alert": click.alert_id})
        interact.respond(click, interact.Reply("You are not allowed to answer trailguard alerts (SLACK_ALLOWED_USERS)."
                                               " Nothing was done."), _post)  # fmt: skip
        return {"statusCode": 403}
    publish = _container.publisher(config.handler.alert_topic_arn)
    try:
        reply = interact.answer(click, rt, publish)
    except (ClientError, BotoCoreError, Unprocessed, AccountUnreachable) as error:  # AWS on a bad day: say so
        logger.warning(f"{click.action} on alert {click.alert_id} failed: {error}")
        reply = interact.Reply(f"trailguard could not finish this now ({describe_error(error)}): click again to try "
                               "again.")  # fmt: skip
    logger.info(
        f"{click.action} on alert {click.alert_id}: {'done' if reply.acted else 'not done'}",
        extra={"slack_user": click.user_id, "alert": click.alert_id, "action": click.action, "said": reply.text},
    )
    interact.respond(click, reply, _post)
    return {"statusCode": 200}


def _verified(request: interact.Request, secret_arn: str) -> bool:
    """Whether Slack signed the request; a failed check is tried once more with the secret read again, when
    the kept one is more than a minute old (the signing secret may have been rotated)."""
    if interact.verified(request, _container.signing_secret(secret_arn)):
        return True
    if time.monotonic() - _container.secret_read < SECRET_RECHECK:
        return False
    _container.secret = ""
    return interact.verified(request, _container.signing_secret(secret_arn))


def _post(url: str, body: Mapping[str, Any]) -> None:
    """POST ``body`` to a response URL; a failure is logged (the answer is already carried out and recorded)."""
    import logging

    from slack_sdk.webhook import WebhookClient

    quiet = logging.getLogger("trailguard.interaction.slack_sdk")  # slack_sdk logs the URL (a secret) at DEBUG
    quiet.setLevel(logging.WARNING)
    try:
        answer = WebhookClient(url, timeout=5, logger=quiet).send_dict(dict(body))
        if answer.status_code != 200:
            logger.warning(f"Slack answered HTTP {answer.status_code} to the reply")
    except (OSError, ValueError, HTTPException) as error:
        logger.warning(f"the reply could not be posted to Slack: {type(error).__name__}")  # the URL is a secret
