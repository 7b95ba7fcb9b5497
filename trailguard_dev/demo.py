"""``make demo``: trailguard's audit against an emulated account, offline, with no AWS account.

It starts moto's server on 127.0.0.1, creates a compliant trail and five drifted ones the way an attacker
or a careless change would leave them, runs the real ``trailguard audit`` command against it, and checks
that every trail got the verdict it should. Exit status 0 only if all of them did.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from .emulator import Emulator, pointed_at

BUCKET = "trailguard-demo-logs"
REGIONS = ("us-east-1", "eu-west-1")
DATA_EVENTS = [
    {"Type": "AWS::S3::Object", "Values": [f"arn:aws:s3:::{BUCKET}/"]},
    {"Type": "AWS::Lambda::Function", "Values": ["arn:aws:lambda"]},
]
ALL_MANAGEMENT = {"ReadWriteType": "All", "IncludeManagementEvents": True, "ExcludeManagementEventSources": []}


@dataclass(frozen=True)
class Scenario:
    name: str
    region: str
    story: str
    selectors: dict[str, Any]
    expected: tuple[str, ...]
    multi_region: bool = True
    logging: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


SCENARIOS = (
    Scenario(
        "demo-good",
        "us-east-1",
        "multi-region, logging, all management events plus S3 and Lambda data events",
        {"EventSelectors": [dict(ALL_MANAGEMENT, DataResources=DATA_EVENTS)]},
        (),
    ),
    Scenario(
        "demo-stopped",
        "us-east-1",
        "StopLogging: the trail exists but records nothing",
        {"EventSelectors": [ALL_MANAGEMENT]},
        ("logging-stopped",),
        logging=False,
    ),
    Scenario(
        "demo-mgmt-off",
        "us-east-1",
        "PutEventSelectors as Stratus Red Team does it: management events off, data events kept",
        {
            "EventSelectors": [
                {
                    "ReadWriteType": "ReadOnly",
                    "IncludeManagementEvents": False,
                    "DataResources": DATA_EVENTS,
                    "ExcludeManagementEventSources": [],
                }
            ]
        },
        ("management-events-excluded",),
    ),
    Scenario(
        "demo-read-only",
        "us-east-1",
        "read-only management events: every change goes unrecorded",
        {"EventSelectors": [dict(ALL_MANAGEMENT, ReadWriteType="ReadOnly")]},
        ("management-events-partial",),
    ),
    Scenario(
        "demo-no-iam",
        "eu-west-1",
        "advanced selectors that quietly drop iam.amazonaws.com",
        {
            "AdvancedEventSelectors": [
                {
                    "Name": "Management events",
                    "FieldSelectors": [
                        {"Field": "eventCategory", "Equals": ["Management"]},
                        {"Field": "eventSource", "NotEquals": ["iam.amazonaws.com"]},
                    ],
                },
                {
                    "Name": "S3 writes",
                    "FieldSelectors": [
                        {"Field": "eventCategory", "Equals": ["Data"]},
                        {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
                        {"Field": "readOnly", "Equals": ["false"]},
                    ],
                },
            ]
        },
        ("management-sources-excluded",),
    ),
    Scenario(
        "demo-single-region",
        "eu-west-1",
        "UpdateTrail to single-region: other regions go dark",
        {"EventSelectors": [ALL_MANAGEMENT]},
        ("not-multi-region",),
        multi_region=False,
    ),
)


def provision() -> None:
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
    for s in SCENARIOS:
        ct = boto3.client("cloudtrail", region_name=s.region)
        ct.create_trail(Name=s.name, S3BucketName=BUCKET, IsMultiRegionTrail=s.multi_region)
        ct.put_event_selectors(TrailName=s.name, **s.selectors)
        if s.logging:
            ct.start_logging(Name=s.name)


def _trailguard() -> str:
    return str(Path(sys.executable).with_name("trailguard"))


def _check(report: dict[str, Any]) -> list[tuple[Scenario, list[str], bool]]:
    found = {t["name"]: [f["rule"] for f in t["findings"]] for t in report["trails"]}
    return [(s, found.get(s.name, ["(missing)"]), found.get(s.name) == list(s.expected)) for s in SCENARIOS]


def run_demo(port: int = 0) -> int:
    print("trailguard demo: an emulated AWS account on 127.0.0.1 (moto), no AWS account needed.\n")
    with Emulator(port=port) as emu, pointed_at(emu):
        provision()
        for s in SCENARIOS:
            print(f"  created {s.name:<20} ({s.region}) {s.story}")
        command = ["trailguard", "audit", *(a for r in REGIONS for a in ("--region", r))]
        print(f"\n$ AWS_ENDPOINT_URL={emu.endpoint} {' '.join(command)}\n", flush=True)
        started = time.perf_counter()
        table = subprocess.run([_trailguard(), *command[1:]], env=dict(os.environ), check=False)
        elapsed = time.perf_counter() - started
        done = subprocess.run(
            [_trailguard(), *command[1:], "--json"], env=dict(os.environ), check=False, capture_output=True, text=True
        )
    report = json.loads(done.stdout)
    results = _check(report)
    print(f"\nThe audit took {elapsed:.1f} s and exited {table.returncode} (1 = findings).\n")
    print(f"  {'TRAIL':<20} {'EXPECTED':<30} {'GOT':<30} OK")
    for s, got, ok in results:
        print(
            f"  {s.name:<20} {', '.join(s.expected) or 'compliant':<30} {', '.join(got) or 'compliant':<30} "
            f"{'yes' if ok else 'NO'}"
        )
    account_ok = report["compliant"] is True and table.returncode == done.returncode == 1
    print(
        f"  {'(account)':<20} {'compliant (demo-good)':<30} {'compliant' if report['compliant'] else 'DRIFT':<30} "
        f"{'yes' if account_ok else 'NO'}"
    )
    passed = account_ok and all(ok for _, _, ok in results)
    print("\nEvery scenario came out as expected." if passed else "\nSome scenarios did NOT come out as expected.")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(run_demo())
