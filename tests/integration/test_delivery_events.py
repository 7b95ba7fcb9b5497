"""Calls that break a trail's delivery from the side (its bucket, KMS key or log group): the handler maps the
resource back to the trails that use it and judges them now."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from tests.events import service_call

from .conftest import ACCOUNT, BUCKET, REGION, Detector, cloudtrail

pytestmark = pytest.mark.integration


side_call = service_call  # the call's event, as CloudTrail records it


def test_disabling_a_trails_key_is_alerted_at_once_naming_the_trail(
    detector: Detector, trail: Callable[..., str]
) -> None:
    kms = boto3.client("kms", region_name=REGION)
    key = kms.create_key(Description="trail logs")["KeyMetadata"]
    arn = trail(REGION, "org-audit")
    cloudtrail().update_trail(Name="org-audit", KmsKeyId=key["Arn"])
    kms.disable_key(KeyId=key["KeyId"])

    result = detector.run(side_call("kms", "DisableKey", {"keyId": key["KeyId"]}))

    assert result["status"] == "drift" and result["trail_arn"] == arn
    assert [f["rule"] for f in result["findings"] if f["rule"] != "organization-trail-elsewhere"] == [
        "log-key-unusable"
    ]
    [text] = detector.slack_texts()
    assert "DisableKey on kms" in text and "org-audit" in text and "mallory" in text
    assert len(detector.inbox()) == 1
    again = detector.run(side_call("kms", "DisableKey", {"keyId": key["KeyId"]}, eventID=result["event_id"]))
    assert again["status"] == "duplicate" and len(detector.slack_texts()) == 1


def test_a_bucket_policy_change_that_has_not_broken_delivery_yet_is_judged_compliant(
    detector: Detector, trail: Callable[..., str]
) -> None:
    trail(REGION, "org-audit")
    policy = {"Version": "2012-10-17", "Statement": []}
    boto3.client("s3", region_name=REGION).put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(policy))

    result = detector.run(side_call("s3", "PutBucketPolicy", {"bucketName": BUCKET, "bucketPolicy": policy}))

    assert result["status"] == "compliant" and result["account"] == ACCOUNT
    assert detector.slack_texts() == []


def test_a_resource_no_trail_uses_or_a_failed_call_is_ignored(detector: Detector, trail: Callable[..., str]) -> None:
    trail(REGION, "org-audit")

    unused = detector.run(side_call("s3", "DeleteBucket", {"bucketName": "someone-elses-bucket"}))
    failed = detector.run(side_call("logs", "DeleteLogGroup", {"logGroupName": "audit"}, errorCode="AccessDenied"))
    unwatched = detector.run(side_call("s3", "PutObject", {"bucketName": BUCKET}))

    assert unused["status"] == failed["status"] == unwatched["status"] == "ignored"
    assert "no trail of account" in unused["reason"] and "AccessDenied" in failed["reason"]
    assert detector.slack_texts() == []


@pytest.mark.parametrize(
    ("name", "parameters", "says"),
    [
        ("LeaveOrganization", None, "left the organization"),
        ("DisableAWSServiceAccess", {"servicePrincipal": "cloudtrail.amazonaws.com"}, "trusted access"),
        ("DeregisterDelegatedAdministrator", {"accountId": "111122223333",
                                              "servicePrincipal": "cloudtrail.amazonaws.com"}, "delegated admin"),
    ],
)  # fmt: skip
def test_an_organization_call_that_removes_cloudtrails_reach_is_a_logging_gap(
    detector: Detector, name: str, parameters: dict[str, Any] | None, says: str
) -> None:
    result = detector.run(side_call("organizations", name, parameters or {}))

    assert result["status"] == "drift" and [f["rule"] for f in result["findings"]] == ["logging-gap"]
    assert says in result["findings"][0]["message"] and "mallory" in result["findings"][0]["message"]
    [text] = detector.slack_texts()
    assert name in text and "AWS Organizations" in text


def test_the_same_organization_call_for_another_service_is_ignored(detector: Detector) -> None:
    other = side_call("organizations", "DisableAWSServiceAccess", {"servicePrincipal": "config.amazonaws.com"})

    assert detector.run(other)["status"] == "ignored" and detector.slack_texts() == []
