"""The detector's CloudWatch dashboard: one, in the home stack, with a graph for each of the handler's Powertools
metrics and for the Lambda and dead-letter queue metrics that say whether it keeps up."""

from __future__ import annotations

import json
import re
from typing import Any

from stacks.dashboard import HANDLER_METRICS
from tests.stacks.conftest import Deployment
from tests.stacks.test_detector_stack import Ids, any_deploy, only, props

__all__ = ["any_deploy"]  # the fixture: every configuration

# What the handler's drift_handler module counts (metrics.add_metric), as the dashboard must show.
POWERTOOLS_METRICS = {
    "DriftFound",
    "AlertsSent",
    "AlertFailures",
    "HeartbeatReceived",
    "EventsIgnored",
    "ReadsRetried",
    "SweepMessagesFailed",
}


def flatten(value: Any) -> str:
    """A DashboardBody (an Fn::Join of strings and references) as text, each reference as ``{Ref}`` or
    ``{Logical.Attr}``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"Fn::Join"}:
        separator, parts = value["Fn::Join"]
        return str(separator).join(flatten(part) for part in parts)
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return "{" + str(value["Ref"]) + "}"
    if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
        return "{" + ".".join(value["Fn::GetAtt"]) + "}"
    raise AssertionError(f"unexpected value in the dashboard body: {value!r}")


def body_of(deployment: Deployment) -> dict[str, Any]:
    """The home stack's dashboard body, parsed, with every reference left as a ``{...}`` placeholder."""
    template = deployment.home
    text = flatten(props(template, only(template, "AWS::CloudWatch::Dashboard"))["DashboardBody"])
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def metrics_of(body: dict[str, Any]) -> list[list[Any]]:
    """Every metric line of every widget: [namespace, name, dimension name, value, ..., {options}]."""
    return [line for widget in body["widgets"] for line in widget["properties"].get("metrics", [])]


def test_the_home_stack_alone_has_one_dashboard_named_with_the_prefix(any_deploy: Deployment) -> None:
    [dashboard] = any_deploy.home.find_resources("AWS::CloudWatch::Dashboard").values()
    name = flatten(dashboard["Properties"]["DashboardName"])

    assert name == "trailguard-{AWS::Region}"
    for stack, template in any_deploy.templates.items():
        if template is not any_deploy.home:
            assert template.find_resources("AWS::CloudWatch::Dashboard") == {}, stack


def test_dashboard_graphs_every_powertools_metric_of_the_handler(any_deploy: Deployment) -> None:
    handler_lines = [line for line in metrics_of(body_of(any_deploy)) if line[0] == "trailguard"]

    assert set(HANDLER_METRICS) == POWERTOOLS_METRICS
    assert {line[1] for line in handler_lines} == POWERTOOLS_METRICS
    for line in handler_lines:  # the dimension Powertools' Metrics(service="trailguard") adds
        assert line[2:4] == ["service", "trailguard"], line
        assert line[4]["stat"] == "Sum", line


def test_dashboard_graphs_the_lambdas_invocations_duration_errors_and_throttles(any_deploy: Deployment) -> None:
    function = Ids.of(any_deploy.home).function
    lambda_lines = [line for line in metrics_of(body_of(any_deploy)) if line[0] == "AWS/Lambda"]

    assert {(line[1], line[4]["stat"]) for line in lambda_lines} == {
        ("Invocations", "Sum"),  # the events judged
        ("Duration", "p50"),
        ("Duration", "p99"),  # the sweeps are the longest invocations
        ("Errors", "Sum"),
        ("Throttles", "Sum"),
    }
    assert all(line[2:4] == ["FunctionName", "{" + function + "}"] for line in lambda_lines)


def test_dashboard_graphs_the_dead_letter_queue_depth(any_deploy: Deployment) -> None:
    queue = Ids.of(any_deploy.home).queue
    sqs_lines = [line for line in metrics_of(body_of(any_deploy)) if line[0] == "AWS/SQS"]

    assert [line[1:4] for line in sqs_lines] == [
        ["ApproximateNumberOfMessagesVisible", "QueueName", "{" + queue + ".QueueName}"]
    ]


def test_every_metric_of_the_dashboard_is_in_the_stacks_own_region(any_deploy: Deployment) -> None:
    text = flatten(props(any_deploy.home, only(any_deploy.home, "AWS::CloudWatch::Dashboard"))["DashboardBody"])

    assert set(re.findall(r'"region":"([^"]*)"', text)) == {"{AWS::Region}"}
