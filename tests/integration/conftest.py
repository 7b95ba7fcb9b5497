"""Integration fixtures: one moto server on 127.0.0.1 per test session, reset before every test."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from trailguard_dev.emulator import Emulator, pointed_at

REPO = Path(__file__).resolve().parents[2]
TRAILGUARD = Path(sys.executable).with_name("trailguard")
BUCKET = "trailguard-test-logs"


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


@pytest.fixture
def aws(emulator: Emulator) -> Iterator[Emulator]:
    """A clean emulated account, with this process's boto3 pointed at it."""
    emulator.reset()
    with pointed_at(emulator):
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
        yield emulator


@dataclass
class Audit:
    code: int
    stdout: str
    stderr: str


def run_trailguard(*args: str, env: dict[str, str] | None = None) -> Audit:
    """Run the installed ``trailguard`` command as a user would, with the given environment."""
    done = subprocess.run(
        [str(TRAILGUARD), *args], capture_output=True, text=True, env=env or dict(os.environ), timeout=120, check=False
    )
    return Audit(done.returncode, done.stdout, done.stderr)


ALL_MANAGEMENT = [{"ReadWriteType": "All", "IncludeManagementEvents": True}]


def make_trail(
    region: str,
    name: str,
    *,
    multi_region: bool = True,
    logging: bool = True,
    selectors: dict[str, Any] | None = None,
) -> str:
    """Create a trail as a test scenario needs it; moto starts trails with no selectors, so set them."""
    ct = boto3.client("cloudtrail", region_name=region)
    arn = ct.create_trail(Name=name, S3BucketName=BUCKET, IsMultiRegionTrail=multi_region)["TrailARN"]
    ct.put_event_selectors(TrailName=name, **(selectors or {"EventSelectors": ALL_MANAGEMENT}))
    if logging:
        ct.start_logging(Name=name)
    return str(arn)


@pytest.fixture
def trail() -> Callable[..., str]:
    return make_trail
