"""Each finding's fix as a command a person can paste, and the selectors that restore management events.

``restored_selectors`` is the one place that decides what a ``PutEventSelectors`` fix sends. Because that
call replaces every selector, it keeps each data-event selector (basic ``DataResources`` or advanced data
and network-activity selectors) exactly as it is and only puts management events back.
"""

from __future__ import annotations

import copy
import json
import shlex
from collections.abc import Iterable, Mapping
from typing import Any

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


def _aws(*words: str) -> str:
    return " ".join(shlex.quote(w) if not w.startswith("--") else w for w in words)


def trail_fix_command(
    rule: str, trail: Mapping[str, Any], selectors: Mapping[str, Any] | None, allowed_excluded: Iterable[str] = ()
) -> str:
    """The AWS CLI command that fixes ``rule`` on this trail, with its real name and home region."""
    name, region = str(trail.get("Name", "")), home_region(trail)
    where = ("--region", region, "--name", name)
    if rule == "logging-stopped":
        return _aws("aws", "cloudtrail", "start-logging", *where)
    if rule == "not-multi-region":
        return _aws(
            "aws", "cloudtrail", "update-trail", *where, "--is-multi-region-trail", "--include-global-service-events"
        )
    if rule == "global-events-excluded":
        return _aws("aws", "cloudtrail", "update-trail", *where, "--include-global-service-events")
    if rule in SELECTOR_RULES:
        args = restored_selectors(selectors or {}, allowed_excluded)
        kind, value = next(iter(args.items()))
        option = "--advanced-event-selectors" if kind == "AdvancedEventSelectors" else "--event-selectors"
        payload = json.dumps(value, separators=(",", ":"))
        return _aws(
            "aws", "cloudtrail", "put-event-selectors", "--region", region, "--trail-name", name, option, payload
        )
    return ""


def account_fix_command(region: str) -> str:
    """Create a trail that satisfies the policy (the bucket must carry a CloudTrail bucket policy)."""
    where = ("--region", region, "--name", "management-events")
    create = _aws(
        "aws",
        "cloudtrail",
        "create-trail",
        *where,
        "--s3-bucket-name",
        "<log-bucket>",
        "--is-multi-region-trail",
        "--include-global-service-events",
        "--enable-log-file-validation",
    )
    return f"{create} && {_aws('aws', 'cloudtrail', 'start-logging', *where)}"
