"""The state reader against moto's server, with faults injected into one trail or region at a time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from trailguard.aws import CLIENT_CONFIG, AuditAborted, ClientCache
from trailguard.judge import evaluate_account
from trailguard.read import read_account
from trailguard_dev.emulator import Emulator

pytestmark = pytest.mark.integration

REGIONS = ["us-east-1", "eu-west-1"]
FOREIGN_ORG_TRAIL = {
    "Name": "org-trail",
    "S3BucketName": "org-logs",
    "IncludeGlobalServiceEvents": True,
    "IsMultiRegionTrail": True,
    "HomeRegion": "us-east-1",
    "TrailARN": "arn:aws:cloudtrail:us-east-1:999988887777:trail/org-trail",
    "IsOrganizationTrail": True,
}


def denied(operation: str) -> ClientError:
    error = {"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}}
    return ClientError(error, operation)  # type: ignore[arg-type]


class FaultyClient:
    """A real emulator client, except for the faults a test names."""

    def __init__(self, real: Any, faults: dict[str, Callable[..., Any]]) -> None:
        self._real, self._faults = real, faults

    def __getattr__(self, name: str) -> Any:
        return self._faults.get(name, getattr(self._real, name))


def clients(faults: Callable[[str, Any], dict[str, Callable[..., Any]]] | None = None) -> ClientCache:
    def make(region: str) -> Any:
        real = boto3.client("cloudtrail", region_name=region, config=CLIENT_CONFIG)
        return FaultyClient(real, faults(region, real) if faults else {})

    return ClientCache(make)


def no_sts() -> str:
    raise AssertionError("the account id is known from the trails; STS must not be called")


def test_access_denied_on_one_trail_does_not_hide_the_others(aws: Emulator, trail: Callable[..., str]) -> None:
    good = trail("us-east-1", "good")
    locked = trail("us-east-1", "locked")

    def faults(region: str, real: Any) -> dict[str, Callable[..., Any]]:
        def status(Name: str) -> Any:
            if Name == locked:
                raise denied("GetTrailStatus")
            return real.get_trail_status(Name=Name)

        return {"get_trail_status": status}

    state = read_account(clients(faults), REGIONS, no_sts)
    verdict = evaluate_account(state.account, state.trails)

    by_arn = {t.trail.arn: t for t in verdict.trails}
    assert by_arn[good].compliant
    assert not by_arn[locked].evaluated
    assert [f.rule for f in by_arn[locked].findings] == ["not-evaluable"]
    assert "AccessDeniedException" in by_arn[locked].findings[0].message
    assert verdict.covered  # the readable trail is compliant, so the account is covered (CIS 3.1)
    assert verdict.outcome() == "unknown"  # yet the unread trail's findings could not be told


def test_trail_deleted_during_the_audit_is_reported_not_evaluated(aws: Emulator, trail: Callable[..., str]) -> None:
    trail("us-east-1", "stays")
    trail("us-east-1", "goes")

    def faults(region: str, real: Any) -> dict[str, Callable[..., Any]]:
        def selectors(TrailName: str) -> Any:
            if TrailName.endswith("/goes"):
                real.delete_trail(Name="goes")
            return real.get_event_selectors(TrailName=TrailName)

        return {"get_event_selectors": selectors}

    state = read_account(clients(faults), ["us-east-1"], no_sts)

    errors = {t.name: t.error for t in state.trails}
    assert errors["stays"] is None
    assert errors["goes"] is not None
    assert "TrailNotFoundException" in errors["goes"]


def test_failing_region_is_recorded_and_other_regions_are_read(aws: Emulator, trail: Callable[..., str]) -> None:
    trail("us-east-1", "main", multi_region=False)

    def faults(region: str, real: Any) -> dict[str, Callable[..., Any]]:
        if region != "eu-west-1":
            return {}

        def describe(**kwargs: Any) -> Any:
            raise denied("DescribeTrails")

        return {"describe_trails": describe}

    state = read_account(clients(faults), REGIONS, no_sts)
    verdict = evaluate_account(state.account, state.trails, unread_regions=sorted(state.region_errors))

    assert [t.name for t in state.trails] == ["main"]
    assert list(state.region_errors) == ["eu-west-1"]
    # the only trail drifts, but eu-west-1 may hold a compliant one: the account is unknown, not drifted
    assert [f.rule for f in verdict.findings] == ["not-evaluable"]


def test_a_foreign_organization_trail_is_read_by_its_arn_in_its_home_region(
    aws: Emulator, trail: Callable[..., str]
) -> None:
    # CloudTrail API reference, GetTrailStatus Name: a member account reads an organization trail by its ARN.
    own = trail("us-east-1", "own")
    read: list[tuple[str, str]] = []

    def faults(region: str, real: Any) -> dict[str, Callable[..., Any]]:
        def describe(**kwargs: Any) -> Any:
            response = real.describe_trails(**kwargs)
            return {"trailList": [*response["trailList"], FOREIGN_ORG_TRAIL]}

        def status(Name: str) -> Any:
            read.append((region, Name))
            return real.get_trail_status(Name=Name)

        return {"describe_trails": describe, "get_trail_status": status}

    state = read_account(clients(faults), REGIONS, no_sts)
    verdict = evaluate_account(state.account, state.trails)

    assert sorted(read) == sorted([("us-east-1", own), ("us-east-1", FOREIGN_ORG_TRAIL["TrailARN"])])
    org = next(t for t in verdict.trails if t.trail.name == "org-trail")
    assert not org.evaluated  # plain moto keeps it in the owner's account: TrailNotFound here
    assert [f.rule for f in org.findings] == ["not-evaluable", "organization-trail-elsewhere"]
    assert verdict.covered  # the account's own compliant trail covers it
    assert verdict.outcome() == "unknown"  # but a trail could not be read, as for any unreadable trail


def test_only_a_foreign_organization_trail_leaves_the_account_unknown(aws: Emulator) -> None:
    def faults(region: str, real: Any) -> dict[str, Callable[..., Any]]:
        return {"describe_trails": lambda **_kw: {"trailList": [FOREIGN_ORG_TRAIL]}}

    state = read_account(clients(faults), REGIONS, lambda: "123456789012")
    verdict = evaluate_account(state.account, state.trails)

    assert state.account == "123456789012"
    assert not verdict.covered and not verdict.compliant
    assert verdict.outcome() == "unknown"
    assert [f.rule for f in verdict.findings] == ["not-evaluable"]
    assert "no-compliant-trail" not in [f.rule for f in verdict.all_findings]


def test_own_organization_trail_is_evaluated(aws: Emulator) -> None:
    ct = boto3.client("cloudtrail", region_name="us-east-1")
    arn = ct.create_trail(
        Name="org", S3BucketName="trailguard-test-logs", IsMultiRegionTrail=True, IsOrganizationTrail=True
    )["TrailARN"]
    ct.put_event_selectors(TrailName="org", EventSelectors=[{"ReadWriteType": "All", "IncludeManagementEvents": True}])
    ct.start_logging(Name="org")

    state = read_account(clients(), REGIONS, lambda: "123456789012")
    verdict = evaluate_account(state.account, state.trails)

    assert [(t.trail.arn, t.compliant) for t in verdict.trails] == [(arn, True)]


def rejected(operation: str) -> ClientError:
    error = {"Error": {"Code": "UnrecognizedClientException", "Message": "The security token included is invalid."}}
    return ClientError(error, operation)  # type: ignore[arg-type]


def test_region_not_enabled_for_the_account_is_a_region_error_not_an_abort(
    aws: Emulator, trail: Callable[..., str]
) -> None:
    trail("us-east-1", "main")

    def faults(region: str, real: Any) -> dict[str, Callable[..., Any]]:
        def describe(**kwargs: Any) -> Any:
            raise rejected("DescribeTrails")

        return {"describe_trails": describe} if region == "me-south-1" else {}

    state = read_account(clients(faults), ["us-east-1", "me-south-1"], no_sts)

    assert [t.name for t in state.trails] == ["main"]
    assert "enabled for the account" in state.region_errors["me-south-1"]


def test_credentials_rejected_in_every_region_abort_the_read(aws: Emulator) -> None:
    def faults(region: str, real: Any) -> dict[str, Callable[..., Any]]:
        def describe(**kwargs: Any) -> Any:
            raise rejected("DescribeTrails")

        return {"describe_trails": describe}

    with pytest.raises(AuditAborted, match="AWS rejected the credentials"):
        read_account(clients(faults), REGIONS, no_sts)
