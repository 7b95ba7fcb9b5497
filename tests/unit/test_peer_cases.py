"""Configurations other tools judge, where trailguard's stricter policy must hold.

The shapes come from CloudSploit's and Prowler's CloudTrail checks (their spec cases and probes); the
trails, accounts and names here are trailguard's own. CloudSploit passes read-only selectors and stopped
trails and gives up (UNKNOWN) on advanced selectors; Prowler passes single-region trails and recognises an
advanced selector by its name.
"""

from __future__ import annotations

from trailguard.judge import TrailState, evaluate_account

from .builders import (
    ACCOUNT,
    STOPPED,
    adv,
    advanced,
    basic,
    basics,
    cond,
    fix_text,
    judge,
    mgmt,
    only,
    rules,
    state,
    trail,
)

KMS = "kms.amazonaws.com"
RDSDATA = "rdsdata.amazonaws.com"
NARROWED_SOURCES = [
    "iam.amazonaws.com",
    "ec2.amazonaws.com",
    "s3.amazonaws.com",
    "cloudtrail.amazonaws.com",
    "sts.amazonaws.com",
]


# CloudSploit


def test_console_created_advanced_management_selector_is_compliant_not_unknown() -> None:
    assert judge(advanced(mgmt(name="Management events selector"))) == []


def test_advanced_read_only_selector_dropping_core_services_is_partial_and_excludes_them() -> None:
    selectors = advanced(
        mgmt(cond("readOnly", Equals=["true"]), cond("eventSource", NotEquals=NARROWED_SOURCES), name="narrowed")
    )
    findings = judge(selectors)

    assert rules(findings) == ["management-events-partial", "management-sources-excluded"]
    for source in NARROWED_SOURCES:
        assert source in findings[1].message


def test_advanced_data_only_selectors_exclude_management_events_not_unknown() -> None:
    selectors = advanced(
        adv(cond("eventCategory", Equals=["Data"]), cond("resources.type", Equals=["AWS::S3::Object"]))
    )
    assert rules(judge(selectors)) == ["management-events-excluded"]


def test_basic_read_only_management_selector_does_not_pass() -> None:
    assert rules(judge(basics(basic("ReadOnly")))) == ["management-events-partial"]


def test_kms_and_rdsdata_exclusions_do_not_pass_by_default() -> None:
    finding = only(judge(basics(basic(exclude=[KMS, RDSDATA]))), "management-sources-excluded")
    assert KMS in finding.message
    assert RDSDATA in finding.message


def test_kms_and_rdsdata_exclusions_pass_when_both_are_allowed() -> None:
    assert judge(basics(basic(exclude=[KMS, RDSDATA])), allowed=[KMS, RDSDATA]) == []


def test_rdsdata_exclusion_is_reported_when_only_kms_is_allowed() -> None:
    finding = only(judge(basics(basic(exclude=[KMS, RDSDATA])), allowed=[KMS]), "management-sources-excluded")
    assert RDSDATA in finding.message
    assert KMS not in finding.message


def test_empty_basic_selector_list_excludes_management_events() -> None:
    assert rules(judge(basics())) == ["management-events-excluded"]


def test_stopped_trail_with_management_events_does_not_pass() -> None:
    assert rules(judge(status=STOPPED)) == ["logging-stopped"]


def test_management_events_switched_off_on_a_logging_trail_are_excluded() -> None:
    assert rules(judge(basics(basic(include=False)))) == ["management-events-excluded"]


def test_trail_whose_status_cannot_be_read_is_not_evaluable_rather_than_passed() -> None:
    verdict = evaluate_account(ACCOUNT, [TrailState(trail(), None, basics(basic()), "AccessDeniedException")])

    (trail_verdict,) = verdict.trails
    assert not trail_verdict.compliant
    assert rules(trail_verdict.findings) == ["not-evaluable"]
    assert not verdict.covered


def test_stopped_trail_next_to_a_logging_one_is_still_reported() -> None:
    stopped = state(trail("stopped-trail"), status=STOPPED)
    verdict = evaluate_account(ACCOUNT, [stopped, state(trail("running-trail"))])

    assert verdict.covered
    assert [(f.rule, f.severity) for f in verdict.all_findings] == [("logging-stopped", "high")]


# Prowler


def test_single_region_logging_trail_does_not_pass() -> None:
    assert rules(judge(IsMultiRegionTrail=False)) == ["not-multi-region"]


def test_single_region_trail_alone_leaves_the_account_without_a_compliant_trail() -> None:
    verdict = evaluate_account(ACCOUNT, [state(trail(IsMultiRegionTrail=False))])

    assert not verdict.covered
    assert rules(verdict.findings) == ["no-compliant-trail"]


def test_selector_named_management_events_with_data_category_does_not_count() -> None:
    selectors = advanced(adv(cond("eventCategory", Equals=["Data"]), name="Management events selector"))
    assert rules(judge(selectors)) == ["management-events-excluded"]


def test_misspelt_category_with_read_only_condition_logs_no_management_events() -> None:
    selectors = advanced(
        adv(
            cond("eventCategory", Equals=["Managment"]),
            cond("readOnly", Equals=["true"]),
            name="Management events selector",
        )
    )
    assert rules(judge(selectors)) == ["management-events-excluded"]


def test_read_only_management_selector_is_partial_whatever_its_name() -> None:
    selectors = advanced(mgmt(cond("readOnly", Equals=["true"]), name="Management events selector"))
    assert rules(judge(selectors)) == ["management-events-partial"]


def test_basic_read_only_selector_with_management_off_is_excluded() -> None:
    assert rules(judge(basics(basic("ReadOnly", include=False)))) == ["management-events-excluded"]


def test_multi_region_trail_next_to_a_stopped_single_region_trail_keeps_the_account_compliant() -> None:
    regional = state(trail("regional-trail", region="eu-central-1", IsMultiRegionTrail=False), status=STOPPED)
    verdict = evaluate_account(ACCOUNT, [state(trail("org-wide")), regional])

    assert verdict.covered
    assert verdict.findings == ()
    assert {(f.rule, f.severity) for f in verdict.all_findings} == {
        ("logging-stopped", "high"),
        ("not-multi-region", "high"),
    }


def test_account_fix_creates_a_multi_region_trail_and_starts_logging() -> None:
    (finding,) = evaluate_account(ACCOUNT, [], region="eu-west-1").findings
    fix = fix_text(finding)

    assert "create-trail" in fix
    assert "--is-multi-region-trail" in fix
    assert "start-logging" in fix
    assert "--region eu-west-1" in fix
