"""Self-protection: the calls that disable, delete or redirect a part of the detector, and which parts are its.

An attacker who wants to act unseen blinds the alarm first: disables the EventBridge rule, sets the function's
concurrency to 0, unsubscribes the email, points the Slack secret elsewhere, deletes the alarms. Each such call
is recorded by CloudTrail like any other. ``TAMPER_CALLS`` says, per service, which calls can do that and
which request parameter names the resource; ``touched`` turns that parameter into the resource's ARN; and
``Parts`` (the stack's ``DETECTOR_RESOURCES``: ARNs, with ``*`` for any region or account) says whether the
ARN is one of the detector's. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

# The kinds of part, as an alert names them, what breaking one does, and how a person restores it.
REDEPLOY = "Redeploy the detector (`npx cdk deploy --all` from the same settings) to restore it"


@dataclass(frozen=True)
class Kind:
    what: str  # "EventBridge rule"
    breaks: str  # what the detector loses


KINDS: dict[str, Kind] = {
    "rule": Kind("EventBridge rule", "the CloudTrail calls it matches no longer reach the detector"),
    "bus": Kind("event bus policy", "member accounts' events may no longer reach the hub's bus"),
    "function": Kind("Lambda function", "events may no longer be judged or alerted"),
    "topic": Kind("alert topic", "email alerts and the alarms' notifications may no longer go out"),
    "subscription": Kind("subscription of the alert topic", "someone may no longer receive the email alerts"),
    "table": Kind("state table", "alerts may be lost or doubled, and baselines and revert budgets are at risk"),
    "secret": Kind("Slack secret", "Slack alerts may go nowhere, or to someone else"),
    "key": Kind("KMS key", "the alert topic can no longer encrypt, so email alerts and alarms stop"),
    "role": Kind("IAM role", "the detector may no longer read (or revert) the trails"),
    "stackset": Kind("member stack set", "member accounts may lose their forwarding rules and the member role"),
    "stack": Kind("CloudFormation stack", "the detector's resources are being deleted"),
    "alarm": Kind("CloudWatch alarm", "a stopped heartbeat or a failing handler may no longer be noticed"),
    "queue": Kind("SQS queue", "undelivered events or sweep orders may be lost"),
    "log-group": Kind("log group", "the detector's own record of what it judged is gone"),
}

# eventSource -> eventName -> (the request parameter naming the resource, its kind). A name starting with "@"
# is read from responseElements instead (the call names the resource only by an id the response resolves).
# Lambda's event names carry an API version (PutFunctionConcurrency20171031): ``base_name`` drops it.
TAMPER_CALLS: dict[str, dict[str, tuple[str, str]]] = {
    "events.amazonaws.com": {
        "DeleteRule": ("name", "rule"), "DisableRule": ("name", "rule"), "PutRule": ("name", "rule"),
        "RemoveTargets": ("rule", "rule"), "PutTargets": ("rule", "rule"),
        "RemovePermission": ("eventBusName", "bus"), "PutPermission": ("eventBusName", "bus"),
    },
    "lambda.amazonaws.com": {
        "DeleteFunction": ("functionName", "function"), "PutFunctionConcurrency": ("functionName", "function"),
        "UpdateFunctionConfiguration": ("functionName", "function"),
        "UpdateFunctionCode": ("functionName", "function"), "RemovePermission": ("functionName", "function"),
        "PutFunctionEventInvokeConfig": ("functionName", "function"),
        "UpdateFunctionEventInvokeConfig": ("functionName", "function"),
        "DeleteFunctionEventInvokeConfig": ("functionName", "function"),
        "DeleteEventSourceMapping": ("@functionArn", "function"),
        "UpdateEventSourceMapping": ("@functionArn", "function"),
        # the interaction endpoint's Function URL: deleted, or its auth changed, the Slack buttons stop answering
        "DeleteFunctionUrlConfig": ("functionName", "function"),
        "UpdateFunctionUrlConfig": ("functionName", "function"),
    },
    "sns.amazonaws.com": {
        "DeleteTopic": ("topicArn", "topic"), "SetTopicAttributes": ("topicArn", "topic"),
        "RemovePermission": ("topicArn", "topic"), "Unsubscribe": ("subscriptionArn", "subscription"),
        "SetSubscriptionAttributes": ("subscriptionArn", "subscription"),
    },
    "dynamodb.amazonaws.com": {
        "DeleteTable": ("tableName", "table"), "UpdateTable": ("tableName", "table"),
        "UpdateTimeToLive": ("tableName", "table"), "PutResourcePolicy": ("resourceArn", "table"),
        "DeleteResourcePolicy": ("resourceArn", "table"),
    },
    "secretsmanager.amazonaws.com": {
        name: ("secretId", "secret")
        for name in ("PutSecretValue", "UpdateSecret", "DeleteSecret", "PutResourcePolicy", "DeleteResourcePolicy",
                     "UpdateSecretVersionStage", "RotateSecret")
    },
    "kms.amazonaws.com": {name: ("keyId", "key") for name in ("DisableKey", "ScheduleKeyDeletion", "PutKeyPolicy")},
    "iam.amazonaws.com": {
        name: ("roleName", "role")
        for name in ("DeleteRole", "DeleteRolePolicy", "PutRolePolicy", "AttachRolePolicy", "DetachRolePolicy",
                     "UpdateAssumeRolePolicy", "PutRolePermissionsBoundary")
    },
    "cloudformation.amazonaws.com": {
        "DeleteStackSet": ("stackSetName", "stackset"), "UpdateStackSet": ("stackSetName", "stackset"),
        "DeleteStackInstances": ("stackSetName", "stackset"), "UpdateStackInstances": ("stackSetName", "stackset"),
        "DeleteStack": ("stackName", "stack"),
    },
    "monitoring.amazonaws.com": {
        "DeleteAlarms": ("alarmNames", "alarm"), "DisableAlarmActions": ("alarmNames", "alarm"),
        "PutMetricAlarm": ("alarmName", "alarm"),
    },
    "sqs.amazonaws.com": {
        "DeleteQueue": ("queueUrl", "queue"), "PurgeQueue": ("queueUrl", "queue"),
        "SetQueueAttributes": ("queueUrl", "queue"),
    },
    "logs.amazonaws.com": {
        "DeleteLogGroup": ("logGroupName", "log-group"), "PutRetentionPolicy": ("logGroupName", "log-group"),
    },
}  # fmt: skip
# What else a call names: an event source mapping moved to another function still names the queue it reads.
ALSO: dict[tuple[str, str], tuple[str, str]] = {
    ("lambda.amazonaws.com", "UpdateEventSourceMapping"): ("@eventSourceArn", "queue"),
    ("lambda.amazonaws.com", "DeleteEventSourceMapping"): ("@eventSourceArn", "queue"),
}

CLOUDFORMATION = "cloudformation.amazonaws.com"  # userIdentity.invokedBy of a stack operation's calls
_VERSION = re.compile(r"\d{8}(v\d+)?$")
_QUEUE_URL = re.compile(r"https?://[^/]+/(\d{12})/([\w.-]+)$")


def base_name(event_name: str) -> str:
    """``PutFunctionConcurrency`` for ``PutFunctionConcurrency20171031``: Lambda's event names carry the API
    version."""
    return _VERSION.sub("", event_name)


def watched(source: str, event_name: str) -> tuple[str, str] | None:
    """(parameter, kind) when ``event_name`` from ``source`` is a call that can break a detector part."""
    return TAMPER_CALLS.get(source, {}).get(base_name(event_name))


_MAX_NAME = 2048  # an untrusted name is kept, but not without bound
_MAX_NAMES = 100  # DeleteAlarms takes at most 100 names


def _names(value: Any) -> list[str]:
    if isinstance(value, str) and value:
        return [value[:_MAX_NAME]]
    if isinstance(value, list):
        return [v[:_MAX_NAME] for v in value[:_MAX_NAMES] if isinstance(v, str) and v]
    return []


def touched(
    source: str, event_name: str, parameters: Mapping[str, Any], response: Mapping[str, Any], *,
    partition: str, region: str, account: str,
) -> tuple[tuple[str, str], ...]:  # fmt: skip
    """The (kind, ARN) of every resource the call named; empty when it is not a watched call or names none."""
    spec = watched(source, event_name)
    if spec is None:
        return ()
    found = []
    for parameter, kind in (spec, *([ALSO[source, base_name(event_name)]] if (source, base_name(event_name)) in ALSO
                                    else [])):  # fmt: skip
        if parameter.startswith("@"):
            named = _names(response.get(parameter[1:]))
        elif kind == "bus":
            named = _names(parameters.get(parameter)) or ["default"]  # the calls' default is the default bus
        else:
            named = _names(parameters.get(parameter))
        if kind == "rule":  # a rule on another bus than the default is another rule
            named = [_on_bus(name, parameters.get("eventBusName")) for name in named]
        found += [(kind, arn_of(kind, name, partition=partition, region=region, account=account)) for name in named]
    return tuple(found)


def _on_bus(rule: str, bus: Any) -> str:
    """A rule's name as its ARN spells it: ``<bus>/<name>`` on a bus other than the default (named by name or
    ARN)."""
    bus_name = bus.rsplit("/", 1)[-1] if isinstance(bus, str) else ""
    return rule if rule.startswith("arn:") or bus_name in ("", "default") else f"{bus_name}/{rule}"


def arn_of(kind: str, name: str, *, partition: str, region: str, account: str) -> str:
    """The ARN of a resource a call named by name, ARN or URL (each API accepts its own forms)."""
    if name.startswith("arn:"):
        return identity_of(kind, name)
    if kind == "function":  # a name, or "123456789012:function:name" (a partial ARN), maybe with a qualifier
        parts = name.split(":")
        account, name = (parts[0], parts[2]) if len(parts) >= 3 and parts[1] == "function" else (account, parts[0])
    if kind == "queue":
        match = _QUEUE_URL.match(name)
        if match:
            account, name = match.groups()
    layout = {
        "rule": f"events:{region}:{account}:rule/{name}",
        "bus": f"events:{region}:{account}:event-bus/{name}",
        "function": f"lambda:{region}:{account}:function:{name}",
        "queue": f"sqs:{region}:{account}:{name}",
        "table": f"dynamodb:{region}:{account}:table/{name}",
        "secret": f"secretsmanager:{region}:{account}:secret:{name}",
        "key": f"kms:{region}:{account}:key/{name}",
        "role": f"iam::{account}:role/{name}",
        "stackset": f"cloudformation:{region}:{account}:stackset/{name.split(':', 1)[0]}",
        "stack": f"cloudformation:{region}:{account}:stack/{name}",
        "alarm": f"cloudwatch:{region}:{account}:alarm:{name}",
        "log-group": f"logs:{region}:{account}:log-group:{name}",
        "topic": f"sns:{region}:{account}:{name}",
        "subscription": f"sns:{region}:{account}:{name}",
    }
    return f"arn:{partition}:{layout[kind]}"


def identity_of(kind: str, arn: str) -> str:
    """An ARN as the part it names: a subscription's topic, a function without its qualifier, a role without its
    path, a stack or stack set without its id."""
    if kind == "subscription":  # a subscription's ARN is its topic's plus an id
        return arn.rsplit(":", 1)[0]
    if kind == "function":  # ":alias" or ":3" after the name names the same function
        return ":".join(arn.split(":")[:7])
    separator = {"role": ":role/", "stack": ":stack/", "stackset": ":stackset/"}.get(kind)
    if separator is None or separator not in arn:
        return arn
    head, _, rest = arn.partition(separator)
    if kind == "role":  # the name is unique in the account whatever the path
        return f"{head}{separator}{rest.rsplit('/', 1)[-1]}"
    return f"{head}{separator}{re.split(r'[/:]', rest, maxsplit=1)[0]}"  # stack/<name>/<id>, stackset/<name>:<id>


def name_in(kind: str, arn: str) -> str:
    """How a repair command names the part: a topic by its ARN, anything else by the name (or id) its ARN ends
    with."""
    return arn if kind in ("topic", "subscription") else re.split(r"[:/]", arn)[-1]


def secret_patterns(arn: str) -> list[str]:
    """The ARNs a call may name a secret by: Secrets Manager adds six random characters to a secret's name in its
    ARN, and a call names it by name, partial ARN or full ARN. ``arn`` is either form."""
    if not arn:
        return []
    full = re.fullmatch(r"(.*)-[A-Za-z0-9]{6}", arn)
    stem = full.group(1) if full else arn
    return list(dict.fromkeys([arn, stem, f"{stem}-??????"]))


@dataclass(frozen=True)
class Parts:
    """The detector's parts: ARN patterns (``*`` matches anything, ``?`` one character), as the stack lists them
    in ``DETECTOR_RESOURCES``, plus the function's own ARN, which its environment cannot name."""

    patterns: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Parts:
        return cls(tuple(dict.fromkeys(p.strip() for p in text.split(",") if p.strip())))

    def with_(self, arns: Iterable[str]) -> Parts:
        return Parts(tuple(dict.fromkeys((*self.patterns, *(a for a in arns if a)))))

    def owned(self, arn: str) -> bool:
        if ":iam::" in arn:  # IAM names are unique whatever their case (IAM User Guide, "IAM identifiers")
            return any(fnmatchcase(arn.lower(), pattern.lower()) for pattern in self.patterns)
        return any(fnmatchcase(arn, pattern) for pattern in self.patterns)
