"""Log file integrity validation was switched off on a trail whose baseline had it on."""

from __future__ import annotations

from ..baseline import Baseline
from .registry import Call, Facts, Rule, example, register


def check(facts: Facts) -> str | None:
    was_on = facts.baseline is not None and bool(facts.baseline.trail.get("LogFileValidationEnabled"))
    if not was_on or facts.description.get("LogFileValidationEnabled"):
        return None
    return f"Trail {facts.name!r} no longer validates its log files."


def fix(facts: Facts) -> list[Call]:
    return [("UpdateTrail", {"Name": facts.target, "EnableLogFileValidation": True})]


def _example() -> Facts:
    was = example()
    return example({"LogFileValidationEnabled": False}, baseline=Baseline.of(was.description, was.selectors))


LOG_VALIDATION_DISABLED = register(
    Rule(
        id="log-validation-disabled",
        severity="medium",
        meaning="Log file integrity validation was switched off on a trail whose baseline had it on.",
        check=check,
        fix=fix,
        revert_actions=("cloudtrail:UpdateTrail",),
        revert_order=22,
        example=_example,
    )
)
