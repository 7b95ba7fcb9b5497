"""Reading: the live CloudTrail state of an account, or of the one trail an event named. Clients come from the
caller; nothing is created here.

One DescribeTrails per region (shadow copies of multi-region trails folded into one trail per ARN), then
one GetTrailStatus and one GetEventSelectors per distinct trail, in the trail's home region. Regions and
trails are read concurrently; reading a trail starts as soon as the first region lists it. An error on one
trail or region is recorded and the others go on; only missing credentials or an unreachable endpoint,
which would fail every call alike, abort the read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from .arn import TrailArn
from .aws import (
    WORKERS,
    AuditAborted,
    abort_reason,
    describe_error,
    error_code,
    explain,
    missing_permission,
    rejected_credentials,
    transient,
)
from .baseline import Baseline
from .judge import CallReading, TrailState
from .rules import Clients, Facts, Read, reads
from .state_table import Unprocessed

if TYPE_CHECKING:
    from mypy_boto3_cloudtrail import CloudTrailClient
    from mypy_boto3_ec2 import EC2Client

ClientFactory = Callable[[str], "CloudTrailClient"]


def enabled_regions(ec2: EC2Client) -> list[str]:
    """Every region enabled for the account (one DescribeRegions call)."""
    try:
        regions = ec2.describe_regions(AllRegions=False)["Regions"]
    except (BotoCoreError, ClientError) as error:
        raise AuditAborted(
            abort_reason(error) or f"Could not list the account's regions: {explain(error, 'ec2')}."
        ) from error
    return sorted(r["RegionName"] for r in regions)


class ReadsTimedOut(TimeoutError):
    """Reads still unanswered when the invocation's reading time ran out (the message says how many)."""


@dataclass(frozen=True)
class AccountState:
    account: str
    regions: tuple[str, ...]
    trails: tuple[TrailState, ...]
    region_errors: dict[str, str] = field(default_factory=dict)


class _Reader:
    """One account read: the shared state of the concurrent calls, touched only from the calling thread."""

    def __init__(
        self, cloudtrail: ClientFactory, pool: ThreadPoolExecutor, shared: Mapping[str, TrailState] | None = None
    ) -> None:
        self.cloudtrail = cloudtrail
        self.pool = pool
        self.shared = shared or {}  # trails already read for this evaluation (an organization's trails), by ARN
        self.pending: dict[Future[Any], tuple[str, str]] = {}
        self.descriptions: dict[str, Mapping[str, Any]] = {}
        self.results: dict[str, dict[str, Any]] = {}
        self.errors: dict[str, str] = {}
        self.region_errors: dict[str, str] = {}
        self.rejected: list[str] = []
        self.account: str | None = None
        self.listing: list[dict[str, Any]] = []
        self.abort = True  # an audit stops on a credentials or endpoint error; an event's read records it
        self.transient: list[str] = []  # errors that say "not now"
        self.time_left: Callable[[], float] | None = None  # seconds the reads may still take (None: no limit)

    def describe_only(self, region: str) -> None:
        """DescribeTrails in ``region``, kept as it is (``listing``) rather than read trail by trail."""
        future = self.pool.submit(lambda: self.cloudtrail(region).describe_trails(includeShadowTrails=True))
        self.pending[future] = ("list", region)

    def describe(self, region: str) -> None:
        future = self.pool.submit(lambda: self.cloudtrail(region).describe_trails(includeShadowTrails=True))
        self.pending[future] = ("describe", region)

    def read_trail(self, arn: str) -> None:
        parsed = TrailArn.parse(arn)
        self.read(arn, str(self.descriptions[arn].get("HomeRegion") or (parsed.region if parsed else "")))

    def read(self, ident: str, home: str) -> None:
        """GetTrailStatus and GetEventSelectors of one trail, by name or ARN, in its home region."""
        status = self.pool.submit(lambda: self.cloudtrail(home).get_trail_status(Name=ident))
        selectors = self.pool.submit(lambda: self.cloudtrail(home).get_event_selectors(TrailName=ident))
        self.pending[status] = ("status", ident)
        self.pending[selectors] = ("selectors", ident)

    def listed(self, trails: Sequence[Mapping[str, Any]]) -> None:
        """Read each trail not seen yet, by ARN in its home region: that is how a member account reads an
        organization trail it does not own (CloudTrail API reference, GetTrailStatus ``Name``)."""
        for trail in trails:
            arn = str(trail.get("TrailARN", ""))
            if not arn or arn in self.descriptions:
                continue
            self.descriptions[arn] = trail
            if not trail.get("IsOrganizationTrail"):
                self.account = self.account or getattr(TrailArn.parse(arn), "account", None)
            if arn not in self.shared:
                self.read_trail(arn)

    def settle(self, future: Future[Any]) -> None:
        kind, key = self.pending.pop(future)
        error = future.exception()
        if error is not None:
            reason = abort_reason(error)
            if self.abort and reason and not (kind == "describe" and rejected_credentials(error)):
                raise AuditAborted(reason)
            message = explain(error)
            if transient(error):
                self.transient.append(message)
            if kind in ("describe", "list"):
                self.region_errors[key] = message + (" (is the region enabled for the account?)" if reason else "")
                self.rejected.append(reason or "")
            else:
                self.errors[key] = "; ".join(filter(None, (self.errors.get(key), message)))
            return
        response = future.result()
        if kind == "list":
            self.listing = list(response.get("trailList", []))
        elif kind == "describe":
            self.listed(response.get("trailList", []))
        else:
            response.pop("ResponseMetadata", None)
            self.results.setdefault(key, {})[kind] = response

    def drain(self) -> None:
        while self.pending:
            limit = self.time_left() if self.time_left else None
            done, _ = wait(list(self.pending), timeout=limit, return_when=FIRST_COMPLETED)
            if not done:
                raise ReadsTimedOut(f"CloudTrail did not answer {len(self.pending)} read(s) in time")
            for future in done:
                self.settle(future)

    def state(self, regions: Sequence[str]) -> AccountState:
        trails = [state for arn, state in self.shared.items() if arn not in self.descriptions]
        for arn, description in self.descriptions.items():
            if arn in self.shared:
                trails.append(self.shared[arn])
                continue
            got = self.results.get(arn, {})
            error = self.errors.get(arn)
            if error is None and len(got) < 2:
                error = "not read"
            trails.append(TrailState(description, got.get("status"), got.get("selectors"), error))
        trails.sort(key=lambda t: (t.home_region, t.name, t.arn))
        return AccountState(self.account or "", tuple(regions), tuple(trails), self.region_errors)


def read_account(
    cloudtrail: ClientFactory,
    regions: Sequence[str],
    caller_account: Callable[[], str],
    *,
    workers: int = WORKERS,
    clients: Clients | None = None,
    shared: Sequence[TrailState] = (),
) -> AccountState:
    """Read every trail visible in ``regions``.

    ``cloudtrail(region)`` returns a CloudTrail client for that region and must be safe to call from several
    threads. ``caller_account()`` (STS GetCallerIdentity) is called only when no trail of the account's own
    tells which account this is: when there are none, or only organization trails. ``shared`` are trails
    already read for this evaluation (its organization's trails, read once for every account): they are not
    read again, and they count for the account whether or not it lists them.
    """
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="trailguard-read")
    reader = _Reader(cloudtrail, pool, {t.arn: t for t in shared})
    try:
        for region in regions:
            reader.describe(region)
        reader.drain()
        if regions and len(reader.rejected) == len(regions) and all(reader.rejected):
            raise AuditAborted(reader.rejected[0])
        if reader.account is None:
            try:
                reader.account = caller_account()
            except (BotoCoreError, ClientError) as error:
                raise AuditAborted(
                    abort_reason(error) or f"Could not tell the account: {explain(error, 'sts')}."
                ) from error
        state = reader.state(regions)
        known = [t for t in state.trails if t.arn in reader.shared]
        fresh = rule_facts([t for t in state.trails if t.arn not in reader.shared], clients or only(cloudtrail), pool,
                           account=state.account)  # fmt: skip
        trails = sorted([*known, *fresh], key=lambda t: (t.home_region, t.name, t.arn))
        return replace(state, trails=tuple(trails))
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def read_trails(
    cloudtrail: ClientFactory,
    trails: Sequence[Mapping[str, Any]],
    account: str,
    *,
    workers: int = WORKERS,
    clients: Clients | None = None,
    time_left: Callable[[], float] | None = None,
    transient: list[str] | None = None,
) -> list[TrailState]:
    """Status and selectors of trails already described (2 calls each, concurrently, errors isolated), and
    what the rules' own reads need, within ``time_left()`` seconds (``ReadsTimedOut``). The errors that said
    "not now" are added to ``transient``."""
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="trailguard-read")
    reader = _Reader(cloudtrail, pool)
    reader.account = account
    reader.time_left = time_left
    try:
        reader.listed(list(trails))
        reader.drain()
        if transient is not None:
            transient.extend(reader.transient)
        return rule_facts(reader.state(()).trails, clients or only(cloudtrail), pool, time_left, account)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def only(cloudtrail: ClientFactory) -> Clients:
    """Clients for CloudTrail alone: a rule's read of another service then fails, and says so."""

    def clients(service: str, region: str) -> Any:
        if service != "cloudtrail":
            raise LookupError(f"no {service} client was given to read what a rule needs")
        return cloudtrail(region)

    return clients


def rule_facts(
    states: Sequence[TrailState], clients: Clients, pool: ThreadPoolExecutor,
    time_left: Callable[[], float] | None = None, account: str = "",
) -> list[TrailState]:  # fmt: skip
    """Each readable trail with what the rules' own reads found (``extra``); a read that fails makes the trail
    unreadable, naming the permission when it was denied. No rule with reads: nothing is called. The one
    exception: an organization trail owned by another account than ``account`` (the one reading), whose
    resources (its KMS key) the owner's policies need not open to members: what cannot be read is left out,
    and judged where the trail is owned."""
    wanted = reads()
    if not wanted:
        return list(states)
    jobs: dict[Future[Any], tuple[int, Read]] = {}
    for n, state in enumerate(states):
        if state.error is None and state.status is not None and state.selectors is not None:
            facts = Facts(state.description, state.status, state.selectors, state.baseline)
            for read in wanted:
                jobs[pool.submit(read.fetch, clients, facts)] = (n, read)
    found: dict[int, dict[str, Any]] = {}
    errors: dict[int, list[str]] = {}
    for future, (n, read) in jobs.items():
        try:
            found.setdefault(n, {})[read.key] = future.result(timeout=time_left() if time_left else None)
        except FuturesTimeout:
            raise ReadsTimedOut(f"{read.action} did not answer in time") from None
        except (ClientError, BotoCoreError, LookupError) as error:
            state = states[n]
            if account and state.description.get("IsOrganizationTrail") and state.owner_account not in ("", account):
                continue
            lacking = f" (the caller lacks {read.action})" if missing_permission(error, "") else ""
            errors.setdefault(n, []).append(f"{read.key}: {describe_error(error)}{lacking}")
    return [
        replace(state, extra=found.get(n, {}), error=state.error or "; ".join(errors.get(n, [])) or None)
        for n, state in enumerate(states)
    ]


def read_extras(client: CloudTrailClient, arn: str) -> tuple[list[dict[str, Any]], list[dict[str, str]]] | None:
    """A trail's insight selectors and tags, for its baseline; None when they cannot be read."""
    try:
        insights = client.get_insight_selectors(TrailName=arn).get("InsightSelectors", [])
    except ClientError as error:
        if error_code(error) != "InsightNotEnabledException":
            return None
        insights = []  # AWS answers this for a trail without insights
    except BotoCoreError:
        return None
    try:
        listed = client.list_tags(ResourceIdList=[arn]).get("ResourceTagList", [])
    except (ClientError, BotoCoreError):
        return None
    tags = [
        {"Key": str(t["Key"]), "Value": str(t.get("Value", ""))}
        for entry in listed
        if entry.get("ResourceId") == arn
        for t in entry.get("TagsList", [])
    ]
    return [dict(i) for i in insights], tags


def read_call(
    trail_name: str,
    trail_arn: str | None,
    region: str,
    cloudtrail: ClientFactory,
    *,
    reads_trail: bool,
    baselines: Callable[[list[str]], Mapping[str, Baseline]],
    pool: ThreadPoolExecutor,
    clients: Clients | None = None,
    time_left: Callable[[], float] | None = None,
    account: str = "",
) -> CallReading:
    """The trail a call named, read in the region of the call (a multi-region trail's home region): one
    DescribeTrails (which lists every multi-region trail of the account, as shadow copies) at the same time as
    the trail's status and selectors (unless ``reads_trail`` is False: it was deleted) and its baseline."""
    reader = _Reader(cloudtrail, pool)
    reader.abort = False
    reader.time_left = time_left
    ident = trail_arn or trail_name
    reader.describe_only(region)
    if reads_trail:
        reader.read(ident, region)
    stored = pool.submit(baselines, [trail_arn]) if trail_arn else None
    reader.drain()
    if region in reader.region_errors:
        return CallReading(None, None, error=reader.region_errors[region], transient=tuple(reader.transient))
    listing = tuple(reader.listing)
    mine = _find(listing, trail_name, trail_arn, region)
    arn = str(mine["TrailARN"]) if mine else trail_arn
    try:
        found = stored.result(timeout=time_left() if time_left else None) if stored else baselines([arn]) if arn else {}
    except FuturesTimeout:
        raise ReadsTimedOut("the state table did not answer in time") from None
    except (ClientError, BotoCoreError, Unprocessed) as failed:  # throttled, 5xx, unprocessed: "not now"
        if not isinstance(failed, Unprocessed) and not transient(failed):
            raise
        reader.transient.append(f"the trail's baseline: {explain(failed, 'dynamodb')}")
        found = {}
    baseline = found.get(arn or "")
    if mine is None:
        return CallReading(listing, None, baseline, transient=tuple(reader.transient))
    if not reads_trail:
        ident = str(mine["TrailARN"])  # deleted, yet it exists (recreated, or the delete lost a race): read it
        reader.read(ident, region)
        reader.drain()
    got, error = reader.results.get(ident, {}), reader.errors.get(ident)
    if error is None and len(got) < 2:
        error = "not read"
    state = TrailState(mine, got.get("status"), got.get("selectors"), error, baseline)
    (state,) = rule_facts([state], clients or only(cloudtrail), pool, time_left, account)
    return CallReading(listing, state, baseline, transient=tuple(reader.transient))


def _find(trails: Sequence[Mapping[str, Any]], name: str, arn: str | None, region: str) -> Mapping[str, Any] | None:
    for trail in trails:
        if arn and trail.get("TrailARN") == arn:
            return trail
    for trail in trails:  # by name: the call was made in the trail's home region
        if trail.get("Name") == name and trail.get("HomeRegion", region) == region:
            return trail
    return None
