"""Stack-test fixtures: each configuration is built once per module, with asset bundling skipped.

Building goes through ``stacks.build``, which adds cdk-nag's AwsSolutions pack to the app, and
``Template.from_stack`` synthesizes: a finding raises. So every template a test here looks at has also
passed cdk-nag.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

# Before aws_cdk is imported: the jsii runtime (Node 20) prints an end-of-life banner on start otherwise.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from stacks import HOME_STACK, build
from stacks.settings import DeploySettings

# The configurations under test, as the CDK context app.py would be given (cdk.json or `-c key=value`).
DEFAULT_CONTEXT: dict[str, Any] = {}
FULL_CONTEXT: dict[str, Any] = {
    "regions": "us-east-1,eu-west-1,ap-southeast-2",
    "remediationMode": "on",
    "slackSecretName": "trailguard/slack",
    "alertEmails": ["security@example.com", "oncall@example.org"],
    "allowedExcludedSources": "kms.amazonaws.com",
    "sweepSchedule": "rate(30 minutes)",
}
DRY_RUN_CONTEXT: dict[str, Any] = {
    "regions": '["eu-west-1", "us-east-1"]',
    "remediationMode": "dry-run",
    "slackSecretName": "trailguard/slack",
}
OFF_CONTEXT: dict[str, Any] = {
    "regions": "us-west-2",
    "remediationMode": "off",
    "slackSecretName": "ops/trailguard-slack",
}
# Organization mode: the hub with two regions, two deployment targets (a root and an OU) and dry-run; and the
# hub in the deploy region alone, one OU, its own member role name and remediation on.
ORG_CONTEXT: dict[str, Any] = {
    "organization": True,
    "organizationId": "o-abcdefghij",
    "organizationalUnits": "r-ab12,ou-ab12-cdefgh34",
    "regions": "us-east-1,eu-west-1",
    "remediationMode": "dry-run",
}
ORG_ON_CONTEXT: dict[str, Any] = {
    "organization": "true",
    "organizationId": "o-0123456789abcdef",
    "organizationalUnits": '["ou-ab12-cdefgh34"]',
    "memberRoleName": "trailguard-reader",
    "remediationMode": "on",
}

# Slack buttons (slackInteractivity): in the deploy region with remediation off and an allowed excluded source; with
# remediation on, a signing secret of its own name, no reserved concurrency and an exemptions file (written by the
# fixture); and on the organization hub of ORG_CONTEXT (remediation dry-run).
INTERACTIVE_CONTEXT: dict[str, Any] = {
    "slackInteractivity": True,
    "slackSecretName": "trailguard/slack",
    "slackAllowedUsers": "U024BE7LH,W0A1B2C3D",
    "remediationMode": "off",
    "allowedExcludedSources": "kms.amazonaws.com",
}
INTERACTIVE_ON_CONTEXT: dict[str, Any] = {
    "slackInteractivity": "true",
    "slackSecretName": "trailguard/slack",
    "slackSigningSecretName": "ops/slack-signing",
    "slackAllowedUsers": '["U024BE7LH"]',
    "remediationMode": "on",
    "reservedConcurrency": "0",
}
INTERACTIVE_ORG_CONTEXT: dict[str, Any] = ORG_CONTEXT | {
    "slackInteractivity": "true",
    "slackSecretName": "trailguard/slack",
    "slackAllowedUsers": "U024BE7LH",
}
INTERACTIVE_EXEMPTIONS = [{"trail": "data-*", "rules": ["management-events-excluded"], "reason": "S3 data only"}]


def cfn_lint(files: list[str]) -> subprocess.CompletedProcess[str]:
    """cfn-lint, as a reviewer runs it, on template files (W3005, a redundant DependsOn, is CDK's and ignored)."""
    lint = Path(sys.executable).with_name("cfn-lint")
    return subprocess.run([str(lint), "--ignore-checks", "W3005", "--", *files], capture_output=True, text=True,
                          check=False)  # fmt: skip


def settings_from(context: Mapping[str, Any]) -> DeploySettings:
    """What app.py does with the context."""
    return DeploySettings.from_context(context)


CDK_JSON_CONTEXT: dict[str, Any] = json.loads((Path(__file__).resolve().parents[2] / "cdk.json").read_text())["context"]


def build_app(settings: DeploySettings, outdir: Path | None = None) -> tuple[App, list[Stack]]:
    """The app's constructs, not yet synthesized, with cdk.json's context (its feature flags) as `cdk synth`
    has it; bundling is skipped (the asset is only fingerprinted)."""
    context = {**CDK_JSON_CONTEXT, "aws:cdk:bundling-stacks": []}
    app = App(context=context, outdir=str(outdir) if outdir else None)
    return app, build(app, settings)


def synth(settings: DeploySettings, outdir: Path | None = None) -> dict[str, Template]:
    """Every stack's template by stack name; raises if cdk-nag reports a finding."""
    return deploy(settings, outdir).templates


@dataclass(frozen=True)
class Deployment:
    """One configuration, built and synthesized."""

    settings: DeploySettings
    app: App
    stacks: dict[str, Stack]
    templates: dict[str, Template]

    @property
    def home(self) -> Template:
        return self.templates[HOME_STACK]

    @property
    def home_stack(self) -> Stack:
        return self.stacks[HOME_STACK]

    @property
    def forwarders(self) -> dict[str, Template]:
        return {name: t for name, t in self.templates.items() if name.startswith(f"{HOME_STACK}-Forwarder-")}


def deploy(settings: DeploySettings, outdir: Path | None = None) -> Deployment:
    """``outdir`` defaults to a fresh temporary directory, as for any App without one."""
    app, stacks = build_app(settings, outdir)
    return Deployment(
        settings=settings,
        app=app,
        stacks={s.stack_name: s for s in stacks},
        templates={s.stack_name: Template.from_stack(s) for s in stacks},
    )


@pytest.fixture(scope="module")
def deploy_default(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    """No context at all: what `cdk synth` does on a fresh clone."""
    return deploy(settings_from(DEFAULT_CONTEXT), tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="module")
def deploy_full(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    """Three regions, remediation on, Slack, two emails, kms.amazonaws.com allowed, a 30-minute sweep."""
    return deploy(settings_from(FULL_CONTEXT), tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="module")
def deploy_dry_run(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    """Two regions (home eu-west-1), remediation dry-run, Slack, no emails."""
    return deploy(settings_from(DRY_RUN_CONTEXT), tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="module")
def deploy_off(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    """One region, remediation off, Slack, no emails."""
    return deploy(settings_from(OFF_CONTEXT), tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="module")
def deploy_org(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    """Organization hub in us-east-1 watching eu-west-1 too, a root and an OU, remediation dry-run."""
    return deploy(settings_from(ORG_CONTEXT), tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="module")
def deploy_org_on(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    """Organization hub in the deploy region alone, one OU, member role trailguard-reader, remediation on."""
    return deploy(settings_from(ORG_ON_CONTEXT), tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="module")
def deploy_interactive(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    """Slack buttons in the deploy region, remediation off, kms.amazonaws.com allowed."""
    return deploy(settings_from(INTERACTIVE_CONTEXT), tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="module")
def deploy_interactive_on(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    """Slack buttons with remediation on, signing secret ops/slack-signing, reservedConcurrency=0, exemptions."""
    folder = tmp_path_factory.mktemp("interactive-on")
    exemptions = folder / "exemptions.json"
    exemptions.write_text(json.dumps(INTERACTIVE_EXEMPTIONS), encoding="utf-8")
    context = INTERACTIVE_ON_CONTEXT | {"exemptionsFile": str(exemptions)}
    return deploy(settings_from(context), folder / "cdk.out")


@pytest.fixture(scope="module")
def deploy_interactive_org(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    """Slack buttons on the organization hub of deploy_org (us-east-1 and eu-west-1, remediation dry-run)."""
    return deploy(settings_from(INTERACTIVE_ORG_CONTEXT), tmp_path_factory.mktemp("cdk.out"))
