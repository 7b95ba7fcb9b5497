"""Exemptions: the file is validated entry by entry, an exempt finding is shown but never counted, an
expired one counts again and says so, and nothing covers what may never be exempted."""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import replace
from typing import Any

import pytest

from trailguard import exemptions
from trailguard.exemptions import ExemptionError
from trailguard.judge import AccountVerdict, Policy, TrailState, evaluate_account
from trailguard.render.audit import finding_json, report, table

ACCOUNT = "111122223333"
TODAY = datetime.date(2026, 11, 28)
ALL = {"EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": True}]}
S3_ONLY = {
    "EventSelectors": [
        {
            "ReadWriteType": "All",
            "IncludeManagementEvents": False,
            "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::payroll/"]}],
        }
    ]
}


def trail(name: str, selectors: dict[str, Any] = ALL, multi_region: bool = True, **status: Any) -> TrailState:
    arn = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/{name}"
    description = {
        "Name": name,
        "TrailARN": arn,
        "HomeRegion": "us-east-1",
        "IsMultiRegionTrail": multi_region,
        "IncludeGlobalServiceEvents": True,
        "S3BucketName": "logs",
    }
    return TrailState(description, {"IsLogging": True, **status}, selectors)


def policy(*entries: dict[str, Any], today: datetime.date = TODAY) -> Policy:
    return Policy(exemptions=exemptions.parse(json.dumps(list(entries))), today=today)


def judged(*trails: TrailState, with_policy: Policy | None = None) -> AccountVerdict:
    return evaluate_account(ACCOUNT, trails, with_policy or Policy(), "eu-central-1")


DATA_TRAIL = {"trail": "s3-data", "rules": ["management-events-excluded"], "reason": "S3 data events only"}


def test_a_data_only_trail_beside_a_compliant_trail_is_not_compliant_without_an_exemption_and_says_how() -> None:
    verdict = judged(trail("main"), trail("s3-data", S3_ONLY))

    assert verdict.covered and verdict.outcome() == "findings" and not verdict.compliant
    (finding,) = verdict.counted
    assert finding.rule == "management-events-excluded"
    assert '"rules": ["management-events-excluded"]' in finding.hint and "exemptions file" in finding.hint


def test_an_exempt_data_trail_leaves_the_account_compliant_and_is_still_shown_with_its_reason() -> None:
    verdict = judged(trail("main"), trail("s3-data", S3_ONLY), with_policy=policy(DATA_TRAIL))

    assert verdict.outcome() == "compliant" and verdict.compliant
    (finding,) = verdict.all_findings
    assert finding.exempt and not finding.counted
    shown = finding_json(finding)
    assert shown["exempt"] == {"reason": "S3 data events only", "expires": None} and shown["counted"] is False
    assert shown["hint"] is None  # the hint to exempt it is said only while it is not exempt
    document = report(verdict, ["us-east-1"], {})
    assert document["compliant"] is True and document["verdict"] == "compliant"
    data = next(t for t in document["trails"] if t["name"] == "s3-data")
    assert data["exempt"] == {"reason": "S3 data events only", "rules": ["management-events-excluded"]}


def test_an_exemption_never_makes_a_trail_cover_the_account() -> None:
    verdict = judged(trail("s3-data", S3_ONLY), with_policy=policy(DATA_TRAIL))

    assert not verdict.covered and verdict.outcome() == "findings"
    assert [f.rule for f in verdict.counted] == ["no-compliant-trail"]


def test_an_expired_exemption_stops_applying_and_says_it_expired() -> None:
    entry = {**DATA_TRAIL, "expires": "2026-11-27"}
    verdict = judged(trail("main"), trail("s3-data", S3_ONLY), with_policy=policy(entry))

    (finding,) = verdict.all_findings
    assert finding.counted and finding.waiver is not None and finding.waiver.expired
    assert finding_json(finding)["exemption_expired"] == {"reason": "S3 data events only", "expired": "2026-11-27"}
    lines: list[str] = []

    class Out:
        def write(self, text: str) -> None:
            lines.append(text)

    table(verdict, ["us-east-1"], {}, Out())  # type: ignore[arg-type]
    assert "exemption expired: it applied through 2026-11-27" in "".join(lines)


def test_an_exemption_applies_through_its_expiry_day() -> None:
    entry = {**DATA_TRAIL, "expires": TODAY.isoformat()}
    assert judged(trail("main"), trail("s3-data", S3_ONLY), with_policy=policy(entry)).compliant


def test_a_live_exemption_wins_over_an_expired_one_for_the_same_finding() -> None:
    old = {**DATA_TRAIL, "expires": "2020-01-01", "reason": "old"}
    verdict = judged(trail("main"), trail("s3-data", S3_ONLY), with_policy=policy(old, DATA_TRAIL))
    assert verdict.compliant


@pytest.mark.parametrize(
    ("pattern", "account", "exempt"),
    [
        ("s3-*", "", True),
        ("*", "", True),
        ("S3-*", "", False),  # names are case-sensitive, as CloudTrail's are
        ("s3-data-extra", "", False),
        (f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/s3-data", "", True),
        (f"arn:aws:cloudtrail:eu-west-1:{ACCOUNT}:trail/s3-data", "", False),
        ("s3-data", ACCOUNT, True),
        ("s3-data", "999999999999", False),
    ],
)
def test_an_exemption_matches_by_arn_or_name_pattern_and_account(pattern: str, account: str, exempt: bool) -> None:
    entry: dict[str, Any] = {**DATA_TRAIL, "trail": pattern}
    if account:
        entry["account"] = account
    verdict = judged(trail("main"), trail("s3-data", S3_ONLY), with_policy=policy(entry))
    assert verdict.compliant is exempt


def test_every_rule_star_covers_only_the_exemptible_ones() -> None:
    star = {"trail": "*", "rules": ["*"], "reason": "everything"}
    verdict = judged(trail("s3-data", S3_ONLY, multi_region=False), with_policy=policy(star))

    assert all(f.exempt for t in verdict.trails for f in t.findings)
    assert [f.rule for f in verdict.counted] == ["no-compliant-trail"]
    assert verdict.outcome() == "findings"


def test_only_the_named_rules_are_exempted() -> None:
    verdict = judged(trail("main"), trail("s3-data", S3_ONLY, IsLogging=False), with_policy=policy(DATA_TRAIL))
    assert [f.rule for f in verdict.counted] == ["logging-stopped"]


def test_trail_tags_never_exempt() -> None:
    tagged = trail("s3-data", S3_ONLY)
    tagged = TrailState({**tagged.description, "Tags": [{"Key": "trailguard:exempt", "Value": "*"}]},
                        tagged.status, tagged.selectors)  # fmt: skip
    assert not judged(trail("main"), tagged).compliant


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ({"trail": "x", "rules": ["nope"], "reason": "r"}, "'nope' is not a rule id"),
        ({"trail": "x", "rules": ["no-compliant-trail"], "reason": "r"}, "no-compliant-trail can never be exempted"),
        ({"trail": "x", "rules": [], "reason": "r"}, "rules must be a non-empty list"),
        ({"trail": "x", "rules": ["*"]}, "must say why"),
        ({"trail": "x", "rules": ["*"], "reason": " "}, "must say why"),
        ({"trail": "", "rules": ["*"], "reason": "r"}, "must name a trail"),
        ({"trail": "arn:aws:s3:::bucket", "rules": ["*"], "reason": "r"}, "is not a trail ARN"),
        ({"trail": "x", "rules": ["*"], "reason": "r", "account": "12"}, "12-digit account id"),
        ({"trail": "x", "rules": ["*"], "reason": "r", "expires": "31/12/2026"}, "expires must be a date"),
        ({"trail": "x", "rules": ["*"], "reason": "r", "expires": "2026-02-30"}, "expires must be a date"),
        ({"trail": "x", "rules": ["*"], "reason": "r", "tags": "x"}, "unknown key 'tags'"),
        ("just a string", "must be a JSON object"),
    ],
)
def test_a_bad_entry_is_one_sentence_naming_it(entry: Any, says: str) -> None:
    with pytest.raises(ExemptionError) as raised:
        exemptions.parse(json.dumps([{"trail": "ok", "rules": ["*"], "reason": "fine"}, entry]), "ex.json")
    message = str(raised.value)
    assert message.startswith("ex.json: entry 2") and says in message
    assert message.count("\n") == 0 and message.endswith(".")


@pytest.mark.parametrize(("text", "says"), [("{", "not valid JSON"), ('{"trail": "x"}', "must hold a JSON list")])
def test_a_file_that_is_not_a_list_is_refused(text: str, says: str) -> None:
    with pytest.raises(ExemptionError, match=says):
        exemptions.parse(text, "ex.json")


# --- what the review found ---------------------------------------------------------------------------------


def test_exempt_findings_keep_their_severity_when_nothing_covers_the_account() -> None:
    verdict = judged(trail("s3-data", S3_ONLY, IsLogging=False), with_policy=policy(DATA_TRAIL))
    by_rule = {f.rule: f for f in verdict.all_findings}
    assert by_rule["management-events-excluded"].severity == "high"  # exempt: not escalated
    assert by_rule["logging-stopped"].severity == "critical"  # counted: escalated


def test_not_evaluable_is_never_exempt_even_by_star() -> None:
    unreadable = TrailState(trail("broken").description, error="GetTrailStatus: AccessDenied")
    verdict = judged(trail("main"), unreadable, with_policy=policy({"trail": "*", "rules": ["*"], "reason": "r"}))
    assert verdict.outcome() == "unknown" and [f.rule for f in verdict.counted] == ["not-evaluable"]
    with pytest.raises(ExemptionError, match="not-evaluable can never be exempted"):
        exemptions.parse(json.dumps([{"trail": "x", "rules": ["not-evaluable"], "reason": "r"}]))


def test_unread_regions_make_the_verdict_unknown_on_the_verdict_itself() -> None:
    verdict = evaluate_account(ACCOUNT, [trail("main")], Policy(), "us-east-1", ["eu-west-1"])
    assert verdict.covered and verdict.outcome() == "unknown" and not verdict.compliant


def test_an_organization_trail_of_another_account_is_advisory_beside_a_compliant_trail() -> None:
    other = replace(trail("org"), description={
        "Name": "org", "TrailARN": "arn:aws:cloudtrail:us-east-1:999999999999:trail/org", "IsOrganizationTrail": True,
        "IsMultiRegionTrail": True, "IncludeGlobalServiceEvents": True, "HomeRegion": "us-east-1",
    })  # fmt: skip
    verdict = judged(trail("main"), other)
    assert [f.rule for f in verdict.all_findings] == ["organization-trail-elsewhere"]
    assert verdict.compliant and not verdict.counted
    assert report(verdict, ["us-east-1"], {})["findings"][0]["counted"] is False


def test_a_revert_never_undoes_what_an_exemption_allows_through_a_shared_fix() -> None:
    from trailguard.fix import plan

    selectors = {
        "AdvancedEventSelectors": [
            {
                "Name": "reads, without RDS Data",
                "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Management"]},
                    {"Field": "readOnly", "Equals": ["true"]},
                    {"Field": "eventSource", "NotEquals": ["rdsdata.amazonaws.com"]},
                ],
            }
        ]
    }
    entry = {"trail": "main", "rules": ["management-sources-excluded"], "reason": "RDS Data API is too noisy"}
    state = trail("main", selectors)
    verdict = judged(trail("other"), state, with_policy=policy(entry))
    findings = [f for f in verdict.all_findings if f.trail_arn == state.arn]

    assert {(f.rule, f.counted) for f in findings} == {
        ("management-events-partial", True),
        ("management-sources-excluded", False),
    }
    planned = plan(state.facts(Policy(), ident=state.arn), findings)
    assert planned.calls == ()
    assert "management-events-partial (its fix would undo the exempt management-sources-excluded)" in planned.why_not


def test_the_read_back_after_a_revert_judges_with_the_exemptions() -> None:
    from trailguard.fix import ActionResult, verify

    data = trail("s3-data", S3_ONLY)

    class Client:
        def describe_trails(self, **_: Any) -> dict[str, Any]:
            return {"trailList": [dict(data.description)]}

        def get_trail_status(self, **_: Any) -> dict[str, Any]:
            return {"IsLogging": True}

        def get_event_selectors(self, **_: Any) -> dict[str, Any]:
            return S3_ONLY

    done = [ActionResult("StartLogging", "done", {"Name": data.arn})]
    assert verify(done, data.arn, Client(), None, policy(DATA_TRAIL)) == done
    assert verify(done, data.arn, Client(), None, Policy())[0].result == "failed"


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ({"trail": "x", "rules": ["*"], "reason": "r", "account": None}, "12-digit account id, not null"),
        ({"trail": "x", "rules": ["*"], "reason": "r", "account": 0}, "12-digit account id, not 0"),
        ({"trail": "trail/x", "rules": ["*"], "reason": "r"}, "neither a trail ARN nor a trail name"),
        ({"trail": "ARN:aws:cloudtrail:us-east-1:111122223333:trail/x", "rules": ["*"], "reason": "r"}, "neither"),
    ],
)
def test_more_bad_entries_are_refused(entry: dict[str, Any], says: str) -> None:
    with pytest.raises(ExemptionError, match=re.escape(says)):
        exemptions.parse(json.dumps([entry]))


def test_a_key_twice_in_one_entry_is_refused() -> None:
    with pytest.raises(ExemptionError, match="names 'trail' twice"):
        exemptions.parse('[{"trail": "a", "trail": "b", "rules": ["*"], "reason": "r"}]')


def test_only_star_is_a_wildcard_and_a_byte_order_mark_is_fine() -> None:
    with pytest.raises(ExemptionError, match="neither a trail ARN nor a trail name"):
        exemptions.parse('[{"trail": "s3-dat?", "rules": ["*"], "reason": "r"}]')
    (star,) = exemptions.parse('\ufeff[{"trail": "s3-*a", "rules": ["*"], "reason": "r"}]')
    assert judged(trail("main"), trail("s3-data", S3_ONLY), with_policy=Policy(exemptions=(star,))).compliant
    assert not judged(trail("main"), trail("s3-dat", S3_ONLY), with_policy=Policy(exemptions=(star,))).compliant


def test_an_entry_that_matches_nothing_is_reported() -> None:
    typo = {"trail": "s3-dta", "rules": ["management-events-excluded"], "reason": "typo"}
    verdict = judged(trail("main"), trail("s3-data", S3_ONLY), with_policy=policy(DATA_TRAIL, typo))
    entries = exemptions.parse(json.dumps([DATA_TRAIL, typo]))

    assert exemptions.unused(entries, verdict.all_findings, ACCOUNT) == [2]
    document = report(verdict, ["us-east-1"], {}, entries)
    assert [e["matched"] for e in document["exemptions"]] == [True, False]


# --- the second review -------------------------------------------------------------------------------------


def test_a_revert_never_sets_a_field_an_exemption_allows_even_through_another_rules_fix() -> None:
    from trailguard.fix import plan

    regional = TrailState(
        {**trail("regional").description, "IsMultiRegionTrail": False, "IncludeGlobalServiceEvents": False},
        {"IsLogging": False},
        ALL,
    )
    entry = {"trail": "regional", "rules": ["global-events-excluded"], "reason": "a regional trail"}
    verdict = judged(trail("main"), regional, with_policy=policy(entry))
    findings = [f for f in verdict.all_findings if f.trail_arn == regional.arn]

    planned = plan(regional.facts(Policy(), ident=regional.arn), findings)

    assert [op for op, _ in planned.calls] == ["StartLogging"]  # the stop is reverted...
    assert "not-multi-region (its fix would undo the exempt global-events-excluded)" in planned.why_not  # ...not this


def test_the_data_trail_hint_never_suggests_exempting_logging_or_delivery() -> None:
    stopped = trail("s3-data", S3_ONLY, multi_region=False, IsLogging=False, LatestDeliveryError="AccessDenied")
    verdict = judged(trail("main"), stopped)
    (hinted,) = [f for f in verdict.all_findings if f.hint and "data events only" in f.hint]

    assert '"rules": ["not-multi-region", "management-events-excluded"]' in hinted.hint
    assert "logging-stopped" not in hinted.hint and "delivery-failing" not in hinted.hint


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[" * 100_000, "nested too deeply"),
        ('[{"trail": "x", "rules": ["*"], "reason": "r", "expires": ""}]', "expires must be a date"),
    ],
)
def test_a_file_too_deep_or_an_empty_expiry_is_one_sentence(text: str, says: str) -> None:
    with pytest.raises(ExemptionError, match=says):
        exemptions.parse(text, "ex.json")
