"""The real thing: `make synth` with the pinned CDK CLI, offline and without AWS credentials; cfn-lint on
every template it writes; and the bundled Lambda asset, imported and run in a clean interpreter that has
nothing but what the Lambda runtime has (the standard library, boto3 and botocore), with and without the
exemptions file the synth shipped in it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.events import event
from trailguard_dev.dynamodb import create_state_table
from trailguard_dev.emulator import Emulator, pointed_at

REPO = Path(__file__).resolve().parents[2]
CDK = REPO / "node_modules" / ".bin" / "cdk"
FULL_CONTEXT = {
    "regions": "us-east-1,eu-west-1,ap-southeast-2",
    "remediationMode": "on",
    "slackSecretName": "trailguard/slack",
    "alertEmails": "security@example.com",
    "allowedExcludedSources": "kms.amazonaws.com",
}
# The full configuration's exemptions file (its exemptionsFile): one entry for a trail the asset test does not
# touch, one that exempts the asset test's trail from logging-stopped.
EXEMPTIONS_TEXT = json.dumps(
    [
        {
            "trail": "data-*",
            "rules": ["management-events-excluded"],
            "reason": "logs S3 data events only",
            "expires": "2030-01-01",
        },
        {
            "trail": "org-audit",
            "rules": ["logging-stopped"],
            "reason": "paused for a migration",
            "expires": "2099-12-31",
        },
    ],
    indent=2,
)


def offline_env(tmp: Path) -> dict[str, str]:
    """The environment with no AWS credentials or profile anywhere, as on a build machine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "no-credentials"),
        "AWS_CONFIG_FILE": str(tmp / "no-config"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "CDK_DISABLE_VERSION_CHECK": "1",
    }
    return env


def cdk_synth(out: Path, env: dict[str, str], context: dict[str, str]) -> subprocess.CompletedProcess[str]:
    args = [str(CDK), "synth", "--quiet", "--output", str(out)]
    for key, value in context.items():
        args += ["--context", f"{key}={value}"]
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The full configuration (three regions, remediation on, Slack, email, an exemptions file) synthesized by
    the pinned CLI."""
    tmp = tmp_path_factory.mktemp("synth")
    exemptions = tmp / "exemptions.json"
    exemptions.write_text(EXEMPTIONS_TEXT, encoding="utf-8")
    done = cdk_synth(tmp / "cdk.out", offline_env(tmp), FULL_CONTEXT | {"exemptionsFile": str(exemptions)})
    assert done.returncode == 0, done.stderr
    return tmp / "cdk.out"


def test_make_synth_runs_the_pinned_cli_offline_without_credentials(tmp_path: Path) -> None:
    done = subprocess.run(
        ["make", "--no-print-directory", "synth"], cwd=REPO, env=offline_env(tmp_path),
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert (REPO / "cdk.out" / "Trailguard.template.json").exists()
    assert "Traceback" not in done.stderr and "Node 20 is end-of-life" not in done.stderr


def test_full_configuration_synthesizes_the_detector_and_a_forwarder_per_other_region(synthesized: Path) -> None:
    assert sorted(p.name for p in synthesized.glob("*.template.json")) == [
        "Trailguard-Forwarder-ap-southeast-2.template.json",
        "Trailguard-Forwarder-eu-west-1.template.json",
        "Trailguard.template.json",
    ]
    manifest = json.loads((synthesized / "manifest.json").read_text())["artifacts"]
    assert manifest["Trailguard"]["environment"].endswith("/us-east-1")
    assert manifest["Trailguard-Forwarder-eu-west-1"]["environment"].endswith("/eu-west-1")


def test_cfn_lint_passes_on_every_synthesized_template(synthesized: Path) -> None:
    templates = sorted(str(p) for p in synthesized.glob("*.template.json"))
    lint = Path(sys.executable).with_name("cfn-lint")

    done = subprocess.run(
        [str(lint), "--ignore-checks", "W3005", "--", *templates], capture_output=True, text=True, check=False
    )

    assert len(templates) == 3
    assert done.returncode == 0, done.stdout + done.stderr


def test_bad_context_value_stops_the_synth_with_one_sentence_naming_the_key(tmp_path: Path) -> None:
    done = cdk_synth(tmp_path / "cdk.out", offline_env(tmp_path), {"regions": "us-east-1,mars-north-1"})

    assert done.returncode != 0
    ours = [line for line in done.stderr.splitlines() if line.startswith("trailguard:")]
    assert ours == ["trailguard: regions must list AWS regions (such as us-east-1); 'mars-north-1' is not one."]
    assert "Traceback" not in done.stderr


def test_unknown_context_key_stops_the_synth_naming_it(tmp_path: Path) -> None:
    done = cdk_synth(tmp_path / "cdk.out", offline_env(tmp_path), {"bogusKey": "1"})

    assert done.returncode != 0
    ours = [line for line in done.stderr.splitlines() if line.startswith("trailguard:")]
    assert len(ours) == 1
    assert ours[0].startswith("trailguard: bogusKey is not a context key trailguard knows; its keys are alertEmails,")
    assert "Traceback" not in done.stderr


ORGANIZATION_CONTEXT = {"organization": "true", "organizationId": "o-abcdefghij", "organizationalUnits": "r-abcd"}


def test_organization_configuration_synthesizes_the_hub_and_the_management_stack(tmp_path: Path) -> None:
    """The README's organization synth, with the pinned CLI: the hub (detector, bus policy, sweep queue, member
    stack set) and the management account's member stack, which deploys with the caller's own credentials (no
    bootstrap role to assume); cfn-lint passes on both and on the stack set's template body."""
    out = tmp_path / "cdk.out"
    done = cdk_synth(out, offline_env(tmp_path), ORGANIZATION_CONTEXT)

    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "deprecated" not in done.stderr, done.stderr
    templates = sorted(out.glob("*.template.json"))
    assert [p.name for p in templates] == ["Trailguard-Management.template.json", "Trailguard.template.json"]
    artifacts = json.loads((out / "manifest.json").read_text())["artifacts"]
    assert "assumeRoleArn" not in artifacts["Trailguard-Management"]["properties"]
    assert "Trailguard-Management.assets" not in artifacts
    resources = json.loads((out / "Trailguard.template.json").read_text())["Resources"]
    [body] = [
        r["Properties"]["TemplateBody"] for r in resources.values() if r["Type"] == "AWS::CloudFormation::StackSet"
    ]
    (tmp_path / "member.json").write_text(body, encoding="utf-8")
    lint = Path(sys.executable).with_name("cfn-lint")

    linted = subprocess.run(
        [str(lint), "--ignore-checks", "W3005", "--", *map(str, templates), str(tmp_path / "member.json")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip

    assert linted.returncode == 0, linted.stdout + linted.stderr


# --- the bundled asset, as Lambda would run it ---------------------------------------------------------------


def handler_asset(cdk_out: Path) -> Path:
    assets = json.loads((cdk_out / "Trailguard.assets.json").read_text())["files"]
    [directory] = [cdk_out / a["source"]["path"] for a in assets.values() if a["source"].get("packaging") == "zip"]
    return directory


def handler_environment(cdk_out: Path) -> dict[str, Any]:
    """The Lambda function's environment variables, as the synthesized home template sets them."""
    resources = json.loads((cdk_out / "Trailguard.template.json").read_text())["Resources"]
    [function] = [r for r in resources.values() if r["Type"] == "AWS::Lambda::Function"]
    variables: dict[str, Any] = function["Properties"]["Environment"]["Variables"]
    return variables


def test_bundled_asset_holds_no_dev_tools_anywhere(synthesized: Path) -> None:
    """trailguard_dev (demo, emulator, benchmark) is a separate distribution: neither its package, a module of
    that name, its metadata nor an editable-install hook may reach the Lambda's code, at any depth."""
    asset = handler_asset(synthesized)
    shipped = [p.relative_to(asset) for p in asset.rglob("*")]

    assert Path("drift_handler.py") in shipped and Path("trailguard", "rules", "__init__.py") in shipped
    assert [p for p in shipped if "trailguard_dev" in p.name.lower().replace("-", "_")] == []


def test_synth_ships_the_exemptions_file_beside_the_handler(synthesized: Path) -> None:
    name = handler_environment(synthesized)["EXEMPTIONS_FILE"]

    assert name == "trailguard_exemptions.json"
    assert (handler_asset(synthesized) / name).read_text(encoding="utf-8") == EXEMPTIONS_TEXT


@pytest.fixture(scope="module")
def lambda_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh interpreter with only the standard library, boto3 and botocore, as the Lambda runtime has."""
    venv = tmp_path_factory.mktemp("lambda-runtime") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    boto3_pin = re.search(r"^boto3==\S+", (REPO / "requirements.txt").read_text(), re.MULTILINE)
    assert boto3_pin
    uv = Path(sys.executable).with_name("uv")
    subprocess.run([str(uv), "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), boto3_pin[0]],
                   check=True)  # fmt: skip
    return venv / "bin" / "python"


RUN_IN_LAMBDA = """
import importlib.util, json, sys
sys.path.insert(0, sys.argv[1])
for absent in ("moto", "pytest", "trailguard_dev", "aws_cdk"):
    assert importlib.util.find_spec(absent) is None, absent
import drift_handler, slack_sdk, aws_lambda_powertools
for module in (drift_handler, slack_sdk, aws_lambda_powertools):
    assert module.__file__.startswith(sys.argv[1]), module.__file__
class Context:
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:trailguard"
print(json.dumps(drift_handler.handler(json.loads(sys.stdin.read()), Context())))
"""


@pytest.fixture
def emulated_account() -> Iterator[Emulator]:
    with Emulator() as emu, pointed_at(emu):
        boto3.client("s3").create_bucket(Bucket="trailguard-asset-test")
        create_state_table(boto3.client("dynamodb"), "state")
        ct = boto3.client("cloudtrail", region_name="us-east-1")
        ct.create_trail(Name="org-audit", S3BucketName="trailguard-asset-test", IsMultiRegionTrail=True)
        ct.put_event_selectors(TrailName="org-audit", EventSelectors=[{"ReadWriteType": "All"}])
        yield emu


def run_stopped_trail_event(cdk_out: Path, python: Path, emu: Emulator, **variables: str) -> dict[str, Any]:
    """The handler's result for a StopLogging on org-audit (a trail that was never started), run from the bundled
    asset in ``python`` with the emulator's endpoints and ``variables`` in its environment."""
    topic = boto3.client("sns").create_topic(Name="alerts")["TopicArn"]
    env = {**emu.environ(), "PATH": os.environ["PATH"], "STATE_TABLE": "state", "ALERT_TOPIC_ARN": topic, **variables}
    stopped: dict[str, Any] = event("stoplogging_cli", trail="org-audit")

    done = subprocess.run(
        [str(python), "-I", "-c", RUN_IN_LAMBDA, str(handler_asset(cdk_out))],
        input=json.dumps(stopped), env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_bundled_asset_handles_a_real_event_in_a_clean_interpreter(
    synthesized: Path, lambda_python: Path, emulated_account: Emulator
) -> None:
    result = run_stopped_trail_event(synthesized, lambda_python, emulated_account)

    assert result["status"] == "drift"
    assert [f["rule"] for f in result["findings"]] == ["logging-stopped", "no-compliant-trail"]
    assert [f["exempt"] for f in result["findings"]] == [None, None]  # the shipped file only counts when named
    assert result["notified"] == ["sns"]


def test_bundled_asset_applies_the_shipped_exemptions_file(
    synthesized: Path, lambda_python: Path, emulated_account: Emulator
) -> None:
    """With EXEMPTIONS_FILE as the stack sets it, the handler finds the file in its own code and applies it."""
    shipped = {"EXEMPTIONS_FILE": handler_environment(synthesized)["EXEMPTIONS_FILE"]}

    result = run_stopped_trail_event(synthesized, lambda_python, emulated_account, **shipped)

    assert {f["rule"]: f["exempt"] for f in result["findings"]} == {
        "logging-stopped": "paused for a migration",
        "no-compliant-trail": None,
    }
