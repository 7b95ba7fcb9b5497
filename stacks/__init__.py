"""trailguard's CDK stacks. They take typed settings and never read os.environ."""

from __future__ import annotations

from aws_cdk import App, Environment, Stack, Validations
from cdk_nag import AwsSolutionsChecks

from .detector import DetectorStack
from .forwarder import ForwarderStack
from .settings import DeploySettings

HOME_STACK = "Trailguard"


def build(app: App, settings: DeploySettings) -> list[Stack]:
    """The detector in its home region and a forwarder in every other region, checked by cdk-nag."""
    home = settings.home_region
    stacks: list[Stack] = [
        DetectorStack(
            app,
            HOME_STACK,
            settings=settings,
            env=Environment(region=home) if home else None,
            description="trailguard: real-time CloudTrail drift detector",
        )
    ]
    for region in settings.forwarded_regions:
        assert home is not None
        stacks.append(
            ForwarderStack(
                app,
                f"{HOME_STACK}-Forwarder-{region}",
                home_region=home,
                env=Environment(region=region),
                description=f"trailguard: forwards CloudTrail changes in {region} to {home}",
            )
        )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stacks
