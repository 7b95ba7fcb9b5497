"""A heartbeat sent into a watched region did not come back: tamper events from there would not arrive either.

EventBridge receives CloudTrail's events only while some trail logs in the region, and only through the
rules and targets the detector deployed there; any of them can be disabled or deleted without a trace in the
detector's own view. Each scheduled sweep makes one harmless failing call per watched region (see
``heartbeat``); the next sweep raises this for a region whose call never came back as an event. A person
must look: nothing in the pipeline is reverted from here. Never exempted.
"""

from __future__ import annotations

from .registry import Rule, register

EVENT_PIPELINE_SILENT = register(
    Rule(
        id="event-pipeline-silent",
        severity="critical",
        meaning="A heartbeat sent into a watched region did not come back, so tamper events from there would "
        "not arrive either.",
        scope="account",
        revert_order=98,
        exemptible=False,
    )
)
