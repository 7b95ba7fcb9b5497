"""What a trail's event selectors log of management events, decided exactly.

A management event is told apart by two fields: ``readOnly`` (``"true"`` or ``"false"``) and
``eventSource`` (any non-empty string). Selectors are OR-ed; inside one selector the field conditions are
AND-ed; inside one field condition the including operators (Equals, StartsWith, EndsWith) are OR-ed and
the excluding ones (NotEquals, NotStartsWith, NotEndsWith) are AND-ed. Basic selectors are translated into
the same form (``IncludeManagementEvents`` -> ``eventCategory``, ``ReadWriteType`` -> ``readOnly``,
``ExcludeManagementEventSources`` -> ``eventSource`` NotEquals), so one engine judges both kinds.

The set of event sources is infinite, but every condition only asks whether a source equals, starts with
or ends with one of finitely many constants. :func:`witness_sources` builds a finite set of sources such
that every possible source answers all those questions exactly like one of them, so checking the witnesses
checks every source. A selector using a field or operator this module does not know is judged twice: as
logging nothing (what is surely logged) and as if the unknown condition always held (what may be logged).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

READ = "true"
WRITE = "false"
MANAGEMENT = "Management"

INCLUDING = ("Equals", "StartsWith", "EndsWith")
EXCLUDING = ("NotEquals", "NotStartsWith", "NotEndsWith")
KNOWN_FIELDS = ("eventCategory", "readOnly", "eventSource")
BASIC_READ_WRITE = {"All": None, "ReadOnly": READ, "WriteOnly": WRITE}


def _test(operator: str, value: str, constant: str) -> bool:
    if operator.endswith("Equals"):
        return value == constant
    if operator.endswith("StartsWith"):
        return value.startswith(constant)
    return value.endswith(constant)


@dataclass(frozen=True)
class Condition:
    """One field's condition: any including operand matches (if there are any) and no excluding one does."""

    field: str
    including: tuple[tuple[str, str], ...] = ()
    excluding: tuple[tuple[str, str], ...] = ()

    def holds(self, value: str) -> bool:
        if self.including and not any(_test(op, value, c) for op, c in self.including):
            return False
        return not any(_test(op, value, c) for op, c in self.excluding)


@dataclass(frozen=True)
class Selector:
    """A selector in normal form: AND-ed conditions, plus what could not be understood."""

    label: str
    conditions: tuple[Condition, ...]
    unknown: tuple[str, ...] = ()

    def may_log_management(self) -> bool:
        return all(c.holds(MANAGEMENT) for c in self.conditions if c.field == "eventCategory")

    def logs(self, read_only: str, source: str, *, assume_unknown_holds: bool) -> bool:
        if self.unknown and not assume_unknown_holds:
            return False
        values = {"eventCategory": MANAGEMENT, "readOnly": read_only, "eventSource": source}
        return all(c.holds(values[c.field]) for c in self.conditions)


def _condition(raw: Mapping[str, Any], label: str) -> tuple[Condition | None, list[str]]:
    """Normalise one advanced field selector; return what was not understood instead if anything."""
    name = raw.get("Field")
    operators = {k: v for k, v in raw.items() if k != "Field"}
    problems = [f"operator {op}" for op in operators if op not in INCLUDING + EXCLUDING]
    if not isinstance(name, str) or name not in KNOWN_FIELDS:
        problems.append(f"field {name!r}")
    if not operators:
        problems.append(f"field {name!r} without an operator")
    for op, values in operators.items():
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            problems.append(f"{op} without a list of strings")
    if problems:
        return None, [f"{label}: {p}" for p in problems]
    pairs = [(op, v) for op, values in operators.items() for v in values]
    return Condition(
        field=str(name),
        including=tuple(p for p in pairs if p[0] in INCLUDING),
        excluding=tuple(p for p in pairs if p[0] in EXCLUDING),
    ), []


def _advanced(raw: Mapping[str, Any], index: int) -> Selector:
    label = f'advanced selector {index + 1} "{raw.get("Name") or "unnamed"}"'
    conditions: list[Condition] = []
    unknown: list[str] = []
    fields = raw.get("FieldSelectors")
    if not isinstance(fields, list) or not fields:
        return Selector(label, (), (f"{label}: no field selectors",))
    for item in fields:
        cond, problems = _condition(item if isinstance(item, Mapping) else {}, label)
        unknown.extend(problems)
        if cond is not None:
            conditions.append(cond)
    return Selector(label, tuple(conditions), tuple(unknown))


def _basic(raw: Mapping[str, Any], index: int) -> Selector:
    label = f"event selector {index + 1}"
    include = raw.get("IncludeManagementEvents", True)  # the API's documented default
    rw = raw.get("ReadWriteType", "All")
    conditions: list[Condition] = []
    unknown: list[str] = []
    if include in (True, False):
        category = MANAGEMENT if include else "Data"
        conditions.append(Condition("eventCategory", including=(("Equals", category),)))
    else:
        unknown.append(f"{label}: IncludeManagementEvents {include!r}")
    if rw not in BASIC_READ_WRITE:
        unknown.append(f"{label}: ReadWriteType {rw!r}")
    elif BASIC_READ_WRITE[rw] is not None:
        conditions.append(Condition("readOnly", including=(("Equals", str(BASIC_READ_WRITE[rw])),)))
    excluded = raw.get("ExcludeManagementEventSources") or []
    if not isinstance(excluded, list) or not all(isinstance(s, str) for s in excluded):
        unknown.append(f"{label}: ExcludeManagementEventSources {excluded!r}")
    elif excluded:
        conditions.append(Condition("eventSource", excluding=tuple(("NotEquals", s) for s in excluded)))
    return Selector(label, tuple(conditions), tuple(unknown))


def normalise(response: Mapping[str, Any]) -> list[Selector]:
    """All selectors of a ``GetEventSelectors`` response, basic and advanced alike, in normal form.

    AWS returns only the kind in use; an emulator may return both lists, so both are read and OR-ed.
    """
    basic = response.get("EventSelectors") or []
    advanced = response.get("AdvancedEventSelectors") or []
    return [_basic(s if isinstance(s, Mapping) else {}, i) for i, s in enumerate(basic)] + [
        _advanced(s if isinstance(s, Mapping) else {}, i) for i, s in enumerate(advanced)
    ]


def _fresh_char(constants: Iterable[str]) -> str:
    used = set("".join(constants))
    return next(chr(c) for c in range(0x2400, 0x10FFFF) if chr(c) not in used)


def _merges(prefix: str, suffix: str) -> set[str]:
    """Every string that starts with ``prefix``, ends with ``suffix`` and is no longer than both together."""
    return {prefix + suffix[k:] for k in range(min(len(prefix), len(suffix)) + 1) if prefix.endswith(suffix[:k])}


@dataclass(frozen=True)
class Witness:
    """A stand-in source: a named one, or one for every source with ``prefix`` ... ``suffix``."""

    source: str
    pattern: tuple[str, str] | None = None

    @property
    def description(self) -> str:
        if self.pattern is None:
            return self.source
        prefix, suffix = self.pattern
        if prefix and suffix:
            return f"sources starting with {prefix!r} and ending with {suffix!r}"
        if prefix:
            return f"sources starting with {prefix!r}"
        if suffix:
            return f"sources ending with {suffix!r}"
        return EVERY_OTHER_SOURCE

    def covers(self, other: Witness) -> bool:
        if self.pattern is None:
            return self == other
        prefix, suffix = self.pattern
        return other.source.startswith(prefix) and other.source.endswith(suffix)


EVERY_OTHER_SOURCE = "every other source"


def witness_sources(selectors: Sequence[Selector], extra: Iterable[str] = ()) -> list[Witness]:
    """Finite stand-ins for every possible event source.

    For any source s, take the longest listed prefix p and suffix q it has (possibly empty). If s is a
    listed constant it is a witness; if it is no longer than p and q together it is one of their merges;
    otherwise s = p + m + q and p + F + q (F a character no constant contains) answers every condition as
    s does. Empty sources do not exist and are left out.
    """
    equals, prefixes, suffixes = set(extra), {""}, {""}
    for sel in selectors:
        for cond in sel.conditions:
            if cond.field != "eventSource":
                continue
            for op, constant in cond.including + cond.excluding:
                {"Equals": equals, "StartsWith": prefixes, "EndsWith": suffixes}[op.removeprefix("Not")].add(constant)
    fresh = _fresh_char(equals | prefixes | suffixes)
    named = set(equals)
    patterns = []
    for p in prefixes:
        for q in suffixes:
            named |= _merges(p, q)
            patterns.append(Witness(p + fresh + q, (p, q)))
    return sorted([Witness(s) for s in named - {""}] + patterns, key=lambda w: w.source)


@dataclass(frozen=True)
class Coverage:
    """What the selectors log of management events, as certain and as possible gaps.

    ``surely_missing`` holds the (readOnly, witness source) pairs no selector logs even if every condition
    it does not understand held; ``maybe_missing`` those not surely logged (unknown conditions failing).
    """

    selectors: tuple[Selector, ...]
    witnesses: tuple[Witness, ...]
    surely_missing: frozenset[tuple[str, str]] = field(default_factory=frozenset)
    maybe_missing: frozenset[tuple[str, str]] = field(default_factory=frozenset)

    @property
    def logs_anything(self) -> bool:
        return len(self.surely_missing) < 2 * len(self.witnesses)

    @property
    def unknown(self) -> tuple[str, ...]:
        return tuple(u for s in self.selectors if s.may_log_management() for u in s.unknown)

    def half_missing(self, read_only: str) -> bool:
        """True when no event of this half (reads or writes) may be logged from any source."""
        return all((read_only, w.source) in self.surely_missing for w in self.witnesses)

    def missing_sources(self) -> dict[str, set[str]]:
        """Sources surely dropped for a half that is otherwise logged: description -> halves.

        A named source is left out when a dropped pattern (``sources starting with ...``) covers it.
        """
        dropped: dict[Witness, set[str]] = {}
        for w in self.witnesses:
            halves = {rw for rw in (READ, WRITE) if (rw, w.source) in self.surely_missing and not self.half_missing(rw)}
            if halves:
                dropped[w] = halves
        return {
            w.description: halves
            for w, halves in dropped.items()
            if not any(p != w and p.covers(w) and dropped[p] >= halves for p in dropped)
        }

    def logged_sources(self) -> list[str]:
        """Descriptions of the sources some management events may be logged from."""
        return [
            w.description
            for w in self.witnesses
            if any((rw, w.source) not in self.surely_missing for rw in (READ, WRITE))
        ]


def coverage(response: Mapping[str, Any], allowed_excluded: Iterable[str] = ()) -> Coverage:
    """Judge a ``GetEventSelectors`` response against "all management events, read and write".

    Sources in ``allowed_excluded`` may be missing without counting as a gap.
    """
    allowed = frozenset(allowed_excluded)
    selectors = tuple(normalise(response))
    relevant = [s for s in selectors if s.may_log_management()]
    witnesses = tuple(w for w in witness_sources(relevant, allowed) if w.source not in allowed)
    space = [(rw, w.source) for rw in (READ, WRITE) for w in witnesses]

    def missing(assume: bool) -> frozenset[tuple[str, str]]:
        return frozenset(e for e in space if not any(sel.logs(*e, assume_unknown_holds=assume) for sel in relevant))

    return Coverage(selectors, witnesses, surely_missing=missing(True), maybe_missing=missing(False))


# --- restoring: what a PutEventSelectors fix sends ----------------------------------------------------------
# PutEventSelectors replaces every selector, so a fix keeps each data-event selector (basic DataResources,
# advanced data and network-activity selectors) exactly as it is and only puts management events back.

MAX_BASIC_SELECTORS = 5
MAX_DATA_RESOURCES = 250  # across all basic selectors of a trail
MAX_ADVANCED_VALUES = 500  # across all conditions of all advanced selectors of a trail
ALL_MANAGEMENT = {
    "ReadWriteType": "All",
    "IncludeManagementEvents": True,
    "DataResources": [],
    "ExcludeManagementEventSources": [],
}


def _sanctioned_exclusions(response: Mapping[str, Any], allowed: Iterable[str]) -> list[str]:
    """Allowed sources the trail deliberately drops today: it logs management events, none from them.

    The fix keeps dropping those, as the operator chose; it never drops a source the trail logs now.
    """
    if not coverage(response).logs_anything:
        return []
    management = [s for s in normalise(response) if s.may_log_management()]

    def dropped(source: str) -> bool:
        return not any(s.logs(rw, source, assume_unknown_holds=True) for s in management for rw in (READ, WRITE))

    return sorted(s for s in set(allowed) if dropped(s))


def restored_selectors(response: Mapping[str, Any], allowed_excluded: Iterable[str] = ()) -> dict[str, Any]:
    """The ``PutEventSelectors`` arguments (without ``TrailName``) that log all management events.

    Advanced selectors: every selector that cannot log management events is kept as it is, the
    management ones are replaced by one that logs them all. Basic selectors: the first selector that
    already logs reads and writes gets management events switched on (its data resources untouched), else
    the first selector without data resources is widened to All, else a management-only selector is
    appended (or, with no room left, the first selector widened: more data events, none lost). No
    selectors: the AWS default.
    """
    keep_excluded = _sanctioned_exclusions(response, allowed_excluded)
    advanced = response.get("AdvancedEventSelectors") or []
    if advanced:
        kept = [
            copy.deepcopy(raw)
            for raw, sel in zip(advanced, normalise({"AdvancedEventSelectors": advanced}), strict=True)
            if not sel.may_log_management()
        ]
        fields: list[dict[str, Any]] = [{"Field": "eventCategory", "Equals": ["Management"]}]
        if keep_excluded:
            fields.append({"Field": "eventSource", "NotEquals": keep_excluded})
        return {"AdvancedEventSelectors": [{"Name": "Management events", "FieldSelectors": fields}, *kept]}

    basic = [copy.deepcopy(dict(s)) for s in response.get("EventSelectors") or []]
    target = next((s for s in basic if s.get("ReadWriteType", "All") == "All"), None)
    if target is None:  # widening a selector to All is harmless only where it carries no data resources
        target = next((s for s in basic if not s.get("DataResources")), None)
    if target is None and len(basic) >= MAX_BASIC_SELECTORS:  # no room: widen one (more data events, none lost)
        target = basic[0]
    if target is None:
        target = dict(ALL_MANAGEMENT, DataResources=[])
        basic.append(target)
    target["ReadWriteType"] = "All"
    target["IncludeManagementEvents"] = True
    target["ExcludeManagementEventSources"] = keep_excluded
    return {"EventSelectors": basic}


def data_selectors(response: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Selectors that log data (or network activity) events and no management events, with something in them."""
    advanced = response.get("AdvancedEventSelectors") or []
    if advanced:
        adv = normalise({"AdvancedEventSelectors": advanced})
        return [dict(raw) for raw, sel in zip(advanced, adv, strict=True) if not sel.may_log_management()]
    return [
        dict(s)
        for s in response.get("EventSelectors") or []
        if s.get("IncludeManagementEvents") is False and any(r.get("Values") for r in s.get("DataResources") or [])
    ]


def _covered(selector: Mapping[str, Any], selectors: list[dict[str, Any]]) -> bool:
    """Whether ``selectors`` already log what a data ``selector`` logs (the same one, names aside, or for basic
    selectors every data resource of it in a selector reading and writing at least as much)."""
    if "FieldSelectors" in selector:
        fields = selector.get("FieldSelectors")
        return any(s.get("FieldSelectors") == fields for s in selectors)
    resources = [(r.get("Type"), tuple(r.get("Values") or [])) for r in selector.get("DataResources") or []]
    kinds = {selector.get("ReadWriteType", "All"), "All"}
    logged = {
        (r.get("Type"), tuple(r.get("Values") or []))
        for s in selectors
        if s.get("ReadWriteType", "All") in kinds
        for r in s.get("DataResources") or []
    }
    return all(r in logged for r in resources)


def baseline_selectors(response: Mapping[str, Any], baseline: Mapping[str, Any]) -> dict[str, Any] | None:
    """The baseline's selectors exactly, plus any data selector the trail has now that the baseline lacks.

    None when that cannot be done in one call (the trail switched between basic and advanced selectors, or
    the merge would pass one of PutEventSelectors' limits: five basic selectors, 250 data resources across
    them, 500 values across all advanced conditions): the caller then keeps the current data selectors.
    """
    kind = "AdvancedEventSelectors" if baseline.get("AdvancedEventSelectors") else "EventSelectors"
    current_kind = "AdvancedEventSelectors" if response.get("AdvancedEventSelectors") else "EventSelectors"
    restored = [dict(s) for s in baseline.get(kind) or []]
    extra = [s for s in data_selectors(response) if not _covered(s, restored)]
    if not restored or (extra and current_kind != kind):
        return None
    merged = restored + extra
    return {kind: merged} if within_limits({kind: merged}) else None


def within_limits(arguments: Mapping[str, Any]) -> bool:
    """Whether PutEventSelectors would take these selectors, as far as its documented limits go."""
    basic = arguments.get("EventSelectors") or []
    resources = sum(max(1, len(r.get("Values") or [])) for s in basic for r in s.get("DataResources") or [])
    advanced = arguments.get("AdvancedEventSelectors") or []
    values = sum(
        len(v) for s in advanced for f in s.get("FieldSelectors") or [] for v in f.values() if isinstance(v, list)
    )
    return len(basic) <= MAX_BASIC_SELECTORS and resources <= MAX_DATA_RESOURCES and values <= MAX_ADVANCED_VALUES
