"""Slack buttons in the stacks (-c slackInteractivity=true): the interaction function behind its Function URL, its
environment, its role's exact grants in each remediation mode and in organization mode, the drift handler's
SLACK_BUTTONS, the parts the handler watches, and the member role's trust; and nothing of it without the key.
Every template here passed cdk-nag (conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Validations
from aws_cdk.assertions import Template

from stacks import HOME_STACK, MANAGEMENT_STACK
from stacks.detector import EXEMPTIONS_FILE, INTERACTION_CONCURRENCY, SHARED_ENVIRONMENT
from tests.stacks.conftest import Deployment, cfn_lint
from tests.stacks.test_detector_stack import (
    ACCOUNT,
    ANY_KEY,
    ANY_KEY_FINDING,
    CLOUDTRAIL_WRITES,
    PARTITION,
    PASS_ROLE_FINDING,
    REVERT_ACTIONS,
    TRAILS,
    arn_of,
    as_list,
    canon,
    props,
    ref,
)
from tests.stacks.test_organization import member_body, member_role
from tests.stacks.test_self_protection import ACCOUNT as ACCOUNT_ID
from tests.stacks.test_self_protection import Resolved, call, owned
from trailguard.tamper import Parts

CONFIGS = ("deploy_interactive", "deploy_interactive_on", "deploy_interactive_org")
REGION = {"Ref": "AWS::Region"}
MEMBER_ROLE_FINDING = "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::*:role/trailguard-member]"
# What the interaction role holds in every mode: read the trail an alert names (not ListStacks: it judges no call
# on the detector's parts), the state table, the alert topic and its key, its own logs and the signing secret.
BASE_SIDS = {"ListTrailsAndRegions", "ReadTrails", "RuleReadsKms", "State", "Alert", "AlertKey", "Logs",
             "SlackSigningSecret"}  # fmt: skip


@pytest.fixture(params=CONFIGS)
def any_interactive(request: pytest.FixtureRequest) -> Deployment:
    deployment: Deployment = request.getfixturevalue(request.param)
    return deployment


# ---------------------------------------------------------------------------------------------- helpers


def function_by_handler(template: Template, handler: str) -> str:
    [found] = [k for k, r in template.find_resources("AWS::Lambda::Function").items()
               if r["Properties"]["Handler"] == handler]  # fmt: skip
    return found


def interaction(template: Template) -> str:
    return function_by_handler(template, "interaction_handler.handler")


def drift(template: Template) -> str:
    return function_by_handler(template, "drift_handler.handler")


def variables(template: Template, function: str) -> dict[str, Any]:
    found: dict[str, Any] = props(template, function)["Environment"]["Variables"]
    return found


def role_of(template: Template, function: str) -> str:
    role: str = props(template, function)["Role"]["Fn::GetAtt"][0]
    return role


def log_group_of(template: Template, function: str) -> str:
    log_group: str = props(template, function)["LoggingConfig"]["LogGroup"]["Ref"]
    return log_group


def the(template: Template, resource_type: str) -> str:
    [found] = template.find_resources(resource_type)
    return found


def statements(template: Template, role: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if ref(role) in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def grants(found: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Action -> resources. Only Allow, no NotAction/NotResource, and a condition only where it narrows
    iam:PassRole to CloudTrail or the member role to the organization."""
    granted: dict[str, list[Any]] = {}
    for statement in found:
        assert statement["Effect"] == "Allow" and not {"NotAction", "NotResource"} & statement.keys(), statement
        assert "Condition" not in statement or statement["Sid"] in ("RevertPassLogsRole", "AssumeMemberRole")
        for action in as_list(statement["Action"]):
            granted.setdefault(action, []).extend(as_list(statement["Resource"]))
    return granted


def joined(*parts: Any) -> dict[str, Any]:
    return {"Fn::Join": ["", list(parts)]}


def signing_secret(name: str, region: Any = REGION) -> dict[str, Any]:
    """``from_secret_name_v2``'s partial ARN of the signing secret."""
    where = [":secretsmanager:", region, ":"] if isinstance(region, dict) else [f":secretsmanager:{region}:"]
    return joined("arn:", PARTITION, *where, ACCOUNT, f":secret:{name}")


def region_of(deployment: Deployment) -> Any:
    return deployment.settings.home_region or REGION


def acknowledged(scope: Any) -> dict[str, list[str]]:
    """Acknowledged cdk-nag rule ids (without CDK's kind prefix) -> reasons, on ``scope`` and its children."""
    found: dict[str, list[str]] = {}
    for construct in scope.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                for rule, reason in dict(entry.data).items():
                    found.setdefault(str(rule).split("::", 1)[1], []).append(str(reason))
    return found


# ------------------------------------------------------------------------------------- without the key


def test_no_interaction_function_url_or_buttons_without_slack_interactivity(deploy_default: Deployment) -> None:
    template = deploy_default.home

    assert [r["Properties"]["Handler"] for r in template.find_resources("AWS::Lambda::Function").values()] == [
        "drift_handler.handler"
    ]
    assert template.find_resources("AWS::Lambda::Url") == {}
    assert "InteractionUrl" not in template.to_json()["Outputs"]
    assert "SLACK_BUTTONS" not in variables(template, drift(template))
    assert "trailguard-interaction" not in json.dumps(template.to_json())
    assert deploy_default.home_stack.interaction is None  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------------------- the function


def test_drift_handler_puts_buttons_on_its_slack_alerts(any_interactive: Deployment) -> None:
    assert variables(any_interactive.home, drift(any_interactive.home))["SLACK_BUTTONS"] == "on"


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            "deploy_interactive",
            {
                "REMEDIATION_MODE": "off",
                "ALLOWED_EXCLUDED_SOURCES": "kms.amazonaws.com",
                "SLACK_SIGNING_SECRET_ARN": signing_secret("trailguard/slack-signing"),
                "SLACK_ALLOWED_USERS": "U024BE7LH,W0A1B2C3D",
            },
        ),
        (
            "deploy_interactive_on",
            {
                "REMEDIATION_MODE": "on",
                "ALLOWED_EXCLUDED_SOURCES": "",
                "EXEMPTIONS_FILE": EXEMPTIONS_FILE,
                "SLACK_SIGNING_SECRET_ARN": signing_secret("ops/slack-signing"),
                "SLACK_ALLOWED_USERS": "U024BE7LH",
            },
        ),
        (
            "deploy_interactive_org",
            {
                "REMEDIATION_MODE": "dry-run",
                "ALLOWED_EXCLUDED_SOURCES": "",
                "SLACK_SIGNING_SECRET_ARN": signing_secret("trailguard/slack-signing", "us-east-1"),
                "SLACK_ALLOWED_USERS": "U024BE7LH",
                "MEMBER_ROLE_NAME": "trailguard-member",
                "ORGANIZATION_ID": "o-abcdefghij",
            },
        ),
    ],
)
def test_interaction_environment_is_exactly_the_contracts(
    request: pytest.FixtureRequest, config: str, expected: dict[str, Any]
) -> None:
    deployment: Deployment = request.getfixturevalue(config)
    template = deployment.home
    table, topic = the(template, "AWS::DynamoDB::GlobalTable"), the(template, "AWS::SNS::Topic")
    handler = variables(template, drift(template))

    found = variables(template, interaction(template))

    assert canon(found) == canon({"STATE_TABLE": ref(table), "ALERT_TOPIC_ARN": ref(topic), **expected})
    # what both functions are told, they are told alike
    for name in (*SHARED_ENVIRONMENT, "MEMBER_ROLE_NAME", "ORGANIZATION_ID"):
        assert found.get(name) == handler.get(name), name


def test_interaction_function_runs_the_drift_handlers_code_and_runtime_in_a_small_synchronous_budget(
    any_interactive: Deployment,
) -> None:
    template = any_interactive.home
    function, handler = props(template, interaction(template)), props(template, drift(template))

    assert function["Code"] == handler["Code"]  # one asset, the same exemptions shipped
    assert (function["Runtime"], function["Architectures"]) == (handler["Runtime"], handler["Architectures"])
    assert (function["Timeout"], function["MemorySize"]) == (60, 256)
    assert "DeadLetterConfig" not in function and "VpcConfig" not in function
    # invoked by its URL only: no retries to configure, no rule or queue that invokes it
    invoke_configs = template.find_resources("AWS::Lambda::EventInvokeConfig").values()
    assert [c["Properties"]["FunctionName"] for c in invoke_configs] == [ref(drift(template))]
    rule_targets = json.dumps(template.find_resources("AWS::Events::Rule"))
    assert interaction(template) not in rule_targets
    mappings = template.find_resources("AWS::Lambda::EventSourceMapping").values()
    assert all(interaction(template) not in json.dumps(m) for m in mappings)


@pytest.mark.parametrize(
    ("config", "reserved"),
    [("deploy_interactive", INTERACTION_CONCURRENCY), ("deploy_interactive_org", 5), ("deploy_interactive_on", None)],
)
def test_interaction_concurrency_is_reserved_unless_the_deployment_reserves_none(
    request: pytest.FixtureRequest, config: str, reserved: int | None
) -> None:
    deployment: Deployment = request.getfixturevalue(config)
    function = deployment.home.to_json()["Resources"][interaction(deployment.home)]
    skips = {s["id"] for s in function["Metadata"]["checkov"]["skip"]}

    assert function["Properties"].get("ReservedConcurrentExecutions") == reserved
    assert ("CKV_AWS_115" in skips) == (reserved is None)
    assert skips - {"CKV_AWS_115"} == {"CKV_AWS_116", "CKV_AWS_117", "CKV_AWS_173"}


def test_interaction_logs_have_their_own_encrypted_log_group_kept_a_year(any_interactive: Deployment) -> None:
    template = any_interactive.home
    logs = log_group_of(template, interaction(template))
    resource = template.to_json()["Resources"][logs]

    assert logs != log_group_of(template, drift(template))
    assert resource["Properties"] == {"KmsKeyId": arn_of(the(template, "AWS::KMS::Key")), "RetentionInDays": 365}
    assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain"


# ------------------------------------------------------------------------------------------ the URL


def test_function_url_takes_no_iam_auth_and_only_invokes_the_interaction_function(
    any_interactive: Deployment,
) -> None:
    template = any_interactive.home
    function = arn_of(interaction(template))
    url = the(template, "AWS::Lambda::Url")
    permissions = [
        p["Properties"]
        for p in template.find_resources("AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == function
    ]

    assert props(template, url) == {"AuthType": "NONE", "TargetFunctionArn": function}  # no CORS: Slack posts
    assert sorted(permissions, key=lambda p: str(p["Action"])) == [
        {"Action": "lambda:InvokeFunction", "FunctionName": function, "InvokedViaFunctionUrl": True, "Principal": "*"},
        {"Action": "lambda:InvokeFunctionUrl", "FunctionName": function, "FunctionUrlAuthType": "NONE",
         "Principal": "*"},
    ]  # fmt: skip
    [skip] = template.to_json()["Resources"][url]["Metadata"]["checkov"]["skip"]
    assert skip["id"] == "CKV_AWS_258" and "signature" in skip["comment"]


def test_interaction_url_is_an_output_for_the_slack_apps_request_url(any_interactive: Deployment) -> None:
    outputs = any_interactive.home.to_json()["Outputs"]

    assert outputs["InteractionUrl"]["Value"] == {"Fn::GetAtt": [the(any_interactive.home, "AWS::Lambda::Url"),
                                                                 "FunctionUrl"]}  # fmt: skip


# ------------------------------------------------------------------------------------------------ IAM


def expected_grants(deployment: Deployment) -> dict[str, list[Any]]:
    template = deployment.home
    table, topic, key = (
        the(template, "AWS::DynamoDB::GlobalTable"),
        the(template, "AWS::SNS::Topic"),
        the(template, "AWS::KMS::Key"),
    )
    logs = arn_of(log_group_of(template, interaction(template)))
    settings = deployment.settings
    secret = signing_secret(settings.slack_signing_secret_name, region_of(deployment))["Fn::Join"][1]
    reads = ("cloudtrail:GetEventSelectors", "cloudtrail:GetInsightSelectors", "cloudtrail:GetTrailStatus",
             "cloudtrail:ListTags")  # fmt: skip
    expected: dict[str, list[Any]] = {
        "cloudtrail:DescribeTrails": ["*"],
        "ec2:DescribeRegions": ["*"],
        **{action: [TRAILS] for action in reads},
        "kms:DescribeKey": [ANY_KEY],
        **{action: [arn_of(table)] for action in ("dynamodb:BatchGetItem", "dynamodb:BatchWriteItem",
                                                  "dynamodb:UpdateItem")},
        "sns:Publish": [ref(topic)],
        "kms:Decrypt": [arn_of(key)],
        "kms:GenerateDataKey": [arn_of(key)],
        "logs:CreateLogStream": [logs],
        "logs:PutLogEvents": [logs],
        # the named secret only: the partial ARN plus Secrets Manager's six random characters
        "secretsmanager:GetSecretValue": [joined(*secret[:-1], secret[-1] + "-??????")],
    }  # fmt: skip
    if settings.remediation_mode == "on":
        expected |= {action: [TRAILS] for action in REVERT_ACTIONS - {"iam:PassRole"}}
        expected["iam:PassRole"] = [joined("arn:", PARTITION, ":iam::", ACCOUNT, ":role/*")]
    if settings.organization:
        expected["sts:AssumeRole"] = [joined("arn:", PARTITION, f":iam::*:role/{settings.member_role_name}")]
    return expected


def test_interaction_role_is_granted_exactly_what_its_mode_needs(any_interactive: Deployment) -> None:
    template = any_interactive.home
    found = statements(template, role_of(template, interaction(template)))
    settings = any_interactive.settings
    sids = BASE_SIDS | ({"Revert", "RevertPassLogsRole"} if settings.remediation_mode == "on" else set())

    assert {s["Sid"] for s in found} == sids | ({"AssumeMemberRole"} if settings.organization else set())
    assert canon(grants(found)) == canon(expected_grants(any_interactive))


def test_interaction_role_holds_no_write_on_trails_unless_remediation_is_on(any_interactive: Deployment) -> None:
    template = any_interactive.home
    granted = set(grants(statements(template, role_of(template, interaction(template)))))

    assert not [a for a in granted if "*" in a]
    assert not granted & {"cloudformation:ListStacks", "securityhub:BatchImportFindings", "sqs:SendMessage"}
    assert not {a for a in granted if a.startswith("organizations:")}
    if any_interactive.settings.remediation_mode == "on":
        assert granted & CLOUDTRAIL_WRITES == REVERT_ACTIONS  # iam:PassRole to CloudTrail only
    else:
        assert not granted & CLOUDTRAIL_WRITES
        assert not granted & REVERT_ACTIONS


def test_interaction_role_has_its_fixed_name_and_trusts_lambda_alone(any_interactive: Deployment) -> None:
    template = any_interactive.home
    role = props(template, role_of(template, interaction(template)))

    region = any_interactive.settings.home_region
    # by name where the stack's region is known, as the member roles' trust names it
    assert role["RoleName"] == (
        f"trailguard-interaction-{region}" if region else joined("trailguard-interaction-", REGION)
    )
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}
    ]
    assert "ManagedPolicyArns" not in role and "Policies" not in role


def test_interaction_role_is_acknowledged_only_what_its_grants_need(any_interactive: Deployment) -> None:
    """cdk-nag found nothing unacknowledged (the fixture's synth raises on a finding); on the interaction role it
    was told only about its wildcard resources, each with a reason, and nothing on the function or its URL."""
    stack = any_interactive.home_stack
    settings = any_interactive.settings
    on_role = acknowledged(stack.interaction_role)  # type: ignore[attr-defined]
    expected = {
        "AwsSolutions-IAM5[Resource::*]",
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudtrail:*:<AWS::AccountId>:trail/*]",
        ANY_KEY_FINDING,
    }
    expected |= {PASS_ROLE_FINDING} if settings.remediation_mode == "on" else set()
    expected |= {MEMBER_ROLE_FINDING} if settings.organization else set()

    assert set(on_role) == expected
    assert on_role["AwsSolutions-IAM5[Resource::*]"] == [
        "cloudtrail:DescribeTrails and ec2:DescribeRegions take no resource-level permissions."
    ]
    for rule, reasons in on_role.items():
        assert all(len(r.split()) >= 5 and r.strip().endswith(".") for r in reasons), rule
    assert acknowledged(stack.interaction) == {}  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------------- parts


def test_a_call_on_the_interaction_function_its_role_logs_or_signing_secret_is_a_call_on_a_part(
    any_interactive: Deployment,
) -> None:
    template = any_interactive.home
    region = any_interactive.settings.home_region or "us-east-1"
    body = template.to_json()
    resolved = Resolved(body, region)
    function, role = interaction(template), role_of(template, interaction(template))
    role_name = resolved.value(props(template, role)["RoleName"])
    resolved.refs[role], resolved.arns[role] = role_name, f"arn:aws:iam::{ACCOUNT_ID}:role/{role_name}"
    parts = Parts.parse(resolved.value(variables(template, drift(template))["DETECTOR_RESOURCES"]))
    name, arn = resolved.refs[function], resolved.arns[function]
    secret = any_interactive.settings.slack_signing_secret_name

    hits = [
        call("lambda", "DeleteFunction20150331", {"functionName": name}, region=region),
        call("lambda", "UpdateFunctionConfiguration20150331v2", {"functionName": arn}, region=region),
        call("lambda", "PutFunctionConcurrency20171031", {"functionName": name}, region=region),
        call("lambda", "RemovePermission20150331v2", {"functionName": name, "statementId": "x"}, region=region),
        call("iam", "PutRolePolicy", {"roleName": role_name}, region="us-east-1"),
        call("logs", "DeleteLogGroup", {"logGroupName": resolved.refs[log_group_of(template, function)]},
             region=region),
        call("secretsmanager", "PutSecretValue", {"secretId": secret}, region=region),
        call("secretsmanager", "DeleteSecret",
             {"secretId": f"arn:aws:secretsmanager:{region}:{ACCOUNT_ID}:secret:{secret}-AbC123"}, region=region),
    ]  # fmt: skip

    assert role_name == f"trailguard-interaction-{region}"
    assert [h.event_name for h in hits if not owned(h, parts)] == []
    # still not the drift handler itself (it adds its own ARN)
    assert not parts.owned(resolved.arns[drift(template)])


# -------------------------------------------------------------------------------------- organization


def test_organization_mode_lets_the_interaction_function_assume_the_member_role_as_the_handler_does(
    deploy_interactive_org: Deployment,
) -> None:
    template = deploy_interactive_org.home
    handler = statements(template, role_of(template, drift(template)))
    mine = statements(template, role_of(template, interaction(template)))

    [assume] = [s for s in mine if s["Sid"] == "AssumeMemberRole"]
    assert [s for s in handler if s.get("Sid") == "AssumeMemberRole"] == [assume]
    assert assume["Condition"] == {"StringEquals": {"aws:ResourceOrgID": "o-abcdefghij"}}


def test_member_roles_trust_the_interaction_role_by_name_once_it_exists(deploy_interactive_org: Deployment) -> None:
    template = deploy_interactive_org.home
    interaction_role = role_of(template, interaction(template))
    [stack_set] = template.find_resources("AWS::CloudFormation::StackSet").values()
    hub_account = {"Fn::Select": [4, {"Fn::Split": [":", {"Ref": "HubRoleArn"}]}]}
    by_name = joined("arn:", PARTITION, ":iam::", hub_account, ":role/trailguard-interaction-", {"Ref": "HubRegion"})
    expected = [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"AWS": [by_name, {"Ref": "HubRoleArn"}]},
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}},
        }
    ]
    management = deploy_interactive_org.templates["Trailguard-Management"].to_json()

    for body in (member_body(deploy_interactive_org), management):
        assert body["Resources"][member_role(body)]["Properties"]["AssumeRolePolicyDocument"]["Statement"] == expected
    # IAM accepts a role ARN as a principal only once the role exists: the stack set waits for it
    assert interaction_role in stack_set["DependsOn"]


# ------------------------------------------------------------------------------------------------ linters


def test_cfn_lint_passes_on_the_templates_with_slack_buttons(
    deploy_interactive: Deployment,
    deploy_interactive_on: Deployment,
    deploy_interactive_org: Deployment,
    tmp_path: Path,
) -> None:
    """Each configuration's home stack (the function URL and its permissions), and organization mode's management
    stack and member body (the member role's second principal)."""
    bodies = {f"{d.settings.remediation_mode}-{HOME_STACK}": d.home.to_json()
              for d in (deploy_interactive, deploy_interactive_on, deploy_interactive_org)}  # fmt: skip
    bodies[MANAGEMENT_STACK] = deploy_interactive_org.templates[MANAGEMENT_STACK].to_json()
    bodies[f"{HOME_STACK}-member"] = member_body(deploy_interactive_org)
    files = []
    for name, body in bodies.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(body), encoding="utf-8")
        files.append(str(path))
    done = cfn_lint(files)

    assert done.returncode == 0, done.stdout + done.stderr
