"""CIS AWS 3.1 for the account: at least one multi-region trail logs all management events."""

from __future__ import annotations

from .registry import Call, Facts, Rule, register

NEW_TRAIL = "management-events"


def fix(_facts: Facts) -> list[Call]:
    """A new trail that satisfies the policy, made in the caller's region (the bucket must allow CloudTrail)."""
    create = {
        "Name": NEW_TRAIL,
        "S3BucketName": "<log-bucket>",
        "IsMultiRegionTrail": True,
        "IncludeGlobalServiceEvents": True,
        "EnableLogFileValidation": True,
    }
    return [("CreateTrail", create), ("StartLogging", {"Name": NEW_TRAIL})]


NO_COMPLIANT_TRAIL = register(
    Rule(
        id="no-compliant-trail",
        severity="critical",
        meaning="No trail in the account is compliant (CIS AWS 3.1).",
        scope="account",
        fix=fix,
        automatic=False,  # a person chooses the bucket
        exemptible=False,
        revert_order=99,
    )
)
