"""botocore's side of AWS, shared by the modules that call it: error codes, client settings. No calls here.

``error_code`` is the one place a botocore error's code is read; ``describe_error`` and ``missing_permission``
say what went wrong in words; ``abort_reason`` tells the errors that would fail every call alike.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
)

WORKERS = 32

# Throttling is retried by botocore's adaptive mode, which also slows the client down when AWS pushes back.
CLIENT_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 6},
    max_pool_connections=WORKERS,
    connect_timeout=5,
    read_timeout=30,
)

# The Lambda's reads of an event's trail: three tries with short waits (standard mode: no client-side rate
# limiting), since the invocation's own deadline bounds them all and a throttled or silent CloudTrail is better
# retried by Lambda a minute later than waited for now. (botocore's ``max_attempts`` counts the retries.)
EVENT_READS = Config(
    retries={"mode": "standard", "max_attempts": 2},
    max_pool_connections=WORKERS,
    connect_timeout=3,
    read_timeout=10,
)

# Member accounts' reads (organization mode): the same tries and timeouts, on clients that every member account
# shares (see ``organization``), so with room for every account being read at once.
MEMBER_READS = EVENT_READS.merge(Config(max_pool_connections=WORKERS * 4))

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
# Answers that say "not now" rather than "no": AWS's throttling codes and its server-side failures.
_TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "SlowDown",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)


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
    """The IAM action a denied call of ``service`` needed (``cloudtrail:GetTrailStatus``), or "" when it was not
    denied. The IAM prefix of each service trailguard calls is its client's name."""
    if error_code(error) not in _DENIED_CODES or not isinstance(error, ClientError):
        return ""
    return f"{service}:{error.operation_name}"


def explain(error: BaseException, service: str = "cloudtrail") -> str:
    """``describe_error``, with the missing permission named when the call was denied."""
    lacking = missing_permission(error, service)
    return describe_error(error) + (f" (the caller lacks {lacking})" if lacking else "")


def transient(error: BaseException) -> bool:
    """Whether ``error`` says "not now" (throttled, a 5xx, no answer in time) rather than "no": the same call
    may well succeed a minute later."""
    if isinstance(error, ClientError):
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        return error_code(error) in _TRANSIENT_CODES or status >= 500
    return isinstance(error, ReadTimeoutError | ConnectionClosedError | ConnectionError | TimeoutError)


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
    """Thread-safe ``key -> client`` (a region, or a service and region) for one boto3 session (sessions
    themselves are not thread-safe)."""

    def __init__(self, make: Callable[[Any], Any]) -> None:
        self._make = make
        self._clients: dict[Any, Any] = {}
        self._lock = threading.Lock()

    def __call__(self, key: Any) -> Any:
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self._make(key)
            return self._clients[key]
