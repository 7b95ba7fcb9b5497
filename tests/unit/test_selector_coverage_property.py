"""``selectors.coverage`` checked against brute force with an independent reference matcher.

Random advanced selectors over eventCategory, readOnly and eventSource (every operator, short constants,
now and then a condition on a field trailguard does not know) are judged two ways: by ``coverage``, which
reasons over finitely many witness sources, and by evaluating the selectors directly on every source over
{a, b, c} up to length 4, for reads and writes. What ``coverage`` reports missing must really be missing,
and when it reports nothing missing, every concrete event must really be logged.
"""

from __future__ import annotations

from itertools import product
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from trailguard.selectors import coverage

INCLUDING = ("Equals", "StartsWith", "EndsWith")
EXCLUDING = ("NotEquals", "NotStartsWith", "NotEndsWith")
HALVES = ("true", "false")
SOURCES = ["".join(chars) for n in range(1, 5) for chars in product("abc", repeat=n)]
CONSTANTS = {
    "eventCategory": ["Management", "Data", "Man", "ment", "ata", ""],
    "readOnly": ["true", "false", "t", "f", "e", "ue", "se", ""],
    "eventSource": ["a", "b", "ab", "ba", "aa", ""],
}


def _matches(operator: str, value: str, constant: str) -> bool:
    test = operator.removeprefix("Not")
    if test == "Equals":
        return value == constant
    if test == "StartsWith":
        return value.startswith(constant)
    return value.endswith(constant)


def _condition_holds(condition: dict[str, Any], value: str) -> bool:
    including = [(op, c) for op in INCLUDING for c in condition.get(op, [])]
    excluding = [(op, c) for op in EXCLUDING for c in condition.get(op, [])]
    if including and not any(_matches(op, value, c) for op, c in including):
        return False
    return not any(_matches(op, value, c) for op, c in excluding)


def reference_logs(selector: dict[str, Any], read_only: str, source: str, *, unknown_holds: bool) -> bool:
    """Does this advanced selector log the management event (read_only, source)?

    A condition on any other field is either taken to hold (``unknown_holds``) or makes the selector log
    nothing.
    """
    event = {"eventCategory": "Management", "readOnly": read_only, "eventSource": source}
    for condition in selector["FieldSelectors"]:
        if condition["Field"] not in event:
            if not unknown_holds:
                return False
            continue
        if not _condition_holds(condition, event[condition["Field"]]):
            return False
    return True


def _operators(field: str) -> st.SearchStrategy[dict[str, list[str]]]:
    values = st.lists(st.sampled_from(CONSTANTS[field]), min_size=1, max_size=2, unique=True)
    return st.dictionaries(st.sampled_from(INCLUDING + EXCLUDING), values, min_size=1, max_size=3)


def _condition(field: str) -> st.SearchStrategy[dict[str, Any]]:
    return _operators(field).map(lambda ops: {"Field": field, **ops})


UNKNOWN_CONDITION = st.just({"Field": "eventName", "Equals": ["DeleteTrail"]})
CATEGORY = st.one_of(
    st.just({"Field": "eventCategory", "Equals": ["Management"]}),
    _condition("eventCategory"),
)


@st.composite
def advanced_selector(draw: st.DrawFn) -> dict[str, Any]:
    conditions = [draw(CATEGORY)]
    conditions += draw(st.lists(_condition("readOnly"), max_size=1))
    conditions += draw(st.lists(_condition("eventSource"), max_size=2))
    if draw(st.integers(0, 9)) == 0:
        conditions.append(draw(UNKNOWN_CONDITION))
    return {"Name": "generated", "FieldSelectors": draw(st.permutations(conditions))}


@settings(max_examples=300, deadline=None)
@given(st.lists(advanced_selector(), min_size=1, max_size=3))
def test_coverage_agrees_with_direct_evaluation_of_the_selectors(selectors: list[dict[str, Any]]) -> None:
    cov = coverage({"AdvancedEventSelectors": selectors})

    for unknown_holds, missing in ((True, cov.surely_missing), (False, cov.maybe_missing)):

        def logged(read_only: str, source: str, unknown_holds: bool = unknown_holds) -> bool:
            return any(reference_logs(s, read_only, source, unknown_holds=unknown_holds) for s in selectors)

        for read_only, witness in missing:
            assert not logged(read_only, witness), f"reported missing but logged: {read_only} {witness!r}"
        if not missing:
            unlogged = [(rw, s) for rw in HALVES for s in SOURCES if not logged(rw, s)]
            assert unlogged == [], f"nothing reported missing, yet {unlogged[:3]} are not logged"

    for read_only in HALVES:
        if cov.half_missing(read_only):
            assert not any(reference_logs(s, read_only, src, unknown_holds=True) for s in selectors for src in SOURCES)
    if any(reference_logs(s, rw, src, unknown_holds=True) for s in selectors for rw in HALVES for src in SOURCES):
        assert cov.logs_anything
