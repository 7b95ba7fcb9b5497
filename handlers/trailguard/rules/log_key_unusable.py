"""The trail's KMS key cannot encrypt, so CloudTrail cannot write the trail's log files and digests.

The key is read where it lives: KMS DescribeKey with the trail's ``KmsKeyId`` (DescribeTrails gives it as a key
ARN), in the key ARN's region (a bare key id: the trail's home region). Another account's key is read when its
key policy lets this account; a key that cannot be read (denied, not found) makes the trail ``not-evaluable``,
never compliant. A trail without a key makes no call.

Which ``KeyState`` can encrypt (KMS API reference, ``KeyMetadata``; "Key states of AWS KMS keys" in the KMS
developer guide): ``Enabled``, and ``Updating`` (a multi-Region key while its primary Region changes, which the
guide says can still be used in cryptographic operations). ``Disabled``, ``PendingDeletion`` and
``PendingReplicaDeletion`` refuse cryptographic operations; ``PendingImport`` has no key material;
``Unavailable`` is a custom key store's key while the store is disconnected; ``Creating`` is a replica not made
yet. A state KMS adds later is taken as unusable: the rule fails closed.

Nothing reverts it: enabling a key someone disabled, or cancelling a key's deletion, is a person's decision, so
the hint gives the commands.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import replace

from ..arn import region_of
from .registry import Clients, Facts, Read, Rule, example, register

KEY = "kms_key"  # what the read found, in facts.extra: {"KeyState": ..., "DeletionDate": ...}
USABLE = frozenset({"Enabled", "Updating"})
PENDING_DELETION = frozenset({"PendingDeletion", "PendingReplicaDeletion"})
WHY = {
    "Disabled": "disabled",
    "PendingDeletion": "scheduled for deletion",
    "PendingReplicaDeletion": "scheduled for deletion (once its replicas are deleted)",
    "PendingImport": "without key material (its imported material was deleted or expired)",
    "Unavailable": "unavailable (its custom key store is disconnected)",
    "Creating": "still being created",
}


def key_of(facts: Facts) -> str:
    return str(facts.description.get("KmsKeyId") or "")


def key_region(facts: Facts) -> str:
    """Where the key lives: its ARN's region, or the trail's home region for a bare key id."""
    return region_of(key_of(facts)) or facts.home_region


def read_key(clients: Clients, facts: Facts) -> dict[str, str] | None:
    """The trail's key's state (one DescribeKey, in the key's region), or None for a trail without a key."""
    key = key_of(facts)
    if not key:
        return None
    metadata = clients("kms", key_region(facts)).describe_key(KeyId=key)["KeyMetadata"]
    deletion = metadata.get("DeletionDate")
    when = deletion.isoformat(timespec="seconds") if isinstance(deletion, datetime.datetime) else str(deletion or "")
    return {"KeyState": str(metadata.get("KeyState") or ""), "DeletionDate": when}


def state_of(facts: Facts) -> str | None:
    """The key's state as read, or None when the trail has no key (or its key was not read)."""
    found = facts.extra.get(KEY)
    return str(found.get("KeyState") or "") if key_of(facts) and isinstance(found, Mapping) else None


def check(facts: Facts) -> str | None:
    state = state_of(facts)
    if state is None or state in USABLE:
        return None
    what = WHY.get(state, f"in key state {state or 'unknown'}")
    deletion = str(facts.extra[KEY].get("DeletionDate") or "") if state in PENDING_DELETION else ""
    when = f", to be deleted on {deletion[:10]}" if deletion else ""
    return (
        f"Trail {facts.name!r} cannot have its logs encrypted: its KMS key {key_of(facts)} is {what}{when}, "
        "so CloudTrail cannot deliver them."
    )


def hint(facts: Facts, _fired: list[str]) -> str:
    key, region, state = key_of(facts), key_region(facts), state_of(facts)
    enable = f"aws kms enable-key --key-id {key} --region {region}"
    if state in PENDING_DELETION:
        do = f"cancel the key's deletion, then enable it: aws kms cancel-key-deletion --key-id {key} --region {region}"
        do += f" && {enable}"
    elif state == "PendingImport":
        do = "import its key material again (aws kms get-parameters-for-import, then aws kms import-key-material "
        do += f"--key-id {key} --region {region})"
    elif state == "Unavailable":
        do = f"reconnect its custom key store (aws kms connect-custom-key-store --region {region})"
    elif state == "Creating":
        do = "wait until KMS has made the replica key, then audit again"
    else:
        do = f"enable the key: {enable}"
    other = f"aws cloudtrail update-trail --name {facts.name} --region {facts.home_region} --kms-key-id <key ARN>"
    return f"A person must decide; trailguard never does it: {do}. Or encrypt with another key: {other}."


def _example() -> Facts:
    key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    return replace(example({"KmsKeyId": key}), extra={KEY: {"KeyState": "Disabled", "DeletionDate": ""}})


LOG_KEY_UNUSABLE = register(
    Rule(
        id="log-key-unusable",
        severity="high",
        meaning="The trail's KMS key is disabled, pending deletion or otherwise unusable, so CloudTrail cannot "
        "encrypt its logs.",
        check=check,
        hint=hint,
        revert_order=80,
        example=_example,
        reads=(Read(KEY, "kms:DescribeKey", read_key, resource="arn:{partition}:kms:*:*:key/*"),),
    )
)
