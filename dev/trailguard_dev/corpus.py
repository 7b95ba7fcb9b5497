"""Run the intake, or the whole handler, over corpus-style files.

``python -m trailguard_dev.corpus PATH...`` prints what ``parse`` makes of each file.
``python -m trailguard_dev.corpus --handler PATH...`` replays each file end to end against the local
emulator: the named trail is created compliant (in the emulator's account, which the record is moved to),
the recorded call is made for real, and the event goes to the real handler, whose verdict is printed.

A file holds a JSON object with ``envelope`` (a whole EventBridge event) or ``record`` (a raw CloudTrail
record, wrapped here as EventBridge wraps it), or is itself a bare envelope or record. Always exits 0.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from trailguard.events import DeliveryCall, Intake, Sweep, SweepBatch, TamperCall, TrailCall, parse

from .dynamodb import create_state_table


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
    if isinstance(outcome, SweepBatch):
        return f"batch    {len(outcome.records)} sweep message(s)"
    if isinstance(outcome, DeliveryCall):
        return f"delivery {outcome.event_name} {outcome.service}:{outcome.resource} account={outcome.account}"
    if isinstance(outcome, TamperCall):
        return f"tamper   {outcome.event_name} {' '.join(arn for _, arn in outcome.parts)} account={outcome.account}"
    return f"ignored  {outcome.reason}"


def outcome_of(path: Path) -> str:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        return f"unreadable  {error}"
    envelope_id = str(uuid.uuid5(uuid.NAMESPACE_URL, path.name))  # stable, so runs can be compared
    return describe(parse(as_event(data, envelope_id)))


EMULATOR_ACCOUNT = "123456789012"
BUCKET = "corpus-replay-logs"


def _prepare(call: TrailCall) -> None:
    """A fresh emulated account holding the state table and the named trail, compliant."""
    import boto3

    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
    create_state_table(boto3.client("dynamodb", region_name="us-east-1"), "corpus-state")
    ct = boto3.client("cloudtrail", region_name=call.trail.region)
    ct.create_trail(Name=call.trail.name, S3BucketName=BUCKET, IsMultiRegionTrail=True)
    ct.put_event_selectors(
        TrailName=call.trail.name, EventSelectors=[{"ReadWriteType": "All", "IncludeManagementEvents": True}]
    )
    ct.start_logging(Name=call.trail.name)


def handled(path: Path) -> str:
    """Replay one file end to end and say what the handler returned."""
    import boto3

    import drift_handler

    from .replay import replay

    data = json.loads(path.read_text())
    event = as_event(data, str(uuid.uuid5(uuid.NAMESPACE_URL, path.name)))
    intake = parse(event)
    if isinstance(intake, TrailCall):  # move the record into the emulator's account
        detail = event["detail"]
        event["account"] = detail["recipientAccountId"] = EMULATOR_ACCOUNT
        params = detail["requestParameters"]
        key = "trailName" if "trailName" in params else "name"
        if str(params[key]).startswith("arn:"):
            params[key] = f"arn:aws:cloudtrail:{intake.trail.region}:{EMULATOR_ACCOUNT}:trail/{intake.trail.name}"
        _prepare(intake)
        replay(event["detail"], boto3.client("cloudtrail", region_name=intake.trail.region))
    drift_handler._runtime = None
    context = type("Context", (), {"invoked_function_arn": f"arn:aws:lambda:us-east-1:{EMULATOR_ACCOUNT}:function:x"})
    result = drift_handler.handler(event, context())
    rules = ",".join(f"{f['rule']}({f['severity']})" for f in result["findings"]) or "-"
    return f"{result['status']:<15} {rules}  {result.get('reason', '')}".rstrip()


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    end_to_end = "--handler" in args
    paths = [Path(arg) for arg in args if arg != "--handler"]
    if not paths:
        print("usage: python -m trailguard_dev.corpus [--handler] PATH...", file=sys.stderr)
    width = max((len(path.name) for path in paths), default=0)
    if not end_to_end:
        for path in paths:
            print(f"{path.name:<{width}}  {outcome_of(path)}")
        return 0
    import os

    from .emulator import Emulator, pointed_at

    os.environ["STATE_TABLE"] = "corpus-state"
    with Emulator() as emu, pointed_at(emu):
        for path in paths:
            emu.reset()
            print(f"{path.name:<{width}}  {handled(path)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
