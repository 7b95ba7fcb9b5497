"""A baseline: what a trail looked like the last time it was judged compliant, and drift against it.

Pure: plain data in and out. The baseline holds the DescribeTrails fields that matter (destinations and
settings), the event selectors exactly as they were (basic or advanced), the insight selectors and the tags,
so that a revert can put back precisely what was lost, and a deleted trail can be recreated.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from .arn import TrailArn

# DescribeTrails field -> how UpdateTrail / CreateTrail name it (SnsTopicName takes the topic's ARN too)
DESTINATIONS = {
    "S3BucketName": "S3BucketName",
    "S3KeyPrefix": "S3KeyPrefix",
    "KmsKeyId": "KmsKeyId",
    "CloudWatchLogsLogGroupArn": "CloudWatchLogsLogGroupArn",
    "CloudWatchLogsRoleArn": "CloudWatchLogsRoleArn",
    "SnsTopicARN": "SnsTopicName",
}
TRAIL_FLAGS = {
    "IncludeGlobalServiceEvents": "IncludeGlobalServiceEvents",
    "IsMultiRegionTrail": "IsMultiRegionTrail",
    "LogFileValidationEnabled": "EnableLogFileValidation",
    "IsOrganizationTrail": "IsOrganizationTrail",
}
DESTINATION_NAMES = {
    "S3BucketName": "S3 bucket",
    "S3KeyPrefix": "S3 key prefix",
    "KmsKeyId": "KMS key",
    "CloudWatchLogsLogGroupArn": "CloudWatch Logs group",
    "CloudWatchLogsRoleArn": "CloudWatch Logs role",
    "SnsTopicARN": "SNS topic",
}


def _value(trail: Mapping[str, Any], key: str) -> Any:
    """AWS leaves unset fields out of DescribeTrails; an emulator may say "" instead."""
    value = trail.get(key)
    return None if value in ("", None) else value


@dataclass(frozen=True)
class Baseline:
    arn: str
    name: str
    home_region: str
    trail: dict[str, Any]
    selectors: dict[str, Any]
    insight_selectors: list[dict[str, Any]] = field(default_factory=list)
    tags: list[dict[str, str]] = field(default_factory=list)
    # What recorded it: "sweep" (the scheduled audit), "accepted" (a person) or "event" (the state right after
    # a watched call, which the caller may have chosen: never restored as a destination or a recreated trail).
    source: str = "sweep"
    selectors_digest: str = ""  # set when the selectors were too large to keep: their SHA-256
    recorded_at: int = field(default=0, compare=False)  # epoch seconds; kept by the state table, not in the JSON
    # Who recorded it and why, for a baseline a person accepted (their ARN, or their Slack user): kept by the
    # state table beside the JSON, like ``recorded_at``.
    recorded_by: str = field(default="", compare=False)
    reason: str = field(default="", compare=False)

    @property
    def trusted(self) -> bool:
        """Whether a revert may put this baseline back (a destination, a deleted trail)."""
        return self.source in ("sweep", "accepted")

    @classmethod
    def of(
        cls,
        description: Mapping[str, Any],
        selectors: Mapping[str, Any],
        insight_selectors: list[dict[str, Any]] | None = None,
        tags: list[dict[str, str]] | None = None,
        source: str = "sweep",
    ) -> Baseline:
        arn = str(description.get("TrailARN", ""))
        kept = {k: _value(description, k) for k in (*DESTINATIONS, *TRAIL_FLAGS)}
        return cls(
            arn=arn,
            name=str(description.get("Name", "")),
            home_region=str(description.get("HomeRegion") or getattr(TrailArn.parse(arn), "region", "")),
            trail={k: v for k, v in kept.items() if v is not None},
            selectors=selectors_in_use(selectors),
            insight_selectors=list(insight_selectors or []),
            tags=list(tags or []),
            source=source,
        )

    def same_trail(self, description: Mapping[str, Any], selectors: Mapping[str, Any]) -> bool:
        """True when the description and selectors are what this baseline already holds."""
        other = Baseline.of(description, selectors)
        if self.selectors_digest:
            return (other.trail, _digest(other.selectors)) == (self.trail, self.selectors_digest)
        return (other.trail, other.selectors) == (self.trail, self.selectors)

    def bounded(self, limit: int, pack: Callable[[str], bytes]) -> Baseline:
        """This baseline, or (when ``pack`` of its JSON exceeds ``limit`` bytes) the same without its event and
        insight selectors, which are kept as a digest: a trail with hundreds of long data-event values can
        outgrow a DynamoDB item. Its destinations and settings, what a revert restores, always fit."""
        if len(pack(self.to_json())) <= limit:
            return self
        return replace(self, selectors={}, insight_selectors=[], selectors_digest=_digest(self.selectors))

    def recreate_calls(self) -> list[tuple[str, dict[str, Any]]]:
        """The trail back from this baseline: same name and settings, selectors, insights, tags, logging."""
        flags = {TRAIL_FLAGS[k]: v for k, v in self.trail.items() if k in TRAIL_FLAGS}
        destinations = {DESTINATIONS[k]: v for k, v in self.trail.items() if k in DESTINATIONS}
        create: dict[str, Any] = {"Name": self.name, **destinations, **flags}
        if self.tags:
            create["TagsList"] = self.tags
        # Selectors too large to have been kept: all management events, which is what the policy asks for.
        selectors = self.selectors or {"EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": True}]}
        calls: list[tuple[str, dict[str, Any]]] = [
            ("CreateTrail", create),
            ("PutEventSelectors", {"TrailName": self.name, **selectors}),
        ]
        if self.insight_selectors:
            calls.append(("PutInsightSelectors", {"TrailName": self.name, "InsightSelectors": self.insight_selectors}))
        calls.append(("StartLogging", {"Name": self.name}))
        return calls

    def to_json(self) -> str:
        data = asdict(self)
        for kept_apart in ("recorded_at", "recorded_by", "reason"):
            del data[kept_apart]
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, recorded_at: int = 0, recorded_by: str = "", reason: str = "") -> Baseline:
        return cls(**json.loads(text), recorded_at=recorded_at, recorded_by=recorded_by, reason=reason)


def state_digest(description: Mapping[str, Any] | None, status: Mapping[str, Any] | None,
                 selectors: Mapping[str, Any] | None) -> str:  # fmt: skip
    """What an alert remembers of the trail it showed, to tell later whether the trail is still as shown: its
    destinations and settings, its selectors and whether it logs ("gone" for a trail that is not there)."""
    if description is None:
        return "gone"
    kept = Baseline.of(description, selectors or {})
    shown = {"trail": kept.trail, "selectors": kept.selectors, "logging": bool((status or {}).get("IsLogging"))}
    return _digest(shown)[:32]


def _digest(selectors: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(selectors, sort_keys=True).encode("utf-8", "surrogatepass")).hexdigest()


def selectors_in_use(response: Mapping[str, Any]) -> dict[str, Any]:
    """The selectors a trail uses, exactly: the advanced ones if any, else the basic ones."""
    advanced = response.get("AdvancedEventSelectors") or []
    if advanced:
        return {"AdvancedEventSelectors": [dict(s) for s in advanced]}
    return {"EventSelectors": [dict(s) for s in response.get("EventSelectors") or []]}


def changed_destinations(description: Mapping[str, Any], baseline: Baseline) -> list[str]:
    """The DescribeTrails destination fields that differ from the baseline (changed or removed)."""
    return [k for k in DESTINATIONS if _value(description, k) != baseline.trail.get(k)]


# AWS takes the CloudWatch Logs group and role together or not at all (UpdateTrail rejects one alone).
CLOUDWATCH_PAIR = ("CloudWatchLogsLogGroupArn", "CloudWatchLogsRoleArn")


def restore_destinations(description: Mapping[str, Any], baseline: Baseline) -> dict[str, Any]:
    """``UpdateTrail`` arguments that put every changed destination back as the baseline has it (both of the
    CloudWatch Logs pair when either changed)."""
    changed = changed_destinations(description, baseline)
    if set(changed) & set(CLOUDWATCH_PAIR):
        changed += [k for k in CLOUDWATCH_PAIR if k not in changed]
    return {DESTINATIONS[k]: baseline.trail.get(k, "") for k in changed}


def describe_change(description: Mapping[str, Any], baseline: Baseline, key: str) -> str:
    before, now = baseline.trail.get(key), _value(description, key)
    what = DESTINATION_NAMES[key]
    if now is None:
        return f"{what} {before} removed"
    if before is None:
        return f"{what} {now} added"
    return f"{what} changed from {before} to {now}"
