"""What a rule is, and the registry that holds every rule. Pure: no I/O, no text formatting.

A rule is one unit (``rules/<name>.py``): its id, severity, one-sentence meaning, the check (a pure function
over a trail's ``Facts`` that returns the finding's message, or nothing), its fix as API calls, the IAM
actions those calls need, the order a revert makes them in, whether it can be exempted, and whether it is
advisory (reported, never counted toward compliance). ``register`` adds it to ``REGISTRY``; the evaluator,
the fixes, the revert, the stack's IAM grants, the README check and the tests all iterate ``REGISTRY``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from ..arn import TrailArn
from ..baseline import Baseline
from ..selectors import ALL_MANAGEMENT, Coverage, coverage

Severity = Literal["critical", "high", "medium", "low"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low")
Scope = Literal["trail", "account"]
# An API operation and its arguments: ("StartLogging", {"Name": ...}) for CloudTrail, "<service>:<Operation>"
# for another service ("kms:EnableKey"); the IAM action it needs is "<service>:<Operation>" either way.
Call = tuple[str, dict[str, Any]]
NAMING = frozenset({"Name", "TrailName"})  # a call's arguments that say which trail, not what to set on it


def service_of(operation: str) -> tuple[str, str]:
    """``("kms", "EnableKey")`` for ``"kms:EnableKey"``; CloudTrail's operations need no prefix."""
    service, _, name = operation.rpartition(":")
    return service or "cloudtrail", name


@dataclass(frozen=True)
class Facts:
    """What is known of one trail: its DescribeTrails item, GetTrailStatus and GetEventSelectors answers,
    its baseline, and the operator's allowed exclusions. ``ident`` is how fixes name it (its name for a
    person to paste, its ARN for a revert); ``region`` is where an account-level fix is made."""

    description: Mapping[str, Any] = field(default_factory=dict)
    status: Mapping[str, Any] = field(default_factory=dict)
    selectors: Mapping[str, Any] = field(default_factory=dict)
    baseline: Baseline | None = None
    allowed_excluded_sources: frozenset[str] = frozenset()
    ident: str = ""
    region: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)  # what the rules' own reads found, by Read.key

    @property
    def name(self) -> str:
        return str(self.description.get("Name") or (self.baseline.name if self.baseline else ""))

    @property
    def arn(self) -> TrailArn | None:
        return TrailArn.parse(self.description.get("TrailARN") or (self.baseline.arn if self.baseline else ""))

    @property
    def home_region(self) -> str:
        arn = self.arn
        return str(self.description.get("HomeRegion") or (arn.region if arn else "") or self.region)

    @property
    def target(self) -> str:
        """The trail as a call names it."""
        return self.ident or self.name

    @cached_property
    def coverage(self) -> Coverage:
        """What the selectors log of management events: computed once, shared by the selector rules."""
        return coverage(self.selectors, self.allowed_excluded_sources)


Clients = Callable[[str, str], Any]  # (service, region) -> a boto3 client


@dataclass(frozen=True)
class Read:
    """Facts a rule needs beyond DescribeTrails, GetTrailStatus and GetEventSelectors (a KMS key's state, say).

    ``fetch(clients, facts)`` makes the call(s) and returns what the check reads as ``facts.extra[key]``; it
    runs only for trails whose status and selectors were read, at the edge, never inside the judgement. A
    botocore error makes the trail ``not-evaluable`` and names ``action`` when it was denied. ``resource`` is
    what the stack grants ``action`` on: "" for the account's own resources of the action's service, or an ARN
    with ``{partition}`` (and ``{account}``) placeholders when what a trail names may be another account's (a KMS
    key shared from a security account), whose own resource policy then decides too.
    """

    key: str
    action: str  # the IAM action the read needs, granted to the detector
    fetch: Callable[[Clients, Facts], Any]
    resource: str = ""


Check = Callable[[Facts], str | None]
Fix = Callable[[Facts], list[Call]]
Hint = Callable[[Facts, list[str]], str]  # the facts, and the exemptible rules that fired for the trail


@dataclass(frozen=True)
class Waiver:
    """An exemption that matched a finding: it applies, or it ``expired`` on ``expires`` and no longer does."""

    reason: str
    expires: str = ""
    expired: bool = False
    snoozed: bool = False  # a person's snooze (hours at most), not the exemptions file


@dataclass(frozen=True)
class Finding:
    """One rule that fired, for one trail (``trail_arn``) or for the account (``trail_arn`` None).

    ``calls`` are its fix (made in ``region``); ``hint`` says what else a person may do; ``waiver`` is the
    exemption that matched it, if any.
    """

    rule: str
    severity: Severity
    message: str
    trail_arn: str | None = None
    account: str = ""
    calls: tuple[Call, ...] = ()
    region: str = ""
    hint: str = ""
    waiver: Waiver | None = None

    @property
    def exempt(self) -> bool:
        return self.waiver is not None and not self.waiver.expired

    @property
    def counted(self) -> bool:
        """Whether it counts toward the verdict, the exit code and alerts: not advisory, not exempt."""
        return not self.exempt and not REGISTRY[self.rule].advisory


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    meaning: str
    scope: Scope = "trail"
    check: Check | None = None  # None: raised by the evaluator itself (a deletion, an unreadable trail)
    fix: Fix | None = None  # None: no API call fixes it; a person must look
    revert_actions: tuple[str, ...] = ()  # exactly the IAM actions the fix's calls need
    revert_order: int = 50  # a revert makes the calls of lower orders first (logging comes back last)
    automatic: bool = True  # False: the fix needs a person's input (a bucket, a key), so a revert never makes it
    exemptible: bool = True
    advisory: bool = False  # reported, never counted toward compliance, never alerted or reverted
    unknown: bool = False  # the finding means "could not tell", not drift (audit exit code 2)
    example: Callable[[], Facts] | None = None  # facts that break the rule and that its fix repairs
    hint: Hint | None = None  # what else a person may do about a finding (such as exempting the trail)
    reads: tuple[Read, ...] = ()  # facts beyond the trail's own three reads that the check needs
    coverage_setting: bool = False  # about what the trail is set to record (events, regions): a trail built
    # for another purpose (data events only) may differ on it by design, and be exempted from it
    restores_baseline: bool = False  # its fix writes back what the baseline holds (a destination, a whole trail),
    # so a revert makes it only from a baseline that is trusted and predates the change

    def fires(self, facts: Facts) -> str | None:
        return self.check(facts) if self.check else None

    def calls(self, facts: Facts) -> tuple[Call, ...]:
        return tuple(self.fix(facts)) if self.fix else ()

    def finding(self, message: str, facts: Facts, *, account: str = "", severity: Severity | None = None,
                hint: str | None = None) -> Finding:  # fmt: skip
        """This rule's finding about ``facts``, carrying its fix as calls in the trail's home region (and its
        hint, worked out here unless given)."""
        if hint is None:
            hint = self.hint(facts, [self.id]) if self.hint else ""
        arn = facts.arn if self.scope == "trail" else None
        return Finding(
            rule=self.id,
            severity=severity or self.severity,
            message=message,
            trail_arn=str(arn) if arn else None,
            account=account,
            calls=self.calls(facts),
            region=facts.home_region if arn else facts.region,
            hint=hint,
        )

    @property
    def revertible(self) -> bool:
        """Whether a revert may make this rule's calls (the stack grants their IAM only then)."""
        return self.fix is not None and self.automatic and not self.advisory


REGISTRY: dict[str, Rule] = {}


def register(rule: Rule) -> Rule:
    """Add ``rule`` to the registry (each id once); returns it, so a unit can name it as a constant."""
    if rule.id in REGISTRY:
        raise ValueError(f"rule {rule.id!r} is registered twice")
    REGISTRY[rule.id] = rule
    return rule


def in_order() -> list[Rule]:
    """Every rule, in the order findings are listed: trail rules by revert order, then account rules."""
    return sorted(REGISTRY.values(), key=lambda r: (r.scope != "trail", r.revert_order, r.id))


def revert_actions() -> tuple[str, ...]:
    """The IAM actions reverts need: the union over every revertible rule."""
    return tuple(sorted({a for r in REGISTRY.values() if r.revertible for a in r.revert_actions}))


def reads() -> list[Read]:
    """Every rule's extra reads, each key once."""
    return list({read.key: read for rule in in_order() for read in rule.reads}.values())


def read_actions() -> tuple[str, ...]:
    """The IAM actions the rules' extra reads need: the stack grants them in every mode."""
    return tuple(sorted({read.action for read in reads()}))


def worst(severities: list[Severity], default: Severity = "low") -> Severity:
    return min(severities, key=SEVERITIES.index) if severities else default


EXAMPLE_ARN = "arn:aws:cloudtrail:us-east-1:111122223333:trail/example"


def example(description: Mapping[str, Any] | None = None, status: Mapping[str, Any] | None = None,
            selectors: Mapping[str, Any] | None = None, baseline: Baseline | None = None) -> Facts:  # fmt: skip
    """A compliant multi-region trail, with what a rule's ``example`` changes: the rule's own documentation of
    what breaks it, and the table-driven tests' input."""
    trail = {
        "Name": "example",
        "TrailARN": EXAMPLE_ARN,
        "HomeRegion": "us-east-1",
        "S3BucketName": "example-logs",
        "IsMultiRegionTrail": True,
        "IncludeGlobalServiceEvents": True,
        "LogFileValidationEnabled": True,
        "IsOrganizationTrail": False,
        **(description or {}),
    }
    return Facts(
        description=trail,
        status={"IsLogging": True, **(status or {})},
        selectors=selectors if selectors is not None else {"EventSelectors": [ALL_MANAGEMENT]},
        baseline=baseline,
        region="us-east-1",
    )
