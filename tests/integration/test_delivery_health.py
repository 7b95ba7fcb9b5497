"""Delivery health against the emulator: a trail that is logging while its logs cannot be encrypted
(log-key-unusable) or do not arrive (delivery-failing), judged by the real ``trailguard audit`` and the real
drift handler. moto's GetTrailStatus never reports delivery errors, so the fault proxy writes them into its
answers, as AWS would give them."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

import drift_handler
from tests.events import event
from trailguard_dev.emulator import Emulator, environment
from trailguard_dev.proxy import Fault, FaultProxy

from .conftest import ACCOUNT, REGION, Detector, cloudtrail, run_trailguard

pytestmark = pytest.mark.integration

KEY_REGION = "eu-west-1"  # the key lives in another region than the trail's home region
MISSING_KEY = f"arn:aws:kms:{KEY_REGION}:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000"


def audit(*args: str) -> tuple[int, dict[str, Any]]:
    done = run_trailguard("audit", "--json", "--region", REGION, *args)
    assert done.stderr == "", done.stderr
    return done.code, json.loads(done.stdout)


def rules(report: dict[str, Any]) -> list[tuple[str, str]]:
    return [(f["rule"], f["severity"]) for f in report["findings"]]


def key(state: str = "Enabled") -> str:
    """A KMS key in KEY_REGION in the given state; its ARN. (moto answers 500 to DisableKey by ARN: by id.)"""
    kms = boto3.client("kms", region_name=KEY_REGION)
    made = kms.create_key(Description="trail logs")["KeyMetadata"]
    if state == "Disabled":
        kms.disable_key(KeyId=made["KeyId"])
    elif state == "PendingDeletion":
        kms.schedule_key_deletion(KeyId=made["KeyId"], PendingWindowInDays=7)
    return str(made["Arn"])


def encrypted(trail: Callable[..., str], key_arn: str, name: str = "org-audit") -> str:
    arn = trail(REGION, name)
    cloudtrail().update_trail(Name=name, KmsKeyId=key_arn)
    return arn


@pytest.fixture
def proxy(aws: Emulator) -> Iterator[FaultProxy]:
    """This test's boto3 and the ``trailguard`` it runs, talking to the emulator through the fault proxy."""
    with FaultProxy(aws.endpoint) as running, environment(running.environ()):
        yield running


# --- log-key-unusable --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "says"), [("Disabled", "is disabled"), ("PendingDeletion", "scheduled for deletion")]
)
def test_a_trail_whose_key_cannot_encrypt_is_log_key_unusable(
    aws: Emulator, trail: Callable[..., str], state: str, says: str
) -> None:
    key_arn = key(state)
    arn = encrypted(trail, key_arn)
    aws.clear_calls()

    code, report = audit()

    assert code == 1
    assert rules(report) == [("log-key-unusable", "critical"), ("no-compliant-trail", "critical")]
    finding = report["findings"][0]
    assert finding["trail_arn"] == arn and says in finding["message"] and key_arn in finding["message"]
    assert f"aws kms enable-key --key-id {key_arn} --region {KEY_REGION}" in finding["hint"]
    assert ("cancel-key-deletion" in finding["hint"]) == (state == "PendingDeletion")
    assert aws.calls()["DescribeKey"] == 1  # one read of the key, in its own region (moto's keys are regional)


def test_an_enabled_key_is_compliant_and_a_trail_without_a_key_costs_no_kms_call(
    aws: Emulator, trail: Callable[..., str]
) -> None:
    encrypted(trail, key())
    trail(REGION, "plain")
    aws.clear_calls()

    code, report = audit()

    assert (code, report["compliant"]) == (0, True)
    assert aws.calls()["DescribeKey"] == 1  # the encrypted trail's key only


def test_a_key_that_does_not_exist_is_not_evaluable_never_compliant(aws: Emulator, trail: Callable[..., str]) -> None:
    encrypted(trail, MISSING_KEY)

    code, report = audit()

    assert code == 2 and report["verdict"] == "unknown" and report["compliant"] is False
    assert [f["rule"] for f in report["findings"]] == ["not-evaluable", "not-evaluable"]
    assert "DescribeKey: NotFoundException" in report["findings"][0]["message"]


def test_a_key_the_caller_may_not_read_is_not_evaluable_naming_the_permission(
    proxy: FaultProxy, trail: Callable[..., str]
) -> None:
    encrypted(trail, key())
    proxy.add(Fault("DescribeKey", times=-1, status=400, code="AccessDeniedException", message="not in key policy"))

    code, report = audit()

    assert code == 2
    assert "the caller lacks kms:DescribeKey" in report["findings"][0]["message"]


def test_the_drift_handler_alerts_an_update_trail_onto_a_disabled_key(
    detector: Detector, trail: Callable[..., str]
) -> None:
    key_arn = key("Disabled")
    arn = encrypted(trail, key_arn)

    result = detector.run(event("updatetrail_console_form", trail="org-audit", region=REGION))

    assert result["status"] == "drift" and result["trail_arn"] == arn
    assert [(f["rule"], f["severity"]) for f in result["findings"]] == [
        ("log-key-unusable", "critical"),
        ("no-compliant-trail", "critical"),
    ]
    assert result["notified"] == ["slack", "sns"] and result["actions"] == []
    [text] = detector.slack_texts()
    assert "log-key-unusable" in text and f"aws kms enable-key --key-id {key_arn} --region {KEY_REGION}" in text


# --- delivery-failing --------------------------------------------------------------------------------------

EARLIER = datetime.datetime(2026, 11, 20, 10, 0, tzinfo=datetime.UTC)
LATER = datetime.datetime(2026, 11, 20, 10, 5, tzinfo=datetime.UTC)


def status_with(**fields: Any) -> Fault:
    """Every GetTrailStatus answer with these fields, as AWS gives them (times in epoch seconds on the wire; the
    attempt fields AWS no longer documents as ISO 8601 strings)."""
    wire = {k: v.timestamp() if isinstance(v, datetime.datetime) else v for k, v in fields.items()}
    return Fault("GetTrailStatus", kind="rewrite", times=-1, rewrite=lambda answer: {**answer, **wire})


def test_a_current_delivery_error_is_delivery_failing(proxy: FaultProxy, trail: Callable[..., str]) -> None:
    arn = trail(REGION, "org-audit")
    proxy.add(status_with(LatestDeliveryError="AccessDenied", LatestDeliveryTime=EARLIER,
                          LatestDeliveryAttemptTime="2026-11-20T10:05:00Z",
                          LatestDeliveryAttemptSucceeded="2026-11-20T10:00:00Z"))  # fmt: skip

    code, report = audit()

    assert code == 1
    assert rules(report) == [("delivery-failing", "critical"), ("no-compliant-trail", "critical")]
    finding = report["findings"][0]
    assert finding["trail_arn"] == arn
    assert "log files to S3 (AccessDenied; last delivered 2026-11-20T10:00:00+00:00)" in finding["message"]
    assert "s3:PutObject" in finding["hint"]


def test_a_delivery_error_that_a_later_delivery_followed_is_stale(proxy: FaultProxy, trail: Callable[..., str]) -> None:
    trail(REGION, "org-audit")
    proxy.add(status_with(LatestDeliveryError="AccessDenied", LatestDeliveryTime=LATER,
                          LatestDeliveryAttemptTime="2026-11-20T10:05:00Z",
                          LatestDeliveryAttemptSucceeded="2026-11-20T10:05:00Z"))  # fmt: skip

    code, report = audit()

    assert (code, report["compliant"], report["findings"]) == (0, True, [])


def test_a_cloudwatch_logs_error_is_current_whatever_its_last_success(
    proxy: FaultProxy, trail: Callable[..., str]
) -> None:
    trail(REGION, "org-audit")
    proxy.add(
        status_with(LatestCloudWatchLogsDeliveryError="AccessDeniedException", LatestCloudWatchLogsDeliveryTime=LATER)
    )

    code, report = audit()

    assert code == 1
    assert "events to CloudWatch Logs (AccessDeniedException" in report["findings"][0]["message"]


def test_the_drift_handler_alerts_a_current_delivery_error(
    detector: Detector, trail: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    trail(REGION, "org-audit")
    with FaultProxy(detector.emu.endpoint) as proxy, environment(proxy.environ()):
        monkeypatch.setattr(drift_handler, "_runtime", None)  # its clients go through the proxy
        proxy.add(status_with(LatestDigestDeliveryError="NoSuchBucket", LatestDigestDeliveryTime=EARLIER))

        result = detector.run(event("updatetrail_console_form", trail="org-audit", region=REGION))

    assert [f["rule"] for f in result["findings"]] == ["delivery-failing", "no-compliant-trail"]
    assert "digest files to S3 (NoSuchBucket" in result["findings"][0]["message"]
    assert result["notified"] == ["slack", "sns"]
