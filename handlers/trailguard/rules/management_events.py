"""The four selector rules: what the event selectors log of management events, read and write.

They share one coverage computation (``Facts.coverage``, computed once per trail) and one fix: a
``PutEventSelectors`` that restores management events and keeps every data-event selector (or puts the
baseline's selectors back exactly). Registered as a group, each rule still a unit of its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from ..selectors import EVERY_OTHER_SOURCE, READ, WRITE, baseline_selectors, data_selectors, restored_selectors
from .registry import REGISTRY, Call, Facts, Rule, example, register


def _listing(items: Iterable[str], most: int = 5) -> str:
    items = sorted(items)
    shown = ", ".join(items[:most])
    return shown + (f" and {len(items) - most} more" if len(items) > most else "")


def excluded(facts: Facts) -> str | None:
    cov = facts.coverage
    if not cov.selectors:
        return f"Trail {facts.name!r} has no event selectors, so it logs no management events."
    return None if cov.logs_anything else f"Trail {facts.name!r}: no selector logs management events."


def partial(facts: Facts) -> str | None:
    cov = facts.coverage
    if not cov.selectors or not cov.logs_anything:
        return None
    for half, only, missing in ((READ, "write", "read"), (WRITE, "read", "write")):
        if cov.half_missing(half):
            return f"Trail {facts.name!r} logs only {only} management events; {missing} events are not logged."
    return None


def sources_excluded(facts: Facts) -> str | None:
    cov = facts.coverage
    dropped = cov.missing_sources() if cov.selectors and cov.logs_anything else {}
    if not dropped:
        return None
    halves = {rw for rws in dropped.values() for rw in rws}
    kind = "" if len(halves) == 2 else ("read " if halves == {READ} else "write ")
    if EVERY_OTHER_SOURCE in dropped:
        what = f"logs {kind}management events only from {_listing(cov.logged_sources())}"
    else:
        what = f"drops {kind}management events from {_listing(dropped)}"
    return f"Trail {facts.name!r} {what}."


def unrecognized(facts: Facts) -> str | None:
    cov = facts.coverage
    if cov.maybe_missing == cov.surely_missing or not cov.unknown:
        return None
    return (
        f"Trail {facts.name!r} has management selectors trailguard does not understand "
        f"({_listing(cov.unknown, 3)}); they are treated as logging nothing."
    )


def fix(facts: Facts) -> list[Call]:
    """The baseline's selectors (plus current data selectors it lacks), else management events restored."""
    kept = facts.baseline.selectors if facts.baseline else None  # none when too large to have been stored
    selectors = baseline_selectors(facts.selectors, kept) if kept else None
    selectors = selectors or restored_selectors(facts.selectors, facts.allowed_excluded_sources)
    return [("PutEventSelectors", {"TrailName": facts.target, **selectors})]


def exempt_data_trail(facts: Facts, fired: list[str]) -> str:
    """A trail set to log data events only is most likely meant to: say how to exempt it from what it is set
    to record (never from logging, delivery or destinations, which matter for a data trail too)."""
    if not data_selectors(facts.selectors):
        return ""
    rules = [rule for rule in fired if REGISTRY[rule].coverage_setting]
    entry = {"trail": str(facts.arn or facts.name), "rules": rules, "reason": "logs data events only"}
    return (
        "This trail is set to log data events only. If that is its purpose, exempt it: add "
        f"{json.dumps(entry)} to the exemptions file (trailguard audit --exemptions FILE; the stack's exemptionsFile)."
    )


def _advanced(*fields: dict[str, object]) -> dict[str, object]:
    category = {"Field": "eventCategory", "Equals": ["Management"]}
    return {"AdvancedEventSelectors": [{"Name": "Management events", "FieldSelectors": [category, *fields]}]}


PUT_SELECTORS = ("cloudtrail:PutEventSelectors",)

MANAGEMENT_EVENTS_EXCLUDED = register(
    Rule(
        id="management-events-excluded",
        severity="high",
        meaning="No selector logs management events, or the trail has no selectors at all.",
        check=excluded,
        hint=exempt_data_trail,
        example=lambda: example(selectors={"EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": False,
                                                               "DataResources": [{"Type": "AWS::S3::Object",
                                                                                  "Values": ["arn:aws:s3"]}]}]}),
        fix=fix,
        revert_actions=PUT_SELECTORS,
        revert_order=30,
        coverage_setting=True,
    )
)  # fmt: skip
MANAGEMENT_EVENTS_PARTIAL = register(
    Rule(
        id="management-events-partial",
        severity="high",
        meaning="Management events are logged for reads only or writes only.",
        check=partial,
        example=lambda: example(selectors=_advanced({"Field": "readOnly", "Equals": ["true"]})),
        fix=fix,
        revert_actions=PUT_SELECTORS,
        revert_order=30,
        coverage_setting=True,
    )
)
MANAGEMENT_SOURCES_EXCLUDED = register(
    Rule(
        id="management-sources-excluded",
        severity="high",
        meaning="Management events from some event sources are dropped, beyond allowedExcludedSources.",
        check=sources_excluded,
        example=lambda: example(selectors=_advanced({"Field": "eventSource", "NotEquals": ["iam.amazonaws.com"]})),
        fix=fix,
        revert_actions=PUT_SELECTORS,
        revert_order=30,
        coverage_setting=True,
    )
)
SELECTORS_UNRECOGNIZED = register(
    Rule(
        id="selectors-unrecognized",
        severity="medium",
        meaning="A management selector uses a field or operator the evaluator does not understand.",
        check=unrecognized,
        example=lambda: example(selectors=_advanced({"Field": "eventName", "Equals": ["StopLogging"]})),
        fix=fix,
        revert_actions=PUT_SELECTORS,
        revert_order=30,
        coverage_setting=True,
    )
)
