"""checkov, the IaC scanner security reviewers run, on every template the app synthesizes: each configuration's
stacks and the member stack set's TemplateBody (a template of its own), scanned by one checkov process over one
directory. A failed check fails the test unless the resource skips it in its Metadata with a written reason
(``stacks.detector.checkov_skip``).

checkov is not in requirements-dev.txt: it pins boto3 exactly (checkov 3.3.30: boto3==1.35.49, also networkx<2.7
and packaging<24), which the project's own pins contradict, so `make setup` installs it into a virtualenv of its
own, .venv-checkov (requirements-checkov.txt). The test runs that one (or the one CHECKOV names), and fails, never
skips, when there is none.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_sqs as sqs

from stacks.detector import RESERVED_CONCURRENCY, checkov_skip
from stacks.organization import SWEEP_MAX_CONCURRENCY
from tests.stacks.conftest import Deployment

CONFIGS = (
    "deploy_default",
    "deploy_full",
    "deploy_dry_run",
    "deploy_off",
    "deploy_org",
    "deploy_org_on",
    "deploy_interactive",
    "deploy_interactive_on",  # reservedConcurrency=0: both functions skip CKV_AWS_115, with the README's reason
    "deploy_interactive_org",
)
# What the templates skip, each with its reason in stacks/: a new skip is a decision, made here too.
SKIPPED = {
    "CKV_AWS_27",  # SQS encryption: SQS-managed SSE is not recognised
    "CKV_AWS_116",  # Lambda DLQ: the on-failure destination is
    "CKV_AWS_117",  # Lambda in a VPC: none needed
    "CKV_AWS_173",  # Lambda environment KMS: no secret in it
    "CKV_AWS_115",  # Lambda reserved concurrency: none with reservedConcurrency=0
    "CKV_AWS_258",  # Function URL without IAM auth: Slack cannot sign with SigV4, the function checks Slack's signature
}
# Fixed rather than skipped: the functions' reserved concurrency (unless the deployment reserves none) and their log
# groups' KMS key.
FIXED = {"CKV_AWS_115": "AWS::Lambda::Function", "CKV_AWS_158": "AWS::Logs::LogGroup"}
NO_COMMENT = "No comment provided"  # what checkov reports for a skip without one


REPO = Path(__file__).resolve().parents[2]


def checkov_command() -> Path | None:
    named = os.environ.get("CHECKOV")
    if named:
        return Path(named)
    own = REPO / ".venv-checkov" / "bin" / "checkov"  # make setup's
    return own if own.exists() else None


def write_templates(deployments: dict[str, Deployment], directory: Path) -> dict[str, dict[str, Any]]:
    """Every stack's template and every stack set's TemplateBody as ``<config>-<name>.template.json`` files in
    ``directory``, by file name."""
    written: dict[str, dict[str, Any]] = {}
    for config, deployment in deployments.items():
        for stack, template in deployment.templates.items():
            body = template.to_json()
            written[f"{config}-{stack}.template.json"] = body
            for logical_id, resource in body["Resources"].items():
                if resource["Type"] == "AWS::CloudFormation::StackSet":
                    member = json.loads(resource["Properties"]["TemplateBody"])
                    written[f"{config}-{stack}-{logical_id}-body.template.json"] = member
    for name, body in written.items():
        (directory / name).write_text(json.dumps(body, indent=1), encoding="utf-8")
    return written


def run_checkov(checkov: Path, directory: Path) -> dict[str, Any]:
    """One checkov run over ``directory``, offline: no Prisma Cloud download, no update check."""
    env = {**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "BC_SKIP_MAPPING": "true"}
    done = subprocess.run(
        [str(checkov), "-d", str(directory), "--framework", "cloudformation", "-o", "json", "--skip-download"],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr  # 1: a check failed, reported below
    report = json.loads(done.stdout)
    [cloudformation] = report if isinstance(report, list) else [report]
    assert cloudformation["check_type"] == "cloudformation"
    results: dict[str, Any] = cloudformation["results"]
    return results


def skips_in(body: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(logical id, resource type, skip) of every checkov skip in a template's Metadata."""
    return [
        (logical_id, resource["Type"], skip)
        for logical_id, resource in body.get("Resources", {}).items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]


def test_checkov_passes_every_template_and_every_skip_has_a_reason(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    checkov = checkov_command()
    if checkov is None:
        pytest.fail("checkov is not installed: run `make setup` (or set CHECKOV to its path)")
    deployments = {config.removeprefix("deploy_"): request.getfixturevalue(config) for config in CONFIGS}
    written = write_templates(deployments, tmp_path)

    results = run_checkov(checkov, tmp_path)

    assert all(f"{c}-Trailguard.template.json" in written for c in deployments)
    assert len([name for name in written if name.endswith("-body.template.json")]) == 3  # the three org configs
    assert results["parsing_errors"] == []
    failed = [(r["check_id"], r["file_path"], r["resource"], r["check_name"]) for r in results["failed_checks"]]
    assert failed == []
    # every suppression, as written in the templates and as checkov read it, carries its reason
    skips = [(name, *found) for name, body in written.items() for found in skips_in(body)]
    assert skips
    for name, logical_id, _, skip in skips:
        assert set(skip) == {"id", "comment"} and str(skip["comment"]).strip(), (name, logical_id, skip)
    skipped = results["skipped_checks"]
    assert {r["check_id"] for r in skipped} == SKIPPED
    for result in skipped:
        comment = result["check_result"].get("suppress_comment", "").strip()
        assert comment and comment != NO_COMMENT, (result["check_id"], result["file_path"], result["resource"])
    # what was fixed passes on every configuration's functions and log groups
    for check, resource_type in FIXED.items():
        passed = [(r["file_path"], r["resource"]) for r in results["passed_checks"] if r["check_id"] == check]
        for config, deployment in deployments.items():
            if check == "CKV_AWS_115" and not deployment.settings.reserved_concurrency:
                continue
            resources = deployment.home.find_resources(resource_type)
            home = f"/{config}-Trailguard.template.json"
            assert {f"{resource_type}.{r}" for r in resources} == {r for f, r in passed if f == home}, (check, config)


def test_the_handlers_reserved_concurrency_exceeds_the_organization_sweeps(deploy_org: Deployment) -> None:
    """An SQS source's maximum concurrency above the function's reserved concurrency would only be throttled."""
    [function] = deploy_org.home.find_resources("AWS::Lambda::Function").values()
    [mapping] = deploy_org.home.find_resources("AWS::Lambda::EventSourceMapping").values()

    assert function["Properties"]["ReservedConcurrentExecutions"] == RESERVED_CONCURRENCY
    assert mapping["Properties"]["ScalingConfig"]["MaximumConcurrency"] == SWEEP_MAX_CONCURRENCY
    assert SWEEP_MAX_CONCURRENCY < RESERVED_CONCURRENCY


def test_checkov_skip_merges_into_the_resources_metadata_and_wants_a_reason() -> None:
    stack = Stack(App(), "Skips")
    queue = sqs.Queue(stack, "Queue")
    checkov_skip(queue, {"CKV_AWS_27": "first reason."})
    checkov_skip(queue, {"CKV_AWS_27": "second reason.", "CKV_AWS_999": "another."})

    assert stack.resolve(queue.node.default_child.get_metadata("checkov")) == {  # type: ignore[union-attr]
        "skip": [{"id": "CKV_AWS_27", "comment": "second reason."}, {"id": "CKV_AWS_999", "comment": "another."}]
    }
    with pytest.raises(ValueError, match="written reason"):
        checkov_skip(queue, {"CKV_AWS_1": " "})
