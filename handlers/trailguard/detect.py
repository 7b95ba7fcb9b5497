"""A watched call, judged: read the trail and the account live, evaluate, and say it as an alert.

The event only says which trail and who acted. One DescribeTrails in the trail's home region lists every
multi-region trail of the account (as shadow copies), which is all the account verdict needs: a trail that
is not multi-region is never compliant. The trail's status and selectors are read at the same time; the
other trails are read only when the event's trail is no longer compliant.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .alerts import Alert, alert_findings, console_url, worst
from .baseline import Baseline
from .events import TrailCall
from .policy import Finding, Settings, TrailState, evaluate_account
from .rules import SEVERITIES
from .state import ClientFactory, describe_error, read_trails


@dataclass(frozen=True)
class CallVerdict:
    """The event's trail as it is now (None when it is gone) and the findings about it and the account."""

    trail: TrailState | None
    findings: tuple[Finding, ...]
    baseline: Baseline | None = None

    @property
    def trail_arn(self) -> str | None:
        return self.trail.arn if self.trail else None


def _result(future: Future[Any] | None) -> tuple[dict[str, Any] | None, str]:
    if future is None:
        return None, ""
    try:
        response = dict(future.result())
    except (ClientError, BotoCoreError) as error:
        return None, describe_error(error)
    response.pop("ResponseMetadata", None)
    return response, ""


def _find(trails: list[dict[str, Any]], call: TrailCall) -> dict[str, Any] | None:
    ref = call.trail
    for trail in trails:
        if ref.arn and trail.get("TrailARN") == ref.arn:
            return trail
    for trail in trails:  # by name: the call was made in the trail's home region
        if trail.get("Name") == ref.name and trail.get("HomeRegion", ref.region) == ref.region:
            return trail
    return None


def _deleted(call: TrailCall, others: tuple[Finding, ...], account_ok: bool) -> Finding:
    arn = call.trail.arn
    message = f"Trail {call.trail.name!r} ({call.trail.region}) no longer exists." + (
        "" if account_ok else " No compliant trail remains in the account."
    )
    return Finding("trail-deleted", "high" if account_ok else "critical", message, arn)


def evaluate_call(
    call: TrailCall,
    cloudtrail: ClientFactory,
    settings: Settings,
    pool: ThreadPoolExecutor,
    baselines: Callable[[list[str]], Mapping[str, Baseline]] = lambda arns: {},
) -> CallVerdict:
    """Read the named trail, its baseline and the account's other trails live, and judge them."""
    client = cloudtrail(call.trail.region)
    ident = call.trail.arn or call.trail.name
    described = pool.submit(client.describe_trails, includeShadowTrails=True)
    reads_trail = call.event_name != "DeleteTrail"
    status = pool.submit(client.get_trail_status, Name=ident) if reads_trail else None
    selectors = pool.submit(client.get_event_selectors, TrailName=ident) if reads_trail else None
    stored = pool.submit(baselines, [call.trail.arn]) if call.trail.arn else None
    listing, list_error = _result(described)
    if listing is None:
        state = TrailState(
            {"Name": call.trail.name, "TrailARN": call.trail.arn or "", "HomeRegion": call.trail.region},
            error=list_error,
        )
        return CallVerdict(
            state, tuple(evaluate_account(call.account, [state], settings, call.trail.region).all_findings)
        )
    trails = list(listing.get("trailList", []))
    mine = _find(trails, call)
    arn = str(mine["TrailARN"]) if mine else call.trail.arn
    baseline = (stored.result() if stored else baselines([arn]) if arn else {}).get(arn or "")
    if mine is None:
        others = read_trails(cloudtrail, [t for t in trails if t.get("IsMultiRegionTrail")], call.account)
        verdict = evaluate_account(call.account, others, settings, call.trail.region)
        deleted = _deleted(call, verdict.findings, verdict.compliant)
        return CallVerdict(None, (deleted, *verdict.findings), baseline)
    if not reads_trail:  # DeleteTrail, yet the trail exists (recreated, or the delete lost a race): read it
        status = pool.submit(client.get_trail_status, Name=mine["TrailARN"])
        selectors = pool.submit(client.get_event_selectors, TrailName=mine["TrailARN"])
    (got_status, status_error), (got_selectors, selectors_error) = _result(status), _result(selectors)
    state = TrailState(mine, got_status, got_selectors, status_error or selectors_error or None, baseline)
    alone = evaluate_account(call.account, [state], settings, call.trail.region)
    if alone.compliant:
        return CallVerdict(state, (), baseline)
    candidates = [t for t in trails if t.get("IsMultiRegionTrail") and t.get("TrailARN") != mine.get("TrailARN")]
    verdict = evaluate_account(
        call.account, [state, *read_trails(cloudtrail, candidates, call.account)], settings, call.trail.region
    )
    return CallVerdict(state, (*verdict.trails[0].findings, *verdict.findings), baseline)


def drift_alert(call: TrailCall, verdict: CallVerdict, action: str) -> Alert:
    first = min(verdict.findings, key=lambda f: SEVERITIES.index(f.severity))
    summary = f"{call.event_name} on trail {call.trail.name} in {call.trail.region}: {first.message}"
    return Alert(
        key=call.event_id,
        kind="drift",
        severity=worst([f.severity for f in verdict.findings]),
        summary=summary,
        account=call.account,
        region=call.trail.region,
        trail_name=call.trail.name,
        trail_arn=verdict.trail_arn or call.trail.arn,
        event_name=call.event_name,
        actor=call.actor,
        findings=alert_findings(verdict.findings),
        action=action,
        console_url=console_url(verdict.trail_arn, call.trail.region),
    )


def attempt_alert(call: TrailCall, action: str = "Nothing: the call failed, so nothing changed.") -> Alert:
    how = f"{call.error_code}: {call.error_message}" if call.error_message else call.error_code
    return Alert(
        key=call.event_id,
        kind="failed-attempt",
        severity="low",
        summary=f"{call.event_name} on trail {call.trail.name} in {call.trail.region} was tried and failed ({how}).",
        account=call.account,
        region=call.trail.region,
        trail_name=call.trail.name,
        trail_arn=call.trail.arn,
        event_name=call.event_name,
        actor=call.actor,
        action=action,
        console_url=console_url(call.trail.arn, call.trail.region),
        error=how,
    )
