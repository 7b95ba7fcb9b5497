"""Putting a drifted trail back: plan the smallest calls (pure), make them or only say them, verify.

The calls are the findings' own fixes (``fixes.fix_calls``), so a revert does exactly what an alert tells a
person to paste: StartLogging; PutEventSelectors keeping every data-event selector (or the baseline's
selectors); one UpdateTrail with the baseline's values; a deleted trail recreated from its baseline. Nothing
is invented: without a baseline there is no bucket to go back to, and the plan says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .baseline import Baseline
from .fixes import Call, fix_calls, recreate_calls, render_cli
from .policy import Finding, Settings, TrailState, evaluate_trail
from .state import describe_error

ORDER = ("CreateTrail", "UpdateTrail", "PutEventSelectors", "PutInsightSelectors", "StartLogging")
NOT_FIXABLE = frozenset({"no-compliant-trail", "not-evaluable"})


@dataclass(frozen=True)
class Plan:
    calls: tuple[Call, ...] = ()
    why_not: str = ""  # when some finding has no revert


@dataclass(frozen=True)
class ActionResult:
    action: str
    result: str  # done | dry-run | suspended | failed
    arguments: dict[str, Any] = field(default_factory=dict)
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "result": self.result, "arguments": self.arguments, "detail": self.detail}


def _merged(calls: Iterable[Call]) -> tuple[Call, ...]:
    """One call per operation (UpdateTrail arguments merged), in an order that leaves logging for last."""
    by_operation: dict[str, dict[str, Any]] = {}
    for operation, arguments in calls:
        by_operation.setdefault(operation, {}).update(arguments)
    return tuple(sorted(by_operation.items(), key=lambda call: ORDER.index(call[0])))


def plan(trail: TrailState | None, findings: Iterable[Finding], baseline: Baseline | None, settings: Settings) -> Plan:
    """The calls that revert these findings. ``trail`` is None when the trail is gone."""
    rules = {f.rule for f in findings} - NOT_FIXABLE
    if trail is None:
        if baseline is None:
            return Plan(why_not="no baseline of the trail was ever recorded, so it cannot be recreated")
        return Plan(tuple(recreate_calls(baseline)))
    per_rule = {
        rule: fix_calls(rule, trail.description, trail.selectors, settings.allowed_excluded_sources,
                        baseline=baseline, ident=trail.arn)
        for rule in sorted(rules)
    }  # fmt: skip
    unfixed = [rule for rule, calls in per_rule.items() if not calls]
    why_not = f"no revert for {', '.join(unfixed)} without a baseline" if unfixed else ""
    return Plan(_merged(call for calls in per_rule.values() for call in calls), why_not)


def _method(operation: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in operation).lstrip("_")


def execute(calls: Iterable[Call], client: Any) -> list[ActionResult]:
    """Make the calls one after another; a failed call is recorded and the others are still made."""
    results = []
    for operation, arguments in calls:
        try:
            getattr(client, _method(operation))(**arguments)
        except (ClientError, BotoCoreError) as error:
            results.append(ActionResult(operation, "failed", arguments, describe_error(error)))
        else:
            results.append(ActionResult(operation, "done", arguments))
    return results


def verify(
    results: list[ActionResult], arn: str, client: Any, baseline: Baseline | None, settings: Settings
) -> list[ActionResult]:
    """Re-read the trail; if findings remain, every call that reported done is reported failed instead."""
    try:
        listed = client.describe_trails(trailNameList=[arn], includeShadowTrails=False)["trailList"]
        described = [t for t in listed if t.get("TrailARN") == arn]
        if described:
            status = client.get_trail_status(Name=arn)
            selectors = client.get_event_selectors(TrailName=arn)
    except (ClientError, BotoCoreError) as error:
        remaining = f"the trail could not be read back ({describe_error(error)})"
    else:
        left = evaluate_trail(described[0], status, selectors, settings, baseline) if described else None
        if left == []:
            return results
        remaining = f"read back, it still has {', '.join(f.rule for f in left)}" if left else "it is not there"
    return [ActionResult(r.action, "failed", r.arguments, remaining) if r.result == "done" else r for r in results]


def describe_actions(mode: str, results: list[ActionResult], plan_: Plan, region: str) -> str:
    """What the detector did about it, in words, for the alert."""
    calls = render_cli([(r.action, r.arguments) for r in results], region)
    if mode == "off":
        return "Nothing: alert only (REMEDIATION_MODE=off)."
    if not results:
        return f"Could not revert: {plan_.why_not or 'nothing to revert'}. A person must act."
    outcome = {r.result for r in results}
    if outcome == {"dry-run"}:
        return f"Would revert (REMEDIATION_MODE=dry-run, nothing was changed): {calls}"
    if outcome == {"suspended"}:
        return ("Suspended: this trail was already reverted 3 times within the hour, so the detector stopped "
                f"fighting. A person must act. It would have run: {calls}")  # fmt: skip
    if outcome == {"done"}:
        extra = f" Not reverted: {plan_.why_not}." if plan_.why_not else ""
        return f"Reverted and verified (the trail was read back compliant): {calls}.{extra}"
    failed = "; ".join(f"{r.action}: {r.detail}" for r in results if r.result == "failed")
    return f"Tried to revert, and it did not take ({failed}). A person must act. Calls made: {calls}"
