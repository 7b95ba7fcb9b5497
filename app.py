#!/usr/bin/env python3
"""The CDK app: `make synth`, or `npx cdk deploy --all` with the context keys of the README."""

import sys

import aws_cdk as cdk

from stacks import build
from stacks.settings import DeploySettings, SettingsError

app = cdk.App()
try:
    settings = DeploySettings.from_context(app.node.try_get_context)
except SettingsError as error:
    sys.exit(f"trailguard: {error}")
build(app, settings)
app.synth()
