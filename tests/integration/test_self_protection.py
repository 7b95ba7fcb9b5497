"""Self-protection: a call that disables, deletes or redirects a part of the detector is detector-tampered
(critical), alerted on every channel still able to carry it. Each call is made for real against the emulator
first, so the channels and the table are in the state the call left them in."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import boto3
import pytest

import drift_handler
from tests.events import service_call
from trailguard_dev.slack_server import SlackServer

from .conftest import ACCOUNT, REGION, TABLE, Context, Detector

pytestmark = pytest.mark.integration

FUNCTION = Context().invoked_function_arn
RULE = "trailguard-TrailChanges"
ALARM = "trailguard-HeartbeatsStopped"
ROLE = "trailguard-handler"
STACK_SET = "Trailguard-members"


@pytest.fixture
def parts(detector: Detector, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The detector's parts in the emulated account, and ``DETECTOR_RESOURCES`` naming them as the stack does."""
    events = boto3.client("events", region_name=REGION)
    events.put_rule(Name=RULE, EventPattern=json.dumps({"source": ["aws.cloudtrail"]}))
    key = boto3.client("kms", region_name=REGION).create_key(Description="trailguard alert topic")["KeyMetadata"]
    role = boto3.client("iam", region_name=REGION).create_role(
        RoleName=ROLE, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
    )["Role"]["Arn"]
    table = boto3.client("dynamodb", region_name=REGION).describe_table(TableName=TABLE)["Table"]["TableArn"]
    environment = os.environ
    found = {
        "rule": f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{RULE}",
        "alarms": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:trailguard-*",
        "topic": environment["ALERT_TOPIC_ARN"],
        "secret": environment["SLACK_SECRET_ARN"],
        "table": table,
        "key": key["Arn"],
        "role": role,
        "stack set": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stackset/{STACK_SET}",
        "member rules": "arn:aws:events:*:*:rule/trailguard-member-TrailChanges",
        "stacks": f"arn:aws:cloudformation:*:{ACCOUNT}:stack/Trailguard",
    }
    monkeypatch.setenv("DETECTOR_RESOURCES", ",".join(found.values()))
    monkeypatch.setattr(drift_handler, "_runtime", None)
    return {**found, "key id": key["KeyId"]}


tamper = service_call  # the call's event, as CloudTrail records it


def rules_of(result: dict[str, Any]) -> list[str]:
    return [f["rule"] for f in result["findings"]]


def test_disabling_the_detectors_rule_is_critical_on_both_channels_with_the_command_that_undoes_it(
    detector: Detector, parts: dict[str, str]
) -> None:
    boto3.client("events", region_name=REGION).disable_rule(Name=RULE)

    result = detector.run(tamper("events", "DisableRule", {"name": RULE}))

    assert result["status"] == "drift" and rules_of(result) == ["detector-tampered"]
    assert result["findings"][0]["severity"] == "critical" and sorted(result["notified"]) == ["slack", "sns"]
    [text] = detector.slack_texts()
    assert "mallory" in text and RULE in text and "aws events enable-rule" in text and "Detector part" in text
    [email] = detector.inbox()
    assert "CRITICAL detector tampered" in email["Subject"] and "Detector part:" in email["Message"]


def test_a_concurrency_of_zero_on_the_function_is_caught_by_its_versioned_event_name(
    detector: Detector, parts: dict[str, str]
) -> None:
    call = tamper("lambda", "PutFunctionConcurrency20171031",
                  {"functionName": "trailguard-drift", "reservedConcurrentExecutions": 0})  # fmt: skip

    result = detector.run(call)

    assert rules_of(result) == ["detector-tampered"]
    assert "npx cdk deploy --all" in detector.slack_texts()[0]  # the stack sets the reserved concurrency


def test_an_unsubscribed_address_leaves_slack_carrying_the_alert(detector: Detector, parts: dict[str, str]) -> None:
    sns = boto3.client("sns", region_name=REGION)
    [subscription] = sns.list_subscriptions_by_topic(TopicArn=parts["topic"])["Subscriptions"]
    sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])

    result = detector.run(tamper("sns", "Unsubscribe", {"subscriptionArn": subscription["SubscriptionArn"]}))

    assert rules_of(result) == ["detector-tampered"]
    assert len(detector.slack_texts()) == 1 and "subscription of the alert topic" in detector.slack_texts()[0]
    assert detector.inbox() == []  # nobody is subscribed any more: Slack is what carried it


def test_a_rewritten_slack_secret_leaves_email_and_a_retry_does_not_double_it(
    detector: Detector, parts: dict[str, str]
) -> None:
    secrets = boto3.client("secretsmanager", region_name=REGION)
    secrets.put_secret_value(SecretId=parts["secret"], SecretString="https://attacker.example/not-a-webhook")
    call = tamper("secretsmanager", "PutSecretValue", {"secretId": "trailguard/slack"})

    for _ in range(2):  # Lambda's retry: email is not sent again, Slack still cannot be
        with pytest.raises(drift_handler.DeliveryFailed, match="slack"):
            detector.run(call)

    [email] = detector.inbox()
    assert "detector-tampered" in email["Message"] and "Slack secret" in email["Message"]
    assert detector.slack.messages == []


def test_a_warm_detector_still_posts_to_the_slack_it_knew_after_the_secret_is_rewritten(
    detector: Detector, parts: dict[str, str], slack: SlackServer
) -> None:
    boto3.client("events", region_name=REGION).disable_rule(Name=RULE)
    detector.run(tamper("events", "DisableRule", {"name": RULE}))  # reads and keeps the secret
    with SlackServer() as elsewhere:
        boto3.client("secretsmanager", region_name=REGION).put_secret_value(
            SecretId=parts["secret"], SecretString=json.dumps({"webhook_url": elsewhere.webhook_url})
        )
        result = detector.run(tamper("secretsmanager", "PutSecretValue", {"secretId": parts["secret"]}))
        assert elsewhere.messages == []

    assert sorted(result["notified"]) == ["slack", "sns"] and len(slack.messages) == 2


def test_a_deleted_topic_leaves_slack_and_the_retry_sends_slack_nothing_again(
    detector: Detector, parts: dict[str, str]
) -> None:
    boto3.client("sns", region_name=REGION).delete_topic(TopicArn=parts["topic"])
    call = tamper("sns", "DeleteTopic", {"topicArn": parts["topic"]})

    for _ in range(2):
        with pytest.raises(drift_handler.DeliveryFailed, match="sns"):
            detector.run(call)

    assert len(detector.slack_texts()) == 1 and "alert topic" in detector.slack_texts()[0]


def test_a_deleted_state_table_still_alerts_once_on_every_channel_without_a_record(
    detector: Detector, parts: dict[str, str]
) -> None:
    boto3.client("dynamodb", region_name=REGION).delete_table(TableName=TABLE)

    result = detector.run(tamper("dynamodb", "DeleteTable", {"tableName": TABLE}))

    assert rules_of(result) == ["detector-tampered"] and sorted(result["notified"]) == ["slack", "sns"]
    assert "state table could not be used" in detector.slack_texts()[0]
    assert len(detector.inbox()) == 1


@pytest.mark.parametrize(
    ("source", "name", "parameters", "says"),
    [
        ("kms", "DisableKey", {"keyId": "{key id}"}, "aws kms enable-key"),
        ("kms", "ScheduleKeyDeletion", {"keyId": "{key}", "pendingWindowInDays": 7}, "aws kms cancel-key-deletion"),
        ("monitoring", "DeleteAlarms", {"alarmNames": ["other-alarm", ALARM]}, "CloudWatch alarm"),
        ("monitoring", "DisableAlarmActions", {"alarmNames": [ALARM]}, "aws cloudwatch enable-alarm-actions"),
        ("iam", "DetachRolePolicy", {"roleName": ROLE, "policyArn": "arn:aws:iam::aws:policy/x"}, "IAM role"),
        ("cloudformation", "DeleteStackSet", {"stackSetName": STACK_SET}, "member stack set"),
        ("events", "RemoveTargets", {"rule": RULE, "ids": ["Target0"]}, "EventBridge rule"),
        ("dynamodb", "UpdateTimeToLive", {"tableName": TABLE}, "state table"),
    ],
)  # fmt: skip
def test_each_call_on_a_part_is_detector_tampered(  # noqa: PLR0917 - fixtures and the case's four values
    detector: Detector, parts: dict[str, str], source: str, name: str, parameters: dict[str, Any], says: str
) -> None:
    filled = json.loads(json.dumps(parameters).replace("{key id}", parts["key id"]).replace("{key}", parts["key"]))

    result = detector.run(tamper(source, name, filled))

    assert result["status"] == "drift" and rules_of(result) == ["detector-tampered"]
    assert says in detector.slack_texts()[0] and len(detector.inbox()) == 1


CLOUDFORMATION = {
    "type": "AssumedRole", "invokedBy": "cloudformation.amazonaws.com",
    "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/cdk-hnb659fds-cfn-exec-role/AWSCloudFormation",
}  # fmt: skip
TEMPLATE = json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}})


def now(offset: float = 0) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + offset))


def test_cloudformations_calls_while_the_detector_stack_deploys_are_not_tamper(
    detector: Detector, parts: dict[str, str]
) -> None:
    boto3.client("cloudformation", region_name=REGION).create_stack(StackName="Trailguard", TemplateBody=TEMPLATE)
    call = tamper("events", "PutRule", {"name": RULE}, userIdentity=CLOUDFORMATION, eventTime=now())

    result = detector.run(call)

    assert result["status"] == "ignored" and "deploying the detector's stack Trailguard" in result["reason"]
    assert detector.slack_texts() == [] and detector.inbox() == []


def test_cloudformations_calls_for_another_stack_are_tamper(detector: Detector, parts: dict[str, str]) -> None:
    boto3.client("cloudformation", region_name=REGION).create_stack(StackName="innocent-app", TemplateBody=TEMPLATE)
    attach = tamper("iam", "AttachRolePolicy", {"roleName": ROLE, "policyArn": f"arn:aws:iam::{ACCOUNT}:policy/deny"},
                    userIdentity=CLOUDFORMATION, eventTime=now())  # fmt: skip

    result = detector.run(attach)

    assert rules_of(result) == ["detector-tampered"] and "cloudformation.amazonaws.com" in detector.slack_texts()[0]


def test_a_detector_stack_deployed_long_before_the_call_does_not_cover_it(
    detector: Detector, parts: dict[str, str]
) -> None:
    boto3.client("cloudformation", region_name=REGION).create_stack(StackName="Trailguard", TemplateBody=TEMPLATE)
    call = tamper("events", "PutRule", {"name": RULE}, userIdentity=CLOUDFORMATION, eventTime=now(2 * 3600))

    result = detector.run(call)

    assert rules_of(result) == ["detector-tampered"]


def test_a_forged_cloudformation_user_agent_is_still_tamper(detector: Detector, parts: dict[str, str]) -> None:
    result = detector.run(tamper("events", "DeleteRule", {"name": RULE}, userAgent="cloudformation.amazonaws.com"))

    assert rules_of(result) == ["detector-tampered"]


def test_a_like_named_resource_or_another_accounts_is_not_a_part(detector: Detector, parts: dict[str, str]) -> None:
    other_rule = detector.run(tamper("events", "DisableRule", {"name": f"{RULE}-copy"}))
    other_table = detector.run(tamper("dynamodb", "DeleteTable", {"tableName": "orders"}))
    unwatched = detector.run(tamper("events", "EnableRule", {"name": RULE}))

    assert [r["status"] for r in (other_rule, other_table, unwatched)] == ["ignored"] * 3
    assert "no part of the detector" in other_rule["reason"]
    assert detector.slack_texts() == []


def test_a_denied_attempt_on_a_part_is_a_failed_attempt_and_a_duplicate_sends_nothing(
    detector: Detector, parts: dict[str, str]
) -> None:
    call = tamper("events", "DeleteRule", {"name": RULE}, errorCode="AccessDenied", errorMessage="not authorized")

    first = detector.run(call)
    again = detector.run(call)

    assert first["status"] == "failed-attempt" and first["findings"] == []
    assert again["status"] == "duplicate"
    [text] = detector.slack_texts()
    assert "was tried and failed" in text and "AccessDenied" in text


def test_calls_on_the_function_itself_are_known_without_it_being_listed(
    detector: Detector, parts: dict[str, str]
) -> None:
    result = detector.run(tamper("lambda", "DeleteFunction20150331", {"functionName": FUNCTION + ":live"}))

    assert rules_of(result) == ["detector-tampered"] and "Lambda function" in detector.slack_texts()[0]


def test_in_an_organization_a_members_forwarding_rule_and_role_are_parts_and_outsiders_are_ignored(
    detector: Detector, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trailguard_dev.organization import build_organization, client_as

    org = build_organization(("dev", "prod"))
    for key, value in {"MEMBER_ROLE_NAME": org.role_name, "ORGANIZATION_ID": org.id, "WATCHED_REGIONS": REGION,
                       "DETECTOR_RESOURCES": "arn:aws:events:*:*:rule/trailguard-member-TrailChanges,"
                                             f"arn:aws:iam::*:role/{org.role_name}"}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(drift_handler, "_runtime", None)
    prod = org.account("prod")
    client_as(prod, "events").put_rule(Name="trailguard-member-TrailChanges", EventPattern='{"source": ["x"]}')
    client_as(prod, "events").disable_rule(Name="trailguard-member-TrailChanges")
    member_identity = {"type": "IAMUser", "accountId": prod, "arn": f"arn:aws:iam::{prod}:user/mallory"}

    def in_account(account: str, source: str, name: str, parameters: dict[str, Any]) -> dict[str, Any]:
        changed = tamper(source, name, parameters, recipientAccountId=account, userIdentity=member_identity)
        return {**changed, "account": account}

    rule = detector.run(in_account(prod, "events", "DisableRule", {"name": "trailguard-member-TrailChanges"}))
    role = detector.run(in_account(prod, "iam", "PutRolePolicy", {"roleName": org.role_name.upper()}))
    outsider = detector.run(in_account("999988887777", "events", "DisableRule",
                                       {"name": "trailguard-member-TrailChanges"}))  # fmt: skip

    assert rules_of(rule) == rules_of(role) == ["detector-tampered"] and rule["account"] == prod
    assert f"{prod} (prod)" in detector.slack_texts()[0]
    assert outsider["status"] == "ignored" and len(detector.slack_texts()) == 2
