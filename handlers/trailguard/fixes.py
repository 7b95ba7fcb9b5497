"""Each finding's fix as a command a person can paste, and the selectors that restore management events.

``restored_selectors`` is the one place that decides what a ``PutEventSelectors`` fix sends. Because that
call replaces every selector, it keeps each data-event selector (basic ``DataResources`` or advanced data
and network-activity selectors) exactly as it is and only puts management events back.
"""

from __future__ import annotations

import copy
import json
import re
import shlex
from collections.abc import Iterable, Mapping
from typing import Any

from .baseline import DESTINATIONS, SETTINGS, Baseline, changed_destinations
from .rules import SELECTOR_RULES
from .selectors import READ, WRITE, coverage, normalise

MAX_BASIC_SELECTORS = 5
ALL_MANAGEMENT = {
    "ReadWriteType": "All",
    "IncludeManagementEvents": True,
    "DataResources": [],
    "ExcludeManagementEventSources": [],
}


def arn_region(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 5 else ""


def home_region(trail: Mapping[str, Any]) -> str:
    return str(trail.get("HomeRegion") or arn_region(str(trail.get("TrailARN", ""))))


def _sanctioned_exclusions(response: Mapping[str, Any], allowed: Iterable[str]) -> list[str]:
    """Allowed sources the trail deliberately drops today: it logs management events, none from them.

    The fix keeps dropping those, as the operator chose; it never drops a source the trail logs now.
    """
    if not coverage(response).logs_anything:
        return []
    management = [s for s in normalise(response) if s.may_log_management()]

    def dropped(source: str) -> bool:
        return not any(s.logs(rw, source, assume_unknown_holds=True) for s in management for rw in (READ, WRITE))

    return sorted(s for s in set(allowed) if dropped(s))


def restored_selectors(response: Mapping[str, Any], allowed_excluded: Iterable[str] = ()) -> dict[str, Any]:
    """The ``PutEventSelectors`` arguments (without ``TrailName``) that log all management events.

    Advanced selectors: every selector that cannot log management events is kept as it is, the
    management ones are replaced by one that logs them all. Basic selectors: the first selector that
    already logs reads and writes gets management events switched on (its data resources untouched), else
    the first selector without data resources is widened to All, else a management-only selector is
    appended (or, with no room left, the first selector widened: more data events, none lost). No
    selectors: the AWS default.
    """
    keep_excluded = _sanctioned_exclusions(response, allowed_excluded)
    advanced = response.get("AdvancedEventSelectors") or []
    if advanced:
        kept = [
            copy.deepcopy(raw)
            for raw, sel in zip(advanced, normalise({"AdvancedEventSelectors": advanced}), strict=True)
            if not sel.may_log_management()
        ]
        fields: list[dict[str, Any]] = [{"Field": "eventCategory", "Equals": ["Management"]}]
        if keep_excluded:
            fields.append({"Field": "eventSource", "NotEquals": keep_excluded})
        return {"AdvancedEventSelectors": [{"Name": "Management events", "FieldSelectors": fields}, *kept]}

    basic = [copy.deepcopy(dict(s)) for s in response.get("EventSelectors") or []]
    target = next((s for s in basic if s.get("ReadWriteType", "All") == "All"), None)
    if target is None:  # widening a selector to All is harmless only where it carries no data resources
        target = next((s for s in basic if not s.get("DataResources")), None)
    if target is None and len(basic) >= MAX_BASIC_SELECTORS:  # no room: widen one (more data events, none lost)
        target = basic[0]
    if target is None:
        target = dict(ALL_MANAGEMENT, DataResources=[])
        basic.append(target)
    target["ReadWriteType"] = "All"
    target["IncludeManagementEvents"] = True
    target["ExcludeManagementEventSources"] = keep_excluded
    return {"EventSelectors": basic}


Call = tuple[str, dict[str, Any]]  # an API operation and its arguments, e.g. ("StartLogging", {"Name": ...})


def _data_selectors(response: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Selectors that log data (or network activity) events and no management events, with something in them."""
    advanced = response.get("AdvancedEventSelectors") or []
    if advanced:
        adv = normalise({"AdvancedEventSelectors": advanced})
        return [dict(raw) for raw, sel in zip(advanced, adv, strict=True) if not sel.may_log_management()]
    return [
        dict(s)
        for s in response.get("EventSelectors") or []
        if s.get("IncludeManagementEvents") is False and any(r.get("Values") for r in s.get("DataResources") or [])
    ]


def _covered(selector: Mapping[str, Any], selectors: list[dict[str, Any]]) -> bool:
    """Whether ``selectors`` already log what a data ``selector`` logs (the same one, names aside, or for basic
    selectors every data resource of it in a selector reading and writing at least as much)."""
    if "FieldSelectors" in selector:
        fields = selector.get("FieldSelectors")
        return any(s.get("FieldSelectors") == fields for s in selectors)
    resources = [(r.get("Type"), tuple(r.get("Values") or [])) for r in selector.get("DataResources") or []]
    kinds = {selector.get("ReadWriteType", "All"), "All"}
    logged = {
        (r.get("Type"), tuple(r.get("Values") or []))
        for s in selectors
        if s.get("ReadWriteType", "All") in kinds
        for r in s.get("DataResources") or []
    }
    return all(r in logged for r in resources)


def baseline_selectors(response: Mapping[str, Any], baseline: Mapping[str, Any]) -> dict[str, Any] | None:
    """The baseline's selectors exactly, plus any data selector the trail has now that the baseline lacks.

    None when that cannot be done in one call (the trail switched between basic and advanced selectors, or
    the basic selectors would exceed five): the caller then keeps the current data selectors instead.
    """
    kind = "AdvancedEventSelectors" if baseline.get("AdvancedEventSelectors") else "EventSelectors"
    current_kind = "AdvancedEventSelectors" if response.get("AdvancedEventSelectors") else "EventSelectors"
    restored = [dict(s) for s in baseline.get(kind) or []]
    extra = [s for s in _data_selectors(response) if not _covered(s, restored)]
    if not restored or (extra and current_kind != kind):
        return None
    merged = restored + extra
    if kind == "EventSelectors" and len(merged) > MAX_BASIC_SELECTORS:
        return None
    return {kind: merged}


def fix_calls(
    rule: str,
    trail: Mapping[str, Any],
    selectors: Mapping[str, Any] | None,
    allowed_excluded: Iterable[str] = (),
    *,
    baseline: Baseline | None = None,
    ident: str | None = None,
) -> list[Call]:
    """The API calls that fix ``rule`` on this trail (``ident``: its name or ARN; the name by default).

    These are what a person is told to paste and what a revert makes: one source for both.
    """
    ident = ident or str(trail.get("Name", ""))
    if rule == "logging-stopped":
        return [("StartLogging", {"Name": ident})]
    if rule == "not-multi-region":
        return [("UpdateTrail", {"Name": ident, "IsMultiRegionTrail": True, "IncludeGlobalServiceEvents": True})]
    if rule == "global-events-excluded":
        return [("UpdateTrail", {"Name": ident, "IncludeGlobalServiceEvents": True})]
    if rule == "log-validation-disabled":
        return [("UpdateTrail", {"Name": ident, "EnableLogFileValidation": True})]
    if rule == "destination-changed" and baseline is not None:
        restore = {DESTINATIONS[k]: baseline.trail.get(k, "") for k in changed_destinations(trail, baseline)}
        return [("UpdateTrail", {"Name": ident, **restore})] if restore else []
    if rule in SELECTOR_RULES:
        args = baseline_selectors(selectors or {}, baseline.selectors) if baseline else None
        return [
            (
                "PutEventSelectors",
                {"TrailName": ident, **(args or restored_selectors(selectors or {}, allowed_excluded))},
            )
        ]
    if rule == "trail-deleted" and baseline is not None:
        return recreate_calls(baseline)
    return []


def recreate_calls(baseline: Baseline) -> list[Call]:
    """A deleted trail back from its baseline: same name and settings, selectors, insights, tags, logging."""
    settings = {SETTINGS[k]: v for k, v in baseline.trail.items() if k in SETTINGS}
    destinations = {DESTINATIONS[k]: v for k, v in baseline.trail.items() if k in DESTINATIONS}
    create: dict[str, Any] = {"Name": baseline.name, **destinations, **settings}
    if baseline.tags:
        create["TagsList"] = baseline.tags
    calls: list[Call] = [
        ("CreateTrail", create),
        ("PutEventSelectors", {"TrailName": baseline.name, **baseline.selectors}),
    ]
    if baseline.insight_selectors:
        calls.append(
            ("PutInsightSelectors", {"TrailName": baseline.name, "InsightSelectors": baseline.insight_selectors})
        )
    calls.append(("StartLogging", {"Name": baseline.name}))
    return calls


def _flag(key: str) -> str:
    return "--" + re.sub(r"(?<!^)(?=[A-Z])", "-", key).lower()


def render_cli(calls: Iterable[Call], region: str) -> str:
    """The calls as AWS CLI commands, joined with &&, every value quoted for the shell."""
    commands = []
    for operation, arguments in calls:
        words = ["aws", "cloudtrail", _flag(operation)[2:], "--region", region]
        for key, value in arguments.items():
            if isinstance(value, bool):
                words.append(_flag(key) if value else "--no-" + _flag(key)[2:])
            elif isinstance(value, list | dict):
                words += [_flag(key), shlex.quote(json.dumps(value, separators=(",", ":")))]
            else:
                words += [_flag(key), shlex.quote(str(value))]
        commands.append(" ".join(words))
    return " && ".join(commands)


def trail_fix_command(
    rule: str,
    trail: Mapping[str, Any],
    selectors: Mapping[str, Any] | None,
    allowed_excluded: Iterable[str] = (),
    baseline: Baseline | None = None,
) -> str:
    """The AWS CLI command that fixes ``rule`` on this trail, with its real name and home region."""
    return render_cli(fix_calls(rule, trail, selectors, allowed_excluded, baseline=baseline), home_region(trail))


def account_fix_command(region: str) -> str:
    """Create a trail that satisfies the policy (the bucket must carry a CloudTrail bucket policy)."""
    create = {
        "Name": "management-events",
        "S3BucketName": "<log-bucket>",
        "IsMultiRegionTrail": True,
        "IncludeGlobalServiceEvents": True,
        "EnableLogFileValidation": True,
    }
    return render_cli([("CreateTrail", create), ("StartLogging", {"Name": "management-events"})], region)
