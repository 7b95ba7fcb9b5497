"""The detector's steps for one event, each callable alone: judge a call, run the sweep, shape the result.

``drift_handler.handler`` only wires these together; everything they need from outside (clients, senders,
the state table, configuration) comes in a ``Runtime`` built once per container at the edge.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from . import heartbeat, tamper
from .alerts import (
    MAX_CALLS_CHARS,
    PART,
    Alert,
    attempt_alert,
    delivery_alert,
    drift_alert,
    tamper_alert,
    unjudged_alert,
    whole_commands,
)
from .aws import error_code, explain
from .baseline import Baseline, state_digest
from .config import LAMBDA_ATTEMPTS, LAST_ATTEMPT_AGE, MAX_EVENT_AGE, Deadline, HandlerConfig
from .events import Actor, DeliveryCall, Ignored, Sweep, SweepBatch, TamperCall, TrailCall
from .exemptions import Exemption
from .fix import ActionResult, revert
from .fleet import (
    Order,
    coverage_subject,
    enqueue,
    grouped,
    known_reports,
    listing_report,
    organization_trails,
    owed,
    radius,
    record_coverage,
    shared_from_json,
    shared_json,
    sweep_accounts,
    with_radius,
)
from .judge import NARROWING, CallReading, CallVerdict, Policy, TrailState, evaluate_account, judge_call, logging_gap
from .organization import Account, AccountUnreachable, Directory, MemberAccess
from .read import ClientFactory, ReadsTimedOut, read_call, read_extras, read_trails
from .render.fix import commands, describe_actions
from .rules import REGISTRY, Facts, Finding
from .rules.detector_tampered import tampered
from .rules.logging_gap import LOGGING_GAP
from .rules.no_compliant_trail import NO_COMPLIANT_TRAIL
from .send import Outcome, Sender, broadcast, deliver
from .snooze import snoozed_findings
from .state_table import Claim, StateTable, Unprocessed, fingerprint
from .sweep import SweepReport, account_subject, plan_sweep

REVERTING = "Reverting (REMEDIATION_MODE=on); this alert was stored before the revert finished: check the trail."
SWEEP_ACTION = "Nothing: the sweep alerts; reverts follow the CloudTrail events themselves."
PIPELINE_ACTION = "Nothing: a person must find what stopped the events (see the finding); trailguard cannot."
GAP_ACTION = "Nothing to revert: the trail is back. The events of the gap were never logged and cannot be recovered."
LOG = logging.getLogger(__name__)
TABLE_GONE = frozenset({"ResourceNotFoundException", "AccessDeniedException"})  # not a moment's trouble: no retry
Status = Literal["drift", "compliant", "ignored", "failed-attempt", "duplicate", "heartbeat"]
Clients = Callable[[str, str], Any]


@dataclass
class Runtime:
    """What the steps use from outside, built once per Lambda container."""

    config: HandlerConfig
    account: str
    home: str  # the detector's own region
    cloudtrail: ClientFactory
    table: StateTable
    senders: Mapping[str, Sender]
    regions: Callable[[], list[str]]
    identity: Callable[[], str] = lambda: ""  # the detector's own caller ARN (STS), asked once when needed
    others: Callable[[str, str], Any] | None = None  # (service, region) -> client, for a fix of another service
    pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(max_workers=16))
    deadline: Deadline = field(default_factory=lambda: Deadline.of(None))  # the handler sets it per invocation
    access: MemberAccess | None = None  # organization mode: the member accounts, through their role
    directory: Directory | None = None  # organization mode: the organization's accounts and names
    sqs: Any = None  # organization mode with SWEEP_QUEUE_URL: the sweep's fan-out
    function_arn: str = ""  # the detector's own function, which its environment cannot name
    snoozes: tuple[Exemption, ...] | None = None  # the running snoozes, read once per invocation (``policy``)
    apply_snoozes: bool = True  # False: a person's answer, which judges the trail by the operator's policy alone

    def fresh(self, deadline: Deadline) -> None:
        """A new invocation: its deadline, and snoozes read again when first needed."""
        self.deadline, self.snoozes = deadline, None

    def baselines(self, arns: list[str]) -> Mapping[str, Baseline]:
        """The trails' stored baselines, read together with the snoozes (one BatchGetItem), which ``policy``
        then applies without reading them again."""
        if not self.apply_snoozes:
            return self.table.baselines(arns)
        found, snoozes = self.table.baselines_and_snoozes(arns)
        self.snoozes = tuple(s.exemption() for s in snoozes)
        return found

    @property
    def policy(self) -> Policy:
        """The operator's policy (``config.policy``) with the snoozes running now, each a live exemption of its
        trail. Snoozes that cannot be read are left out (logged): the findings are then alerted, not lost."""
        if not self.apply_snoozes:
            return self.config.policy
        if self.snoozes is None:
            try:
                self.snoozes = tuple(s.exemption() for s in self.table.snoozes())
            except (ClientError, BotoCoreError, Unprocessed) as error:
                LOG.warning("snoozes could not be read, so none applies: %s", error)
                self.snoozes = ()
        base = self.config.policy
        return replace(base, exemptions=(*base.exemptions, *self.snoozes)) if self.snoozes else base

    def client(self, service: str, region: str) -> Any:
        """A client of ``service`` in ``region``: CloudTrail's from its cache, another's from ``others``."""
        if service == "cloudtrail" or self.others is None:
            return self.cloudtrail(region)
        return self.others(service, region)

    def clients_of(self, account: str) -> Clients:
        """``(service, region) -> client`` in ``account`` (``AccountUnreachable`` when its role cannot be
        assumed)."""
        if self.access is None or account == self.account:
            return self.client
        return self.access.clients(account)

    def cloudtrail_of(self, account: str) -> ClientFactory:
        if self.access is None or account == self.account:
            return self.cloudtrail
        clients = self.access.clients(account)
        return lambda region: clients("cloudtrail", region)

    def account_name(self, account: str) -> str:
        return self.directory.name(account) if self.directory is not None else ""

    def outside(self, account: str) -> str:
        """Why a call made in ``account`` is not this detector's to judge, or ""."""
        if account == self.account:
            return ""
        if self.directory is None:
            return f"the call was made in account {account!r}; this detector watches {self.account}"
        return self.directory.outside(account)

    @functools.cached_property
    def parts(self) -> tamper.Parts:
        """The detector's own parts: ``DETECTOR_RESOURCES``, and what its own configuration names (the function
        itself, its table, topic and Slack secret), so that a part is known even where the list misses it."""
        function = self.function_arn.split(":")
        own = [":".join(function[:7])] if len(function) >= 7 else []  # an alias or version names the same function
        if own:
            own.append(f"arn:{function[1]}:dynamodb:{self.home}:{self.account}:table/{self.config.state_table}")
        own += [self.config.alert_topic_arn, *tamper.secret_patterns(self.config.slack_secret_arn)]
        return self.config.detector.with_(own)

    def watched(self) -> list[str]:
        """The regions an organization sweep reads: ``WATCHED_REGIONS``, else those enabled for the detector."""
        return list(self.config.watched_regions) or self.regions()

    def is_own(self, actor: Actor, account: str = "") -> bool:
        """Whether a call was made by the detector itself: its role, any session; in a member account, a session
        of the member role that the detector opened, told by its access key (one STS issued to the detector and
        recorded then), since whoever controls the member account could open a look-alike session."""
        actor_arn = actor.arn
        if self.access is not None and account and account != self.account:
            if actor_arn != self.access.session_arn(account):
                return False
            try:
                return self.table.issued(actor.access_key)
            except (ClientError, BotoCoreError, Unprocessed) as error:  # judged then: the revert budget stops a loop
                LOG.warning("could not tell whether %s is the detector's own session: %s", actor_arn, error)
                return False
        own = self.identity()
        if ":assumed-role/" in own:
            own = own.rsplit("/", 1)[0] + "/"
            return bool(actor_arn) and actor_arn.startswith(own)
        return bool(own) and actor_arn == own


@dataclass(frozen=True)
class HandlerResult:
    """What the handler returns (``to_dict``), and the deliveries that failed and must be retried."""

    status: Status
    event_id: str
    event_name: str
    trail_arn: str | None = None
    findings: tuple[Finding, ...] = ()
    actions: tuple[ActionResult, ...] = ()
    notified: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    reason: str | None = None  # when ignored
    alerts: tuple[str, ...] | None = None  # the sweep: the summaries it sent
    extra: Mapping[str, Any] = field(default_factory=dict)  # more keys of the answer (the organization sweep's)
    account: str = ""  # where the call was made (the detector's own account for a sweep)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": self.status,
            "event_id": self.event_id,
            "event_name": self.event_name,
            "account": self.account or None,
            "trail_arn": self.trail_arn,
            "findings": [_finding(f) for f in self.findings],
            "actions": [a.to_dict() for a in self.actions],
            "notified": list(self.notified),
        }
        if self.reason is not None:
            body["reason"] = self.reason
        if self.alerts is not None:
            body["alerts"] = list(self.alerts)
        return {**body, **self.extra}


def _finding(f: Finding) -> dict[str, Any]:
    exempt = f.waiver.reason if f.waiver and f.exempt else None
    return {"rule": f.rule, "severity": f.severity, "message": f.message, "trail_arn": f.trail_arn,
            "account": f.account, "exempt": exempt}  # fmt: skip


def ignored(intake: Ignored) -> HandlerResult:
    return HandlerResult("ignored", intake.event_id, intake.event_name, reason=intake.reason)


def _failures(outcome: Outcome) -> tuple[str, ...]:
    return tuple(f"{d.channel}: {d.detail}" for d in outcome.failed)


class RetryLater(RuntimeError):
    """The trail could not be read now (throttled, no answer in time): raised before Lambda's last attempt,
    after the claim was released, so that Lambda retries the event instead of settling for a weaker verdict."""


def evaluate_call(call: TrailCall, rt: Runtime, settle: Callable[[], bool] = lambda: True) -> CallVerdict:
    """Read the named trail, its baseline and (only when it is no longer compliant) the account's other
    multi-region trails live, and judge them. When reads failed for now or ran out of time, ``RetryLater``
    unless ``settle()`` says this is the last chance: then the trail is judged on what could be read, and
    the verdict's ``unread`` says what could not."""
    ref = call.trail
    unread: list[str] = []

    def not_now(problems: list[str]) -> None:
        if problems and not settle():
            raise RetryLater("; ".join(problems))
        unread.extend(problems)

    try:
        clients = rt.clients_of(call.account)
        cloudtrail: ClientFactory = lambda region: clients("cloudtrail", region)  # noqa: E731
    except AccountUnreachable as error:  # the member role could not be assumed: not evaluable, and said why
        not_now([str(error)] if error.retry else [])
        verdict = judge_call(ref.name, ref.arn, ref.region, call.account, CallReading(None, None, error=str(error)),
                             rt.policy)  # fmt: skip
        assert verdict is not None
        return replace(verdict, unread="; ".join(unread))
    try:
        reading = read_call(ref.name, ref.arn, ref.region, cloudtrail, reads_trail=call.event_name != "DeleteTrail",
                            baselines=rt.baselines, pool=rt.pool, clients=clients,
                            time_left=rt.deadline.for_reading, account=call.account)  # fmt: skip
    except ReadsTimedOut as error:
        not_now([str(error)])
        reading = CallReading(None, None, error=str(error))
    not_now(list(reading.transient))
    policy = rt.policy  # the snoozes came with the baseline, in the same read
    verdict = judge_call(ref.name, ref.arn, ref.region, call.account, reading, policy)
    if verdict is None:
        others: list[TrailState] = []
        problems: list[str] = []
        try:
            others = read_trails(cloudtrail, reading.others(), call.account, clients=clients,
                                 time_left=rt.deadline.for_reading, transient=problems)  # fmt: skip
        except ReadsTimedOut as error:
            problems.append(str(error))
        not_now(problems)
        verdict = judge_call(ref.name, ref.arn, ref.region, call.account, reading, policy, others)
    assert verdict is not None  # given the other trails, the judgement is complete
    return replace(verdict, unread="; ".join(unread))


def handle_call(call: TrailCall, rt: Runtime) -> HandlerResult:
    """Judge one watched call, put the trail back if the operator opted in, and tell people, once."""
    return replace(_handle_call(call, rt), account=call.account)


def handle_delivery(call: DeliveryCall, rt: Runtime) -> HandlerResult:
    """A call on a bucket, KMS key or log group: the trails of the account that use it (as the region's
    DescribeTrails lists them), read and judged now; an alert when one no longer delivers or encrypts."""
    if any(rt.parts.owned(arn) for _, arn in call.parts):  # the detector's own key or log group
        return handle_tamper(call, rt)
    outside = "" if call.service == "organizations" else rt.outside(call.account)  # a leaver is outside now
    if outside or call.failed:
        why = outside or f"the call failed ({call.error_code}), so nothing changed"
        return replace(ignored(Ignored(why, call.event_id, call.event_name)), account=call.account)
    if call.service == "organizations":
        return _reach_removed(call, rt)
    try:
        clients = rt.clients_of(call.account)
        listed = clients("cloudtrail", call.region).describe_trails(includeShadowTrails=True).get("trailList", [])
        using = [t for t in listed if _uses(t, call.service, call.resource)]
        states = read_trails(lambda region: clients("cloudtrail", region), using, call.account, clients=clients,
                             time_left=rt.deadline.for_reading)  # fmt: skip
    except (AccountUnreachable, ClientError, BotoCoreError, ReadsTimedOut) as error:
        raise RetryLater(f"the trails using {call.service} {call.resource} could not be read: {error}") from error
    if not using:
        why = f"no trail of account {call.account} in {call.region} uses {call.service} {call.resource}"
        return replace(ignored(Ignored(why, call.event_id, call.event_name)), account=call.account)
    verdict = evaluate_account(call.account, states, rt.policy, call.region)
    findings = tuple(f for t in verdict.trails for f in t.findings)
    counted = tuple(f for f in findings if f.counted)
    if not counted:
        return HandlerResult("compliant", call.event_id, call.event_name, findings=findings, account=call.account)
    first = next(t.trail for t in verdict.trails if t.counted)
    alert = _named(delivery_alert(call.event_id, call.event_name, service=call.service, resource=call.resource,
                                  account=call.account, region=call.region, actor=call.actor, findings=counted,
                                  trail_name=first.name, trail_arn=first.arn), rt)  # fmt: skip
    reported = {t.trail.arn: fingerprint(f.rule for f in t.counted) for t in verdict.trails if t.counted}
    outcome = deliver(alert, rt.senders, rt.table, rt.pool, lease_ms=rt.deadline.ms(), time_left=rt.deadline.left,
                      then=functools.partial(rt.table.set_reported, reported))  # fmt: skip
    status: Status = "duplicate" if outcome.duplicate else "drift"
    return HandlerResult(status, call.event_id, call.event_name, first.arn, findings, notified=outcome.delivered,
                         failed=_failures(outcome), account=call.account)  # fmt: skip


def handle_tamper(call: TamperCall | DeliveryCall, rt: Runtime) -> HandlerResult:
    """A call on a part of the detector itself: ``detector-tampered`` (critical) on every channel still able to
    carry it (each channel is sent to on its own, so a rewritten Slack secret still leaves email, and an
    unsubscribed address still leaves Slack). CloudFormation's own calls, made for a stack deployment, are not
    tamper; a failed call is a failed attempt."""
    hit = [(kind, arn) for kind, arn in call.parts if rt.parts.owned(arn)]
    why = rt.outside(call.account)
    if not hit:
        why = why or "the call named no part of the detector"
    elif call.actor.invoked_by == tamper.CLOUDFORMATION:
        why = why or _own_deployment(call, rt)
    if why:
        return replace(ignored(Ignored(why, call.event_id, call.event_name)), account=call.account)
    event_name = tamper.base_name(call.event_name)
    kind, first = hit[0]
    part = f"{PART}{tamper.KINDS[kind].what} {tamper.name_in(kind, first)}"
    if call.failed:
        alert = tamper_alert(call.event_id, call.event_name, part=part, account=call.account, region=call.region,
                             actor=call.actor, findings=(), error=call.error_code)  # fmt: skip
        findings: tuple[Finding, ...] = ()
    else:
        findings = tuple(tampered(event_name, k, arn, caller=call.actor.arn, region=call.region, account=call.account)
                         for k, arn in hit)  # fmt: skip
        alert = tamper_alert(call.event_id, call.event_name, part=part, account=call.account, region=call.region,
                             actor=call.actor, findings=findings)  # fmt: skip
    try:
        outcome = deliver(_named(alert, rt), rt.senders, rt.table, rt.pool, lease_ms=rt.deadline.ms(),
                          time_left=rt.deadline.left)  # fmt: skip
    except ClientError as error:  # the table deleted or denied (maybe by this very call): send all the same
        if error_code(error) not in TABLE_GONE:
            raise
        LOG.warning("alert %s: the state table cannot be used (%s): sent without a record", alert.key, error)
        outcome = broadcast(_named(alert, rt), rt.senders, rt.pool)
    status: Status = "duplicate" if outcome.duplicate else "failed-attempt" if call.failed else "drift"
    return HandlerResult(status, call.event_id, call.event_name, None, findings, notified=outcome.delivered,
                         failed=_failures(outcome), account=call.account)  # fmt: skip


DEPLOY_WINDOW = 3600  # seconds: a call CloudFormation made up to an hour into a detector stack's operation


def _own_deployment(call: TamperCall | DeliveryCall, rt: Runtime) -> str:
    """Why a call CloudFormation made on a part is the detector's own deployment: one of its stacks (as
    ``DETECTOR_RESOURCES`` names them) was being created, updated or deleted in the account when the call was
    made; "" otherwise. Any stack's operation carries CloudFormation's ``invokedBy``, so another stack that
    attaches a policy to the detector's role, say, is tamper. A stack list that cannot be read is not proof."""
    regions = [call.region]
    if call.service == "iam":  # IAM is global: the stack that changed a role may be in any region it deploys to
        regions = list(dict.fromkeys([rt.home, *rt.config.watched_regions, call.region]))
    at = change_time(call.actor.time) or time.time()
    try:
        clients = rt.clients_of(call.account)
        for region in regions:
            for stack in _stacks(clients("cloudformation", region)):
                if rt.parts.owned(tamper.identity_of("stack", str(stack.get("StackId", "")))) and _during(stack, at):
                    return f"CloudFormation's own call, deploying the detector's stack {stack.get('StackName')}"
    except (AccountUnreachable, ClientError, BotoCoreError) as error:
        LOG.warning("%s: could not tell whether the detector's stacks were being deployed: %s", call.event_id, error)
    return ""


def _stacks(cloudformation: Any) -> Iterable[Mapping[str, Any]]:
    """Every stack ListStacks knows in the region (deleted ones for 90 days), page by page."""
    token = ""
    while True:
        page = cloudformation.list_stacks(**({"NextToken": token} if token else {}))
        yield from page.get("StackSummaries", [])
        token = page.get("NextToken", "")
        if not token:
            return


def _during(stack: Mapping[str, Any], at: float) -> bool:
    """Whether a stack's operation was under way at ``at`` (seconds): in progress now, or begun at most
    ``DEPLOY_WINDOW`` before it (and not after it, give or take a minute of clock)."""
    if str(stack.get("StackStatus", "")).endswith("_IN_PROGRESS"):
        return True
    begun = [t.timestamp() for k in ("CreationTime", "LastUpdatedTime", "DeletionTime")
             if isinstance(t := stack.get(k), datetime)]  # fmt: skip
    return any(at - DEPLOY_WINDOW <= t <= at + 60 for t in begun)


REACH = {
    "LeaveOrganization": "account {account} left the organization, so its organization trail no longer logs its "
                         "events (and an organization detector no longer serves it)",
    "DisableAWSServiceAccess": "CloudTrail's trusted access to the organization was disabled, so organization "
                               "trails stop logging member accounts",
    "DeregisterDelegatedAdministrator": "CloudTrail's delegated administrator was deregistered, so the organization "
                                        "trails it managed can no longer be managed from it",
}  # fmt: skip


def _reach_removed(call: DeliveryCall, rt: Runtime) -> HandlerResult:
    """An organization-level call that removed CloudTrail's reach: a logging gap from now on, alerted."""
    what = REACH[call.event_name].format(account=call.account)
    message = (f"{call.event_name} by {call.actor.arn or 'an unknown caller'}: {what}. Events from the accounts "
               "concerned are not logged by the organization's trails until this is undone.")  # fmt: skip
    gap = LOGGING_GAP.finding(message, Facts(region=call.region), account=call.account)
    alert = _named(delivery_alert(call.event_id, call.event_name, service="organizations", resource=call.resource,
                                  account=call.account, region=call.region, actor=call.actor, findings=(gap,),
                                  trail_name="(organization)", trail_arn=None,
                                  action="Nothing: a person must undo it in AWS Organizations (see the finding)."),
                   rt)  # fmt: skip
    outcome = deliver(alert, rt.senders, rt.table, rt.pool, lease_ms=rt.deadline.ms(), time_left=rt.deadline.left)
    status: Status = "duplicate" if outcome.duplicate else "drift"
    return HandlerResult(status, call.event_id, call.event_name, None, (gap,), notified=outcome.delivered,
                         failed=_failures(outcome), account=call.account)  # fmt: skip


def _uses(trail: Mapping[str, Any], service: str, resource: str) -> bool:
    """Whether ``trail`` (a DescribeTrails item) delivers to, or encrypts with, the named resource."""
    if service == "s3":
        return trail.get("S3BucketName") == resource
    if service == "kms":
        key = str(trail.get("KmsKeyId") or "")
        return bool(key) and (
            key == resource or key.endswith(f"/{resource}") or resource.endswith(key.rsplit("/", 1)[-1])
        )
    group = str(trail.get("CloudWatchLogsLogGroupArn") or "")
    return f":log-group:{resource}:" in f"{group}:" or group.endswith(f":log-group:{resource}")


def _not_judged(call: TrailCall, rt: Runtime) -> HandlerResult | None:
    """A call that is not this detector's to judge (another organization's), or its own (a heartbeat, which is
    recorded; a revert, which is not judged again, so it cannot loop); None for any other."""
    outside = rt.outside(call.account)
    if outside:
        return ignored(Ignored(outside, call.event_id, call.event_name))
    if _own_heartbeat(call, rt):
        rt.table.heartbeat_seen(call.account, call.region, call.trail.name)
        return HandlerResult("heartbeat", call.event_id, call.event_name, call.trail.arn)
    if rt.config.remediation_mode == "on" and rt.is_own(call.actor, call.account):  # only "on" makes calls
        return ignored(Ignored("the detector's own revert: not judged again, so it cannot loop", call.event_id,
                               call.event_name))  # fmt: skip
    return None


def _handle_call(call: TrailCall, rt: Runtime) -> HandlerResult:
    skipped = _not_judged(call, rt)
    if skipped is not None:
        return skipped
    if call.failed:
        outcome = deliver(_named(attempt_alert(call), rt), rt.senders, rt.table, rt.pool, lease_ms=rt.deadline.ms(),
                          time_left=rt.deadline.left)  # fmt: skip
        status: Status = "duplicate" if outcome.duplicate else "failed-attempt"
        return HandlerResult(status, call.event_id, call.event_name, call.trail.arn, notified=outcome.delivered,
                             failed=_failures(outcome))  # fmt: skip
    claim = rt.pool.submit(rt.table.claim, call.event_id, rt.deadline.ms())  # taken while the trail is read

    def settle() -> bool:  # no retry is coming, or none is needed: judge what could be read
        taken = claim.result()
        return taken.duplicate or bool(taken.alert_json) or last_attempt(taken.attempt, call.actor.time)

    try:
        verdict = evaluate_call(call, rt, settle)
    except Exception:  # RetryLater, or the trail could not be read at all
        taken = claim.result()
        if taken.duplicate:
            return HandlerResult("duplicate", call.event_id, call.event_name, call.trail.arn)
        if not taken.alert_json:
            rt.table.release(call.event_id, taken.token)
            raise
        verdict = CallVerdict(None, ())  # a retry owes the alert the first attempt stored, read or not
    taken = claim.result()
    if taken.duplicate:
        return HandlerResult("duplicate", call.event_id, call.event_name, verdict.trail_arn)
    try:
        return _judged(call, verdict, taken, rt)
    except BaseException:  # whatever it is, Lambda retries: give the lease back so the retry is not a "twin"
        rt.table.release(call.event_id, taken.token)
        raise


def _judged(call: TrailCall, verdict: CallVerdict, taken: Claim, rt: Runtime) -> HandlerResult:
    """The claimed event, judged: revert if asked, then store and send the alert (or the stored one)."""
    if taken.alert_json:  # a retry: the first attempt judged (and reverted); finish sending what it stored
        stored = Alert.from_json(taken.alert_json)
        record = (functools.partial(_reported, stored.trail_arn, stored.rules, rt, stored.account)
                  if stored.kind == "drift" else None)  # fmt: skip
        outcome = deliver(stored, rt.senders, rt.table, rt.pool, taken, time_left=rt.deadline.left, then=record)
        return HandlerResult("drift", call.event_id, call.event_name, verdict.trail_arn, verdict.findings,
                             (), outcome.delivered, _failures(outcome))  # fmt: skip
    counted, results = verdict.counted, list[ActionResult]()
    then: Callable[[], None] | None
    if verdict.unread:  # Lambda's last attempt, and the trail (or its baseline) still could not be read
        alert, then = _named(unjudged_alert(call, verdict.unread, taken.attempt), rt), None  # not all it found
    elif not counted:
        if verdict.trail is not None and all(REGISTRY[f.rule].advisory for f in verdict.findings):
            _keep_baseline(verdict.trail, verdict.baseline, rt, call.account)  # only a compliant trail is a baseline
        gap = _gap(call, verdict, rt)
        held = snoozed_findings(verdict.findings)
        if gap is None:
            if held:
                LOG.info("%s %s: findings of %s held back by a snooze (%s)", call.event_name, call.event_id,
                         verdict.trail_arn, held)  # fmt: skip
            rt.table.finish(call.event_id, taken.token, (), budget=rt.deadline.left)
            return HandlerResult("compliant", call.event_id, call.event_name, verdict.trail_arn, verdict.findings)
        verdict = replace(verdict, findings=(*verdict.findings, gap))
        alert = _shown(_named(drift_alert(call, (gap,), verdict.trail_arn, GAP_ACTION), rt), verdict, rt)
        then = None  # nothing for the sweep to record
    else:
        results, alert = _reverted(call, verdict, taken, rt)
        then = functools.partial(_reported, verdict.trail_arn, [f.rule for f in counted], rt, call.account)
    outcome = deliver(alert, rt.senders, rt.table, rt.pool, taken, time_left=rt.deadline.left, then=then)
    return HandlerResult("drift", call.event_id, call.event_name, verdict.trail_arn, verdict.findings,
                         tuple(results), outcome.delivered, _failures(outcome))  # fmt: skip


def _reverted(call: TrailCall, verdict: CallVerdict, taken: Claim, rt: Runtime) -> tuple[list[ActionResult], Alert]:
    """The revert the mode asks for (none, said, or made and verified), and the alert that says it."""
    mode, counted = rt.config.remediation_mode, verdict.counted
    region = verdict.trail.home_region if verdict.trail else call.trail.region
    widened = _blast_radius(call, verdict, rt)
    if mode == "on":  # stored first: if this invocation dies during the revert, the retry still tells people
        first = _shown(widened(_named(drift_alert(call, counted, verdict.trail_arn, REVERTING), rt)), verdict, rt)
        rt.table.announce(call.event_id, taken.token, first.to_json(), ())
        _note_own_session(call.account, rt)
    results, planned = revert(verdict, mode, rt.policy, rt.table,
                              lambda service, where: rt.clients_of(call.account)(service, where),  # noqa: PLW0108 - the member role is assumed only if a revert is made
                              since=change_time(call.actor.time), time_left=rt.deadline.for_reading,
                              account=call.account)  # fmt: skip
    said = {r.result for r in results}
    outcome = "reverted" if said == {"done"} else "would-revert" if said == {"dry-run"} else ""
    action = describe_actions(mode, results, planned.why_not, region, settled=planned.settled, apart=bool(outcome))
    alert = _shown(widened(_named(drift_alert(call, counted, verdict.trail_arn, action), rt)), verdict, rt)
    if outcome:  # the calls shown whole, on their own; the headline says what happened
        made = commands([(r.action, r.arguments) for r in results], region)
        alert = replace(alert, outcome=outcome, calls=whole_commands(made, MAX_CALLS_CHARS))
    if any(r.result == "suspended" for r in results):
        alert = replace(alert, severity="critical")
    if mode == "on":
        rt.table.announce(call.event_id, taken.token, alert.to_json(), (), replace_alert=True)
    return results, alert


def _shown(alert: Alert, verdict: CallVerdict, rt: Runtime) -> Alert:
    """A drift alert with what it shows of the trail (so that a person's answer acts only while the trail is
    still as shown) and the trail's snooze, when one runs: what it held back, or that it runs (a deletion, say,
    is alerted during a snooze, and says so)."""
    trail = verdict.trail
    state = state_digest(trail.description, trail.status, trail.selectors) if trail else "gone"
    running = [e.reason for e in rt.snoozes or () if alert.trail_arn and e.trail == alert.trail_arn]
    held = snoozed_findings(verdict.findings) or "; ".join(running)
    return replace(alert, state=state, snoozed=held)


def _own_heartbeat(call: TrailCall, rt: Runtime) -> bool:
    """Whether the call is the detector's own heartbeat: a failed StopLogging of a heartbeat name, by the
    detector (its role, or in a member account the member role's session it opens). Anyone else's is a failed
    attempt like any other."""
    if not (call.failed and call.event_name == "StopLogging" and heartbeat.named(call.trail.name)):
        return False
    if rt.access is not None and call.account != rt.account:
        return call.actor.arn == rt.access.session_arn(call.account)
    return rt.is_own(call.actor, call.account)


def _heartbeats(sweep: Sweep, rt: Runtime, places: list[tuple[str, Callable[[str], Any]]], regions: list[str],
                names: Mapping[str, str] | None = None) -> tuple[SweepReport, list[heartbeat.Beat]]:  # fmt: skip
    """For each account (with its CloudTrail clients): the pipelines found silent since the last heartbeat,
    then a new heartbeat in each of ``regions``."""
    report = heartbeat.silent_report(sweep.event_id, [(a, r) for a, _ in places for r in regions], table=rt.table,
                                     home=rt.home, action=PIPELINE_ACTION, now=time.time(), names=names)  # fmt: skip
    beats = []
    for account, cloudtrail in places:
        for beat in heartbeat.send(cloudtrail, account, regions, sweep.event_id):
            rt.table.heartbeat_sent(beat.account, beat.region, beat.name)
            beats.append(beat)
    return report, beats


def _gap(call: TrailCall, verdict: CallVerdict, rt: Runtime) -> Finding | None:
    """The logging gap a successful narrowing call left, now that the trail reads compliant again (counted)."""
    if verdict.trail is None or call.event_name not in NARROWING:
        return None
    gap = logging_gap(call.event_name, call.parameters, call.actor.arn, call.actor.time, verdict.trail,
                      rt.policy, call.account)  # fmt: skip
    return gap if gap is not None and gap.counted else None


def _note_own_session(account: str, rt: Runtime) -> None:
    """Before reverting in a member account: record the access key of the member-role session the revert is
    made with, so that the events of the revert are known as the detector's own (``Runtime.is_own``). Best
    effort: if it fails, those events are judged again (the trail is compliant by then, or the revert budget
    stops a loop)."""
    if rt.access is None or account == rt.account:
        return
    try:
        access_key, expires = rt.access.session_key(account)
        rt.table.note_issued(access_key, expires)
    except (AccountUnreachable, ClientError, BotoCoreError, Unprocessed) as error:
        LOG.warning("the revert's session in %s was not recorded: %s", account, error)


def _named(alert: Alert, rt: Runtime) -> Alert:
    """The alert with its account's name in the organization, when there is one."""
    name = rt.account_name(alert.account) if rt.directory is not None else ""
    return replace(alert, account_name=name) if name else alert


def _blast_radius(call: TrailCall, verdict: CallVerdict, rt: Runtime) -> Callable[[Alert], Alert]:
    """For a regression of an organization trail (organization mode): the alert says how many accounts lost
    their only compliant trail, and names them, from what the sweeps recorded about each account's own trails.
    Anything else: the alert as it is."""
    described = verdict.trail.description if verdict.trail else verdict.baseline.trail if verdict.baseline else {}
    if rt.directory is None or not described.get("IsOrganizationTrail"):
        return lambda alert: alert
    try:
        members = [a for a in rt.directory.accounts() if a.id != call.account]
        covered = rt.table.reported([coverage_subject(a.id) for a in members])
        organization = rt.directory.organization()
    except (ClientError, BotoCoreError, Unprocessed) as error:
        LOG.warning("blast radius of %s not known: %s", verdict.trail_arn, error)
        return lambda alert: alert
    covering = [t.trail.name for t in verdict.others if t.compliant and t.trail.description.get("IsOrganizationTrail")]
    found = replace(radius(members, covered, covering), total=len(members) + 1)
    if not covering and any(f.rule == NO_COMPLIANT_TRAIL.id for f in verdict.counted):  # the owner is uncovered too
        found = replace(found, lost=((call.account, rt.account_name(call.account)), *found.lost))
    return lambda alert: with_radius(alert, found, organization)


def last_attempt(attempt: int, event_time: str, now: float | None = None) -> bool:
    """Whether Lambda will not retry after this attempt. ``attempt`` counts this event's claims; an attempt
    whose claim failed (DynamoDB throttled) is not counted, so a second claim made long after the call was
    made (Lambda's third attempt comes at least three minutes after its first) is taken as the last too."""
    if attempt >= LAMBDA_ATTEMPTS:
        return True
    made = change_time(event_time, now)
    return attempt >= 2 and made > 0 and (time.time() if now is None else now) - made >= LAST_ATTEMPT_AGE


def _reported(trail_arn: str | None, rules: Iterable[str], rt: Runtime, account: str) -> None:
    """Remember what every channel was told about the trail and the account, so the sweep need not repeat it.
    Made before the alert is marked done: if it fails, Lambda's retry makes it (and sends nothing again)."""
    rules = list(rules)
    reported = {account_subject(account, rt.account): fingerprint(r for r in rules if REGISTRY[r].scope != "trail")}
    if trail_arn:
        reported[trail_arn] = fingerprint(r for r in rules if REGISTRY[r].scope == "trail")
    rt.table.set_reported(reported)


def change_time(timestamp: str, now: float | None = None) -> int:
    """When the call was made (``eventTime``, epoch seconds), for "the baseline predates the change"; 0 (not
    known) when it cannot be read, or when it is older than any live delivery can be (Lambda gives up on an
    event after ``MAX_EVENT_AGE``): a replayed record's time says nothing about the baselines stored since."""
    try:
        when = int(datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return 0
    return when if (time.time() if now is None else now) - when <= MAX_EVENT_AGE else 0


def _keep_baseline(state: TrailState, stored: Baseline | None, rt: Runtime, account: str) -> None:
    """Remember a compliant trail as it is right after a watched call (a baseline the revert does not trust
    for destinations), unless the stored baseline already says exactly that. Best effort: a baseline that
    cannot be stored must not stop the alert."""
    if state.selectors is None or (stored is not None and stored.same_trail(state.description, state.selectors)):
        return
    try:
        extras = read_extras(rt.cloudtrail_of(account)(state.home_region), state.arn)
        if extras is not None:
            rt.table.save_baselines([Baseline.of(state.description, state.selectors, *extras, source="event")])
    except (ClientError, BotoCoreError, Unprocessed, AccountUnreachable) as error:
        LOG.warning("baseline of %s not stored: %s", state.arn, error)


def _finish_sweep_alert(key: str, rt: Runtime, notified: set[str], failed: list[str]) -> bool:
    """Send a sweep alert an earlier attempt stored but did not finish, though the sweep would not raise it now
    (the trail changed meanwhile): the channels still missing get what the others got, and what it reports is
    recorded. False when nothing was owed (it was never stored, so never sent)."""
    taken = rt.table.claim(key, rt.deadline.ms())
    if taken.duplicate:
        return True
    try:
        if not taken.alert_json:  # never stored, so never sent: nothing is owed (a twin may still send it)
            rt.table.release(key, taken.token)
            return False
        stored = Alert.from_json(taken.alert_json)
        outcome = deliver(stored, rt.senders, rt.table, rt.pool, taken, time_left=rt.deadline.left,
                          then=functools.partial(rt.table.set_reported, stored.reported))  # fmt: skip
    except BaseException:
        rt.table.release(key, taken.token)
        raise
    notified.update(outcome.delivered)
    failed.extend(_failures(outcome))
    return True


def _send_sweep(note: str, alerts: list[Alert], rt: Runtime, notified: set[str], failed: list[str]) -> list[str]:
    """Send the sweep's alerts, each noted first (under ``note``) so that a retry finishes it; the keys of
    those that some channel did not take."""
    unfinished = []
    for alert in alerts:
        rt.table.note_sweep_alert(note, alert.key)
        outcome = deliver(alert, rt.senders, rt.table, rt.pool, lease_ms=rt.deadline.ms(), time_left=rt.deadline.left,
                          then=functools.partial(rt.table.set_reported, alert.reported))  # fmt: skip
        notified.update(outcome.delivered)
        failed.extend(_failures(outcome))
        if outcome.failed:
            unfinished.append(alert.key)
    return unfinished


def _sweep_result(sweep: Sweep, rt: Runtime, reports: list[SweepReport], alerts: list[Alert], *, notified: set[str],
                  failed: list[str], **extra: Any) -> HandlerResult:  # fmt: skip
    findings = tuple(f for r in reports for f in r.verdict.all_findings)
    return HandlerResult(
        "drift" if any(r.verdict.counted for r in reports) else "compliant",
        sweep.event_id,
        "Scheduled Event",
        findings=findings,
        notified=tuple(sorted(notified)),
        failed=tuple(failed),
        alerts=tuple(a.summary for a in alerts),
        extra=extra,
        account=sweep.account or rt.account,
    )


def handle_sweep(sweep: Sweep, rt: Runtime) -> HandlerResult:
    """The scheduled backstop: audit every enabled region and report what changed since last time (in
    organization mode, every account of the organization)."""
    if rt.access is not None:
        return _sweep_organization(sweep, rt)
    report = plan_sweep(
        sweep.event_id,
        cloudtrail=rt.cloudtrail,
        regions=rt.regions(),
        home=rt.home,
        caller_account=lambda: rt.account,
        policy=rt.policy,
        table=rt.table,
        action=SWEEP_ACTION,
        clients=rt.client,
    )
    pipeline, beats = _heartbeats(sweep, rt, [(rt.account, rt.cloudtrail)], _heartbeat_regions(rt))
    alerts = owed([report, pipeline])
    notified: set[str] = set()
    failed: list[str] = []
    _finish_begun(sweep.event_id, {a.key for a in alerts}, rt, notified, failed)
    _send_sweep(sweep.event_id, alerts, rt, notified, failed)
    return _sweep_result(sweep, rt, [report, pipeline], alerts, notified=notified, failed=failed,
                         heartbeats=[b.to_dict() for b in beats])  # fmt: skip


def _heartbeat_regions(rt: Runtime) -> list[str]:
    """Where the forwarding rules are (``WATCHED_REGIONS``), else the detector's own region alone: a region
    without a rule would never answer."""
    return list(rt.config.watched_regions) or [rt.home]


def _rotated(sweep: Sweep, members: list[Account]) -> list[Account]:
    """The member accounts whose turn for a heartbeat this sweep is (by the hour of the scheduled event)."""
    try:
        turn = datetime.fromisoformat(sweep.time.replace("Z", "+00:00")).hour % heartbeat.MEMBER_ROTATION
    except ValueError:
        turn = 0
    return [a for n, a in enumerate(members) if n % heartbeat.MEMBER_ROTATION == turn]


def _finish_begun(note: str, owed_keys: set[str], rt: Runtime, notified: set[str], failed: list[str]) -> bool:
    """Finish the alerts an earlier attempt began under ``note`` and this one does not owe again; whether any
    of them was owed."""
    sent = False
    for key in rt.table.sweep_alerts(note):
        if key not in owed_keys:
            sent = _finish_sweep_alert(key, rt, notified, failed) or sent
    return sent


def _sweep_organization(sweep: Sweep, rt: Runtime) -> HandlerResult:
    """Every active account of the organization: the detector's own account first (its reads include the
    organization trails, judged once here), then every other, concurrently or through the sweep queue."""
    assert rt.access is not None and rt.directory is not None
    notified: set[str] = set()
    failed: list[str] = []
    _finish_begun(sweep.event_id, set(), rt, notified, failed)  # first: what they report is then not owed again
    regions, policy = rt.watched(), rt.policy
    own = plan_sweep(sweep.event_id, cloudtrail=rt.cloudtrail, regions=regions, home=rt.home,
                     caller_account=lambda: rt.account, policy=policy, table=rt.table, action=SWEEP_ACTION,
                     clients=rt.client, account_name=rt.account_name(rt.account))  # fmt: skip
    shared = tuple(t.trail for t in organization_trails(own.verdict.trails))
    try:
        accounts, organization = rt.directory.accounts(), rt.directory.organization()
        why = ""
    except (ClientError, BotoCoreError) as error:  # the backstop must not go quiet: say so, sweep what it can
        accounts, organization = (Account(rt.account, ""),), rt.config.organization_id
        why = explain(error, "organizations")
    listing = listing_report(sweep.event_id, why, home=rt.home, own=rt.account, table=rt.table, action=SWEEP_ACTION)
    members = [a for a in accounts if a.id != rt.account]
    extra: dict[str, Any] = {"accounts": len(members) + 1}
    if rt.config.sweep_queue_url:
        _enqueue(sweep.event_id, members, regions, shared, rt)
        reports = [own, listing]
        covered = {**rt.table.reported([coverage_subject(a.id) for a in members]), **record_coverage(reports, rt.table)}
        extra["queued"] = len(members)
    else:
        known = known_reports(rt.table, members, rt.account)
        swept, skipped = sweep_accounts(sweep.event_id, members, time_left=rt.deadline.for_reading, access=rt.access,
                                        regions=regions, home=rt.home, policy=policy, table=rt.table,
                                        action=SWEEP_ACTION, shared=shared, known=known)  # fmt: skip
        reports = [own, listing, *swept]
        covered = {**known, **record_coverage(reports, rt.table, known)}
        extra["skipped"] = [a.id for a in skipped]
    places = [(rt.account, rt.cloudtrail)]
    for member in _rotated(sweep, members):
        try:
            places.append((member.id, rt.access.cloudtrail(member.id)))
        except AccountUnreachable as error:
            LOG.warning("no heartbeat in %s: %s", member.id, error)
    pipeline, beats = _heartbeats(sweep, rt, places, _heartbeat_regions(rt), {a.id: a.name for a in accounts})
    reports.append(pipeline)
    extra["heartbeats"] = [b.to_dict() for b in beats]
    trails = {t.arn for t in shared}
    covering = [t.trail.name for t in organization_trails(own.verdict.trails) if t.compliant]
    found = radius(accounts, covered, covering)
    alerts = [
        with_radius(a, found, organization) if a.kind == "sweep-drift" and set(a.reported) & trails else a
        for a in owed(reports)
    ]
    alerts = grouped(sweep.event_id, [_named(a, rt) if not a.account_name else a for a in alerts],
                     organization=organization, home=rt.home, own=rt.account, apart=trails)  # fmt: skip
    _send_sweep(sweep.event_id, alerts, rt, notified, failed)
    return _sweep_result(sweep, rt, reports, alerts, notified=notified, failed=failed, **extra)


def _enqueue(sweep_id: str, members: list[Account], regions: list[str], shared: tuple[TrailState, ...],
             rt: Runtime) -> None:  # fmt: skip
    """The sweep's orders on the queue, once per sweep: a retry of the scheduled sweep does not queue them again
    (an order SQS delivers twice is taken once, see ``handle_batch``)."""
    done = f"{sweep_id}:queued"
    if rt.table.sweep_alerts(done):
        return
    rt.table.save_shared(sweep_id, shared_json(shared))
    enqueue(rt.sqs, rt.config.sweep_queue_url, [Order(sweep_id, a, tuple(regions)) for a in members])
    rt.table.note_sweep_alert(done, "queued")


@dataclass
class _Batch:
    """One SQS invocation's orders, what became of each, and what it sent."""

    orders: dict[str, Order]  # message id -> order (valid ones)
    claims: dict[str, Claim] = field(default_factory=dict)  # message id -> the order's claim, when taken here
    reports: dict[str, SweepReport] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)  # message id -> why it is handed back to SQS
    notified: set[str] = field(default_factory=set)
    failed: list[str] = field(default_factory=list)


def handle_batch(batch: SweepBatch, rt: Runtime) -> dict[str, Any]:
    """The organization sweep's SQS messages, one account each: sweep them concurrently, send their changes
    (grouped), and answer Lambda's partial-batch response (Powertools' batch processor). A message that is not
    a sweep order is logged and dropped (never retried). Each order is claimed (``order:<sweep>:<account>``) so
    that SQS delivering it twice sweeps the account once; an account not swept in time, or whose alert some
    channel did not take, is handed back, and its retry finishes that alert rather than sending another."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

    if rt.access is None:
        LOG.warning("SQS sweep messages, but MEMBER_ROLE_NAME is not set: dropped")
        return {"batchItemFailures": []}
    work = _Batch(_orders(batch))
    ready = [m for m, order in work.orders.items() if _take(m, order, work, rt)]
    by_account = {work.orders[m].account.id: m for m in ready}
    known = known_reports(rt.table, [work.orders[m].account for m in ready], rt.account) if ready else {}
    for sweep_id, accounts in _by_sweep([work.orders[m] for m in ready]).items():
        swept, skipped = sweep_accounts(sweep_id, accounts, time_left=rt.deadline.for_reading, access=rt.access,
                                        regions=list(work.orders[by_account[accounts[0].id]].regions), home=rt.home,
                                        policy=rt.policy, table=rt.table, action=SWEEP_ACTION,
                                        shared=_shared(sweep_id, rt), known=known)  # fmt: skip
        for report in swept:
            work.reports[by_account[report.verdict.account]] = report
        for account in skipped:
            work.failures[by_account[account.id]] = "not swept in time"
    record_coverage(work.reports.values(), rt.table, known)
    _send_batch(work, rt)
    for message, taken in work.claims.items():
        if message in work.failures:
            rt.table.release(f"order:{work.orders[message].sweep_id}:{work.orders[message].account.id}", taken.token)
        else:
            order = work.orders[message]
            rt.table.finish(f"order:{order.sweep_id}:{order.account.id}", taken.token, (), budget=rt.deadline.left)

    def answer(record: Any) -> None:
        if record.message_id in work.failures:
            raise RuntimeError(work.failures[record.message_id])

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    with processor(records=[dict(r) for r in batch.records], handler=answer):
        processor.process()
    LOG.info("sweep batch: %d message(s), %d handed back, channels %s", len(batch.records), len(work.failures),
             sorted(work.notified))  # fmt: skip
    return dict(processor.response())


def _orders(batch: SweepBatch) -> dict[str, Order]:
    orders = {}
    for record in batch.records:
        message = str(record.get("messageId", ""))
        try:
            orders[message] = Order.parse(str(record.get("body", "")))
        except ValueError as error:
            LOG.warning("sweep message %s dropped: %s", message, error)
    return orders


def _by_sweep(orders: list[Order]) -> dict[str, list[Account]]:
    found: dict[str, list[Account]] = {}
    for order in orders:
        found.setdefault(order.sweep_id, []).append(order.account)
    return found


def _take(message: str, order: Order, work: _Batch, rt: Runtime) -> bool:
    """Whether this invocation sweeps the order: it claimed it, and no earlier try of it owes an alert (that
    alert is finished instead: a retry sends what the first try began, not a new one)."""
    try:
        taken = rt.table.claim(f"order:{order.sweep_id}:{order.account.id}", rt.deadline.ms())
        if taken.duplicate:  # swept already, or being swept by another invocation (a message delivered twice)
            return False
        work.claims[message] = taken
        before = len(work.failed)
        if _finish_begun(f"{order.sweep_id}:{order.account.id}", set(), rt, work.notified, work.failed):
            if len(work.failed) > before:
                work.failures[message] = "; ".join(work.failed[before:])
            return False
    except (ClientError, BotoCoreError, Unprocessed) as error:
        work.failures[message] = f"the state table: {error}"
        return False
    return True


_SHARED: dict[str, tuple[TrailState, ...]] = {}  # sweep id -> its organization trails, per container


def _shared(sweep_id: str, rt: Runtime) -> tuple[TrailState, ...]:
    """The organization trails the scheduled sweep read, as it stored them for its orders."""
    if sweep_id not in _SHARED:
        text = rt.table.shared(sweep_id)
        if text is None:
            LOG.warning("sweep %s stored no organization trails: the accounts are judged on their own trails", sweep_id)
        _SHARED.clear()  # one sweep at a time is enough to keep
        _SHARED[sweep_id] = shared_from_json(text) if text else ()
    return _SHARED[sweep_id]


def _send_batch(work: _Batch, rt: Runtime) -> None:
    """The batch's alerts, grouped per sweep, each noted under every account it reports on before it is sent;
    the orders whose alert some channel did not take are handed back."""
    organization = ""
    if rt.directory is not None:
        try:
            organization = rt.directory.organization()
        except (ClientError, BotoCoreError) as error:
            LOG.warning("organization not known: %s", error)
    by_sweep: dict[str, list[tuple[str, SweepReport]]] = {}
    for message, report in work.reports.items():
        by_sweep.setdefault(work.orders[message].sweep_id, []).append((message, report))
    for sweep_id, items in by_sweep.items():
        source = {subject: message for message, report in items for subject, _, _ in report.alerts}
        alerts = grouped(sweep_id, owed(r for _, r in items), organization=organization, home=rt.home,
                         own=rt.account)  # fmt: skip
        for alert in alerts:
            senders = sorted({source[s] for s in alert.reported if s in source})
            for message in senders:
                rt.table.note_sweep_alert(f"{sweep_id}:{work.orders[message].account.id}", alert.key)
            if _send_sweep(f"{sweep_id}:batch", [alert], rt, work.notified, work.failed):
                work.failures.update(dict.fromkeys(senders, "a channel did not take its alert"))
