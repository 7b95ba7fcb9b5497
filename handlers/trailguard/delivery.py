"""Exactly-once delivery of one alert to every configured channel, each channel on its own.

Claim the alert's key (a duplicate or an in-flight twin stops here), send to every channel that has not
delivered it yet, concurrently, then record who delivered. If any channel failed after its own retries,
the caller raises so that Lambda retries the event; the retry finds the stored alert and sends it, the
very same message, only to the channels still missing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .alerts import Alert
from .channels import Delivery
from .store import Claim, StateTable

Sender = Callable[[Alert], Delivery]


@dataclass(frozen=True)
class Outcome:
    duplicate: bool = False
    delivered: tuple[str, ...] = ()
    failed: tuple[Delivery, ...] = ()
    alert: Alert | None = None


def deliver(
    alert: Alert, senders: Mapping[str, Sender], table: StateTable, pool: ThreadPoolExecutor, claim: Claim | None = None
) -> Outcome:
    """Send ``alert`` to every channel that has not delivered it; ``claim`` if the key was claimed already."""
    claim = claim or table.claim(alert.key)
    if claim.duplicate:
        return Outcome(duplicate=True)
    if claim.alert_json:  # a retry: the channels still missing get what the others already got
        alert = Alert.from_json(claim.alert_json)
    pending = {name: send for name, send in senders.items() if name not in claim.delivered}
    futures = [pool.submit(send, alert) for send in pending.values()]
    results = [f.result() for f in futures if f.exception() is None]
    delivered = sorted(claim.delivered | {r.channel for r in results if r.ok})
    failed = tuple(r for r in results if not r.ok)
    crashed = [f.exception() for f in futures if f.exception() is not None]
    table.record(alert.key, alert.to_json(), delivered, done=not failed and not crashed)
    if crashed:  # a sender bug: what did deliver is recorded above, so the retry will not repeat it
        raise crashed[0]  # type: ignore[misc]
    return Outcome(delivered=tuple(delivered), failed=failed, alert=alert)
