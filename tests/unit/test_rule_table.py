"""The rule table is complete, and the README's copy of it says what the code says."""

from __future__ import annotations

import re
from pathlib import Path

from trailguard.rules import RULES, SEVERITIES

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_rule_has_all_its_fields() -> None:
    for rule in RULES.values():
        assert rule.severity in SEVERITIES
        assert rule.scope in ("trail", "account")
        assert rule.meaning.endswith(".")
        assert rule.revert and rule.cloudformation and rule.terraform
        assert all(re.fullmatch(r"(cloudtrail:[A-Z][A-Za-z]+|iam:PassRole)", a) for a in rule.revert_actions)


def test_readme_rule_table_matches_the_code() -> None:
    rows = re.findall(r"^\| `([a-z-]+)` \| (\w+) \| (.+) \|$", README.read_text(), flags=re.MULTILINE)

    assert [(rule, severity, meaning) for rule, severity, meaning in rows if rule in RULES] == [
        (r.id, r.severity, r.meaning) for r in RULES.values()
    ]
