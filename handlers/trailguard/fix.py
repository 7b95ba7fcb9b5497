"""Fixing: the calls that put a drifted trail back (planned from the rule registry), made or only said, then
verified by reading the trail back.

A revert makes exactly the calls each finding's rule gives as its fix, so it does what an alert tells a
person to paste. Calls of one operation are merged into one (``UpdateTrail`` arguments together) and made in
the rules' revert order, logging last. Nothing is invented: a rule without calls for this trail (no baseline
to go back to) is named in the plan's ``why_not``. Advisory and exempt findings are never reverted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from . import exemptions
from .arn import TrailArn
from .aws import describe_error, error_code
from .baseline import Baseline
from .judge import CallVerdict, Policy, TrailState, evaluate_trail
from .read import rule_facts
from .rules import NAMING, REGISTRY, Call, Facts, Finding, service_of
from .state_table import StateTable

RETRIED = frozenset({"ConflictException"})
RETRY_PAUSES = (0.5, 1.0, 2.0)  # then the call is reported failed
VERIFY_PAUSES = (0.5, 1.0, 2.0, 4.0)  # CloudTrail shows a change after a while: read back up to five times


@dataclass(frozen=True)
class Plan:
    calls: tuple[Call, ...] = ()
    why_not: str = ""  # when some finding has no revert
    settled: bool = False  # nothing left to revert: the trail read right again before the revert was made


@dataclass(frozen=True)
class ActionResult:
    action: str
    result: str  # done | dry-run | suspended | failed
    arguments: dict[str, Any] = field(default_factory=dict)
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "result": self.result, "arguments": self.arguments, "detail": self.detail}


def plan(facts: Facts, findings: Iterable[Finding], since: int = 0) -> Plan:
    """The calls that revert the counted findings about ``facts`` (name the trail by ``facts.ident``); ``since``
    (epoch seconds) is when the change being reverted was made, when known."""
    findings = list(findings)
    rules = sorted({REGISTRY[f.rule] for f in findings if f.counted}, key=lambda r: (r.revert_order, r.id))
    allowed = {  # what each exempt finding's own fix would set: an exemption allows it as it is
        (op, key): f.rule
        for f in findings if f.exempt
        for op, arguments in REGISTRY[f.rule].calls(facts) for key in arguments if key not in NAMING
    }  # fmt: skip
    merged: dict[str, dict[str, Any]] = {}
    unfixed, held = [], []
    doubt = _doubt(facts.baseline, since)
    for rule in rules:
        if rule.restores_baseline and doubt:
            held.append(f"{rule.id} ({doubt})")
            continue
        calls = rule.calls(facts) if rule.revertible else ()
        undone = sorted({allowed[(op, key)] for op, arguments in calls for key in arguments if (op, key) in allowed})
        if undone:  # the same calls would also put back what an exemption allows
            held.append(f"{rule.id} (its fix would undo the exempt {', '.join(undone)})")
            continue
        if not calls and rule.scope == "trail" and not rule.unknown:
            unfixed.append(rule.id)
        for operation, arguments in calls:
            merged.setdefault(operation, {}).update(arguments)
    why_not = []
    if unfixed:
        why_not.append(f"no revert for {', '.join(unfixed)}" + ("" if facts.baseline else " without a baseline"))
    if held:
        why_not.append(f"not reverted: {', '.join(held)}")
    return Plan(tuple(merged.items()), "; ".join(why_not))


def _doubt(baseline: Baseline | None, since: int) -> str:
    """Why ``baseline`` may not be written back, or "" when it may."""
    if baseline is None:
        return ""
    if not baseline.trusted:
        return ("its baseline was recorded right after a watched call, not by the sweep or a person, and may be "
                "the change itself")  # fmt: skip
    if since and baseline.recorded_at > since:
        return "its baseline was recorded after the change, and may be the change itself"
    return ""


def _method(operation: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in operation).lstrip("_")


def execute(
    calls: Iterable[Call], clients: Callable[[str], Any], pause: Callable[[float], None] = time.sleep
) -> list[ActionResult]:
    """Make the calls one after another, each with ``clients(service)``; a failed call is recorded and the
    others are still made. ``ConflictException``, which CloudTrail documents for a call made while an earlier
    change of the same trail is still being applied (right after CreateTrail), is retried after a pause."""
    results = []
    for operation, arguments in calls:
        service, name = service_of(operation)
        for pause_before_retry in (*RETRY_PAUSES, None):
            try:
                method = getattr(clients(service), _method(name), None)
                if method is None:
                    results.append(ActionResult(operation, "failed", arguments, f"{service} has no operation {name}"))
                    break
                method(**arguments)
            except (ClientError, BotoCoreError) as error:
                if error_code(error) in RETRIED and pause_before_retry is not None:
                    pause(pause_before_retry)
                    continue
                results.append(ActionResult(operation, "failed", arguments, describe_error(error)))
            else:
                results.append(ActionResult(operation, "done", arguments))
            break
    return results


def verify(
    results: list[ActionResult],
    arn: str,
    client: Any,
    baseline: Baseline | None,
    policy: Policy,
    *,
    clients: Callable[[str, str], Any] | None = None,
    pause: Callable[[float], None] = time.sleep,
    time_left: Callable[[], float] | None = None,
) -> list[ActionResult]:
    """Read the trail back (and what the rules' own reads need, with ``clients``) until it is as it should be,
    pausing between reads: CloudTrail is eventually consistent after a change. If findings remain after the
    last read, every call that reported done is reported failed instead."""
    if not any(r.result == "done" for r in results):
        return results
    why = ""
    for wait in (*VERIFY_PAUSES, None):
        why = _still_wrong(arn, client, baseline, policy, clients)
        if not why or wait is None or (time_left is not None and time_left() < wait):
            break  # right, or out of reads (or of the invocation's time): what is still wrong is reported
        pause(wait)
    return _failed(results, why) if why else results


@dataclass(frozen=True)
class Reading:
    """The trail as it reads now: gone (``state`` None, no ``error``), unreadable (``error``), or its state and
    the findings that count about it (exemptions applied)."""

    state: TrailState | None = None
    findings: tuple[Finding, ...] = ()
    error: str = ""


def read_now(
    arn: str, client: Any, baseline: Baseline | None, policy: Policy, clients: Callable[[str, str], Any] | None
) -> Reading:
    """Read the trail in its home region (``client``) and judge it as the revert and its read-back need."""
    try:
        # shadow copies included: an organization trail is one in a member account, and is read there by ARN
        listed = client.describe_trails(trailNameList=[arn], includeShadowTrails=True)["trailList"]
        described = [t for t in listed if t.get("TrailARN") == arn]
        if not described:
            return Reading()
        state = TrailState(described[0], client.get_trail_status(Name=arn), client.get_event_selectors(TrailName=arn),
                           baseline=baseline)  # fmt: skip
    except (ClientError, BotoCoreError) as error:
        return Reading(error=describe_error(error))
    if clients is not None:
        with ThreadPoolExecutor(max_workers=4) as pool:
            (state,) = rule_facts([state], clients, pool)
    if state.error is not None:
        return Reading(error=state.error)
    found = evaluate_trail(state.facts(policy))
    if policy.exemptions:  # what an exemption allows was never reverted, so it may remain
        owner = TrailArn.parse(arn)
        found = exemptions.apply(found, policy.exemptions, owner.account if owner else "", policy.date)
    return Reading(state, tuple(found))


def _still_wrong(
    arn: str, client: Any, baseline: Baseline | None, policy: Policy, clients: Callable[[str, str], Any] | None
) -> str:
    """What is still wrong with the trail as it reads now ("" when nothing counted remains)."""
    now = read_now(arn, client, baseline, policy, clients)
    if now.error:
        return f"the trail could not be read back ({now.error})"
    if now.state is None:
        return "it is not there"
    left = [f.rule for f in now.findings if f.counted]
    return f"read back, it still has {', '.join(left)}" if left else ""


def _failed(results: list[ActionResult], why: str) -> list[ActionResult]:
    """Every call that reported done, reported failed instead: the trail did not come back as it should."""
    return [ActionResult(r.action, "failed", r.arguments, why) if r.result == "done" else r for r in results]


def revert(
    verdict: CallVerdict, mode: str, policy: Policy, table: StateTable, clients: Callable[[str, str], Any],
    *, since: int = 0, time_left: Callable[[], float] | None = None, account: str = "", budget: bool = True,
) -> tuple[list[ActionResult], Plan]:  # fmt: skip
    """Off: nothing. Dry-run: the calls, not made. On: made within the hourly budget, then verified.
    ``clients(service, region)`` gives a client (CloudTrail's for the trail, another service's for a call of it)
    in ``account``; ``since`` is when the change was made (epoch seconds), so that a baseline recorded after it
    is not restored. An organization trail is reverted only with the credentials of the account that owns it.
    ``budget``: count the revert against the hourly budget (a person's revert, asked for by name, is not)."""
    if mode == "off":
        return [], Plan()
    trail, baseline = verdict.trail, verdict.baseline
    arn = trail.arn if trail else baseline.arn if baseline else ""
    owner = TrailArn.parse(arn)
    organization_trail = trail is not None and trail.description.get("IsOrganizationTrail")
    if organization_trail and owner and account not in ("", owner.account):
        return [], Plan(why_not=f"it is an organization trail of account {owner.account}, and only that account can "
                                "change it")  # fmt: skip
    facts = trail.facts(policy, ident=arn) if trail else Facts(baseline=baseline, ident=arn)
    planned = plan(facts, [f for f in verdict.findings if f.trail_arn], since)
    if not planned.calls:
        return [], planned
    if mode == "dry-run":
        return [ActionResult(op, "dry-run", args) for op, args in planned.calls], planned
    region = trail.home_region if trail else baseline.home_region if baseline else ""
    planned = _replanned(planned, arn, clients("cloudtrail", region), baseline, policy, clients=clients, since=since)
    if not planned.calls:
        return [], planned
    if budget and not table.spend_revert(arn):
        return [ActionResult(op, "suspended", args) for op, args in planned.calls], planned
    made = execute(planned.calls, lambda service: clients(service, region))
    return verify(made, arn, clients("cloudtrail", region), baseline, policy, clients=clients,
                  time_left=time_left), planned  # fmt: skip


def _replanned(
    planned: Plan,
    arn: str,
    client: Any,
    baseline: Baseline | None,
    policy: Policy,
    *,
    clients: Callable[[str, str], Any],
    since: int = 0,
) -> Plan:
    """The plan again from the trail as it is right before writing, so that a revert never overwrites what a
    person changed meanwhile, and writes only what is still drifted. Unreadable now: the plan as it was."""
    now = read_now(arn, client, baseline, policy, clients)
    if now.error:
        return planned
    if now.state is None:  # still gone: recreate, as planned
        return planned if any(op == "CreateTrail" for op, _ in planned.calls) else Plan(why_not="it is gone now")
    if not any(f.counted for f in now.findings):
        return Plan(settled=True)
    return plan(now.state.facts(policy, ident=arn), now.findings, since)
