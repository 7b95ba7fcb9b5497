"""Event intake: what an EventBridge event asks of the detector, decided without trusting its payload for state.

``parse`` never raises. It returns a ``TrailCall`` (a watched CloudTrail call, succeeded or failed), a
``Sweep`` (the scheduled backstop) or ``Ignored`` with one reason. The event names which trail and who
acted; what the trail looks like is always read fresh from the API.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import tamper
from .arn import TrailArn, account_of, partition_of

WATCHED_CALLS = frozenset({"PutEventSelectors", "UpdateTrail", "StopLogging", "DeleteTrail"})
CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"
# Calls that break a trail's delivery from the side (CloudTrail User Guide: the bucket policy must let CloudTrail
# write, the KMS key must be usable, the log group must exist): event source -> (calls, the parameter naming
# the resource). The handler maps the resource back to the trails that use it and judges them.
DELIVERY_CALLS: dict[str, tuple[frozenset[str], str]] = {
    "s3.amazonaws.com": (frozenset({"PutBucketPolicy", "DeleteBucketPolicy", "PutBucketLifecycle",
                                    "DeleteBucket"}), "bucketName"),
    "kms.amazonaws.com": (frozenset({"DisableKey", "ScheduleKeyDeletion", "PutKeyPolicy"}), "keyId"),
    "logs.amazonaws.com": (frozenset({"DeleteLogGroup"}), "logGroupName"),
    # The organization-level calls that remove CloudTrail's reach (made in us-east-1): an account leaving the
    # organization, CloudTrail's trusted access disabled, its delegated administrator deregistered.
    "organizations.amazonaws.com": (frozenset({"LeaveOrganization", "DisableAWSServiceAccess",
                                               "DeregisterDelegatedAdministrator"}), "servicePrincipal"),
}  # fmt: skip
CLOUDTRAIL_PRINCIPAL = "cloudtrail.amazonaws.com"
SCHEDULED_DETAIL_TYPE = "Scheduled Event"

_NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
_ARN = re.compile(rf"arn:(aws[a-z-]*):cloudtrail:([a-z0-9-]+):([^:]*):trail/({_NAME_PATTERN})", re.ASCII)
_NAME = re.compile(_NAME_PATTERN, re.ASCII)
_REGION = re.compile(r"[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}", re.ASCII)
_ACCOUNT = re.compile(r"[0-9]{12}", re.ASCII)
_MAX_FIELD = 2048  # untrusted strings are kept, but not without bound


@dataclass(frozen=True)
class Actor:
    """Who made the call, as the CloudTrail record says (untrusted strings: render them escaped)."""

    arn: str = ""
    principal_type: str = ""
    source_ip: str = ""
    user_agent: str = ""
    time: str = ""
    invoked_by: str = ""
    # userIdentity.accessKeyId: tells the detector's own member-role sessions apart (not part of who called)
    access_key: str = field(default="", compare=False)


@dataclass(frozen=True)
class TrailRef:
    """The trail a call named: always a name and the region to ask in; the ARN when it can be known."""

    name: str
    region: str
    arn: str | None = None
    partition: str = "aws"


@dataclass(frozen=True)
class TrailCall:
    event_id: str
    event_name: str
    account: str
    region: str
    trail: TrailRef
    actor: Actor
    error_code: str = ""
    error_message: str = ""
    # What the call asked for, as the API spells it (``requestParameters``, untrusted: read, never rendered raw)
    parameters: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def failed(self) -> bool:
        return bool(self.error_code)


@dataclass(frozen=True)
class Sweep:
    event_id: str
    account: str
    time: str


@dataclass(frozen=True)
class DeliveryCall:
    """A call on a resource a trail's delivery depends on (its bucket, key or log group)."""

    event_id: str
    event_name: str
    account: str
    region: str
    service: str  # s3 | kms | logs
    resource: str  # the bucket name, key id (or ARN, or alias) or log group name, as the call named it
    actor: Actor
    error_code: str = ""
    # (kind, ARN) of the resource when it could be a part of the detector itself (its key, its log group)
    parts: tuple[tuple[str, str], ...] = ()

    @property
    def failed(self) -> bool:
        return bool(self.error_code)


@dataclass(frozen=True)
class TamperCall:
    """A call that can disable, delete or redirect a part of the detector (``tamper.TAMPER_CALLS``): whether the
    resource it named is one is decided against the detector's own list, later."""

    event_id: str
    event_name: str
    account: str
    region: str
    service: str  # events | lambda | sns | ...
    parts: tuple[tuple[str, str], ...]  # (kind, ARN) of each resource the call named
    actor: Actor
    error_code: str = ""

    @property
    def failed(self) -> bool:
        return bool(self.error_code)


@dataclass(frozen=True)
class SweepBatch:
    """SQS messages of the organization sweep (one account each), as Lambda's SQS event source hands them."""

    records: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class Ignored:
    reason: str
    event_id: str = ""
    event_name: str = ""


Intake = TrailCall | DeliveryCall | TamperCall | Sweep | SweepBatch | Ignored


# requestParameters keys of the watched calls, as the API spells them (records use lowerCamel)
_API_KEYS = {
    "trailName": "TrailName", "name": "Name", "eventSelectors": "EventSelectors",
    "advancedEventSelectors": "AdvancedEventSelectors", "readWriteType": "ReadWriteType",
    "includeManagementEvents": "IncludeManagementEvents", "dataResources": "DataResources", "type": "Type",
    "values": "Values", "excludeManagementEventSources": "ExcludeManagementEventSources",
    "fieldSelectors": "FieldSelectors", "field": "Field", "equals": "Equals", "notEquals": "NotEquals",
    "startsWith": "StartsWith", "notStartsWith": "NotStartsWith", "endsWith": "EndsWith",
    "notEndsWith": "NotEndsWith", "s3BucketName": "S3BucketName", "s3KeyPrefix": "S3KeyPrefix",
    "snsTopicName": "SnsTopicName", "includeGlobalServiceEvents": "IncludeGlobalServiceEvents",
    "isMultiRegionTrail": "IsMultiRegionTrail", "enableLogFileValidation": "EnableLogFileValidation",
    "cloudWatchLogsLogGroupArn": "CloudWatchLogsLogGroupArn", "cloudWatchLogsRoleArn": "CloudWatchLogsRoleArn",
    "kmsKeyId": "KmsKeyId", "isOrganizationTrail": "IsOrganizationTrail",
}  # fmt: skip


def api_arguments(value: Any) -> Any:
    """lowerCamel request parameters as API arguments; the console's "" (meaning none) is left out."""
    if isinstance(value, Mapping):
        return {_API_KEYS.get(str(k), str(k)[:1].upper() + str(k)[1:]): api_arguments(v)
                for k, v in value.items() if v != ""}  # fmt: skip
    if isinstance(value, list):
        return [api_arguments(v) for v in value]
    return value


def _text(value: Any) -> str:
    """An untrusted scalar as text: JSON null and the stringified "null" of some exports become empty."""
    if value is None or isinstance(value, dict | list) or value == "null":
        return ""
    return str(value)[:_MAX_FIELD]


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def resolve_trail(value: Any, region: str, account: str) -> TrailRef | None:
    """A trail named by a plain name or an ARN (any partition); None when it is neither."""
    if not isinstance(value, str):
        return None
    match = _ARN.fullmatch(value)
    if match:  # an ARN whose account is not 12 digits (a scrubbed sample) still names the trail and region
        partition, trail_region, arn_account, name = match.groups()
        if not _REGION.fullmatch(trail_region):
            return None
        arn = value if _ACCOUNT.fullmatch(arn_account) else None
        return TrailRef(name=name, region=trail_region, arn=arn, partition=partition)
    if not _NAME.fullmatch(value):
        return None
    partition = partition_of(region)
    arn = str(TrailArn.of(partition, region, account, value)) if _ACCOUNT.fullmatch(account) else None
    return TrailRef(name=value, region=region, arn=arn, partition=partition)


def actor_of(detail: Mapping[str, Any]) -> Actor:
    identity = _mapping(detail.get("userIdentity"))
    issuer = _mapping(_mapping(identity.get("sessionContext")).get("sessionIssuer"))
    return Actor(
        arn=_text(identity.get("arn")) or _text(issuer.get("arn")) or _text(identity.get("principalId")),
        principal_type=_text(identity.get("type")),
        source_ip=_text(detail.get("sourceIPAddress")),
        user_agent=_text(detail.get("userAgent")),
        time=_text(detail.get("eventTime")),
        invoked_by=_text(identity.get("invokedBy")),
        access_key=_text(identity.get("accessKeyId")),
    )


def _scheduled(event: Mapping[str, Any]) -> Intake:
    event_id = _text(event.get("id"))
    if not event_id:
        return Ignored("scheduled event without an id")
    return Sweep(event_id=event_id, account=_text(event.get("account")), time=_text(event.get("time")))


def _not_cloudtrail(event: Mapping[str, Any]) -> Intake | None:
    """The intakes that are not a CloudTrail call: SQS sweep messages, the schedule, a call on a bucket, key or
    log group, a call on a part of the detector; None for anything else."""
    if "Records" in event:
        return _batch(event["Records"])
    source = event.get("source")
    if source == "aws.events" and event.get("detail-type") == SCHEDULED_DETAIL_TYPE:
        return _scheduled(event)
    if source in ("aws.s3", "aws.kms", "aws.logs", "aws.organizations"):
        return _delivery(event)
    if isinstance(source, str) and f"{source[4:]}.amazonaws.com" in tamper.TAMPER_CALLS:
        return _tamper(event)
    return None


def _where(event: Mapping[str, Any], detail: Mapping[str, Any]) -> tuple[str, str, str]:
    """(event id, region, account) of a CloudTrail record in its EventBridge envelope."""
    event_id = _text(detail.get("eventID")) or _text(event.get("id"))
    region = _text(detail.get("awsRegion")) or _text(event.get("region"))
    return event_id, region, _text(event.get("account")) or _text(detail.get("recipientAccountId"))


def _parts(detail: Mapping[str, Any], region: str, account: str) -> tuple[tuple[str, str], ...]:
    return tamper.touched(
        _text(detail.get("eventSource")), _text(detail.get("eventName")), _mapping(detail.get("requestParameters")),
        _mapping(detail.get("responseElements")), partition=partition_of(region), region=region, account=account,
    )  # fmt: skip


def _tamper(event: Mapping[str, Any]) -> Intake:
    """A call that can break a part of the detector (``tamper.TAMPER_CALLS``), or why it is ignored."""
    detail = _mapping(event.get("detail"))
    event_id, region, account = _where(event, detail)
    event_name = _text(detail.get("eventName"))
    source = _text(detail.get("eventSource"))
    if event.get("detail-type") != CLOUDTRAIL_DETAIL_TYPE or f"aws.{source.split('.', 1)[0]}" != event.get("source"):
        why = f"source {_text(event.get('source'))!r} does not match the record's eventSource {source!r}"
        return Ignored(why, event_id, event_name)
    if tamper.watched(source, event_name) is None:
        return Ignored(f"{event_name!r} cannot disable a part of the detector", event_id, event_name)
    if not event_id or not _REGION.fullmatch(region) or not _ACCOUNT.fullmatch(account):
        return Ignored("the call names no event id, region or account", event_id, event_name)
    parts = _parts(detail, region, account)
    if not parts:
        return Ignored("the call names no resource", event_id, event_name)
    return TamperCall(event_id, event_name, account, region, source.split(".", 1)[0], parts, actor_of(detail),
                      _text(detail.get("errorCode")))  # fmt: skip


def _delivery(event: Mapping[str, Any]) -> Intake:
    """A call on a bucket, key or log group (``DELIVERY_CALLS``), or why it is ignored."""
    detail = _mapping(event.get("detail"))
    event_id, region, account = _where(event, detail)
    event_name = _text(detail.get("eventName"))
    watched = DELIVERY_CALLS.get(_text(detail.get("eventSource")))
    if watched is not None and event_name not in watched[0] and tamper.watched(_text(detail.get("eventSource")),
                                                                              event_name):  # fmt: skip
        return _tamper(event)  # a call on the detector's own log group (its retention), say
    if event.get("detail-type") != CLOUDTRAIL_DETAIL_TYPE or watched is None or event_name not in watched[0]:
        return Ignored("not a watched call on a trail's bucket, key or log group", event_id, event_name)
    resource = _text(_mapping(detail.get("requestParameters")).get(watched[1]))
    if event_name == "LeaveOrganization":
        resource = account  # the account leaving: the call takes no parameters
    elif watched[1] == "servicePrincipal" and resource != CLOUDTRAIL_PRINCIPAL:
        return Ignored(f"{event_name} for {resource or 'no service'}, not CloudTrail", event_id, event_name)
    if not event_id or not _REGION.fullmatch(region) or not _ACCOUNT.fullmatch(account) or not resource:
        return Ignored("the call names no event id, region, account or resource", event_id, event_name)
    service = _text(detail.get("eventSource")).split(".", 1)[0]
    return DeliveryCall(event_id, event_name, account, region, service, resource, actor_of(detail),
                        _text(detail.get("errorCode")), _parts(detail, region, account))  # fmt: skip


def _batch(records: Any) -> Intake:
    """Lambda's SQS event: the sweep's messages, each checked when it is handled."""
    if (
        isinstance(records, list)
        and records
        and all(isinstance(r, Mapping) and r.get("eventSource") == "aws:sqs" for r in records)
    ):
        return SweepBatch(tuple(records))
    return Ignored("Records that are not a batch of SQS messages")


def _envelope_problem(event: Mapping[str, Any], detail: Mapping[str, Any]) -> str | None:
    if event.get("detail-type") != CLOUDTRAIL_DETAIL_TYPE:
        return f"detail-type {_text(event.get('detail-type'))!r} is not {CLOUDTRAIL_DETAIL_TYPE!r}"
    if not detail:
        return "no CloudTrail record in detail"
    if detail.get("eventSource") != "cloudtrail.amazonaws.com":
        return f"eventSource {_text(detail.get('eventSource'))!r} is not cloudtrail.amazonaws.com"
    # Real deliveries always carry eventType; a record without it is judged by its other fields, since
    # the state is re-read anyway. Network-activity (AwsVpceEvent) and other types are not API calls.
    if detail.get("eventType", "AwsApiCall") != "AwsApiCall":
        return f"eventType {_text(detail.get('eventType'))!r} is not AwsApiCall"
    name = detail.get("eventName")
    if not isinstance(name, str) or name not in WATCHED_CALLS:
        return f"{_text(detail.get('eventName'))!r} is not a watched call"
    return None


def parse(event: Any) -> Intake:
    """Classify an EventBridge event. Never raises: anything unexpected is ``Ignored`` with its reason."""
    if not isinstance(event, Mapping):
        return Ignored(f"event is a {type(event).__name__}, not an object")
    other = _not_cloudtrail(event)
    if other is not None:
        return other
    source = event.get("source")
    if source != "aws.cloudtrail":
        return Ignored(f"source {_text(source)!r} is not aws.cloudtrail", _text(event.get("id")))
    detail = _mapping(event.get("detail"))
    event_id = _text(detail.get("eventID")) or _text(event.get("id"))
    event_name = _text(detail.get("eventName"))
    problem = _envelope_problem(event, detail)
    if problem:
        return Ignored(problem, event_id, event_name)
    if not event_id:
        return Ignored("no eventID", event_id, event_name)
    region = _text(detail.get("awsRegion")) or _text(event.get("region"))
    if not _REGION.fullmatch(region):
        return Ignored(f"region {region!r} is not an AWS region", event_id, event_name)
    account = _text(event.get("account")) or _text(detail.get("recipientAccountId"))
    params = _mapping(detail.get("requestParameters"))
    trail = resolve_trail(params.get("trailName") or params.get("name"), region, account)
    if trail is None:
        return Ignored("the call names no valid trail (requestParameters.name / trailName)", event_id, event_name)
    if not _ACCOUNT.fullmatch(account) and trail.arn:
        account = account_of(trail.arn)
    return TrailCall(
        event_id=event_id,
        event_name=event_name,
        account=account,
        region=region,
        trail=trail,
        actor=actor_of(detail),
        error_code=_text(detail.get("errorCode")),
        error_message=_text(detail.get("errorMessage")),
        parameters=api_arguments(params),
    )
