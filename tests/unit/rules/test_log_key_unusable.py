"""log-key-unusable: a trail whose KMS key cannot encrypt, read where the key lives; an unreadable key is
not-evaluable, never compliant; a trail without a key costs no KMS call."""

from __future__ import annotations

import datetime
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.unit.builders import ACCOUNT, OTHER_ACCOUNT, REGION, state, trail
from trailguard.judge import TrailState, evaluate_account, evaluate_trail
from trailguard.read import rule_facts
from trailguard.rules import REGISTRY, Facts
from trailguard.rules.log_key_unusable import KEY, read_key

KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = f"arn:aws:kms:us-west-2:{OTHER_ACCOUNT}:key/{KEY_ID}"  # a central key, in another account and region


class Kms:
    """DescribeKey as KMS answers it: the key's metadata, or an error; every call is recorded."""

    def __init__(self, state: str = "Enabled", error: str = "", deletion: datetime.datetime | None = None) -> None:
        self.state, self.error, self.deletion = state, error, deletion
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def describe_key(self, **arguments: Any) -> dict[str, Any]:
        self.calls.append(("DescribeKey", arguments))
        if self.error:
            raise ClientError({"Error": {"Code": self.error, "Message": "no"}}, "DescribeKey")
        metadata: dict[str, Any] = {"KeyId": KEY_ID, "Arn": KEY_ARN, "KeyState": self.state}
        if self.deletion:
            metadata["DeletionDate"] = self.deletion
        return {"KeyMetadata": metadata}


def read(kms: Kms, description: dict[str, Any]) -> tuple[TrailState, list[tuple[str, str]]]:
    """The trail's rule reads made as the audit and the Lambda make them; the clients asked for, by region."""
    asked: list[tuple[str, str]] = []

    def clients(service: str, region: str) -> Any:
        asked.append((service, region))
        assert service == "kms"
        return kms

    with ThreadPoolExecutor(2) as pool:
        (read_state,) = rule_facts([state(description)], clients, pool)
    return read_state, asked


def judged(key_state: str, **extra: str) -> list[str]:
    facts = Facts(trail(KmsKeyId=KEY_ARN), {"IsLogging": True}, {"EventSelectors": [{"ReadWriteType": "All"}]},
                  extra={KEY: {"KeyState": key_state, **extra}})  # fmt: skip
    return [f.rule for f in evaluate_trail(facts)]


@pytest.mark.parametrize(
    "key_state", ["Disabled", "PendingDeletion", "PendingReplicaDeletion", "PendingImport", "Unavailable", "Creating"]
)
def test_a_key_that_cannot_encrypt_is_log_key_unusable(key_state: str) -> None:
    assert judged(key_state) == ["log-key-unusable"]


@pytest.mark.parametrize("key_state", ["Enabled", "Updating"])  # Updating: a multi-Region key still encrypts
def test_a_key_that_encrypts_is_fine(key_state: str) -> None:
    assert judged(key_state) == []


def test_a_key_state_kms_adds_later_fails_closed() -> None:
    assert judged("Hibernating") == ["log-key-unusable"]


def test_a_disabled_key_is_read_in_its_own_region_by_its_arn_and_the_finding_says_how_to_enable_it() -> None:
    kms = Kms("Disabled")
    read_state, asked = read(kms, trail(KmsKeyId=KEY_ARN))
    verdict = evaluate_account(ACCOUNT, [read_state])

    assert asked == [("kms", "us-west-2")]  # the key's region, not the trail's home region (eu-west-1)
    assert kms.calls == [("DescribeKey", {"KeyId": KEY_ARN})]  # by its ARN: another account's key needs it
    (finding, account_finding) = verdict.all_findings
    assert (finding.rule, finding.severity) == ("log-key-unusable", "critical")  # nothing else covers the account
    assert account_finding.rule == "no-compliant-trail"
    assert f"its KMS key {KEY_ARN} is disabled" in finding.message and "'audit-trail'" in finding.message
    assert f"aws kms enable-key --key-id {KEY_ARN} --region us-west-2" in finding.hint
    assert "cancel-key-deletion" not in finding.hint
    assert finding.calls == ()  # a person enables a key; a revert never does


def test_a_key_pending_deletion_says_when_and_how_to_cancel_then_enable() -> None:
    when = datetime.datetime(2026, 12, 5, 15, 16, tzinfo=datetime.UTC)
    read_state, _ = read(Kms("PendingDeletion", deletion=when), trail(KmsKeyId=KEY_ARN))
    (finding, _) = evaluate_account(ACCOUNT, [read_state]).all_findings

    assert "is scheduled for deletion, to be deleted on 2026-12-05" in finding.message
    cancel = f"aws kms cancel-key-deletion --key-id {KEY_ARN} --region us-west-2"
    assert f"{cancel} && aws kms enable-key --key-id {KEY_ARN} --region us-west-2" in finding.hint
    assert "aws cloudtrail update-trail --name audit-trail --region eu-west-1 --kms-key-id" in finding.hint


@pytest.mark.parametrize("code", ["AccessDeniedException", "NotFoundException"])
def test_a_key_that_cannot_be_read_makes_the_trail_not_evaluable_never_compliant(code: str) -> None:
    read_state, _ = read(Kms(error=code), trail(KmsKeyId=KEY_ARN))
    verdict = evaluate_account(ACCOUNT, [read_state])

    assert [f.rule for f in verdict.all_findings] == ["not-evaluable", "not-evaluable"]
    assert verdict.outcome() == "unknown" and not verdict.covered
    message = verdict.all_findings[0].message
    assert f"DescribeKey: {code}" in message
    assert ("the caller lacks kms:DescribeKey" in message) == (code == "AccessDeniedException")


def test_a_trail_without_a_key_makes_no_kms_call() -> None:
    kms = Kms(error="AccessDeniedException")
    read_state, asked = read(kms, trail())

    assert asked == [] and kms.calls == [] and read_state.error is None
    assert evaluate_account(ACCOUNT, [read_state]).compliant


def test_a_bare_key_id_is_read_in_the_trails_home_region() -> None:
    kms = Kms("Disabled")
    facts = Facts(trail(KmsKeyId=KEY_ID))
    asked: list[str] = []
    read_key(lambda _service, region: asked.append(region) or kms, facts)
    assert asked == [REGION] and kms.calls == [("DescribeKey", {"KeyId": KEY_ID})]


def test_a_stopped_trail_with_a_disabled_key_says_both() -> None:
    facts = Facts(trail(KmsKeyId=KEY_ARN), {"IsLogging": False}, {"EventSelectors": [{"ReadWriteType": "All"}]},
                  extra={KEY: {"KeyState": "Disabled"}})  # fmt: skip
    assert [f.rule for f in evaluate_trail(facts)] == ["log-key-unusable", "logging-stopped"]


def test_it_is_high_exemptible_never_reverted_and_reads_any_accounts_keys() -> None:
    rule = REGISTRY["log-key-unusable"]
    (key_read,) = rule.reads
    assert rule.severity == "high" and rule.exemptible and not rule.revertible and not rule.revert_actions
    assert (key_read.action, key_read.resource) == ("kms:DescribeKey", "arn:{partition}:kms:*:*:key/*")
