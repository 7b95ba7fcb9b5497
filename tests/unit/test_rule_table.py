"""The rule registry, table-driven: every rule is complete, the README's table says what the code says, the
IAM a revert is granted is exactly what the fixes need, and each rule's example is broken by it and repaired
by its own fix. Nothing outside the rule units names a rule by its id."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from trailguard.baseline import DESTINATIONS, TRAIL_FLAGS
from trailguard.judge import evaluate_trail
from trailguard.rules import REGISTRY, SEVERITIES, Call, Facts, Rule, in_order, revert_actions, service_of

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
RULES = list(REGISTRY.values())
ids = [r.id for r in RULES]


def readme_rows(text: str) -> list[tuple[str, str, str]]:
    """The README policy table's rows: (rule id, severity, meaning)."""
    return re.findall(r"^\| `([a-z0-9-]+)` \| (\w+) \| (.+) \|$", text, flags=re.MULTILINE)


def readme_problems(text: str) -> list[str]:
    """What the README's rule table gets wrong about the registry (empty when it matches)."""
    rows = [row for row in readme_rows(text) if row[0] in REGISTRY or "-" in row[0]]
    expected = [(r.id, r.severity, r.meaning) for r in in_order()]
    missing = [f"no README row for {r[0]}" for r in expected if r not in rows]
    extra = [f"README row {r[0]} is not the registry's" for r in rows if r not in expected]
    if missing or extra or rows == expected:
        return missing + extra
    first = next(n for n, (row, want) in enumerate(zip(rows, expected, strict=True)) if row != want)
    after = f"after {expected[first - 1][0]}" if first else "first"
    return [f"README rows are out of order: {expected[first][0]} goes {after} (the registry's order)"]


def needed_actions(calls: tuple[Call, ...]) -> set[str]:
    """The IAM actions these calls need, as the IAM service authorisation reference says."""
    needed = {":".join(service_of(operation)) for operation, _ in calls}
    for _, arguments in calls:
        if "TagsList" in arguments:
            needed.add("cloudtrail:AddTags")  # tags given at creation are authorised as AddTags
        if "CloudWatchLogsRoleArn" in arguments:
            needed.add("iam:PassRole")  # the delivery role is handed to CloudTrail
    return needed


DESCRIBED = {api: described for described, api in {**DESTINATIONS, **TRAIL_FLAGS}.items()}


def applied(facts: Facts, calls: tuple[Call, ...]) -> Facts:
    """The facts after CloudTrail made these calls: a small model of what each call changes."""
    description: dict[str, Any] = dict(facts.description)
    status: dict[str, Any] = dict(facts.status)
    selectors: Mapping[str, Any] = facts.selectors
    for operation, arguments in calls:
        settings = {DESCRIBED.get(k, k): v for k, v in arguments.items() if k not in ("Name", "TrailName", "TagsList")}
        if operation == "CreateTrail":
            arn = facts.baseline.arn if facts.baseline else ""
            description = {"Name": arguments["Name"], "TrailARN": arn, "HomeRegion": facts.region, **settings}
        elif operation == "UpdateTrail":
            description.update(settings)
        elif operation == "PutEventSelectors":
            selectors = settings
        elif operation == "StartLogging":
            status["IsLogging"] = True
    return replace(facts, description=description, status=status, selectors=selectors)


@pytest.mark.parametrize("rule", RULES, ids=ids)
def test_every_rule_is_complete(rule: Rule) -> None:
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", rule.id)
    assert rule.severity in SEVERITIES
    assert rule.scope in ("trail", "account")
    assert rule.meaning.endswith(".") and len(rule.meaning.split(". ")) <= 2
    assert all(re.fullmatch(r"[a-z0-9-]+:[A-Z][A-Za-z0-9]+", a) for a in rule.revert_actions)
    if rule.revertible:
        assert rule.revert_actions, "a rule that is reverted declares the IAM its calls need"
        assert rule.example is not None, "a revertible rule shows an example its fix repairs"
    else:
        assert not rule.revert_actions, "IAM is declared only for calls a revert makes"
    if rule.check:
        assert rule.example is not None, "a checked rule shows an example that breaks it"
    assert not (rule.unknown and rule.check), "a 'could not tell' finding is raised by the evaluator, not checked"
    assert not (rule.scope == "account" and rule.check), "account findings are raised by the evaluator"


@pytest.mark.parametrize("rule", [r for r in RULES if r.example], ids=[r.id for r in RULES if r.example])
def test_each_example_breaks_its_rule_and_its_fix_repairs_it(rule: Rule) -> None:
    assert rule.example is not None
    facts = rule.example()
    if rule.check:
        assert rule.fires(facts), f"{rule.id}'s example does not break it"
    if rule.fix is None:
        return  # a person must act (a bucket policy, a key): nothing to repair by API
    calls = rule.calls(facts)
    assert calls, f"{rule.id}'s fix has no calls for its own example"
    if not rule.automatic:
        return  # its calls need a person's input (a bucket, a key): shown, never made, so no IAM and no repair
    assert needed_actions(calls) == set(rule.revert_actions)
    repaired = applied(facts, calls)
    assert rule.fires(repaired) is None
    assert [f.rule for f in evaluate_trail(repaired) if not REGISTRY[f.rule].advisory] == []


def test_the_stack_grants_exactly_the_union_of_the_revert_actions() -> None:
    from stacks.detector import remediation_actions

    union = {a for r in RULES if r.revertible for a in r.revert_actions}
    assert set(remediation_actions()) == union == set(revert_actions())


def test_readme_rule_table_matches_the_registry() -> None:
    assert readme_problems(README.read_text()) == []


def test_the_readme_check_notices_a_missing_or_wrong_row() -> None:
    text = README.read_text()
    first = in_order()[0]
    row = f"| `{first.id}` | {first.severity} | {first.meaning} |"
    assert row in text
    assert readme_problems(text.replace(row + "\n", "")) == [f"no README row for {first.id}"]
    assert readme_problems(text.replace(row, row.replace(first.severity, "low", 1)))


def test_findings_are_listed_in_registry_order_and_account_rules_last() -> None:
    order = [r.id for r in in_order()]
    assert order[-1] == "no-compliant-trail"
    scopes = [REGISTRY[i].scope for i in order]
    assert scopes == sorted(scopes, key=lambda scope: scope == "account")  # every trail rule, then the account's


def test_no_module_outside_the_rule_units_names_a_rule_id() -> None:
    """The evaluator, fixes, revert, renderers and stacks iterate the registry; none compares rule-id strings."""
    offenders = []
    shipped = [*(REPO / "handlers").rglob("*.py"), *(REPO / "stacks").rglob("*.py")]
    for path in shipped:
        if "rules" in path.relative_to(REPO).parts:
            continue
        text = path.read_text()
        offenders += [f"{path.relative_to(REPO)}: {i}" for i in ids if f'"{i}"' in text or f"'{i}'" in text]
    assert offenders == []
