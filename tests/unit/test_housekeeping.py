"""The files people look for are there and say what the package says: the Apache-2.0 licence, the security
policy, the contributing guide and a changelog with the current version, and the installed metadata agrees."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest

import trailguard

ROOT = Path(__file__).resolve().parents[2]
DISTRIBUTION = "trailguard"
SUBSTANTIAL = 1500  # characters: more than a heading and a placeholder line


def read(name: str) -> str:
    path = ROOT / name
    assert path.is_file(), f"{name} is missing at the repository's root"
    return path.read_text(encoding="utf-8")


def test_license_is_the_apache_2_0_text() -> None:
    text = read("LICENSE")
    assert text.lstrip().startswith("Apache License")
    assert "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert "END OF TERMS AND CONDITIONS" in text
    # All nine sections, in order: a truncated or altered copy loses one.
    positions = [text.find(f"\n   {n}. ") for n in range(1, 10)]
    assert -1 not in positions and positions == sorted(positions)


@pytest.mark.parametrize("name", ["SECURITY.md", "CONTRIBUTING.md", "CHANGELOG.md"])
def test_housekeeping_file_is_substantial(name: str) -> None:
    text = read(name)
    assert text.startswith("# ")
    assert len(text) >= SUBSTANTIAL, f"{name} has {len(text)} characters"


def test_security_policy_says_to_report_privately_with_deadlines() -> None:
    text = read("SECURITY.md")
    assert "Report a vulnerability" in text
    assert "Never open a public issue" in text
    assert "3 working days" in text
    assert "30 days" in text
    assert "## What the detector can and cannot see" in text
    assert "## Handling of secrets" in text


def test_changelog_has_a_section_for_the_current_version() -> None:
    text = read("CHANGELOG.md")
    assert "## [Unreleased]" in text
    section = re.search(rf"^## \[{re.escape(trailguard.__version__)}\] - \d{{4}}-\d{{2}}-\d{{2}}$", text, re.M)
    assert section is not None, f"no '## [{trailguard.__version__}] - YYYY-MM-DD' section"
    assert text.index("## [Unreleased]") < section.start()


def test_contributing_says_how_to_test_and_how_to_add_a_rule() -> None:
    text = read("CONTRIBUTING.md")
    assert "make test" in text
    assert "## Adding a rule" in text
    assert "handlers/trailguard/rules/" in text
    assert "register(" in text


def test_installed_metadata_says_apache_2_0() -> None:
    meta = metadata.metadata(DISTRIBUTION)
    declared = (meta.get_all("License-Expression") or []) + (meta.get_all("License") or [])
    assert "Apache-2.0" in declared


def test_installed_metadata_has_the_package_version() -> None:
    assert metadata.version(DISTRIBUTION) == trailguard.__version__
