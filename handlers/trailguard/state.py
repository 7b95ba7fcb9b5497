"""Reads the live CloudTrail state of an account. Clients come from the caller; nothing is created here.

One DescribeTrails per region (shadow copies of multi-region trails folded into one trail per ARN), then
one GetTrailStatus and one GetEventSelectors per distinct trail, in the trail's home region. Regions and
trails are read concurrently; reading a trail starts as soon as the first region lists it. An error on one
trail or region is recorded and the others go on; only missing credentials or an unreachable endpoint,
which would fail every call alike, abort the read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)

from .policy import TrailState

if TYPE_CHECKING:
    from mypy_boto3_cloudtrail import CloudTrailClient
    from mypy_boto3_ec2 import EC2Client

WORKERS = 32

# Throttling is retried by botocore's adaptive mode, which also slows the client down when AWS pushes back.
CLIENT_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 6},
    max_pool_connections=WORKERS,
    connect_timeout=5,
    read_timeout=30,
)

_CREDENTIAL_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "SignatureDoesNotMatch",
        "AuthFailure",
    }
)

ClientFactory = Callable[[str], "CloudTrailClient"]


class AuditAborted(Exception):
    """The account cannot be read at all; the message is one sentence for a person."""


def abort_reason(error: BaseException) -> str | None:
    """One sentence when ``error`` would fail every call alike (credentials, endpoint), else None."""
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return "No AWS credentials were found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY."
    if isinstance(error, NoRegionError):
        return "No AWS region is configured: set AWS_REGION or pass --region."
    if isinstance(error, ConnectionError):
        return f"The AWS endpoint could not be reached ({error})."
    return rejected_credentials(error)


def rejected_credentials(error: BaseException) -> str | None:
    """AWS refused the credentials. A region not enabled for the account answers the same way, so this
    aborts an audit only when every region says it."""
    if isinstance(error, ClientError) and error.response.get("Error", {}).get("Code") in _CREDENTIAL_CODES:
        return f"AWS rejected the credentials ({error.response['Error'].get('Message', '')})."
    return None


def describe_error(error: BaseException) -> str:
    if isinstance(error, ClientError):
        err = error.response.get("Error", {})
        return f"{error.operation_name}: {err.get('Code', 'Error')}: {err.get('Message', '')}".rstrip(": ")
    return f"{type(error).__name__}: {error}"


def enabled_regions(ec2: EC2Client) -> list[str]:
    """Every region enabled for the account (one DescribeRegions call)."""
    try:
        regions = ec2.describe_regions(AllRegions=False)["Regions"]
    except (BotoCoreError, ClientError) as error:
        raise AuditAborted(
            abort_reason(error) or f"Could not list the account's regions: {describe_error(error)}."
        ) from error
    return sorted(r["RegionName"] for r in regions)


@dataclass(frozen=True)
class AccountState:
    account: str
    regions: tuple[str, ...]
    trails: tuple[TrailState, ...]
    region_errors: dict[str, str] = field(default_factory=dict)


def _owned_elsewhere(description: dict[str, Any], account: str | None) -> bool:
    owner = str(description.get("TrailARN", "")).split(":")[4:5]
    return bool(description.get("IsOrganizationTrail")) and account is not None and owner != [account]


class _Reader:
    """One account read: the shared state of the concurrent calls, touched only from the calling thread."""

    def __init__(self, cloudtrail: ClientFactory, pool: ThreadPoolExecutor) -> None:
        self.cloudtrail = cloudtrail
        self.pool = pool
        self.pending: dict[Future[Any], tuple[str, str]] = {}
        self.descriptions: dict[str, dict[str, Any]] = {}
        self.results: dict[str, dict[str, Any]] = {}
        self.errors: dict[str, str] = {}
        self.region_errors: dict[str, str] = {}
        self.deferred: list[str] = []
        self.rejected: list[str] = []
        self.account: str | None = None

    def describe(self, region: str) -> None:
        future = self.pool.submit(lambda: self.cloudtrail(region).describe_trails(includeShadowTrails=True))
        self.pending[future] = ("describe", region)

    def read_trail(self, arn: str) -> None:
        home = str(self.descriptions[arn].get("HomeRegion") or arn.split(":")[3])
        status = self.pool.submit(lambda: self.cloudtrail(home).get_trail_status(Name=arn))
        selectors = self.pool.submit(lambda: self.cloudtrail(home).get_event_selectors(TrailName=arn))
        self.pending[status] = ("status", arn)
        self.pending[selectors] = ("selectors", arn)

    def listed(self, region: str, trails: list[dict[str, Any]]) -> None:
        for trail in trails:
            arn = str(trail.get("TrailARN", ""))
            if not arn or arn in self.descriptions:
                continue
            self.descriptions[arn] = trail
            if not trail.get("IsOrganizationTrail"):
                self.account = self.account or arn.split(":")[4]
                self.read_trail(arn)
            else:  # an organization trail is read only once we know it is ours
                self.deferred.append(arn)

    def settle(self, future: Future[Any]) -> None:
        kind, key = self.pending.pop(future)
        error = future.exception()
        if error is not None:
            reason = abort_reason(error)
            if reason and not (kind == "describe" and rejected_credentials(error)):
                raise AuditAborted(reason)
            message = describe_error(error)
            if kind == "describe":
                self.region_errors[key] = message + (" (is the region enabled for the account?)" if reason else "")
                self.rejected.append(reason or "")
            else:
                self.errors[key] = message
            return
        response = future.result()
        if kind == "describe":
            self.listed(key, response.get("trailList", []))
        else:
            response.pop("ResponseMetadata", None)
            self.results.setdefault(key, {})[kind] = response

    def drain(self) -> None:
        while self.pending:
            done, _ = wait(list(self.pending), return_when=FIRST_COMPLETED)
            for future in done:
                self.settle(future)

    def state(self, regions: Sequence[str]) -> AccountState:
        trails = []
        for arn, description in self.descriptions.items():
            got = self.results.get(arn, {})
            error = self.errors.get(arn)
            if error is None and not _owned_elsewhere(description, self.account) and len(got) < 2:
                error = "not read"
            trails.append(TrailState(description, got.get("status"), got.get("selectors"), error))
        trails.sort(key=lambda t: (t.home_region, t.name, t.arn))
        return AccountState(self.account or "", tuple(regions), tuple(trails), self.region_errors)


def read_account(
    cloudtrail: ClientFactory,
    regions: Sequence[str],
    caller_account: Callable[[], str],
    workers: int = WORKERS,
) -> AccountState:
    """Read every trail visible in ``regions``.

    ``cloudtrail(region)`` returns a CloudTrail client for that region and must be safe to call from several
    threads. ``caller_account()`` (STS GetCallerIdentity) is called only when no trail of the account's own
    tells which account this is: when there are none, or only organization trails.
    """
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="trailguard-read")
    reader = _Reader(cloudtrail, pool)
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
                    abort_reason(error) or f"Could not tell the account: {describe_error(error)}."
                ) from error
        for arn in reader.deferred:
            if not _owned_elsewhere(reader.descriptions[arn], reader.account):
                reader.read_trail(arn)
        reader.drain()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return reader.state(regions)


def read_trails(
    cloudtrail: ClientFactory, trails: Sequence[dict[str, Any]], account: str, workers: int = WORKERS
) -> list[TrailState]:
    """Status and selectors of trails already described (2 calls each, concurrently, errors isolated)."""
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="trailguard-read")
    reader = _Reader(cloudtrail, pool)
    reader.account = account
    try:
        reader.listed("", list(trails))
        for arn in reader.deferred:
            if not _owned_elsewhere(reader.descriptions[arn], account):
                reader.read_trail(arn)
        reader.drain()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return list(reader.state(()).trails)


class ClientCache:
    """Thread-safe ``region -> client`` for one boto3 session (sessions themselves are not thread-safe)."""

    def __init__(self, make: Callable[[str], Any]) -> None:
        self._make = make
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __call__(self, region: str) -> Any:
        with self._lock:
            if region not in self._clients:
                self._clients[region] = self._make(region)
            return self._clients[region]


def read_extras(client: CloudTrailClient, arn: str) -> tuple[list[dict[str, Any]], list[dict[str, str]]] | None:
    """A trail's insight selectors and tags, for its baseline; None when they cannot be read."""
    try:
        insights = client.get_insight_selectors(TrailName=arn).get("InsightSelectors", [])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "InsightNotEnabledException":
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
