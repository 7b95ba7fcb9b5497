"""A finding that a denied read caused names the permission the caller lacks."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from trailguard.judge import evaluate_account
from trailguard.read import read_account
from trailguard.render.audit import verdict

ARN = "arn:aws:cloudtrail:us-east-1:111122223333:trail/main"


def denied(operation: str) -> ClientError:
    return ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}, operation)


class Client:
    """A CloudTrail client that lists one trail and is denied GetTrailStatus."""

    def describe_trails(self, **_: Any) -> dict[str, Any]:
        return {"trailList": [{"Name": "main", "TrailARN": ARN, "HomeRegion": "us-east-1", "IsMultiRegionTrail": True}]}

    def get_trail_status(self, **_: Any) -> dict[str, Any]:
        raise denied("GetTrailStatus")

    def get_event_selectors(self, **_: Any) -> dict[str, Any]:
        return {"EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": True}]}


class Blind(Client):
    def describe_trails(self, **_: Any) -> dict[str, Any]:
        raise denied("DescribeTrails")


def test_a_denied_status_read_names_the_missing_permission_and_the_verdict_is_unknown() -> None:
    state = read_account(lambda _region: Client(), ["us-east-1"], lambda: "111122223333")  # type: ignore[arg-type,return-value]
    account = evaluate_account(state.account, state.trails, region="us-east-1")

    (trail,) = account.trails
    assert not trail.evaluated
    assert "the caller lacks cloudtrail:GetTrailStatus" in trail.findings[0].message
    assert verdict(account, state.region_errors) == "unknown"


def test_a_denied_listing_names_the_missing_permission() -> None:
    state = read_account(lambda _region: Blind(), ["us-east-1", "eu-west-1"], lambda: "111122223333")  # type: ignore[arg-type,return-value]

    assert set(state.region_errors) == {"us-east-1", "eu-west-1"}
    assert all("the caller lacks cloudtrail:DescribeTrails" in m for m in state.region_errors.values())
