"""AWS vocabulary shared by every module: ARNs, error codes, client settings. No calls are made here.

``Arn`` and ``TrailArn`` are the one place an ARN is taken apart; ``error_code`` the one place a botocore
error's code is read; ``describe_error`` and ``missing_permission`` say what went wrong in words.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionError, NoCredentialsError, NoRegionError, PartialCredentialsError

WORKERS = 32

# Throttling is retried by botocore's adaptive mode, which also slows the client down when AWS pushes back.
CLIENT_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 6},
    max_pool_connections=WORKERS,
    connect_timeout=5,
    read_timeout=30,
)

_ARN = re.compile(r"arn:(aws[a-z-]*):([a-z0-9-]+):([a-z0-9-]*):([0-9]*|aws):(.+)", re.ASCII)
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
_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
# The IAM service prefix of each client's operations, for "the caller lacks <prefix>:<Operation>".
_SERVICE_PREFIX = {"cloudtrail": "cloudtrail", "ec2": "ec2", "sts": "sts", "dynamodb": "dynamodb"}


@dataclass(frozen=True)
class Arn:
    """``arn:<partition>:<service>:<region>:<account>:<resource>``."""

    partition: str
    service: str
    region: str
    account: str
    resource: str

    @classmethod
    def parse(cls, text: object) -> Arn | None:
        match = _ARN.fullmatch(text) if isinstance(text, str) else None
        return cls(*match.groups()) if match else None

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"


@dataclass(frozen=True)
class TrailArn(Arn):
    """A CloudTrail trail's ARN: ``arn:<partition>:cloudtrail:<home region>:<owner account>:trail/<name>``."""

    @classmethod
    def parse(cls, text: object) -> TrailArn | None:
        arn = Arn.parse(text)
        if arn is None or arn.service != "cloudtrail" or not arn.resource.startswith("trail/"):
            return None
        return cls(arn.partition, arn.service, arn.region, arn.account, arn.resource)

    @classmethod
    def of(cls, partition: str, region: str, account: str, name: str) -> TrailArn:
        return cls(partition, "cloudtrail", region, account, f"trail/{name}")

    @property
    def name(self) -> str:
        return self.resource.removeprefix("trail/")


def region_of(arn: object) -> str:
    """The region of any ARN, or "" when it is not one."""
    parsed = Arn.parse(arn)
    return parsed.region if parsed else ""


def account_of(arn: object) -> str:
    """The account of any ARN, or "" when it is not one."""
    parsed = Arn.parse(arn)
    return parsed.account if parsed else ""


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def error_code(error: BaseException) -> str:
    """The AWS error code of a botocore ``ClientError`` (``ThrottlingException`` ...), "" for anything else."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code") or "")
    return ""


def describe_error(error: BaseException) -> str:
    if isinstance(error, ClientError):
        err = error.response.get("Error", {})
        return f"{error.operation_name}: {err.get('Code', 'Error')}: {err.get('Message', '')}".rstrip(": ")
    return f"{type(error).__name__}: {error}"


def missing_permission(error: BaseException, service: str = "cloudtrail") -> str:
    """The IAM action a denied call needed (``cloudtrail:GetTrailStatus``), or "" when it was not denied."""
    if error_code(error) not in _DENIED_CODES or not isinstance(error, ClientError):
        return ""
    return f"{_SERVICE_PREFIX.get(service, service)}:{error.operation_name}"


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
    if error_code(error) in _CREDENTIAL_CODES and isinstance(error, ClientError):
        return f"AWS rejected the credentials ({error.response['Error'].get('Message', '')})."
    return None


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
