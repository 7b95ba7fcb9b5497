"""Each trail rule fires on its own on an otherwise compliant trail, with its severity and its fix."""

from __future__ import annotations

import shlex

import pytest

from trailguard.judge import evaluate_trail
from trailguard.rules import REGISTRY, Facts

from .builders import (
    LOGGING,
    STOPPED,
    advanced,
    basic,
    basics,
    cond,
    fix_text,
    judge,
    mgmt,
    only,
    option,
    put_event_selectors_payload,
    rules,
    trail,
)


def test_multi_region_logging_trail_with_default_basic_selector_is_compliant() -> None:
    assert judge(basics(basic())) == []


def test_basic_selector_without_optional_keys_is_compliant() -> None:
    assert judge(basics({})) == []


def test_advanced_selector_with_only_management_category_is_compliant() -> None:
    assert judge(advanced(mgmt())) == []


@pytest.mark.parametrize(
    ("rule", "scenario"),
    [
        ("logging-stopped", {"status": STOPPED}),
        ("logging-stopped", {"status": {}}),
        ("management-events-excluded", {"selectors": basics(basic(include=False))}),
        ("management-events-partial", {"selectors": basics(basic("ReadOnly"))}),
        ("management-sources-excluded", {"selectors": basics(basic(exclude=["iam.amazonaws.com"]))}),
        ("selectors-unrecognized", {"selectors": advanced(mgmt(cond("eventName", Equals=["ConsoleLogin"])))}),
        ("not-multi-region", {"IsMultiRegionTrail": False}),
        ("global-events-excluded", {"IncludeGlobalServiceEvents": False}),
    ],
    ids=[
        "stopped",
        "status-without-is-logging",
        "management-off",
        "read-only",
        "iam-excluded",
        "event-name-field",
        "single-region",
        "no-global-events",
    ],
)
def test_each_rule_fires_alone_with_its_base_severity(rule: str, scenario: dict) -> None:
    findings = judge(**scenario)

    assert rules(findings) == [rule]
    assert findings[0].severity == REGISTRY[rule].severity
    assert findings[0].trail_arn == trail()["TrailARN"]
    assert "'audit-trail'" in findings[0].message


def test_stopped_trail_fix_starts_logging_in_its_home_region() -> None:
    finding = only(judge(status=STOPPED, name="ledger-trail", region="ap-southeast-2"), "logging-stopped")

    argv = shlex.split(fix_text(finding))
    assert argv[:3] == ["aws", "cloudtrail", "start-logging"]
    assert option(argv, "--name") == "ledger-trail"
    assert option(argv, "--region") == "ap-southeast-2"


def test_single_region_trail_fix_makes_it_multi_region() -> None:
    finding = only(judge(IsMultiRegionTrail=False, name="ledger-trail", region="us-west-2"), "not-multi-region")

    argv = shlex.split(fix_text(finding))
    assert argv[:3] == ["aws", "cloudtrail", "update-trail"]
    assert "--is-multi-region-trail" in argv
    assert option(argv, "--name") == "ledger-trail"
    assert option(argv, "--region") == "us-west-2"


def test_trail_without_global_events_fix_includes_them() -> None:
    finding = only(judge(IncludeGlobalServiceEvents=False, name="ledger-trail"), "global-events-excluded")

    argv = shlex.split(fix_text(finding))
    assert argv[:3] == ["aws", "cloudtrail", "update-trail"]
    assert "--include-global-service-events" in argv
    assert option(argv, "--name") == "ledger-trail"
    assert option(argv, "--region") == "eu-west-1"


@pytest.mark.parametrize(
    "selectors",
    [
        basics(basic(include=False)),
        basics(basic("WriteOnly")),
        basics(basic(exclude=["iam.amazonaws.com"])),
        advanced(mgmt(cond("userIdentity.arn", StartsWith=["arn:aws:iam::111122223333:role/ci"]))),
    ],
    ids=["excluded", "partial", "sources-excluded", "unrecognized"],
)
def test_selector_finding_fix_puts_event_selectors_on_the_named_trail(selectors: dict) -> None:
    (finding,) = judge(selectors, name="ledger-trail", region="sa-east-1")

    argv, _payload = put_event_selectors_payload(fix_text(finding))
    assert argv[:3] == ["aws", "cloudtrail", "put-event-selectors"]
    assert option(argv, "--trail-name") == "ledger-trail"
    assert option(argv, "--region") == "sa-east-1"


def test_fix_takes_the_home_region_from_the_arn_when_the_description_has_none() -> None:
    description = trail(name="ledger-trail", region="ca-central-1", IsMultiRegionTrail=False)
    del description["HomeRegion"]

    (finding,) = evaluate_trail(Facts(description, LOGGING, basics(basic())))

    assert option(shlex.split(fix_text(finding)), "--region") == "ca-central-1"


def test_trail_broken_every_way_reports_every_rule_once() -> None:
    selectors = advanced(
        mgmt(
            cond("readOnly", Equals=["true"]), cond("eventSource", NotEquals=["iam.amazonaws.com", "kms.amazonaws.com"])
        ),
        mgmt(
            cond("readOnly", Equals=["true"]),
            cond("eventSource", Equals=["iam.amazonaws.com"]),
            cond("eventName", Equals=["GetUser"]),
        ),
    )
    findings = judge(selectors, status=STOPPED, IsMultiRegionTrail=False, IncludeGlobalServiceEvents=False)

    assert sorted(rules(findings)) == sorted(
        [
            "logging-stopped",
            "management-events-partial",
            "management-sources-excluded",
            "selectors-unrecognized",
            "not-multi-region",
            "global-events-excluded",
        ]
    )
