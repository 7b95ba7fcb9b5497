"""The trail leaves out global service events (IAM, STS, CloudFront)."""

from __future__ import annotations

from .registry import Call, Facts, Rule, example, register


def check(facts: Facts) -> str | None:
    if facts.description.get("IncludeGlobalServiceEvents") is True:
        return None
    return f"Trail {facts.name!r} does not log global service events (IAM, STS)."


def fix(facts: Facts) -> list[Call]:
    return [("UpdateTrail", {"Name": facts.target, "IncludeGlobalServiceEvents": True})]


GLOBAL_EVENTS_EXCLUDED = register(
    Rule(
        id="global-events-excluded",
        severity="medium",
        meaning="Global service events (IAM, STS, CloudFront) are not logged.",
        check=check,
        fix=fix,
        revert_actions=("cloudtrail:UpdateTrail",),
        coverage_setting=True,
        revert_order=21,
        example=lambda: example({"IncludeGlobalServiceEvents": False}),
    )
)
