"""``parse`` never raises and never returns a half-formed outcome, whatever EventBridge hands it.

Three sources of events: arbitrary JSON values as whole events, envelope-shaped objects whose fields are
arbitrary, and every fixture event mutated at any depth (a key deleted, a value replaced by arbitrary JSON,
its type changed, a string altered: unicode, whitespace, stringified null, huge). Whatever comes in, the
outcome is a ``TrailCall`` whose identifiers are well formed and whose fields are all bounded strings, a
``Sweep`` with an id, or ``Ignored`` with a reason; and the event is left as it was.
"""

from __future__ import annotations

import copy
import re
import string
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import event as tally
from hypothesis import strategies as st

from tests.events import event, names, scheduled
from trailguard.events import WATCHED_CALLS, Ignored, Sweep, TrailCall, parse

# Strict forms (ASCII only, whole string): what a TrailCall may carry on to the AWS API.
REGION = re.compile(r"[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}", re.ASCII)
TRAIL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", re.ASCII)
TRAIL_ARN = re.compile(r"arn:aws[a-z-]*:cloudtrail:[a-z0-9-]+:[0-9]{12}:trail/[A-Za-z0-9._-]{1,128}", re.ASCII)
MAX_FIELD = 2048

KEYS = (
    "version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail",
    "eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion", "eventID", "eventType",
    "recipientAccountId", "requestParameters", "name", "trailName", "errorCode", "errorMessage", "arn", "type",
    "invokedBy", "sessionContext", "sessionIssuer", "principalId", "sourceIPAddress", "userAgent",
)  # fmt: skip
WORDS = (
    "aws.cloudtrail", "aws.events", "AWS API Call via CloudTrail", "Scheduled Event", "cloudtrail.amazonaws.com",
    "AwsApiCall", "AwsVpceEvent", *sorted(WATCHED_CALLS), "CreateTrail", "us-east-1", "eu-central-1",
    "cn-north-1", "us-gov-west-1", "apiso-centralnorth-2r", "123456789012", "1234567890123", "org-audit",
    "arn:aws:cloudtrail:us-east-1:123456789012:trail/org-audit", "arn:aws-cn:cloudtrail:cn-north-1:1:trail/x",
    "null", "true", "false", "", " ", "AccessDenied",
)  # fmt: skip

strings = (
    st.text(max_size=40)
    | st.sampled_from(WORDS)
    | st.text(alphabet=string.ascii_lowercase + string.digits + ":/._-\n ", max_size=60)
)
scalars = st.none() | st.booleans() | st.integers(min_value=-(2**64), max_value=2**64) | st.floats() | strings
keys = st.sampled_from(KEYS) | st.text(max_size=8)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=25,
)


ABSENT = object()


def mostly(*valid: Any) -> st.SearchStrategy[Any]:
    """Mostly a valid value; now and then any JSON value, or no key at all."""
    return st.integers(min_value=0, max_value=9).flatmap(
        lambda n: st.just(ABSENT) if n == 0 else json_values if n == 1 else st.sampled_from(valid)
    )


def present(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not ABSENT}


details = st.fixed_dictionaries(
    {
        "eventSource": mostly("cloudtrail.amazonaws.com"),
        "eventName": mostly(*sorted(WATCHED_CALLS)),
        "eventType": mostly("AwsApiCall"),
        "eventID": mostly("6f1c0e2a-4b7d-4e93-a8c5-1d2f3b4a5c6e", "1"),
        "awsRegion": mostly("us-east-1", "cn-north-1", "us-gov-west-1", "ap-southeast-2"),
        "recipientAccountId": mostly("123456789012", "1234567890123"),
        "requestParameters": mostly(
            {"name": "org-audit"},
            {"trailName": "arn:aws:cloudtrail:us-west-2:123456789012:trail/org-audit"},
            {"name": "arn:aws-cn:cloudtrail:cn-north-1:123456789012:trail/org-audit"},
        ),
        "errorCode": mostly(None, "AccessDenied", "null"),
        "userIdentity": mostly({}) | json_values,
        "userAgent": mostly("aws-cli/2.22.4") | json_values,
    }
).map(present)
envelopes = st.fixed_dictionaries(
    {
        "id": mostly("0e8f5a3c-9d2b-4c71-b6e4-2a7f1d9c3b58"),
        "source": mostly(*["aws.cloudtrail"] * 4, "aws.events"),
        "detail-type": mostly(*["AWS API Call via CloudTrail"] * 4, "Scheduled Event"),
        "account": mostly("123456789012", "", "XXXXXXXXXX"),
        "region": mostly("us-east-1", "eu-central-1"),
        "detail": details | mostly({}),
    }
).map(present)

BASES = [event(name, trail="org-audit") for name in names()] + [
    event(name, trail="org-audit", region=region)
    for name in ("stoplogging_console_arn", "puteventselectors_read_only")
    for region in ("cn-north-1", "us-gov-west-1")
] + [scheduled()]  # fmt: skip

Path = tuple[str | int, ...]


def paths(value: Any, prefix: Path = ()) -> list[Path]:
    """Every place in a JSON value, the root included."""
    found = [prefix]
    if isinstance(value, dict):
        for key, inner in value.items():
            found += paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += paths(inner, (*prefix, index))
    return found


def retyped(value: Any) -> Any:
    """The same content in another JSON type."""
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list):
        return {str(i): inner for i, inner in enumerate(value)}
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return [value] if len(value) % 2 else {"value": value}
    return "null"


STRING_TWEAKS: tuple[Callable[[str], str], ...] = (
    lambda s: s + "\n",
    lambda s: " " + s,
    lambda s: s.upper(),
    lambda s: s + "\u0661",
    lambda s: s.replace("-", "\u2010"),
    lambda s: s[:-1],
    lambda s: s + "<script>",
    lambda s: (s or "x")[:8] * 20_000,
    lambda _s: "null",
    lambda _s: "",
)


@st.composite
def mutated_events(draw: st.DrawFn) -> Any:
    evt: Any = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(paths(evt)))
        parent: Any = None
        current: Any = evt
        for step in path:
            parent, current = current, current[step]
        kind = draw(st.sampled_from(["delete", "replace", "retype", "tweak"]))
        if kind == "delete" and parent is not None:
            del parent[path[-1]]
            continue
        if kind == "tweak" and isinstance(current, str):
            new: Any = draw(st.sampled_from(STRING_TWEAKS))(current)
        elif kind == "retype":
            new = retyped(current)
        else:
            new = draw(json_values)
        if parent is None:
            evt = new
        else:
            parent[path[-1]] = new
    return evt


def lax_identifier(call: TrailCall) -> bool:
    """A trailing newline, a non-ASCII character or a name AWS refuses: what the identifiers must never hold."""
    texts = (call.region, call.trail.region, call.trail.name, call.trail.arn or "")
    return any("\n" in text or not text.isascii() for text in texts) or call.trail.name[:1] in {".", "_", "-"}


def check(evt: Any) -> None:
    before = repr(evt)
    outcome = parse(evt)
    assert repr(evt) == before, "parse changed the event"
    assert isinstance(outcome, TrailCall | Sweep | Ignored)
    tally(type(outcome).__name__)  # shown by --hypothesis-show-statistics
    if isinstance(outcome, Ignored):
        assert isinstance(outcome.reason, str) and outcome.reason
        assert isinstance(outcome.event_id, str) and isinstance(outcome.event_name, str)
    elif isinstance(outcome, Sweep):
        assert isinstance(outcome.event_id, str) and outcome.event_id
        assert isinstance(outcome.account, str) and isinstance(outcome.time, str)
    else:
        check_call(outcome)


def check_call(call: TrailCall) -> None:
    assert not lax_identifier(call), call
    texts = [call.event_id, call.event_name, call.account, call.region, call.error_code, call.error_message]
    texts += [call.trail.name, call.trail.region, call.trail.partition]
    texts += [call.actor.arn, call.actor.principal_type, call.actor.source_ip, call.actor.user_agent]
    texts += [call.actor.time, call.actor.invoked_by]
    assert all(isinstance(text, str) and len(text) <= MAX_FIELD for text in texts), call
    assert call.event_id
    assert call.event_name in WATCHED_CALLS
    assert REGION.fullmatch(call.region), call.region
    assert REGION.fullmatch(call.trail.region), call.trail.region
    assert TRAIL_NAME.fullmatch(call.trail.name), call.trail.name
    assert call.trail.partition.startswith("aws")
    if call.trail.arn is not None:
        assert TRAIL_ARN.fullmatch(call.trail.arn), call.trail.arn
        assert call.trail.arn.endswith(f":trail/{call.trail.name}")
        assert call.trail.arn.startswith(f"arn:{call.trail.partition}:cloudtrail:{call.trail.region}:")
    assert call.failed == bool(call.error_code)


def budget(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@budget(500)
@given(json_values)
def test_any_json_value_as_a_whole_event_is_classified_without_raising(evt: Any) -> None:
    check(evt)


@budget(500)
@given(envelopes)
def test_any_envelope_shaped_event_is_classified_without_raising(evt: Any) -> None:
    check(evt)


@budget(1000)
@given(mutated_events())
def test_every_fixture_mutated_anywhere_is_classified_without_raising(evt: Any) -> None:
    check(evt)
