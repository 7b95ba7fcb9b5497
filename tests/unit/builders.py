"""Tiny builders for the plain data the policy engine judges: trails, statuses and selectors.

Every trail is compliant unless a test says otherwise, so a test names only what it changes.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable, Mapping
from typing import Any

from trailguard.judge import TrailState, evaluate_trail
from trailguard.render.fix import cli
from trailguard.rules import Facts, Finding

ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"
REGION = "eu-west-1"

LOGGING: dict[str, Any] = {"IsLogging": True}
STOPPED: dict[str, Any] = {"IsLogging": False}


def trail(name: str = "audit-trail", region: str = REGION, account: str = ACCOUNT, **overrides: Any) -> dict[str, Any]:
    """A DescribeTrails item for a compliant multi-region trail; keyword arguments override its keys."""
    item = {
        "Name": name,
        "S3BucketName": "audit-logs",
        "IncludeGlobalServiceEvents": True,
        "IsMultiRegionTrail": True,
        "HomeRegion": region,
        "TrailARN": f"arn:aws:cloudtrail:{region}:{account}:trail/{name}",
        "LogFileValidationEnabled": True,
        "IsOrganizationTrail": False,
    }
    item.update(overrides)
    return item


def basic(
    read_write: str | None = "All",
    include: bool | None = True,
    data: Iterable[Mapping[str, Any]] = (),
    exclude: Iterable[str] = (),
) -> dict[str, Any]:
    """A basic event selector; ``None`` leaves a key out so that the API's default applies."""
    sel: dict[str, Any] = {"DataResources": [dict(d) for d in data], "ExcludeManagementEventSources": list(exclude)}
    if read_write is not None:
        sel["ReadWriteType"] = read_write
    if include is not None:
        sel["IncludeManagementEvents"] = include
    return sel


def cond(field: str, **operators: Iterable[str]) -> dict[str, Any]:
    """One advanced field selector: ``cond("eventSource", NotEquals=["iam.amazonaws.com"])``."""
    return {"Field": field, **{op: list(values) for op, values in operators.items()}}


MANAGEMENT = cond("eventCategory", Equals=["Management"])


def adv(*conditions: Mapping[str, Any], name: str | None = None) -> dict[str, Any]:
    """An advanced selector; without conditions, one that logs every management event."""
    sel: dict[str, Any] = {"FieldSelectors": [dict(c) for c in conditions] or [dict(MANAGEMENT)]}
    if name is not None:
        sel["Name"] = name
    return sel


def mgmt(*conditions: Mapping[str, Any], name: str | None = None) -> dict[str, Any]:
    """An advanced management selector: eventCategory Equals Management AND the given conditions."""
    return adv(MANAGEMENT, *conditions, name=name)


def s3_data_selector(name: str = "S3 objects of one bucket") -> dict[str, Any]:
    return adv(
        cond("eventCategory", Equals=["Data"]),
        cond("resources.type", Equals=["AWS::S3::Object"]),
        cond("resources.ARN", StartsWith=["arn:aws:s3:::payroll-exports/"]),
        name=name,
    )


def basics(*selectors: Mapping[str, Any]) -> dict[str, Any]:
    """A GetEventSelectors response with basic selectors."""
    return {"TrailARN": trail()["TrailARN"], "EventSelectors": [dict(s) for s in selectors]}


def advanced(*selectors: Mapping[str, Any]) -> dict[str, Any]:
    """A GetEventSelectors response with advanced selectors."""
    return {"TrailARN": trail()["TrailARN"], "AdvancedEventSelectors": [dict(s) for s in selectors]}


DEFAULT_SELECTORS = basics(basic())


def judge(
    selectors: Mapping[str, Any] = DEFAULT_SELECTORS,
    status: Mapping[str, Any] = LOGGING,
    allowed: Iterable[str] = (),
    **trail_overrides: Any,
) -> list[Finding]:
    """Evaluate one trail that is compliant except for what the arguments change."""
    return evaluate_trail(
        Facts(trail(**trail_overrides), status, selectors, allowed_excluded_sources=frozenset(allowed))
    )


def fix_text(finding: Finding) -> str:
    """The finding's fix as the AWS CLI command a person pastes (in the trail's home region)."""
    return cli(finding.calls, finding.region)


def rules(findings: Iterable[Finding]) -> list[str]:
    return [f.rule for f in findings]


def only(findings: list[Finding], rule: str) -> Finding:
    """The one finding of ``rule``; fails when there is none or more than one."""
    matching = [f for f in findings if f.rule == rule]
    assert len(matching) == 1, f"expected one {rule} finding, got {rules(findings)}"
    return matching[0]


def state(description: Mapping[str, Any] | None = None, **kwargs: Any) -> TrailState:
    """A TrailState read without error: a compliant trail unless told otherwise."""
    kwargs.setdefault("status", LOGGING)
    kwargs.setdefault("selectors", DEFAULT_SELECTORS)
    return TrailState(description=description or trail(), **kwargs)


def put_event_selectors_payload(fix: str) -> tuple[list[str], dict[str, Any]]:
    """Split a put-event-selectors command and decode its selector JSON as PutEventSelectors kwargs."""
    argv = shlex.split(fix)
    for option, key in (
        ("--event-selectors", "EventSelectors"),
        ("--advanced-event-selectors", "AdvancedEventSelectors"),
    ):
        if option in argv:
            return argv, {key: json.loads(argv[argv.index(option) + 1])}
    raise AssertionError(f"no selectors in fix command: {fix}")


def option(argv: list[str], name: str) -> str:
    """The value following ``name`` in a command line."""
    assert name in argv, f"{name} missing from {argv}"
    return argv[argv.index(name) + 1]
