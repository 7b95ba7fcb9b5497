"""Organization mode, the hub's side (``-c organization=true``): what the detector stack adds in the delegated
administrator account.

- The home region's default bus admits events from the organization's accounts (``aws:PrincipalOrgID``).
- The Lambda may assume ``memberRoleName`` in the organization's accounts only (``aws:ResourceOrgID``) and list
  the organization's accounts; with ``slackInteractivity``, the interaction function may assume it too, so that a
  button acts on the account the alert is about.
- The sweep queue: the scheduled sweep puts one message per account on it, and the same Lambda sweeps them a
  few at a time.
- A service-managed stack set deploys the member stack (``stacks/member.py``) to every account of the chosen
  roots or OUs, and to new accounts as they join, in every watched region.

Why ``CfnStackSet`` with an inline template body rather than the ``cdk-stacksets`` construct: that construct
is experimental and stores the member template as a file asset, so every target region needs an asset bucket
(a bootstrap of its own) that a stack set instance can read. The member stack has no assets, so its template
goes inline: nothing to upload or bootstrap, one resource, and the body stays far below the 51,200 bytes
CloudFormation allows for ``TemplateBody`` (a test pins the size).
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Aws, CfnOutput, Duration, Stack
from aws_cdk import aws_cloudformation as cloudformation
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from trailguard.config import TIMEOUT_SECONDS

from .detector import (
    MEMBER_RULES,
    SQS_MANAGED_SSE,
    DetectorStack,
    acknowledge,
    alarm,
    checkov_skip,
    dead_letter_queue,
    rule_arns,
)
from .member import member_template
from .settings import DeploySettings

# The sweep queue holds one message per account. Each message makes the Lambda assume the member role and read
# every watched region of that account; each member account's calls are its own (CloudTrail and STS limits are
# per account), and a few concurrent invocations keep the hub's STS calls and Lambda concurrency modest while a
# sweep of a thousand accounts still finishes within minutes.
# Accounts per invocation: the handler sweeps a batch's accounts concurrently (32 at a time) and sends their
# changes as one grouped alert, so a larger batch means fewer messages when many accounts drift at once (1,000
# accounts: about ten). With partial-batch answers only the accounts that failed come back.
SWEEP_BATCH_SIZE = 100
SWEEP_BATCH_WINDOW = Duration.seconds(10)  # wait for a full batch: the sweep enqueues every account at once
SWEEP_MAX_CONCURRENCY = 5  # SQS ScalingConfig.MaximumConcurrency (2 at least): invocations at once
SWEEP_MAX_RECEIVES = 3  # an account that fails three times waits in the sweep's dead-letter queue
# Lambda's advice for an SQS source: a visibility timeout of at least six times the function's timeout (plus
# the batching window), so a message being worked on, or retried by Lambda, is not handed out twice.
SWEEP_VISIBILITY = Duration.seconds(6 * TIMEOUT_SECONDS + int(SWEEP_BATCH_WINDOW.to_seconds()))

# CallAs DELEGATED_ADMIN: the hub runs in the account registered as CloudFormation StackSets' delegated
# administrator (the design's security account). Deploying the hub in the management account itself would
# need SELF; trailguard does not do that, since a stack set never reaches the management account anyway.
CALL_AS = "DELEGATED_ADMIN"
# How the stack set rolls out: every region of an account at once, a quarter of the accounts at a time, and
# one account in ten may fail (a strict SCP, a suspended account) without stopping the rest.
OPERATION_PREFERENCES = cloudformation.CfnStackSet.OperationPreferencesProperty(
    failure_tolerance_percentage=10,
    max_concurrent_percentage=25,
    region_concurrency_type="PARALLEL",
)
BUS_POLICY_SID = "TrailguardOrganizationPutEvents"


def assume_member_role_statement(settings: DeploySettings) -> iam.PolicyStatement:
    """The member role, in the organization's accounts only: for the drift handler and the interaction function."""
    return iam.PolicyStatement(
        sid="AssumeMemberRole",
        actions=["sts:AssumeRole"],
        resources=[f"arn:{Aws.PARTITION}:iam::*:role/{settings.member_role_name}"],
        conditions={"StringEquals": {"aws:ResourceOrgID": settings.organization_id}},
    )


class OrganizationHub(Construct):
    """The organization pieces of the detector stack, wired to its Lambda, role and alert topic."""

    def __init__(self, detector: DetectorStack, construct_id: str, *, settings: DeploySettings) -> None:
        super().__init__(detector, construct_id)
        handler, role = detector.handler, detector.role
        dead_letters = dead_letter_queue(self, "SweepDeadLetters")
        sweep = sqs.Queue(
            self,
            "Sweep",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=SWEEP_VISIBILITY,
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=SWEEP_MAX_RECEIVES, queue=dead_letters),
        )
        checkov_skip(sweep, {"CKV_AWS_27": SQS_MANAGED_SSE})
        handler.add_event_source(
            event_sources.SqsEventSource(
                sweep,
                batch_size=SWEEP_BATCH_SIZE,
                max_batching_window=SWEEP_BATCH_WINDOW,
                max_concurrency=SWEEP_MAX_CONCURRENCY,
                report_batch_item_failures=True,
            )
        )
        member_accounts = {"MEMBER_ROLE_NAME": settings.member_role_name, "ORGANIZATION_ID": settings.organization_id}
        for name, value in {**member_accounts, "SWEEP_QUEUE_URL": sweep.queue_url}.items():
            handler.add_environment(name, value)
        for statement in self._statements(settings, sweep):
            role.add_to_policy(statement)
        assume_member_role = {
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::*:role/{settings.member_role_name}]": (
                "The Lambda assumes the member role in whichever account of its organization it reads, and only "
                "there (aws:ResourceOrgID); new accounts join without a redeploy."
            ),
        }
        if detector.interaction is not None and detector.interaction_role is not None:
            for name, value in member_accounts.items():
                detector.interaction.add_environment(name, value)
            detector.interaction_role.add_to_policy(assume_member_role_statement(settings))
            acknowledge(detector.interaction_role, assume_member_role)
        acknowledge(role, {
            **assume_member_role,
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:organizations::*:account/"
            f"{settings.organization_id}/*]": (
                "The Lambda describes any account of its own organization; an account's ARN also names the "
                "management account, which the stack is not told."
            ),
            "AwsSolutions-IAM5[Resource::*]": (
                "organizations:ListAccounts and organizations:DescribeOrganization take no resource-level "
                "permissions."
            ),
        })  # fmt: skip
        alarm(
            self,
            "SweepDeadLettersAlarm",
            f"accounts trailguard's sweep failed {SWEEP_MAX_RECEIVES} times are waiting in its dead-letter queue",
            dead_letters.metric_approximate_number_of_messages_visible(period=Duration.minutes(5)),
            detector.alert_topic,
        )
        self._bus_policy(settings)
        stack_set = self._stack_set(settings, role, settings.home_region or Aws.REGION)
        if detector.interaction_role is not None:  # the member roles trust it by name: IAM wants it to exist first
            stack_set.node.add_dependency(detector.interaction_role)
        detector.add_parts(
            [  # what organization mode adds to the detector's parts
                *rule_arns(MEMBER_RULES),  # in every account of the organization (others are ignored first)
                f"arn:{Aws.PARTITION}:iam::*:role/{settings.member_role_name}",
                f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:event-bus/default",
                f"arn:{Aws.PARTITION}:cloudformation:{Aws.REGION}:{Aws.ACCOUNT_ID}:stackset/{stack_set.stack_set_name}",
                # the member stacks: the stack set's instances, and the management account's own
                f"arn:{Aws.PARTITION}:cloudformation:*:*:stack/StackSet-{stack_set.stack_set_name}-*",
                f"arn:{Aws.PARTITION}:cloudformation:*:*:stack/{Stack.of(self).stack_name}-Management*",
                sweep.queue_arn,
                dead_letters.queue_arn,
            ]
        )
        outputs = {
            "HandlerRoleArn": role.role_arn,  # the Trailguard-Management stacks' HubRoleArn parameter
            "SweepQueueUrl": sweep.queue_url,
            "MemberStackSetName": stack_set.stack_set_name,
        }
        for name, value in outputs.items():
            CfnOutput(Stack.of(self), name, value=value)

    @staticmethod
    def _statements(settings: DeploySettings, sweep: sqs.IQueue) -> list[iam.PolicyStatement]:
        return [
            iam.PolicyStatement(sid="SweepQueue", actions=["sqs:SendMessage"], resources=[sweep.queue_arn]),
            assume_member_role_statement(settings),
            iam.PolicyStatement(
                sid="ListOrganization",
                actions=["organizations:DescribeOrganization", "organizations:ListAccounts"],
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="DescribeAccount",
                actions=["organizations:DescribeAccount"],
                resources=[f"arn:{Aws.PARTITION}:organizations::*:account/{settings.organization_id}/*"],
            ),
        ]

    def _bus_policy(self, settings: DeploySettings) -> None:
        """The organization's accounts may put events on the home region's default bus, where the detector's
        rule picks the forwarded CloudTrail calls up."""
        bus = f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:event-bus/default"
        events.CfnEventBusPolicy(
            self,
            "OrganizationPutEvents",
            event_bus_name="default",
            statement_id=BUS_POLICY_SID,
            statement={
                "Sid": BUS_POLICY_SID,
                "Effect": "Allow",
                "Principal": "*",
                "Action": "events:PutEvents",
                "Resource": bus,
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": settings.organization_id}},
            },
        )

    def _stack_set(self, settings: DeploySettings, role: iam.Role, home_region: str) -> cloudformation.CfnStackSet:
        flags = {k: v for k, v in self.node.get_all_context().items() if k.startswith("@aws-cdk")}
        body = json.dumps(member_template(settings, flags), separators=(",", ":"))
        parameters: dict[str, Any] = {"HubRoleArn": role.role_arn, "HubRegion": home_region}
        return cloudformation.CfnStackSet(
            self,
            "Members",
            stack_set_name=f"{Stack.of(self).stack_name}-members",
            description="trailguard member: forwards CloudTrail changes to the hub and lets it read the trails",
            permission_model="SERVICE_MANAGED",
            call_as=CALL_AS,
            auto_deployment=cloudformation.CfnStackSet.AutoDeploymentProperty(
                enabled=True, retain_stacks_on_account_removal=False
            ),
            capabilities=["CAPABILITY_NAMED_IAM"],  # the member role has the name the hub looks for
            managed_execution={"Active": True},  # queue operations instead of failing on a concurrent one
            operation_preferences=OPERATION_PREFERENCES,
            parameters=[
                cloudformation.CfnStackSet.ParameterProperty(parameter_key=k, parameter_value=v)
                for k, v in parameters.items()
            ],
            stack_instances_group=[
                cloudformation.CfnStackSet.StackInstancesProperty(
                    deployment_targets=cloudformation.CfnStackSet.DeploymentTargetsProperty(
                        organizational_unit_ids=list(settings.organizational_units)
                    ),
                    regions=list(settings.regions) or [Aws.REGION],
                )
            ],
            template_body=body,
        )
