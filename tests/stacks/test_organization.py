"""Organization mode (-c organization=true): the hub's additions (bus policy, sweep queue, IAM, the member stack
set), the member template the stack set deploys, and the management account's own member stacks, for the two
organization configurations of conftest.py. Every template here also passed cdk-nag (the member template in its
own app)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import LegacyStackSynthesizer, Validations
from aws_cdk.assertions import Template

import stacks.member
import stacks.organization
from stacks import HOME_STACK, MANAGEMENT_STACK
from stacks.detector import DELIVERY_PATTERN, REMOTE_TAMPER_PATTERN
from stacks.member import HEARTBEAT_PREFIX, member_template
from stacks.organization import (
    SWEEP_BATCH_SIZE,
    SWEEP_BATCH_WINDOW,
    SWEEP_MAX_CONCURRENCY,
    SWEEP_MAX_RECEIVES,
)
from tests.stacks.conftest import CDK_JSON_CONTEXT, ORG_ON_CONTEXT, Deployment, build_app, cfn_lint, settings_from
from tests.stacks.test_detector_stack import (
    ACCOUNT,
    ANY_KEY,
    CLOUDTRAIL_WRITES,
    EXPECTED_PATTERN,
    PARTITION,
    REVERT_ACTIONS,
    TRAILS,
    arn_of,
    as_list,
    canon,
    canonical,
    only,
    props,
    ref,
)
from trailguard.config import TIMEOUT_SECONDS

CONFIGS = ("deploy_org", "deploy_org_on")
TEMPLATE_BODY_LIMIT = 51_200  # bytes CloudFormation accepts as a stack set's TemplateBody
REGION = {"Ref": "AWS::Region"}
HUB_ROLE_ARN = {"Ref": "HubRoleArn"}
HUB_ACCOUNT = {"Fn::Select": [4, {"Fn::Split": [":", HUB_ROLE_ARN]}]}
HUB_BUS = {
    "Fn::Join": ["", ["arn:", PARTITION, ":events:", {"Ref": "HubRegion"}, ":", HUB_ACCOUNT, ":event-bus/default"]]
}
MEMBER_READS = {
    "cloudtrail:DescribeTrails": ["*"],  # no resource-level permissions
    "ec2:DescribeRegions": ["*"],
    "cloudformation:ListStacks": ["*"],
    "cloudtrail:GetEventSelectors": [TRAILS],
    "cloudtrail:GetInsightSelectors": [TRAILS],
    "cloudtrail:GetTrailStatus": [TRAILS],
    "cloudtrail:ListTags": [TRAILS],
    "kms:DescribeKey": [ANY_KEY],  # a trail's key, wherever it lives
    "cloudtrail:StopLogging": [  # the heartbeat's failing call, on trails no one names like this
        {"Fn::Join": ["", ["arn:", PARTITION, ":cloudtrail:*:", ACCOUNT, f":trail/{HEARTBEAT_PREFIX}*"]]}
    ],
}


@pytest.fixture(params=CONFIGS)
def any_org(request: pytest.FixtureRequest) -> Deployment:
    deployment: Deployment = request.getfixturevalue(request.param)
    return deployment


# ------------------------------------------------------------------------------------------------ helpers


def resources(template: Template | dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    body = template.to_json() if isinstance(template, Template) else template
    return {k: r for k, r in body.get("Resources", {}).items() if r["Type"] == resource_type}


def one(template: Template | dict[str, Any], resource_type: str, prefix: str = "") -> str:
    found = [k for k in resources(template, resource_type) if k.startswith(prefix)]
    assert len(found) == 1, (resource_type, prefix, found)
    return found[0]


def statements_of(body: dict[str, Any], role: str) -> list[dict[str, Any]]:
    """Every statement of the AWS::IAM::Policy resources attached to ``role``."""
    return [
        statement
        for policy in resources(body, "AWS::IAM::Policy").values()
        if ref(role) in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def allowed(statements: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Action -> resources, for statements that are all Allow and have no NotAction/NotResource."""
    granted: dict[str, list[Any]] = {}
    for statement in statements:
        assert statement["Effect"] == "Allow" and not {"NotAction", "NotResource"} & statement.keys(), statement
        for action in as_list(statement["Action"]):
            granted.setdefault(action, []).extend(as_list(statement["Resource"]))
    return granted


def sweep_queues(template: Template) -> tuple[str, str]:
    """The logical ids of the sweep queue (the one the event source mapping reads) and its dead-letter queue."""
    mapping = props(template, one(template, "AWS::Lambda::EventSourceMapping"))
    sweep: str = mapping["EventSourceArn"]["Fn::GetAtt"][0]
    dead: str = props(template, sweep)["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    return sweep, dead


def hub_function(deployment: Deployment) -> dict[str, Any]:
    return props(deployment.home, only(deployment.home, "AWS::Lambda::Function"))


def hub_role(deployment: Deployment) -> str:
    role: str = hub_function(deployment)["Role"]["Fn::GetAtt"][0]
    return role


def stack_set(deployment: Deployment) -> dict[str, Any]:
    return props(deployment.home, only(deployment.home, "AWS::CloudFormation::StackSet"))


def member_body(deployment: Deployment) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(stack_set(deployment)["TemplateBody"])
    return body


def member_role(body: dict[str, Any]) -> str:
    """The role the hub reads through (the other, the forwarding rules' role, is assumed by EventBridge)."""
    [role] = [
        k
        for k, r in resources(body, "AWS::IAM::Role").items()
        if "events.amazonaws.com" not in json.dumps(r["Properties"]["AssumeRolePolicyDocument"])
    ]
    return role


def all_statements(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(logical id, statement) of every policy in a template: identity, role trust, queue, topic, key, bus."""
    found: list[tuple[str, dict[str, Any]]] = []
    for logical_id, resource in body["Resources"].items():
        properties = resource.get("Properties", {})
        documents = [properties.get(k) for k in ("PolicyDocument", "AssumeRolePolicyDocument", "KeyPolicy")]
        documents += [p["PolicyDocument"] for p in properties.get("Policies", [])]
        found += [(logical_id, s) for d in documents if d for s in d["Statement"]]
        if resource["Type"] == "AWS::Events::EventBusPolicy":
            found.append((logical_id, properties["Statement"]))
    return found


# ------------------------------------------------------------------------------------------- the hub


@pytest.mark.parametrize(
    ("config", "role_name", "organization_id", "regions"),
    [
        ("deploy_org", "trailguard-member", "o-abcdefghij", "us-east-1,eu-west-1"),
        ("deploy_org_on", "trailguard-reader", "o-0123456789abcdef", REGION),
    ],
)
def test_hub_lambda_environment_names_the_member_role_organization_sweep_queue_and_regions(
    request: pytest.FixtureRequest, config: str, role_name: str, organization_id: str, regions: Any
) -> None:
    deployment: Deployment = request.getfixturevalue(config)
    variables = hub_function(deployment)["Environment"]["Variables"]
    sweep, _ = sweep_queues(deployment.home)

    assert {k: variables[k] for k in ("MEMBER_ROLE_NAME", "ORGANIZATION_ID", "SWEEP_QUEUE_URL", "WATCHED_REGIONS")} == {
        "MEMBER_ROLE_NAME": role_name,
        "ORGANIZATION_ID": organization_id,
        "SWEEP_QUEUE_URL": ref(sweep),
        "WATCHED_REGIONS": regions,
    }


def test_home_default_bus_admits_put_events_from_the_organization_only(any_org: Deployment) -> None:
    policy = props(any_org.home, one(any_org.home, "AWS::Events::EventBusPolicy"))

    assert policy == {
        "EventBusName": "default",
        "StatementId": "TrailguardOrganizationPutEvents",
        "Statement": {
            "Sid": "TrailguardOrganizationPutEvents",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "events:PutEvents",
            "Resource": {"Fn::Join": ["", ["arn:", PARTITION, ":events:", REGION, ":", ACCOUNT, ":event-bus/default"]]},
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": any_org.settings.organization_id}},
        },
    }


def test_sweep_queue_is_encrypted_ssl_only_and_dead_letters_after_a_few_receives(any_org: Deployment) -> None:
    template = any_org.home
    sweep, dead = sweep_queues(template)
    queue = props(template, sweep)

    assert queue["SqsManagedSseEnabled"] is True
    assert queue["RedrivePolicy"] == {"deadLetterTargetArn": arn_of(dead), "maxReceiveCount": SWEEP_MAX_RECEIVES}
    assert 2 <= SWEEP_MAX_RECEIVES <= 5
    assert queue["VisibilityTimeout"] >= 6 * TIMEOUT_SECONDS  # Lambda's advice for an SQS event source
    assert props(template, dead)["SqsManagedSseEnabled"] is True
    assert props(template, dead)["MessageRetentionPeriod"] == 14 * 24 * 3600
    for logical_id in (sweep, dead):
        [denies] = [
            s
            for p in resources(template, "AWS::SQS::QueuePolicy").values()
            if p["Properties"]["Queues"] == [ref(logical_id)]
            for s in p["Properties"]["PolicyDocument"]["Statement"]
            if s["Effect"] == "Deny"
        ]
        assert denies["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_sweep_queue_invokes_the_same_lambda_in_small_batches_at_bounded_concurrency(any_org: Deployment) -> None:
    template = any_org.home
    mapping = props(template, one(template, "AWS::Lambda::EventSourceMapping"))

    assert mapping == {
        "EventSourceArn": arn_of(sweep_queues(template)[0]),
        "FunctionName": ref(only(template, "AWS::Lambda::Function")),
        "BatchSize": SWEEP_BATCH_SIZE,
        "MaximumBatchingWindowInSeconds": SWEEP_BATCH_WINDOW.to_seconds(),
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "ScalingConfig": {"MaximumConcurrency": SWEEP_MAX_CONCURRENCY},
    }
    assert 2 <= SWEEP_MAX_CONCURRENCY <= 10  # SQS's minimum is 2; member accounts' API limits want few
    assert 10 <= SWEEP_BATCH_SIZE <= 1000


def test_sweep_dead_letters_alarm_to_the_alert_topic(any_org: Deployment) -> None:
    template = any_org.home
    _, dead = sweep_queues(template)
    [alarm] = [
        a["Properties"]
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dead, "QueueName"]}}]
    ]

    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["AlarmActions"] == [ref(only(template, "AWS::SNS::Topic"))]
    assert alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_hub_role_adds_exactly_the_organization_grants(any_org: Deployment) -> None:
    template = any_org.home
    body = template.to_json()
    settings = any_org.settings
    sweep = arn_of(sweep_queues(template)[0])
    statements = statements_of(body, hub_role(any_org))
    [assume] = [s for s in statements if s.get("Sid") == "AssumeMemberRole"]
    granted = allowed(statements)

    assert canon(assume) == canon(
        {
            "Sid": "AssumeMemberRole",
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": {"Fn::Join": ["", ["arn:", PARTITION, f":iam::*:role/{settings.member_role_name}"]]},
            "Condition": {"StringEquals": {"aws:ResourceOrgID": settings.organization_id}},
        }
    )
    assert {s["Sid"] for s in statements if "Condition" in s} <= {"AssumeMemberRole", "RevertPassLogsRole"}
    assert granted["organizations:ListAccounts"] == ["*"]  # neither takes resource-level permissions
    assert granted["organizations:DescribeOrganization"] == ["*"]
    assert canon(granted["organizations:DescribeAccount"]) == canon(
        [{"Fn::Join": ["", ["arn:", PARTITION, f":organizations::*:account/{settings.organization_id}/*"]]}]
    )
    for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"):  # the mapping's
        assert granted[action] == [sweep]
    assert sweep in granted["sqs:SendMessage"]  # the scheduled sweep enqueues one message per account
    assert not {a for a in granted if a.startswith(("organizations:", "sts:"))} - {
        "organizations:ListAccounts",
        "organizations:DescribeOrganization",
        "organizations:DescribeAccount",
        "sts:AssumeRole",
    }


def test_no_policy_anywhere_allows_a_wildcard_action(any_org: Deployment) -> None:
    """Identity policies, role trusts and the bus policy name every action exactly. Queue, topic and key policies
    may deny with a wildcard (the SSL denies) and keep CDK's account-root key administration statement, but allow
    nothing else as `*` or `service:*` (as in the single-account stacks)."""
    bodies = {name: t.to_json() for name, t in any_org.templates.items()} | {"member": member_body(any_org)}
    exact = {"AWS::IAM::Policy", "AWS::IAM::Role", "AWS::Events::EventBusPolicy"}
    checked = 0
    for name, body in bodies.items():
        for logical_id, statement in all_statements(body):
            resource_type = body["Resources"][logical_id]["Type"]
            actions = as_list(statement.get("Action", []))
            assert "NotAction" not in statement, (name, logical_id)
            checked += 1
            if resource_type in exact:
                assert not [a for a in actions if "*" in a], (name, logical_id, statement)
            elif statement["Effect"] == "Allow" and not (resource_type == "AWS::KMS::Key" and actions == ["kms:*"]):
                assert not [a for a in actions if a == "*" or a.endswith(":*")], (name, logical_id, statement)
    assert checked > 0


# ------------------------------------------------------------------------------------------- the stack set


@pytest.mark.parametrize(
    ("config", "units", "regions", "hub_region"),
    [
        ("deploy_org", ["r-ab12", "ou-ab12-cdefgh34"], ["us-east-1", "eu-west-1"], "us-east-1"),
        ("deploy_org_on", ["ou-ab12-cdefgh34"], [REGION], REGION),
    ],
)
def test_stack_set_is_service_managed_auto_deployed_to_the_units_in_every_watched_region(
    request: pytest.FixtureRequest, config: str, units: list[str], regions: list[Any], hub_region: Any
) -> None:
    deployment: Deployment = request.getfixturevalue(config)
    stack_set_props = {k: v for k, v in stack_set(deployment).items() if k != "TemplateBody"}

    assert stack_set_props == {
        "StackSetName": "Trailguard-members",
        "Description": stack_set_props["Description"],
        "PermissionModel": "SERVICE_MANAGED",
        "CallAs": "DELEGATED_ADMIN",
        "AutoDeployment": {"Enabled": True, "RetainStacksOnAccountRemoval": False},
        "Capabilities": ["CAPABILITY_NAMED_IAM"],
        "ManagedExecution": {"Active": True},
        "OperationPreferences": {
            "FailureTolerancePercentage": stack_set_props["OperationPreferences"]["FailureTolerancePercentage"],
            "MaxConcurrentPercentage": stack_set_props["OperationPreferences"]["MaxConcurrentPercentage"],
            "RegionConcurrencyType": "PARALLEL",
        },
        "Parameters": [
            {"ParameterKey": "HubRoleArn", "ParameterValue": arn_of(hub_role(deployment))},
            {"ParameterKey": "HubRegion", "ParameterValue": hub_region},
        ],
        "StackInstancesGroup": [{"DeploymentTargets": {"OrganizationalUnitIds": units}, "Regions": regions}],
    }
    preferences = stack_set_props["OperationPreferences"]
    assert 0 <= preferences["FailureTolerancePercentage"] < preferences["MaxConcurrentPercentage"] <= 100


def test_stack_set_template_body_fits_inline_and_needs_no_assets_or_bootstrap(any_org: Deployment) -> None:
    body = stack_set(any_org)["TemplateBody"]
    text = json.dumps(json.loads(body))

    assert len(body.encode()) < TEMPLATE_BODY_LIMIT
    assert set(json.loads(body)["Parameters"]) == {"HubRoleArn", "HubRegion"}  # what the stack set passes
    for absent in ("Fn::ImportValue", "AssetParameters", "cdk-hnb659fds", "BootstrapVersion", "AWS::CDK::Metadata",
                   "aws:cdk:path", "aws:asset:", "S3Key", "Fn::GetAZs"):  # fmt: skip
        assert absent not in text, absent
    assert "Rules" not in json.loads(body)


# ------------------------------------------------------------------------------------------ the member template


def test_member_role_trusts_only_the_hub_role_from_inside_the_organization(any_org: Deployment) -> None:
    body = member_body(any_org)
    role = body["Resources"][member_role(body)]["Properties"]

    assert role["RoleName"] == any_org.settings.member_role_name
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"AWS": HUB_ROLE_ARN},
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": any_org.settings.organization_id}},
        }
    ]
    assert "ManagedPolicyArns" not in role and "Policies" not in role


def test_member_role_and_its_policy_exist_only_in_the_hub_region(any_org: Deployment) -> None:
    body = member_body(any_org)
    role = member_role(body)
    [policy] = [k for k, p in resources(body, "AWS::IAM::Policy").items() if p["Properties"]["Roles"] == [ref(role)]]

    assert body["Conditions"]["InHubRegion"] == {"Fn::Equals": [REGION, {"Ref": "HubRegion"}]}
    assert body["Resources"][role]["Condition"] == "InHubRegion"
    assert body["Resources"][policy]["Condition"] == "InHubRegion"


def test_member_role_reads_only_unless_remediation_is_on(deploy_org: Deployment) -> None:
    body = member_body(deploy_org)

    assert deploy_org.settings.remediation_mode == "dry-run"
    assert canon(allowed(statements_of(body, member_role(body)))) == canon(MEMBER_READS)


def test_member_role_may_revert_with_remediation_on(deploy_org_on: Deployment) -> None:
    body = member_body(deploy_org_on)
    granted = allowed(statements_of(body, member_role(body)))
    pass_role = [s for s in statements_of(body, member_role(body)) if s["Action"] == "iam:PassRole"]

    assert set(granted) == set(MEMBER_READS) | REVERT_ACTIONS
    for action in REVERT_ACTIONS - {"iam:PassRole"}:
        assert canon(granted[action]) == canon([TRAILS]), action
    assert canon(granted["cloudtrail:StopLogging"]) == canon(MEMBER_READS["cloudtrail:StopLogging"])
    assert [s["Condition"] for s in pass_role] == [
        {"StringEquals": {"iam:PassedToService": "cloudtrail.amazonaws.com"}}
    ]


def test_heartbeat_is_the_only_cloudtrail_write_without_remediation(deploy_org: Deployment) -> None:
    body = member_body(deploy_org)
    writes = {a: r for a, r in allowed(statements_of(body, member_role(body))).items() if a in CLOUDTRAIL_WRITES}

    assert list(writes) == ["cloudtrail:StopLogging"]
    assert all(HEARTBEAT_PREFIX in json.dumps(r) for r in writes["cloudtrail:StopLogging"])


def test_member_forwards_the_detector_events_to_the_hub_bus_with_a_role_and_a_dead_letter_queue(
    any_org: Deployment,
) -> None:
    body = member_body(any_org)
    rules = list(resources(body, "AWS::Events::Rule"))
    queue = one(body, "AWS::SQS::Queue")
    events_role = one(body, "AWS::IAM::Role", "Forwarding")
    patterns = [body["Resources"][rule]["Properties"]["EventPattern"] for rule in rules]

    assert sorted(patterns, key=canonical) == sorted(
        [EXPECTED_PATTERN, DELIVERY_PATTERN, REMOTE_TAMPER_PATTERN], key=canonical
    )
    for rule in rules:
        targets = body["Resources"][rule]["Properties"]["Targets"]
        assert [{k: v for k, v in t.items() if k != "Id"} for t in targets] == [
            {"Arn": HUB_BUS, "RoleArn": arn_of(events_role), "DeadLetterConfig": {"Arn": arn_of(queue)}}
        ]
    assert body["Resources"][events_role]["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}}
    ]
    assert allowed(statements_of(body, events_role)) == {"events:PutEvents": [HUB_BUS]}
    assert body["Resources"][queue]["Properties"] == {"MessageRetentionPeriod": 14 * 24 * 3600,
                                                      "QueueName": "trailguard-member-unforwarded",
                                                      "SqsManagedSseEnabled": True}  # fmt: skip
    [deny] = [s for _, s in all_statements(body) if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_member_does_not_forward_from_the_hub_bus_to_itself(any_org: Deployment) -> None:
    """In the hub account's home region (the stack set reaches the hub's account when it is in a target OU) the
    detector's own rule sees the calls; a forwarding rule there would send them back to the same bus."""
    body = member_body(any_org)
    forwarding = [k for k in body["Resources"] if k.startswith("Forwarding")]

    assert body["Conditions"]["ForwardsToHub"] == {
        "Fn::Not": [
            {"Fn::And": [{"Fn::Equals": [REGION, {"Ref": "HubRegion"}]}, {"Fn::Equals": [ACCOUNT, HUB_ACCOUNT]}]}
        ]
    }
    assert len(forwarding) == 7  # the three rules, their role and its policy, the dead-letter queue and its policy
    assert {body["Resources"][k]["Condition"] for k in forwarding} == {"ForwardsToHub"}
    assert set(body["Resources"]) - set(forwarding) == {member_role(body)} | {
        k
        for k, p in resources(body, "AWS::IAM::Policy").items()
        if p["Properties"]["Roles"] == [ref(member_role(body))]
    }


def test_member_stack_is_checked_by_cdk_nag_in_its_own_app(monkeypatch: pytest.MonkeyPatch) -> None:
    """The template body is synthesized outside the app that cdk-nag checks: its own app runs the pack too."""
    monkeypatch.setattr(stacks.member, "acknowledge", lambda _scope, _reasons: None)

    with pytest.raises(RuntimeError, match=re.escape("AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudtrail")):
        member_template(settings_from(ORG_ON_CONTEXT), CDK_JSON_CONTEXT)


# ----------------------------------------------------------------------------------- the management account


@pytest.mark.parametrize(
    ("config", "stacks_and_regions"),
    [
        ("deploy_org", {MANAGEMENT_STACK: "us-east-1", f"{MANAGEMENT_STACK}-eu-west-1": "eu-west-1"}),
        ("deploy_org_on", {MANAGEMENT_STACK: None}),
    ],
)
def test_management_account_gets_the_member_stack_in_every_watched_region(
    request: pytest.FixtureRequest, config: str, stacks_and_regions: dict[str, str | None]
) -> None:
    deployment: Deployment = request.getfixturevalue(config)
    member = member_body(deployment)
    hub_region = deployment.settings.home_region

    management = {n: s for n, s in deployment.stacks.items() if n.startswith(MANAGEMENT_STACK)}
    assert {n: (None if s.region.startswith("${") else s.region) for n, s in management.items()} == stacks_and_regions
    for name in stacks_and_regions:
        body = deployment.templates[name].to_json()
        ours = {
            k: (r["Type"], r.get("Condition"))
            for k, r in body["Resources"].items()
            if r["Type"] != "AWS::CDK::Metadata"
        }
        assert ours == {k: (r["Type"], r.get("Condition")) for k, r in member["Resources"].items()}
        assert body["Conditions"]["InHubRegion"] == member["Conditions"]["InHubRegion"]
        assert "Default" not in body["Parameters"]["HubRoleArn"]  # the operator passes the hub's role ARN
        assert body["Parameters"]["HubRegion"].get("Default") == hub_region
        member_role_props = body["Resources"][member_role(body)]["Properties"]
        assert member_role_props == member["Resources"][member_role(member)]["Properties"]


def test_management_stacks_need_no_bootstrap(deploy_org: Deployment) -> None:
    """Legacy synthesis: the CLI deploys them with the caller's own credentials; nothing to bootstrap first in the
    management account."""
    for name, stack in deploy_org.stacks.items():
        if name.startswith(MANAGEMENT_STACK):
            body = deploy_org.templates[name].to_json()
            assert "BootstrapVersion" not in body.get("Parameters", {})
            assert "Rules" not in body
            assert isinstance(stack.synthesizer, LegacyStackSynthesizer)


# ---------------------------------------------------------------------------------------- linters


def test_cfn_lint_passes_on_the_organization_templates_and_the_member_body(
    deploy_org: Deployment, deploy_org_on: Deployment, tmp_path: Path
) -> None:
    """The hub and the management stack of each configuration, and each member body (read-only, and with the
    revert grants). The forwarders and the other regions' management stacks are the same shapes again."""
    files = []
    for deployment in (deploy_org, deploy_org_on):
        bodies = {name: deployment.templates[name].to_json() for name in (HOME_STACK, MANAGEMENT_STACK)}
        bodies[f"{HOME_STACK}-member"] = member_body(deployment)
        for name, body in bodies.items():
            path = tmp_path / f"{deployment.settings.remediation_mode}-{name}.json"
            path.write_text(json.dumps(body), encoding="utf-8")
            files.append(str(path))
    done = cfn_lint(files)

    assert done.returncode == 0, done.stdout + done.stderr


def test_every_cdk_nag_acknowledgment_has_a_written_reason(any_org: Deployment) -> None:
    reasons = [
        (rule, str(reason))
        for construct in any_org.app.node.find_all()
        for entry in construct.node.metadata
        if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY
        for rule, reason in dict(entry.data).items()
    ]

    assert any("iam::*:role/" in rule for rule, _ in reasons)
    for rule, reason in reasons:
        assert len(reason.split()) >= 5 and reason.strip().endswith("."), (rule, reason)


def test_every_organization_acknowledgment_is_still_needed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without the hub's organization acknowledgments, cdk-nag reports exactly the findings they accept."""
    monkeypatch.setattr(stacks.organization, "acknowledge", lambda _scope, _reasons: None)
    _, built = build_app(settings_from(ORG_ON_CONTEXT), tmp_path)

    with pytest.raises(RuntimeError, match="AwsSolutions") as raised:
        Template.from_stack(built[0])

    reported = {rule.split("::", 1)[1] for rule in re.findall(r"Acknowledge with '([^']+)'", str(raised.value))}
    assert reported == {
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::*:role/trailguard-reader]",
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:organizations::*:account/o-0123456789abcdef/*]",
    }
