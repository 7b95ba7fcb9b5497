"""The trail logs its home region only."""

from __future__ import annotations

from .registry import Call, Facts, Rule, example, register


def check(facts: Facts) -> str | None:
    if facts.description.get("IsMultiRegionTrail") is True:
        return None
    return f"Trail {facts.name!r} logs only its home region {facts.home_region}."


def fix(facts: Facts) -> list[Call]:
    return [("UpdateTrail", {"Name": facts.target, "IsMultiRegionTrail": True, "IncludeGlobalServiceEvents": True})]


NOT_MULTI_REGION = register(
    Rule(
        id="not-multi-region",
        severity="high",
        meaning="The trail logs one region only (IsMultiRegionTrail is false).",
        check=check,
        fix=fix,
        revert_actions=("cloudtrail:UpdateTrail",),
        coverage_setting=True,
        revert_order=20,
        example=lambda: example({"IsMultiRegionTrail": False}),
    )
)
