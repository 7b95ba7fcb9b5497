"""The real handler, fuzzed: generated trail configurations applied to the emulator, then a watched call's
event with hostile AWS-supplied strings, delivered to ``drift_handler.handler``.

Each example creates one trail (a valid name; basic or advanced selectors whose free-text names carry unicode
and forged Slack markup; data-event selectors with up to 480 long, hard-to-compress values; management events
on, off, read-only, write-only, narrowed or not understood; logging, multi-region and log validation on or
off), makes the call's change (StopLogging, PutEventSelectors, UpdateTrail, DeleteTrail) or fails it (an
``errorCode`` and ``errorMessage`` carrying forged markup), and sends the event with a hostile user agent,
source IP, caller and time. For every example:

- the handler returns a JSON-serializable result with a known status, the one the configuration calls for,
  having alerted both channels exactly when it should (it raises nothing, ``DeliveryFailed`` included);
- no item the handler writes to the state table, nor any item stored there, reaches DynamoDB's 400 KB item
  limit, counted as DynamoDB counts it (moto's own count refuses some smaller items: such examples are
  discarded, since DynamoDB would have taken them);
- every Slack message is inert: no ``<`` or ``>``, mrkdwn verbatim with balanced backticks, and no forged
  markup token verbatim in the fallback text or in mrkdwn outside code spans.
"""

from __future__ import annotations

import random
import re
import string
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, example, given, reject, settings
from hypothesis import event as tally
from hypothesis import strategies as st

import drift_handler
from tests.events import event
from tests.unit.test_render import assert_inert, text_objects
from trailguard_dev.dynamodb import MAX_ITEM_BYTES, item_bytes, scan_all, value_bytes

from .conftest import BUCKET, REGION, TABLE, Context, Detector, cloudtrail

pytestmark = pytest.mark.integration

# Forged markup planted in AWS-supplied strings. Each is written with "zq", which nothing else generated here
# can spell (no "q" in names, values or free text), so finding one verbatim means it came through unneutralised.
TOKENS = ("*zq1*", "_zq2_", "~zq3~", "<!channel>", "<@U123>", "<!here>", "<http://evil.example|zq4>")
# What separates planted pieces: never a letter or digit, so a token always stands at a word's edge, where
# mrkdwn would format it (``a_zq2_b`` inside a word formats nothing, and is rightly left as it is).
SEPARATORS = (" ", "  ", "\n", "\t", "(", ")", ".", ",", ":", "/", '"', "'", "-", "!", "?", "\u3000")
EXTRAS = ("```", "`", "&", "&amp;", "&lt;", "\x00", "\x1b[31m", "\u202e", "\u200b", "\r\n", "\u2028", "x" * 900,
          "日本語", "\U0001f600", "null", "")  # fmt: skip
LONE_SURROGATE = "\ud800"  # json.loads gives one for "\ud800" in an event: possible in an event, not on the API
NO_Q = st.characters(codec="utf-8", exclude_characters="qQ")
CALLS = {
    "StopLogging": ("stoplogging_cli", "stoplogging_console_arn"),
    "PutEventSelectors": (
        "puteventselectors_read_only",
        "puteventselectors_stratus_mgmt_off",
        "puteventselectors_restore_all",
    ),
    "UpdateTrail": ("updatetrail_single_region", "updatetrail_console_form"),
    "DeleteTrail": ("deletetrail_cli_arn", "deletetrail_terraform"),
}
STATUSES = {"drift", "compliant", "ignored", "failed-attempt", "duplicate"}
MANAGEMENT = ("all", "read-only", "write-only", "off", "source-excluded", "unrecognized")
ADVANCED_MANAGEMENT: dict[str, list[dict[str, Any]]] = {
    "all": [],
    "read-only": [{"Field": "readOnly", "Equals": ["true"]}],
    "write-only": [{"Field": "readOnly", "Equals": ["false"]}],
    "source-excluded": [{"Field": "eventSource", "NotEquals": ["iam.amazonaws.com"]}],
    "unrecognized": [{"Field": "eventName", "NotEquals": ["StopLogging"]}],  # a field trailguard does not judge
}
VALUE_ALPHABET = [c for c in string.ascii_letters + string.digits + "-_./*~`<>&|!@:#" if c not in "qQ"]
VALUE_ALPHABET += ["é", "ß", "日", "本", "\u00a0", "\U0001f600"]
MAX_BASIC_VALUES = 250  # PutEventSelectors: data resources across a trail's basic selectors


# --- what an example is ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataValues:
    """``count`` resources.ARN StartsWith values of ``length`` characters, hard to compress (seeded random), so
    that a stored baseline or alert carrying them is as large as it can be; kept as three numbers so that a
    failing example prints short."""

    count: int
    length: int
    seed: int

    def values(self) -> list[str]:
        rng = random.Random(self.seed)
        prefix = "arn:aws:s3:::"
        return [
            prefix
            + f"b{n}/"
            + "".join(rng.choices(VALUE_ALPHABET, k=max(0, self.length - len(prefix) - 2 - len(str(n)))))
            for n in range(self.count)
        ]


@dataclass(frozen=True)
class Scenario:
    trail: str
    kind: str  # "advanced", "basic" or "none" (no selectors put: moto's trail then has none)
    management: str  # one of MANAGEMENT
    management_name: str  # the advanced selectors' free-text names
    data_name: str
    data: DataValues | None
    logging: bool
    multi_region: bool
    validation: bool
    call: str
    fixture: str
    failed: bool
    mode: str  # REMEDIATION_MODE
    changes: dict[str, Any] = field(default_factory=dict)  # the record's hostile fields

    @property
    def deleted(self) -> bool:
        return self.call == "DeleteTrail" and not self.failed

    def expected(self) -> str:
        """The status the configuration calls for: the trail, as the call leaves it, logs all management events
        from every region with log validation (compliant), or it does not (drift); a failed call is an attempt.
        A PutEventSelectors record that set selectors logging less (all but restore_all) leaves a logging gap
        (drift) even when the trail is compliant by the time it is read."""
        if self.failed:
            return "failed-attempt"
        if self.call == "PutEventSelectors" and self.fixture != "puteventselectors_restore_all":
            return "drift"
        logs = self.logging and self.call != "StopLogging" and self.kind != "none" and self.management == "all"
        everywhere = self.multi_region and self.call != "UpdateTrail"
        # Log validation switched off counts only against a baseline that had it on, and these trails have none.
        return "compliant" if logs and everywhere and not self.deleted else "drift"


def advanced_selectors(s: Scenario) -> list[dict[str, Any]]:
    selectors: list[dict[str, Any]] = []
    if s.management in ADVANCED_MANAGEMENT:
        category = {"Field": "eventCategory", "Equals": ["Management"]}
        selectors.append({"Name": s.management_name, "FieldSelectors": [category, *ADVANCED_MANAGEMENT[s.management]]})
    if s.data is not None:
        fields = [
            {"Field": "eventCategory", "Equals": ["Data"]},
            {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
            {"Field": "resources.ARN", "StartsWith": s.data.values()},
        ]
        selectors.append({"Name": s.data_name, "FieldSelectors": fields})
    return selectors


def basic_selectors(s: Scenario) -> list[dict[str, Any]]:
    selector: dict[str, Any] = {
        "ReadWriteType": {"read-only": "ReadOnly", "write-only": "WriteOnly"}.get(s.management, "All"),
        "IncludeManagementEvents": s.management != "off",
    }
    if s.management == "source-excluded":
        selector["ExcludeManagementEventSources"] = ["kms.amazonaws.com"]
    if s.management == "unrecognized":  # basic selectors have no field to misuse: log nothing of management
        selector["IncludeManagementEvents"] = False
    if s.data is not None:
        selector["DataResources"] = [{"Type": "AWS::S3::Object", "Values": s.data.values()[:MAX_BASIC_VALUES]}]
    return [selector]


# --- generating examples -----------------------------------------------------------------------------------


def hostile(*, surrogates: bool) -> st.SearchStrategy[str]:
    """Free text with planted tokens, unicode, controls, backticks and entities, pieces at word edges."""
    extras = (*EXTRAS, LONE_SURROGATE) if surrogates else EXTRAS
    piece = st.sampled_from(TOKENS) | st.sampled_from(extras) | st.text(NO_Q, max_size=30)
    pieces = st.lists(st.tuples(piece, st.sampled_from(SEPARATORS)), min_size=1, max_size=8)
    return pieces.map(lambda ps: "".join(p + sep for p, sep in ps))


ALNUM = "".join(c for c in string.ascii_letters + string.digits if c not in "qQ")
RUNS = st.text(ALNUM, min_size=1, max_size=40)
TRAIL_NAMES = (
    st.builds(
        lambda first, rest: (first + "".join(s + r for s, r in rest))[:128],
        RUNS,
        st.lists(st.tuples(st.sampled_from("._-"), RUNS), max_size=5),
    )
    .filter(lambda name: len(name) >= 3 and name[-1].isalnum())
    .filter(lambda name: not re.fullmatch(r"[0-9]+(\.[0-9]+){3}", name))  # CloudTrail refuses IP-like names
)
NAMES = hostile(surrogates=False).map(lambda text: text[:1000])  # a selector Name takes 1-1000 characters
DATA = st.none() | st.builds(
    DataValues,
    count=st.integers(min_value=1, max_value=480) | st.sampled_from([250, 480]),  # often the most there can be
    length=st.integers(min_value=50, max_value=1000) | st.just(1000),
    seed=st.integers(min_value=0, max_value=2**32),
)
ODD_TIMES = ("2026-11-20T21:16:40Z", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "2026-02-30T25:61:61Z",
             "1e400", "", "null", "2026-11-20T21:16:40.123456789+05:30")  # fmt: skip
MAYBE = st.none()  # a field the record keeps as it is


@st.composite
def changes(draw: st.DrawFn, failed: bool) -> dict[str, Any]:
    text = hostile(surrogates=True)
    found: dict[str, Any] = {}
    if (agent := draw(MAYBE | text)) is not None:
        found["userAgent"] = agent
    if (ip := draw(MAYBE | text)) is not None:
        found["sourceIPAddress"] = ip
    if (arn := draw(MAYBE | text)) is not None:
        identity = {"type": draw(st.just("AssumedRole") | text), "principalId": draw(text), "arn": arn,
                    "accountId": "123456789012"}  # fmt: skip
        if draw(st.booleans()):
            identity["invokedBy"] = draw(text)
        found["userIdentity"] = identity
    if (when := draw(MAYBE | st.sampled_from(ODD_TIMES) | text)) is not None:
        found["eventTime"] = when
    if failed:
        found["errorCode"] = draw(st.sampled_from(["AccessDenied", "TrailNotFoundException"]) | text)
        found["errorMessage"] = draw(text)
    return found


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    call = draw(st.sampled_from(sorted(CALLS)))
    failed = draw(st.integers(min_value=0, max_value=3)) == 0
    return Scenario(
        trail=draw(TRAIL_NAMES),
        kind=draw(st.sampled_from(["advanced", "advanced", "basic", "none"])),
        management=draw(st.sampled_from(MANAGEMENT)),
        management_name=draw(NAMES),
        data_name=draw(NAMES),
        data=draw(DATA),
        logging=draw(st.booleans()),
        multi_region=draw(st.booleans()),
        validation=draw(st.booleans()),
        call=call,
        fixture=draw(st.sampled_from(CALLS[call])),
        failed=failed,
        mode=draw(st.sampled_from(["off", "off", "dry-run", "on"])),
        changes=draw(changes(failed)),
    )


# --- one example, against the emulator ---------------------------------------------------------------------


def reset(detector: Detector) -> None:
    """Every trail and state item gone, the Slack stand-in emptied: the next example starts from nothing."""
    ct = cloudtrail()
    for trail in ct.describe_trails(includeShadowTrails=False)["trailList"]:
        ct.delete_trail(Name=trail["TrailARN"])
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    for item in list(scan_all(dynamodb, TABLE)):
        dynamodb.delete_item(TableName=TABLE, Key={"pk": item["pk"]})
    detector.slack.clear()


def apply(s: Scenario) -> None:
    """The trail as configured, then the call's change made for real (a failed call changes nothing)."""
    ct = cloudtrail()
    ct.create_trail(Name=s.trail, S3BucketName=BUCKET, IsMultiRegionTrail=s.multi_region,
                    EnableLogFileValidation=s.validation)  # fmt: skip
    if s.kind == "advanced" and (selectors := advanced_selectors(s)):
        ct.put_event_selectors(TrailName=s.trail, AdvancedEventSelectors=selectors)
    elif s.kind == "basic":
        ct.put_event_selectors(TrailName=s.trail, EventSelectors=basic_selectors(s))
    if s.logging:
        ct.start_logging(Name=s.trail)
    if s.failed:
        return
    if s.call == "StopLogging":
        ct.stop_logging(Name=s.trail)
    elif s.call == "UpdateTrail":
        ct.update_trail(Name=s.trail, IsMultiRegionTrail=False)
    elif s.call == "DeleteTrail":
        ct.delete_trail(Name=s.trail)


def outside_code(text: str) -> str:
    """mrkdwn text without its code spans and blocks, where formatting does apply (backticks are balanced)."""
    return re.sub(r"`[^`]*`", "", text)


def assert_no_forged_markup(message: dict[str, Any]) -> None:
    assert_inert(message)  # no < or > anywhere, mrkdwn verbatim, backticks balanced
    prose = [
        message["text"],
        *(outside_code(o["text"]) for o in text_objects(message["blocks"]) if o["type"] == "mrkdwn"),
    ]
    for text in prose:
        for token in TOKENS:
            assert token not in text, (token, text)


def written(operation: str, params: Mapping[str, Any]) -> Iterator[tuple[str, int]]:
    """(key, bytes) for each item a write request puts, counted as DynamoDB counts items: a PutItem's or
    BatchWriteItem's whole item; for an UpdateItem its key, attribute names and values (what it adds to the item:
    the rest of an alert item, its lease and owner tokens, is a few hundred bytes)."""
    if operation == "UpdateItem":
        names = sum(len(n.encode()) for n in params.get("ExpressionAttributeNames", {}).values())
        values = sum(value_bytes(v) for v in params.get("ExpressionAttributeValues", {}).values())
        yield params["Key"]["pk"]["S"], item_bytes(params["Key"]) + names + values
    elif operation == "PutItem":
        yield params["Item"]["pk"]["S"], item_bytes(params["Item"])
    elif operation == "BatchWriteItem":
        for requests in params["RequestItems"].values():
            for request in requests:
                if "PutRequest" in request:
                    item = request["PutRequest"]["Item"]
                    yield item["pk"]["S"], item_bytes(item)


@dataclass
class Writes:
    """The largest item write the handler's DynamoDB client sent (botocore's before-parameter-build hook), so
    that a write is judged by DynamoDB's own count whether or not the emulator took it."""

    largest: int = 0
    key: str = ""

    def __call__(self, params: Mapping[str, Any], model: Any, **_: Any) -> None:
        for key, size in written(model.name, params):
            if size > self.largest:
                self.largest, self.key = size, key

    def assert_fit(self) -> None:
        assert self.largest < MAX_ITEM_BYTES, f"the handler wrote a {self.largest}-byte item {self.key[:80]}"


def assert_stored_items_fit() -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    sizes = {item["pk"]["S"][:80]: item_bytes(item) for item in scan_all(dynamodb, TABLE)}
    assert all(size < MAX_ITEM_BYTES for size in sizes.values()), sizes


HUGE = DataValues(count=480, length=1000, seed=7)
FORGED = " ".join(TOKENS) + " ``` `x` &amp; \U0001f600"
BASE = Scenario(trail="org-audit", kind="advanced", management="all", management_name=FORGED, data_name=FORGED,
                data=HUGE, logging=True, multi_region=True, validation=True, call="PutEventSelectors",
                fixture="puteventselectors_restore_all", failed=False, mode="off")  # fmt: skip
HOSTILE = {
    "userAgent": FORGED,
    "sourceIPAddress": FORGED,
    "eventTime": FORGED,
    "userIdentity": {"type": FORGED, "arn": FORGED, "invokedBy": FORGED, "accountId": "123456789012"},
}
EXAMPLES = [
    BASE,  # compliant, with a baseline too large to keep whole
    replace(BASE, call="StopLogging", fixture="stoplogging_cli", changes=HOSTILE),
    replace(BASE, fixture="puteventselectors_read_only", changes=HOSTILE),  # compliant again: a logging gap
    replace(BASE, management="unrecognized", mode="dry-run", changes=HOSTILE),
    replace(BASE, management="read-only", data=DataValues(count=60, length=300, seed=3), mode="on"),
    replace(BASE, call="DeleteTrail", fixture="deletetrail_cli_arn", data=None),
    replace(
        BASE,
        call="UpdateTrail",
        fixture="updatetrail_single_region",
        failed=True,
        changes={**HOSTILE, "errorCode": FORGED, "errorMessage": FORGED},
    ),
]


def start_container(mode: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A fresh container with ``REMEDIATION_MODE=mode`` (read at cold start); the last one's threads let go."""
    if drift_handler._runtime is not None:
        drift_handler._runtime.pool.shutdown(wait=False)
    monkeypatch.setenv("REMEDIATION_MODE", mode)
    monkeypatch.setattr(drift_handler, "_runtime", None)
    return drift_handler.runtime(Context())


def test_any_trail_and_any_event_give_a_verdict_inert_alerts_and_items_that_fit(
    detector: Detector, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: Counter[str] = Counter()

    @settings(max_examples=28, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                     HealthCheck.data_too_large, HealthCheck.filter_too_much])  # fmt: skip
    @given(scenarios())
    def run(s: Scenario) -> None:
        reset(detector)
        apply(s)
        evt = event(s.fixture, trail=s.trail, region=REGION, **s.changes)
        writes = Writes()
        start_container(s.mode, monkeypatch).table.client.meta.events.register(
            "before-parameter-build.dynamodb", writes
        )

        try:
            result = detector.run(evt)  # JSON-serializable, or run raises
        except drift_handler.DeliveryFailed as error:
            pytest.fail(f"a channel failed, though both work: {error}")
        except ClientError as error:
            writes.assert_fit()  # an item over the limit is the handler's fault, whatever the emulator says
            # moto refuses some items DynamoDB takes: it counts a binary value by its base64 text (a third more)
            # and an updated attribute's old and new values together, up to 405,000 bytes. Written under
            # DynamoDB's limit (just checked), such a refusal is the emulator's, not the handler's.
            if "maximum allowed size" in str(error):
                tally("the emulator refused an item DynamoDB takes")
                reject()
            raise

        status = result["status"]
        tally(f"status {status}")
        assert status in STATUSES
        assert status == s.expected(), (status, [f["rule"] for f in result["findings"]])
        messages = [m.body for m in detector.slack.messages]
        alerted = status in ("drift", "failed-attempt")
        assert len(messages) == (1 if alerted else 0), messages
        assert sorted(result["notified"]) == (["slack", "sns"] if alerted else [])
        for message in messages:
            assert_no_forged_markup(message)
        writes.assert_fit()
        assert_stored_items_fit()
        seen[status] += 1
        seen["slack messages"] += len(messages)

    for scenario in EXAMPLES:
        run = example(scenario)(run)
    run()

    assert seen["slack messages"] > 0, seen
    assert {"drift", "compliant", "failed-attempt"} <= set(seen), seen
