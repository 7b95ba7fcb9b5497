#!/usr/bin/env python3
"""The CDK app: `make synth`, or `npx cdk deploy --all` with the context keys of the README."""

import os
import sys

# Before aws_cdk starts its jsii runtime: cdk-nag's event-bus rule reads CfnEventBusPolicy's deprecated
# `principal` property, and jsii would print a deprecation warning on every organization-mode synth for it.
os.environ.setdefault("JSII_DEPRECATED", "quiet")

import aws_cdk as cdk

from stacks import build
from stacks.settings import DeploySettings, SettingsError

app = cdk.App()
try:
    settings = DeploySettings.from_context(app.node.get_all_context())
except SettingsError as error:
    sys.exit(f"trailguard: {error}")
build(app, settings)
app.synth()
