"""A forwarder stack for each other region: the same rule, sending the events to the home region's bus."""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, CfnOutput, Stack
from aws_cdk import aws_events as events
from constructs import Construct

from .detector import FORWARDER_RULES, forward_rules, global_rules


class ForwarderStack(Stack):
    """The events keep their own ``region``: the one Lambda in the home region sees where each call was made."""

    def __init__(
        self, scope: Construct, construct_id: str, *, home_region: str, only_global: bool = False, **kwargs: Any
    ) -> None:
        """``only_global``: us-east-1 when it is not watched, for the IAM and organization calls recorded there."""
        super().__init__(scope, construct_id, **kwargs)
        home_bus = events.EventBus.from_event_bus_arn(
            self, "HomeBus", f"arn:{Aws.PARTITION}:events:{home_region}:{Aws.ACCOUNT_ID}:event-bus/default"
        )
        # Events EventBridge could not forward (after its own retries) wait here, in this region, for 14 days.
        unforwarded = forward_rules(
            self, home_bus, role_id="ForwardingRole", to=f"trailguard in {home_region}", names=FORWARDER_RULES,
            rules=global_rules() if only_global else None,
        )  # fmt: skip
        CfnOutput(self, "UnforwardedQueueUrl", value=unforwarded.queue_url)
