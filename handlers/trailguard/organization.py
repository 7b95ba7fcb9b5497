"""Organization mode: the accounts of an AWS Organization, and access to each through its member role.

One detector serves every account: a member account is read (and, with ``REMEDIATION_MODE=on``, reverted)
through ``arn:<partition>:iam::<account>:role/<MEMBER_ROLE_NAME>``. STS credentials are kept per account until
shortly before they expire: one AssumeRole per account and container, not one per call.

Creating a boto3 client costs about 10 ms of CPU and 200 KB, and a sweep of 1,000 accounts in two regions
would need 2,000 of them. Instead one client per service and region serves every member account, and each
request is signed with the credentials of the account it is made for: botocore's per-request signing
credentials (``request_credentials`` in the request's signing context), set by a ``before-sign`` hook from
the account the calling code acts for. Those shared clients have no credentials of their own, so a call made
outside any account fails rather than acting as the detector.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from .aws import ClientCache, error_code, explain, transient

if TYPE_CHECKING:
    import boto3
    from botocore.config import Config
    from botocore.credentials import Credentials

Clients = Callable[[str, str], Any]  # (service, region) -> client
LOG = logging.getLogger(__name__)
RENEW_BEFORE = 300.0  # seconds before STS credentials expire when they are renewed (a call may take a while)
SESSION_NAME = "trailguard"
_ACTING: ContextVar[Credentials | None] = ContextVar("trailguard_acting_for", default=None)


class AccountUnreachable(Exception):
    """The account's member role could not be assumed; the message says which role and why."""

    def __init__(self, message: str, *, retry: bool = False) -> None:
        super().__init__(message)
        self.retry = retry  # throttled or unanswered: worth trying again later


class _NoCredentials:
    """A credential provider that finds none: the shared clients sign only with an account's credentials."""

    def load_credentials(self) -> None:
        return None


def _sign_for_account(**event: Any) -> None:
    """botocore's ``before-sign`` hook: sign the request with the credentials of the account being acted for."""
    credentials = _ACTING.get()
    if credentials is not None:
        event["request"].context.setdefault("signing", {})["request_credentials"] = credentials


class _ActingFor:
    """A shared client, acting for one account: every call made through it is signed with its credentials."""

    def __init__(self, client: Any, credentials: Credentials) -> None:
        self._client = client
        self._credentials = credentials

    def __getattr__(self, name: str) -> Any:
        if name in ("get_paginator", "get_waiter"):  # they would call outside the account: refuse, loudly
            raise AttributeError(f"{name} is not available on a client acting for a member account")
        attribute = getattr(self._client, name)
        if name.startswith("_") or not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            token = _ACTING.set(self._credentials)
            try:
                return attribute(*args, **kwargs)
            finally:
                _ACTING.reset(token)

        return call


class MemberAccess:
    """Clients for any account of the organization: the detector's own for its own account, the member
    role's (assumed once, kept until shortly before its credentials expire) for every other."""

    def __init__(
        self,
        session: boto3.session.Session,
        *,
        own_account: str,
        own_clients: Clients,
        role_name: str,
        partition: str,
        home: str,
        config: Config,
        clock: Callable[[], float] = time.time,
    ) -> None:
        import boto3
        import botocore.session

        self.own_account, self.role_name, self.partition = own_account, role_name, partition
        self._own, self._clock = own_clients, clock
        self._sts = session.client("sts", region_name=home, config=config)
        unsigned = botocore.session.Session()
        unsigned.register_component("credential_provider", _NoCredentials())
        unsigned.register("before-sign.*.*", _sign_for_account)
        shared = boto3.session.Session(botocore_session=unsigned)
        self._shared = ClientCache(lambda key: shared.client(key[0], region_name=key[1], config=config))
        self._credentials: dict[str, tuple[Credentials, float]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def role_arn(self, account: str) -> str:
        return f"arn:{self.partition}:iam::{account}:role/{self.role_name}"

    def session_arn(self, account: str) -> str:
        """How CloudTrail records a call the detector made in ``account`` (its member-role session)."""
        return f"arn:{self.partition}:sts::{account}:assumed-role/{self.role_name}/{SESSION_NAME}"

    def clients(self, account: str) -> Clients:
        """``(service, region) -> client`` acting in ``account``; ``AccountUnreachable`` when its role cannot be
        assumed (the role is assumed now, so that the caller learns it before reading anything)."""
        if account == self.own_account:
            return self._own
        credentials = self.credentials(account)
        return lambda service, region: _ActingFor(self._shared((service, region)), credentials)

    def cloudtrail(self, account: str) -> Callable[[str], Any]:
        clients = self.clients(account)
        return lambda region: clients("cloudtrail", region)

    def credentials(self, account: str) -> Credentials:
        """The member role's credentials in ``account``, from the cache while they last (one AssumeRole per
        account at a time, however many threads ask)."""
        with self._guard:
            lock = self._locks.setdefault(account, threading.Lock())
        with lock:
            cached = self._credentials.get(account)
            if cached is not None and cached[1] - RENEW_BEFORE > self._clock():
                return cached[0]
            from botocore.credentials import Credentials

            role = self.role_arn(account)
            try:
                got = self._sts.assume_role(RoleArn=role, RoleSessionName=SESSION_NAME)["Credentials"]
            except (ClientError, BotoCoreError) as error:
                raise AccountUnreachable(
                    f"the member role {role} could not be assumed: {explain(error, 'sts')}", retry=transient(error)
                ) from error
            credentials = Credentials(got["AccessKeyId"], got["SecretAccessKey"], got["SessionToken"])
            expires = got["Expiration"].timestamp() if hasattr(got["Expiration"], "timestamp") else 0.0
            self._credentials[account] = (credentials, expires or self._clock() + 3600)
            return credentials

    def session_key(self, account: str) -> tuple[str, float]:
        """The access key of the member-role session used in ``account`` now, and when it expires."""
        credentials = self.credentials(account)
        return credentials.access_key, self._credentials[account][1]


@dataclass(frozen=True)
class Account:
    id: str
    name: str


class Directory:
    """The organization's active accounts and their names (Organizations ListAccounts), kept for ``ttl``
    seconds; and whether the detector's organization is the configured one."""

    def __init__(
        self, organizations: Any, organization_id: str = "", ttl: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self._client, self.expected, self._ttl, self._clock = organizations, organization_id, ttl, clock
        self._accounts: tuple[Account, ...] | None = None
        self._at = 0.0
        self._organization: str | None = None
        self._described: dict[str, Account] = {}  # one account at a time (DescribeAccount), for events
        self._lock = threading.Lock()

    def organization(self) -> str:
        """The id of the organization the detector's account belongs to (DescribeOrganization, once)."""
        with self._lock:
            if self._organization is None:
                self._organization = str(self._client.describe_organization()["Organization"]["Id"])
            return self._organization

    def accounts(self) -> tuple[Account, ...]:
        """Every active account, in id order (ListAccounts, paginated, at most once per ``ttl``). When the
        listing fails the last good one is kept (and the error raised only when there is none)."""
        with self._lock:
            if self._accounts is None or self._clock() - self._at > self._ttl:
                try:
                    found = []
                    for page in self._client.get_paginator("list_accounts").paginate():
                        for item in page.get("Accounts", []):
                            if (item.get("State") or item.get("Status")) == "ACTIVE":
                                found.append(Account(str(item["Id"]), str(item.get("Name", ""))))
                except (ClientError, BotoCoreError):
                    if self._accounts is None:
                        raise
                    LOG.warning("the organization's accounts could not be listed again; the last list is used")
                    self._at = self._clock()  # not asked again at once: a throttled listing is not hammered
                else:
                    self._accounts, self._at = tuple(sorted(found, key=lambda a: a.id)), self._clock()
            return self._accounts

    def describe(self, account: str) -> Account | None:
        """One account, if it is an active account of the organization (DescribeAccount, once per container):
        an event needs one account, not the whole listing (at most 20 accounts a page)."""
        with self._lock:
            if self._accounts is not None and self._clock() - self._at <= self._ttl:
                listed = next((a for a in self._accounts if a.id == account), None)
                if listed is not None:
                    return listed
            if account in self._described:
                return self._described[account]
        try:
            item = self._client.describe_account(AccountId=account)["Account"]
        except ClientError as error:
            if error_code(error) != "AccountNotFoundException":
                raise
            return None  # not kept: an account that joins later is found then
        if (item.get("State") or item.get("Status")) != "ACTIVE":
            return None
        found = Account(account, str(item.get("Name", "")))
        with self._lock:
            self._described[account] = found
        return found

    def name(self, account: str) -> str:
        """The account's name in the organization, or "" when it is not known."""
        try:
            found = self.describe(account)
        except (ClientError, BotoCoreError):
            return ""
        return found.name if found else ""

    def outside(self, account: str) -> str:
        """Why ``account`` is not served (one sentence), or "" when it is an active account of the configured
        organization. When the organization cannot be listed the account is served: the event bus admits only
        the organization's accounts anyway (``aws:PrincipalOrgID``), and a tamper must not go unjudged."""
        try:
            organization = self.organization()
            if self.expected and organization != self.expected:
                return f"the detector's organization is {organization}, not ORGANIZATION_ID {self.expected}"
            if self.describe(account) is None:
                return f"account {account} is not an active account of organization {organization}"
        except (ClientError, BotoCoreError):
            return ""
        return ""
