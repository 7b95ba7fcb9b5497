"""Organization mode, the accounts' side: what every account the detector serves gets, in every watched region.

The hub deploys it to the member accounts as a service-managed stack set (``stacks/organization.py``), whose
template body is this stack synthesized on its own (``member_template``). A service-managed stack set never
reaches the management account, so the app also holds the same stack for it, ``Trailguard-Management`` (home
region) and ``Trailguard-Management-<region>`` (each other watched region), which the operator deploys there
with the hub's role ARN as a parameter.

Each region gets the rule that forwards the watched CloudTrail calls to the hub's default bus; the home region
also gets the role the hub's Lambda assumes to read (and, with remediationMode=on, revert) the account's
trails. IAM is global, so the role exists once, in the hub's region (a CloudFormation condition), under the
name the hub looks for: ``memberRoleName``. With ``slackInteractivity`` the role also trusts the hub's
interaction function, whose role has a fixed name in the hub account (``trailguard-interaction-<hub region>``), so
that the stack needs no second ARN.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from typing import Any

from aws_cdk import (
    App,
    Aws,
    BootstraplessSynthesizer,
    CfnCondition,
    CfnParameter,
    CfnResource,
    Fn,
    Stack,
    Validations,
)
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from .detector import (
    INTERACTION_ROLE,
    MEMBER_RULES,
    acknowledge,
    forward_rules,
    revert_statements,
    security_hub_statement,
    trail_read_statements,
)
from .settings import DeploySettings

HEARTBEAT_PREFIX = "trailguard-heartbeat-"  # the trail the heartbeat's StopLogging names, which never exists
_ROLE_ARN_PATTERN = r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+"
_REGION_PATTERN = r"[a-z]{2}(-[a-z]+)+-\d"


class MemberStack(Stack):
    """Parameters: ``HubRoleArn`` (the hub Lambda's role; its account is the hub account) and ``HubRegion``
    (where the hub's bus and Lambda are), defaulting to ``hub_region`` when that is known at synth."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: DeploySettings,
        hub_region: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        hub_role_arn = CfnParameter(
            self,
            "HubRoleArn",
            allowed_pattern=_ROLE_ARN_PATTERN,
            description="The ARN of trailguard's Lambda role in the hub account (the Trailguard stack's "
            "HandlerRoleArn output)",
        ).value_as_string
        hub_region_name = CfnParameter(
            self,
            "HubRegion",
            allowed_pattern=_REGION_PATTERN,
            default=hub_region,
            description="The region of trailguard's hub (its detector and event bus)",
        ).value_as_string
        hub_account = Fn.select(4, Fn.split(":", hub_role_arn))
        here_is_hub_region = Fn.condition_equals(Aws.REGION, hub_region_name)
        in_hub_region = CfnCondition(self, "InHubRegion", expression=here_is_hub_region)
        # In the hub account's own home region the detector's rule already sees the calls: a rule there that
        # forwarded them to the same bus would only loop.
        forwards = CfnCondition(
            self,
            "ForwardsToHub",
            expression=Fn.condition_not(
                Fn.condition_and(here_is_hub_region, Fn.condition_equals(Aws.ACCOUNT_ID, hub_account))
            ),
        )
        forwarding = Construct(self, "Forwarding")
        self._forward(forwarding, hub_region_name, hub_account)
        _only_if(forwards, forwarding)
        _only_if(in_hub_region, self._member_role(settings, hub_role_arn, hub_region_name))

    @staticmethod
    def _forward(scope: Construct, hub_region: str, hub_account: str) -> None:
        """The detector's rule, sending to the hub's default bus. A target bus in another account needs a role
        (one role for both rules, allowed events:PutEvents on that bus only); the hub's bus policy
        admits the organization's accounts."""
        hub_bus = events.EventBus.from_event_bus_arn(
            scope, "HubBus", f"arn:{Aws.PARTITION}:events:{hub_region}:{hub_account}:event-bus/default"
        )
        forward_rules(scope, hub_bus, role_id="EventsRole", to="trailguard's hub", names=MEMBER_RULES)

    def _member_role(self, settings: DeploySettings, hub_role_arn: str, hub_region: str) -> iam.Role:
        """The role the hub's Lambda (and with slackInteractivity its interaction function) reads this account
        through: its trails, read-only, plus the heartbeat's failing StopLogging; the revert actions only with
        remediationMode=on."""
        in_organization = {"StringEquals": {"aws:PrincipalOrgID": settings.organization_id}}
        role = iam.Role(
            self,
            "MemberRole",
            role_name=settings.member_role_name,
            description="trailguard's hub reads this account's trails through this role",
            assumed_by=iam.ArnPrincipal(hub_role_arn).with_conditions(in_organization),
        )
        if settings.slack_interactivity:
            hub_account = Fn.select(4, Fn.split(":", hub_role_arn))
            interaction = f"arn:{Aws.PARTITION}:iam::{hub_account}:role/{INTERACTION_ROLE}-{hub_region}"
            role.assume_role_policy.add_statements(  # type: ignore[union-attr]  # a Role always has one
                iam.PolicyStatement(
                    actions=["sts:AssumeRole"], principals=[iam.ArnPrincipal(interaction)], conditions=in_organization
                )
            )
        statements = [
            *trail_read_statements(role),
            iam.PolicyStatement(
                sid="Heartbeat",
                actions=["cloudtrail:StopLogging"],
                resources=[f"arn:{Aws.PARTITION}:cloudtrail:*:{Aws.ACCOUNT_ID}:trail/{HEARTBEAT_PREFIX}*"],
            ),
        ]
        acknowledge(role, {
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudtrail:*:<AWS::AccountId>:trail/"
            f"{HEARTBEAT_PREFIX}*]": (
                "The heartbeat stops a trail that never exists, a fresh name each time, to prove that events from "
                "this region still reach the hub; no real trail is named like it."
            ),
        })  # fmt: skip
        if settings.remediation_mode == "on":
            statements += revert_statements(role)
        if settings.security_hub:  # the hub imports this account's findings through this role
            statements.append(security_hub_statement(hub_region))
        for statement in statements:
            role.add_to_principal_policy(statement)
        return role


def _only_if(condition: CfnCondition, scope: Construct) -> None:
    """Every resource under ``scope`` exists only where ``condition`` holds."""
    for construct in scope.node.find_all():
        if isinstance(construct, CfnResource):
            construct.cfn_options.condition = condition


def member_template(settings: DeploySettings, feature_flags: Mapping[str, Any]) -> dict[str, Any]:
    """The member stack as a template of its own: synthesized in a separate app with no bootstrap rule, no
    assets, no CDK metadata, and checked by cdk-nag like the app's stacks. ``feature_flags`` are the app's."""
    with tempfile.TemporaryDirectory(prefix="trailguard-member-") as outdir:
        app = App(
            outdir=outdir,
            context=dict(feature_flags),
            # After the CLI's context (which the App also reads from its environment): no path metadata, no
            # version reporting resource, so that the body holds only what the accounts deploy.
            post_cli_context={"aws:cdk:enable-path-metadata": False, "aws:cdk:version-reporting": False},
            analytics_reporting=False,
            tree_metadata=False,
            auto_synth=False,
        )
        stack = MemberStack(
            app,
            "TrailguardMember",
            settings=settings,
            synthesizer=BootstraplessSynthesizer(),
            description="trailguard member: forwards CloudTrail changes to the hub and lets it read the trails",
        )
        Validations.of(app).add_plugins(AwsSolutionsChecks(app))
        template: dict[str, Any] = json.loads(json.dumps(app.synth().get_stack_artifact(stack.artifact_id).template))
        return template  # plain data, free of the temporary directory
