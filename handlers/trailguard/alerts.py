"""What an alert says, as data. Rendering for Slack and email lives in ``render.py``; sending in ``channels.py``.

An ``Alert`` is built once per event (or per sweep change), stored with the delivery record so that a retry
sends every channel the very same message, and rendered per channel by pure functions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from .rules import SEVERITIES, Severity

AlertKind = Literal["drift", "failed-attempt", "sweep-drift", "sweep-compliant"]

CONSOLE_HOSTS = {
    "aws": "console.aws.amazon.com",
    "aws-cn": "console.amazonaws.cn",
    "aws-us-gov": "console.amazonaws-us-gov.com",
}


@dataclass(frozen=True)
class Actor:
    """Who made the call, as the CloudTrail record says (untrusted strings: render them escaped)."""

    arn: str = ""
    principal_type: str = ""
    source_ip: str = ""
    user_agent: str = ""
    time: str = ""
    invoked_by: str = ""


@dataclass(frozen=True)
class AlertFinding:
    rule: str
    severity: Severity
    message: str
    fix: str = ""


@dataclass(frozen=True)
class Alert:
    """One notification. ``key`` is what delivery is deduplicated on (the event id, or a sweep key)."""

    key: str
    kind: AlertKind
    severity: Severity
    summary: str
    account: str
    region: str
    trail_name: str
    trail_arn: str | None = None
    event_name: str | None = None
    actor: Actor | None = None
    findings: tuple[AlertFinding, ...] = ()
    action: str = "Nothing: alert only (REMEDIATION_MODE=off)."
    console_url: str = ""
    error: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def rules(self) -> list[str]:
        return sorted({f.rule for f in self.findings})

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Alert:
        data: dict[str, Any] = json.loads(text)
        actor = data.pop("actor")
        findings = tuple(AlertFinding(**f) for f in data.pop("findings"))
        return cls(**data, actor=Actor(**actor) if actor else None, findings=findings)


def alert_findings(findings: Iterable[Any]) -> tuple[AlertFinding, ...]:
    """Policy findings (anything with rule, severity, message and fix) as an alert carries them."""
    return tuple(AlertFinding(f.rule, f.severity, f.message, f.fix) for f in findings)


def worst(severities: list[Severity], default: Severity = "low") -> Severity:
    return min(severities, key=SEVERITIES.index) if severities else default


def console_url(trail_arn: str | None, region: str) -> str:
    """The CloudTrail console page of the trail (its trail list when the trail is gone or unknown)."""
    partition = (trail_arn or "arn:aws").split(":")[1] if trail_arn else _partition(region)
    host = CONSOLE_HOSTS.get(partition, CONSOLE_HOSTS["aws"])
    base = f"https://{region}.{host}/cloudtrailv2/home?region={region}#/trails"
    return f"{base}/{trail_arn}" if trail_arn else base


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"
