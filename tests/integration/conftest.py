"""Integration fixtures: one moto server on 127.0.0.1 per test session, reset before every test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

import drift_handler
from trailguard import fix
from trailguard_dev.dynamodb import create_state_table
from trailguard_dev.emulator import Emulator, pointed_at
from trailguard_dev.slack_server import SlackServer
from trailguard_dev.slack_text import slack_as_text

REPO = Path(__file__).resolve().parents[2]
TRAILGUARD = Path(sys.executable).with_name("trailguard")
BUCKET = "trailguard-test-logs"


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


@pytest.fixture
def aws(emulator: Emulator) -> Iterator[Emulator]:
    """A clean emulated account, with this process's boto3 pointed at it."""
    emulator.reset()
    with pointed_at(emulator):
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
        yield emulator


@dataclass
class Audit:
    code: int
    stdout: str
    stderr: str


def run_trailguard(*args: str, env: dict[str, str] | None = None) -> Audit:
    """Run the installed ``trailguard`` command as a user would, with the given environment."""
    done = subprocess.run(
        [str(TRAILGUARD), *args], capture_output=True, text=True, env=env or dict(os.environ), timeout=120, check=False
    )
    return Audit(done.returncode, done.stdout, done.stderr)


ALL_MANAGEMENT = [{"ReadWriteType": "All", "IncludeManagementEvents": True}]


def make_trail(
    region: str,
    name: str,
    *,
    multi_region: bool = True,
    logging: bool = True,
    selectors: dict[str, Any] | None = None,
) -> str:
    """Create a trail as a test scenario needs it; moto starts trails with no selectors, so set them."""
    ct = boto3.client("cloudtrail", region_name=region)
    arn = ct.create_trail(Name=name, S3BucketName=BUCKET, IsMultiRegionTrail=multi_region)["TrailARN"]
    ct.put_event_selectors(TrailName=name, **(selectors or {"EventSelectors": ALL_MANAGEMENT}))
    if logging:
        ct.start_logging(Name=name)
    return str(arn)


@pytest.fixture
def trail() -> Callable[..., str]:
    return make_trail


# --- the detector in miniature, for handler tests ---------------------------------------------------------

ACCOUNT = "123456789012"
REGION = "us-east-1"
TABLE = "trailguard-state"
DATA_RESOURCES = [
    {"Type": "AWS::S3::Object", "Values": [f"arn:aws:s3:::{BUCKET}/"]},
    {"Type": "AWS::Lambda::Function", "Values": ["arn:aws:lambda"]},
]


@dataclass(frozen=True)
class Context:
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:trailguard-drift"
    aws_request_id: str = "test-request"
    function_name: str = "trailguard-drift"
    memory_limit_in_mb: int = 256
    function_version: str = "$LATEST"


@dataclass
class Detector:
    """The deployed detector in miniature: its table, topic (read through a queue), secret and Slack."""

    emu: Emulator
    slack: SlackServer
    queue_url: str
    emails: list[dict[str, Any]] = field(default_factory=list)

    def run(self, evt: Any) -> dict[str, Any]:
        result: dict[str, Any] = drift_handler.handler(evt, Context())
        json.dumps(result)  # the return value must be JSON-serializable
        return result

    def inbox(self) -> list[dict[str, Any]]:
        """Every email (SNS message) published so far."""
        sqs = boto3.client("sqs", region_name=REGION)
        while True:
            got = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = got.get("Messages", [])
            if not messages:
                return self.emails
            for message in messages:
                self.emails.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def slack_texts(self) -> list[str]:
        return [slack_as_text(m.body) for m in self.slack.messages]


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    with SlackServer() as server:
        yield server


@pytest.fixture
def detector(aws: Emulator, slack: SlackServer, monkeypatch: pytest.MonkeyPatch) -> Detector:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    create_state_table(dynamodb, TABLE)
    sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="trailguard-alerts")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="alert-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "false"})
    secret = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="trailguard/slack", SecretString=json.dumps({"webhook_url": slack.webhook_url})
    )["ARN"]
    monkeypatch.setenv("STATE_TABLE", TABLE)
    monkeypatch.setenv("ALERT_TOPIC_ARN", topic)
    monkeypatch.setenv("SLACK_SECRET_ARN", secret)
    monkeypatch.setenv("REMEDIATION_MODE", "off")
    monkeypatch.setattr(drift_handler, "_runtime", None)  # a fresh container
    monkeypatch.setattr(fix, "VERIFY_PAUSES", (0.01, 0.01, 0.01, 0.01))  # the same reads, without the waits
    monkeypatch.setattr(fix, "RETRY_PAUSES", (0.01, 0.01, 0.01))
    return Detector(aws, slack, queue_url)


def cloudtrail(region: str = "us-east-1") -> Any:
    return boto3.client("cloudtrail", region_name=region)
