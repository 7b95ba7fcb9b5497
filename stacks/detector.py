"""The detector stack (home region): the EventBridge rule, the Lambda, its topic, state table and sweep."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import (
    Acknowledgment,
    AssetHashType,
    Aws,
    BundlingOptions,
    CfnOutput,
    CfnResource,
    Duration,
    RemovalPolicy,
    Stack,
    Validations,
)
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from trailguard.config import LAMBDA_ATTEMPTS, MAX_EVENT_AGE, TIMEOUT_SECONDS
from trailguard.events import CLOUDTRAIL_DETAIL_TYPE, DELIVERY_CALLS, WATCHED_CALLS
from trailguard.rules import reads, revert_actions
from trailguard.tamper import TAMPER_CALLS

from .bundling import LocalPythonBundling, source_hash
from .dashboard import detector_dashboard
from .settings import DEFAULT_RESERVED_CONCURRENCY, DeploySettings

HANDLERS = Path(__file__).resolve().parent.parent / "handlers"
RUNTIME = lambda_.Runtime.PYTHON_3_14
PYTHON_VERSION = "3.14"
PLATFORM = "manylinux2014_aarch64"  # arm64
EXEMPTIONS_FILE = "trailguard_exemptions.json"  # beside drift_handler.py in the Lambda's code
# The handler's reserved concurrency, a floor and a ceiling. As a floor it keeps other functions in the account
# from starving the detector: an attacker's (or a runaway deployment's) burst cannot throttle it into silence. As
# a ceiling it comfortably exceeds need: CloudTrail changes arrive a few at a time even in bursts (an event over
# the ceiling is throttled and retried by Lambda's async queue, at worst landing in the dead-letter queue), the
# organization sweep's SQS source runs at most SWEEP_MAX_CONCURRENCY (5) invocations at once, which must not
# exceed it, and the scheduled sweep is one. Lambda refuses a reservation that leaves the account fewer than 100
# unreserved executions: an account whose concurrency quota is still a new account's (10 or 50) must have it
# raised before deploying, or deploy with -c reservedConcurrency=0 (none).
RESERVED_CONCURRENCY = DEFAULT_RESERVED_CONCURRENCY

EVENT_PATTERN: dict[str, Any] = {
    "source": ["aws.cloudtrail"],
    "detail-type": [CLOUDTRAIL_DETAIL_TYPE],
    "detail": {"eventSource": ["cloudtrail.amazonaws.com"], "eventName": sorted(WATCHED_CALLS)},
}

# What the handler calls. DescribeTrails, DescribeRegions and ListStacks take no resource-level permissions
# (ListStacks: whether a call CloudFormation made on a part of the detector was the detector's own deployment).
LIST_ACTIONS = ("cloudtrail:DescribeTrails", "ec2:DescribeRegions", "cloudformation:ListStacks")
# The interaction function reads the one trail an alert names and never judges a call on the detector's parts:
# it lists trails and regions, but not stacks.
INTERACTION_LIST_ACTIONS = LIST_ACTIONS[:2]
TRAIL_READ_ACTIONS = (
    "cloudtrail:GetEventSelectors",
    "cloudtrail:GetInsightSelectors",  # for the baseline
    "cloudtrail:GetTrailStatus",
    "cloudtrail:ListTags",  # for the baseline
)
STATE_ACTIONS = ("dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:UpdateItem")


def remediation_actions() -> tuple[str, ...]:
    """What reverts need: the union of every revertible rule's actions (granted only when remediation is on)."""
    return revert_actions()


@jsii.implements(lambda_.IDestination)
class QueueDestination:
    """Async invocations that exhausted their retries go to the queue. Unlike CDK's SqsDestination, it grants
    only sqs:SendMessage, the one action Lambda uses to deliver there."""

    def __init__(self, queue: sqs.IQueue) -> None:
        self.queue = queue

    def bind(self, scope: Construct, fn: lambda_.IFunction, *args: Any, **kwargs: Any) -> lambda_.DestinationConfig:
        del scope, args, kwargs  # the interface's signature (jsii may pass any of them by name); unused here
        fn.add_to_role_policy(
            iam.PolicyStatement(sid="Undelivered", actions=["sqs:SendMessage"], resources=[self.queue.queue_arn])
        )
        return lambda_.DestinationConfig(destination=self.queue.queue_arn)


def acknowledge(scope: Construct, reasons: dict[str, str]) -> None:
    """cdk-nag findings accepted on ``scope``, each with its written reason."""
    Validations.of(scope).acknowledge(*(Acknowledgment(id=rule, reason=why) for rule, why in reasons.items()))


def checkov_skip(construct: Construct, reasons: dict[str, str]) -> None:
    """checkov checks skipped on ``construct``'s CloudFormation resource (the construct itself or its default
    child), each with its written reason: ``Metadata: {"checkov": {"skip": [{"id": ..., "comment": ...}]}}``, where
    checkov reads suppressions in a CloudFormation template. Adds to the skips already there."""
    resource = construct if isinstance(construct, CfnResource) else construct.node.default_child
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource to put checkov's skips on")
    if not all(why.strip() for why in reasons.values()):
        raise ValueError(f"every checkov skip on {construct.node.path} needs a written reason")
    existing = resource.get_metadata("checkov") or {}
    skips = [dict(skip) for skip in existing.get("skip", []) if skip["id"] not in reasons]
    skips += [{"id": check, "comment": why} for check, why in reasons.items()]
    resource.add_metadata("checkov", {**existing, "skip": skips})


# checkov's CKV_AWS_27 looks for a KMS key (KmsMasterKeyId) alone; every queue is encrypted at rest all the same.
SQS_MANAGED_SSE = (
    "Encrypted at rest with SQS-managed server-side encryption (SqsManagedSseEnabled: true), which this check "
    "does not recognise: it passes only a KMS key (KmsMasterKeyId)."
)


def dead_letter_queue(scope: Construct, construct_id: str, name: str | None = None) -> sqs.Queue:
    """Where what could not be delivered waits 14 days: encrypted, SSL only."""
    queue = sqs.Queue(
        scope,
        construct_id,
        queue_name=name,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )
    acknowledge(queue, {"AwsSolutions-SQS3": "This queue is the dead-letter queue: it has none of its own."})
    checkov_skip(queue, {"CKV_AWS_27": SQS_MANAGED_SSE})
    return queue


# Every rule, schedule and alarm the detector creates is named with this prefix: the handler knows its parts by
# name (``DETECTOR_RESOURCES``), and a name is known before the resource exists, so no reference loops back.
PREFIX = "trailguard"
# The interaction function's role, named so that a member role can trust it before the hub's deployment says its
# ARN: ``trailguard-interaction-<home region>`` in the hub account (IAM is global; the detector is regional).
INTERACTION_ROLE = f"{PREFIX}-interaction"
# The interaction function answers Slack's button clicks: each click is one synchronous invocation by the Function
# URL. Slack stops waiting for the answer after 3 seconds, but the invocation goes on: the timeout leaves a revert
# room for its reads and calls in the trail's home region. Reserved concurrency 5 is a floor and a ceiling: clicks
# are never starved by other functions, and a flood of requests to the public URL (each refused for its signature)
# cannot take the drift handler's or the account's concurrency.
INTERACTION_TIMEOUT = Duration.seconds(60)
INTERACTION_CONCURRENCY = 5
# The EventBridge calls that disable, redirect or delete a rule: both side rules match them, so that each
# sees the other one disabled (the heartbeat sees the first one's).
RULE_CALLS = ("DeleteRule", "DisableRule", "PutRule", "PutTargets", "RemoveTargets")

TAMPER_RULE = "DetectorChanges"  # the rule that matches calls on the detector's parts, its rules included


def _on_tamper_rule(parameter: str) -> dict[str, Any]:
    """EventBridge's calls on a copy of the tamper rule itself (``name`` or ``rule`` names it, by suffix)."""
    return {"eventSource": ["events.amazonaws.com"], "eventName": list(RULE_CALLS),
            "requestParameters": {parameter: [{"suffix": f"-{TAMPER_RULE}"}]}}  # fmt: skip


# The calls that break a trail's delivery from the side, on its bucket, key or log group: a rule of their own,
# so that neither pattern matches the other's sources. It also matches the calls on the tamper rule itself,
# which cannot report its own disabling; the tamper rule reports this one's (and every other rule's).
DELIVERY_PATTERN: dict[str, Any] = {
    "source": sorted(f"aws.{source.split('.', 1)[0]}" for source in (*DELIVERY_CALLS, "events.amazonaws.com")),
    "detail-type": [CLOUDTRAIL_DETAIL_TYPE],
    "detail": {"$or": [
        {"eventSource": sorted(DELIVERY_CALLS),
         "eventName": sorted({name for names, _ in DELIVERY_CALLS.values() for name in names})},
        _on_tamper_rule("name"),
        _on_tamper_rule("rule"),
    ]},
}  # fmt: skip


def _tamper_calls(sources: set[str] | None = None) -> dict[str, set[str]]:
    """The tamper calls no other rule matches, by event source (all of them, or those of ``sources``)."""
    calls: dict[str, set[str]] = {}
    for source, names in TAMPER_CALLS.items():
        delivered = DELIVERY_CALLS.get(source, (frozenset(), ""))[0]
        left = set(names) - delivered
        if left and (sources is None or source in sources):
            calls[source] = left
    return calls


def tamper_pattern_data(sources: set[str] | None = None) -> dict[str, Any]:
    """The calls that disable, delete or redirect a part of the detector itself (``tamper.TAMPER_CALLS``), less
    those the delivery rule matches: Lambda's by prefix (its event names carry an API version, as in
    PutFunctionConcurrency20171031)."""
    calls = _tamper_calls(sources)
    names = {n for s, found in calls.items() if s != "lambda.amazonaws.com" for n in found}
    prefixed = calls.get("lambda.amazonaws.com", set())
    return {
        "source": sorted(f"aws.{source.split('.', 1)[0]}" for source in calls),
        "detail-type": [CLOUDTRAIL_DETAIL_TYPE],
        "detail": {"eventSource": sorted(calls),
                   "eventName": [*sorted(names - prefixed), *({"prefix": n} for n in sorted(prefixed))]},
    }  # fmt: skip


TAMPER_PATTERN = tamper_pattern_data()
# Outside the home region only the parts that live there can be touched: the forwarding rules, their role and
# queue, and the stacks; the function, topic, table, secret and alarms are in the home region alone.
REMOTE_SOURCES = {"events.amazonaws.com", "iam.amazonaws.com", "sqs.amazonaws.com", "cloudformation.amazonaws.com"}
REMOTE_TAMPER_PATTERN = tamper_pattern_data(REMOTE_SOURCES)


def event_pattern() -> events.EventPattern:
    return events.EventPattern(
        source=EVENT_PATTERN["source"], detail_type=EVENT_PATTERN["detail-type"], detail=EVENT_PATTERN["detail"]
    )


def _pattern(data: dict[str, Any]) -> events.EventPattern:
    return events.EventPattern(source=data["source"], detail_type=data["detail-type"], detail=data["detail"])


def delivery_pattern() -> events.EventPattern:
    return _pattern(DELIVERY_PATTERN)


def tamper_pattern() -> events.EventPattern:
    return _pattern(TAMPER_PATTERN)


def forward_rules(
    scope: Construct, bus: events.IEventBus, *, role_id: str, to: str, names: str,
    rules: list[tuple[str, str, events.EventPattern]] | None = None,
) -> sqs.Queue:  # fmt: skip
    """The detector's rules (or ``rules``) in ``scope``, forwarding to ``bus`` (``to`` says where, for their
    descriptions) through one role allowed only events:PutEvents on it, each named ``<names>-<rule id>``, the role
    ``<names>-events-<region>`` and the queue ``<names>-unforwarded``, parts of the detector; what EventBridge
    gives up on waits 14 days in the queue returned."""
    unforwarded = dead_letter_queue(scope, "Unforwarded", f"{names}-unforwarded")
    forwarding = iam.Role(
        scope,
        role_id,
        role_name=f"{names}-events-{Aws.REGION}",  # IAM is global: one role per region of the account
        assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
    )
    for rule_id, matches, pattern in rules or watched_rules(remote=True):
        events.Rule(
            scope,
            f"Forward{rule_id}",
            rule_name=f"{names}-{rule_id}",
            description=f"Forward to {to}: {matches}",
            event_pattern=pattern,
            targets=[targets.EventBus(bus, dead_letter_queue=unforwarded, role=forwarding)],
        )
    return unforwarded


# Where each copy of the rules is, by the prefix of their names: the home region's, the forwarders' (the
# detector's account, other regions) and the member stacks' (every other account of the organization).
HOME_RULES = PREFIX
FORWARDER_RULES = f"{PREFIX}-forward"
MEMBER_RULES = f"{PREFIX}-member"


def watched_rules(*, remote: bool = False) -> list[tuple[str, str, events.EventPattern]]:
    """The detector's rules, as (construct id, what it matches, pattern): the same in the home region, in the
    forwarders and in every member account (``remote``), where the tamper rule matches only the calls on the
    parts that live there."""
    tampering = _pattern(REMOTE_TAMPER_PATTERN) if remote else tamper_pattern()
    return [
        ("TrailChanges", "CloudTrail calls that can switch a trail's logging off", event_pattern()),
        ("DeliveryChanges", "calls on a trail's bucket, KMS key or log group, organization calls that can stop a "
                            "trail's logs from arriving, and calls on the tamper rule", delivery_pattern()),
        (TAMPER_RULE, "calls that can disable, delete or redirect a part of trailguard itself", tampering),
    ]  # fmt: skip


def rule_arns(names: str, *, region: str = "*", account: str = "*") -> list[str]:
    """The ARNs (patterns) of one copy of the detector's rules (and of a forwarding copy's role and queue)."""
    rule_ids = [rule_id for rule_id, _, _ in watched_rules()] + [GLOBAL_RULE]
    arns = [f"arn:{Aws.PARTITION}:events:{region}:{account}:rule/{names}-{rule_id}" for rule_id in rule_ids]
    if names != HOME_RULES:
        arns += [f"arn:{Aws.PARTITION}:iam::{account}:role/{names}-events-*",
                 f"arn:{Aws.PARTITION}:sqs:{region}:{account}:{names}-unforwarded"]  # fmt: skip
    return arns


# IAM and AWS Organizations record their calls in us-east-1 only (CloudTrail User Guide, "global service
# events"), so EventBridge sees them there alone: where no watched region is us-east-1, a rule of its own
# forwards them from there.
GLOBAL_RULE = "GlobalChanges"
GLOBAL_REGION = "us-east-1"


def global_rules() -> list[tuple[str, str, events.EventPattern]]:
    """The rule for a us-east-1 that is not watched: the IAM calls on the detector's roles, and the organization
    calls that remove CloudTrail's reach."""
    organizations = DELIVERY_CALLS["organizations.amazonaws.com"][0]
    pattern = {
        "source": ["aws.iam", "aws.organizations"],
        "detail-type": [CLOUDTRAIL_DETAIL_TYPE],
        "detail": {"eventSource": ["iam.amazonaws.com", "organizations.amazonaws.com"],
                   "eventName": sorted(set(TAMPER_CALLS["iam.amazonaws.com"]) | organizations)},
    }  # fmt: skip
    return [(GLOBAL_RULE, "IAM and AWS Organizations calls, which are recorded in us-east-1 only", _pattern(pattern))]


def _by_service(actions: tuple[str, ...]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for action in actions:
        grouped.setdefault(action.split(":")[0], []).append(action)
    return grouped


def _account_scoped(role: iam.Role, sid: str, service: str, actions: list[str]) -> iam.PolicyStatement:
    """``actions`` of another service than CloudTrail, on the account's own resources of that service."""
    acknowledge(role, {
        f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:{service}:*:<AWS::AccountId>:*]": (
            f"A rule reads or restores whichever of the account's own {service} resources a trail uses."
        ),
    })  # fmt: skip
    return iam.PolicyStatement(
        sid=sid, actions=actions, resources=[f"arn:{Aws.PARTITION}:{service}:*:{Aws.ACCOUNT_ID}:*"]
    )


def own_trails() -> str:
    """Every trail of the account the policy is in, in every region, including new ones."""
    return f"arn:{Aws.PARTITION}:cloudtrail:*:{Aws.ACCOUNT_ID}:trail/*"


def trail_read_statements(role: iam.Role, list_actions: tuple[str, ...] = LIST_ACTIONS) -> list[iam.PolicyStatement]:
    """What judging the account's own trails reads: the list of trails and regions (``list_actions``), each
    trail, and whatever the rules' own reads need. The detector's role, the interaction function's and the member
    role in organization mode share them."""
    acknowledge(role, {
        "AwsSolutions-IAM5[Resource::*]": (
            f"{', '.join(list_actions[:-1])} and {list_actions[-1]} take no resource-level permissions."
        ),
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudtrail:*:<AWS::AccountId>:trail/*]": (
            "trailguard watches every trail of the account it reads, in every region, including new ones."
        ),
    })  # fmt: skip
    statements = [
        iam.PolicyStatement(sid="ListTrailsAndRegions", actions=list(list_actions), resources=["*"]),
        iam.PolicyStatement(sid="ReadTrails", actions=list(TRAIL_READ_ACTIONS), resources=[own_trails()]),
    ]
    return statements + rule_read_statements(role)


def rule_read_statements(role: iam.Role) -> list[iam.PolicyStatement]:
    """What the rules' own reads need (``rules.read_actions()``), one statement per service: on the account's own
    resources of that service, or on the resources a read declares (a KMS key a trail names may be another
    account's, whose key policy must then allow it too)."""
    grouped: dict[str, tuple[set[str], set[str]]] = {}
    for read in reads():
        service = read.action.split(":")[0]
        actions, resources = grouped.setdefault(service, (set(), set()))
        actions.add(read.action)
        resources.add(read.resource or f"arn:{{partition}}:{service}:*:{{account}}:*")
    statements = []
    for service, (actions, resources) in sorted(grouped.items()):
        for resource in sorted(resources):
            finding = resource.format(partition="<AWS::Partition>", account="<AWS::AccountId>")
            why = (
                f"A rule reads whichever of the account's own {service} resources a trail uses."
                if resource.endswith(":{account}:*")
                else f"A rule reads ({', '.join(sorted(actions))}) whichever {service} resource a trail names, which "
                "may be another account's; that account's resource policy still decides."
            )
            acknowledge(role, {f"AwsSolutions-IAM5[Resource::{finding}]": why})
        arns = [r.format(partition=Aws.PARTITION, account=Aws.ACCOUNT_ID) for r in sorted(resources)]
        statements.append(
            iam.PolicyStatement(sid=f"RuleReads{service.title()}", actions=sorted(actions), resources=arns)
        )
    return statements


def state_and_alert_statements(
    table: dynamodb.ITableV2, topic: sns.ITopic, key: kms.IKey, log_group: logs.ILogGroup
) -> list[iam.PolicyStatement]:
    """What both functions write: the state table, the alert topic (and its key) and the function's own logs."""
    return [
        iam.PolicyStatement(sid="State", actions=list(STATE_ACTIONS), resources=[table.table_arn]),
        iam.PolicyStatement(sid="Alert", actions=["sns:Publish"], resources=[topic.topic_arn]),
        iam.PolicyStatement(sid="AlertKey", actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[key.key_arn]),
        iam.PolicyStatement(
            sid="Logs", actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group.log_group_arn]
        ),
    ]


def secret_statement(sid: str, secret: secretsmanager.ISecret) -> iam.PolicyStatement:
    """Reading the secret named by name: ``from_secret_name_v2``'s partial ARN plus Secrets Manager's six random
    characters."""
    return iam.PolicyStatement(
        sid=sid, actions=["secretsmanager:GetSecretValue"], resources=[f"{secret.secret_arn}-??????"]
    )


def security_hub_statement(region: str = Aws.REGION) -> iam.PolicyStatement:
    """BatchImportFindings for the account's own custom-integration product, in the detector's region: Security
    Hub takes such findings only from the account they are about (the member role imports a member's)."""
    product = f"arn:{Aws.PARTITION}:securityhub:{region}:{Aws.ACCOUNT_ID}:product/{Aws.ACCOUNT_ID}/default"
    return iam.PolicyStatement(sid="SecurityHubImport", actions=["securityhub:BatchImportFindings"],
                               resources=[product])  # fmt: skip


def revert_statements(role: iam.Role) -> list[iam.PolicyStatement]:
    """The revert actions of the rule registry, each service's on its narrowest resources in the account."""
    by_service = _by_service(remediation_actions())
    statements = [iam.PolicyStatement(sid="Revert", actions=by_service.pop("cloudtrail", []), resources=[own_trails()])]
    if "iam" in by_service:  # restoring a CloudWatch Logs delivery role hands that role to CloudTrail
        acknowledge(role, {
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/*]": (
                "Restoring a trail's CloudWatch Logs delivery role passes that role, whichever it was, to "
                "CloudTrail only (iam:PassedToService)."
            ),
        })  # fmt: skip
        statements.append(
            iam.PolicyStatement(
                sid="RevertPassLogsRole",
                actions=by_service.pop("iam"),
                resources=[f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/*"],
                conditions={"StringEquals": {"iam:PassedToService": "cloudtrail.amazonaws.com"}},
            )
        )
    for service, actions in sorted(by_service.items()):  # a rule whose fix calls another service
        statements.append(_account_scoped(role, f"Revert{service.title()}", service, actions))
    return statements


def handler_code(shipped: dict[str, str]) -> lambda_.Code:
    """The Lambda's code: ``handlers/`` and its pinned requirements, bundled locally, with ``shipped`` (the
    exemptions file) beside the sources. The drift handler and the interaction function run the same asset."""
    return lambda_.Code.from_asset(
        str(HANDLERS),
        exclude=["**/__pycache__", "**/*.pyc", "*.egg-info"],
        # the asset hash follows the handler sources and the shipped exemptions (a new file redeploys)
        asset_hash_type=AssetHashType.CUSTOM if shipped else None,
        asset_hash=source_hash(HANDLERS, shipped) if shipped else None,
        bundling=BundlingOptions(
            image=RUNTIME.bundling_image,
            local=LocalPythonBundling(HANDLERS, PYTHON_VERSION, PLATFORM, shipped),
        ),
    )


def function_logs(scope: Construct, construct_id: str, key: kms.IKey) -> logs.LogGroup:
    """A function's log group: a year, encrypted with the alert key, kept with the stack's deletion."""
    return logs.LogGroup(
        scope,
        construct_id,
        retention=logs.RetentionDays.ONE_YEAR,
        encryption_key=key,
        removal_policy=RemovalPolicy.RETAIN,
    )


NO_RESERVATION = (
    "Deployed with reservedConcurrency=0: the account's Lambda concurrency quota leaves no room for a reservation "
    "(see the README)."
)
NO_VPC = (
    "The function needs no VPC: it calls only AWS APIs and Slack, over HTTPS, and reaches no private resource; in a "
    "VPC it would need a NAT gateway or an endpoint per service."
)
NO_SECRET_IN_ENVIRONMENT = (
    "The environment holds no secret, only names, ARNs and settings (the Slack token and signing secret stay in "
    "Secrets Manager); Lambda encrypts it at rest with an AWS-managed key."
)
# What the interaction function shares with the drift handler's environment, with the same values.
SHARED_ENVIRONMENT = (
    "STATE_TABLE",
    "ALERT_TOPIC_ARN",
    "REMEDIATION_MODE",
    "ALLOWED_EXCLUDED_SOURCES",
    "EXEMPTIONS_FILE",
)


class DetectorStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, settings: DeploySettings, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        key = kms.Key(
            self,
            "AlertKey",
            enable_key_rotation=True,
            description="trailguard alert topic",
            # Kept with the stack's deletion, like the log group it encrypts: retained logs stay readable.
            removal_policy=RemovalPolicy.RETAIN,
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy, "*" means this key
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )
        topic = sns.Topic(self, "Alerts", display_name="trailguard alerts", master_key=key, enforce_ssl=True)
        topic.add_to_resource_policy(  # the SSL policy replaces the default one, which let alarms publish
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )
        for email in settings.alert_emails:
            topic.add_subscription(subscriptions.EmailSubscription(email))

        table = dynamodb.TableV2(
            self,
            "State",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            time_to_live_attribute="expires_at",
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryptionV2.aws_managed_key(),
            removal_policy=RemovalPolicy.RETAIN,
        )
        undelivered = dead_letter_queue(self, "Undelivered")
        # The handler's logs are encrypted with the alert key (one key for the detector's data at rest and in
        # flight, already one of its parts, watched for tampering). CloudWatch Logs in this region may use it for
        # the account's own log groups only: the key policy AWS documents for log group encryption.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchLogsEncrypt",
                principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
                actions=["kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey",
                         "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey"],
                resources=["*"],  # in a key policy, "*" means this key
                conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": (
                    f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:*"
                )}},
            )
        )  # fmt: skip
        log_group = function_logs(self, "HandlerLogs", key)
        secret = (
            secretsmanager.Secret.from_secret_name_v2(self, "SlackSecret", settings.slack_secret_name)
            if settings.slack_secret_name
            else None
        )
        role = self._role(settings, key=key, topic=topic, table=table, log_group=log_group, secret=secret)
        environment = {
            "STATE_TABLE": table.table_name,
            "ALERT_TOPIC_ARN": topic.topic_arn,
            "REMEDIATION_MODE": settings.remediation_mode,
            "ALLOWED_EXCLUDED_SOURCES": ",".join(settings.allowed_excluded_sources),
            # Where the forwarding rules are, which the heartbeat covers: the home region alone by default.
            "WATCHED_REGIONS": ",".join(settings.regions) or Aws.REGION,
            "POWERTOOLS_SERVICE_NAME": "trailguard",
        }
        if secret is not None:
            environment["SLACK_SECRET_ARN"] = secret.secret_arn
        if settings.security_hub:
            environment["SECURITY_HUB"] = "on"
        # The detector's parts, which a call must not disable unseen (organization mode adds its own): names and
        # ARNs known before the function exists, so that none refers back to it (it knows its own ARN).
        here = f"arn:{Aws.PARTITION}:%s:{Aws.REGION}:{Aws.ACCOUNT_ID}:%s"
        self.parts: list[str] = [
            *rule_arns(HOME_RULES, region=Aws.REGION, account=Aws.ACCOUNT_ID),
            *rule_arns(FORWARDER_RULES, account=Aws.ACCOUNT_ID),
            here % ("events", f"rule/{PREFIX}-Sweep"),
            here % ("cloudwatch", f"alarm:{PREFIX}-*"),
            here % ("logs", f"log-group:{log_group.log_group_name}"),
            f"arn:{Aws.PARTITION}:cloudformation:*:{Aws.ACCOUNT_ID}:stack/{self.stack_name}",
            f"arn:{Aws.PARTITION}:cloudformation:*:{Aws.ACCOUNT_ID}:stack/{self.stack_name}-*",
            topic.topic_arn, table.table_arn, key.key_arn, role.role_arn, undelivered.queue_arn,
        ]  # fmt: skip
        if secret is not None:  # named by name: its ARN ends in six random characters
            self.parts += [secret.secret_arn, f"{secret.secret_arn}-??????"]
        shipped = {EXEMPTIONS_FILE: settings.exemptions_json} if settings.exemptions_json else {}
        if shipped:
            environment["EXEMPTIONS_FILE"] = EXEMPTIONS_FILE
        code = handler_code(shipped)  # one asset, which both functions run
        self.interaction: lambda_.Function | None = None  # with slackInteractivity: Slack's buttons land there
        self.interaction_role: iam.Role | None = None
        if settings.slack_interactivity:
            environment["SLACK_BUTTONS"] = "on"
            self.parts += self._interaction(settings, code, environment, key=key, topic=topic, table=table)
        environment["DETECTOR_RESOURCES"] = ",".join(self.parts)
        handler = lambda_.Function(
            self,
            "DriftHandler",
            description="trailguard: judges CloudTrail changes and alerts",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler="drift_handler.handler",
            code=code,
            role=role,
            # The handler budgets its reads and sends against these, and sizes its delivery lease to outlive them
            timeout=Duration.seconds(TIMEOUT_SECONDS),
            memory_size=256,
            environment=environment,
            log_group=log_group,
            retry_attempts=LAMBDA_ATTEMPTS - 1,
            max_event_age=Duration.seconds(MAX_EVENT_AGE),
            on_failure=QueueDestination(undelivered),
            reserved_concurrent_executions=settings.reserved_concurrency or None,
        )
        if not settings.reserved_concurrency:
            checkov_skip(handler, {"CKV_AWS_115": NO_RESERVATION})
        checkov_skip(handler, {
            "CKV_AWS_116": "Failed asynchronous invocations already go to the Undelivered queue, the function's "
                           "on-failure destination (AWS::Lambda::EventInvokeConfig), with the error that ended them; "
                           "the organization sweep's SQS messages have their own redrive queue. This check looks "
                           "only for a DeadLetterConfig, which would send the same failures to a second queue.",
            "CKV_AWS_117": NO_VPC,
            "CKV_AWS_173": NO_SECRET_IN_ENVIRONMENT,
        })  # fmt: skip
        for rule_id, matches, pattern in watched_rules():
            events.Rule(
                self,
                rule_id,
                rule_name=f"{HOME_RULES}-{rule_id}",
                description=matches[0].upper() + matches[1:],
                event_pattern=pattern,
                targets=[targets.LambdaFunction(handler, dead_letter_queue=undelivered, retry_attempts=8)],
            )
        events.Rule(
            self,
            "Sweep",
            rule_name=f"{PREFIX}-Sweep",
            description="trailguard backstop sweep over every enabled region",
            schedule=events.Schedule.expression(settings.sweep_schedule),
            targets=[targets.LambdaFunction(handler, dead_letter_queue=undelivered, retry_attempts=2)],
        )
        self._alarms(topic, handler, undelivered)
        self._heartbeat_alarm(topic, settings.sweep_schedule)
        detector_dashboard(self, f"{PREFIX}-{Aws.REGION}", handler, undelivered)  # dashboards are account-wide
        self.handler, self.role, self.alert_topic = handler, role, topic  # organization mode adds to them
        outputs = {
            "HandlerName": handler.function_name,
            "AlertTopicArn": topic.topic_arn,
            "StateTableName": table.table_name,
            "HandlerLogGroup": log_group.log_group_name,
            "UndeliveredQueueUrl": undelivered.queue_url,
        }
        for name, value in outputs.items():
            CfnOutput(self, name, value=value)

    def add_parts(self, arns: list[str]) -> None:
        """More of the detector's parts (organization mode's), for ``DETECTOR_RESOURCES``."""
        self.parts += arns
        self.handler.add_environment("DETECTOR_RESOURCES", ",".join(self.parts))

    def _interaction(
        self,
        settings: DeploySettings,
        code: lambda_.Code,
        handler_environment: dict[str, str],
        *,
        key: kms.IKey,
        topic: sns.ITopic,
        table: dynamodb.ITableV2,
    ) -> list[str]:
        """The interaction function, behind a Function URL that Slack posts the alerts' button clicks to; returns
        its parts, for ``DETECTOR_RESOURCES``. The URL takes no IAM authentication, since Slack cannot sign a request
        with SigV4: the function authenticates every request by its Slack signature (the app's signing secret) and
        acts only for the allowed users. It runs the drift handler's code and shares its settings."""
        signing = secretsmanager.Secret.from_secret_name_v2(
            self, "SlackSigningSecret", settings.slack_signing_secret_name
        )
        log_group = function_logs(self, "InteractionLogs", key)
        role = iam.Role(
            self,
            "InteractionRole",
            role_name=f"{INTERACTION_ROLE}-{self.region}",  # the region by name when the stack has one
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        )
        statements = [
            *trail_read_statements(role, INTERACTION_LIST_ACTIONS),
            *state_and_alert_statements(table, topic, key, log_group),
            secret_statement("SlackSigningSecret", signing),
        ]
        if settings.remediation_mode == "on":  # "Revert now" makes the drift handler's calls, and only then
            statements += revert_statements(role)
        for statement in statements:
            role.add_to_policy(statement)
        shared = {name: handler_environment[name] for name in SHARED_ENVIRONMENT if name in handler_environment}
        function = lambda_.Function(
            self,
            "InteractionHandler",
            description="trailguard: acts on the buttons of a Slack alert (revert, accept, snooze)",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler="interaction_handler.handler",
            code=code,
            role=role,
            timeout=INTERACTION_TIMEOUT,
            memory_size=256,
            environment={
                **shared,
                "SLACK_SIGNING_SECRET_ARN": signing.secret_arn,
                "SLACK_ALLOWED_USERS": ",".join(settings.slack_allowed_users),
            },
            log_group=log_group,
            reserved_concurrent_executions=INTERACTION_CONCURRENCY if settings.reserved_concurrency else None,
        )
        url = function.add_function_url(auth_type=lambda_.FunctionUrlAuthType.NONE)
        if not settings.reserved_concurrency:
            checkov_skip(function, {"CKV_AWS_115": NO_RESERVATION})
        checkov_skip(function, {
            "CKV_AWS_116": "Invoked synchronously only, by its Function URL: nothing is queued or retried, and a "
                           "failed click is shown to the person who made it in Slack, who can click again.",
            "CKV_AWS_117": NO_VPC,
            "CKV_AWS_173": NO_SECRET_IN_ENVIRONMENT,
        })  # fmt: skip
        checkov_skip(url, {
            "CKV_AWS_258": "Slack posts the button clicks and cannot sign a request with SigV4 (AWS_IAM): the "
                           "function verifies every request's Slack signature and timestamp with the app's signing "
                           "secret, and acts only for the allowed Slack users.",
        })  # fmt: skip
        CfnOutput(
            self,
            "InteractionUrl",
            value=url.url,
            description="The Slack app's Interactivity Request URL",
        )
        self.interaction, self.interaction_role = function, role  # organization mode adds to them
        # References to this function's own resources, none of which refers to the drift handler: no loop.
        return [
            function.function_arn,
            role.role_arn,
            f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:{log_group.log_group_name}",
            signing.secret_arn,  # named by name: its ARN ends in six random characters
            f"{signing.secret_arn}-??????",
        ]

    def _role(
        self,
        settings: DeploySettings,
        *,
        key: kms.IKey,
        topic: sns.ITopic,
        table: dynamodb.ITableV2,
        log_group: logs.ILogGroup,
        secret: secretsmanager.ISecret | None,
    ) -> iam.Role:
        role = iam.Role(self, "HandlerRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        statements = [*trail_read_statements(role), *state_and_alert_statements(table, topic, key, log_group)]
        if secret is not None:
            statements.append(secret_statement("SlackSecret", secret))
        if settings.remediation_mode == "on":
            statements += revert_statements(role)
        if settings.security_hub:
            statements.append(security_hub_statement())
        for statement in statements:
            role.add_to_policy(statement)
        return role

    def _alarms(self, topic: sns.ITopic, handler: lambda_.Function, undelivered: sqs.Queue) -> None:
        five = Duration.minutes(5)
        watched = {
            "HandlerErrors": ("trailguard's handler failed (an alert may not have been delivered)",
                              handler.metric_errors(period=five)),
            "HandlerThrottles": ("trailguard's handler was throttled", handler.metric_throttles(period=five)),
            "UndeliveredEvents": ("CloudTrail events trailguard could not process are waiting in its dead-letter "
                                  "queue", undelivered.metric_approximate_number_of_messages_visible(period=five)),
        }  # fmt: skip
        for construct_id, (description, metric) in watched.items():
            alarm(self, construct_id, description, metric, topic)

    def _heartbeat_alarm(self, topic: sns.ITopic, schedule: str) -> None:
        """An alarm on the heartbeats the handler receives (metric ``HeartbeatReceived``), with missing data
        breaching: a deleted, disabled or throttled-to-zero detector, whose sweep sends none or whose handler
        records none, is noticed without the detector. Two sweeps' worth of silence, at most a day."""
        every = heartbeat_interval(schedule)
        period, periods = (every, 2) if 2 * every <= 86_400 else (86_400, 1)
        metric = cloudwatch.Metric(
            namespace="trailguard", metric_name="HeartbeatReceived", dimensions_map={"service": "trailguard"},
            statistic="Sum", period=Duration.seconds(period),
        )  # fmt: skip
        cloudwatch.Alarm(
            self,
            "HeartbeatsStopped",
            alarm_name=f"{PREFIX}-HeartbeatsStopped",
            alarm_description="trailguard received no heartbeat: its sweep, its handler or the event pipeline from "
            "its own region is not working (see the README, 'The heartbeat')",
            metric=metric,
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=periods,
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
        ).add_alarm_action(cloudwatch_actions.SnsAction(topic))


def heartbeat_interval(schedule: str) -> int:
    """Seconds between sweeps for ``rate(N unit)`` (at least a minute, at most a day); a day for ``cron(...)``."""
    match = re.fullmatch(r"rate\((\d+) (minute|hour|day)s?\)", schedule)
    if not match:
        return 86_400
    seconds = int(match.group(1)) * {"minute": 60, "hour": 3600, "day": 86_400}[match.group(2)]
    return max(60, min(seconds, 86_400))


def alarm(scope: Construct, construct_id: str, description: str, metric: cloudwatch.IMetric, topic: sns.ITopic) -> None:
    """An alarm on the first occurrence of ``metric`` in a period, notifying the alert topic (named with the
    detector's prefix, one of its parts)."""
    cloudwatch.Alarm(
        scope,
        construct_id,
        alarm_name=f"{PREFIX}-{construct_id}",
        alarm_description=description,
        metric=metric,
        threshold=1,
        evaluation_periods=1,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    ).add_alarm_action(cloudwatch_actions.SnsAction(topic))
