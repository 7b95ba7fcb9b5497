"""detector-tampered, the pure parts: how each API names a resource (name, ARN, partial ARN, qualifier, path,
URL, subscription), which parts are the detector's, the finding and its one-command repair, and bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.events import wrap
from trailguard.config import ConfigError, HandlerConfig
from trailguard.events import Ignored, TamperCall, parse
from trailguard.render.fix import cli
from trailguard.rules import REGISTRY
from trailguard.rules.detector_tampered import DETECTOR_TAMPERED, tampered
from trailguard.tamper import Parts, arn_of, base_name, secret_patterns, touched

A = "123456789012"
R = "eu-west-1"


def arn(kind: str, name: str, region: str = R, partition: str = "aws") -> str:
    return arn_of(kind, name, partition=partition, region=region, account=A)


@pytest.mark.parametrize(
    ("kind", "named", "expected"),
    [
        ("function", "trailguard-drift", f"arn:aws:lambda:{R}:{A}:function:trailguard-drift"),
        ("function", "trailguard-drift:live", f"arn:aws:lambda:{R}:{A}:function:trailguard-drift"),
        ("function", f"{A}:function:trailguard-drift", f"arn:aws:lambda:{R}:{A}:function:trailguard-drift"),
        ("function", f"arn:aws:lambda:{R}:{A}:function:trailguard-drift:7",
         f"arn:aws:lambda:{R}:{A}:function:trailguard-drift"),
        ("subscription", f"arn:aws:sns:{R}:{A}:alerts:5e1f-77", f"arn:aws:sns:{R}:{A}:alerts"),
        ("role", f"arn:aws:iam::{A}:role/service-role/trailguard-handler", f"arn:aws:iam::{A}:role/trailguard-handler"),
        ("role", "trailguard-handler", f"arn:aws:iam::{A}:role/trailguard-handler"),
        ("queue", f"https://sqs.{R}.amazonaws.com/{A}/trailguard-undelivered",
         f"arn:aws:sqs:{R}:{A}:trailguard-undelivered"),
        ("stack", f"arn:aws:cloudformation:{R}:{A}:stack/Trailguard/4b1e-99",
         f"arn:aws:cloudformation:{R}:{A}:stack/Trailguard"),
        ("stackset", "Trailguard-members:1f2e-3d", f"arn:aws:cloudformation:{R}:{A}:stackset/Trailguard-members"),
        ("table", "trailguard-state", f"arn:aws:dynamodb:{R}:{A}:table/trailguard-state"),
        ("alarm", "trailguard-HeartbeatsStopped", f"arn:aws:cloudwatch:{R}:{A}:alarm:trailguard-HeartbeatsStopped"),
        ("log-group", "/aws/lambda/x", f"arn:aws:logs:{R}:{A}:log-group:/aws/lambda/x"),
        ("key", "1234abcd-12ab-34cd", f"arn:aws:kms:{R}:{A}:key/1234abcd-12ab-34cd"),
        ("rule", "trailguard-TrailChanges", f"arn:aws:events:{R}:{A}:rule/trailguard-TrailChanges"),
    ],
)  # fmt: skip
def test_every_form_an_api_accepts_names_the_same_part(kind: str, named: str, expected: str) -> None:
    assert arn(kind, named) == expected


def test_other_partitions_keep_theirs() -> None:
    assert arn("table", "t", "cn-north-1", "aws-cn") == f"arn:aws-cn:dynamodb:cn-north-1:{A}:table/t"


def test_lambdas_versioned_event_names_are_the_api_names() -> None:
    assert base_name("PutFunctionConcurrency20171031") == "PutFunctionConcurrency"
    assert base_name("UpdateFunctionConfiguration20150331v2") == "UpdateFunctionConfiguration"
    assert base_name("DisableRule") == "DisableRule"


def test_a_secret_is_known_by_name_partial_and_full_arn() -> None:
    partial = f"arn:aws:secretsmanager:{R}:{A}:secret:trailguard/slack"
    parts = Parts(tuple(secret_patterns(f"{partial}-AbC123")))

    assert parts.owned(partial) and parts.owned(f"{partial}-AbC123") and parts.owned(f"{partial}-ZZz999")
    assert not parts.owned(f"{partial}-other") and not parts.owned(f"{partial}2")
    assert secret_patterns("") == []


def test_patterns_match_any_region_or_account_only_where_they_say_so() -> None:
    parts = Parts.parse(f"arn:aws:events:*:{A}:rule/trailguard-forward-TrailChanges, arn:aws:iam::*:role/tg-member")

    assert parts.owned(arn("rule", "trailguard-forward-TrailChanges", "ap-south-1"))
    assert not parts.owned(arn_of("rule", "trailguard-forward-TrailChanges", partition="aws", region=R,
                                  account="210987654321"))  # fmt: skip
    assert parts.owned("arn:aws:iam::210987654321:role/tg-member")
    assert not parts.owned("arn:aws:iam::210987654321:role/tg-member-old")


def test_a_call_naming_several_parts_names_each_and_bounds_untrusted_names() -> None:
    names = ["trailguard-HeartbeatsStopped", "x" * 10_000, 7, None, *(f"a{n}" for n in range(200))]

    found = touched("monitoring.amazonaws.com", "DeleteAlarms", {"alarmNames": names}, {}, partition="aws",
                    region=R, account=A)  # fmt: skip

    assert found[0] == ("alarm", arn("alarm", "trailguard-HeartbeatsStopped"))
    assert len(found) == 98 and all(len(a) < 2_200 for _, a in found)  # the first 100, strings only, bounded


def test_an_event_source_mapping_is_named_by_its_response() -> None:
    found = touched("lambda.amazonaws.com", "DeleteEventSourceMapping20150331", {"uUID": "abc"},
                    {"functionArn": f"arn:aws:lambda:{R}:{A}:function:trailguard-drift"}, partition="aws", region=R,
                    account=A)  # fmt: skip

    assert found == (("function", f"arn:aws:lambda:{R}:{A}:function:trailguard-drift"),)


def record(source: str, name: str, parameters: Any, **changes: Any) -> dict[str, Any]:
    detail = {"eventSource": f"{source}.amazonaws.com", "eventName": name, "awsRegion": R, "eventID": "e-1",
              "requestParameters": parameters, "recipientAccountId": A, "eventType": "AwsApiCall",
              "userIdentity": {"arn": f"arn:aws:iam::{A}:user/mallory"}, **changes}  # fmt: skip
    return wrap(detail, source=f"aws.{source}")


def test_the_intake_turns_a_tamper_call_into_the_parts_it_named() -> None:
    parsed = parse(record("sns", "Unsubscribe", {"subscriptionArn": f"arn:aws:sns:{R}:{A}:alerts:1-2"}))

    assert isinstance(parsed, TamperCall)
    assert parsed.parts == (("subscription", f"arn:aws:sns:{R}:{A}:alerts"),) and parsed.actor.arn.endswith("mallory")


@pytest.mark.parametrize(
    ("event", "says"),
    [
        (record("events", "EnableRule", {"name": "trailguard-TrailChanges"}), "cannot disable"),
        (record("events", "DisableRule", None), "names no resource"),
        (record("events", "DisableRule", {"name": ["a"]}, awsRegion="nowhere"), "no event id, region"),
        ({**record("sns", "DeleteTopic", {"topicArn": "x"}), "source": "aws.iam"}, "does not match"),
        ({**record("sns", "DeleteTopic", {"topicArn": "x"}), "detail-type": "Object Created"}, "does not match"),
    ],
)
def test_malformed_or_unwatched_tamper_records_are_ignored_with_a_reason(event: dict[str, Any], says: str) -> None:
    parsed = parse(event)

    assert isinstance(parsed, Ignored) and says in parsed.reason


def test_the_finding_is_critical_never_exempt_and_pastes_the_one_command_that_undoes_it() -> None:
    found = tampered("ScheduleKeyDeletion", "key", arn("key", "k-1"), caller="arn:aws:iam::1:user/m", region=R,
                     account=A)  # fmt: skip

    assert DETECTOR_TAMPERED is REGISTRY["detector-tampered"] and not DETECTOR_TAMPERED.exemptible
    assert found.severity == "critical" and found.trail_arn is None and "user/m" in found.message
    assert cli(found.calls, found.region) == (
        f"aws kms cancel-key-deletion --region {R} --key-id k-1 && aws kms enable-key --region {R} --key-id k-1"
    )
    redeploy = tampered("DeleteTable", "table", arn("table", "t"), caller="", region=R, account=A)
    assert redeploy.calls == () and "npx cdk deploy --all" in redeploy.hint and "an unknown caller" in redeploy.message


@pytest.mark.parametrize("value", ["not-an-arn", "arn:aws:events:us-east-1:12:rule/x y", "https://example.com"])
def test_a_bad_detector_resources_value_is_one_sentence_naming_it(value: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="DETECTOR_RESOURCES must list ARNs"):
        HandlerConfig.from_env({"STATE_TABLE": "t", "DETECTOR_RESOURCES": value}, tmp_path)


def test_detector_resources_are_read_into_parts(tmp_path: Path) -> None:
    config = HandlerConfig.from_env(
        {"STATE_TABLE": "t", "DETECTOR_RESOURCES": f"arn:aws:events:*:{A}:rule/a, arn:aws:iam::*:role/b"}, tmp_path
    )

    assert config.detector.patterns == (f"arn:aws:events:*:{A}:rule/a", "arn:aws:iam::*:role/b")


def test_a_rule_on_another_bus_is_another_rule() -> None:
    parts = Parts((f"arn:aws:events:{R}:{A}:rule/trailguard-TrailChanges",))

    def rule_of(parameters: dict[str, Any]) -> str:
        [(_, found)] = touched("events.amazonaws.com", "DisableRule", parameters, {}, partition="aws", region=R,
                               account=A)  # fmt: skip
        return found

    assert parts.owned(rule_of({"name": "trailguard-TrailChanges", "eventBusName": "default"}))
    assert parts.owned(rule_of({"name": "trailguard-TrailChanges"}))
    assert not parts.owned(rule_of({"name": "trailguard-TrailChanges", "eventBusName": "orders"}))
    assert not parts.owned(rule_of({"name": "trailguard-TrailChanges",
                                    "eventBusName": f"arn:aws:events:{R}:{A}:event-bus/orders"}))  # fmt: skip


def test_a_role_named_in_another_case_is_the_same_role() -> None:
    parts = Parts((f"arn:aws:iam::{A}:role/Trailguard-HandlerRoleF4C2",))

    assert parts.owned(arn("role", "trailguard-handlerrolef4c2"))
    assert not parts.owned(arn("role", "trailguard-handlerrolef4c3"))


def test_an_event_source_mapping_moved_to_another_function_still_names_the_sweep_queue() -> None:
    queue = f"arn:aws:sqs:{R}:{A}:Trailguard-OrganizationSweep"
    found = touched("lambda.amazonaws.com", "UpdateEventSourceMapping20150331", {"uUID": "u", "functionName": "evil"},
                    {"functionArn": f"arn:aws:lambda:{R}:{A}:function:evil", "eventSourceArn": queue},
                    partition="aws", region=R, account=A)  # fmt: skip

    assert ("queue", queue) in found and Parts((queue,)).owned(queue)


def test_a_call_on_a_log_groups_retention_is_a_tamper_call_not_a_delivery_call() -> None:
    parsed = parse(record("logs", "PutRetentionPolicy", {"logGroupName": "/aws/lambda/x", "retentionInDays": 1}))

    assert isinstance(parsed, TamperCall) and parsed.parts == (("log-group", arn("log-group", "/aws/lambda/x")),)
