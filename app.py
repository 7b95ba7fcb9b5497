#!/usr/bin/env python3
"""The CDK app: `make synth` (or `npx cdk deploy`) builds trailguard's stacks from here."""

import aws_cdk as cdk

from stacks.detector import DetectorStack

app = cdk.App()
DetectorStack(app, "Trailguard", description="trailguard: real-time CloudTrail drift detector")
app.synth()
