"""A forwarder stack for each other region: the same rule, sending the events to the home region's bus."""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, CfnOutput, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from constructs import Construct

from .detector import dead_letter_queue, watched_rules


class ForwarderStack(Stack):
    """The events keep their own ``region``: the one Lambda in the home region sees where each call was made."""

    def __init__(self, scope: Construct, construct_id: str, *, home_region: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        home_bus = events.EventBus.from_event_bus_arn(
            self, "HomeBus", f"arn:{Aws.PARTITION}:events:{home_region}:{Aws.ACCOUNT_ID}:event-bus/default"
        )
        # Events EventBridge could not forward (after its own retries) wait here, in this region, for 14 days.
        unforwarded = dead_letter_queue(self, "Unforwarded")
        forwarding = iam.Role(self, "ForwardingRole", assumed_by=iam.ServicePrincipal("events.amazonaws.com"))
        for rule_id, matches, pattern in watched_rules():
            events.Rule(
                self,
                f"Forward{rule_id}",
                description=f"Forward to trailguard in {home_region}: {matches}",
                event_pattern=pattern,
                targets=[targets.EventBus(home_bus, dead_letter_queue=unforwarded, role=forwarding)],
            )
        CfnOutput(self, "UnforwardedQueueUrl", value=unforwarded.queue_url)
