"""The trail is not logging: nothing it watches is recorded."""

from __future__ import annotations

from .registry import Call, Facts, Rule, example, register


def check(facts: Facts) -> str | None:
    return None if facts.status.get("IsLogging") is True else f"Trail {facts.name!r} is not logging."


def fix(facts: Facts) -> list[Call]:
    return [("StartLogging", {"Name": facts.target})]


LOGGING_STOPPED = register(
    Rule(
        id="logging-stopped",
        severity="high",
        meaning="The trail is not logging (GetTrailStatus IsLogging is false).",
        check=check,
        fix=fix,
        revert_actions=("cloudtrail:StartLogging",),
        revert_order=90,  # logging comes back last, once the trail logs what it should
        example=lambda: example(status={"IsLogging": False}),
    )
)
