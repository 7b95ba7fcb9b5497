"""A fix's calls as a person uses them: AWS CLI commands to paste, and the CloudFormation and Terraform
properties that keep the trail fixed in code. All three are derived from the same calls a revert makes."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..rules import NAMING, Call, service_of

# API argument -> (CloudFormation AWS::CloudTrail::Trail property, Terraform aws_cloudtrail argument)
PROPERTIES = {
    "S3BucketName": ("S3BucketName", "s3_bucket_name"),
    "S3KeyPrefix": ("S3KeyPrefix", "s3_key_prefix"),
    "KmsKeyId": ("KMSKeyId", "kms_key_id"),
    "CloudWatchLogsLogGroupArn": ("CloudWatchLogsLogGroupArn", "cloud_watch_logs_group_arn"),
    "CloudWatchLogsRoleArn": ("CloudWatchLogsRoleArn", "cloud_watch_logs_role_arn"),
    "SnsTopicName": ("SnsTopicName", "sns_topic_name"),
    "IsMultiRegionTrail": ("IsMultiRegionTrail", "is_multi_region_trail"),
    "IncludeGlobalServiceEvents": ("IncludeGlobalServiceEvents", "include_global_service_events"),
    "EnableLogFileValidation": ("EnableLogFileValidation", "enable_log_file_validation"),
    "IsOrganizationTrail": ("IsOrganizationTrail", "is_organization_trail"),
    "EventSelectors": ("EventSelectors", "event_selector"),
    "AdvancedEventSelectors": ("AdvancedEventSelectors", "advanced_event_selector"),
    "InsightSelectors": ("InsightSelectors", "insight_selector"),
    "TagsList": ("Tags", "tags"),
}
# Operations whose effect is a property of its own in code.
OPERATION_PROPERTIES = {"StartLogging": {"IsLogging": True}}
_TF_NAMES = {"IsLogging": "enable_logging", "DataResources": "data_resource", "FieldSelectors": "field_selector"}


def _flag(key: str) -> str:
    return "--" + re.sub(r"(?<!^)(?=[A-Z])", "-", key).lower()


def cli(calls: Iterable[Call], region: str) -> str:
    """The calls as AWS CLI commands, joined with &&, every value quoted for the shell."""
    return " && ".join(commands(calls, region))


def commands(calls: Iterable[Call], region: str) -> list[str]:
    """The calls as AWS CLI commands, one each, every value quoted for the shell."""
    commands = []
    for operation, arguments in calls:
        service, name = service_of(operation)
        words = ["aws", service, _flag(name)[2:], "--region", region]
        for key, value in arguments.items():
            if isinstance(value, bool):
                words.append(_flag(key) if value else "--no-" + _flag(key)[2:])
            elif isinstance(value, list | dict):
                words += [_flag(key), shlex.quote(json.dumps(value, separators=(",", ":")))]
            else:
                words += [_flag(key), shlex.quote(str(value))]
        commands.append(" ".join(words))
    return commands


def _properties(calls: Sequence[Call]) -> dict[str, Any]:
    """What the calls set on the trail, by API name (``IsLogging`` for StartLogging)."""
    wanted: dict[str, Any] = {}
    for operation, arguments in calls:
        if service_of(operation)[0] != "cloudtrail":
            continue  # only the trail's own properties are said in code here
        wanted.update(OPERATION_PROPERTIES.get(operation, {}))
        wanted.update({k: v for k, v in arguments.items() if k not in NAMING})
    return wanted


def _created(calls: Sequence[Call]) -> bool:
    return any(operation == "CreateTrail" for operation, _ in calls)


def cloudformation(calls: Sequence[Call]) -> str:
    """``AWS::CloudTrail::Trail`` properties in YAML flow style (JSON values are valid YAML)."""
    wanted = _properties(calls)
    if not wanted:
        return "-"
    parts = [f"{PROPERTIES.get(k, (k, ''))[0]}: {json.dumps(v, separators=(', ', ': '))}" for k, v in wanted.items()]
    keep = "; DeletionPolicy: Retain" if _created(calls) else ""
    return "AWS::CloudTrail::Trail " + ", ".join(parts) + keep


def _snake(key: str) -> str:
    return _TF_NAMES.get(key) or PROPERTIES.get(key, ("", ""))[1] or re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def _hcl(key: str, value: Any) -> str:
    """One Terraform argument or nested block: selectors become blocks, as the aws provider names them."""
    if key == "TagsList":
        return "tags = {" + ", ".join(f"{json.dumps(t.get('Key'))} = {json.dumps(t.get('Value'))}" for t in value) + "}"
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        return " ".join(f"{_snake(key)} {{ {_block(v)} }}" for v in value)
    return f"{_snake(key)} = {json.dumps(value)}"


def _block(item: Mapping[str, Any]) -> str:
    if "Field" in item:  # an advanced field selector: field = "...", equals = [...], not_starts_with = [...]
        return ", ".join(f"{_snake(k) if k != 'Field' else 'field'} = {json.dumps(v)}" for k, v in item.items())
    return ", ".join(_hcl(k, v) for k, v in item.items() if v not in ([], None))


def terraform(calls: Sequence[Call]) -> str:
    """``aws_cloudtrail`` arguments (and blocks) that hold what the calls set."""
    wanted = _properties(calls)
    if not wanted:
        return "-"
    keep = ", lifecycle { prevent_destroy = true }" if _created(calls) else ""
    return "aws_cloudtrail " + ", ".join(_hcl(k, v) for k, v in wanted.items()) + keep


def describe_actions(
    mode: str, results: Sequence[Any], why_not: str, region: str, *, settled: bool = False, apart: bool = False
) -> str:
    """What the detector did about it, in words, for the alert (``results``: the revert's action results;
    ``settled``: the trail read right again just before the revert, so nothing was written; ``apart``: the
    calls are shown on their own, so the words only point at them)."""
    calls = "the calls below" if apart else cli([(r.action, r.arguments) for r in results], region)
    if mode == "off":
        return "Nothing: alert only (REMEDIATION_MODE=off)."
    if settled:
        return "Nothing to revert: read again right before reverting, the trail was already put right."
    if not results:
        return f"Could not revert: {why_not or 'nothing to revert'}. A person must act."
    outcome = {r.result for r in results}
    if outcome == {"dry-run"}:
        return f"Would revert (REMEDIATION_MODE=dry-run, nothing was changed): {calls}"
    if outcome == {"suspended"}:
        return ("Suspended: this trail was already reverted 3 times within the hour, so the detector stopped "
                f"fighting. A person must act. It would have run: {calls}")  # fmt: skip
    if outcome == {"done"}:
        extra = f" Not reverted: {why_not}." if why_not else ""
        return f"Reverted and verified (the trail was read back compliant): {calls}.{extra}"
    failed = "; ".join(f"{r.action}: {r.detail}" for r in results if r.result == "failed")
    return f"Tried to revert, and it did not take ({failed}). A person must act. Calls made: {calls}"
