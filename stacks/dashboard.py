"""The detector's CloudWatch dashboard: what the handler judged and sent, how its sweeps and reads fared, and
whether anything is waiting in its dead-letter queue, on one page.

The handler's own counts are Powertools metrics (``drift_handler``): namespace ``trailguard``, dimension
``service=trailguard``, one data point per invocation that counts something. Lambda's and SQS's metrics come from
the function and the queue. A sweep has no metric of its own: the function's Duration (p50 and p99) stands in for
it, since the longest invocations are the sweeps.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

NAMESPACE = "trailguard"  # Metrics(namespace=...) in drift_handler
DIMENSIONS = {"service": "trailguard"}  # Metrics(service=...) in drift_handler
PERIOD = Duration.minutes(5)
HEIGHT = 6

# The handler's metrics, by name: what each counts (the widget's legend).
JUDGED = {
    "DriftFound": "Drift found",
    "EventsIgnored": "Events ignored (not a watched change)",
}
ALERTS = {
    "AlertsSent": "Alerts sent (one per channel)",
    "AlertFailures": "Alert deliveries that failed",
}
PIPELINE = {
    "HeartbeatReceived": "Heartbeats received",
    "ReadsRetried": "Reads retried (trail unreadable, Lambda retries)",
    "SweepMessagesFailed": "Organization sweep messages failed",
}
HANDLER_METRICS = (*JUDGED, *ALERTS, *PIPELINE)


def handler_metric(name: str, label: str) -> cloudwatch.Metric:
    """One of the handler's Powertools counts, summed over the period."""
    return cloudwatch.Metric(
        namespace=NAMESPACE,
        metric_name=name,
        dimensions_map=DIMENSIONS,
        statistic="Sum",
        period=PERIOD,
        label=label,
    )


def _graph(title: str, metrics: Sequence[cloudwatch.IMetric], width: int = 8) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(title=title, left=list(metrics), width=width, height=HEIGHT)


def detector_dashboard(
    scope: Construct, name: str, handler: lambda_.IFunction, dead_letters: sqs.IQueue
) -> cloudwatch.Dashboard:
    """The dashboard ``name``: three rows of three graphs."""
    judged = [
        handler.metric_invocations(period=PERIOD, label="Events judged (invocations)"),
        *(handler_metric(metric, label) for metric, label in JUDGED.items()),
    ]
    alerts = [handler_metric(metric, label) for metric, label in ALERTS.items()]
    heartbeat = [handler_metric("HeartbeatReceived", PIPELINE["HeartbeatReceived"])]
    retries = [handler_metric(metric, PIPELINE[metric]) for metric in ("ReadsRetried", "SweepMessagesFailed")]
    duration = [
        handler.metric_duration(period=PERIOD, statistic="p50", label="Duration p50"),
        handler.metric_duration(period=PERIOD, statistic="p99", label="Duration p99 (the sweeps)"),
    ]
    failures = [
        handler.metric_errors(period=PERIOD, label="Errors"),
        handler.metric_throttles(period=PERIOD, label="Throttles"),
    ]
    waiting = [
        dead_letters.metric_approximate_number_of_messages_visible(
            period=PERIOD, statistic="Maximum", label="Events waiting in the dead-letter queue"
        )
    ]
    dashboard = cloudwatch.Dashboard(scope, "Dashboard", dashboard_name=name, default_interval=Duration.days(7))
    dashboard.add_widgets(
        _graph("Events judged", judged), _graph("Alerts", alerts), _graph("Heartbeats received", heartbeat)
    )
    dashboard.add_widgets(
        _graph("Reads retried and sweep messages failed", retries),
        _graph("Handler duration (a proxy for sweep duration)", duration),
        _graph("Handler errors and throttles", failures),
    )
    dashboard.add_widgets(_graph("Dead-letter queue depth", waiting, width=24))
    return dashboard
