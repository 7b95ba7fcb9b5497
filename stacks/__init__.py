"""trailguard's CDK stacks. They take typed settings and never read os.environ."""

from __future__ import annotations

from aws_cdk import App, Environment, LegacyStackSynthesizer, Stack, Validations
from cdk_nag import AwsSolutionsChecks

from trailguard.arn import partition_of

from .detector import GLOBAL_REGION, DetectorStack
from .forwarder import ForwarderStack
from .member import MemberStack
from .organization import OrganizationHub
from .settings import DeploySettings

HOME_STACK = "Trailguard"
MANAGEMENT_STACK = f"{HOME_STACK}-Management"


def build(app: App, settings: DeploySettings) -> list[Stack]:
    """The detector in its home region and a forwarder in every other region, checked by cdk-nag. In organization
    mode the detector is the hub (with the member stack set), and the management account's own member stacks
    come along: ``Trailguard-Management`` in the home region, ``Trailguard-Management-<region>`` elsewhere."""
    home = settings.home_region
    detector = DetectorStack(
        app,
        HOME_STACK,
        settings=settings,
        env=Environment(region=home) if home else None,
        description="trailguard: real-time CloudTrail drift detector",
    )
    stacks: list[Stack] = [detector]
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
    if home is not None and partition_of(home) == "aws" and GLOBAL_REGION not in (home, *settings.forwarded_regions):
        stacks.append(
            ForwarderStack(
                app,
                f"{HOME_STACK}-Global",
                home_region=home,
                only_global=True,
                env=Environment(region=GLOBAL_REGION),
                description=f"trailguard: forwards the IAM and AWS Organizations calls recorded in {GLOBAL_REGION} "
                f"to {home}",
            )
        )
    if settings.organization:
        OrganizationHub(detector, "Organization", settings=settings)
        stacks += _management_stacks(app, settings)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stacks


def _management_stacks(app: App, settings: DeploySettings) -> list[Stack]:
    """The member stack for the management account, which a service-managed stack set never reaches: deployed
    there by the operator, with the hub's role ARN as a parameter. No bootstrap is needed there: the stacks have
    no assets and the CLI deploys them with the caller's own credentials (the legacy synthesizer)."""
    home = settings.home_region
    return [
        MemberStack(
            app,
            MANAGEMENT_STACK if region == home else f"{MANAGEMENT_STACK}-{region}",
            settings=settings,
            hub_region=home,
            env=Environment(region=region) if region else None,
            synthesizer=LegacyStackSynthesizer(),
            description="trailguard member (management account): forwards CloudTrail changes to the hub and lets "
            "it read the trails",
        )
        for region in (settings.regions or (None,))
    ]
