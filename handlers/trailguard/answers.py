"""A person's answers to an alert: accept the trail as its baseline, revert it now, snooze it, or look at its
baseline. The command line (``trailguard baseline|revert|snooze``) and the Slack interaction endpoint both
come here, so that a button and a command do exactly the same thing.

Each answer reads the trail live first and refuses, saying why, when it would do harm: a trail that is not
compliant never becomes a baseline; a revert makes the very calls the detector would make (``fix.revert``,
read back and verified), from the baseline the state table holds; a snooze is bounded (``snooze.py``). Every
answer that changes something is recorded in the state table with who gave it and why (``decision#<id>``).
"""

from __future__ import annotations

import datetime
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .arn import TrailArn
from .aws import describe_error
from .baseline import DESTINATION_NAMES, TRAIL_FLAGS, Baseline, state_digest
from .events import Actor, TrailCall, TrailRef
from .fix import Reading, read_now, revert
from .flow import Runtime, change_time, evaluate_call
from .organization import AccountUnreachable
from .read import read_extras
from .render.fix import commands
from .render.text import clean, one_line
from .snooze import Snooze, every_rule, snoozable

ACCEPT, REVERT, SNOOZE = "accept", "revert", "snooze"


class NotFound(LookupError):
    """The trail a person named is not there to be answered about; the message says so in one sentence."""


@dataclass(frozen=True)
class Target:
    """The trail a person names: its ARN and home region, and the account it is read in (for an organization
    trail seen from a member account, not the account that owns it)."""

    arn: str
    name: str
    region: str
    account: str

    @classmethod
    def of_arn(cls, arn: str, account: str = "") -> Target:
        parsed = TrailArn.parse(arn)
        if parsed is None:
            raise NotFound(f"{arn!r} is not a trail ARN")
        return cls(str(parsed), parsed.name, parsed.region, account or parsed.account)


@dataclass(frozen=True)
class Answer:
    """What came of an answer: ``done`` (exit 0), or refused (exit 1), and ``said``, for a person."""

    done: bool
    said: str
    commands: tuple[str, ...] = ()  # a revert's calls as AWS CLI commands (made, or that would be)
    changed: bool = False  # whether the answer changed the trail or the state table


def locate(rt: Runtime, trail: str, account: str, region: str) -> Target:
    """The trail ``trail`` names (an ARN, or a name looked up in ``region`` of ``account``)."""
    if trail.startswith("arn:"):
        return Target.of_arn(trail, account)
    try:
        listed = rt.clients_of(account)("cloudtrail", region).describe_trails(trailNameList=[trail],
                                                                              includeShadowTrails=True)  # fmt: skip
    except (ClientError, BotoCoreError, AccountUnreachable) as error:
        raise NotFound(f"trail {trail!r} could not be looked up in {region}: {describe_error(error)}") from error
    found = [t for t in listed.get("trailList", []) if t.get("Name") == trail and t.get("TrailARN")]
    if not found:
        raise NotFound(f"there is no trail named {trail!r} in {region} of account {account} (give its ARN to name "
                       "a trail of another region)")  # fmt: skip
    return Target.of_arn(str(found[0]["TrailARN"]), account)


def read(rt: Runtime, target: Target, baseline: Baseline | None = None) -> Reading:
    """The trail as it reads now in its home region, judged by the operator's policy (no snooze applies)."""
    try:
        clients = rt.clients_of(target.account)
    except AccountUnreachable as error:
        return Reading(error=str(error))
    return read_now(target.arn, clients("cloudtrail", target.region), baseline, rt.config.policy, clients)


def digest(reading: Reading) -> str:
    """What an alert would have remembered of the trail as it reads now (see ``Alert.state``)."""
    trail = reading.state
    return state_digest(trail.description, trail.status, trail.selectors) if trail else "gone"


def show(rt: Runtime, target: Target) -> dict[str, Any] | None:
    """The trail's baseline as the detector would restore it, when and by what it was recorded, and the trail's
    snooze if one runs; None when no baseline was recorded."""
    baseline = rt.table.baselines([target.arn]).get(target.arn)
    if baseline is None:
        return None
    snoozes = [s for s in rt.table.snoozes() if s.arn == target.arn]
    recorded = {"sweep": "the sweep (the trail was compliant)", "accepted": "a person (accepted)",
                "event": "an event: the detector, right after a watched call (not restored as destinations or to "
                         "recreate the trail until the sweep or a person confirms it)"}  # fmt: skip
    return {
        "trail_arn": target.arn,
        "recorded_at": when(baseline.recorded_at) if baseline.recorded_at else None,
        "recorded_by": baseline.source,
        "recorded_by_words": recorded.get(baseline.source, baseline.source),
        "person": one_line(clean(baseline.recorded_by)) or None,
        "reason": one_line(clean(baseline.reason)) or None,
        "trusted": baseline.trusted,
        "destinations": {DESTINATION_NAMES[k]: v for k, v in baseline.trail.items() if k in DESTINATION_NAMES},
        "settings": {k: v for k, v in baseline.trail.items() if k in TRAIL_FLAGS},
        "selectors": baseline.selectors or None,
        "selectors_digest": baseline.selectors_digest or None,
        "insight_selectors": baseline.insight_selectors,
        "tags": baseline.tags,
        "snoozed": one_line(clean(snoozes[0].label)) if snoozes else None,
    }


def accept(rt: Runtime, target: Target, by: str, reason: str, reading: Reading | None = None) -> Answer:
    """Record the trail as it is now as its baseline, if it is compliant (refused otherwise, saying why). What
    it restores from then on is this configuration: its destinations, settings, selectors, insights and tags."""
    now = reading or read(rt, target)
    if now.error:
        return Answer(False, f"Trail {target.name} could not be read ({now.error}), so nothing was accepted.")
    if now.state is None:
        return Answer(False, f"Trail {target.arn} is not there (deleted?): there is nothing to accept. "
                             "`trailguard revert` recreates it from its baseline.")  # fmt: skip
    wrong = [f for f in now.findings if f.counted]
    if wrong:
        listed = "; ".join(f"{f.rule}: {f.message}" for f in wrong)
        return Answer(False, f"Trail {target.name} is not compliant, and only a compliant configuration can become "
                             f"its baseline ({listed}). Fix it, or revert it, first.")  # fmt: skip
    extras = read_extras(rt.clients_of(target.account)("cloudtrail", target.region), target.arn)
    if extras is None:
        return Answer(False, f"The insight selectors or tags of trail {target.name} could not be read, so nothing "
                             "was accepted (a baseline keeps them, to recreate the trail as it was).")  # fmt: skip
    state = now.state
    assert state.selectors is not None  # judged compliant: its selectors were read
    rt.table.save_baselines([Baseline.of(state.description, state.selectors, *extras, source="accepted")], by=by,
                            reason=reason)  # fmt: skip
    where = ", ".join(f"{DESTINATION_NAMES[k]} {v}" for k, v in sorted(state.description.items())
                      if k in DESTINATION_NAMES and v) or "no destination"  # fmt: skip
    return Answer(True, f"Trail {target.name} accepted as its baseline ({reason or 'no reason given'}). From now on "
                        f"the detector restores this configuration: {where}.", changed=True)  # fmt: skip


def revert_now(rt: Runtime, target: Target, by: str, *, dry_run: bool, since: int = 0) -> Answer:
    """Put the trail back as the detector would (``fix.revert``, the same planned calls, read back and
    verified), or with ``dry_run`` only say the calls. A person's revert is not counted against the
    detector's hourly revert budget. ``since``: when the change was made (a baseline recorded after it is
    not restored)."""
    verdict = evaluate_call(_call(target, by), rt)  # settled at once: what could not be read is in ``unread``
    if verdict.unread:
        return Answer(False, f"Trail {target.name} could not be read ({verdict.unread}), so nothing was reverted.")
    wrong = [f for f in verdict.counted if f.trail_arn]
    if not wrong:
        return Answer(True, f"Trail {target.name} is compliant: there is nothing to revert.")
    if verdict.trail is None and target.arn.split(":")[4] != target.account:  # never recreated elsewhere
        return Answer(False, f"Trail {target.arn} is not there in account {target.account}, and it belongs to "
                             f"account {target.arn.split(':')[4]}: nothing was reverted.")  # fmt: skip
    mode = "dry-run" if dry_run else "on"
    results, planned = revert(verdict, mode, rt.config.policy, rt.table,
                              rt.clients_of(target.account), since=since, account=target.account,
                              budget=False)  # fmt: skip
    said = commands([(r.action, r.arguments) for r in results], target.region)
    if planned.settled:
        return Answer(True, f"Trail {target.name} reads right again: there is nothing left to revert.")
    if not results:
        why = planned.why_not or "no finding has a revert"
        return Answer(False, f"Nothing to revert on trail {target.name}: {why}. Fix it by hand (`trailguard audit` "
                             "prints each finding's fix).")  # fmt: skip
    if dry_run:
        more = f" (and {planned.why_not})" if planned.why_not else ""
        return Answer(True, f"Would revert trail {target.name} with {len(results)} call(s){more}.", tuple(said))
    failed = [r for r in results if r.result != "done"]
    if failed:
        return Answer(False, f"The revert of trail {target.name} did not work: " + "; ".join(
            f"{r.action} {r.result}: {r.detail}" for r in failed), tuple(said), changed=True)  # fmt: skip
    more = f" Not reverted: {planned.why_not}." if planned.why_not else ""
    made = ", ".join(r.action for r in results)
    return Answer(True, f"Trail {target.name} reverted ({made}), and it read back as it should be.{more}",
                  tuple(said), changed=True)  # fmt: skip


def snooze(rt: Runtime, target: Target, by: str, reason: str, *, seconds: int, rules: tuple[str, ...] | None = None,
           now: float | None = None) -> Answer:  # fmt: skip
    """Hold back the trail's findings (of ``rules``, or of every rule a snooze may cover) for ``seconds`` (at
    most a day): not alerted, not reverted, shown marked as snoozed. The detector's own health and the trail's
    deletion are alerted as ever."""
    at = int(time.time() if now is None else now)
    held = every_rule() if rules is None else snoozable(rules)
    if not held:
        return Answer(False, f"Nothing to snooze on trail {target.name}: none of {', '.join(rules or ())} may be "
                             "snoozed (the detector's own health, a deleted trail and an account without a "
                             "compliant trail never are).")  # fmt: skip
    until = at + seconds
    running = [s for s in rt.table.snoozes(at) if s.arn == target.arn]
    if running:  # one snooze per trail: a new one never shortens or narrows the one that runs
        until, held = max(until, running[0].until), tuple(sorted({*held, *running[0].rules}))
    entry = Snooze(target.arn, until, by, reason, held, at, target.account)
    rt.table.snooze(entry)
    covered = "every rule but its deletion" if set(held) >= set(every_rule()) else f"rules: {', '.join(held)}"
    return Answer(True, f"Trail {target.name} {entry.label} ({covered}). The detector's own health is alerted as "
                        "ever.", changed=True)  # fmt: skip


def _call(target: Target, by: str) -> TrailCall:
    """The trail as the detector judges it after a watched call: read live, with its baseline and, when it no
    longer complies, the account's other trails (``flow.evaluate_call``)."""
    partition = target.arn.split(":")[1]
    return TrailCall(event_id=f"answer-{uuid.uuid4()}", event_name="UpdateTrail", account=target.account,
                     region=target.region, trail=TrailRef(target.name, target.region, target.arn, partition),
                     actor=Actor(arn=by))  # fmt: skip


def record(rt: Runtime, key: str, fields: Mapping[str, str], answer: Answer) -> None:
    """Write down a person's answer from the command line (``decision#cli:<id>``): who, why, what came of it."""
    try:
        recorded = rt.table.record_decision(key, fields, answer.said)
    except (ClientError, BotoCoreError) as error:  # said, not hidden: the change itself was made
        raise RecordFailed(f"the answer was carried out but could not be recorded: {describe_error(error)}") from error
    if not recorded:
        raise RecordFailed("the answer was carried out but could not be recorded: the state table refused every try")


class RecordFailed(RuntimeError):
    """An answer was carried out, and its record could not be written."""


def since_of(actor: Actor | None) -> int:
    """When an alert's call was made (epoch seconds), as the detector reads it for a revert (0 when not known,
    or too old to say anything about the baselines recorded since)."""
    return change_time(actor.time) if actor else 0


def when(epoch: int) -> str:
    """A stored time, for a person."""
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def as_text(doc: Mapping[str, Any]) -> str:
    """``show``'s answer, for a person."""
    lines = [f"Baseline of {doc['trail_arn']}"]
    who = doc["recorded_by_words"] + (f" ({doc['person']}: {doc['reason'] or 'no reason given'})"
                                      if doc["person"] else "")  # fmt: skip
    lines.append(f"  recorded     {doc['recorded_at'] or 'at an unknown time'} by {who}")
    for name, value in doc["destinations"].items():
        lines.append(f"  {name:<12} {value}")
    for key, value in doc["settings"].items():
        lines.append(f"  {key}: {value}")
    if doc["selectors"] is not None:
        lines.append(f"  selectors    {json.dumps(doc['selectors'], sort_keys=True)}")
    else:
        lines.append(f"  selectors    too large to keep (SHA-256 {doc['selectors_digest']})")
    if doc["snoozed"]:
        lines.append(f"  {doc['snoozed']}")
    return "\n".join(lines)
