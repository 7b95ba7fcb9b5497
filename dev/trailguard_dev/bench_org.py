"""The organization benchmark (third part of ``make bench``): the sweep of 1,000 member accounts, its calls,
its memory and what a month of it costs.

Measured in one run against the local emulator (in a child process, 20 ms added to every response), with an
organization built through boto3: the management account holding the organization trail and 1,000 member
accounts with the member role, every tenth of them with a logging multi-region trail of its own.

- sweep: the real ``drift_handler.handler`` with a scheduled event and the organization settings
  (``MEMBER_ROLE_NAME``, ``ORGANIZATION_ID``, ``WATCHED_REGIONS`` of two regions, no ``SWEEP_QUEUE_URL``). A
  first sweep stores the trails' baselines; the sweep measured is the next one, as the hourly schedule runs
  it, in a process of its own (a new Lambda container: every member role assumed again), which also reports
  its peak RSS and the DynamoDB items it read and wrote.
- sequential: the same member-account reads one after another: ``trailguard.fleet.sweep_accounts`` one
  account at a time with ``ACCOUNTS_AT_ONCE`` and ``READS_PER_ACCOUNT`` set to 1, through a new container's
  ``MemberAccess``, on a sample of accounts of both kinds, scaled to the organization's count of each kind.
- calls: per member account, against "regions + 2 per own trail + 1 AssumeRole, the organization trail read
  once"; the sweep's fixed cost; and per member drift event, with a warm container and a cold one.
- cost: a month of hourly sweeps and watched calls at us-east-1 list prices, next to AWS Config's periodic
  ``multi-region-cloudtrail-enabled`` rule for the same accounts and regions.

The organization's members are added concurrently (``build_organization`` adds them one after another,
which takes about 90 s at this latency). The sweep's child is ``python -m trailguard_dev.bench_org
--sweep-child OUT MANAGEMENT``. Absolute times on a shared machine are noisy; the ratios are measured within
one run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trailguard.config import TIMEOUT_SECONDS

from .bench_handler import handlers_on_path, quiet
from .dynamodb import create_state_table
from .emulator import Emulator, environment, pointed_at
from .organization import ACCOUNT_HEADER, ALL_MANAGEMENT_EVENTS, ROLE_NAME, build_organization, trust_policy
from .records import cloudtrail_record, envelope

MEMBERS = 1000
OWN_TRAIL_EVERY = 10  # every tenth member has a logging multi-region trail of its own
REGIONS = ("us-east-1", "us-west-2")
HOME = "us-east-1"
LATENCY = 0.020  # seconds added to every emulator response
SAMPLE = 50  # member accounts read one after another (the same share of each kind as the organization)
BUILD_WORKERS = 16
TABLE = "trailguard-bench-org-state"
OWN_TRAIL = "own"
SPEEDUP_TARGET = 20.0
# The same sweep again at a latency at which the emulator's CPU (one process, ~8 ms a call) is no longer what
# bounds it: what the detector's concurrency gives when the answers, not the emulator, are what it waits for.
SLOW_LATENCY = 0.200
SLOW_SAMPLE = 10
REMAINING_MS = 900_000  # the time an invocation is given: Lambda's longest timeout (15 minutes)
DYNAMODB_OPERATIONS = ("BatchGetItem", "BatchWriteItem", "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query")

# --- the cost model's assumptions and prices ---------------------------------------------------------------
HOURS_PER_MONTH = 730  # AWS's own monthly figure: one sweep an hour is 730 sweeps a month
LAMBDA_MEMORY_MB = 256  # the function's memory_size (stacks/detector.py), arm64
LAMBDA_FULL_VCPU_MB = 1769  # Lambda developer guide, "Configure Lambda function memory": one vCPU at 1,769 MB
WATCHED_CALLS_PER_ACCOUNT = 10  # assumed watched CloudTrail calls (each one event) per member account a month
SQS_BATCH = 100  # the fan-out alternative: the event source's batch (stacks/organization.py), one invocation each
SQS_ENTRIES = 10  # SendMessageBatch, ReceiveMessage and DeleteMessageBatch take at most 10 messages a request
# us-east-1 on-demand list prices, free tiers left out:
# "AWS Lambda pricing" (aws.amazon.com/lambda/pricing): Arm duration, first 7.5 billion GB-s a month; requests
LAMBDA_GB_SECOND = 0.0000133334
LAMBDA_REQUEST = 0.20 / 1e6
# "Amazon DynamoDB pricing for on-demand capacity" (aws.amazon.com/dynamodb/pricing/on-demand), after the
# November 2024 price cut: a strongly consistent read of up to 4 KB is one read request unit, a write of up to
# 1 KB one write request unit
DYNAMODB_READ_UNIT = 0.125 / 1e6
DYNAMODB_WRITE_UNIT = 0.625 / 1e6
# "Amazon SQS pricing" (aws.amazon.com/sqs/pricing): standard queue, per request (a 64 KB chunk each)
SQS_REQUEST = 0.40 / 1e6
# "Amazon EventBridge pricing" (aws.amazon.com/eventbridge/pricing): AWS management events are ingested free; their
# delivery to an event bus in another account is charged at the custom events price
EVENTBRIDGE_EVENT = 1.00 / 1e6
# "AWS Config pricing" (aws.amazon.com/config/pricing): per rule evaluation per region a month, in tiers
CONFIG_TIERS: tuple[tuple[float, float], ...] = ((100_000, 0.001), (400_000, 0.0008), (math.inf, 0.0005))
# The managed rule multi-region-cloudtrail-enabled has a periodic trigger (AWS Config developer guide), and a
# periodic rule runs every 24 hours by default (AWS Config API reference, SourceDetail): one evaluation per
# account and region a day. Assumed: no configuration recorder is needed for it (no configuration items).
CONFIG_EVALUATIONS_PER_DAY = 1


# --- the organization ---------------------------------------------------------------------------------------


class _ActingAs:
    """A ``before-sign`` hook: each thread's requests act as the account that thread last named."""

    def __init__(self) -> None:
        self._local = threading.local()

    def name(self, account: str) -> None:
        self._local.account = account

    def __call__(self, request: Any, **_: Any) -> None:
        request.headers[ACCOUNT_HEADER] = self._local.account


@dataclass(frozen=True)
class Org:
    id: str
    management: str
    members: dict[str, str]  # account id -> name
    own_trails: frozenset[str]  # the members with a trail of their own
    topic_arn: str

    def env(self) -> dict[str, str]:
        """The Lambda's environment in organization mode, sweeping in-line (no SWEEP_QUEUE_URL)."""
        return {
            "STATE_TABLE": TABLE,
            "ALERT_TOPIC_ARN": self.topic_arn,
            "REMEDIATION_MODE": "off",
            "MEMBER_ROLE_NAME": ROLE_NAME,
            "ORGANIZATION_ID": self.id,
            "WATCHED_REGIONS": ",".join(REGIONS),
        }


def build(members: int) -> Org:
    """The organization, its members (concurrently), their roles and own trails, the state table and topic."""
    import boto3

    org = build_organization((), region=HOME)
    organizations: Any = boto3.client("organizations", region_name=HOME)
    acting = _ActingAs()
    iam: Any = boto3.client("iam", region_name=HOME)
    s3: Any = boto3.client("s3", region_name=HOME)
    cloudtrail: Any = boto3.client("cloudtrail", region_name=HOME)
    for client in (iam, s3, cloudtrail):
        client.meta.events.register("before-sign", acting)
    trust = trust_policy(f"arn:{org.partition}:iam::{org.management}:root")

    def member(index: int) -> tuple[str, str]:
        name = f"member-{index:04d}"
        status = organizations.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]
        if status["State"] != "SUCCEEDED":  # the emulator creates accounts at once
            raise RuntimeError(f"account {name} was not created: {status}")
        account = str(status["AccountId"])
        acting.name(account)
        iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=trust)
        if index % OWN_TRAIL_EVERY == 0:
            bucket = f"own-logs-{account}"
            s3.create_bucket(Bucket=bucket)
            cloudtrail.create_trail(Name=OWN_TRAIL, S3BucketName=bucket, IsMultiRegionTrail=True)
            cloudtrail.put_event_selectors(TrailName=OWN_TRAIL, EventSelectors=ALL_MANAGEMENT_EVENTS)
            cloudtrail.start_logging(Name=OWN_TRAIL)
        return account, name

    with ThreadPoolExecutor(BUILD_WORKERS) as pool:
        made = list(pool.map(member, range(members)))
    create_state_table(boto3.client("dynamodb", region_name=HOME), TABLE)
    topic = boto3.client("sns", region_name=HOME).create_topic(Name="trailguard-alerts")["TopicArn"]
    own = frozenset(account for index, (account, _) in enumerate(made) if index % OWN_TRAIL_EVERY == 0)
    return Org(org.id, org.management, dict(made), own, str(topic))


# --- the Lambda's side: context, events, DynamoDB items -----------------------------------------------------


@dataclass(frozen=True)
class Context:
    """The parts of Lambda's context object the handler reads. Its remaining time is Lambda's longest
    (``REMAINING_MS``), not the stack's timeout: the sweep leaves accounts for the next one when its time runs
    short, and the emulator's sweep is slower than AWS's would be. Its duration is reported against the
    timeout instead."""

    invoked_function_arn: str
    aws_request_id: str = "bench-org"
    function_name: str = "trailguard-drift"
    memory_limit_in_mb: int = LAMBDA_MEMORY_MB
    function_version: str = "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        return REMAINING_MS


def context(management: str) -> Context:
    return Context(f"arn:aws:lambda:{HOME}:{management}:function:trailguard-drift")


def scheduled(management: str) -> dict[str, Any]:
    """The EventBridge "Scheduled Event" that starts the sweep."""
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
        "account": management, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "region": HOME,
        "resources": [f"arn:aws:events:{HOME}:{management}:rule/trailguard-sweep"], "detail": {},
    }  # fmt: skip


@dataclass
class Items:
    """DynamoDB items the state table asked for (BatchGetItem keys) and wrote (BatchWriteItem requests)."""

    read: int = 0
    written: int = 0

    def watch(self, client: Any) -> None:
        client.meta.events.register("before-parameter-build.dynamodb.BatchGetItem", self._get)
        client.meta.events.register("before-parameter-build.dynamodb.BatchWriteItem", self._write)

    def _get(self, params: Mapping[str, Any], **_: Any) -> None:
        self.read += sum(len(t.get("Keys", ())) for t in params.get("RequestItems", {}).values())

    def _write(self, params: Mapping[str, Any], **_: Any) -> None:
        self.written += sum(len(requests) for requests in params.get("RequestItems", {}).values())


def drift_handler_module() -> Any:
    handlers_on_path()
    import drift_handler

    return drift_handler


def fresh_runtime(ctx: Context, items: Items | None = None) -> Any:
    """A new container's runtime (no AWS call is made to build it), its DynamoDB items counted in ``items``."""
    module = drift_handler_module()
    module._runtime = None
    rt = module.runtime(ctx)
    if items is not None:
        items.watch(rt.table.client)
    return rt


# --- CPU and memory -------------------------------------------------------------------------------------------


def _status_kb(key: str) -> int:
    """A ``/proc/self/status`` figure in kB (``VmRSS``, ``VmHWM``: the peak, counted from exec); 0 if unknown."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(f"{key}:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def emulator_pid() -> int | None:
    """The emulator child process of this process (Linux: found in /proc by parent and command line)."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            command = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid() and b"trailguard_dev.emulator" in command:
            return int(entry)
    return None


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of a process so far (NaN when unknown)."""
    if pid is None:
        return math.nan
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Timed:
    """One measured run: wall time, CPU of this (or the sweeping) process and of the emulator, AWS calls."""

    seconds: float
    client_cpu: float
    emulator_cpu: float
    calls: Counter[str]

    @property
    def total(self) -> int:
        return self.calls.total()


@contextmanager
def measuring(
    emu: Emulator, pid: int | None, into: list[Timed], client_cpu: Callable[[], float] | None = None
) -> Iterator[None]:
    """Time the block and count its AWS calls; ``client_cpu()`` gives the client's CPU seconds when they were
    measured in another process (default: this process's)."""
    emu.clear_calls()
    emulator_start, cpu_start, start = cpu_seconds(pid), time.process_time(), time.perf_counter()
    yield
    seconds = time.perf_counter() - start
    client = client_cpu() if client_cpu is not None else time.process_time() - cpu_start
    into.append(Timed(seconds, client, cpu_seconds(pid) - emulator_start, emu.calls()))


# --- the sweep, in process and in a process of its own ---------------------------------------------------------


def sweep_here(management: str) -> dict[str, Any]:
    module = drift_handler_module()
    with quiet(module.logger):
        fresh_runtime(context(management))
        body: dict[str, Any] = module.handler(scheduled(management), context(management))
    return body


@dataclass(frozen=True)
class ChildSweep:
    seconds: float
    client_cpu: float
    rss_before_mb: float  # after the imports, before the runtime is built
    peak_mb: float  # VmHWM after the sweep
    items: Items
    body: dict[str, Any]

    @property
    def growth_mb(self) -> float:
        return self.peak_mb - self.rss_before_mb


def sweep_child(out: Path, management: str, accounts_at_once: int | None) -> None:
    """A new container: build the runtime and sweep once; write the time, CPU, peak RSS and items."""
    module = drift_handler_module()
    if accounts_at_once:
        from trailguard import fleet

        fleet.ACCOUNTS_AT_ONCE = accounts_at_once
    rss_before = _status_kb("VmRSS")
    items = Items()
    ctx = context(management)
    with quiet(module.logger):
        cpu, start = time.process_time(), time.perf_counter()
        fresh_runtime(ctx, items)
        body = module.handler(scheduled(management), ctx)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    summary = {k: body.get(k) for k in ("status", "accounts", "alerts", "notified", "failed", "skipped")}
    out.write_text(json.dumps({"seconds": seconds, "client_cpu": cpu, "rss_before_kb": rss_before,
                               "peak_kb": _status_kb("VmHWM"), "read": items.read, "written": items.written,
                               "body": summary}))  # fmt: skip


def sweep_elsewhere(management: str, accounts_at_once: int | None) -> ChildSweep:
    """Run the sweep child against the emulator this process points at, with this process's environment."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sweep.json"
        cmd = [sys.executable, "-m", "trailguard_dev.bench_org", "--sweep-child", str(out), management]
        if accounts_at_once:
            cmd += ["--accounts-at-once", str(accounts_at_once)]
        done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"the sweep child failed ({done.returncode}): {done.stderr[-2000:]}")
        got = json.loads(out.read_text())
    return ChildSweep(got["seconds"], got["client_cpu"], got["rss_before_kb"] / 1024, got["peak_kb"] / 1024,
                      Items(got["read"], got["written"]), got["body"])  # fmt: skip


# --- the same reads, one account after another ----------------------------------------------------------------


@contextmanager
def patched(module: Any, **values: Any) -> Iterator[None]:
    saved = {name: getattr(module, name) for name in values}
    for name, value in values.items():
        setattr(module, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(module, name, value)


@dataclass(frozen=True)
class Kind:
    """The member accounts of one kind (with or without a trail of their own): how many, and the sample."""

    label: str
    count: int
    runs: tuple[Timed, ...]  # one per sampled account

    @property
    def seconds(self) -> float:
        return sum(r.seconds for r in self.runs)

    @property
    def scaled(self) -> float:
        return self.seconds / len(self.runs) * self.count

    def calls(self) -> Counter[str]:
        """The calls of the first sampled account that differs from the first, if any, else the first's."""
        return next((r.calls for r in self.runs if r.calls != self.runs[0].calls), self.runs[0].calls)

    @property
    def alike(self) -> bool:
        return all(r.calls == self.runs[0].calls for r in self.runs)

    def aws(self) -> Counter[str]:
        return _aws(self.calls())


def sample(accounts: Sequence[str], share: float, size: int) -> list[str]:
    """``round(size * share)`` accounts spread over ``accounts`` (at least one)."""
    n = max(1, round(size * share))
    step = max(1, len(accounts) // n)
    return list(accounts[::step][:n])


def sequential(emu: Emulator, pid: int | None, org: Org, size: int) -> tuple[Kind, Kind]:
    """Each sampled member account swept alone, its reads one after another, through a new container's
    member access (so that its role is assumed, as in the sweep)."""
    from trailguard import fleet, flow
    from trailguard.organization import Account
    from trailguard.read import read_account

    rt = fresh_runtime(context(org.management))
    assert rt.access is not None
    management = read_account(rt.cloudtrail, list(REGIONS), lambda: rt.account)
    shared = tuple(t for t in management.trails if t.description.get("IsOrganizationTrail"))
    sweep_id = f"sequential-{uuid.uuid4()}"
    kinds = []
    for label, accounts in (
        ("without own trail", sorted(set(org.members) - org.own_trails)),
        ("with one own trail", sorted(org.own_trails)),
    ):
        runs: list[Timed] = []
        with patched(fleet, ACCOUNTS_AT_ONCE=1, READS_PER_ACCOUNT=1):
            for account in sample(accounts, len(accounts) / len(org.members), size):
                with measuring(emu, pid, runs):
                    _, left = fleet.sweep_accounts(sweep_id, [Account(account, org.members[account])],
                                                   access=rt.access, regions=list(REGIONS), home=rt.home,
                                                   policy=rt.config.policy, table=rt.table,
                                                   action=flow.SWEEP_ACTION, shared=shared)  # fmt: skip
                if left:
                    raise RuntimeError(f"account {account} was not swept (see the handler's log)")
        kinds.append(Kind(label, len(accounts), tuple(runs)))
    return kinds[0], kinds[1]


# --- member drift events ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    label: str
    run: Timed
    items: Items
    status: str


def member_events(emu: Emulator, pid: int | None, org: Org) -> list[Event]:
    """StopLogging on a member's own trail, judged by the real handler: in a new container, then in the same
    container for another account (its first event there), then for the first account again."""
    from .organization import client_as

    module = drift_handler_module()
    ctx = context(org.management)
    first, second = sorted(org.own_trails)[:2]
    events: list[Event] = []
    items = Items()

    def judge(label: str, account: str) -> None:
        cloudtrail = client_as(account, "cloudtrail", HOME)
        cloudtrail.start_logging(Name=OWN_TRAIL)
        cloudtrail.stop_logging(Name=OWN_TRAIL)
        read, written = items.read, items.written
        runs: list[Timed] = []
        record = cloudtrail_record("StopLogging", {"name": OWN_TRAIL}, account=account, region=HOME)
        with measuring(emu, pid, runs):
            body = module.handler(envelope(record), ctx)
        events.append(Event(label, runs[0], Items(items.read - read, items.written - written), body["status"]))

    with quiet(module.logger):
        fresh_runtime(ctx, items)
        judge("cold container (new runtime)", first)
        judge("warm container, the account's first event", second)
        judge("warm container, credentials cached", first)
    return events


# --- the whole section -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    members: int
    own_trails: int
    latency: float
    accounts_at_once: int
    build_seconds: float
    first: Timed
    first_body: dict[str, Any]
    sweep: Timed  # the steady-state sweep, in its own process
    child: ChildSweep
    plain: Kind  # without own trail
    owning: Kind  # with one own trail
    events: tuple[Event, ...]
    load: tuple[float, float]  # load average (1 min) before and after
    section_seconds: float = 0.0
    slow: tuple[float, float] = (math.nan, math.nan)  # at SLOW_LATENCY: the sweep's seconds, the sequential's

    # -- speed --
    @property
    def sequential_seconds(self) -> float:
        return self.plain.scaled + self.owning.scaled

    @property
    def speedup(self) -> float:
        return self.sequential_seconds / self.sweep.seconds

    @property
    def speed_ok(self) -> bool:
        return self.speedup >= SPEEDUP_TARGET

    # -- calls --
    def target(self, own_trails: int) -> int:
        return len(REGIONS) + 2 * own_trails + 1

    @property
    def members_calls(self) -> Counter[str]:
        return Counter({op: n * self.plain.count for op, n in self.plain.calls().items()}) + Counter(
            {op: n * self.owning.count for op, n in self.owning.calls().items()}
        )

    @property
    def fixed(self) -> Counter[str]:
        """The sweep's calls beyond its member accounts' (negative counts kept: they show a mismatch)."""
        fixed = Counter(self.sweep.calls)
        fixed.subtract(self.members_calls)
        return Counter({op: n for op, n in fixed.items() if n})

    @property
    def org_trail_once(self) -> bool:
        reads = self.own_trails + 1
        return self.sweep.calls["GetTrailStatus"] == reads and self.sweep.calls["GetEventSelectors"] == reads

    @property
    def calls_ok(self) -> bool:
        kinds = ((self.plain, 0), (self.owning, 1))
        return (
            all(k.alike and k.aws().total() == self.target(n) for k, n in kinds)
            and self.org_trail_once
            and all(n > 0 for n in self.fixed.values())
        )

    @property
    def memory_ok(self) -> bool:
        return self.child.peak_mb < LAMBDA_MEMORY_MB

    @property
    def sweeps_ok(self) -> bool:
        expected = {"status": "compliant", "accounts": self.members + 1, "alerts": [], "notified": [], "skipped": []}
        return all(body.get(k) == v for body in (self.first_body, self.child.body) for k, v in expected.items())

    @property
    def events_ok(self) -> bool:
        """Every event a drift, and the account's first in a warm container one AssumeRole and one DescribeAccount
        more (AWS calls)."""
        first, cached = (_aws(e.run.calls) for e in self.events[1:])
        expected = Counter({"AssumeRole": 1, "DescribeAccount": 1})  # the role, and the account's membership and name
        return all(e.status == "drift" for e in self.events) and _delta(first, cached) == expected

    @property
    def ok(self) -> bool:
        return self.speed_ok and self.calls_ok and self.memory_ok and self.sweeps_ok and self.events_ok


def measure(
    members: int = MEMBERS, size: int = SAMPLE, latency: float = LATENCY, accounts_at_once: int | None = None
) -> Report:
    from trailguard import fleet

    started, load = time.perf_counter(), os.getloadavg()[0]
    with Emulator(latency=latency) as emu, pointed_at(emu):
        pid = emulator_pid()
        start = time.perf_counter()
        org = build(members)
        build_seconds = time.perf_counter() - start
        print(f"built the organization in {build_seconds:.1f} s", end="; ", flush=True)
        with environment(org.env()):
            runs: list[Timed] = []
            with measuring(emu, pid, runs):
                first_body = sweep_here(org.management)
            print(f"swept it twice: {runs[0].seconds:.1f} s (the first)", end=" ", flush=True)
            children: list[ChildSweep] = []
            with measuring(emu, pid, runs, client_cpu=lambda: children[0].client_cpu):
                children.append(sweep_elsewhere(org.management, accounts_at_once))
            print(f"and {children[0].seconds:.1f} s (measured)", end="; ", flush=True)
            plain, owning = sequential(emu, pid, org, size)
            print(f"read {len(plain.runs) + len(owning.runs)} sample accounts one by one", end="; ", flush=True)
            events = member_events(emu, pid, org)
            print(f"handled {len(events)} member drift events", end="; ", flush=True)
            emu.set_latency(SLOW_LATENCY)
            slow_sweep = sweep_elsewhere(org.management, accounts_at_once)
            slow_plain, slow_owning = sequential(emu, pid, org, SLOW_SAMPLE)
            print(f"swept again at {SLOW_LATENCY * 1000:.0f} ms a call", flush=True)
    # The sweep's own time is the child's, around its handler call (not the interpreter's start).
    sweep = Timed(children[0].seconds, children[0].client_cpu, runs[1].emulator_cpu, runs[1].calls)
    return Report(
        members=members, own_trails=len(org.own_trails), latency=latency,
        accounts_at_once=accounts_at_once or fleet.ACCOUNTS_AT_ONCE, build_seconds=build_seconds, first=runs[0],
        first_body=first_body, sweep=sweep, child=children[0], plain=plain, owning=owning, events=tuple(events),
        load=(load, os.getloadavg()[0]), section_seconds=time.perf_counter() - started,
        slow=(slow_sweep.seconds, slow_plain.scaled + slow_owning.scaled),
    )  # fmt: skip


# --- the cost model -------------------------------------------------------------------------------------------


def config_cost(evaluations_per_region: float, regions: int) -> float:
    """AWS Config rule evaluations a month at its tiered price, the tiers counted per region."""
    total, left = 0.0, evaluations_per_region
    for size, price in CONFIG_TIERS:
        used = min(left, size)
        total += used * price
        left -= used
    return total * regions


@dataclass(frozen=True)
class Line:
    item: str
    quantity: float
    unit: str
    price: float  # dollars per unit
    quoted: str  # the list price as published

    @property
    def dollars(self) -> float:
        return self.quantity * self.price

    def row(self, indent: str = "") -> tuple[str, str, str, str]:
        return f"{indent}{self.item}", f"{self.quantity:,.0f} {self.unit}", self.quoted, _money(self.dollars)


def _units(items: Items, calls: Counter[str]) -> tuple[int, int]:
    """Read and write request units: one per item asked for or written in a batch, one per single-item call
    (every item assumed within 4 KB to read, strongly consistent, and 1 KB to write)."""
    reads = items.read + calls["GetItem"] + calls["Query"]
    writes = items.written + calls["UpdateItem"] + calls["PutItem"] + calls["DeleteItem"]
    return reads, writes


def cost_lines(r: Report) -> list[Line]:
    events = WATCHED_CALLS_PER_ACCOUNT * r.members
    event = r.events[-1]
    sweep_reads, sweep_writes = _units(r.child.items, r.sweep.calls)
    event_reads, event_writes = _units(event.items, event.run.calls)
    gb = LAMBDA_MEMORY_MB / 1024
    duration = f"${LAMBDA_GB_SECOND:.10f} per GB-s (arm64)"
    return [
        Line("Lambda duration, sweeps", gb * r.sweep.seconds * HOURS_PER_MONTH, "GB-s", LAMBDA_GB_SECOND, duration),
        Line("Lambda duration, events", gb * event.run.seconds * events, "GB-s", LAMBDA_GB_SECOND, duration),
        Line("Lambda requests", HOURS_PER_MONTH + events, "requests", LAMBDA_REQUEST, "$0.20 per million"),
        Line("DynamoDB reads", sweep_reads * HOURS_PER_MONTH + event_reads * events, "RRU", DYNAMODB_READ_UNIT,
             "$0.125 per million"),
        Line("DynamoDB writes", sweep_writes * HOURS_PER_MONTH + event_writes * events, "WRU", DYNAMODB_WRITE_UNIT,
             "$0.625 per million"),
        Line("EventBridge, cross-account events", events, "events", EVENTBRIDGE_EVENT, "$1.00 per million"),
    ]  # fmt: skip


def fan_out_lines(r: Report) -> list[Line]:
    """SQS fan-out instead of one invocation: a send, a receive and a delete per 10 accounts, and a Lambda
    request per batch of the event source."""
    batches, requests = math.ceil(r.members / SQS_BATCH), math.ceil(r.members / SQS_ENTRIES)
    return [
        Line("SQS", 3 * requests * HOURS_PER_MONTH, "requests", SQS_REQUEST, "$0.40 per million"),
        Line("Lambda", batches * HOURS_PER_MONTH, "requests", LAMBDA_REQUEST, "$0.20 per million"),
    ]


# --- the report -----------------------------------------------------------------------------------------------


def _mark(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _by_operation(calls: Mapping[str, int]) -> str:
    return ", ".join(f"{op} {n:,}" for op, n in sorted(calls.items())) or "none"


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def _money(dollars: float) -> str:
    return f"${dollars:,.2f}" if dollars >= 0.01 or dollars == 0 else f"${dollars:.4f}"


def _per_call_ms(seconds: float, calls: int) -> str:
    return "n/a" if math.isnan(seconds) or not calls else f"{seconds / calls * 1000:.1f} ms"


def targets_table(r: Report) -> list[str]:
    s, plain, owning = r.sweep, r.plain, r.owning
    speed = f"{r.speedup:.1f}x ({r.sequential_seconds:.0f} s / {s.seconds:.1f} s)"
    rows = [
        ("target", "measured", "target", "result"),
        ("sweep speed-up over the same reads one after another", speed, f">= {SPEEDUP_TARGET:g}x", _mark(r.speed_ok)),
        ("AWS calls, member account without own trail",
         f"{plain.aws().total()}{' in every sampled account' if plain.alike else ' (not alike)'}",
         f"{r.target(0)}", _mark(plain.alike and plain.aws().total() == r.target(0))),
        ("AWS calls, member account with one own trail",
         f"{owning.aws().total()}{' in every sampled account' if owning.alike else ' (not alike)'}",
         f"{r.target(1)}", _mark(owning.alike and owning.aws().total() == r.target(1))),
        ("organization trail read once per sweep",
         f"GetTrailStatus {s.calls['GetTrailStatus']:,}, GetEventSelectors {s.calls['GetEventSelectors']:,}",
         f"{r.own_trails} own + 1 each", _mark(r.org_trail_once)),
        ("member drift event, the account's first: AWS calls +1",
         _signed(_delta(*(_aws(e.run.calls) for e in r.events[1:]))), "AssumeRole +1, DescribeAccount +1",
         _mark(r.events_ok)),
        ("peak RSS of the sweeping process", f"{r.child.peak_mb:.1f} MB (+{r.child.growth_mb:.1f} MB in the sweep)",
         f"< {LAMBDA_MEMORY_MB} MB", _mark(r.memory_ok)),
        ("both sweeps: every account swept, compliant, no alert", f"{r.child.body.get('accounts')} accounts",
         "all", _mark(r.sweeps_ok)),
    ]  # fmt: skip
    return _table(rows)


def _aws(calls: Mapping[str, int]) -> Counter[str]:
    return Counter({op: n for op, n in calls.items() if op not in DYNAMODB_OPERATIONS})


def _dynamodb(calls: Mapping[str, int]) -> Counter[str]:
    return Counter({op: n for op, n in calls.items() if op in DYNAMODB_OPERATIONS})


def _delta(calls: Mapping[str, int], base: Mapping[str, int]) -> Counter[str]:
    delta = Counter(calls)
    delta.subtract(base)
    return Counter({op: n for op, n in delta.items() if n})


def _signed(delta: Mapping[str, int]) -> str:
    return ", ".join(f"{op} {n:+,}" for op, n in sorted(delta.items())) or "none"


def _event_delta(event: Event, base: Event) -> str:
    """What ``event`` made more than ``base``: AWS calls, then DynamoDB calls."""
    aws = _signed(_delta(_aws(event.run.calls), _aws(base.run.calls)))
    dynamodb = _delta(_dynamodb(event.run.calls), _dynamodb(base.run.calls))
    return aws + (f", DynamoDB {_signed(dynamodb)}" if dynamodb else "")


def sweep_lines(r: Report) -> list[str]:
    s, f, child = r.sweep, r.first, r.child
    share = s.emulator_cpu / s.seconds if s.seconds else math.nan
    kinds = "; ".join(
        f"{k.label}: {_by_operation(k.aws())} = {k.aws().total()} (DynamoDB {_by_operation(_dynamodb(k.calls()))})"
        for k in (r.plain, r.owning)
    )
    first = _delta(f.calls, s.calls)
    return [
        f"Sweep (steady state: a new container, {r.accounts_at_once} accounts at once): {s.seconds:.1f} s, "
        f"{s.total:,} calls; client CPU {s.client_cpu:.1f} s ({_per_call_ms(s.client_cpu, s.total)} a call), "
        f"emulator CPU {s.emulator_cpu:.1f} s ({_per_call_ms(s.emulator_cpu, s.total)} a call, {share:.0%} of a core)",
        f"  calls: {_by_operation(s.calls)}",
        f"  per member account, {len(r.plain.runs)} + {len(r.owning.runs)} sampled, each alone: {kinds}",
        f"  fixed per sweep (less {r.plain.count:,} + {r.owning.count:,} accounts as sampled): {_by_operation(r.fixed)}"
        f" (ListAccounts: 100 accounts a page here, at most 20 on AWS: {math.ceil((r.members + 1) / 20)} pages)",
        f"  DynamoDB items: {child.items.read:,} read (BatchGetItem keys), {child.items.written:,} written "
        f"(BatchWriteItem); the first sweep (stores the baselines): {f.seconds:.1f} s, {f.total:,} calls, "
        f"{_signed(first)}",
    ]


def sequential_lines(r: Report) -> list[str]:
    runs = (*r.plain.runs, *r.owning.runs)
    calls = sum(t.total for t in runs)
    per_kind = ", ".join(f"{len(k.runs)} {k.label} in {k.seconds:.1f} s x {k.count / len(k.runs):g}" for k in
                         (r.plain, r.owning))  # fmt: skip
    return [
        "Sequential: trailguard.fleet.sweep_accounts, one account at a time, ACCOUNTS_AT_ONCE = READS_PER_ACCOUNT = 1, "
        "a new container's MemberAccess (the sweep's member calls, DynamoDB's included, one after another):",
        f"  {per_kind} = {r.sequential_seconds:.0f} s, scaled linearly (the sweep's fixed calls left out); "
        f"{_per_call_ms(sum(t.seconds for t in runs), calls)} a call, emulator CPU "
        f"{_per_call_ms(sum(t.emulator_cpu for t in runs), calls)}, client CPU "
        f"{_per_call_ms(sum(t.client_cpu for t in runs), calls)}",
    ]


def diagnosis_lines(r: Report) -> list[str]:
    s = r.sweep
    cap = r.sequential_seconds / s.emulator_cpu if s.emulator_cpu else math.nan
    lambda_cpu = s.client_cpu * LAMBDA_FULL_VCPU_MB / LAMBDA_MEMORY_MB
    in_flight = s.total * r.latency / s.seconds
    return [
        f"Speed-up {r.speedup:.1f}x, target {SPEEDUP_TARGET:g}x {'met' if r.speed_ok else 'MISSED'}; where the "
        "time goes:",
        f"  emulator: {s.emulator_cpu:.1f} s of CPU in one process (one interpreter lock), so the speed-up cannot "
        f"pass {r.sequential_seconds:.0f} / {s.emulator_cpu:.1f} = {cap:.1f}x here, whatever the client does "
        f"({_per_call_ms(s.emulator_cpu, s.total)} of the emulator's CPU a call against {r.latency * 1000:.0f} ms of "
        "latency)",
        f"  client: {s.client_cpu:.1f} s of CPU; a {LAMBDA_MEMORY_MB} MB Lambda has {LAMBDA_MEMORY_MB}/"
        f"{LAMBDA_FULL_VCPU_MB} of a vCPU: about {lambda_cpu:.0f} s (rough: another CPU), against the "
        f"{TIMEOUT_SECONDS} s timeout",
        f"  threads: {in_flight:.1f} requests in flight on average (calls x latency / wall) of {r.accounts_at_once} "
        f"accounts at once: more threads would wait on the same CPU; machine: {os.cpu_count()} CPUs, load average "
        f"{r.load[0]:.1f} before, {r.load[1]:.1f} after",
        f"  at {SLOW_LATENCY * 1000:.0f} ms a call, where the answers and not the emulator's CPU are what the sweep "
        f"waits for: {r.slow[0]:.1f} s against {r.slow[1]:.0f} s one after another ({SLOW_SAMPLE} sampled, scaled): "
        f"{r.slow[1] / r.slow[0]:.1f}x",
    ]


def events_lines(r: Report) -> list[str]:
    cold, first, cached = r.events
    aws, dynamodb = _aws(cached.run.calls), _dynamodb(cached.run.calls)
    return [
        "AWS calls per member drift event (StopLogging on a member's own trail, alert by SNS; Slack makes no AWS "
        "call but its secret's read, once per container):",
        f"  warm container, credentials cached: {_by_operation(aws)} = {aws.total()}; DynamoDB "
        f"{_by_operation(dynamodb)} (items: {cached.items.read} read, {cached.items.written} written); "
        f"{cached.run.seconds * 1000:.0f} ms",
        f"  warm container, the account's first event: {_event_delta(first, cached)}; "
        f"{first.run.seconds * 1000:.0f} ms",
        f"  cold container: {_event_delta(cold, cached)} (the organization's id, once per container); "
        f"{cold.run.seconds * 1000:.0f} ms",
    ]


def cost_table(r: Report) -> list[str]:
    lines = cost_lines(r)
    total = sum(line.dollars for line in lines)
    evaluations = (r.members + 1) * CONFIG_EVALUATIONS_PER_DAY * HOURS_PER_MONTH / 24
    config = config_cost(evaluations, len(REGIONS))
    fan_out = fan_out_lines(r)
    reads, writes = _units(r.child.items, r.sweep.calls)
    rows = [("item", "a month", "unit price", "cost"), *(x.row() for x in lines)]
    rows += [("trailguard, one invocation sweeping", "", "", _money(total))]
    rows += [("  SQS fan-out instead: " + ", ".join(f"+{x.quantity:,.0f} {x.item} {x.unit}" for x in fan_out), "", "",
              "+" + _money(sum(x.dollars for x in fan_out)))]  # fmt: skip
    rows += [("AWS Config multi-region-cloudtrail-enabled", f"{evaluations * len(REGIONS):,.0f} evaluations",
              f"${CONFIG_TIERS[0][1]:g} each (tiered)", _money(config))]  # fmt: skip
    at_timeout = LAMBDA_MEMORY_MB / 1024 * TIMEOUT_SECONDS * HOURS_PER_MONTH * LAMBDA_GB_SECOND
    return [
        f"Monthly cost, {r.members + 1:,} accounts x {len(REGIONS)} regions, hourly sweep ({HOURS_PER_MONTH} a month), "
        f"{WATCHED_CALLS_PER_ACCOUNT} watched calls per member a month (assumed); us-east-1 list prices, no free tier:",
        *(f"  {line}" for line in _table(rows)),
        f"  Lambda: the emulator's {r.sweep.seconds:.1f} s sweep at {LAMBDA_MEMORY_MB} MB (every sweep at the "
        f"{TIMEOUT_SECONDS} s timeout: {_money(at_timeout)}), the cached event's {r.events[-1].run.seconds * 1000:.0f} "
        f"ms; DynamoDB: {reads:,} read and {writes:,} write units a sweep, one per item (within 4 KB, strongly "
        "consistent; 1 KB) or single-item call",
        f"  Config: 1 evaluation per account and region a day (periodic, 24 h by default), tiers per region, no "
        f"configuration recorder (not needed for a periodic rule): {config / total:.0f}x trailguard's cost",
    ]


def render(r: Report) -> str:
    lines = [
        *targets_table(r),
        "",
        *sweep_lines(r),
        *sequential_lines(r),
        "",
        *diagnosis_lines(r),
        "",
        *events_lines(r),
        "",
        *cost_table(r),
    ]
    return "\n".join(lines)


def run(
    members: int = MEMBERS, size: int = SAMPLE, latency: float = LATENCY, accounts_at_once: int | None = None
) -> bool:
    """Measure, print the section, and say whether every target was met."""
    print(
        f"trailguard organization benchmark: {members:,} member accounts (every {OWN_TRAIL_EVERY}th with a trail of "
        f"its own) x {len(REGIONS)} regions, {latency * 1000:.0f} ms per emulator response",
        flush=True,
    )
    report = measure(members, size, latency, accounts_at_once)
    print()
    print(render(report))
    return report.ok


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m trailguard_dev.bench_org", description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=MEMBERS, help="member accounts in the organization")
    parser.add_argument("--sample", type=int, default=SAMPLE, help="member accounts read one after another")
    parser.add_argument("--latency", type=float, default=LATENCY, help="seconds added to every emulator response")
    parser.add_argument("--accounts-at-once", type=int, help="ACCOUNTS_AT_ONCE for the measured sweep")
    parser.add_argument("--sweep-child", nargs=2, metavar=("OUT", "MANAGEMENT"), help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.sweep_child:
        sweep_child(Path(args.sweep_child[0]), args.sweep_child[1], args.accounts_at_once)
        return 0
    ok = run(max(1, args.members), max(2, args.sample), args.latency, args.accounts_at_once)
    print(f"\norganization: {'all targets met' if ok else 'TARGET MISSED'}.")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
