"""The extension point, proven: a rule added in one unit is picked up by the evaluator, the fixes and their
renderings, the revert, the stack's grants (and cdk-nag) and the README check, with nothing else edited;
even when its fix calls another service than CloudTrail."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from stacks.detector import remediation_actions
from trailguard.fix import execute, plan
from trailguard.judge import Policy, TrailState, evaluate_account, evaluate_trail
from trailguard.read import read_account
from trailguard.render.fix import cli, cloudformation, terraform
from trailguard.rules import REGISTRY, Call, Clients, Facts, Read, Rule, example, register

from .test_rule_table import README, needed_actions, readme_problems

NEW = "log-key-disabled"
KEY = "arn:aws:kms:us-east-1:111122223333:key/k1"


def _key_state(clients: Clients, facts: Facts) -> str | None:
    key = facts.description.get("KmsKeyId")
    return clients("kms", facts.home_region).describe_key(KeyId=key)["KeyMetadata"]["KeyState"] if key else None


def _check(facts: Facts) -> str | None:
    if facts.extra.get("kms_key_state") != "Disabled":
        return None
    return f"Trail {facts.name!r} cannot encrypt its logs: its KMS key is disabled."


def _fix(facts: Facts) -> list[Call]:
    return [("kms:EnableKey", {"KeyId": str(facts.description.get("KmsKeyId"))})]


def _example() -> Facts:
    return replace(example({"KmsKeyId": KEY}), extra={"kms_key_state": "Disabled"})


@pytest.fixture
def new_rule() -> Iterator[Rule]:
    rule = register(
        Rule(id=NEW, severity="high", meaning="The trail's KMS key is disabled.", check=_check, fix=_fix,
             revert_actions=("kms:EnableKey",), revert_order=15, example=_example,
             reads=(Read("kms_key_state", "kms:DescribeKey", _key_state),))
    )  # fmt: skip
    try:
        yield rule
    finally:
        del REGISTRY[NEW]


def test_the_evaluator_the_fixes_and_their_renderings_pick_a_new_rule_up(new_rule: Rule) -> None:
    facts = _example()
    found = {f.rule: f for f in evaluate_trail(facts)}

    finding = found[NEW]
    assert finding.severity == "high" and finding.counted
    assert cli(finding.calls, finding.region) == f"aws kms enable-key --region us-east-1 --key-id {KEY}"
    assert (cloudformation(finding.calls), terraform(finding.calls)) == ("-", "-")  # no trail property to set
    assert needed_actions(finding.calls) == set(new_rule.revert_actions)
    planned = plan(replace(facts, ident=str(facts.arn)), [finding])
    assert planned.calls == (("kms:EnableKey", {"KeyId": KEY}),)


def test_a_revert_makes_another_services_call_with_that_services_client(new_rule: Rule) -> None:
    made: list[tuple[str, dict[str, Any]]] = []

    class Kms:
        def enable_key(self, **arguments: Any) -> None:
            made.append(("kms", arguments))

    results = execute([("kms:EnableKey", {"KeyId": KEY}), ("kms:NoSuchCall", {})], {"kms": Kms()}.__getitem__)

    assert made == [("kms", {"KeyId": KEY})]
    assert [(r.action, r.result) for r in results] == [("kms:EnableKey", "done"), ("kms:NoSuchCall", "failed")]


def test_the_stack_grants_and_the_readme_check_pick_a_new_rule_up(new_rule: Rule) -> None:
    from aws_cdk.assertions import Match

    from tests.stacks.conftest import HOME_STACK, settings_from, synth

    assert "kms:EnableKey" in remediation_actions()
    assert f"no README row for {NEW}" in readme_problems(README.read_text())
    home = synth(settings_from({"remediationMode": "on"}))[HOME_STACK]  # cdk-nag passes, with a written reason
    for sid, action in (("RevertKms", "kms:EnableKey"), ("RuleReadsKms", "kms:DescribeKey")):
        statement = {"Sid": sid, "Action": action, "Effect": "Allow", "Resource": Match.any_value()}
        home.has_resource_properties(
            "AWS::IAM::Policy", {"PolicyDocument": {"Statement": Match.array_with([Match.object_like(statement)])}}
        )
    off = synth(settings_from({}))[HOME_STACK]  # reads are granted in every mode, reverts only with "on"
    policies = json.dumps(off.find_resources("AWS::IAM::Policy"))
    assert "kms:DescribeKey" in policies and "kms:EnableKey" not in policies


class CloudTrail:
    def __init__(self, description: dict[str, Any]) -> None:
        self.description = description

    def describe_trails(self, **_: Any) -> dict[str, Any]:
        return {"trailList": [self.description]}

    def get_trail_status(self, **_: Any) -> dict[str, Any]:
        return {"IsLogging": True}

    def get_event_selectors(self, **_: Any) -> dict[str, Any]:
        return {"EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": True}]}


class Kms:
    def __init__(self, state: str | None = None) -> None:
        self.state = state

    def describe_key(self, **_: Any) -> dict[str, Any]:
        if self.state is None:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "DescribeKey")
        return {"KeyMetadata": {"KeyState": self.state}}


def test_the_reader_reads_what_a_new_rule_needs_and_a_denied_read_names_its_permission(new_rule: Rule) -> None:
    trail = dict(_example().description)
    cloudtrail = CloudTrail(trail)
    # the shipped log-key-unusable reads the same key with its own read, and fires beside the new rule
    for kms, says in (
        (Kms("Disabled"), [NEW, "log-key-unusable"]),
        (Kms("Enabled"), []),
        (Kms(None), ["not-evaluable"]),
    ):
        services = {"cloudtrail": cloudtrail, "kms": kms}
        state = read_account(
            lambda _r: cloudtrail,  # type: ignore[arg-type,return-value]
            ["us-east-1"],
            lambda: "111122223333",
            clients=lambda service, _r, known=services: known[service],  # type: ignore[misc]
        )
        verdict = evaluate_account(state.account, state.trails)
        assert [f.rule for f in verdict.all_findings if f.trail_arn] == says
        if says == ["not-evaluable"]:
            assert "the caller lacks kms:DescribeKey" in verdict.all_findings[0].message


def test_an_advisory_rule_is_shown_but_never_counted_or_reverted(new_rule: Rule) -> None:
    del REGISTRY[NEW]
    register(replace(new_rule, advisory=True))
    facts = _example()
    state = TrailState(facts.description, facts.status, facts.selectors, extra=facts.extra)
    verdict = evaluate_account("111122223333", [state])

    (mine,) = verdict.all_findings
    assert mine.rule == NEW and not mine.counted
    assert verdict.compliant and verdict.covered and not verdict.counted
    assert plan(state.facts(Policy(), ident=state.arn), [mine]).calls == ()
    assert "kms:EnableKey" not in remediation_actions()


def test_a_new_module_in_the_rules_folder_is_registered_without_any_other_edit(tmp_path: Path) -> None:
    """A fresh interpreter, on a copy of the shipped code with one more file in rules/."""
    handlers = Path(__file__).resolve().parents[2] / "handlers"
    copy = tmp_path / "handlers"
    shutil.copytree(handlers, copy, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    (copy / "trailguard" / "rules" / "log_key_disabled.py").write_text(
        textwrap.dedent(f'''
        from .registry import Rule, register

        register(Rule(id="{NEW}", severity="high", meaning="The trail's KMS key is disabled.",
                      check=lambda facts: "disabled" if facts.status.get("LatestDeliveryError") else None))
        ''')
    )
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "from trailguard.judge import evaluate_trail; from trailguard.rules import REGISTRY, example; "
        "facts = example(status={'LatestDeliveryError': 'x'}); "
        f"print(REGISTRY[{NEW!r}].severity, [f.rule for f in evaluate_trail(facts)])"
    )
    done = subprocess.run([sys.executable, "-I", "-c", probe, str(copy)], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == f"high ['{NEW}', 'delivery-failing']"
