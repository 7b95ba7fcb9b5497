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
