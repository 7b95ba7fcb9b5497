"""The audit benchmark (``make bench``): how fast, and with how few calls, ``trailguard audit`` reads an account.

An emulated account of 17 regions with 10 trails homed in each is read through the real audit path
(:func:`trailguard.cli.run_audit`) with 50 ms added to every emulator response, as a real AWS round trip
would add. For each scenario the benchmark prints the audit's wall time, the API calls it made by operation
against the exact target (1 DescribeTrails per region, 1 GetTrailStatus and 1 GetEventSelectors per distinct
trail, plus 1 DescribeRegions when no region is given), and its speed-up over the same calls made one after
another with the same client configuration. It exits non-zero when a target is missed.

Then the handler benchmark (:mod:`trailguard_dev.bench_handler`): the drift handler's time per event against
the bare reads it cannot avoid, its AWS calls per event, its cold import time and its peak memory over 1,000
events, each against its target.

Then the organization benchmark (:mod:`trailguard_dev.bench_org`): the sweep of 1,000 member accounts against
the same reads one after another, its AWS calls per account, its peak memory and a monthly cost model.

Run with ``python -m trailguard_dev.bench`` (``--part audit``, ``handler`` or ``org`` for one part). Absolute
times on a shared machine are noisy; the ratios are the figures that matter, and they are measured within one
run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from trailguard.aws import CLIENT_CONFIG
from trailguard.cli import run_audit
from trailguard.judge import AccountVerdict, Policy
from trailguard.read import AccountState, enabled_regions

from . import bench_handler, bench_org
from .emulator import FAKE_CREDENTIALS, Emulator, pointed_at

REGIONS = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1",
    "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1",
    "ap-south-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-southeast-1", "ap-southeast-2",
)  # fmt: skip
LATENCY = 0.050  # seconds added to every emulator response
SPEEDUP_TARGET = 8.0
PROVISION_WORKERS = 32
BUCKET = "trailguard-bench-logs"
HOME = FAKE_CREDENTIALS["AWS_DEFAULT_REGION"]

_MANAGEMENT = {"Field": "eventCategory", "Equals": ["Management"]}
BASIC_ALL = {"EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": True}]}
BASIC_READ_ONLY = {"EventSelectors": [{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True}]}
BASIC_NO_KMS = {
    "EventSelectors": [
        {
            "ReadWriteType": "All",
            "IncludeManagementEvents": True,
            "ExcludeManagementEventSources": ["kms.amazonaws.com"],
        }
    ]
}
ADVANCED_ALL = {"AdvancedEventSelectors": [{"Name": "management", "FieldSelectors": [_MANAGEMENT]}]}
ADVANCED_WRITE_ONLY = {
    "AdvancedEventSelectors": [
        {"Name": "management writes", "FieldSelectors": [_MANAGEMENT, {"Field": "readOnly", "Equals": ["false"]}]}
    ]
}
ADVANCED_DATA_ONLY = {
    "AdvancedEventSelectors": [
        {
            "Name": "s3 objects",
            "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Data"]},
                {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
            ],
        }
    ]
}


@dataclass(frozen=True)
class Kind:
    """One kind of trail the account is provisioned with, and whether the policy should find it compliant."""

    label: str
    multi_region: bool
    logging: bool
    global_events: bool
    selectors: dict[str, Any]
    compliant: bool


# Each region is home to one trail of each kind: 4 multi-region (their shadow copies show up in every region's
# DescribeTrails and must be folded), 6 single-region; 8 logging, 2 stopped; basic and advanced selectors.
KINDS = (
    Kind("multi-basic", True, True, True, BASIC_ALL, compliant=True),
    Kind("multi-advanced", True, True, True, ADVANCED_ALL, compliant=True),
    Kind("multi-stopped", True, False, True, BASIC_ALL, compliant=False),
    Kind("multi-readonly", True, True, True, BASIC_READ_ONLY, compliant=False),
    Kind("single-basic", False, True, True, BASIC_ALL, compliant=False),
    Kind("single-writeonly", False, True, True, ADVANCED_WRITE_ONLY, compliant=False),
    Kind("single-stopped", False, False, True, ADVANCED_ALL, compliant=False),
    Kind("single-no-kms", False, True, True, BASIC_NO_KMS, compliant=False),
    Kind("single-data-only", False, True, True, ADVANCED_DATA_ONLY, compliant=False),
    Kind("single-no-global", False, True, False, BASIC_ALL, compliant=False),
)


@dataclass(frozen=True)
class Trail:
    region: str
    kind: Kind

    @property
    def name(self) -> str:
        return f"bench-{self.region}-{self.kind.label}"


@dataclass(frozen=True)
class Scenario:
    label: str
    regions: tuple[str, ...]  # as given to the audit; empty: every region the account has enabled


@dataclass(frozen=True)
class Result:
    scenario: Scenario
    regions_read: int
    expected: Counter[str]
    audit_runs: tuple[float, ...]
    audit_calls: tuple[Counter[str], ...]  # one per audit run
    sequential_seconds: float
    sequential_calls: Counter[str]
    verdict: Counter[str]
    expected_verdict: Counter[str]
    region_errors: dict[str, str]

    @property
    def audit_seconds(self) -> float:
        return statistics.median(self.audit_runs)

    @property
    def calls(self) -> Counter[str]:
        """The audit's calls: the first run that missed the target, if any did, else the first run."""
        return next((c for c in self.audit_calls if c != self.expected), self.audit_calls[0])

    @property
    def speedup(self) -> float:
        return self.sequential_seconds / self.audit_seconds

    @property
    def calls_ok(self) -> bool:
        return all(c == self.expected for c in (*self.audit_calls, self.sequential_calls))

    @property
    def speed_ok(self) -> bool:
        return self.speedup >= SPEEDUP_TARGET

    @property
    def verdict_ok(self) -> bool:
        return self.verdict == self.expected_verdict and not self.region_errors

    @property
    def ok(self) -> bool:
        return self.calls_ok and self.speed_ok and self.verdict_ok


def account_trails() -> list[Trail]:
    return [Trail(region, kind) for region in REGIONS for kind in KINDS]


def _session() -> Any:
    import boto3

    return boto3.session.Session()


def provision(trails: Sequence[Trail]) -> None:
    """Create the bucket and every trail (each with explicit selectors: moto's new trails have none)."""
    session = _session()
    s3 = session.client("s3", region_name=HOME, config=CLIENT_CONFIG)
    s3.create_bucket(Bucket=BUCKET)
    clients = {region: session.client("cloudtrail", region_name=region, config=CLIENT_CONFIG) for region in REGIONS}

    def create(trail: Trail) -> None:
        client = clients[trail.region]
        client.create_trail(
            Name=trail.name,
            S3BucketName=BUCKET,
            IsMultiRegionTrail=trail.kind.multi_region,
            IncludeGlobalServiceEvents=trail.kind.global_events,
        )
        client.put_event_selectors(TrailName=trail.name, **trail.kind.selectors)
        if trail.kind.logging:
            client.start_logging(Name=trail.name)

    # 50 ms per call makes provisioning one after another take ~25 s; in parallel it takes about one second.
    with ThreadPoolExecutor(PROVISION_WORKERS) as pool:
        list(pool.map(create, trails))  # re-raises the first error


def expected_calls(regions_read: int, trails: int, listed: bool) -> Counter[str]:
    expected = Counter({"DescribeTrails": regions_read, "GetTrailStatus": trails, "GetEventSelectors": trails})
    if listed:
        expected["DescribeRegions"] = 1
    return expected


def verdict_counts(verdict: AccountVerdict) -> Counter[str]:
    counts: Counter[str] = Counter()
    for trail in verdict.trails:
        counts["compliant" if trail.compliant else "drifted" if trail.evaluated else "not evaluated"] += 1
    return counts


def sequential(regions: Sequence[str]) -> None:
    """The audit's API calls, one after another: what reading the account costs without concurrency.

    Like :func:`run_audit` it starts from a new session and creates its clients as it goes; unlike it, it
    judges nothing, so the policy's (small) CPU time counts against the audit only.
    """
    session = _session()
    if not regions:
        regions = enabled_regions(session.client("ec2", region_name=HOME, config=CLIENT_CONFIG))
    clients: dict[str, Any] = {}

    def client(region: str) -> Any:
        if region not in clients:
            clients[region] = session.client("cloudtrail", region_name=region, config=CLIENT_CONFIG)
        return clients[region]

    descriptions: dict[str, dict[str, Any]] = {}
    for region in regions:
        for trail in client(region).describe_trails(includeShadowTrails=True)["trailList"]:
            descriptions.setdefault(trail["TrailARN"], trail)
    for arn, trail in descriptions.items():
        home = client(trail["HomeRegion"])
        home.get_trail_status(Name=arn)
        home.get_event_selectors(TrailName=arn)


def _timed(emu: Emulator, action: Callable[[], object]) -> tuple[float, Counter[str]]:
    emu.clear_calls()
    start = time.perf_counter()
    action()
    elapsed = time.perf_counter() - start
    return elapsed, emu.calls()


def measure(emu: Emulator, scenario: Scenario, trails: Sequence[Trail], repeat: int) -> Result:
    """Audit ``repeat`` times (after one unmeasured warm-up run), then make the same calls one after another."""
    regions = scenario.regions or tuple(enabled_regions(_session().client("ec2", region_name=HOME)))
    expected = expected_calls(len(regions), len(trails), listed=not scenario.regions)
    audits: list[tuple[AccountState, AccountVerdict]] = []

    def audit() -> None:
        audits.append(run_audit(list(scenario.regions), Policy()))

    audit()  # warm-up: the emulator creates its per-region backends lazily, on the first call to a region
    runs = [_timed(emu, audit) for _ in range(repeat)]
    state, verdict = audits[-1]
    sequential_seconds, sequential_calls = _timed(emu, lambda: sequential(scenario.regions))
    compliant = sum(1 for t in trails if t.kind.compliant)
    return Result(
        scenario=scenario,
        regions_read=len(state.regions),
        expected=expected,
        audit_runs=tuple(seconds for seconds, _ in runs),
        audit_calls=tuple(calls for _, calls in runs),
        sequential_seconds=sequential_seconds,
        sequential_calls=sequential_calls,
        verdict=verdict_counts(verdict),
        expected_verdict=Counter({"compliant": compliant, "drifted": len(trails) - compliant}),
        region_errors=dict(state.region_errors),
    )


def _by_operation(calls: Counter[str]) -> str:
    return ", ".join(f"{op} {n}" for op, n in sorted(calls.items())) or "none"


def _verdict_line(counts: Counter[str]) -> str:
    return ", ".join(f"{counts[k]} {k}" for k in ("compliant", "drifted", "not evaluated"))


def _mark(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def render(results: Sequence[Result], trails: int, latency: float) -> str:
    header = (
        "scenario", "regions", "trails", "API calls", "expected", "audit", "sequential", "speed-up", "calls",
        f">={SPEEDUP_TARGET:g}x", "verdict",
    )  # fmt: skip
    rows = [header]
    for r in results:
        rows.append((
            r.scenario.label, str(r.regions_read), str(trails), str(r.calls.total()), str(r.expected.total()),
            f"{r.audit_seconds:.2f} s", f"{r.sequential_seconds:.2f} s", f"{r.speedup:.1f}x",
            _mark(r.calls_ok), _mark(r.speed_ok), _mark(r.verdict_ok),
        ))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    for r in results:
        lines += [
            "",
            f"{r.scenario.label}:",
            f"  audit made:      {_by_operation(r.calls)}"
            + (
                ""
                if r.calls_ok
                else f" (missed in {sum(c != r.expected for c in r.audit_calls)} of {len(r.audit_calls)} runs)"
            ),
            f"  expected:        {_by_operation(r.expected)}",
            f"  sequential made: {_by_operation(r.sequential_calls)}",
            f"  audit runs:      {', '.join(f'{s:.2f} s' for s in r.audit_runs)} (median {r.audit_seconds:.2f} s)",
            f"  verdict:         {_verdict_line(r.verdict)} "
            f"(expected {_verdict_line(r.expected_verdict)}) {_mark(r.verdict_ok)}",
        ]
        lines += [f"  region {region} could not be read: {error}" for region, error in r.region_errors.items()]
    lines += [
        "",
        f"Latency injected: {latency * 1000:.0f} ms per emulator response. Absolute times on a shared machine are "
        "noisy; the speed-up ratio is the figure that matters.",
    ]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m trailguard_dev.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=LATENCY, help="seconds added to every emulator response")
    parser.add_argument("--repeat", type=int, default=3, help="audit runs per scenario; the median is reported")
    parser.add_argument(
        "--handler-latency",
        type=float,
        default=bench_handler.LATENCY,
        help="seconds added to every emulator response in the handler benchmark",
    )
    parser.add_argument(
        "--events", type=int, default=bench_handler.EVENTS, help="compliant events timed in the handler benchmark"
    )
    parser.add_argument(
        "--part", choices=("all", "audit", "handler", "org"), default="all", help="which benchmark to run"
    )
    return parser


def audit_benchmark(latency: float, repeat: int) -> bool:
    trails = account_trails()
    scenarios = (Scenario(f"--region x{len(REGIONS)}", REGIONS), Scenario("all enabled regions", ()))
    print(
        f"trailguard audit benchmark: {len(REGIONS)} regions x {len(KINDS)} trails homed in each, "
        f"{latency * 1000:.0f} ms per emulator response",
        flush=True,
    )
    with Emulator(latency=latency) as emu, pointed_at(emu):
        start = time.perf_counter()
        provision(trails)
        print(f"provisioned {len(trails)} trails in {time.perf_counter() - start:.1f} s", flush=True)
        results = []
        for scenario in scenarios:
            results.append(measure(emu, scenario, trails, max(1, repeat)))
            print(f"measured {scenario.label}", flush=True)
    print()
    print(render(results, len(trails), latency))
    return all(r.ok for r in results)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    ok = True
    if args.part in ("all", "audit"):
        ok = audit_benchmark(args.latency, args.repeat)
        print(f"\naudit: {'all targets met' if ok else 'TARGET MISSED'}.\n", flush=True)
    if args.part in ("all", "handler"):
        handler_ok = bench_handler.run(args.handler_latency, max(1, args.events))
        print(f"\nhandler: {'all targets met' if handler_ok else 'TARGET MISSED'}.\n", flush=True)
        ok = ok and handler_ok
    if args.part in ("all", "org"):
        org_ok = bench_org.run()
        print(f"\norganization: {'all targets met' if org_ok else 'TARGET MISSED'}.")
        ok = ok and org_ok
    print(f"\n{'all targets met' if ok else 'TARGET MISSED'}.")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
