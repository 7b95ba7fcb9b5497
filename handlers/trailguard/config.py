"""The Lambda's configuration, read once from its environment into a frozen, validated object."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from . import exemptions
from .exemptions import Exemption, ExemptionError
from .judge import Policy
from .tamper import Parts

RemediationMode = Literal["off", "dry-run", "on"]
MODES: tuple[RemediationMode, ...] = ("off", "dry-run", "on")
_ARN = re.compile(r"^arn:aws[a-z-]*:(sns|secretsmanager):[a-z0-9-]+:\d{12}:\S+$")
CODE_ROOT = Path(__file__).resolve().parents[1]  # the function's code: drift_handler.py and trailguard/
_SOURCE = re.compile(r"^[a-z0-9.-]+\.amazonaws\.com$")
_ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$", re.ASCII)
_ORGANIZATION = re.compile(r"^o-[a-z0-9]{10,32}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_QUEUE_URL = re.compile(r"^https?://\S+/\d{12}/[\w-]{1,80}(\.fifo)?$", re.ASCII)
_PART = re.compile(r"^arn:(aws[a-z-]*|\*):[a-z0-9-]+:[a-z0-9-*]*:[0-9*]*:\S+$")
# Lambda runs an asynchronous event up to three times: the first try, a retry about a minute after it failed
# and another about two minutes after that (the stack sets retry_attempts=2). The third is the last chance.
LAMBDA_ATTEMPTS = 3
LAST_ATTEMPT_AGE = 170  # seconds after the call: Lambda's third attempt comes at least 3 minutes after its first
MAX_EVENT_AGE = 6 * 3600  # the stack's max_event_age: Lambda drops an event older than this
TIMEOUT_SECONDS = 60  # the function's timeout (the stack's), assumed when the context does not say
# Time kept back from reading for what follows it: a Slack send can take ~19 s with its retries, SNS and the
# state table a few more. Reads that have not answered by then are given up, and Lambda retries the event.
SENDING_RESERVE = 25.0


@dataclass
class Deadline:
    """When this invocation will be stopped (monotonic seconds), from ``context.get_remaining_time_in_millis``."""

    end: float
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    @classmethod
    def of(cls, context: Any, clock: Callable[[], float] = time.monotonic) -> Deadline:
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        seconds = remaining() / 1000 if callable(remaining) else TIMEOUT_SECONDS
        return cls(clock() + seconds, clock)

    def left(self) -> float:
        """Seconds until the invocation is stopped."""
        return max(self.end - self.clock(), 0.0)

    def for_reading(self) -> float:
        """Seconds reads may still take, keeping ``SENDING_RESERVE`` (or, with less time left, half of what is
        left) back for sending."""
        left = self.left()
        return max(left - min(SENDING_RESERVE, left / 2), 0.0)

    def ms(self) -> int:
        return int(self.left() * 1000)


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
    member_role_name: str = ""  # set: organization mode
    organization_id: str = ""
    sweep_queue_url: str = ""
    watched_regions: tuple[str, ...] = ()
    detector: Parts = field(default_factory=Parts)  # DETECTOR_RESOURCES: the detector's own parts
    security_hub: bool = False  # SECURITY_HUB=on: findings imported into Security Hub, a channel of its own
    slack_buttons: bool = False  # SLACK_BUTTONS=on: drift alerts carry the buttons a person answers them with

    @property
    def organization(self) -> bool:
        return bool(self.member_role_name)

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
        parts = Parts.parse(env.get("DETECTOR_RESOURCES", ""))
        bad_parts = [p for p in parts.patterns if not _PART.match(p)]
        if bad_parts:
            raise ConfigError(f"DETECTOR_RESOURCES must list ARNs (with * for any region or account), not "
                              f"{bad_parts[0]!r}.")  # fmt: skip
        return cls(
            **_organization(env),
            detector=parts,
            security_hub=_switch(env, "SECURITY_HUB"),
            slack_buttons=_switch(env, "SLACK_BUTTONS"),
            exemptions=_exemptions(env.get("EXEMPTIONS_FILE", "").strip(), code_root),
            state_table=table,
            alert_topic_arn=env.get("ALERT_TOPIC_ARN", "").strip(),
            slack_secret_arn=env.get("SLACK_SECRET_ARN", "").strip(),
            remediation_mode=mode,
            allowed_excluded_sources=sources,
        )


def _switch(env: Mapping[str, str], key: str) -> bool:
    value = env.get(key, "").strip().lower() or "off"
    if value not in ("on", "off"):
        raise ConfigError(f"{key} must be on or off, not {value!r}.")
    return value == "on"


_SLACK_USER = re.compile(r"^[A-Za-z0-9_-]{1,64}$", re.ASCII)


@dataclass(frozen=True)
class InteractionConfig:
    """The interaction endpoint's settings: the drift handler's (``handler``), the Slack app's signing secret
    and the Slack users who may answer alerts."""

    handler: HandlerConfig
    signing_secret_arn: str
    allowed_users: frozenset[str]

    @classmethod
    def from_env(cls, env: Mapping[str, str], code_root: Path = CODE_ROOT) -> InteractionConfig:
        handler = HandlerConfig.from_env(env, code_root)
        secret = env.get("SLACK_SIGNING_SECRET_ARN", "").strip()
        if not re.match(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:\S+$", secret):
            raise ConfigError(f"SLACK_SIGNING_SECRET_ARN must be the ARN of the secret holding the Slack app's "
                              f"signing secret, not {secret!r}.")  # fmt: skip
        users = frozenset(u.strip() for u in env.get("SLACK_ALLOWED_USERS", "").split(",") if u.strip())
        bad = sorted(u for u in users if not _SLACK_USER.match(u))  # the stack checks the ids' form at synth
        if bad:
            raise ConfigError(f"SLACK_ALLOWED_USERS must list Slack user ids (letters, digits, _ and -), not "
                              f"{bad[0]!r}.")  # fmt: skip
        return cls(handler, secret, users)


def _organization(env: Mapping[str, str]) -> dict[str, Any]:
    """The organization settings, each checked; ``ORGANIZATION_ID`` and ``SWEEP_QUEUE_URL`` need
    ``MEMBER_ROLE_NAME``."""
    role = env.get("MEMBER_ROLE_NAME", "").strip()
    organization = env.get("ORGANIZATION_ID", "").strip()
    queue = env.get("SWEEP_QUEUE_URL", "").strip()
    regions = tuple(r.strip() for r in env.get("WATCHED_REGIONS", "").split(",") if r.strip())
    if role and not _ROLE_NAME.match(role):
        raise ConfigError(f"MEMBER_ROLE_NAME must be an IAM role name (letters, digits and +=,.@_-), not {role!r}.")
    if organization and not _ORGANIZATION.match(organization):
        raise ConfigError(f"ORGANIZATION_ID must be an organization id like o-a1b2c3d4e5, not {organization!r}.")
    if queue and not _QUEUE_URL.match(queue):
        raise ConfigError(f"SWEEP_QUEUE_URL must be an SQS queue URL, not {queue!r}.")
    for key, value in (("ORGANIZATION_ID", organization), ("SWEEP_QUEUE_URL", queue)):
        if value and not role:
            raise ConfigError(f"{key} is set but MEMBER_ROLE_NAME is not: organization mode needs the member role.")
    bad = [r for r in regions if not _REGION.match(r)]
    if bad:
        raise ConfigError(f"WATCHED_REGIONS must list AWS regions like us-east-1, not {bad[0]!r}.")
    return {"member_role_name": role, "organization_id": organization, "sweep_queue_url": queue,
            "watched_regions": tuple(dict.fromkeys(regions))}  # fmt: skip


def _exemptions(name: str, code_root: Path) -> tuple[Exemption, ...]:
    if not name:
        return ()
    try:
        return exemptions.load(code_root / name, f"EXEMPTIONS_FILE {name!r}")[1]
    except ExemptionError as error:
        raise ConfigError(str(error)) from None
