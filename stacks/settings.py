"""The deployment's settings: CDK context (cdk.json, or ``cdk deploy -c key=value``) parsed once, validated.

A bad value stops the synth with one sentence naming the key and what is allowed. Lists may be given as
JSON (in cdk.json, or ``-c 'regions=["us-east-1","eu-west-1"]'``) or comma-separated (``-c
regions=us-east-1,eu-west-1``). With no context at all the defaults deploy a working detector.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from aws_cdk.region_info import RegionInfo

from trailguard import exemptions
from trailguard.exemptions import ExemptionError

RemediationMode = Literal["off", "dry-run", "on"]
MODES: tuple[RemediationMode, ...] = ("off", "dry-run", "on")
KEYS = (
    "alertEmails",
    "slackSecretName",
    "remediationMode",
    "regions",
    "sweepSchedule",
    "allowedExcludedSources",
    "exemptionsFile",
)
PROJECT = Path(__file__).resolve().parent.parent  # a relative exemptionsFile is found from here (cdk.json's folder)

_EMAIL = re.compile(r"[^@\s,;<>\"']+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+", re.ASCII)
_SECRET_NAME = re.compile(r"[A-Za-z0-9/_+=.@-]{1,512}", re.ASCII)
_SOURCE = re.compile(r"[a-z0-9.-]+\.amazonaws\.com", re.ASCII)
_RATE = re.compile(r"rate\((?:1 (?:minute|hour|day)|(?:[2-9]|[1-9][0-9]+) (?:minutes|hours|days))\)", re.ASCII)
_CRON = re.compile(r"cron\((\S+ ){5}\S+\)", re.ASCII)


class SettingsError(ValueError):
    """A context value is wrong; the message is one sentence naming the key and what is allowed."""


@dataclass(frozen=True)
class DeploySettings:
    alert_emails: tuple[str, ...] = ()
    slack_secret_name: str = ""
    remediation_mode: RemediationMode = "off"
    regions: tuple[str, ...] = ()
    sweep_schedule: str = "rate(1 hour)"
    allowed_excluded_sources: tuple[str, ...] = ()
    exemptions_json: str = ""  # the validated exemptions file, shipped in the Lambda's code

    @property
    def home_region(self) -> str | None:
        """Where the detector lives: the first of ``regions``, or the deploy region when none are given."""
        return self.regions[0] if self.regions else None

    @property
    def forwarded_regions(self) -> tuple[str, ...]:
        return self.regions[1:]

    @classmethod
    def from_context(cls, get: Callable[[str], Any]) -> DeploySettings:
        """``get`` is ``app.node.try_get_context``."""
        mode = _text(get("remediationMode"), "remediationMode") or "off"
        if mode not in MODES:
            raise SettingsError(f"remediationMode must be one of {', '.join(MODES)}, not {mode!r}.")
        schedule = _text(get("sweepSchedule"), "sweepSchedule") or cls.sweep_schedule
        if not (_RATE.fullmatch(schedule) or _CRON.fullmatch(schedule)):
            raise SettingsError(
                f"sweepSchedule must be rate(N unit) (e.g. rate(1 hour), rate(30 minutes)) or cron(6 fields), "
                f"not {schedule!r}."
            )
        secret = _text(get("slackSecretName"), "slackSecretName")
        if secret and not _SECRET_NAME.fullmatch(secret):
            raise SettingsError(f"slackSecretName must be a Secrets Manager secret name, not {secret!r}.")
        return cls(
            exemptions_json=_exemptions(_text(get("exemptionsFile"), "exemptionsFile")),
            alert_emails=_checked("alertEmails", _list(get("alertEmails"), "alertEmails"), _EMAIL, "email addresses"),
            slack_secret_name=secret,
            remediation_mode=mode,
            regions=_regions(_list(get("regions"), "regions")),
            sweep_schedule=schedule,
            allowed_excluded_sources=_checked(
                "allowedExcludedSources",
                _list(get("allowedExcludedSources"), "allowedExcludedSources"),
                _SOURCE,
                "event sources like kms.amazonaws.com",
            ),
        )


def _text(value: Any, key: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise SettingsError(f"{key} must be a string, not {json.dumps(value)}.")
    return value.strip()


def _list(value: Any, key: str) -> tuple[str, ...]:
    """A JSON list, a JSON-encoded list, or a comma-separated string."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("["):
            try:
                value = json.loads(stripped)
            except ValueError:
                raise SettingsError(f"{key} is not a valid JSON list: {stripped!r}.") from None
        else:
            return tuple(v.strip() for v in stripped.split(",") if v.strip())
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SettingsError(f"{key} must be a list of strings (JSON or comma-separated), not {json.dumps(value)}.")
    return tuple(v.strip() for v in value if v.strip())


def _checked(key: str, values: tuple[str, ...], pattern: re.Pattern[str], allowed: str) -> tuple[str, ...]:
    for value in values:
        if not pattern.fullmatch(value):
            raise SettingsError(f"{key} must list only {allowed}, and {value!r} is not one.")
    return values


def _regions(values: tuple[str, ...]) -> tuple[str, ...]:
    known = {r.name for r in RegionInfo.regions}
    for value in values:
        if value not in known:
            raise SettingsError(f"regions must list AWS regions (such as us-east-1); {value!r} is not one.")
        if values.count(value) > 1:
            raise SettingsError(f"regions lists {value!r} more than once.")
    partitions = {value: RegionInfo.get(value).partition for value in values}
    if len(set(partitions.values())) > 1:  # an event bus in one partition cannot send events to another
        first, other = values[0], next(v for v in values if partitions[v] != partitions[values[0]])
        raise SettingsError(
            f"regions must all be in one AWS partition, so that events can be forwarded to {first}; "
            f"{other!r} is in {partitions[other]}, {first!r} in {partitions[first]}."
        )
    return values


def _exemptions(name: str) -> str:
    """The exemptions file, validated now so that a bad entry stops the synth rather than the Lambda."""
    if not name:
        return ""
    path = Path(name) if Path(name).is_absolute() else PROJECT / name
    try:
        return exemptions.load(path, f"exemptionsFile {name!r}")[0]
    except ExemptionError as error:
        raise SettingsError(str(error)) from None
