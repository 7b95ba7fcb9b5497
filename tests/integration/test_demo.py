"""`make demo` runs `trailguard demo`: every scenario's verdict, alert and revert as the demo expects, told so a
person reads it to the end (each kind of Slack message in full once, then only what differs), and `--brief`."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from trailguard_dev.demo import ATTACKS, BENIGN, DRY_RUN, SWEPT, TITLE_WIDTH, WIDTH, _fit, message_kind
from trailguard_dev.demo_answer import TITLES as ANSWERS
from trailguard_dev.demo_org import TITLES
from trailguard_dev.demo_watch import TITLES as WATCHERS

from .conftest import Audit, run_trailguard

pytestmark = pytest.mark.integration

FINAL = "Every scenario came out as expected."
ROW = re.compile(rf"^  [ \d]\d\. (?P<title>.{{{TITLE_WIDTH}}}) (?P<verdict>\S+) +(?P<ms>\d+|-)  (?P<ok>\S+)$")
FULL = re.compile(r"^  Slack message #(\d+), in full \(the first “(.+)”\):\n    │ (.*)$", re.MULTILINE)


def _summary(stdout: str) -> list[str]:
    return stdout[stdout.rindex("\nSummary\n") + 1 :].splitlines()


def _rows(summary: list[str]) -> list[tuple[str, str, str, str]]:
    """(phase, title, verdict, ok) per scenario row; a phase's rows follow a line naming it."""
    rows, phase = [], ""
    for line in summary[2:]:
        if match := ROW.match(line):
            rows.append((phase, match["title"].rstrip(), match["verdict"], match["ok"]))
        elif re.fullmatch(r"  [a-z][A-Za-z ]+", line):
            phase = line.strip()
    return rows


def _phases(stdout: str) -> dict[str, str]:
    """The story under each ━━ banner, by the banner's first words (ALERT ONLY, DRY RUN, ...)."""
    parts = re.split(r"^━━ ([A-Z][A-Z ]+?)(?: \(|\s━)[^\n]*$", stdout[: stdout.rindex("\nSummary\n")], flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _scenarios(section: str) -> list[str]:
    """A phase's scenarios, each from its ── header to the next."""
    return ["── " + part for part in section.split("\n── ")[1:]]


def test_demo_plays_every_scenario_and_each_comes_out_as_expected() -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        full, brief = pool.map(lambda args: run_trailguard(*args), [("demo",), ("demo", "--brief")])
    _check_full(full)
    _check_brief(brief, _summary(full.stdout))


def _check_full(done: Audit) -> None:
    assert done.code == 0, done.stdout[-3000:] + done.stderr
    assert done.stdout.rstrip().splitlines()[-1] == FINAL
    summary = _summary(done.stdout)
    expected = [("alert only", _fit(s.title, TITLE_WIDTH), s.status, "yes") for s in ATTACKS + BENIGN + SWEPT]
    expected += [("dry run", _fit(s.title, TITLE_WIDTH), s.status, "yes") for s in DRY_RUN]
    expected += [("remediation on", _fit(s.title, TITLE_WIDTH), s.status, "yes") for s in ATTACKS]
    expected += [("watch watchers", _fit(title, TITLE_WIDTH), "drift", "yes") for title in WATCHERS]
    expected += [("answer from Slack", _fit(title, TITLE_WIDTH), "answered", "yes") for title in ANSWERS]
    expected += [("organization", _fit(title, TITLE_WIDTH), "drift", "yes") for title in TITLES]
    assert _rows(summary) == expected
    assert [line for line in summary if len(line) > WIDTH] == []
    assert "back at its baseline after the remediation phase: yes (6 of 6)" in "\n".join(summary)
    assert re.search(
        r"Sent in total: [1-9]\d* Slack posts and [1-9]\d* emails\. Duplicates sent: 0\.", "\n".join(summary)
    )

    phases = _phases(done.stdout)
    assert list(phases) == ["ALERT ONLY", "DRY RUN", "REMEDIATION ON", "WATCH THE WATCHERS", "ANSWER FROM SLACK",
                            "ORGANIZATION"]  # fmt: skip
    alert_only = _scenarios(phases["ALERT ONLY"])
    assert len(alert_only) == len(ATTACKS + BENIGN + SWEPT)
    # the duplicate sent nothing and shows nothing
    duplicate = alert_only[len(ATTACKS) + 2]
    assert "delivered twice" in duplicate and "no message: duplicate of the first delivery" in duplicate
    assert "Slack message" not in duplicate and "Email" not in duplicate and "time from" not in duplicate
    # the timing only where an alert was sent
    for scenario in (s for phase in phases.values() for s in _scenarios(phase)):
        sent = "Slack message" in scenario or "Email  Subject:" in scenario
        assert ("time from" in scenario) == sent, scenario[:300]
    assert "time from the call to the alert:" in alert_only[0]
    # each kind of Slack message once in full, the others as what differs from the first of their kind
    full = FULL.findall(done.stdout)
    assert [int(number) for number, _, _ in full] == list(range(1, len(full) + 1))
    assert len({kind for _, kind, _ in full}) == len(full)
    assert all(message_kind(headline) == kind for _, kind, headline in full)
    as_before = [int(n) for n in re.findall(r"^  Slack message: as #(\d+)", done.stdout, flags=re.M)]
    assert as_before and set(as_before) <= set(range(1, len(full) + 1))
    shown = re.findall(r"^  Slack message", done.stdout, flags=re.MULTILINE)
    assert len(shown) == len(full) + len(as_before)
    assert "Slack message #1, in full" in alert_only[0] and all("as #1 except:" in s for s in alert_only[1:6])
    # the email: the subject always, the body once
    assert done.stdout.count("Email  Subject: [trailguard]") == len(shown)  # every alert goes to both
    assert done.stdout.count("body as before, with this trail's facts") == done.stdout.count("Email  Subject:") - 1
    # the sweep finds a change whose event never came; dry-run says what it would revert, and changes nothing
    assert "notified: slack" in alert_only[-1] and "Slack message" in alert_only[-1]
    dry_run = phases["DRY RUN"]
    assert "revert: StartLogging -> dry-run" in dry_run and "revert: CreateTrail -> dry-run" in dry_run
    assert "-> done" not in dry_run
    assert "revert: CreateTrail -> done" in phases["REMEDIATION ON"]
    # watch the watchers, and the organization
    watchers, organization = phases["WATCH THE WATCHERS"], phases["ORGANIZATION"]
    assert "detector-tampered (critical)" in watchers and "aws events enable-rule" in watchers
    assert "in eu-west-1: never comes back" in watchers and "in us-east-1: came back, status heartbeat" in watchers
    assert "findings: event-pipeline-silent (critical)   notified: slack, sns" in watchers
    assert "Account: " in organization and " (prod)" in organization  # alerts name the member account
    assert "Blast radius: 3 of 4 accounts" in organization
    assert 'batch answer: {"batchItemFailures": []}' in organization
    answered = _scenarios(phases["ANSWER FROM SLACK"])
    assert "[Accept as baseline]" in answered[0] and "[Revert now]" in answered[1]  # the alerts' buttons
    assert "A forged click (signed with another secret): HTTP 401, nothing done" in answered[0]
    assert "Accept as baseline clicked by <@U0SECLEAD>: the endpoint answered HTTP 200" in answered[0]
    assert "Slack, in the alert's thread: Accepted as baseline by <@U0SECLEAD>" in answered[0]
    assert "SNS notice  Subject: [trailguard] Accepted as baseline: org-audit" in answered[0]
    assert "the next sweep: compliant, findings: -" in answered[0]
    assert "revert: StartLogging -> suspended" in answered[1] and "is logging again: yes" in answered[1]
    assert "Slack, in the alert's thread: Reverted now by <@U0SECLEAD>" in answered[1]
    assert '"level"' not in done.stdout  # the handler's own log lines stay out of the story


def _check_brief(done: Audit, summary: list[str]) -> None:
    assert done.code == 0, done.stdout[-3000:] + done.stderr
    lines = done.stdout.rstrip().splitlines()
    assert len(lines) < 120, done.stdout
    assert lines[-1] == FINAL
    assert "│" not in done.stdout and "Slack message" not in done.stdout  # no message, no detail
    assert _rows(_summary(done.stdout)) == _rows(summary)
    headers = [line for line in lines if line.startswith("── ")]
    verdicts = [line for line in lines if line.startswith("  verdict: ")]
    assert len(headers) == len(verdicts) == len(_rows(summary))
