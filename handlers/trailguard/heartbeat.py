"""The heartbeat: proof that CloudTrail's events still reach the detector from every watched region.

AWS documents that EventBridge receives CloudTrail's events only while some trail logs in the region, and they
reach the detector only through the rules, targets and bus policy it deployed: a disabled rule looks exactly
like a quiet account. So each scheduled sweep makes, in every watched region, one harmless call that fails:
``StopLogging`` on a trail that does not exist, named ``trailguard-heartbeat-<sweep id>``. Its failed-call
event comes back through the same rules as any tamper; the handler recognizes its own heartbeat (its own
identity *and* the name) and records it. The next sweep raises ``event-pipeline-silent`` for a region whose
heartbeat never came back, once, and says once when it recovers. In organization mode the member accounts'
regions are covered too, each account once every ``MEMBER_ROTATION`` sweeps (once a day with the hourly sweep).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .aws import error_code, explain
from .judge import AccountVerdict
from .rules import Facts
from .rules.event_pipeline_silent import EVENT_PIPELINE_SILENT
from .state_table import StateTable, fingerprint
from .sweep import SweepReport, alert_key

LOG = logging.getLogger(__name__)
PREFIX = "trailguard-heartbeat-"
# The answers that mean the heartbeat was made as intended: the trail does not exist (CloudTrail API reference,
# StopLogging errors), so nothing was stopped, and the failed call is recorded and sent to EventBridge.
EXPECTED = frozenset({"TrailNotFoundException", "InvalidTrailNameException"})
GRACE = 900  # seconds: CloudTrail delivers most events to EventBridge within minutes; a heartbeat is missed after this
MEMBER_ROTATION = 24  # an organization's member accounts get a heartbeat once every this many sweeps each


@dataclass(frozen=True)
class Beat:
    account: str
    region: str
    name: str

    def to_dict(self) -> dict[str, str]:
        return {"account": self.account, "region": self.region, "name": self.name}


def name_for(sweep_id: str) -> str:
    """The heartbeat's trail name: the prefix and the sweep's id, as a trail name may be spelled."""
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in sweep_id)
    return f"{PREFIX}{safe}"[:128]


def named(trail_name: str) -> bool:
    return trail_name.startswith(PREFIX)


def subject(account: str, region: str) -> str:
    """What the sweep reports a region's event pipeline under."""
    return f"pipeline:{account}:{region}"


def send(cloudtrail: Callable[[str], Any], account: str, regions: Iterable[str], sweep_id: str) -> list[Beat]:
    """One failing StopLogging per region; the beats made (an answer other than "no such trail", such as a
    denied call, is logged: that region's heartbeat was not sent)."""
    beats = []
    trail = name_for(sweep_id)
    for region in regions:
        try:
            cloudtrail(region).stop_logging(Name=trail)
        except ClientError as error:
            if error_code(error) not in EXPECTED:
                LOG.warning("heartbeat in %s %s not sent: %s", account, region, explain(error))
                continue
        except BotoCoreError as error:
            LOG.warning("heartbeat in %s %s not sent: %s", account, region, error)
            continue
        else:  # a trail of that name exists: it must not be stopped again; say so
            LOG.warning("heartbeat in %s %s stopped a trail named %s: a person made it", account, region, trail)
        beats.append(Beat(account, region, trail))
    return beats


def silent_report(
    sweep_id: str, places: Iterable[tuple[str, str]], *, table: StateTable, home: str, action: str, now: float,
    names: Mapping[str, str] | None = None,
) -> SweepReport:  # fmt: skip
    """The pipelines whose last heartbeat was sent more than ``GRACE`` seconds ago and never came back, each
    ``event-pipeline-silent``, alerted once; and those reported silent before whose heartbeat came back since,
    said once."""
    from .alerts import PIPELINE, sweep_alert

    places = list(places)
    last = table.heartbeats(places)
    findings, now_printed = [], {}
    for account, region in places:
        beat = last.get((account, region), {})
        sent, seen = beat.get("sent", ""), beat.get("seen", "")
        missed = bool(sent) and seen != sent and now - float(beat.get("sent_at") or now) > GRACE
        if missed:
            when = datetime.fromtimestamp(float(beat.get("sent_at") or 0), tz=UTC).isoformat(timespec="seconds")
            findings.append(EVENT_PIPELINE_SILENT.finding(_silent_message(account, region, when, home),
                                                          Facts(region=region), account=account))  # fmt: skip
        now_printed[subject(account, region)] = fingerprint([EVENT_PIPELINE_SILENT.id] if missed else [])
    before = table.reported(now_printed)
    report = SweepReport(AccountVerdict(places[0][0] if places else "", (), tuple(findings)))
    by_place = {(f.account, f.region): f for f in findings}
    for account, region in places:
        key = subject(account, region)
        if now_printed[key] == before.get(key, ""):
            continue
        found = (by_place[(account, region)],) if (account, region) in by_place else ()
        alert = sweep_alert(alert_key(sweep_id, key, now_printed[key]), found,
                            what=f"the event pipeline from account {account} in {region}", region=region,
                            account=account, action=action if found else "Nothing to do.",
                            trail_name=PIPELINE)  # fmt: skip
        if names and names.get(account):
            alert = replace(alert, account_name=names[account])
        gone = set(before.get(key, "").split(",")) - set(now_printed[key].split(",")) - {""}
        report.alerts.append((key, now_printed[key], replace(alert, resolved=tuple(sorted(gone)))))
    return report


def _silent_message(account: str, region: str, since: str, home: str) -> str:
    return (
        f"No heartbeat came back from account {account} in {region} since {since}: CloudTrail events from there "
        "are not reaching the detector, so a tamper there would go unseen. Check, in that region, that some trail "
        "is logging (EventBridge receives CloudTrail events only then), that trailguard's EventBridge rules are "
        "enabled with their targets (trailguard-TrailChanges to the detector in its home region "
        f"{home}, trailguard-forward-* in its other regions, trailguard-member-* in member accounts, both to the "
        "detector's event bus), and that the hub's bus policy still admits the account: "
        f"aws events list-rules --region {region} --name-prefix trailguard; "
        f"aws cloudtrail describe-trails --region {region}."
    )
