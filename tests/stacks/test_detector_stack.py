"""What the synthesized stacks must say: the rule, the role's exact grants, the function, encryption, alarms,
the sweep and the forwarders, for the default, full, dry-run and off configurations (conftest.py)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Token, Validations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Capture, Match, Template
from moto.events.models import EventPattern

import stacks.detector
from stacks import HOME_STACK
from stacks.detector import (
    DELIVERY_PATTERN,
    EVENT_PATTERN,
    EXEMPTIONS_FILE,
    REMOTE_TAMPER_PATTERN,
    TAMPER_PATTERN,
    remediation_actions,
)
from tests.events import event, names, record, wrap
from tests.stacks.conftest import FULL_CONTEXT, Deployment, build_app, deploy, settings_from
from trailguard import events as intake
from trailguard.config import LAMBDA_ATTEMPTS, MAX_EVENT_AGE, TIMEOUT_SECONDS
from trailguard.events import WATCHED_CALLS
from trailguard.rules import REGISTRY

CONFIGS = ("deploy_default", "deploy_full", "deploy_dry_run", "deploy_off")

EXPECTED_PATTERN: dict[str, Any] = {
    "source": ["aws.cloudtrail"],
    "detail-type": ["AWS API Call via CloudTrail"],
    "detail": {
        "eventSource": ["cloudtrail.amazonaws.com"],
        "eventName": ["DeleteTrail", "PutEventSelectors", "StopLogging", "UpdateTrail"],
    },
}
PARTITION = {"Ref": "AWS::Partition"}
ACCOUNT = {"Ref": "AWS::AccountId"}
TRAILS = {"Fn::Join": ["", ["arn:", PARTITION, ":cloudtrail:*:", ACCOUNT, ":trail/*"]]}
# A trail's KMS key, read where it lives: it may be another account's (that account's key policy decides too).
ANY_KEY = {"Fn::Join": ["", ["arn:", PARTITION, ":kms:*:*:key/*"]]}
ANY_KEY_FINDING = "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:*:*:key/*]"

# What the handler calls in every mode: list trails and regions, read a trail, its state table, the topic (and
# the topic's key), its own log group, and the dead-letter queue its failed async invocations go to.
READ_ACTIONS = frozenset(
    {
        "cloudtrail:DescribeTrails",
        "ec2:DescribeRegions",
        "cloudformation:ListStacks",  # whether CloudFormation's call on a part was the detector's own deployment
        "cloudtrail:GetEventSelectors",
        "cloudtrail:GetTrailStatus",
        "cloudtrail:GetInsightSelectors",
        "cloudtrail:ListTags",
        "kms:DescribeKey",  # log-key-unusable's read of a trail's key
        "dynamodb:BatchGetItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:UpdateItem",
        "sns:Publish",
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        # The on-failure destination: Lambda sends there with the function's role.
        "sqs:SendMessage",
    }
)
SECRET_ACTIONS = frozenset({"secretsmanager:GetSecretValue"})
REVERT_ACTIONS = frozenset(
    {
        "cloudtrail:StartLogging",
        "cloudtrail:PutEventSelectors",
        "cloudtrail:UpdateTrail",
        "cloudtrail:CreateTrail",
        "cloudtrail:PutInsightSelectors",
        "cloudtrail:AddTags",
        "iam:PassRole",
    }
)
CLOUDTRAIL_WRITES = REVERT_ACTIONS | {
    "cloudtrail:StopLogging",
    "cloudtrail:CreateTrail",
    "cloudtrail:DeleteTrail",
    "cloudtrail:PutInsightSelectors",
    "cloudtrail:AddTags",
    "cloudtrail:RemoveTags",
    "cloudtrail:PutResourcePolicy",
    "cloudtrail:DeleteResourcePolicy",
}
PASS_ROLE_FINDING = "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/*]"
IDENTITY_POLICY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
RESOURCE_POLICY_TYPES = {
    "AWS::SNS::TopicPolicy": "PolicyDocument",
    "AWS::SQS::QueuePolicy": "PolicyDocument",
    "AWS::KMS::Key": "KeyPolicy",
}


# ---------------------------------------------------------------------------------------------- helpers


def only(template: Template, resource_type: str) -> str:
    """The logical id of the one resource of this type."""
    found = template.find_resources(resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return next(iter(found))


def props(template: Template, logical_id: str) -> dict[str, Any]:
    resource: dict[str, Any] = template.to_json()["Resources"][logical_id]
    return dict(resource.get("Properties", {}))


def arn_of(logical_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def ref(logical_id: str) -> dict[str, Any]:
    return {"Ref": logical_id}


def canonical(value: Any) -> str:
    """A value's JSON with sorted keys: the order a template's keys come in is not the test's concern."""
    return json.dumps(value, sort_keys=True)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class Ids:
    """Logical ids of the home stack's resources that other resources point at."""

    function: str
    role: str
    topic: str
    key: str
    table: str
    queue: str
    log_group: str

    @classmethod
    def of(cls, template: Template) -> Ids:
        function = only(template, "AWS::Lambda::Function")
        return cls(
            function=function,
            role=props(template, function)["Role"]["Fn::GetAtt"][0],
            topic=only(template, "AWS::SNS::Topic"),
            key=only(template, "AWS::KMS::Key"),
            table=only(template, "AWS::DynamoDB::GlobalTable"),
            queue=only(template, "AWS::SQS::Queue"),
            log_group=only(template, "AWS::Logs::LogGroup"),
        )


def role_statements(template: Template, role: str) -> list[dict[str, Any]]:
    """Every statement of every policy attached to ``role``: AWS::IAM::Policy resources and inline policies."""
    statements: list[dict[str, Any]] = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if ref(role) in policy["Properties"].get("Roles", []):
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    for inline in props(template, role).get("Policies", []):
        statements += inline["PolicyDocument"]["Statement"]
    return statements


def grants(statements: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Action -> the resources it is allowed on. Only Allow statements are expected on the role, and a
    condition only where it narrows iam:PassRole to CloudTrail."""
    granted: dict[str, list[Any]] = {}
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert not {"NotAction", "NotResource"} & statement.keys(), statement
        if "Condition" in statement:
            assert statement["Action"] == "iam:PassRole", statement
            assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "cloudtrail.amazonaws.com"}}
        for action in as_list(statement["Action"]):
            granted.setdefault(action, []).extend(as_list(statement["Resource"]))
    return granted


def handler_grants(template: Template) -> dict[str, list[Any]]:
    return grants(role_statements(template, Ids.of(template).role))


def canon(value: Any) -> Any:
    """A template value with the partition written out: cdk.json's target-partitions lets CDK put `aws` in
    ARNs it formats itself when the stack's region is known, where it would otherwise say AWS::Partition."""
    if isinstance(value, dict):
        if set(value) == {"Fn::Join"} and value["Fn::Join"][0] == "":
            parts: list[Any] = []
            for raw in canon(value["Fn::Join"][1]):
                part = "aws" if raw == {"Ref": "AWS::Partition"} else raw
                if isinstance(part, str) and parts and isinstance(parts[-1], str):
                    parts[-1] += part
                else:
                    parts.append(part)
            return {"Fn::Join": ["", parts]}
        return {k: canon(v) for k, v in value.items()}
    if isinstance(value, list):
        return [canon(v) for v in value]
    return value


def secret_arn(region: str, name: str) -> dict[str, Any]:
    return {"Fn::Join": ["", ["arn:", PARTITION, f":secretsmanager:{region}:", ACCOUNT, f":secret:{name}"]]}


def default_bus(region: str) -> dict[str, Any]:
    return {"Fn::Join": ["", ["arn:", PARTITION, f":events:{region}:", ACCOUNT, ":event-bus/default"]]}


def policy_documents(template: Template) -> list[tuple[str, str, dict[str, Any]]]:
    """(resource type, logical id, document) of every identity and resource policy in the template."""
    documents: list[tuple[str, str, dict[str, Any]]] = []
    for resource_type in IDENTITY_POLICY_TYPES:
        for logical_id, resource in template.find_resources(resource_type).items():
            documents.append((resource_type, logical_id, resource["Properties"]["PolicyDocument"]))
    for logical_id, resource in template.find_resources("AWS::IAM::Role").items():
        for inline in resource["Properties"].get("Policies", []):
            documents.append(("AWS::IAM::Role", logical_id, inline["PolicyDocument"]))
    for resource_type, key in RESOURCE_POLICY_TYPES.items():
        for logical_id, resource in template.find_resources(resource_type).items():
            documents.append((resource_type, logical_id, resource["Properties"][key]))
    return documents


def is_key_administration_by_account(resource_type: str, statement: dict[str, Any]) -> bool:
    """CDK's default key-policy statement: the account root may use and manage the key, which is what lets IAM
    policies (the handler role's kms:Decrypt/GenerateDataKey) take effect and keeps the key manageable."""
    root = {"Fn::Join": ["", ["arn:", PARTITION, ":iam::", ACCOUNT, ":root"]]}
    return (
        resource_type == "AWS::KMS::Key"
        and statement.get("Action") == "kms:*"
        and canon(statement.get("Principal")) == canon({"AWS": root})
        and "Condition" not in statement
    )


@pytest.fixture(params=CONFIGS)
def any_deploy(request: pytest.FixtureRequest) -> Deployment:
    deployment: Deployment = request.getfixturevalue(request.param)
    return deployment


# ------------------------------------------------------------------------------------------- the rule


def test_trail_change_rule_matches_exactly_the_watched_cloudtrail_calls(deploy_full: Deployment) -> None:
    template = deploy_full.home
    patterns = [
        p["EventPattern"]
        for p in (props(template, i) for i in template.find_resources("AWS::Events::Rule"))
        if "EventPattern" in p
    ]

    assert sorted(patterns, key=canonical) == sorted(
        [EXPECTED_PATTERN, DELIVERY_PATTERN, TAMPER_PATTERN], key=canonical
    )
    assert EVENT_PATTERN == EXPECTED_PATTERN
    assert set(EXPECTED_PATTERN["detail"]["eventName"]) == WATCHED_CALLS
    on_tamper_rule = {
        "eventSource": ["events.amazonaws.com"],
        "eventName": ["DeleteRule", "DisableRule", "PutRule", "PutTargets", "RemoveTargets"],
    }
    assert {
        "source": ["aws.events", "aws.kms", "aws.logs", "aws.organizations", "aws.s3"],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {"$or": [
            {"eventSource": ["kms.amazonaws.com", "logs.amazonaws.com", "organizations.amazonaws.com",
                             "s3.amazonaws.com"],
             "eventName": ["DeleteBucket", "DeleteBucketPolicy", "DeleteLogGroup", "DeregisterDelegatedAdministrator",
                           "DisableAWSServiceAccess", "DisableKey", "LeaveOrganization", "PutBucketLifecycle",
                           "PutBucketPolicy", "PutKeyPolicy", "ScheduleKeyDeletion"]},
            {**on_tamper_rule, "requestParameters": {"name": [{"suffix": "-DetectorChanges"}]}},
            {**on_tamper_rule, "requestParameters": {"rule": [{"suffix": "-DetectorChanges"}]}},
        ]},
    } == DELIVERY_PATTERN  # fmt: skip


def test_trail_change_rule_targets_the_handler_with_retries_and_the_dead_letter_queue(
    deploy_full: Deployment,
) -> None:
    template = deploy_full.home
    ids = Ids.of(template)
    retries = Capture()

    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": Match.exact(EXPECTED_PATTERN),
            "State": "ENABLED",
            "Targets": [
                {
                    "Arn": arn_of(ids.function),
                    "Id": Match.any_value(),
                    "RetryPolicy": {"MaximumRetryAttempts": retries},
                    "DeadLetterConfig": {"Arn": arn_of(ids.queue)},
                }
            ],
        },
    )
    assert retries.as_number() >= 1
    template.has_resource_properties(
        "AWS::Lambda::Permission",
        {"Action": "lambda:InvokeFunction", "FunctionName": arn_of(ids.function), "Principal": "events.amazonaws.com"},
    )


def _matches(pattern: dict[str, Any], candidate: Any) -> bool:
    return bool(EventPattern.load(json.dumps(pattern)).matches_event(candidate))


def _event_name(fixture: str) -> str:
    return str(record(fixture)["eventName"])


WATCHED_FIXTURES = [
    n for n in names() if _event_name(n) in WATCHED_CALLS and record(n).get("eventType") != "AwsVpceEvent"
]


@pytest.mark.parametrize("fixture", WATCHED_FIXTURES)
def test_real_shaped_watched_call_matches_the_rule(fixture: str) -> None:
    assert _matches(EXPECTED_PATTERN, event(fixture, trail="org-audit"))


@pytest.mark.parametrize(
    "fixture",
    [
        "startlogging_cloudshell",
        "createtrail_terraform",
        "createtrail_failed_invalid_token",
        "lookupevents_console",
        "putinsightselectors_console_trimmed",
    ],
)
def test_unwatched_cloudtrail_call_does_not_match_the_rule(fixture: str) -> None:
    assert _event_name(fixture) not in WATCHED_CALLS
    assert not _matches(EXPECTED_PATTERN, event(fixture))


def test_watched_call_name_from_another_service_or_envelope_does_not_match_the_rule() -> None:
    stop = record("stoplogging_cli")

    assert _matches(EXPECTED_PATTERN, wrap(stop))
    assert not _matches(EXPECTED_PATTERN, wrap(stop, source="aws.s3"))
    assert not _matches(EXPECTED_PATTERN, wrap(stop | {"eventSource": "s3.amazonaws.com"}))
    assert not _matches(EXPECTED_PATTERN, wrap(stop) | {"detail-type": "AWS Service Event via CloudTrail"})


def test_vpc_endpoint_record_of_a_watched_call_passes_the_rule_and_the_handler_ignores_it() -> None:
    """The pattern does not filter eventType (the issue fixes its four fields), so a network-activity record
    in an API-call envelope reaches the function; the handler's intake is what turns it away."""
    vpce = event("updatetrail_vpce_network_activity")

    assert _matches(EXPECTED_PATTERN, vpce)
    parsed = intake.parse(vpce)
    assert isinstance(parsed, intake.Ignored)
    assert "AwsVpceEvent" in parsed.reason


# ------------------------------------------------------------------------------------------------ IAM


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ("deploy_default", READ_ACTIONS),
        ("deploy_off", READ_ACTIONS | SECRET_ACTIONS),
        ("deploy_dry_run", READ_ACTIONS | SECRET_ACTIONS),
        ("deploy_full", READ_ACTIONS | SECRET_ACTIONS | REVERT_ACTIONS),
    ],
)
def test_handler_role_is_granted_exactly_the_actions_of_its_mode(
    request: pytest.FixtureRequest, config: str, expected: frozenset[str]
) -> None:
    deployment: Deployment = request.getfixturevalue(config)

    assert set(handler_grants(deployment.home)) == expected


def test_remediation_grants_are_the_union_of_the_rules_revert_actions() -> None:
    union = {action for rule in REGISTRY.values() for action in rule.revert_actions}

    assert set(remediation_actions()) == union == REVERT_ACTIONS


@pytest.mark.parametrize("config", ["deploy_default", "deploy_off", "deploy_dry_run"])
def test_no_cloudtrail_write_action_is_granted_unless_remediation_is_on(
    request: pytest.FixtureRequest, config: str
) -> None:
    deployment: Deployment = request.getfixturevalue(config)
    template = deployment.home

    assert deployment.settings.remediation_mode != "on"
    for _, _, document in policy_documents(template):
        for statement in document["Statement"]:
            if statement["Effect"] == "Allow":
                assert not set(as_list(statement["Action"])) & CLOUDTRAIL_WRITES, statement
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Environment": {"Variables": Match.object_like({"REMEDIATION_MODE": deployment.settings.remediation_mode})}},
    )


def test_handler_role_grants_each_action_on_its_narrowest_resource(deploy_full: Deployment) -> None:
    ids = Ids.of(deploy_full.home)
    table, topic, key = arn_of(ids.table), ref(ids.topic), arn_of(ids.key)
    logs, queue = arn_of(ids.log_group), arn_of(ids.queue)

    assert canon(handler_grants(deploy_full.home)) == canon(
        {
            # None takes resource-level permissions (the acknowledged AwsSolutions-IAM5[Resource::*]).
            "cloudtrail:DescribeTrails": ["*"],
            "ec2:DescribeRegions": ["*"],
            "cloudformation:ListStacks": ["*"],
            "cloudtrail:GetEventSelectors": [TRAILS],
            "cloudtrail:GetTrailStatus": [TRAILS],
            "kms:DescribeKey": [ANY_KEY],
            "dynamodb:BatchGetItem": [table],
            "dynamodb:BatchWriteItem": [table],
            "dynamodb:UpdateItem": [table],
            "sns:Publish": [topic],
            "kms:Decrypt": [key],
            "kms:GenerateDataKey": [key],
            "logs:CreateLogStream": [logs],
            "logs:PutLogEvents": [logs],
            "sqs:SendMessage": [queue],
            # The named secret only: from_secret_name_v2's partial ARN plus Secrets Manager's random suffix.
            "secretsmanager:GetSecretValue": [
                {
                    "Fn::Join": [
                        "",
                        ["arn:", PARTITION, ":secretsmanager:us-east-1:", ACCOUNT, ":secret:trailguard/slack-??????"],
                    ]
                }
            ],
            "cloudtrail:GetInsightSelectors": [TRAILS],
            "cloudtrail:ListTags": [TRAILS],
            "cloudtrail:PutEventSelectors": [TRAILS],
            "cloudtrail:StartLogging": [TRAILS],
            "cloudtrail:UpdateTrail": [TRAILS],
            "cloudtrail:CreateTrail": [TRAILS],
            "cloudtrail:PutInsightSelectors": [TRAILS],
            "cloudtrail:AddTags": [TRAILS],
            # Only to CloudTrail (iam:PassedToService), for a restored CloudWatch Logs delivery role.
            "iam:PassRole": [{"Fn::Join": ["", ["arn:", PARTITION, ":iam::", ACCOUNT, ":role/*"]]}],
        }
    )


def test_slack_secret_is_neither_granted_nor_configured_without_a_secret_name(deploy_default: Deployment) -> None:
    template = deploy_default.home

    assert "secretsmanager:GetSecretValue" not in handler_grants(template)
    template.has_resource_properties(
        "AWS::Lambda::Function", {"Environment": {"Variables": {"SLACK_SECRET_ARN": Match.absent()}}}
    )


def test_no_policy_in_any_stack_allows_a_wildcard_action(any_deploy: Deployment) -> None:
    """Identity policies name every action exactly. Resource policies may deny with a wildcard (the SSL
    denies) and keep CDK's account-root key administration statement, but allow nothing else as `*` or
    `service:*`."""
    checked = 0
    for template in any_deploy.templates.values():
        for resource_type, logical_id, document in policy_documents(template):
            for statement in document["Statement"]:
                actions = as_list(statement.get("Action", []))
                assert "NotAction" not in statement, (logical_id, statement)
                checked += 1
                if resource_type in IDENTITY_POLICY_TYPES or resource_type == "AWS::IAM::Role":
                    assert not [a for a in actions if "*" in a], (logical_id, statement)
                elif statement["Effect"] == "Allow" and not is_key_administration_by_account(resource_type, statement):
                    assert not [a for a in actions if a == "*" or a.endswith(":*")], (logical_id, statement)
    assert checked > 0


def test_handler_role_is_the_only_role_and_has_no_managed_or_inline_policies(any_deploy: Deployment) -> None:
    template = any_deploy.home

    assert list(template.find_resources("AWS::IAM::Role")) == [Ids.of(template).role]
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}
                ]
            },
            "ManagedPolicyArns": Match.absent(),
            "Policies": Match.absent(),
        },
    )
    assert template.find_resources("AWS::IAM::ManagedPolicy") == {}


# --------------------------------------------------------------------------------------------- Lambda


def newest_python_runtime() -> str:
    minors = [int(m.group(1)) for name in dir(lambda_.Runtime) if (m := re.fullmatch(r"PYTHON_3_(\d+)", name))]
    runtime: lambda_.Runtime = getattr(lambda_.Runtime, f"PYTHON_3_{max(minors)}")
    return runtime.name


def test_handler_runs_on_the_newest_python_on_arm64(any_deploy: Deployment) -> None:
    template = any_deploy.home
    function = props(template, Ids.of(template).function)

    assert function["Runtime"] == newest_python_runtime()
    assert function["Architectures"] == ["arm64"]
    assert function["Handler"] == "drift_handler.handler"


def test_handler_timeout_and_retries_are_the_ones_the_handler_budgets_for(any_deploy: Deployment) -> None:
    function = props(any_deploy.home, Ids.of(any_deploy.home).function)
    invoke = any_deploy.home.find_resources("AWS::Lambda::EventInvokeConfig")
    (config,) = (r["Properties"] for r in invoke.values())

    assert function["Timeout"] == TIMEOUT_SECONDS
    assert config["MaximumRetryAttempts"] == LAMBDA_ATTEMPTS - 1
    assert config["MaximumEventAgeInSeconds"] == MAX_EVENT_AGE


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        # WATCHED_REGIONS: the regions that have the forwarding rule; the deploy region when none are given.
        ("deploy_default", {"REMEDIATION_MODE": "off", "WATCHED_REGIONS": {"Ref": "AWS::Region"}}),
        ("deploy_off", {"REMEDIATION_MODE": "off", "WATCHED_REGIONS": "us-west-2"}),
        ("deploy_dry_run", {"REMEDIATION_MODE": "dry-run", "WATCHED_REGIONS": "eu-west-1,us-east-1"}),
        ("deploy_full", {"REMEDIATION_MODE": "on", "WATCHED_REGIONS": "us-east-1,eu-west-1,ap-southeast-2"}),
    ],
)
def test_handler_environment_has_exactly_the_contract_keys(
    request: pytest.FixtureRequest, config: str, expected: dict[str, Any]
) -> None:
    deployment: Deployment = request.getfixturevalue(config)
    template = deployment.home
    ids = Ids.of(template)
    settings = deployment.settings
    wanted: dict[str, Any] = {
        "STATE_TABLE": ref(ids.table),
        "ALERT_TOPIC_ARN": ref(ids.topic),
        "POWERTOOLS_SERVICE_NAME": "trailguard",
        "ALLOWED_EXCLUDED_SOURCES": ",".join(settings.allowed_excluded_sources),
        **expected,
    }
    if settings.slack_secret_name:
        assert settings.home_region is not None
        wanted["SLACK_SECRET_ARN"] = secret_arn(settings.home_region, settings.slack_secret_name)
    variables = dict(props(template, ids.function)["Environment"]["Variables"])

    assert "DETECTOR_RESOURCES" in variables  # what it lists: tests/stacks/test_self_protection.py
    del variables["DETECTOR_RESOURCES"]
    assert canon(variables) == canon(wanted)


EXEMPTION: dict[str, Any] = {
    "trail": "data-*",
    "rules": ["management-events-excluded"],
    "reason": "logs S3 data events only",
    "expires": "2030-01-01",
}


def deploy_with_exemptions(folder: Path, entries: list[dict[str, Any]]) -> Deployment:
    """The default configuration plus an exemptions file holding ``entries``, written under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "exemptions.json"
    path.write_text(json.dumps(entries, indent=2), encoding="utf-8")
    return deploy(settings_from({"exemptionsFile": str(path)}), folder / "cdk.out")


def asset_key(deployment: Deployment) -> str:
    """The S3 key of the handler's code: the asset hash, which decides whether a deploy uploads new code."""
    template = deployment.home
    key: str = props(template, Ids.of(template).function)["Code"]["S3Key"]
    return key


@pytest.fixture(scope="module")
def deploy_exempt(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    return deploy_with_exemptions(tmp_path_factory.mktemp("exempt"), [EXEMPTION])


def test_exemptions_file_is_named_in_the_environment_and_nothing_else_changes(
    deploy_exempt: Deployment, deploy_default: Deployment
) -> None:
    exempt = props(deploy_exempt.home, Ids.of(deploy_exempt.home).function)["Environment"]["Variables"]
    default = props(deploy_default.home, Ids.of(deploy_default.home).function)["Environment"]["Variables"]

    assert deploy_exempt.settings.exemptions_json == json.dumps([EXEMPTION], indent=2)
    assert EXEMPTIONS_FILE == "trailguard_exemptions.json"
    assert exempt == default | {"EXEMPTIONS_FILE": EXEMPTIONS_FILE}


def test_without_an_exemptions_file_the_environment_has_no_exemptions_file_key(any_deploy: Deployment) -> None:
    assert any_deploy.settings.exemptions_json == ""
    any_deploy.home.has_resource_properties(
        "AWS::Lambda::Function", {"Environment": {"Variables": {"EXEMPTIONS_FILE": Match.absent()}}}
    )


def test_asset_hash_follows_the_exemptions_files_content(
    tmp_path: Path, deploy_exempt: Deployment, deploy_default: Deployment
) -> None:
    """A changed exemptions file changes the asset hash, so `cdk deploy` ships it; the same content under another
    path does not (the hash follows what the asset holds, not where the file was)."""
    changed = deploy_with_exemptions(tmp_path / "changed", [EXEMPTION | {"expires": "2030-06-30"}])
    moved = deploy_with_exemptions(tmp_path / "moved", [EXEMPTION])

    assert asset_key(deploy_exempt) != asset_key(changed)
    assert asset_key(deploy_exempt) == asset_key(moved)
    assert asset_key(deploy_default) not in {asset_key(deploy_exempt), asset_key(changed)}


def test_no_secret_value_or_secret_resource_is_in_any_template(any_deploy: Deployment) -> None:
    for template in any_deploy.templates.values():
        text = json.dumps(template.to_json())
        assert "xoxb-" not in text
        assert "hooks.slack.com" not in text
        assert template.find_resources("AWS::SecretsManager::Secret") == {}
    variables = props(any_deploy.home, Ids.of(any_deploy.home).function)["Environment"]["Variables"]
    assert all("xoxb-" not in json.dumps(v) and "hooks.slack.com" not in json.dumps(v) for v in variables.values())


def test_handler_logs_to_its_own_group_with_a_retention(any_deploy: Deployment) -> None:
    template = any_deploy.home
    ids = Ids.of(template)

    assert props(template, ids.log_group)["RetentionInDays"] > 0
    assert props(template, ids.function)["LoggingConfig"] == {"LogGroup": ref(ids.log_group)}


def test_failed_async_invocations_go_to_the_dead_letter_queue(any_deploy: Deployment) -> None:
    template = any_deploy.home
    ids = Ids.of(template)
    attempts = Capture()

    template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "FunctionName": ref(ids.function),
            "Qualifier": "$LATEST",
            "MaximumRetryAttempts": attempts,
            "DestinationConfig": {"OnFailure": {"Destination": arn_of(ids.queue)}},
        },
    )
    assert 0 <= attempts.as_number() <= 2


# -------------------------------------------------------------------------------- encryption and SSL


def test_alert_topic_is_encrypted_with_the_rotating_customer_managed_key(any_deploy: Deployment) -> None:
    template = any_deploy.home
    ids = Ids.of(template)

    assert props(template, ids.topic)["KmsMasterKeyId"] == arn_of(ids.key)
    assert props(template, ids.key)["EnableKeyRotation"] is True


def test_alert_key_lets_cloudwatch_alarms_publish_to_the_topic(any_deploy: Deployment) -> None:
    any_deploy.home.has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                "Action": Match.array_with(["kms:Decrypt", "kms:GenerateDataKey*"]),
                            }
                        )
                    ]
                )
            }
        },
    )


def test_alert_topic_policy_lets_cloudwatch_alarms_publish(deploy_full: Deployment) -> None:
    """An AWS::SNS::TopicPolicy replaces the topic's default policy, and CloudWatch publishes an alarm's
    notification as cloudwatch.amazonaws.com: without an Allow for it in the topic policy every alarm
    action fails ("... is not authorized to perform: SNS:Publish ... because no resource-based policy
    allows the SNS:Publish action"). The key policy alone is not enough."""
    template = deploy_full.home
    ids = Ids.of(template)
    statements = [
        s
        for policy in template.find_resources("AWS::SNS::TopicPolicy").values()
        if ref(ids.topic) in policy["Properties"]["Topics"]
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]

    assert any(
        s["Effect"] == "Allow"
        and isinstance(s.get("Principal"), dict)
        and "cloudwatch.amazonaws.com" in as_list(s["Principal"].get("Service", []))
        and {"sns:Publish", "SNS:Publish"} & set(as_list(s["Action"]))
        and ref(ids.topic) in as_list(s["Resource"])
        for s in statements
    ), statements


def test_alert_topic_denies_publishing_without_tls(any_deploy: Deployment) -> None:
    template = any_deploy.home
    topic = Ids.of(template).topic

    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "Topics": [ref(topic)],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "sns:Publish",
                                "Principal": "*",
                                "Resource": ref(topic),
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            },
        },
    )


def test_dead_letter_queue_is_encrypted_and_denies_requests_without_tls(any_deploy: Deployment) -> None:
    template = any_deploy.home
    queue = Ids.of(template).queue

    assert props(template, queue)["SqsManagedSseEnabled"] is True
    template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "Queues": [ref(queue)],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "sqs:*",
                                "Principal": {"AWS": "*"},
                                "Resource": arn_of(queue),
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            },
        },
    )


def test_state_table_is_keyed_on_pk_with_ttl_pitr_and_encryption(any_deploy: Deployment) -> None:
    template = any_deploy.home
    table = props(template, Ids.of(template).table)

    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": "pk", "AttributeType": "S"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["SSESpecification"]["SSEEnabled"] is True
    assert [r["PointInTimeRecoverySpecification"] for r in table["Replicas"]] == [{"PointInTimeRecoveryEnabled": True}]
    template.has_resource("AWS::DynamoDB::GlobalTable", {"DeletionPolicy": "Retain"})


# ------------------------------------------------------------------------------------ emails, schedule


def test_each_alert_email_gets_one_email_subscription(deploy_full: Deployment) -> None:
    template = deploy_full.home
    topic = Ids.of(template).topic
    subscriptions = [r["Properties"] for r in template.find_resources("AWS::SNS::Subscription").values()]

    assert sorted(subscriptions, key=lambda s: str(s["Endpoint"])) == [
        {"Endpoint": "oncall@example.org", "Protocol": "email", "TopicArn": ref(topic)},
        {"Endpoint": "security@example.com", "Protocol": "email", "TopicArn": ref(topic)},
    ]


@pytest.mark.parametrize("config", ["deploy_default", "deploy_off", "deploy_dry_run"])
def test_no_subscription_without_alert_emails(request: pytest.FixtureRequest, config: str) -> None:
    deployment: Deployment = request.getfixturevalue(config)

    assert deployment.settings.alert_emails == ()
    assert deployment.home.find_resources("AWS::SNS::Subscription") == {}


@pytest.mark.parametrize(
    ("config", "schedule"), [("deploy_default", "rate(1 hour)"), ("deploy_full", "rate(30 minutes)")]
)
def test_backstop_sweep_runs_the_same_handler_on_the_configured_schedule(
    request: pytest.FixtureRequest, config: str, schedule: str
) -> None:
    deployment: Deployment = request.getfixturevalue(config)
    template = deployment.home
    ids = Ids.of(template)
    scheduled = [
        p
        for p in (props(template, i) for i in template.find_resources("AWS::Events::Rule"))
        if "ScheduleExpression" in p
    ]

    assert [p["ScheduleExpression"] for p in scheduled] == [schedule]
    assert "EventPattern" not in scheduled[0]
    assert [t["Arn"] for t in scheduled[0]["Targets"]] == [arn_of(ids.function)]
    assert scheduled[0]["Targets"][0]["DeadLetterConfig"] == {"Arn": arn_of(ids.queue)}


# --------------------------------------------------------------------------------------------- alarms


def test_handler_errors_throttles_and_dead_letters_alarm_to_the_topic(any_deploy: Deployment) -> None:
    template = any_deploy.home
    ids = Ids.of(template)
    alarms = {
        (a["Properties"]["Namespace"], a["Properties"]["MetricName"]): a["Properties"]
        for a in template.find_resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] != "HeartbeatReceived"
    }
    on_function = [{"Name": "FunctionName", "Value": ref(ids.function)}]
    on_queue = [{"Name": "QueueName", "Value": {"Fn::GetAtt": [ids.queue, "QueueName"]}}]

    assert set(alarms) == {
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
    }
    assert alarms["AWS/Lambda", "Errors"]["Dimensions"] == on_function
    assert alarms["AWS/Lambda", "Throttles"]["Dimensions"] == on_function
    assert alarms["AWS/SQS", "ApproximateNumberOfMessagesVisible"]["Dimensions"] == on_queue
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [ref(ids.topic)]
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["Threshold"] >= 1
        assert alarm["TreatMissingData"] == "notBreaching"


@pytest.mark.parametrize(
    ("schedule", "seconds"),
    [("rate(1 hour)", 3600), ("rate(30 minutes)", 1800), ("rate(2 days)", 86_400), ("cron(0 6 * * ? *)", 86_400)],
)
def test_the_heartbeat_alarm_waits_as_long_as_the_sweeps_come(schedule: str, seconds: int) -> None:
    from stacks.detector import heartbeat_interval

    assert heartbeat_interval(schedule) == seconds


def test_the_heartbeat_alarm_treats_missing_data_as_breaching(any_deploy: Deployment) -> None:
    template = any_deploy.home
    [alarm] = [
        a["Properties"] for a in template.find_resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == "HeartbeatReceived"
    ]  # fmt: skip
    assert alarm["Namespace"] == "trailguard" and alarm["Dimensions"] == [{"Name": "service", "Value": "trailguard"}]
    assert alarm["TreatMissingData"] == "breaching"
    assert alarm["ComparisonOperator"] == "LessThanThreshold" and alarm["Threshold"] == 1
    assert alarm["AlarmActions"] == [ref(Ids.of(template).topic)]


# ----------------------------------------------------------------------------------------- forwarders


@pytest.mark.parametrize(
    ("config", "home", "others"),
    [
        ("deploy_default", None, []),
        ("deploy_off", "us-west-2", []),
        ("deploy_dry_run", "eu-west-1", ["us-east-1"]),
        ("deploy_full", "us-east-1", ["eu-west-1", "ap-southeast-2"]),
    ],
)
def test_one_forwarder_stack_per_other_region_and_the_detector_in_the_first(
    request: pytest.FixtureRequest, config: str, home: str | None, others: list[str]
) -> None:
    deployment: Deployment = request.getfixturevalue(config)
    # us-east-1, where IAM and AWS Organizations record their calls, gets a small forwarder of its own when unwatched
    extra = [f"{HOME_STACK}-Global"] if home is not None and "us-east-1" not in [home, *others] else []

    assert list(deployment.stacks) == [HOME_STACK] + [f"{HOME_STACK}-Forwarder-{r}" for r in others] + extra
    if home is None:
        assert Token.is_unresolved(deployment.home_stack.region)  # environment-agnostic: the deploy region
    else:
        assert deployment.home_stack.region == home
    assert [deployment.stacks[f"{HOME_STACK}-Forwarder-{r}"].region for r in others] == others


@pytest.mark.parametrize("config", ["deploy_full", "deploy_dry_run"])
def test_forwarder_sends_the_same_events_to_the_home_default_bus_and_nothing_else(
    request: pytest.FixtureRequest, config: str
) -> None:
    deployment: Deployment = request.getfixturevalue(config)
    home = deployment.settings.home_region
    assert home is not None and deployment.forwarders

    for template in deployment.forwarders.values():
        rules = list(template.find_resources("AWS::Events::Rule"))
        role = only(template, "AWS::IAM::Role")
        patterns = [props(template, rule)["EventPattern"] for rule in rules]
        assert sorted(patterns, key=canonical) == sorted(
            [EXPECTED_PATTERN, DELIVERY_PATTERN, REMOTE_TAMPER_PATTERN], key=canonical
        )
        queue = only(template, "AWS::SQS::Queue")  # what could not be forwarded waits here
        assert props(template, queue)["SqsManagedSseEnabled"] is True
        assert props(template, queue)["MessageRetentionPeriod"] == 14 * 24 * 3600
        for rule in rules:
            targets = [{k: v for k, v in t.items() if k != "Id"} for t in props(template, rule)["Targets"]]
            assert targets == [
                {"Arn": default_bus(home), "RoleArn": arn_of(role), "DeadLetterConfig": {"Arn": arn_of(queue)}}
            ]
        assert props(template, role)["AssumeRolePolicyDocument"]["Statement"] == [
            {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}}
        ]
        assert grants(role_statements(template, role)) == {"events:PutEvents": [default_bus(home)]}
        for absent in ("AWS::Lambda::Function", "AWS::SNS::Topic", "AWS::DynamoDB::GlobalTable"):  # nothing else
            assert template.find_resources(absent) == {}


# --------------------------------------------------------------------------------------------- cdk-nag


def acknowledgments(deployment: Deployment) -> dict[str, list[str]]:
    """Acknowledged rule id (without CDK's kind prefix) -> the reasons given, from construct metadata."""
    found: dict[str, list[str]] = {}
    for construct in deployment.app.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                for rule, reason in dict(entry.data).items():
                    found.setdefault(str(rule).split("::", 1)[1], []).append(str(reason))
    return found


def test_every_cdk_nag_acknowledgment_has_a_written_reason(any_deploy: Deployment) -> None:
    acknowledged = acknowledgments(any_deploy)

    assert set(acknowledged) == {
        "AwsSolutions-SQS3",
        "AwsSolutions-IAM5[Resource::*]",
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudtrail:*:<AWS::AccountId>:trail/*]",
        ANY_KEY_FINDING,
    } | ({PASS_ROLE_FINDING} if any_deploy.settings.remediation_mode == "on" else set())
    for rule, reasons in acknowledged.items():
        for reason in reasons:
            assert len(reason.split()) >= 5 and reason.strip().endswith("."), (rule, reason)


def test_every_cdk_nag_acknowledgment_is_still_needed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without the acknowledgments, cdk-nag reports exactly the findings they accept: none is stale."""
    monkeypatch.setattr(stacks.detector, "acknowledge", lambda _scope, _reasons: None)
    _, built = build_app(settings_from(FULL_CONTEXT), tmp_path)
    home = next(s for s in built if s.stack_name == HOME_STACK)

    with pytest.raises(RuntimeError, match="AwsSolutions") as raised:
        Template.from_stack(home)

    reported = {rule.split("::", 1)[1] for rule in re.findall(r"Acknowledge with '([^']+)'", str(raised.value))}
    assert reported == {
        "AwsSolutions-SQS3",
        "AwsSolutions-IAM5[Resource::*]",
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudtrail:*:<AWS::AccountId>:trail/*]",
        ANY_KEY_FINDING,
        PASS_ROLE_FINDING,  # FULL_CONTEXT has remediation on
    }


def test_cdk_nag_checks_every_synth_of_the_app(tmp_path: Path) -> None:
    """The fixtures' templates are cdk-nag passes only because a finding makes the synth raise."""
    _, built = build_app(settings_from({}), tmp_path)
    sns.Topic(built[0], "TopicWithoutTls")

    with pytest.raises(RuntimeError, match="AwsSolutions-SNS3"):
        Template.from_stack(built[0])


def test_single_account_deployment_has_no_organization_pieces(any_deploy: Deployment) -> None:
    """Without organization=true: no stack set, no bus policy for other accounts, no sweep queue, no member role
    to assume and no management-account stack."""
    assert not any_deploy.settings.organization
    assert [n for n in any_deploy.stacks if n.startswith(f"{HOME_STACK}-Management")] == []
    for absent in ("AWS::CloudFormation::StackSet", "AWS::Events::EventBusPolicy", "AWS::Lambda::EventSourceMapping"):
        assert any_deploy.home.find_resources(absent) == {}
    assert not {a for a in handler_grants(any_deploy.home) if a.startswith(("sts:", "organizations:"))}
