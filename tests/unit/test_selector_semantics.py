"""What basic and advanced selectors log of management events, as the policy judges it."""

from __future__ import annotations

import pytest

from .builders import adv, advanced, basic, basics, cond, judge, mgmt, only, rules, s3_data_selector

IAM = "iam.amazonaws.com"
KMS = "kms.amazonaws.com"
RDSDATA = "rdsdata.amazonaws.com"
READS = cond("readOnly", Equals=["true"])
WRITES = cond("readOnly", Equals=["false"])
S3_OBJECTS = {"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::payroll-exports/"]}


# Basic selectors


def test_basic_selector_without_include_management_events_logs_them_by_default() -> None:
    assert judge(basics(basic(include=None))) == []


def test_basic_selector_without_read_write_type_logs_reads_and_writes() -> None:
    assert judge(basics(basic(read_write=None))) == []


def test_read_only_management_selector_is_partial() -> None:
    finding = only(judge(basics(basic("ReadOnly"))), "management-events-partial")
    assert "write" in finding.message


def test_write_only_management_selector_is_partial() -> None:
    finding = only(judge(basics(basic("WriteOnly"))), "management-events-partial")
    assert "read" in finding.message


def test_read_only_and_write_only_selectors_together_log_everything() -> None:
    assert judge(basics(basic("ReadOnly"), basic("WriteOnly"))) == []


def test_two_read_only_selectors_are_still_partial() -> None:
    assert rules(judge(basics(basic("ReadOnly"), basic("ReadOnly", data=[S3_OBJECTS])))) == [
        "management-events-partial"
    ]


def test_basic_selector_with_management_events_off_logs_none() -> None:
    assert rules(judge(basics(basic(include=False)))) == ["management-events-excluded"]


def test_data_only_basic_selectors_log_no_management_events() -> None:
    selectors = basics(basic(include=False, data=[S3_OBJECTS]), basic("ReadOnly", include=False, data=[S3_OBJECTS]))
    assert rules(judge(selectors)) == ["management-events-excluded"]


def test_management_selector_next_to_a_data_only_selector_is_compliant() -> None:
    assert judge(basics(basic(include=False, data=[S3_OBJECTS]), basic())) == []


def test_management_selector_with_data_resources_is_compliant() -> None:
    assert judge(basics(basic(data=[S3_OBJECTS]))) == []


def test_basic_excluded_event_source_is_named() -> None:
    finding = only(judge(basics(basic(exclude=[IAM]))), "management-sources-excluded")
    assert IAM in finding.message


def test_source_excluded_by_the_read_only_selector_drops_its_reads() -> None:
    findings = judge(basics(basic("ReadOnly", exclude=[IAM]), basic("WriteOnly")))
    assert rules(findings) == ["management-sources-excluded"]
    assert IAM in findings[0].message
    assert "read" in findings[0].message


def test_source_excluded_by_one_selector_but_logged_by_another_is_compliant() -> None:
    assert judge(basics(basic(exclude=[IAM]), basic())) == []


# Advanced selectors: every operator on eventSource


def test_advanced_selector_dropping_iam_excludes_that_source() -> None:
    finding = only(judge(advanced(mgmt(cond("eventSource", NotEquals=[IAM])))), "management-sources-excluded")
    assert IAM in finding.message


def test_event_source_equals_logs_only_that_source() -> None:
    finding = only(judge(advanced(mgmt(cond("eventSource", Equals=[IAM])))), "management-sources-excluded")
    assert IAM in finding.message


def test_event_source_starts_with_logs_only_matching_sources() -> None:
    assert rules(judge(advanced(mgmt(cond("eventSource", StartsWith=["iam"]))))) == ["management-sources-excluded"]


def test_event_source_not_starts_with_drops_matching_sources() -> None:
    finding = only(judge(advanced(mgmt(cond("eventSource", NotStartsWith=["iam"])))), "management-sources-excluded")
    assert "'iam'" in finding.message


def test_event_source_ends_with_logs_only_matching_sources() -> None:
    selectors = advanced(mgmt(cond("eventSource", EndsWith=[".amazonaws.com"])))
    assert rules(judge(selectors)) == ["management-sources-excluded"]


def test_event_source_not_ends_with_drops_matching_sources() -> None:
    finding = only(
        judge(advanced(mgmt(cond("eventSource", NotEndsWith=["s.amazonaws.com"])))), "management-sources-excluded"
    )
    assert "'s.amazonaws.com'" in finding.message


def test_event_source_starts_with_empty_string_logs_every_source() -> None:
    assert judge(advanced(mgmt(cond("eventSource", StartsWith=[""])))) == []


def test_excluding_a_source_with_one_selector_and_logging_it_with_another_is_compliant() -> None:
    selectors = advanced(mgmt(cond("eventSource", NotEquals=[IAM])), mgmt(cond("eventSource", Equals=[IAM])))
    assert judge(selectors) == []


def test_prefix_dropped_by_one_selector_and_logged_by_another_is_compliant() -> None:
    selectors = advanced(mgmt(cond("eventSource", NotStartsWith=["iam"])), mgmt(cond("eventSource", StartsWith=["ia"])))
    assert judge(selectors) == []


def test_suffix_dropped_by_one_selector_and_logged_by_another_is_compliant() -> None:
    selectors = advanced(
        mgmt(cond("eventSource", NotEndsWith=[".amazonaws.com"])), mgmt(cond("eventSource", EndsWith=[".com"]))
    )
    assert judge(selectors) == []


# Advanced selectors: every operator on readOnly


def test_read_only_equals_true_is_partial() -> None:
    assert rules(judge(advanced(mgmt(READS)))) == ["management-events-partial"]


def test_read_only_equals_false_is_partial() -> None:
    assert rules(judge(advanced(mgmt(WRITES)))) == ["management-events-partial"]


def test_read_only_not_equals_true_logs_only_writes() -> None:
    finding = only(judge(advanced(mgmt(cond("readOnly", NotEquals=["true"])))), "management-events-partial")
    assert "read events are not logged" in finding.message


def test_read_only_starts_with_t_logs_only_reads() -> None:
    assert rules(judge(advanced(mgmt(cond("readOnly", StartsWith=["t"]))))) == ["management-events-partial"]


def test_read_only_not_starts_with_f_logs_only_reads() -> None:
    assert rules(judge(advanced(mgmt(cond("readOnly", NotStartsWith=["f"]))))) == ["management-events-partial"]


def test_read_only_ends_with_e_matches_both_halves() -> None:
    assert judge(advanced(mgmt(cond("readOnly", EndsWith=["e"])))) == []


def test_read_only_ends_with_se_logs_only_writes() -> None:
    assert rules(judge(advanced(mgmt(cond("readOnly", EndsWith=["se"]))))) == ["management-events-partial"]


def test_read_only_not_ends_with_e_logs_nothing() -> None:
    assert rules(judge(advanced(mgmt(cond("readOnly", NotEndsWith=["e"]))))) == ["management-events-excluded"]


def test_read_only_equals_both_values_logs_everything() -> None:
    assert judge(advanced(mgmt(cond("readOnly", Equals=["true", "false"])))) == []


def test_read_and_write_selectors_or_together_to_log_everything() -> None:
    assert judge(advanced(mgmt(READS), mgmt(WRITES))) == []


def test_read_selector_next_to_a_write_selector_of_another_category_is_partial() -> None:
    selectors = advanced(mgmt(READS), adv(cond("eventCategory", Equals=["Data"]), WRITES))
    assert rules(judge(selectors)) == ["management-events-partial"]


# AND within a selector, several operators in one field condition


def test_conditions_in_one_selector_are_and_ed() -> None:
    finding = only(
        judge(advanced(mgmt(READS, cond("eventSource", Equals=[IAM])), mgmt(WRITES))), "management-sources-excluded"
    )
    assert "read" in finding.message
    assert IAM in finding.message


def test_selectors_that_cover_every_read_write_and_source_combination_are_compliant() -> None:
    selectors = advanced(
        mgmt(READS),
        mgmt(WRITES, cond("eventSource", NotEquals=[IAM])),
        mgmt(WRITES, cond("eventSource", Equals=[IAM])),
    )
    assert judge(selectors) == []


def test_writes_of_one_source_missing_between_selectors_are_reported() -> None:
    selectors = advanced(mgmt(READS), mgmt(WRITES, cond("eventSource", NotEquals=[IAM])))
    finding = only(judge(selectors), "management-sources-excluded")
    assert "write" in finding.message
    assert IAM in finding.message


def test_including_operators_in_one_condition_are_or_ed() -> None:
    selectors = advanced(
        mgmt(cond("eventSource", NotStartsWith=["iam"], NotEquals=[KMS])),
        mgmt(cond("eventSource", Equals=[KMS], StartsWith=["iam"])),
    )
    assert judge(selectors) == []


def test_excluding_operators_in_one_condition_are_and_ed() -> None:
    finding = only(
        judge(advanced(mgmt(cond("eventSource", NotStartsWith=["iam"], NotEquals=[KMS])))),
        "management-sources-excluded",
    )
    assert KMS in finding.message
    assert "'iam'" in finding.message


def test_including_and_excluding_operators_in_one_condition_both_apply() -> None:
    selectors = advanced(
        mgmt(cond("eventSource", NotStartsWith=["i"])),
        mgmt(cond("eventSource", StartsWith=["i"], NotEquals=[IAM])),
    )
    finding = only(judge(selectors), "management-sources-excluded")
    assert IAM in finding.message


def test_two_conditions_on_the_same_field_are_and_ed() -> None:
    selectors = advanced(
        mgmt(cond("eventSource", StartsWith=["i"]), cond("eventSource", NotEquals=[IAM])),
        mgmt(cond("eventSource", NotStartsWith=["i"])),
    )
    finding = only(judge(selectors), "management-sources-excluded")
    assert IAM in finding.message


# eventCategory, names, data and network-activity selectors


def test_data_selector_named_like_a_management_selector_does_not_count() -> None:
    selectors = advanced(adv(cond("eventCategory", Equals=["Data"]), name="Management events"))
    assert rules(judge(selectors)) == ["management-events-excluded"]


def test_unnamed_management_category_selector_counts() -> None:
    selectors = advanced({"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]})
    assert judge(selectors) == []


def test_management_selector_with_an_unusual_name_counts() -> None:
    assert judge(advanced(mgmt(name="s3 data events only"))) == []


def test_category_not_equals_data_accepts_management_events() -> None:
    assert judge(advanced(adv(cond("eventCategory", NotEquals=["Data"])))) == []


def test_misspelt_management_category_logs_nothing() -> None:
    assert rules(judge(advanced(adv(cond("eventCategory", Equals=["Managment"]))))) == ["management-events-excluded"]


def test_data_only_advanced_selectors_log_no_management_events() -> None:
    assert rules(judge(advanced(s3_data_selector()))) == ["management-events-excluded"]


def test_network_activity_selector_never_counts_for_management() -> None:
    network = adv(
        cond("eventCategory", Equals=["NetworkActivity"]),
        cond("eventSource", Equals=["cloudtrail.amazonaws.com"]),
        cond("vpcEndpointId", Equals=["vpce-0a1b2c3d4e5f67890"]),
    )
    assert rules(judge(advanced(network))) == ["management-events-excluded"]
    assert judge(advanced(network, mgmt())) == []


def test_data_selector_reading_only_does_not_make_management_partial() -> None:
    data_reads = adv(cond("eventCategory", Equals=["Data"]), cond("resources.type", Equals=["AWS::S3::Object"]), READS)
    assert judge(advanced(mgmt(), data_reads)) == []


# Allowed exclusions


def test_allowed_kms_exclusion_is_compliant() -> None:
    assert judge(advanced(mgmt(cond("eventSource", NotEquals=[KMS]))), allowed=[KMS]) == []


def test_kms_exclusion_is_a_finding_when_not_allowed() -> None:
    finding = only(judge(advanced(mgmt(cond("eventSource", NotEquals=[KMS])))), "management-sources-excluded")
    assert KMS in finding.message


def test_allowing_one_source_does_not_allow_another() -> None:
    finding = only(
        judge(advanced(mgmt(cond("eventSource", NotEquals=[KMS, IAM]))), allowed=[KMS]), "management-sources-excluded"
    )
    assert IAM in finding.message
    assert KMS not in finding.message


def test_allowed_basic_exclusions_are_compliant() -> None:
    assert judge(basics(basic(exclude=[KMS, RDSDATA])), allowed=[KMS, RDSDATA]) == []


def test_allowed_name_does_not_allow_a_prefix_exclusion() -> None:
    finding = only(
        judge(advanced(mgmt(cond("eventSource", NotStartsWith=["kms"]))), allowed=[KMS]), "management-sources-excluded"
    )
    assert "'kms'" in finding.message


@pytest.mark.parametrize("operator", ["NotEndsWith", "NotStartsWith"])
def test_allowed_exact_name_used_as_a_pattern_still_excludes_other_sources(operator: str) -> None:
    selectors = advanced(mgmt(cond("eventSource", **{operator: [KMS]})))
    assert rules(judge(selectors, allowed=[KMS])) == ["management-sources-excluded"]


# No selectors


def test_trail_without_selectors_logs_no_management_events() -> None:
    assert rules(judge({})) == ["management-events-excluded"]


def test_trail_with_both_selector_lists_empty_logs_no_management_events() -> None:
    assert rules(judge({"EventSelectors": [], "AdvancedEventSelectors": []})) == ["management-events-excluded"]


def test_trail_with_null_selector_lists_logs_no_management_events() -> None:
    assert rules(judge({"EventSelectors": None, "AdvancedEventSelectors": None})) == ["management-events-excluded"]


# Selectors trailguard does not understand


@pytest.mark.parametrize(
    "unknown",
    [
        cond("eventName", Equals=["ConsoleLogin"]),
        cond("userIdentity.arn", NotStartsWith=["arn:aws:iam::111122223333:role/break-glass"]),
        cond("eventSource", Like=["iam*"]),
        cond("readOnly", Matches=["true"]),
        {"Field": "eventSource"},
    ],
    ids=["eventName", "userIdentity.arn", "unknown-operator-on-source", "unknown-operator-on-readOnly", "no-operator"],
)
def test_management_selector_with_unknown_condition_is_unrecognized(unknown: dict) -> None:
    finding = only(judge(advanced(mgmt(unknown))), "selectors-unrecognized")
    assert finding.severity == "medium"


def test_selector_without_field_selectors_is_unrecognized() -> None:
    assert rules(judge(advanced({"Name": "empty", "FieldSelectors": []}))) == ["selectors-unrecognized"]


def test_unknown_selector_next_to_a_full_management_selector_is_compliant() -> None:
    assert judge(advanced(mgmt(cond("eventName", Equals=["ConsoleLogin"])), mgmt())) == []


def test_unknown_operator_next_to_a_full_management_selector_is_compliant() -> None:
    assert judge(advanced(mgmt(cond("eventSource", Like=["iam*"])), mgmt())) == []


def test_unknown_selector_that_is_the_only_writer_of_one_source_is_unrecognized() -> None:
    selectors = advanced(
        mgmt(cond("eventSource", NotEquals=[IAM])),
        mgmt(cond("eventSource", Equals=[IAM]), cond("eventName", Equals=["CreateAccessKey"])),
    )
    assert "selectors-unrecognized" in rules(judge(selectors))


def test_unknown_fields_on_a_data_selector_are_ignored() -> None:
    assert judge(advanced(mgmt(), s3_data_selector())) == []


def test_unknown_operator_on_a_data_selector_is_ignored() -> None:
    data = adv(cond("eventCategory", Equals=["Data"]), cond("resources.ARN", Like=["arn:aws:s3:::payroll*"]))
    assert judge(advanced(mgmt(), data)) == []


def test_operator_with_an_empty_value_list_is_not_understood() -> None:
    # AWS rejects empty lists; an emulator or a future API might not. Fail closed rather than guess.
    selectors = advanced(adv(cond("eventCategory", Equals=["Management"]), cond("eventSource", NotEquals=[])))

    assert rules(judge(selectors)) == ["selectors-unrecognized"]
