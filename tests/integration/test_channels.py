"""Sending alerts for real: HTTP to a local Slack server, SNS and Secrets Manager on the local AWS emulator.

Timings lean on slack_sdk's retry handlers: 429 sleeps Retry-After + up to 1 s of jitter; 500/503 and
connection errors back off 0.5 s then 1 s (+ up to 1 s jitter each); the handlers share one attempt counter.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from trailguard.send import (
    SLACK,
    SLACK_API_URL,
    SNS,
    Delivery,
    SlackBot,
    SlackSecret,
    SlackSecretError,
    SlackWebhook,
    send_slack,
    send_sns,
    slack_target,
)
from trailguard_dev.emulator import Emulator
from trailguard_dev.slack_server import SlackServer

pytestmark = pytest.mark.integration

TOKEN = "xoxb-1111-2222-trailguardtesttoken"
CHANNEL = "C0TRAILGUARD"
TIMEOUT = 1
MESSAGE: dict[str, Any] = {
    "text": "CloudTrail trail main stopped logging",
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*main* stopped logging"}}],
}


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    with SlackServer(token=TOKEN) as server:
        yield server


def webhook(slack: SlackServer) -> SlackWebhook:
    return SlackWebhook(slack.webhook_url)


def bot(slack: SlackServer) -> SlackBot:
    return SlackBot(token=TOKEN, channel=CHANNEL, api_url=slack.api_url)


def timed_send(target: SlackWebhook | SlackBot) -> tuple[Delivery, float]:
    start = time.monotonic()
    delivery = send_slack(target, MESSAGE, timeout=TIMEOUT)
    return delivery, time.monotonic() - start


def assert_failed_without_secret(delivery: Delivery, *fragments: str) -> None:
    assert delivery.channel == SLACK
    assert not delivery.ok
    for fragment in fragments:
        assert fragment in delivery.detail
    for secret in (TOKEN, "/services/", "localwebhooksecret"):
        assert secret not in delivery.detail


# --- delivered ---------------------------------------------------------------------------------------------


def test_webhook_message_is_posted(slack: SlackServer) -> None:
    delivery = send_slack(webhook(slack), MESSAGE, timeout=TIMEOUT)

    assert delivery == Delivery(SLACK, True, "posted by incoming webhook")
    [posted] = slack.messages
    assert posted.body == MESSAGE
    assert slack.attempts == 1


def test_bot_token_message_is_posted_to_the_channel_with_a_bearer_token(slack: SlackServer) -> None:
    delivery = send_slack(bot(slack), MESSAGE, timeout=TIMEOUT)

    assert delivery.ok
    assert delivery.detail.startswith(f"posted to {CHANNEL} at ")
    [posted] = slack.messages
    assert posted.path == "/api/chat.postMessage"
    assert posted.headers["authorization"] == f"Bearer {TOKEN}"
    assert posted.body == {"channel": CHANNEL, **MESSAGE}


@pytest.mark.parametrize("target", [webhook, bot], ids=["webhook", "bot"])
def test_server_error_is_retried_and_posted_exactly_once(slack: SlackServer, target: Any) -> None:
    slack.fail_next(1, status=500)

    delivery = send_slack(target(slack), MESSAGE, timeout=TIMEOUT)

    assert delivery.ok
    assert slack.attempts == 2
    assert len(slack.messages) == 1


def test_rate_limit_waits_for_retry_after_then_posts_once(slack: SlackServer) -> None:
    slack.rate_limit_next(1, retry_after=1)

    delivery, elapsed = timed_send(webhook(slack))

    assert delivery.ok
    assert elapsed >= 1.0  # Retry-After honoured (slack_sdk adds up to 1 s of jitter)
    assert [r.status for r in slack.requests] == [429, 200]
    assert len(slack.messages) == 1


# --- failed: reported, never raised ------------------------------------------------------------------------


def test_server_errors_on_every_attempt_fail_after_three_attempts(slack: SlackServer) -> None:
    slack.fail_next(10, status=500)

    delivery = send_slack(webhook(slack), MESSAGE, timeout=TIMEOUT)

    assert_failed_without_secret(delivery, "HTTP 500", "internal_error")
    assert slack.attempts == 3  # one try + SLACK_RETRIES
    assert slack.messages == []


def test_webhook_rejected_by_slack_is_not_retried(slack: SlackServer) -> None:
    slack.fail_next(1, status=404, error="no_service")

    delivery = send_slack(webhook(slack), MESSAGE, timeout=TIMEOUT)

    assert_failed_without_secret(delivery, "HTTP 404", "no_service")
    assert slack.attempts == 1


def test_bot_api_error_is_a_failed_delivery(slack: SlackServer) -> None:
    slack.fail_next(1, status=200, error="channel_not_found")

    delivery = send_slack(bot(slack), MESSAGE, timeout=TIMEOUT)

    assert_failed_without_secret(delivery, "HTTP 200", "channel_not_found")
    assert slack.attempts == 1


def test_wrong_bot_token_is_a_failed_delivery_that_does_not_show_the_token(slack: SlackServer) -> None:
    target = SlackBot(token="xoxb-wrong-token-value", channel=CHANNEL, api_url=slack.api_url)

    delivery = send_slack(target, MESSAGE, timeout=TIMEOUT)

    assert_failed_without_secret(delivery, "invalid_auth")
    assert "xoxb-wrong-token-value" not in delivery.detail


def test_slow_answer_is_an_unconfirmed_failure_not_resent_within_the_send(slack: SlackServer) -> None:
    slack.hang_next(1, seconds=TIMEOUT + 0.3)

    delivery, elapsed = timed_send(webhook(slack))

    assert not delivery.ok and delivery.unconfirmed  # Lambda's retry sends it again, marked a possible repeat
    assert delivery.detail.startswith("unconfirmed")
    assert elapsed < TIMEOUT + 0.3
    assert slack.attempts == 1  # a read timeout is not retried: no duplicate post
    assert len(slack.wait_for_messages(1, timeout=3)) == 1  # the slow Slack posted it after all
    assert slack.attempts == 1


def test_refused_connection_is_retried_then_fails(slack: SlackServer) -> None:
    slack.refuse()

    delivery, elapsed = timed_send(webhook(slack))

    assert_failed_without_secret(delivery, "could not be reached", "Connection refused")
    assert elapsed >= 1.5  # two retries, backing off 0.5 s then 1 s
    assert slack.attempts == 0


# --- the Slack secret --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        ("https://hooks.slack.com/services/T1/B2/abc\n", SlackWebhook("https://hooks.slack.com/services/T1/B2/abc")),
        (
            '{"webhook_url": "https://hooks.slack.com/services/T1/B2/abc"}',
            SlackWebhook("https://hooks.slack.com/services/T1/B2/abc"),
        ),
        ('{"token": "xoxb-1-2-abc", "channel": "C01"}', SlackBot("xoxb-1-2-abc", "C01", SLACK_API_URL)),
        (
            '{"token": "xoxb-1-2-abc", "channel": "C01", "api_url": "https://slack-gov.com/api/"}',
            SlackBot("xoxb-1-2-abc", "C01", "https://slack-gov.com/api/"),
        ),
    ],
    ids=["plain-url", "json-webhook", "json-token", "json-token-api-url"],
)
def test_secret_forms_parse(secret: str, expected: SlackWebhook | SlackBot) -> None:
    target = slack_target(secret)

    assert target == expected
    assert "abc" not in repr(target)


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ("xoxb-SECRET-token-without-json", "the secret is not an http(s) URL"),
        ("hooks.slack.com/services/SECRET", "the secret is not an http(s) URL"),
        ("https://hooks.slack.com/services/SECRET with space", "contains whitespace"),
        ('{"webhook_url": "ftp://hooks.slack.com/SECRET"}', '"webhook_url" is not an http(s) URL'),
        ('{"webhook_url": 42}', '"webhook_url" must be an http(s) URL'),
        ('{"token": "xoxb-SECRET"}', '"channel" must be a non-empty string'),
        ('{"token": "xoxb-SECRET", "channel": ""}', '"channel" must be a non-empty string'),
        ('{"token": 12345, "channel": "C01"}', '"token" must be a non-empty string'),
        ('{"token": "xoxb-SECRET", "channel": "C01", "api_url": "SECRET"}', '"api_url" is not an http(s) URL'),
        ('{"token": "xoxb-SECRET", "webhook_url": "https://h/SECRET"}', 'both "webhook_url" and "token"'),
        ('{"channel": "C01", "url": "https://h/SECRET"}', 'neither "webhook_url" nor "token"'),
        ('{"webhook_url": "https://h/SECRET"', "not valid JSON"),
    ],
)
def test_malformed_secret_names_the_problem_without_the_value(secret: str, problem: str) -> None:
    with pytest.raises(SlackSecretError) as raised:
        slack_target(secret)

    message = str(raised.value)
    assert problem in message
    assert message.startswith("The Slack secret is malformed")
    assert "SECRET" not in message
    assert "SECRET" not in "".join(traceback.format_exception(raised.value))  # as logger.exception would print


def create_secret(value: str) -> str:
    sm = boto3.client("secretsmanager", region_name="us-east-1")
    return str(sm.create_secret(Name="trailguard/slack", SecretString=value)["ARN"])


def test_slack_secret_is_read_once_per_container(aws: Emulator, slack: SlackServer) -> None:
    arn = create_secret(json.dumps({"token": TOKEN, "channel": CHANNEL, "api_url": slack.api_url}))
    secret = SlackSecret(arn, boto3.client("secretsmanager", region_name="us-east-1"))
    aws.clear_calls()

    first, second = secret.send(MESSAGE, timeout=TIMEOUT), secret.send(MESSAGE, timeout=TIMEOUT)

    assert first.ok and second.ok
    assert aws.calls()["GetSecretValue"] == 1
    assert len(slack.messages) == 2


def test_failed_send_forgets_the_cached_secret(aws: Emulator, slack: SlackServer) -> None:
    arn = create_secret(slack.webhook_url)
    secret = SlackSecret(arn, boto3.client("secretsmanager", region_name="us-east-1"))
    slack.fail_next(1, status=404, error="no_service")  # e.g. the webhook was revoked and the secret rotated
    aws.clear_calls()

    first, second = secret.send(MESSAGE, timeout=TIMEOUT), secret.send(MESSAGE, timeout=TIMEOUT)

    assert not first.ok and second.ok
    assert aws.calls()["GetSecretValue"] == 2


def test_missing_secret_is_a_failed_slack_delivery(aws: Emulator, slack: SlackServer) -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:trailguard/absent-AbCdEf"
    secret = SlackSecret(arn, boto3.client("secretsmanager", region_name="us-east-1"))

    delivery = secret.send(MESSAGE, timeout=TIMEOUT)

    assert delivery.channel == SLACK and not delivery.ok
    assert "ResourceNotFoundException" in delivery.detail
    assert arn in delivery.detail
    assert slack.attempts == 0


def test_malformed_secret_in_secrets_manager_is_a_failed_delivery_without_the_value(aws: Emulator) -> None:
    arn = create_secret('{"token": "xoxb-SECRET-VALUE"}')
    secret = SlackSecret(arn, boto3.client("secretsmanager", region_name="us-east-1"))

    delivery = secret.send(MESSAGE, timeout=TIMEOUT)

    assert not delivery.ok
    assert '"channel" must be a non-empty string' in delivery.detail
    assert "SECRET-VALUE" not in delivery.detail


# --- SNS ---------------------------------------------------------------------------------------------------


def test_sns_message_arrives_at_a_subscribed_queue_with_its_attributes(aws: Emulator) -> None:
    sns = boto3.client("sns", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    topic_arn = sns.create_topic(Name="trailguard-alerts")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="trailguard-alerts-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    publish = {
        "Subject": "[trailguard] critical: trail main stopped logging",
        "Message": "Trail main stopped logging.\nFix: aws cloudtrail start-logging --name main",
        "MessageAttributes": {"severity": {"DataType": "String", "StringValue": "critical"}},
    }

    delivery = send_sns(sns, topic_arn, publish)

    assert delivery.channel == SNS and delivery.ok
    [received] = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
    envelope = json.loads(received["Body"])
    assert envelope["TopicArn"] == topic_arn
    assert envelope["Subject"] == publish["Subject"]
    assert envelope["Message"] == publish["Message"]
    assert envelope["MessageAttributes"] == {"severity": {"Type": "String", "Value": "critical"}}
    assert envelope["MessageId"] in delivery.detail


def test_sns_publish_to_a_missing_topic_is_a_failed_delivery(aws: Emulator) -> None:
    sns = boto3.client("sns", region_name="us-east-1")
    topic_arn = "arn:aws:sns:us-east-1:123456789012:trailguard-absent"

    delivery = send_sns(sns, topic_arn, {"Subject": "s", "Message": "m"})

    assert delivery.channel == SNS and not delivery.ok
    assert topic_arn in delivery.detail
    assert "NotFound" in delivery.detail


# --- cold start --------------------------------------------------------------------------------------------


def test_importing_send_does_not_import_slack_sdk() -> None:
    code = "import sys, trailguard.send; print('slack_sdk' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30)

    assert done.stdout.strip() == "False"
