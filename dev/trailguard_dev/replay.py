"""Make the API call a CloudTrail record describes, for real, against the local emulator.

A record's ``requestParameters`` are the call's arguments in lowerCamel (``eventSelectors``,
``readWriteType``, ``fieldSelectors``, ``equals`` ...); the API takes them in PascalCase. Replaying a
recorded call and then delivering its event to the handler is the whole flow, offline.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trailguard.events import api_arguments

REPLAYED = frozenset({"StopLogging", "StartLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors"})


def trail_name(value: str) -> str:
    """The emulator deletes and stops trails by name (AWS takes ARNs too)."""
    return value.rsplit("/", 1)[-1] if value.startswith("arn:") else value


def replay(record: Mapping[str, Any], cloudtrail: Any) -> bool:
    """Make the recorded call with ``cloudtrail`` (a client in the record's region); False if not replayable.

    Failed calls (``errorCode``) are not replayed: they changed nothing.
    """
    name = record.get("eventName")
    params = record.get("requestParameters")
    if name not in REPLAYED or record.get("errorCode") or not isinstance(params, Mapping):
        return False
    args = api_arguments(params)
    if name in {"StopLogging", "StartLogging", "DeleteTrail"}:
        getattr(
            cloudtrail,
            {"StopLogging": "stop_logging", "StartLogging": "start_logging", "DeleteTrail": "delete_trail"}[str(name)],
        )(Name=trail_name(str(args["Name"])))
    elif name == "UpdateTrail":
        cloudtrail.update_trail(**args)
    else:
        cloudtrail.put_event_selectors(**args)
    return True
