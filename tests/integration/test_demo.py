"""`make demo` runs `trailguard demo`: every scenario's verdict, alert and revert as the demo expects."""

from __future__ import annotations

import pytest

from trailguard_dev.demo import ATTACKS, BENIGN, _fit
from trailguard_dev.demo_org import TITLES
from trailguard_dev.demo_watch import TITLES as WATCHERS

from .conftest import run_trailguard

pytestmark = pytest.mark.integration


def test_demo_plays_every_scenario_and_each_comes_out_as_expected() -> None:
    done = run_trailguard("demo")

    assert done.code == 0, done.stdout[-3000:] + done.stderr
    assert done.stdout.rstrip().endswith("Every scenario came out as expected.")
    summary = done.stdout[done.stdout.index("\nSummary\n") :].splitlines()[3:-2]
    rows = [(line[2:17].strip(), line[18:90].strip(), line[91:106].strip(), line.rstrip()[-3:]) for line in summary]
    expected = [("alert only", _fit(s.title, 72), s.status, "yes") for s in ATTACKS + BENIGN]
    expected += [("remediation on", _fit(s.title, 72), s.status, "yes") for s in ATTACKS]
    expected += [("watch watchers", _fit(title, 72), "drift", "yes") for title in WATCHERS]
    expected += [("organization", _fit(title, 72), "drift", "yes") for title in TITLES]
    assert rows == expected
    # the story people see: the Slack message rendered from its blocks, the email, the timing, the reverts
    single, rest = done.stdout.split("━━ WATCH THE WATCHERS", 1)
    watchers, organization = rest.split("━━ ORGANIZATION", 1)
    assert single.count("Slack, as people read it:") == len(ATTACKS) * 2 + 3  # + the notice, duplicate and gap
    assert "detector-tampered (critical)" in watchers and "aws events enable-rule" in watchers
    assert "in eu-west-1: never comes back" in watchers and "in us-east-1: came back, status heartbeat" in watchers
    assert "findings: event-pipeline-silent (critical)   notified: slack, sns" in watchers
    assert "Account: " in organization and " (prod)" in organization  # alerts name the member account
    assert "Blast radius: 3 of 4 accounts" in organization
    assert 'batch answer: {"batchItemFailures": []}' in organization
    assert "Email  Subject: [trailguard]" in done.stdout
    assert "time from the call to the alert:" in done.stdout
    assert "revert: CreateTrail -> done" in done.stdout
    assert '"level"' not in done.stdout  # the handler's own log lines stay out of the story
