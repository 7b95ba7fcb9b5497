"""The Lambda's configuration, read once from its environment into a frozen, validated object."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from . import exemptions
from .exemptions import Exemption, ExemptionError
from .judge import Policy

RemediationMode = Literal["off", "dry-run", "on"]
MODES: tuple[RemediationMode, ...] = ("off", "dry-run", "on")
_ARN = re.compile(r"^arn:aws[a-z-]*:(sns|secretsmanager):[a-z0-9-]+:\d{12}:\S+$")
CODE_ROOT = Path(__file__).resolve().parents[1]  # the function's code: drift_handler.py and trailguard/
_SOURCE = re.compile(r"^[a-z0-9.-]+\.amazonaws\.com$")


class ConfigError(ValueError):
    """A setting is wrong; the message is one sentence naming the variable."""


@dataclass(frozen=True)
class HandlerConfig:
    state_table: str
    alert_topic_arn: str = ""
    slack_secret_arn: str = ""
    remediation_mode: RemediationMode = "off"
    allowed_excluded_sources: frozenset[str] = frozenset()
    exemptions: tuple[Exemption, ...] = ()

    @property
    def policy(self) -> Policy:
        return Policy(self.allowed_excluded_sources, self.exemptions)

    @classmethod
    def from_env(cls, env: Mapping[str, str], code_root: Path = CODE_ROOT) -> HandlerConfig:
        """``code_root``: where a relative ``EXEMPTIONS_FILE`` is found (the function's code directory)."""
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
            exemptions=_exemptions(env.get("EXEMPTIONS_FILE", "").strip(), code_root),
            state_table=table,
            alert_topic_arn=env.get("ALERT_TOPIC_ARN", "").strip(),
            slack_secret_arn=env.get("SLACK_SECRET_ARN", "").strip(),
            remediation_mode=mode,
            allowed_excluded_sources=sources,
        )


def _exemptions(name: str, code_root: Path) -> tuple[Exemption, ...]:
    if not name:
        return ()
    try:
        return exemptions.load(code_root / name, f"EXEMPTIONS_FILE {name!r}")[1]
    except ExemptionError as error:
        raise ConfigError(str(error)) from None
