"""The deployment's settings: CDK context (cdk.json, or ``cdk deploy -c key=value``) parsed once, validated.

A bad value, or a key trailguard does not know, stops the synth with one sentence naming the key and what
is allowed. Lists may be given as JSON (in cdk.json, or ``-c 'regions=["us-east-1","eu-west-1"]'``) or
comma-separated (``-c regions=us-east-1,eu-west-1``). With no context at all the defaults deploy a working
detector for one account.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from aws_cdk.region_info import RegionInfo

from trailguard import exemptions
from trailguard.exemptions import ExemptionError

RemediationMode = Literal["off", "dry-run", "on"]
MODES: tuple[RemediationMode, ...] = ("off", "dry-run", "on")
ORGANIZATION_KEYS = ("organization", "organizationId", "organizationalUnits", "memberRoleName")
# Slack buttons: the flag first, then the keys that apply only with it.
INTERACTIVITY_KEYS = ("slackInteractivity", "slackSigningSecretName", "slackAllowedUsers")
KEYS = (
    "alertEmails",
    "slackSecretName",
    "remediationMode",
    "regions",
    "sweepSchedule",
    "allowedExcludedSources",
    "exemptionsFile",
    "securityHub",
    "reservedConcurrency",
    *INTERACTIVITY_KEYS,
    *ORGANIZATION_KEYS,
)
# The handler's reserved concurrency by default (see stacks/detector.py); 0: none, for an account whose Lambda
# concurrency quota is still a new account's, where Lambda refuses any reservation.
DEFAULT_RESERVED_CONCURRENCY = 20
# What the CDK itself puts in the context (feature flags, the CLI's own settings) and the lookups it caches in
# cdk.context.json (``<provider>:account=...:region=...``): never a typo of ours.
CDK_KEY_PREFIXES = (
    "@aws-cdk",
    "aws:cdk:",
    "aws-cdk:",
    "aws:asset:",
    "cdk-",
    "cli-telemetry",
    "acknowledged-issue-numbers",
)
CDK_LOOKUP_PROVIDERS = (
    "ami",
    "availability-zones",
    "cc-api-provider",
    "endpoint-service-availability-zones",
    "hosted-zone",
    "key-provider",
    "load-balancer",
    "load-balancer-listener",
    "plugin",
    "security-group",
    "ssm",
    "vpc-provider",
)
DEFAULT_MEMBER_ROLE = "trailguard-member"
DEFAULT_SIGNING_SECRET = "trailguard/slack-signing"
PROJECT = Path(__file__).resolve().parent.parent  # a relative exemptionsFile is found from here (cdk.json's folder)

_EMAIL = re.compile(r"[^@\s,;<>\"']+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+", re.ASCII)
_SECRET_NAME = re.compile(r"[A-Za-z0-9/_+=.@-]{1,512}", re.ASCII)
_SOURCE = re.compile(r"[a-z0-9.-]+\.amazonaws\.com", re.ASCII)
_RATE = re.compile(r"rate\((?:1 (?:minute|hour|day)|(?:[2-9]|[1-9][0-9]+) (?:minutes|hours|days))\)", re.ASCII)
_CRON = re.compile(r"cron\((\S+ ){5}\S+\)", re.ASCII)
_ORGANIZATION_ID = re.compile(r"o-[a-z0-9]{10,32}", re.ASCII)
_OU = re.compile(r"r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}", re.ASCII)
_ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)
_SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,20}", re.ASCII)


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
    organization: bool = False  # the hub of an AWS Organization: a stack set for its members
    organization_id: str = ""
    organizational_units: tuple[str, ...] = ()  # the roots or OUs the member stack set deploys to
    member_role_name: str = DEFAULT_MEMBER_ROLE
    security_hub: bool = False  # import findings into Security Hub (BatchImportFindings)
    reserved_concurrency: int = DEFAULT_RESERVED_CONCURRENCY
    slack_interactivity: bool = False  # buttons on Slack alerts, answered by the interaction function
    slack_signing_secret_name: str = DEFAULT_SIGNING_SECRET  # the Slack app's signing secret (with the buttons)
    slack_allowed_users: tuple[str, ...] = ()  # the Slack user ids whose clicks are acted on

    @property
    def home_region(self) -> str | None:
        """Where the detector lives: the first of ``regions``, or the deploy region when none are given."""
        return self.regions[0] if self.regions else None

    @property
    def forwarded_regions(self) -> tuple[str, ...]:
        return self.regions[1:]

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> DeploySettings:
        """``context`` is ``app.node.get_all_context()``: every key in it must be one trailguard or the CDK knows."""
        _known_keys(context)
        get = context.get
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
        if secret:
            _secret_name("slackSecretName", secret)
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
            security_hub=_flag(get("securityHub"), "securityHub"),
            reserved_concurrency=_concurrency(get("reservedConcurrency")),
            **_interactivity(context, secret),
            **_organization(context),
        )


def _concurrency(value: Any) -> int:
    """``reservedConcurrency``: 0 (none), or 10 to 1000 (room for the sweep, the organization sweep's five SQS
    batches at once and a burst of events); default ``DEFAULT_RESERVED_CONCURRENCY``."""
    if value in (None, ""):
        return DEFAULT_RESERVED_CONCURRENCY
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or not (int(text) == 0 or 10 <= int(text) <= 1000):
        raise SettingsError(
            f"reservedConcurrency must be 0 (none) or a whole number from 10 to 1000, not {json.dumps(value)}."
        )
    return int(text)


def _known_keys(context: Mapping[str, Any]) -> None:
    for key in context:
        cdk_own = key.startswith(CDK_KEY_PREFIXES) or key.split(":", 1)[0] in CDK_LOOKUP_PROVIDERS
        if key not in KEYS and not cdk_own:
            raise SettingsError(f"{key} is not a context key trailguard knows; its keys are {', '.join(KEYS)}.")


def _interactivity(context: Mapping[str, Any], slack_secret: str) -> dict[str, Any]:
    """The Slack buttons' keys, as DeploySettings fields: given only with ``slackInteractivity`` true, which needs
    the Slack alerts (``slackSecretName``) that carry the buttons and someone allowed to press them."""
    get = context.get
    if not _flag(get("slackInteractivity"), "slackInteractivity"):
        given = [key for key in INTERACTIVITY_KEYS[1:] if get(key) not in (None, "", [])]
        if given:
            raise SettingsError(
                f"{given[0]} needs slackInteractivity=true: add -c slackInteractivity=true or remove it."
            )
        return {}
    if not slack_secret:
        raise SettingsError(
            "slackInteractivity=true needs slackSecretName, since the alerts that carry the buttons go to Slack."
        )
    signing = _text(get("slackSigningSecretName"), "slackSigningSecretName") or DEFAULT_SIGNING_SECRET
    _secret_name("slackSigningSecretName", signing)
    if signing == slack_secret:  # the interaction function must not be able to read the webhook or the token
        raise SettingsError(
            f"slackSigningSecretName must name a secret of its own, not slackSecretName's {slack_secret!r}."
        )
    users = _list(get("slackAllowedUsers"), "slackAllowedUsers")
    if not users:
        raise SettingsError(
            "slackInteractivity=true needs slackAllowedUsers, the Slack user ids (such as U024BE7LH) whose clicks "
            "are acted on."
        )
    _checked("slackAllowedUsers", users, _SLACK_USER, "Slack user ids (U or W and 2 to 20 capital letters or digits)")
    _once("slackAllowedUsers", users)
    return {"slack_interactivity": True, "slack_signing_secret_name": signing, "slack_allowed_users": users}


def _secret_name(key: str, name: str) -> None:
    """A secret the functions name by a partial ARN (its name): Secrets Manager takes a name ending in a hyphen
    and six characters for a full ARN with its random suffix, and would not find the secret."""
    if not _SECRET_NAME.fullmatch(name):
        raise SettingsError(f"{key} must be a Secrets Manager secret name, not {name!r}.")
    if re.search(r"-[A-Za-z0-9]{6}$", name):
        raise SettingsError(f"{key} must not end in a hyphen and six characters ({name!r}): Secrets Manager would "
                            "read the name as a full ARN and not find the secret; rename it, for example without "
                            "the hyphen.")  # fmt: skip


def _once(key: str, values: tuple[str, ...]) -> None:
    """A list key names each value once."""
    duplicate = next((value for value in values if values.count(value) > 1), None)
    if duplicate:
        raise SettingsError(f"{key} lists {duplicate!r} more than once.")


def _organization(context: Mapping[str, Any]) -> dict[str, Any]:
    """The organization keys, as DeploySettings fields: given only with ``organization`` true."""
    get = context.get
    if not _flag(get("organization"), "organization"):
        given = [key for key in ORGANIZATION_KEYS[1:] if get(key) not in (None, "", [])]
        if given:
            raise SettingsError(
                f"{given[0]} applies only to an organization deployment: add -c organization=true or remove it."
            )
        return {}
    organization_id = _text(get("organizationId"), "organizationId")
    if not organization_id:
        raise SettingsError("organizationId is required with organization=true (o- and 10 to 32 letters or digits).")
    if not _ORGANIZATION_ID.fullmatch(organization_id):
        raise SettingsError(
            f"organizationId must be o- and 10 to 32 lowercase letters or digits, not {organization_id!r}."
        )
    units = _list(get("organizationalUnits"), "organizationalUnits")
    if not units:
        raise SettingsError(
            "organizationalUnits is required with organization=true: the root (r-...) or OU ids (ou-...) the "
            "member stack set deploys to."
        )
    _checked("organizationalUnits", units, _OU, "root ids (r-...) or OU ids (ou-...-...)")
    _once("organizationalUnits", units)
    role = _text(get("memberRoleName"), "memberRoleName") or DEFAULT_MEMBER_ROLE
    if not _ROLE_NAME.fullmatch(role):
        raise SettingsError(
            f"memberRoleName must be an IAM role name (up to 64 letters, digits or +=,.@_-), not {role!r}."
        )
    return {
        "organization": True,
        "organization_id": organization_id,
        "organizational_units": units,
        "member_role_name": role,
    }


def _flag(value: Any, key: str) -> bool:
    """A JSON boolean, or "true" / "false" as ``-c key=value`` gives it."""
    if isinstance(value, bool):
        return value
    text = value.strip().lower() if isinstance(value, str) else value
    if text not in (None, "", "true", "false"):
        raise SettingsError(f"{key} must be true or false, not {json.dumps(value)}.")
    return text == "true"


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
