"""Run the intake over corpus-style files: ``python -m trailguard_dev.corpus PATH...``.

A file holds a JSON object with ``envelope`` (a whole EventBridge event) or ``record`` (a raw CloudTrail
record, wrapped here as EventBridge wraps it), or is itself a bare envelope or record. For each file one line
is printed: the file name, what ``parse`` made of it, and the facts it drew out. Always exits 0.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from trailguard.events import Intake, Sweep, TrailCall, parse


def wrap(record: Any, envelope_id: str) -> dict[str, Any]:
    """The EventBridge envelope around a raw CloudTrail record (the corpus README's recipe)."""
    fields = record if isinstance(record, Mapping) else {}
    return {
        "version": "0",
        "id": envelope_id,
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.cloudtrail",
        "account": fields.get("recipientAccountId"),
        "time": fields.get("eventTime"),
        "region": fields.get("awsRegion"),
        "resources": [],
        "detail": record,
    }


def as_event(data: Any, envelope_id: str) -> Any:
    if isinstance(data, Mapping):
        if "envelope" in data:
            return data["envelope"]
        if "record" in data:
            return wrap(data["record"], envelope_id)
        if "eventSource" in data or "eventName" in data:
            return wrap(data, envelope_id)
    return data


def describe(outcome: Intake) -> str:
    if isinstance(outcome, TrailCall):
        result = f"FAILED {outcome.error_code}" if outcome.failed else "ok"
        trail = outcome.trail
        return (
            f"call     {outcome.event_name} trail={trail.name} region={trail.region} arn={trail.arn or '-'} "
            f"account={outcome.account or '-'} called-in={outcome.region} {result}"
        )
    if isinstance(outcome, Sweep):
        return f"sweep    id={outcome.event_id} account={outcome.account or '-'}"
    return f"ignored  {outcome.reason}"


def outcome_of(path: Path) -> str:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        return f"unreadable  {error}"
    envelope_id = str(uuid.uuid5(uuid.NAMESPACE_URL, path.name))  # stable, so runs can be compared
    return describe(parse(as_event(data, envelope_id)))


def main(argv: Sequence[str] | None = None) -> int:
    paths = [Path(arg) for arg in (sys.argv[1:] if argv is None else argv)]
    if not paths:
        print("usage: python -m trailguard_dev.corpus PATH...", file=sys.stderr)
    width = max((len(path.name) for path in paths), default=0)
    for path in paths:
        print(f"{path.name:<{width}}  {outcome_of(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
