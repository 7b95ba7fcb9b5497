"""The account verdict (CIS 3.1: at least one compliant trail) and how it sets severities."""

from __future__ import annotations

from trailguard.judge import TrailState, evaluate_account

from .builders import ACCOUNT, OTHER_ACCOUNT, STOPPED, basic, basics, rules, state, trail

DRIFTED_SELECTORS = basics(basic("ReadOnly"))


def org_trail(owner: str, name: str = "org-trail") -> dict:
    return trail(name, account=owner, IsOrganizationTrail=True)


def severities(findings) -> list[tuple[str, str]]:
    return [(f.rule, f.severity) for f in findings]


def test_drifted_trail_next_to_a_compliant_one_stays_high_without_an_account_finding() -> None:
    drifted = state(trail("drifted"), selectors=DRIFTED_SELECTORS)
    verdict = evaluate_account(ACCOUNT, [state(trail("healthy")), drifted])

    assert verdict.covered
    assert verdict.outcome() == "findings"
    assert verdict.findings == ()
    assert severities(verdict.all_findings) == [("management-events-partial", "high")]


def test_two_drifted_trails_escalate_to_critical_with_no_compliant_trail() -> None:
    first = state(trail("first"), status=STOPPED)
    second = state(trail("second", IncludeGlobalServiceEvents=False), selectors=DRIFTED_SELECTORS)
    verdict = evaluate_account(ACCOUNT, [first, second])

    assert not verdict.covered
    assert severities(verdict.trails[0].findings) == [("logging-stopped", "critical")]
    assert severities(verdict.trails[1].findings) == [
        ("global-events-excluded", "medium"),
        ("management-events-partial", "critical"),
    ]
    (account_finding,) = verdict.findings
    assert (account_finding.rule, account_finding.severity, account_finding.trail_arn) == (
        "no-compliant-trail",
        "critical",
        None,
    )


def test_account_without_trails_has_no_compliant_trail() -> None:
    verdict = evaluate_account(ACCOUNT, [])

    assert not verdict.covered
    assert severities(verdict.findings) == [("no-compliant-trail", "critical")]


def test_single_compliant_trail_makes_the_account_compliant() -> None:
    verdict = evaluate_account(ACCOUNT, [state()])

    assert verdict.covered
    assert verdict.compliant
    assert verdict.all_findings == []


def test_a_member_account_judges_the_organization_trail_it_can_read_and_is_covered_by_it() -> None:
    # A member account reads an organization trail by ARN (CloudTrail API reference, GetTrailStatus Name): a
    # compliant one covers the account, and an advisory note says only its owner can change it.
    verdict = evaluate_account(ACCOUNT, [state(org_trail(OTHER_ACCOUNT))])

    (trail_verdict,) = verdict.trails
    assert trail_verdict.evaluated and trail_verdict.compliant
    assert verdict.covered and verdict.compliant
    assert severities(verdict.all_findings) == [("organization-trail-elsewhere", "low")]
    assert OTHER_ACCOUNT in verdict.all_findings[0].message
    assert not verdict.counted


def test_a_stopped_organization_trail_leaves_a_member_without_trails_uncovered() -> None:
    verdict = evaluate_account(ACCOUNT, [state(org_trail(OTHER_ACCOUNT), status=STOPPED)])

    assert severities(verdict.all_findings) == [
        ("logging-stopped", "critical"),
        ("organization-trail-elsewhere", "low"),
        ("no-compliant-trail", "critical"),
    ]
    assert verdict.outcome() == "findings"


def test_an_unreadable_organization_trail_leaves_the_account_unknown_not_drifted() -> None:
    verdict = evaluate_account(ACCOUNT, [TrailState(org_trail(OTHER_ACCOUNT), error="TrailNotFoundException")])

    assert rules(verdict.trails[0].findings) == ["not-evaluable", "organization-trail-elsewhere"]
    assert rules(verdict.findings) == ["not-evaluable"]
    assert verdict.outcome() == "unknown"


def test_own_organization_trail_is_evaluated_normally() -> None:
    own = state(org_trail(ACCOUNT))
    verdict = evaluate_account(ACCOUNT, [own])

    assert verdict.trails[0].evaluated
    assert verdict.covered
    assert verdict.all_findings == []


def test_own_organization_trail_that_drifted_is_reported_as_drift() -> None:
    verdict = evaluate_account(ACCOUNT, [state(org_trail(ACCOUNT), status=STOPPED)])

    assert severities(verdict.all_findings) == [("logging-stopped", "critical"), ("no-compliant-trail", "critical")]


def test_a_member_trail_that_drifts_while_the_organization_trail_covers_the_account_is_high() -> None:
    drifted = state(trail("drifted"), selectors=DRIFTED_SELECTORS)
    verdict = evaluate_account(ACCOUNT, [drifted, state(org_trail(OTHER_ACCOUNT))])

    assert verdict.covered
    assert severities(verdict.counted) == [("management-events-partial", "high")]
    assert "no-compliant-trail" not in rules(verdict.all_findings)


def test_unreadable_trail_is_not_evaluable_with_medium_severity() -> None:
    broken = TrailState(trail("locked"), error="AccessDeniedException: not authorized to GetEventSelectors")
    verdict = evaluate_account(ACCOUNT, [broken])

    (trail_verdict,) = verdict.trails
    assert severities(trail_verdict.findings) == [("not-evaluable", "medium")]
    assert "AccessDeniedException" in trail_verdict.findings[0].message
    assert trail_verdict.findings[0].trail_arn == trail("locked")["TrailARN"]
    assert "no-compliant-trail" not in rules(verdict.findings)
    assert not verdict.covered


def test_error_wins_over_readable_looking_state() -> None:
    verdict = evaluate_account(ACCOUNT, [state(error="ThrottlingException")])

    assert severities(verdict.trails[0].findings) == [("not-evaluable", "medium")]
    assert not verdict.covered


def test_unreadable_trail_next_to_a_compliant_trail_leaves_the_account_compliant() -> None:
    verdict = evaluate_account(ACCOUNT, [TrailState(trail("locked"), error="AccessDenied"), state(trail("ok"))])

    assert verdict.covered
    assert verdict.outcome() == "unknown"  # covered, but a trail could not be read
    assert severities(verdict.all_findings) == [("not-evaluable", "medium")]
