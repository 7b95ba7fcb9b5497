"""`make demo` runs `trailguard demo`: every scenario must come out as the demo expects."""

from __future__ import annotations

import pytest

from .conftest import run_trailguard

pytestmark = pytest.mark.integration


def test_demo_runs_to_the_end_and_every_scenario_comes_out_as_expected() -> None:
    done = run_trailguard("demo")

    assert done.code == 0, done.stdout + done.stderr
    assert "Every scenario came out as expected." in done.stdout
    table = done.stdout[done.stdout.index("TRAIL                EXPECTED") :]
    rows = [line.split() for line in table.splitlines()[1:8]]
    assert [(row[0], row[-1]) for row in rows] == [
        ("demo-good", "yes"),
        ("demo-stopped", "yes"),
        ("demo-mgmt-off", "yes"),
        ("demo-read-only", "yes"),
        ("demo-no-iam", "yes"),
        ("demo-single-region", "yes"),
        ("(account)", "yes"),
    ]
    # the fix offered for the Stratus payload keeps the trail's S3 and Lambda data events
    fix = next(line for line in done.stdout.splitlines() if "--trail-name demo-mgmt-off" in line)
    assert "AWS::S3::Object" in fix and "AWS::Lambda::Function" in fix
