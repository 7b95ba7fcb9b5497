"""The put-event-selectors fix restores management events and keeps every data-event selector exactly."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pytest

from trailguard.selectors import restored_selectors

from .builders import (
    adv,
    advanced,
    basic,
    basics,
    cond,
    fix_text,
    judge,
    mgmt,
    only,
    put_event_selectors_payload,
    rules,
    s3_data_selector,
)

SELECTOR_RULES = frozenset(
    {"management-events-excluded", "management-events-partial", "management-sources-excluded", "selectors-unrecognized"}
)
IAM = "iam.amazonaws.com"
KMS = "kms.amazonaws.com"
STRATUS_DATA = [{"Type": "AWS::S3::Object", "Values": []}, {"Type": "AWS::Lambda::Function", "Values": []}]
STRATUS_SELECTORS = basics(basic("ReadOnly", include=False, data=STRATUS_DATA))
LAMBDA_DATA = adv(
    cond("eventCategory", Equals=["Data"]),
    cond("resources.type", Equals=["AWS::Lambda::Function"]),
    cond("readOnly", Equals=["false"]),
    name="Lambda invocations",
)
NETWORK_ACTIVITY = adv(
    cond("eventCategory", Equals=["NetworkActivity"]),
    cond("eventSource", Equals=["kms.amazonaws.com"]),
    cond("errorCode", Equals=["VpceAccessDenied"]),
    name="KMS over VPC endpoints",
)


def restore_through_the_fix(
    selectors: Mapping[str, Any], allowed: Iterable[str] = (), keep: Iterable[Mapping[str, Any]] = ()
) -> dict[str, Any]:
    """Judge, take the selector finding's CLI fix, and check what it would put on the trail.

    The decoded selectors must log all management events (no selector finding when judged again) and
    contain each selector of ``keep`` (the trail's data-event selectors) unchanged.
    """
    findings = judge(selectors, allowed=allowed)
    fixes = {fix_text(f) for f in findings if f.rule in SELECTOR_RULES}
    assert len(fixes) == 1, f"expected one put-event-selectors fix, got {fixes}"
    _argv, payload = put_event_selectors_payload(fixes.pop())
    assert payload == restored_selectors(selectors, allowed)
    again = judge(payload, allowed=allowed)
    assert again == []
    (restored,) = payload.values()
    for kept in keep:
        assert kept in restored, f"data selector lost: {kept}"
    return payload


def basic_data_resources(payload: Mapping[str, Any]) -> list[tuple[str, list[Any]]]:
    return [
        (s.get("ReadWriteType", "All"), s["DataResources"]) for s in payload["EventSelectors"] if s["DataResources"]
    ]


def test_stratus_red_team_selector_excludes_management_events() -> None:
    assert rules(judge(STRATUS_SELECTORS)) == ["management-events-excluded"]


def test_stratus_red_team_fix_keeps_its_data_resources() -> None:
    payload = restore_through_the_fix(STRATUS_SELECTORS)

    assert basic_data_resources(payload) == [("ReadOnly", STRATUS_DATA)]


def test_read_only_basic_fix_keeps_the_data_resources_of_every_selector() -> None:
    data = [{"Type": "AWS::DynamoDB::Table", "Values": ["arn:aws:dynamodb:eu-west-1:111122223333:table/orders"]}]
    selectors = basics(basic("ReadOnly", data=data), basic("WriteOnly", include=False, data=STRATUS_DATA))

    payload = restore_through_the_fix(selectors)

    assert basic_data_resources(payload) == [("ReadOnly", data), ("WriteOnly", STRATUS_DATA)]


def test_basic_all_data_selector_with_management_off_gets_it_back_with_its_data_resources() -> None:
    payload = restore_through_the_fix(basics(basic(include=False, data=STRATUS_DATA)))

    assert basic_data_resources(payload) == [("All", STRATUS_DATA)]


def test_basic_excluded_source_fix_logs_it_again() -> None:
    payload = restore_through_the_fix(basics(basic(exclude=[IAM])))

    assert all(IAM not in s["ExcludeManagementEventSources"] for s in payload["EventSelectors"])


def test_basic_fix_keeps_an_allowed_exclusion_the_trail_has() -> None:
    payload = restore_through_the_fix(basics(basic(exclude=[KMS, IAM])), allowed=[KMS])

    assert [s["ExcludeManagementEventSources"] for s in payload["EventSelectors"]] == [[KMS]]


def test_trail_without_selectors_fix_logs_all_management_events() -> None:
    restore_through_the_fix({})


def test_advanced_fix_keeps_data_and_network_activity_selectors_unchanged() -> None:
    selectors = advanced(mgmt(cond("readOnly", Equals=["true"])), s3_data_selector(), LAMBDA_DATA, NETWORK_ACTIVITY)

    payload = restore_through_the_fix(selectors, keep=[s3_data_selector(), LAMBDA_DATA, NETWORK_ACTIVITY])

    assert len(payload["AdvancedEventSelectors"]) == 4


def test_advanced_fix_replaces_a_data_category_selector_named_management_events() -> None:
    impostor = adv(cond("eventCategory", Equals=["Data"]), cond("resources.type", Equals=["AWS::S3::Object"]))
    impostor["Name"] = "Management events"

    restore_through_the_fix(advanced(impostor), keep=[impostor])


def test_advanced_data_only_trail_fix_adds_management_and_keeps_the_data_selector() -> None:
    restore_through_the_fix(advanced(s3_data_selector()), keep=[s3_data_selector()])


def test_advanced_excluded_source_fix_logs_it_again() -> None:
    restore_through_the_fix(
        advanced(mgmt(cond("eventSource", NotEquals=[IAM])), s3_data_selector()), keep=[s3_data_selector()]
    )


def test_advanced_fix_keeps_an_allowed_exclusion_the_trail_has() -> None:
    payload = restore_through_the_fix(advanced(mgmt(cond("eventSource", NotEquals=[KMS, IAM]))), allowed=[KMS])

    (management,) = payload["AdvancedEventSelectors"]
    assert cond("eventSource", NotEquals=[KMS]) in management["FieldSelectors"]


def test_unrecognized_selector_fix_replaces_it_with_a_plain_management_selector() -> None:
    unknown = mgmt(cond("eventName", Equals=["ConsoleLogin"]), name="console only")

    payload = restore_through_the_fix(advanced(unknown, LAMBDA_DATA), keep=[LAMBDA_DATA])

    assert unknown not in payload["AdvancedEventSelectors"]


@pytest.mark.parametrize(
    "selectors",
    [
        basics(basic("WriteOnly")),
        advanced(mgmt(cond("readOnly", Equals=["true"]))),
        advanced(mgmt(cond("readOnly", Equals=["true"])), s3_data_selector()),
    ],
    ids=["basic-write-only", "advanced-read-only", "advanced-read-only-with-data"],
)
def test_partial_trail_fix_logs_both_halves(selectors: dict) -> None:
    restore_through_the_fix(selectors, keep=selectors.get("AdvancedEventSelectors", [])[1:])


def test_fix_for_a_read_only_trail_keeps_logging_the_allowed_source_it_logs_today() -> None:
    """An allowed exclusion the trail does not have must not be added: kms reads are logged today."""
    selectors = advanced(mgmt(cond("readOnly", Equals=["true"])))

    payload = restore_through_the_fix(selectors, allowed=[KMS])

    assert judge(payload, allowed=[]) == []


def test_fix_never_adds_an_allowed_exclusion_to_a_trail_without_exclusions() -> None:
    payload = restore_through_the_fix(STRATUS_SELECTORS, allowed=[KMS])

    assert judge(payload, allowed=[]) == []


def test_restored_selectors_are_the_put_event_selectors_arguments() -> None:
    payload = restored_selectors(STRATUS_SELECTORS)

    assert set(payload) == {"EventSelectors"}
    assert fix_text(only(judge(STRATUS_SELECTORS), "management-events-excluded")).count("put-event-selectors") == 1


def test_five_data_selectors_without_room_get_the_first_widened_not_a_sixth() -> None:
    s3 = [{"Type": "AWS::S3::Object", "Values": [f"arn:aws:s3:::bucket-{i}/"]} for i in range(5)]
    selectors = {
        "EventSelectors": [
            {"ReadWriteType": "WriteOnly", "IncludeManagementEvents": False, "DataResources": [r]} for r in s3
        ]
    }

    restored = restored_selectors(selectors)["EventSelectors"]

    assert len(restored) == 5  # AWS accepts at most five basic selectors
    assert [s["DataResources"] for s in restored] == [[r] for r in s3]
    assert restored[0]["ReadWriteType"] == "All"  # more data events than before, none lost
    assert [f.rule for f in judge({"EventSelectors": restored})] == []


def test_read_only_selector_without_data_resources_is_widened_in_place() -> None:
    restored = restored_selectors({"EventSelectors": [{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True}]})

    assert restored == {
        "EventSelectors": [
            {"ReadWriteType": "All", "IncludeManagementEvents": True, "ExcludeManagementEventSources": []}
        ]
    }
