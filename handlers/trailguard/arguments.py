"""The command line's argument forms, shared by ``trailguard audit`` and the answer commands: each check gives
the one sentence that says what is wrong, or "". Pure, but for the regions botocore knows."""

from __future__ import annotations

import re
from collections.abc import Iterable

DEFAULT_ROLE = "trailguard-member"
_SOURCE = re.compile(r"[a-z0-9.-]+\.amazonaws\.com", re.ASCII)
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}", re.ASCII)
_ACCOUNT = re.compile(r"\d{12}", re.ASCII)
_ROLE = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)


def sources(values: Iterable[str]) -> str:
    bad = [s for s in values if not _SOURCE.fullmatch(s)]
    return f"--allow-excluded-source must be an event source like kms.amazonaws.com, not {bad[0]!r}" if bad else ""


def accounts(values: Iterable[str]) -> str:
    bad = [a for a in values if not _ACCOUNT.fullmatch(a)]
    return f"--account must be a 12-digit AWS account id, not {bad[0]!r}" if bad else ""


def role(name: str) -> str:
    return "" if _ROLE.fullmatch(name) else f"--role-name must be an IAM role name, not {name!r}"


def regions(values: Iterable[str]) -> str:
    """A region must be one botocore knows CloudTrail in (any partition), so that a typo is not read as a
    region that cannot be reached."""
    values = list(values)
    if not values:
        return ""
    known = _known_regions()
    bad = [r for r in values if not _REGION.fullmatch(r) or (known and r not in known)]
    return f"--region {bad[0]!r} is not an AWS region where CloudTrail is offered" if bad else ""


def _known_regions() -> set[str]:
    """Every region botocore knows CloudTrail in, across partitions (empty if its data cannot be read)."""
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        session = boto3.session.Session()
        return {r for p in session.get_available_partitions() for r in session.get_available_regions("cloudtrail", p)}
    except (BotoCoreError, ValueError):  # a broken AWS configuration is reported when the command starts
        return set()
