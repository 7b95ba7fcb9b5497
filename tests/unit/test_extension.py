"""The extension point, proven: a rule added in one unit is picked up by the evaluator, the fixes and their
renderings, the revert, the stack's grants and the README check, with nothing else edited."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from stacks.detector import remediation_actions
from trailguard.baseline import Baseline
from trailguard.fix import plan
from trailguard.judge import Policy, TrailState, evaluate_account, evaluate_trail
from trailguard.render.fix import cli, cloudformation, terraform
from trailguard.rules import REGISTRY, Call, Facts, Rule, example, register

from .test_rule_table import README, readme_problems

NEW = "logs-not-encrypted"


def _check(facts: Facts) -> str | None:
    return None if facts.description.get("KmsKeyId") else f"Trail {facts.name!r} does not encrypt its logs with KMS."


def _fix(facts: Facts) -> list[Call]:
    key = facts.baseline.trail.get("KmsKeyId") if facts.baseline else None
    return [("UpdateTrail", {"Name": facts.target, "KmsKeyId": key})] if key else []


@pytest.fixture
def new_rule() -> Iterator[Rule]:
    rule = register(
        Rule(id=NEW, severity="low", meaning="The trail's logs are not encrypted with a KMS key.", check=_check,
             fix=_fix, revert_actions=("cloudtrail:UpdateTrail", "kms:GenerateDataKey"), revert_order=15)
    )  # fmt: skip
    try:
        yield rule
    finally:
        del REGISTRY[NEW]


def test_the_evaluator_the_fixes_and_their_renderings_pick_a_new_rule_up(new_rule: Rule) -> None:
    with_key = example({"KmsKeyId": "arn:aws:kms:us-east-1:111122223333:key/k1"})
    facts = example(baseline=Baseline.of(with_key.description, with_key.selectors))
    found = evaluate_trail(facts)
    assert [f.rule for f in found] == ["destination-changed", NEW]  # in revert order: 10, then 15
    finding = found[1]

    assert finding.rule == NEW and finding.severity == "low" and finding.counted
    assert cli(finding.calls, finding.region) == (
        "aws cloudtrail update-trail --region us-east-1 --name example "
        "--kms-key-id arn:aws:kms:us-east-1:111122223333:key/k1"
    )
    key = '"arn:aws:kms:us-east-1:111122223333:key/k1"'
    assert cloudformation(finding.calls) == f"AWS::CloudTrail::Trail KMSKeyId: {key}"
    assert terraform(finding.calls) == f"aws_cloudtrail kms_key_id = {key}"
    assert plan(replace(facts, ident=str(facts.arn)), [finding]).calls == (
        ("UpdateTrail", {"Name": str(facts.arn), "KmsKeyId": "arn:aws:kms:us-east-1:111122223333:key/k1"}),
    )


def test_the_stack_grants_and_the_readme_check_pick_a_new_rule_up(new_rule: Rule) -> None:
    assert "kms:GenerateDataKey" in remediation_actions()
    assert f"no README row for {NEW}" in readme_problems(README.read_text())


def test_an_advisory_rule_is_shown_but_never_counted_or_reverted(new_rule: Rule) -> None:
    del REGISTRY[NEW]
    register(replace(new_rule, advisory=True))
    state = TrailState(example().description, {"IsLogging": True}, example().selectors)
    verdict = evaluate_account("111122223333", [state])

    assert [f.rule for f in verdict.all_findings] == [NEW]
    assert verdict.compliant and verdict.covered and not verdict.counted
    assert plan(state.facts(Policy(), ident=state.arn), verdict.all_findings).calls == ()
    assert "kms:GenerateDataKey" not in remediation_actions()


def test_a_new_module_in_the_rules_folder_is_registered_without_any_other_edit(tmp_path: Path) -> None:
    """A fresh interpreter, on a copy of the shipped code with one more file in rules/."""
    handlers = Path(__file__).resolve().parents[2] / "handlers"
    copy = tmp_path / "handlers"
    shutil.copytree(handlers, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "trailguard" / "rules" / "logs_not_encrypted.py").write_text(
        textwrap.dedent(f'''
        from .registry import Rule, register

        register(Rule(id="{NEW}", severity="low", meaning="The trail's logs are not encrypted with a KMS key.",
                      check=lambda facts: None if facts.description.get("KmsKeyId") else "not encrypted"))
        ''')
    )
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "from trailguard.judge import evaluate_trail; from trailguard.rules import REGISTRY, example; "
        f"print(REGISTRY[{NEW!r}].severity, [f.rule for f in evaluate_trail(example())])"
    )
    done = subprocess.run([sys.executable, "-I", "-c", probe, str(copy)], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == f"low ['{NEW}']"
