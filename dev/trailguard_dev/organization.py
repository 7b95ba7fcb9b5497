"""An emulated AWS organization, built through boto3 against whatever endpoint boto3 is pointed at.

The organization is created from the default credentials, whose account (123456789012 in the emulator)
becomes the management account. Each member account gets an IAM role that the management account (or a
hub role) may assume, as a cross-account deployment would have it; the management account gets the
organization trail. Acting as an account:

- ``member_session(account)``: credentials from AssumeRole of the member's role, as a hub would get them;
- ``client_as(account, service)``: a client whose requests carry the emulator's account header, for setting
  up what the account itself would own (its own trail, the role to be assumed) without any role.

Used with ``pointed_at(emulator)`` (or with ``AWS_ENDPOINT_URL`` set), e.g.
``build_organization([f"member-{i}" for i in range(1000)])`` for a benchmark.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.session
from botocore.exceptions import ClientError

ACCOUNT_HEADER = "x-moto-account-id"  # the emulator (moto) acts as this account for the request
ROLE_NAME = "trailguard-member"
BUCKET = "trailguard-org-logs"
REGION = "us-east-1"
ALL_MANAGEMENT_EVENTS = [{"ReadWriteType": "All", "IncludeManagementEvents": True}]


@dataclass
class Organization:
    """What ``build_organization`` made: ids, and the names of the things in it."""

    id: str
    management: str
    members: dict[str, str]  # account id -> account name
    root_id: str
    role_name: str = ROLE_NAME
    partition: str = "aws"
    org_trail_arn: str | None = None
    without_role: frozenset[str] = field(default_factory=frozenset)  # member ids that have no role

    def account(self, name: str) -> str:
        """The id of the member account with this name."""
        return next(account for account, named in self.members.items() if named == name)

    def role_arn(self, account: str) -> str:
        """The ARN of the member role in this account."""
        return f"arn:{self.partition}:iam::{account}:role/{self.role_name}"


class _ActAs:
    """A boto3 request hook: the emulator acts as ``account`` for the request."""

    def __init__(self, account: str) -> None:
        self.account = account

    def __call__(self, request: Any, **_: Any) -> None:
        request.headers[ACCOUNT_HEADER] = self.account


def client_as(account: str, service: str, region: str = REGION) -> Any:
    """A boto3 client whose every request acts as ``account`` (the emulator's account header)."""
    client = boto3.client(service, region_name=region)  # type: ignore[call-overload]
    client.meta.events.register("before-sign", _ActAs(account))
    return client


_sessions = threading.Lock()


@functools.cache
def _models() -> Any:
    """botocore's loader of service models and endpoints, shared by the sessions made here: a fresh session
    would parse them again (about 0.2 s, ten times an AssumeRole against the emulator)."""
    return botocore.session.Session().get_component("data_loader")


def _session(**settings: Any) -> boto3.Session:
    with _sessions:
        core = botocore.session.Session()
        core.register_component("data_loader", _models())
        session = boto3.Session(botocore_session=core, **settings)
        _models().search_paths[:] = dict.fromkeys(_models().search_paths)  # boto3 adds its path again each time
        return session


@functools.cache
def _partition(region: str) -> str:
    return str(_session().get_partition_for_region(region))


def trust_policy(principal: str) -> str:
    """A role trust policy that lets ``principal`` (an account's root or a role ARN) assume the role."""
    statement = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def member_session(
    account: str, role_name: str = ROLE_NAME, region: str = REGION, *, via: boto3.Session | None = None
) -> boto3.Session:
    """A session with the credentials of AssumeRole into the member's role, from ``via`` (default credentials)."""
    sts = (via or _session()).client("sts", region_name=region)
    credentials = sts.assume_role(
        RoleArn=f"arn:{_partition(region)}:iam::{account}:role/{role_name}", RoleSessionName="trailguard"
    )["Credentials"]
    return _session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )


def _create_account(organizations: Any, name: str) -> str:
    status = organizations.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]
    while status["State"] == "IN_PROGRESS":  # AWS creates accounts asynchronously; the emulator at once
        time.sleep(0.5)
        status = organizations.describe_create_account_status(CreateAccountRequestId=status["Id"])[
            "CreateAccountStatus"
        ]
    if status["State"] != "SUCCEEDED":
        raise RuntimeError(f"account {name!r} was not created: {status.get('FailureReason')}")
    return str(status["AccountId"])


def _create_bucket(bucket: str, region: str) -> None:
    s3: Any = boto3.client("s3", region_name=region)
    where = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    try:
        s3.create_bucket(Bucket=bucket, **where)
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise


def create_org_trail(name: str, bucket: str, region: str = REGION) -> str:
    """The management account's organization trail: multi-region, all management events, logging."""
    cloudtrail = boto3.client("cloudtrail", region_name=region)
    arn = cloudtrail.create_trail(Name=name, S3BucketName=bucket, IsMultiRegionTrail=True, IsOrganizationTrail=True)[
        "TrailARN"
    ]
    cloudtrail.put_event_selectors(TrailName=name, EventSelectors=ALL_MANAGEMENT_EVENTS)  # type: ignore[arg-type]
    cloudtrail.start_logging(Name=name)
    return arn


def build_organization(
    members: Sequence[str] = ("dev", "prod", "sandbox"),
    *,
    role_name: str = ROLE_NAME,
    hub_role_arn: str | None = None,
    without_role: Sequence[str] = (),
    org_trail: str | None = "org-trail",
    bucket: str = BUCKET,
    region: str = REGION,
) -> Organization:
    """Create an organization with these member accounts (by name), their roles, and the organization trail.

    Every member except those named in ``without_role`` gets the IAM role ``role_name``, which trusts the
    management account (``hub_role_arn`` instead, when given). With ``org_trail``, the management account
    gets a logging multi-region organization trail of that name, delivering to ``bucket``.
    """
    organizations: Any = boto3.client("organizations", region_name=region)
    described = organizations.create_organization(FeatureSet="ALL")["Organization"]
    management = str(described["MasterAccountId"])
    root_id = str(organizations.list_roots()["Roots"][0]["Id"])
    partition = _partition(region)
    accounts = {_create_account(organizations, name): name for name in members}
    trust = trust_policy(hub_role_arn or f"arn:{partition}:iam::{management}:root")
    roleless = frozenset(account for account, name in accounts.items() if name in without_role)
    acting = _ActAs(management)  # one client for every member: creating a client costs more than a call
    iam: Any = boto3.client("iam", region_name=region)
    iam.meta.events.register("before-sign", acting)
    for account in accounts:
        if account not in roleless:
            acting.account = account
            iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=trust)
    org = Organization(
        id=str(described["Id"]),
        management=management,
        members=accounts,
        root_id=root_id,
        role_name=role_name,
        partition=partition,
        without_role=roleless,
    )
    if org_trail:
        _create_bucket(bucket, region)
        org.org_trail_arn = create_org_trail(org_trail, bucket, region)
    return org
