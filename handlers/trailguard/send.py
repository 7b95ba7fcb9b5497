"""Sending: already-rendered alerts to Slack and SNS, each channel's outcome a ``Delivery``, and ``deliver``,
which sends one alert exactly once per channel.

Rendering lives in ``render``; this module only moves bytes. Clients come from the caller, and
slack_sdk is imported only when a Slack message is actually sent, to keep cold starts cheap. A channel that
fails (unreachable, rejected, misconfigured) yields a failed ``Delivery`` with a reason for the logs; only
the errors a channel can raise in normal operation are caught, never ``Exception``.

Webhook URLs and bot tokens are secrets: they never appear in a ``Delivery``, an exception message or a
``repr``, and slack_sdk's own logger is kept above DEBUG, where it would print the request URL.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from .alerts import Alert
from .aws import error_code
from .organization import AccountUnreachable
from .state_table import DEFAULT_LEASE_MS, Claim, StateTable

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sns import SNSClient
    from slack_sdk.http_retry import RetryHandler

SLACK = "slack"
SNS = "sns"
SECURITY_HUB = "securityhub"
IMPORT_BATCH = 100  # BatchImportFindings takes at most 100 findings a call
SLACK_API_URL = "https://slack.com/api/"
# Up to 1 + SLACK_RETRIES attempts of SLACK_TIMEOUT seconds each, with slack_sdk's backoff between them
# (0.5-1.5 s, then 1-2 s), or Retry-After + up to 1 s after a 429: about 18.5 s worst case, plus Retry-After.
SLACK_TIMEOUT = 5
SLACK_RETRIES = 2
REDACTED = "<redacted>"
_SECRET_FORMS = 'expected an incoming-webhook URL, or JSON {"webhook_url": ...} or {"token": ..., "channel": ...}'


@dataclass(frozen=True)
class Delivery:
    """The outcome of sending one alert on one channel. ``detail`` is for logs and never holds a secret."""

    channel: str
    ok: bool
    detail: str
    unconfirmed: bool = False  # the request went out and no answer came: the channel may have delivered it


@dataclass(frozen=True)
class SlackWebhook:
    url: str = field(repr=False)


@dataclass(frozen=True)
class SlackBot:
    token: str = field(repr=False)
    channel: str
    api_url: str = SLACK_API_URL


SlackTarget = SlackWebhook | SlackBot


class SlackSecretError(ValueError):
    """The Slack secret cannot be read or parsed. The message names the problem, never the secret's value."""


# --- the Slack secret -------------------------------------------------------------------------------------


def slack_target(secret_string: str) -> SlackTarget:
    """Parse the Slack secret: a webhook URL, JSON ``{"webhook_url"}``, or JSON ``{"token", "channel"}`` with an
    optional ``"api_url"`` (the Web API base URL, for GovSlack or a local server). Raises ``SlackSecretError``."""
    text = secret_string.strip()
    if not text.startswith("{"):
        return SlackWebhook(_url(text, "the secret"))
    try:
        data = json.loads(text)
    except ValueError:
        raise SlackSecretError(_malformed("it starts with '{' but is not valid JSON")) from None  # no value
    if "webhook_url" in data and "token" in data:
        raise SlackSecretError(_malformed('it has both "webhook_url" and "token"; keep one'))
    if "webhook_url" in data:
        return SlackWebhook(_url(data["webhook_url"], '"webhook_url"'))
    if "token" in data:
        return _bot(data)
    raise SlackSecretError(_malformed('the JSON has neither "webhook_url" nor "token"'))


def _bot(data: Mapping[str, Any]) -> SlackBot:
    token, channel = data.get("token"), data.get("channel")
    if not isinstance(token, str) or not token.strip():
        raise SlackSecretError(_malformed('"token" must be a non-empty string'))
    if any(c.isspace() or not c.isprintable() for c in token.strip()):
        raise SlackSecretError(_malformed('"token" contains whitespace or control characters'))
    if not isinstance(channel, str) or not channel.strip():
        raise SlackSecretError(_malformed('"channel" must be a non-empty string (a channel id such as C0123)'))
    api_url = _url(data["api_url"], '"api_url"') if "api_url" in data else SLACK_API_URL
    return SlackBot(token=token.strip(), channel=channel.strip(), api_url=api_url)


def _url(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SlackSecretError(_malformed(f"{what} must be an http(s) URL"))
    url = value.strip()
    if any(c.isspace() or not c.isprintable() for c in url):
        raise SlackSecretError(_malformed(f"{what} contains whitespace or control characters"))
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SlackSecretError(_malformed(f"{what} is not an http(s) URL"))
    return url


def _malformed(reason: str) -> str:
    return f"The Slack secret is malformed: {reason} ({_SECRET_FORMS})."


class SlackSecret:
    """The Slack target named by a Secrets Manager ARN, read on first use and kept for the container's life.

    Keep one per container (the handler's module scope). A failed send forgets the cached target, so that a
    rotated or corrected secret is picked up by the next invocation."""

    def __init__(self, secret_arn: str, secrets: SecretsManagerClient) -> None:
        self.secret_arn = secret_arn
        self._secrets = secrets
        self._target: SlackTarget | None = None

    def target(self) -> SlackTarget:
        """The parsed target; raises ``SlackSecretError`` when the secret is missing, unreadable or malformed."""
        if self._target is None:
            self._target = slack_target(self._read())
        return self._target

    def _read(self) -> str:
        try:
            value = self._secrets.get_secret_value(SecretId=self.secret_arn).get("SecretString")
        except ClientError as error:
            code = error_code(error) or "unknown error"
            raise SlackSecretError(f"The Slack secret {self.secret_arn} could not be read: {code}.") from error
        except BotoCoreError as error:
            raise SlackSecretError(f"The Slack secret {self.secret_arn} could not be read: {error}") from error
        if not isinstance(value, str):
            raise SlackSecretError(f"The Slack secret {self.secret_arn} has no SecretString (binary secret?).")
        return value

    def forget(self) -> None:
        self._target = None

    def send(self, message: Mapping[str, Any], timeout: int = SLACK_TIMEOUT) -> Delivery:
        """Send ``message`` to the target the secret names; a secret problem is a failed Slack delivery."""
        try:
            target = self.target()
        except SlackSecretError as error:
            return Delivery(SLACK, False, str(error))
        delivery = send_slack(target, message, timeout)
        if not delivery.ok:
            self.forget()
        return delivery


# --- sending ----------------------------------------------------------------------------------------------


def send_slack(target: SlackTarget, message: Mapping[str, Any], timeout: int = SLACK_TIMEOUT) -> Delivery:
    """Post a rendered ``{"text", "blocks"}`` message. 429 (honouring Retry-After), 500/503 and connection
    errors are retried twice. A read timeout is a failure marked ``unconfirmed``: the request reached Slack,
    which may or may not have posted it; the retry sends it again, saying it may be a repeat."""
    import socket
    from http.client import HTTPException

    from slack_sdk.errors import SlackApiError, SlackRequestError

    try:
        if isinstance(target, SlackWebhook):
            return _send_webhook(target, message, timeout)
        return _post_message(target, message, timeout)
    except SlackApiError as error:
        answer = error.response
        return _slack_failed(target, f"Slack answered HTTP {answer.status_code}: {answer.get('error')}")
    except TimeoutError:  # the request went out and no answer came: posted or not, nobody knows
        return Delivery(
            SLACK,
            False,
            f"unconfirmed: Slack took more than {timeout} s to answer; it may have posted the alert, which the "
            "retry sends again marked as a possible repeat",
            unconfirmed=True,
        )
    except (OSError, HTTPException, SlackRequestError) as error:
        if isinstance(getattr(error, "reason", error), ConnectionRefusedError | socket.gaierror):  # nothing sent
            return _slack_failed(target, f"Slack could not be reached: {error}")
        failed = _slack_failed(target, f"unconfirmed: the connection to Slack failed: {error}")
        return replace(failed, unconfirmed=True)  # the request may have reached Slack


def _send_webhook(target: SlackWebhook, message: Mapping[str, Any], timeout: int) -> Delivery:
    from slack_sdk.webhook import WebhookClient

    client = WebhookClient(target.url, timeout=timeout, logger=_sdk_logger(), retry_handlers=_retry_handlers())
    response = client.send(text=message.get("text"), blocks=message.get("blocks"))
    if response.status_code == 200 and response.body == "ok":
        return Delivery(SLACK, True, "posted by incoming webhook")
    return _slack_failed(target, f"Slack webhook answered HTTP {response.status_code}: {response.body[:200]}")


def _post_message(target: SlackBot, message: Mapping[str, Any], timeout: int) -> Delivery:
    from slack_sdk import WebClient

    client = WebClient(
        token=target.token,
        base_url=target.api_url,
        timeout=timeout,
        logger=_sdk_logger(),
        retry_handlers=_retry_handlers(),
    )
    answer = client.chat_postMessage(channel=target.channel, text=message.get("text"), blocks=message.get("blocks"))
    return Delivery(SLACK, True, f"posted to {answer.get('channel')} at {answer.get('ts')}")


def _retry_handlers() -> list[RetryHandler]:
    """Note: the handlers share one attempt counter, so a send makes at most SLACK_RETRIES + 1 attempts. A
    connection error is retried only when nothing can have reached Slack (refused, or the name did not
    resolve): a connection cut after the request went out may have posted it, and is left to Lambda's retry,
    which says the alert may be a repeat."""
    import socket

    from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
    from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler

    class NothingSentRetryHandler(ConnectionErrorRetryHandler):
        def _can_retry(self, *, error: Exception | None = None, **context: Any) -> bool:
            reason = getattr(error, "reason", error)
            return isinstance(reason, ConnectionRefusedError | socket.gaierror) and super()._can_retry(
                error=error, **context
            )

    return [
        RateLimitErrorRetryHandler(max_retry_count=SLACK_RETRIES),
        ServerErrorRetryHandler(max_retry_count=SLACK_RETRIES),
        NothingSentRetryHandler(max_retry_count=SLACK_RETRIES),
    ]


def _sdk_logger() -> logging.Logger:
    """slack_sdk logs the request URL (a webhook URL is a secret) at DEBUG: keep its logger at WARNING."""
    logger = logging.getLogger(f"{__name__}.slack_sdk")
    logger.setLevel(logging.WARNING)
    return logger


def _slack_failed(target: SlackTarget, detail: str) -> Delivery:
    return Delivery(SLACK, False, redact(detail, target))


def redact(text: str, target: SlackTarget) -> str:
    """``text`` with the target's secrets (webhook URL and its path, bot token) replaced."""
    if isinstance(target, SlackWebhook):
        parts = urlsplit(target.url)
        secrets = [target.url, parts.path + (f"?{parts.query}" if parts.query else ""), parts.path]
    else:
        secrets = [target.token]
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) > 1:
            text = text.replace(secret, REDACTED)
    return text


def send_sns(sns: SNSClient, topic_arn: str, publish_kwargs: Mapping[str, Any]) -> Delivery:
    """Publish a rendered notification (``Subject``, ``Message``, ``MessageAttributes``) to ``topic_arn``."""
    try:
        answer = sns.publish(TopicArn=topic_arn, **publish_kwargs)
    except (ClientError, BotoCoreError) as error:  # no answer, or a 5xx: SNS may have published it
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0) \
            if isinstance(error, ClientError) else 0  # fmt: skip
        unsure = isinstance(error, BotoCoreError) or status >= 500
        return Delivery(SNS, False, f"SNS publish to {topic_arn} failed: {error}", unconfirmed=unsure)
    return Delivery(SNS, True, f"published to {topic_arn} as {answer.get('MessageId')}")


# --- exactly once ------------------------------------------------------------------------------------------
# Claim the alert's key (a duplicate or an in-flight twin stops here), store the alert and name the channels
# about to be sent to, send to every channel that has not delivered it yet, concurrently, recording each
# delivery the moment it happens, then record the outcome. If any channel failed after its own retries, the
# caller raises so that Lambda retries the event; the retry finds the stored alert and sends it, the very
# same message, only to the channels still missing. A channel an earlier attempt began sending to without
# ever recording the outcome may have received it: it gets the alert again, marked as a possible repeat.

LOG = logging.getLogger(__name__)
Sender = Callable[[Alert], Delivery]
REPEAT_NOTE = (
    "Possibly a repeat: an earlier attempt began sending this alert here and could not confirm that it arrived."
)


@dataclass(frozen=True)
class Outcome:
    duplicate: bool = False
    delivered: tuple[str, ...] = ()
    failed: tuple[Delivery, ...] = ()


def deliver(
    alert: Alert,
    senders: Mapping[str, Sender],
    table: StateTable,
    pool: ThreadPoolExecutor,
    claim: Claim | None = None,
    *,
    lease_ms: int = DEFAULT_LEASE_MS,
    time_left: Callable[[], float] | None = None,
    then: Callable[[], None] | None = None,
) -> Outcome:
    """Send ``alert`` to every channel that has not delivered it; ``claim`` if the key was claimed already
    (the caller then releases it if this raises), else it is claimed here for ``lease_ms``. ``then`` runs once
    every channel has delivered, before the alert is marked done: if it raises, the alert is not done, and
    Lambda's retry runs it again (sending nothing again)."""
    if claim is not None:
        return _deliver(alert, senders, table, pool, claim, time_left=time_left, then=then)
    claim = table.claim(alert.key, lease_ms)
    if claim.duplicate:
        return Outcome(duplicate=True)
    try:
        return _deliver(alert, senders, table, pool, claim, time_left=time_left, then=then)
    except BaseException:
        table.release(alert.key, claim.token)
        raise


def _deliver(
    alert: Alert, senders: Mapping[str, Sender], table: StateTable, pool: ThreadPoolExecutor, claim: Claim,
    *, time_left: Callable[[], float] | None, then: Callable[[], None] | None = None,
) -> Outcome:  # fmt: skip
    if claim.duplicate:
        return Outcome(duplicate=True)
    if claim.alert_json:  # a retry: the channels still missing get what the others already got
        alert = Alert.from_json(claim.alert_json)
    pending = sorted(name for name in senders if name not in claim.delivered)
    if pending:  # before anything is sent: what a retry will need, whatever the trail looks like by then
        table.announce(alert.key, claim.token, alert.to_json(), pending)
    results, crashed, recorded = _send_all(
        alert, {n: senders[n] for n in pending}, table, pool, claim, time_left=time_left
    )
    delivered = sorted(claim.delivered | {r.channel for r in results if r.ok})
    failed = tuple(r for r in results if not r.ok)
    # A channel that surely did not deliver is no longer "being sent"; one that may have (no answer, or its
    # sender crashed) is kept as such, and every later message to it says it may be a repeat.
    surely = [r.channel for r in failed if not r.unconfirmed]
    unsure = [r.channel for r in failed if r.unconfirmed] + list(crashed)
    done, after = not failed and not crashed, None
    if done and then is not None:
        try:
            then()
        except Exception as error:
            done, after = False, error  # raised below, once the deliveries are recorded
    if not table.finish(alert.key, claim.token, delivered, surely, unsure, done=done, budget=time_left) and not all(
        recorded.values()
    ):
        LOG.warning("alert %s: delivered on %s, but DynamoDB refused to record it", alert.key, ", ".join(delivered))
    if crashed:  # a sender bug: what did deliver is recorded above, so the retry will not repeat it
        raise next(iter(crashed.values()))
    if after is not None:
        raise after
    return Outcome(delivered=tuple(delivered), failed=failed)


def _send_all(
    alert: Alert, senders: Mapping[str, Sender], table: StateTable, pool: ThreadPoolExecutor, claim: Claim,
    *, time_left: Callable[[], float] | None,
) -> tuple[list[Delivery], dict[str, BaseException], dict[str, bool]]:  # fmt: skip
    """Send to every channel at once, each delivery recorded the moment it happens (before anything else may
    fail): (deliveries, the senders that raised, whether each delivery was recorded)."""
    recorded: dict[str, bool] = {}

    def send(name: str) -> Delivery:
        shown = replace(alert, note=REPEAT_NOTE) if name in claim.unconfirmed else alert
        delivery = senders[name](shown)
        if delivery.ok:
            recorded[name] = table.delivered(alert.key, name, time_left)
        return delivery

    futures = {name: pool.submit(send, name) for name in senders}
    results = [f.result() for f in futures.values() if f.exception() is None]
    crashed = {name: error for name, f in futures.items() if (error := f.exception()) is not None}
    return results, crashed, recorded


UNRECORDED_NOTE = (
    "Sent without trailguard's delivery record: its state table could not be used, so this alert is sent once on "
    "each channel and never retried."
)


def broadcast(alert: Alert, senders: Mapping[str, Sender], pool: ThreadPoolExecutor) -> Outcome:
    """Send ``alert`` once on every channel with no record kept: for when the state table itself is gone or
    denied (a tamper with the detector), where the alternative is to send nothing. Never retried: with nothing
    recorded, a retry could only double what did arrive; a failed channel is logged."""
    shown = replace(alert, note=UNRECORDED_NOTE)
    futures = {name: pool.submit(send, shown) for name, send in senders.items()}
    results = [
        Delivery(name, False, f"the sender raised {type(error).__name__}: {error}")
        if (error := future.exception()) is not None
        else future.result()
        for name, future in futures.items()
    ]
    for failed in (r for r in results if not r.ok):
        LOG.warning("alert %s: %s did not deliver, and cannot be retried: %s", alert.key, failed.channel, failed.detail)
    return Outcome(delivered=tuple(sorted(r.channel for r in results if r.ok)))


def send_security_hub(alert: Alert, client_of: Callable[[str], Any], region: str) -> Delivery:
    """Import what ``alert`` changes into Security Hub (``render.formats.alert_asff``) in ``alert.account``,
    through ``client_of(account)``: Security Hub takes a custom integration's findings only from the account they
    are about. A finding Security Hub refuses is a failed delivery, retried like any channel's."""
    from .render.formats import alert_asff

    findings = alert_asff(alert, region)
    if not findings:
        return Delivery(SECURITY_HUB, True, "nothing to import")
    refused: list[Mapping[str, Any]] = []
    try:
        client = client_of(alert.account)
        for start in range(0, len(findings), IMPORT_BATCH):
            answer = client.batch_import_findings(Findings=findings[start : start + IMPORT_BATCH])
            refused += answer.get("FailedFindings", [])
    except (ClientError, BotoCoreError) as error:
        return Delivery(SECURITY_HUB, False, f"BatchImportFindings failed: {error_code(error) or error}")
    except AccountUnreachable as error:  # the member account's role could not be assumed
        return Delivery(SECURITY_HUB, False, f"Security Hub in account {alert.account} cannot be reached: {error}")
    if refused:
        first = refused[0]
        return Delivery(SECURITY_HUB, False, f"Security Hub refused {len(refused)} finding(s): "
                                             f"{first.get('ErrorCode')}: {first.get('ErrorMessage')}")  # fmt: skip
    return Delivery(SECURITY_HUB, True, f"{len(findings)} finding(s) imported")
