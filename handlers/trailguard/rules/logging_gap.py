"""A watched call switched the trail's logging off or narrowed it, and it was back by the time it was read.

The trail is compliant again, yet the events made in between were never logged: the classic way to act
unseen is to stop a trail, act, and start it again before anyone looks. Raised by the evaluator of events
(``judge.logging_gap``), from the call's own record and the trail's status; nothing reverts a gap, so the
alert says how long it lasted, who made it, and what was set.
"""

from __future__ import annotations

from .registry import Rule, register

LOGGING_GAP = register(
    Rule(
        id="logging-gap",
        severity="high",
        meaning="A successful watched call switched the trail's logging off or narrowed it, and it was back by the "
        "time the detector read it: events were lost in between.",
        revert_order=5,
    )
)
