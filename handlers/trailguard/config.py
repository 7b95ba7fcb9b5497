"""The Lambda's settings, read once from its environment into a frozen, validated object."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from .policy import Settings

RemediationMode = Literal["off", "dry-run", "on"]
MODES: tuple[RemediationMode, ...] = ("off", "dry-run", "on")
_ARN = re.compile(r"^arn:aws[a-z-]*:(sns|secretsmanager):[a-z0-9-]+:\d{12}:\S+$")
_SOURCE = re.compile(r"^[a-z0-9.-]+\.amazonaws\.com$")


class ConfigError(ValueError):
    """A setting is wrong; the message is one sentence naming the variable."""


@dataclass(frozen=True)
class Config:
    state_table: str
    alert_topic_arn: str = ""
    slack_secret_arn: str = ""
    remediation_mode: RemediationMode = "off"
    allowed_excluded_sources: frozenset[str] = frozenset()

    @property
    def policy(self) -> Settings:
        return Settings(self.allowed_excluded_sources)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Config:
        table = env.get("STATE_TABLE", "").strip()
        if not table:
            raise ConfigError("STATE_TABLE must name the DynamoDB table that records deliveries; it is not set.")
        for key in ("ALERT_TOPIC_ARN", "SLACK_SECRET_ARN"):
            value = env.get(key, "").strip()
            if value and not _ARN.match(value):
                raise ConfigError(f"{key} must be an ARN (arn:aws:...), not {value!r}.")
        mode = env.get("REMEDIATION_MODE", "off").strip() or "off"
        if mode not in MODES:
            raise ConfigError(f"REMEDIATION_MODE must be one of {', '.join(MODES)}, not {mode!r}.")
        sources = frozenset(s.strip() for s in env.get("ALLOWED_EXCLUDED_SOURCES", "").split(",") if s.strip())
        bad = sorted(s for s in sources if not _SOURCE.match(s))
        if bad:
            raise ConfigError(
                f"ALLOWED_EXCLUDED_SOURCES must list event sources like kms.amazonaws.com, not {bad[0]!r}."
            )
        return cls(
            state_table=table,
            alert_topic_arn=env.get("ALERT_TOPIC_ARN", "").strip(),
            slack_secret_arn=env.get("SLACK_SECRET_ARN", "").strip(),
            remediation_mode=mode,
            allowed_excluded_sources=sources,
        )
