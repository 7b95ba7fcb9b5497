"""The detector stack: the home region's EventBridge rule, Lambda, topic, state table and sweep."""

from aws_cdk import Stack
from constructs import Construct


class DetectorStack(Stack):
    """Deployment target of the detector; the resources are added with the Lambda handler."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
