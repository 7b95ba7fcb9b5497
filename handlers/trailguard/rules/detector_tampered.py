"""A call disabled, deleted or redirected a part of the detector itself.

An attacker blinds the alarm before acting: disables the EventBridge rule, sets the function's concurrency to
0, unsubscribes the email, rewrites the Slack secret, deletes the alarms or the member stack set. Raised from
the call's own record (``tamper``): the handler matches the resource the call named against the detector's
parts (the stack's ``DETECTOR_RESOURCES``) and alerts on every channel still able to carry it. CloudFormation's
own calls (a stack deployment) are not tamper. Nothing is reverted from here: a person redeploys. Never
exempted.
"""

from __future__ import annotations

from ..tamper import KINDS, REDEPLOY, name_in
from .registry import Call, Finding, Rule, register

DETECTOR_TAMPERED = register(
    Rule(
        id="detector-tampered",
        severity="critical",
        meaning="A call disabled, deleted or redirected a part of the detector itself: a rule, the function, the "
        "topic or a subscription, the state table, the Slack secret, a key, an alarm, a role or the member stack set.",
        scope="account",
        revert_order=97,
        exemptible=False,
    )
)


def repair(event_name: str, kind: str, name: str) -> tuple[Call, ...]:
    """The calls that undo a tamper when one call is enough (a disabled rule, key or alarm); none otherwise, where a
    redeploy restores the part (a changed reserved concurrency: the stack sets its own)."""
    calls: dict[str, tuple[Call, ...]] = {
        "DisableRule": (("events:EnableRule", {"Name": name}),),
        "DisableKey": (("kms:EnableKey", {"KeyId": name}),),
        "ScheduleKeyDeletion": (("kms:CancelKeyDeletion", {"KeyId": name}), ("kms:EnableKey", {"KeyId": name})),
        "DisableAlarmActions": (("cloudwatch:EnableAlarmActions", {"AlarmNames": [name]}),),
    }
    return calls.get(event_name, ()) if kind != "subscription" else ()


def tampered(event_name: str, kind: str, arn: str, *, caller: str, region: str, account: str) -> Finding:
    """The finding for one part of the detector that ``event_name`` (its base name, without an API version) hit."""
    part = KINDS[kind]
    name = name_in(kind, arn)
    calls = repair(event_name, kind, name)
    if kind == "subscription":
        hint = (
            "Subscribe the address again (aws sns subscribe --topic-arn <topic> --protocol email "
            "--notification-endpoint <address>) and confirm it, or redeploy the detector (`npx cdk deploy --all`)."
        )
    elif calls:
        hint = "The command above undoes this call; a redeploy (`npx cdk deploy --all`) also restores the part."
    else:
        hint = f"{REDEPLOY}, and check what else the caller changed."
    message = (f"{event_name} by {caller or 'an unknown caller'} on the detector's {part.what} {arn}: "
               f"{part.breaks}. Find out who made the call and why: blinding the detector usually comes just "
               "before what it hides.")  # fmt: skip
    return Finding(DETECTOR_TAMPERED.id, DETECTOR_TAMPERED.severity, message, account=account, calls=calls,
                   region=region, hint=hint)  # fmt: skip
