"""Organization mode's parts, each alone: member credentials and their cache, the directory, the
configuration, the SQS intake, the sweep's messages, grouping, the blast radius and the revert's owner rule."""

from __future__ import annotations

import datetime
import json
from dataclasses import replace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from trailguard import events
from trailguard.alerts import Alert
from trailguard.baseline import Baseline
from trailguard.config import ConfigError, HandlerConfig
from trailguard.fix import revert
from trailguard.fleet import (
    GROUP_ABOVE,
    Order,
    Radius,
    grouped,
    radius,
    shared_from_json,
    shared_json,
    with_radius,
)
from trailguard.judge import CallVerdict, Policy, TrailState, evaluate_trail
from trailguard.organization import Account, AccountUnreachable, Directory, MemberAccess

from .builders import ACCOUNT, OTHER_ACCOUNT, STOPPED, state, trail


class Sts:
    def __init__(self, fail: str = "") -> None:
        self.calls: list[str] = []
        self.fail = fail

    def assume_role(self, RoleArn: str, RoleSessionName: str) -> dict[str, Any]:
        self.calls.append(f"{RoleArn}" if RoleSessionName == "trailguard" else "")
        if self.fail:
            error = {"Error": {"Code": self.fail, "Message": "no"}, "ResponseMetadata": {"HTTPStatusCode": 403}}
            raise ClientError(error, "AssumeRole")  # type: ignore[arg-type]
        expires = datetime.datetime.fromtimestamp(10_000, tz=datetime.UTC)
        credentials = {"AccessKeyId": "AK", "SecretAccessKey": "s", "SessionToken": "t", "Expiration": expires}
        return {"Credentials": credentials}


class Session:
    def __init__(self, sts: Sts) -> None:
        self.sts = sts

    def client(self, service: str, **_: Any) -> Any:
        assert service == "sts"
        return self.sts


def access(sts: Sts, clock: list[float]) -> MemberAccess:
    return MemberAccess(
        Session(sts),  # type: ignore[arg-type]
        own_account=ACCOUNT, own_clients=lambda s, r: ("own", s, r), role_name="trailguard-member",
        partition="aws", home="us-east-1", config=None,  # type: ignore[arg-type]
        clock=lambda: clock[0],
    )  # fmt: skip


def test_member_credentials_are_assumed_once_per_account_until_shortly_before_they_expire() -> None:
    sts, clock = Sts(), [1_000.0]
    members = access(sts, clock)

    for _ in range(3):
        members.credentials(OTHER_ACCOUNT)
    clock[0] = 10_000 - 301  # still more than five minutes left
    members.credentials(OTHER_ACCOUNT)
    assert sts.calls == ["arn:aws:iam::444455556666:role/trailguard-member"]
    clock[0] = 10_000 - 299  # less: renewed before it runs out
    members.credentials(OTHER_ACCOUNT)
    assert len(sts.calls) == 2


def test_the_detectors_own_account_needs_no_role() -> None:
    sts = Sts()
    assert access(sts, [0.0]).clients(ACCOUNT)("cloudtrail", "us-east-1") == ("own", "cloudtrail", "us-east-1")
    assert sts.calls == []


def test_a_role_that_cannot_be_assumed_says_which_and_why_and_whether_to_retry() -> None:
    with pytest.raises(AccountUnreachable) as denied:
        access(Sts("AccessDenied"), [0.0]).clients(OTHER_ACCOUNT)
    assert "arn:aws:iam::444455556666:role/trailguard-member" in str(denied.value)
    assert "AccessDenied" in str(denied.value) and not denied.value.retry
    with pytest.raises(AccountUnreachable) as throttled:
        access(Sts("Throttling"), [0.0]).clients(OTHER_ACCOUNT)
    assert throttled.value.retry


class Organizations:
    def __init__(self, organization: str = "o-abcdefghij") -> None:
        self.organization, self.listed = organization, 0
        self.described: list[str] = []

    def describe_organization(self) -> dict[str, Any]:
        return {"Organization": {"Id": self.organization}}

    def describe_account(self, AccountId: str) -> dict[str, Any]:
        self.described.append(AccountId)
        for page in self.pages():
            for item in page["Accounts"]:
                if item["Id"] == AccountId:
                    return {"Account": item}
        error = {"Error": {"Code": "AccountNotFoundException", "Message": "no"}}
        raise ClientError(error, "DescribeAccount")  # type: ignore[arg-type]

    def get_paginator(self, name: str) -> Any:
        assert name == "list_accounts"
        owner = self

        class Pages:
            def paginate(self) -> list[dict[str, Any]]:
                owner.listed += 1
                return owner.pages()

        return Pages()

    def pages(self) -> list[dict[str, Any]]:
        return [
            {"Accounts": [{"Id": OTHER_ACCOUNT, "Name": "prod", "Status": "ACTIVE"}]},
            {"Accounts": [{"Id": "999988887777", "Name": "gone", "Status": "SUSPENDED"},
                          {"Id": ACCOUNT, "Name": "management", "State": "ACTIVE"}]},
        ]  # fmt: skip


def test_the_directory_lists_active_accounts_once_per_ttl_and_names_them() -> None:
    clock = [0.0]
    client = Organizations()
    directory = Directory(client, "o-abcdefghij", ttl=300, clock=lambda: clock[0])

    assert directory.accounts() == (Account(ACCOUNT, "management"), Account(OTHER_ACCOUNT, "prod"))
    assert directory.name(OTHER_ACCOUNT) == "prod" and directory.name("999988887777") == ""
    assert client.listed == 1
    clock[0] = 301
    directory.accounts()
    assert client.listed == 2


def test_calls_from_outside_the_organization_or_a_suspended_account_are_not_served() -> None:
    client = Organizations()
    directory = Directory(client, "o-abcdefghij")
    assert directory.outside(OTHER_ACCOUNT) == ""
    assert directory.name(OTHER_ACCOUNT) == "prod"
    assert client.described == [OTHER_ACCOUNT]  # one DescribeAccount, kept: an event needs no full listing
    assert "not an active account of organization o-abcdefghij" in directory.outside("999988887777")
    assert "not ORGANIZATION_ID o-zzzzzzzzzz" in Directory(Organizations(), "o-zzzzzzzzzz").outside(OTHER_ACCOUNT)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"MEMBER_ROLE_NAME": "bad role"}, "MEMBER_ROLE_NAME"),
        ({"MEMBER_ROLE_NAME": "r", "ORGANIZATION_ID": "org-1"}, "ORGANIZATION_ID"),
        ({"ORGANIZATION_ID": "o-abcdefghij"}, "ORGANIZATION_ID"),
        ({"MEMBER_ROLE_NAME": "r", "SWEEP_QUEUE_URL": "not a url"}, "SWEEP_QUEUE_URL"),
        ({"SWEEP_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/q"}, "SWEEP_QUEUE_URL"),
        ({"WATCHED_REGIONS": "us-east-1,mars-1"}, "WATCHED_REGIONS"),
    ],
)
def test_a_bad_organization_setting_is_one_sentence_naming_it(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as error:
        HandlerConfig.from_env({"STATE_TABLE": "t", **env})
    assert str(error.value).startswith(named) and str(error.value).endswith(".")


def test_organization_settings_are_read() -> None:
    config = HandlerConfig.from_env({
        "STATE_TABLE": "t", "MEMBER_ROLE_NAME": "trailguard-member", "ORGANIZATION_ID": "o-abcdefghij",
        "SWEEP_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/sweep",
        "WATCHED_REGIONS": "us-east-1, eu-west-1,us-east-1",
    })  # fmt: skip
    assert config.organization and config.watched_regions == ("us-east-1", "eu-west-1")
    assert not HandlerConfig.from_env({"STATE_TABLE": "t"}).organization


def test_an_sqs_batch_is_a_sweep_batch_and_anything_else_in_records_is_ignored() -> None:
    message = {"eventSource": "aws:sqs", "messageId": "m1", "body": "{}"}
    assert isinstance(events.parse({"Records": [message]}), events.SweepBatch)
    assert isinstance(events.parse({"Records": [message, {"eventSource": "aws:s3"}]}), events.Ignored)
    assert isinstance(events.parse({"Records": []}), events.Ignored)


def test_a_sweep_order_is_small_and_the_organization_trails_it_shares_keep_their_times_and_baseline() -> None:
    when = datetime.datetime(2026, 11, 28, 8, 30, tzinfo=datetime.UTC)
    description = trail("org", account=ACCOUNT, IsOrganizationTrail=True)
    baseline = Baseline.of(description, {"EventSelectors": []})
    org = TrailState(description, {"IsLogging": True, "StartLoggingTime": when}, {"EventSelectors": []},
                     baseline=replace(baseline, recorded_at=1_700_000_000))  # fmt: skip
    order = Order("sweep-1", Account(OTHER_ACCOUNT, "prod"), ("us-east-1",))

    assert Order.parse(order.body()) == order
    assert len(order.body()) < 300  # the trails are stored once for the sweep, not carried by every message
    (back,) = shared_from_json(shared_json([org]))
    assert back == org
    assert back.baseline is not None and back.baseline.recorded_at == 1_700_000_000
    assert back.status is not None and back.status["StartLoggingTime"] == when
    for body in ("[]", json.dumps({"kind": "other"}), json.dumps({"kind": "trailguard-sweep-account", "sweep": "s",
                                                                  "account": "12"})):  # fmt: skip
        with pytest.raises(ValueError):
            Order.parse(body)


def alert(n: int, kind: str = "sweep-drift", subject: str = "") -> Alert:
    return Alert(key=f"k{n}", kind=kind, severity="high" if kind == "sweep-drift" else "low", summary=f"change {n}",
                 account=f"{n:012d}", region="us-east-1", trail_name="(account)",
                 reported={subject or f"account:{n:012d}": "no-compliant-trail"})  # fmt: skip


def test_a_few_sweep_alerts_go_out_as_they_are_and_many_as_one_group() -> None:
    few = [alert(n) for n in range(GROUP_ABOVE)]
    assert grouped("s", few, organization="o-x", home="us-east-1", own=ACCOUNT) == few

    org_trail = "arn:aws:cloudtrail:us-east-1:111122223333:trail/org"
    many = [alert(n) for n in range(50)] + [alert(99, "sweep-compliant"), alert(100, subject=org_trail)]
    sent = grouped("s", many, organization="o-x", home="us-east-1", own=ACCOUNT, apart=[org_trail])

    assert [a.key for a in sent[:1]] == ["k100"]  # the organization trail's own alert stays apart
    group = sent[1]
    assert len(sent) == 2 and group.kind == "sweep-drift" and group.severity == "high"
    assert len(group.reported) == 51  # it reports every account it stands for
    assert "51 changes in 51 accounts of o-x: 50 non-compliant, 1 compliant again" in group.summary
    assert group.findings[-1].message.startswith("… and 11 more changes")
    again = grouped("s", list(reversed(many)), organization="o-x", home="us-east-1", own=ACCOUNT, apart=[org_trail])
    assert again[1].key == group.key  # the same changes, the same alert: a retry finishes it


def test_the_blast_radius_names_the_accounts_left_uncovered_and_makes_the_alert_critical() -> None:
    accounts = [Account(f"{n:012d}", f"team-{n}") for n in range(14)]
    covered = {f"own:{n:012d}": "yes" for n in range(2)} | {f"own:{n:012d}": "no" for n in range(2, 10)}

    found = radius(accounts, covered)

    assert len(found.lost) == 12 and found.unknown == 4 and found.total == 14
    text = found.sentence("org", "o-x")
    assert "12 of 14 accounts of o-x lost their only compliant trail" in text
    assert "(4 not swept yet" in text and "and 2 more" in text and "000000000000" not in text
    assert radius(accounts, covered, ["security-org-trail"]).lost == ()  # another organization trail covers all
    assert "still covered by organization trail 'security-org-trail'" in radius(
        accounts, covered, ["security-org-trail"]
    ).sentence("org", "o-x")
    before = replace(alert(1), severity="high", findings=())
    assert with_radius(before, Radius((), 3), "o-x").severity == "high"
    assert "every one of the 3 accounts" in with_radius(before, Radius((), 3), "o-x").summary


def test_an_organization_trail_is_reverted_only_with_its_owners_credentials() -> None:
    org = trail("org", account=OTHER_ACCOUNT, IsOrganizationTrail=True)
    stopped = state(org, status=STOPPED)
    findings = tuple(evaluate_trail(stopped.facts(Policy()), ACCOUNT))
    verdict = CallVerdict(stopped, findings)

    def clients(service: str, region: str) -> Any:
        raise AssertionError("no call may be made")

    results, planned = revert(verdict, "on", Policy(), None, clients, account=ACCOUNT)  # type: ignore[arg-type]

    assert results == [] and planned.calls == ()
    assert f"organization trail of account {OTHER_ACCOUNT}" in planned.why_not


def test_a_foreign_organization_trails_key_that_a_member_cannot_read_is_left_to_its_owner() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from trailguard.read import rule_facts

    class Kms:
        def describe_key(self, **_: Any) -> Any:
            error = {"Error": {"Code": "AccessDeniedException", "Message": "no"}}
            raise ClientError(error, "DescribeKey")  # type: ignore[arg-type]

    key = f"arn:aws:kms:eu-west-1:{OTHER_ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    foreign = state(trail("org", account=OTHER_ACCOUNT, IsOrganizationTrail=True, KmsKeyId=key))
    own = state(trail("own", KmsKeyId=key))
    with ThreadPoolExecutor(2) as pool:
        read = rule_facts([foreign, own], lambda _service, _region: Kms(), pool, account=ACCOUNT)

    assert read[0].error is None  # judged where it is owned; here it still covers the account
    assert read[1].error is not None and "kms:DescribeKey" in read[1].error  # the account's own key: not-evaluable
