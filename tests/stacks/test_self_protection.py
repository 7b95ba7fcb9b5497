"""Self-protection in the stacks: the rule that matches calls on the detector's own parts, the names that let the
handler know them, and ``DETECTOR_RESOURCES``, checked end to end: every part the templates declare, named by a
call as the API allows, is recognized by the handler's own parser and matcher."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from stacks.detector import DELIVERY_PATTERN, EVENT_PATTERN, REMOTE_TAMPER_PATTERN, TAMPER_PATTERN
from tests.events import wrap
from tests.stacks.conftest import Deployment
from tests.stacks.test_detector_stack import Ids, any_deploy, only, props
from tests.stacks.test_organization import member_body, resources
from trailguard.events import DeliveryCall, TamperCall, parse
from trailguard.tamper import TAMPER_CALLS, Parts

ACCOUNT = "123456789012"
MEMBER = "210987654321"
__all__ = ["any_deploy"]  # the fixture: every configuration
EVENTBRIDGE_PATTERN_LIMIT = 2048  # EventBridge quotas: event pattern size, in characters, by default


class Resolved:
    """A template's values with concrete stand-ins: pseudo parameters, and for each resource the name and ARN
    CloudFormation would give it (a Ref is what the resource type's Ref returns)."""

    def __init__(self, template: dict[str, Any], region: str, account: str = ACCOUNT) -> None:
        self.region, self.account = region, account
        self.refs: dict[str, str] = {"AWS::Partition": "aws", "AWS::Region": region, "AWS::AccountId": account,
                                     "AWS::URLSuffix": "amazonaws.com"}  # fmt: skip
        self.arns: dict[str, str] = {}
        for logical_id, resource in template.get("Resources", {}).items():
            self._physical(logical_id, resource["Type"], resource.get("Properties", {}))

    def _physical(self, logical_id: str, kind: str, properties: dict[str, Any]) -> None:
        here = f"{self.region}:{self.account}"
        name = f"n{logical_id.lower()[:20]}"
        ref_and_arn = {
            "AWS::SNS::Topic": (f"arn:aws:sns:{here}:{name}", f"arn:aws:sns:{here}:{name}"),
            "AWS::DynamoDB::GlobalTable": (name, f"arn:aws:dynamodb:{here}:table/{name}"),
            "AWS::KMS::Key": (name, f"arn:aws:kms:{here}:key/{name}"),
            "AWS::IAM::Role": (properties.get("RoleName", name), f"arn:aws:iam::{self.account}:role/"
                                                                 f"{properties.get('RoleName', name)}"),
            "AWS::SQS::Queue": (f"https://sqs.{self.region}.amazonaws.com/{self.account}/{name}",
                                f"arn:aws:sqs:{here}:{name}"),
            "AWS::Logs::LogGroup": (name, f"arn:aws:logs:{here}:log-group:{name}:*"),
            "AWS::Lambda::Function": (name, f"arn:aws:lambda:{here}:function:{name}"),
        }  # fmt: skip
        if kind in ref_and_arn:
            self.refs[logical_id], self.arns[logical_id] = ref_and_arn[kind]

    def value(self, value: Any) -> Any:
        if isinstance(value, dict) and set(value) == {"Ref"}:
            return self.refs[value["Ref"]]
        if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
            return self.arns[value["Fn::GetAtt"][0]]
        if isinstance(value, dict) and set(value) == {"Fn::Join"}:
            separator, items = value["Fn::Join"]
            return separator.join(str(self.value(item)) for item in items)
        return value


def detector_parts(deployment: Deployment, region: str) -> Parts:
    template = deployment.home.to_json()
    variables = props(deployment.home, only(deployment.home, "AWS::Lambda::Function"))["Environment"]["Variables"]
    return Parts.parse(Resolved(template, region).value(variables["DETECTOR_RESOURCES"]))


def call(source: str, name: str, parameters: dict[str, Any], *, region: str, account: str = ACCOUNT) -> Any:
    """What the handler's parser makes of the call: a TamperCall (or a DeliveryCall for a key or a log group)."""
    detail = {
        "eventSource": f"{source}.amazonaws.com", "eventName": name, "awsRegion": region, "eventID": "e-1",
        "eventType": "AwsApiCall", "requestParameters": parameters, "recipientAccountId": account,
        "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{account}:user/mallory"},
    }  # fmt: skip
    parsed = parse(wrap(detail, source=f"aws.{source}", account=account))
    assert isinstance(parsed, TamperCall | DeliveryCall), parsed
    return parsed


def owned(parsed: Any, parts: Parts) -> bool:
    return bool(parsed.parts) and all(parts.owned(arn) for _, arn in parsed.parts)


def test_each_rule_pattern_fits_eventbridges_default_size_limit() -> None:
    for pattern in (EVENT_PATTERN, DELIVERY_PATTERN, TAMPER_PATTERN, REMOTE_TAMPER_PATTERN):
        assert len(json.dumps(pattern, separators=(",", ":"))) <= EVENTBRIDGE_PATTERN_LIMIT


def matches(pattern: Any, event: Any) -> bool:
    """EventBridge's matching, for the parts of its pattern language the rules use: a list of values, exact or
    ``prefix`` / ``suffix``, nested fields (all must match), and ``$or``."""
    if isinstance(pattern, list):
        return any(
            (isinstance(v, dict) and isinstance(event, str)
             and event.startswith(v.get("prefix", "")) and event.endswith(v.get("suffix", "")))
            or v == event
            for v in pattern
        )  # fmt: skip
    if not isinstance(event, dict):
        return False
    fields = {k: v for k, v in pattern.items() if k != "$or"}
    either = "$or" not in pattern or any(matches(a, event) for a in pattern["$or"])
    return either and all(matches(v, event.get(k)) for k, v in fields.items())


def cloudtrail_event(source: str, name: str, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"source": f"aws.{source.split('.', maxsplit=1)[0]}", "detail-type": "AWS API Call via CloudTrail",
            "detail": {"eventSource": source, "eventName": name, "requestParameters": parameters or {}}}  # fmt: skip


def test_each_tamper_call_reaches_the_handler_through_exactly_one_home_rule() -> None:
    home = (EVENT_PATTERN, DELIVERY_PATTERN, TAMPER_PATTERN)
    for source, calls in TAMPER_CALLS.items():
        for name in calls:
            versioned = f"{name}20150331v2" if source == "lambda.amazonaws.com" else name
            event = cloudtrail_event(source, versioned, {"name": "trailguard-TrailChanges"})
            assert [matches(p, event) for p in home].count(True) == 1, (source, versioned)


def test_calls_on_the_tamper_rule_itself_reach_it_through_the_delivery_rule_too() -> None:
    on_itself = cloudtrail_event("events.amazonaws.com", "DisableRule", {"name": "trailguard-forward-DetectorChanges"})
    targets_off = cloudtrail_event("events.amazonaws.com", "RemoveTargets", {"rule": "trailguard-DetectorChanges"})
    on_another = cloudtrail_event("events.amazonaws.com", "DisableRule", {"name": "trailguard-DeliveryChanges"})

    assert matches(DELIVERY_PATTERN, on_itself) and matches(TAMPER_PATTERN, on_itself)
    assert matches(DELIVERY_PATTERN, targets_off)
    assert matches(TAMPER_PATTERN, on_another) and not matches(DELIVERY_PATTERN, on_another)
    assert not matches(DELIVERY_PATTERN, cloudtrail_event("events.amazonaws.com", "EnableRule", {"name": "x"}))


def test_remote_copies_forward_only_the_calls_on_parts_that_live_there() -> None:
    forwarded = [cloudtrail_event("events.amazonaws.com", "DeleteRule"),
                 cloudtrail_event("iam.amazonaws.com", "PutRolePolicy"),
                 cloudtrail_event("sqs.amazonaws.com", "PurgeQueue"),
                 cloudtrail_event("cloudformation.amazonaws.com", "DeleteStack")]  # fmt: skip
    kept_home = [cloudtrail_event("lambda.amazonaws.com", "UpdateFunctionConfiguration20150331v2"),
                 cloudtrail_event("sns.amazonaws.com", "Unsubscribe"),
                 cloudtrail_event("monitoring.amazonaws.com", "PutMetricAlarm")]  # fmt: skip

    assert all(matches(REMOTE_TAMPER_PATTERN, e) for e in forwarded)
    assert not any(matches(REMOTE_TAMPER_PATTERN, e) for e in kept_home)
    assert all(matches(TAMPER_PATTERN, e) for e in kept_home)


def test_an_unwatched_us_east_1_gets_the_global_calls_forwarded(deploy_off: Deployment) -> None:
    template = deploy_off.templates["Trailguard-Global"]
    [pattern] = [props(template, r)["EventPattern"] for r in template.find_resources("AWS::Events::Rule")]

    assert deploy_off.stacks["Trailguard-Global"].region == "us-east-1"
    assert matches(pattern, cloudtrail_event("iam.amazonaws.com", "AttachRolePolicy"))
    assert matches(pattern, cloudtrail_event("organizations.amazonaws.com", "LeaveOrganization"))
    assert not matches(pattern, cloudtrail_event("cloudtrail.amazonaws.com", "StopLogging"))
    parts = detector_parts(deploy_off, "us-west-2")
    assert owned(call("events", "DisableRule", {"name": "trailguard-forward-GlobalChanges"}, region="us-east-1"), parts)
    role = call("iam", "DeleteRolePolicy", {"roleName": "trailguard-forward-events-us-east-1"}, region="us-east-1")
    assert owned(role, parts)


def test_every_rule_and_alarm_the_detector_creates_is_named_so_the_handler_knows_it(any_deploy: Deployment) -> None:
    for template in any_deploy.templates.values():
        for kind, name_key in (("AWS::Events::Rule", "Name"), ("AWS::CloudWatch::Alarm", "AlarmName")):
            for logical_id in template.find_resources(kind):
                assert str(props(template, logical_id).get(name_key, "")).startswith("trailguard-"), logical_id


def test_detector_resources_name_every_part_of_the_home_stack(any_deploy: Deployment) -> None:
    region = any_deploy.settings.home_region or "us-east-1"
    home = any_deploy.home
    resolved = Resolved(home.to_json(), region)
    parts = detector_parts(any_deploy, region)
    ids = Ids.of(home)
    rules = [props(home, r)["Name"] for r in home.find_resources("AWS::Events::Rule")]
    alarms = [props(home, a)["AlarmName"] for a in home.find_resources("AWS::CloudWatch::Alarm")]
    function = resolved.refs[ids.function]

    hits = [
        *(call("events", "DisableRule", {"name": rule}, region=region) for rule in rules),
        *(call("events", "RemoveTargets", {"rule": rule, "ids": ["Target0"]}, region=region) for rule in rules),
        call("monitoring", "DeleteAlarms", {"alarmNames": alarms}, region=region),
        call("sns", "Unsubscribe", {"subscriptionArn": f"{resolved.refs[ids.topic]}:8a2c-d3"}, region=region),
        call("sns", "SetTopicAttributes", {"topicArn": resolved.refs[ids.topic]}, region=region),
        call("dynamodb", "DeleteTable", {"tableName": resolved.refs[ids.table]}, region=region),
        call("kms", "ScheduleKeyDeletion", {"keyId": resolved.refs[ids.key]}, region=region),
        call("kms", "PutKeyPolicy", {"keyId": resolved.arns[ids.key]}, region=region),
        call("iam", "AttachRolePolicy", {"roleName": resolved.refs[ids.role]}, region="us-east-1"),
        call("sqs", "PurgeQueue", {"queueUrl": resolved.refs[ids.queue]}, region=region),
        call("logs", "DeleteLogGroup", {"logGroupName": resolved.refs[ids.log_group]}, region=region),
        call("cloudformation", "DeleteStack", {"stackName": "Trailguard"}, region=region),
    ]
    if any_deploy.settings.slack_secret_name:
        name = any_deploy.settings.slack_secret_name
        arn = f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:{name}-AbC123"
        hits += [call("secretsmanager", "PutSecretValue", {"secretId": s}, region=region) for s in (name, arn)]

    assert len(rules) == 4 and len(alarms) >= 4
    assert [h.event_name for h in hits if not owned(h, parts)] == []
    # the function is not in its own environment (that would be a loop): the handler adds its own ARN
    assert not parts.owned(f"arn:aws:lambda:{region}:{ACCOUNT}:function:{function}")


def test_forwarders_rules_are_parts_in_their_own_region(deploy_full: Deployment) -> None:
    parts = detector_parts(deploy_full, deploy_full.settings.home_region or "")
    for stack, template in deploy_full.forwarders.items():
        region = stack.rsplit("Forwarder-", 1)[1]
        for rule in template.find_resources("AWS::Events::Rule"):
            assert owned(call("events", "DeleteRule", {"name": props(template, rule)["Name"]}, region=region), parts)


def test_a_like_named_resource_elsewhere_is_not_a_part(deploy_full: Deployment) -> None:
    region = deploy_full.settings.home_region or ""
    parts = detector_parts(deploy_full, region)

    other_account = call("events", "DisableRule", {"name": "trailguard-TrailChanges"}, region=region, account=MEMBER)
    other_rule = call("events", "DisableRule", {"name": "trailguard-TrailChangesX"}, region=region)
    other_table = call("dynamodb", "DeleteTable", {"tableName": "orders"}, region=region)

    assert not any(owned(c, parts) for c in (other_account, other_rule, other_table))


def test_organization_mode_adds_the_member_parts(deploy_org: Deployment) -> None:
    region = deploy_org.settings.home_region or "us-east-1"
    home = deploy_org.home.to_json()
    parts = detector_parts(deploy_org, region)
    body = member_body(deploy_org)
    member_rules = [r["Properties"]["Name"] for r in resources(body, "AWS::Events::Rule").values()]
    [stack_set] = [r["Properties"] for r in resources(home, "AWS::CloudFormation::StackSet").values()]
    queues = [Resolved(home, region).refs[q] for q in resources(home, "AWS::SQS::Queue")]

    hits = [
        *(call("events", "DeleteRule", {"name": rule}, region="eu-west-1", account=MEMBER) for rule in member_rules),
        call("iam", "DeleteRolePolicy", {"roleName": deploy_org.settings.member_role_name}, region="us-east-1",
             account=MEMBER),
        call("cloudformation", "DeleteStackSet", {"stackSetName": stack_set["StackSetName"]}, region=region),
        call("cloudformation", "DeleteStack", {"stackName": f"StackSet-{stack_set['StackSetName']}-0a1b"},
             region="eu-west-1", account=MEMBER),
        call("events", "RemovePermission", {"statementId": "TrailguardOrganizationPutEvents"}, region=region),
        *(call("sqs", "DeleteQueue", {"queueUrl": q}, region=region) for q in queues),
    ]  # fmt: skip

    assert len(member_rules) == 3 and len(queues) == 3
    assert [h.event_name for h in hits if not owned(h, parts)] == []


def test_member_rules_have_names_of_their_own(deploy_org: Deployment) -> None:
    """A stack set instance in the hub account's other regions must not collide with the forwarder there."""
    body = member_body(deploy_org)
    forwarders = {
        props(t, r)["Name"] for t in deploy_org.forwarders.values() for r in t.find_resources("AWS::Events::Rule")
    }
    members = {r["Properties"]["Name"] for r in resources(body, "AWS::Events::Rule").values()}

    assert members and not members & forwarders


@pytest.fixture
def template_of(deploy_full: Deployment) -> Template:
    return deploy_full.home


def test_the_handler_holds_no_write_on_its_own_parts(template_of: Template) -> None:
    """Self-protection is alerting: the handler's role gains no permission to change the rules or alarms."""
    policies = json.dumps([p["Properties"] for p in template_of.find_resources("AWS::IAM::Policy").values()])

    assert "events:EnableRule" not in policies and "cloudwatch:EnableAlarmActions" not in policies
    assert only(template_of, "AWS::Lambda::Function")
