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


def test_foreign_organization_trail_alone_is_not_evaluable_not_drift() -> None:
    foreign = state(org_trail(OTHER_ACCOUNT), status=STOPPED, selectors={})
    verdict = evaluate_account(ACCOUNT, [foreign])

    (trail_verdict,) = verdict.trails
    assert not trail_verdict.evaluated
    assert not trail_verdict.compliant
    assert severities(trail_verdict.findings) == [("organization-trail-elsewhere", "low")]
    assert OTHER_ACCOUNT in trail_verdict.findings[0].message
    assert rules(verdict.findings) == ["not-evaluable"]
    assert not verdict.covered
    assert verdict.outcome() == "unknown"


def test_foreign_organization_trail_is_never_compliant_even_when_it_looks_compliant() -> None:
    verdict = evaluate_account(ACCOUNT, [state(org_trail(OTHER_ACCOUNT))])

    assert not verdict.trails[0].compliant
    assert "no-compliant-trail" not in rules(verdict.all_findings)
    assert not verdict.covered


def test_own_organization_trail_is_evaluated_normally() -> None:
    own = state(org_trail(ACCOUNT))
    verdict = evaluate_account(ACCOUNT, [own])

    assert verdict.trails[0].evaluated
    assert verdict.covered
    assert verdict.all_findings == []


def test_own_organization_trail_that_drifted_is_reported_as_drift() -> None:
    verdict = evaluate_account(ACCOUNT, [state(org_trail(ACCOUNT), status=STOPPED)])

    assert severities(verdict.all_findings) == [("logging-stopped", "critical"), ("no-compliant-trail", "critical")]


def test_foreign_organization_trail_next_to_a_compliant_trail_leaves_the_account_compliant() -> None:
    verdict = evaluate_account(ACCOUNT, [state(org_trail(OTHER_ACCOUNT)), state(trail("own"))])

    assert verdict.covered
    assert verdict.compliant  # an organization trail judged elsewhere (low) does not make the verdict unknown
    assert severities(verdict.all_findings) == [("organization-trail-elsewhere", "low")]


def test_drifted_trail_next_to_a_foreign_organization_trail_stays_high_while_the_account_is_unknown() -> None:
    # The organization trail may well log everything: the account is not known to be without a compliant
    # trail, so the regression is not escalated to critical and no-compliant-trail is not claimed.
    drifted = state(trail("drifted"), selectors=DRIFTED_SELECTORS)
    verdict = evaluate_account(ACCOUNT, [drifted, state(org_trail(OTHER_ACCOUNT))])

    assert rules(verdict.findings) == ["not-evaluable"]
    assert severities(verdict.trails[0].findings) == [("management-events-partial", "high")]


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
