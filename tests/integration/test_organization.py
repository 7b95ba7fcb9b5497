"""Organization mode, end to end: one detector (in the management account here) serving every account of an
emulated AWS Organization through the member role. The emulator shows organization trails to member accounts
as AWS does (``trailguard_dev.faithful``), and refuses AssumeRole of a role that does not exist."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

import drift_handler
from tests.events import event, scheduled
from trailguard_dev.dynamodb import scan_all
from trailguard_dev.emulator import environment
from trailguard_dev.organization import ALL_MANAGEMENT_EVENTS, Organization, build_organization, client_as
from trailguard_dev.proxy import Fault, FaultProxy

from .conftest import ACCOUNT, REGION, TABLE, Detector, run_trailguard

pytestmark = pytest.mark.integration


def rules(result: dict[str, Any]) -> list[tuple[str, str]]:
    return [(f["rule"], f["severity"]) for f in result["findings"]]


def own_trail(account: str, name: str = "own", logging: bool = True) -> str:
    """A trail of the member account's own (a bucket of its own too), logging all management events."""
    bucket = f"own-logs-{account}"
    client_as(account, "s3").create_bucket(Bucket=bucket)
    cloudtrail = client_as(account, "cloudtrail")
    arn = str(cloudtrail.create_trail(Name=name, S3BucketName=bucket, IsMultiRegionTrail=True)["TrailARN"])
    cloudtrail.put_event_selectors(TrailName=name, EventSelectors=ALL_MANAGEMENT_EVENTS)
    if logging:
        cloudtrail.start_logging(Name=name)
    return arn


def organization(monkeypatch: pytest.MonkeyPatch, *members: str, without_role: tuple[str, ...] = ()) -> Organization:
    org = build_organization(members or ("dev", "prod", "sandbox"), without_role=without_role)
    monkeypatch.setenv("MEMBER_ROLE_NAME", org.role_name)
    monkeypatch.setenv("ORGANIZATION_ID", org.id)
    monkeypatch.setenv("WATCHED_REGIONS", REGION)
    return org


@pytest.fixture
def org(detector: Detector, monkeypatch: pytest.MonkeyPatch) -> Organization:
    """The management account (the detector's own) with the organization trail, three members, one of them
    (prod) with a trail of its own."""
    built = organization(monkeypatch)
    own_trail(built.account("prod"))
    return built


def test_a_member_trail_that_drifts_under_the_organization_trail_is_high_and_names_the_account(
    detector: Detector, org: Organization
) -> None:
    prod = org.account("prod")
    client_as(prod, "cloudtrail").stop_logging(Name="own")

    result = detector.run(event("stoplogging_cli", trail="own", account=prod))

    assert result["status"] == "drift" and result["account"] == prod
    assert rules(result) == [("logging-stopped", "high")]  # the organization trail still covers prod
    assert result["trail_arn"] == f"arn:aws:cloudtrail:{REGION}:{prod}:trail/own"
    [text] = detector.slack_texts()
    assert f"{prod} (prod)" in text
    [email] = detector.inbox()
    assert f"{prod} (prod)" in email["Message"]


def test_a_control_tower_estate_sweeps_compliant_with_no_alert(detector: Detector, org: Organization) -> None:
    swept = detector.run(scheduled())

    assert swept["status"] == "compliant", swept["findings"]
    assert swept["accounts"] == 4
    assert [f["rule"] for f in swept["findings"]] == ["organization-trail-elsewhere"] * 3  # advisory, never counted
    assert swept["notified"] == [] and detector.slack_texts() == []


def test_the_organization_trail_is_read_once_per_sweep_and_each_member_assumed_once(
    detector: Detector, org: Organization
) -> None:
    detector.emu.clear_calls()
    detector.run(scheduled())
    calls = detector.emu.calls()

    assert calls["AssumeRole"] == 3
    assert calls["GetTrailStatus"] == 2  # the organization trail once, prod's own trail once
    assert calls["GetEventSelectors"] == 2
    assert calls["DescribeTrails"] == 4  # one region, four accounts


def test_a_call_from_outside_the_organization_is_ignored(detector: Detector, org: Organization) -> None:
    result = detector.run(event("stoplogging_cli", trail="own", account="999999999999"))

    assert result["status"] == "ignored"
    assert "not an active account of organization" in result["reason"] and org.id in result["reason"]
    assert detector.slack_texts() == []


def test_an_account_whose_role_cannot_be_assumed_is_not_evaluable_and_says_why(
    detector: Detector, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = organization(monkeypatch, "dev", "locked", without_role=("locked",))
    locked = org.account("locked")

    result = detector.run(event("stoplogging_cli", trail="own", account=locked))

    assert [f["rule"] for f in result["findings"]][:1] == ["not-evaluable"]
    assert f"arn:aws:iam::{locked}:role/{org.role_name}" in result["findings"][0]["message"]
    assert "AccessDenied" in result["findings"][0]["message"]
    swept = detector.run(scheduled())  # the others are still judged
    by_account = {f["account"]: f["rule"] for f in swept["findings"] if f["rule"] == "not-evaluable"}
    assert list(by_account) == [locked]


def test_a_tamper_with_the_organization_trail_is_one_alert_with_its_blast_radius(
    detector: Detector, org: Organization
) -> None:
    detector.run(scheduled())  # records which accounts have a compliant trail of their own (only prod)
    boto3.client("cloudtrail", region_name=REGION).stop_logging(Name="org-trail")

    result = detector.run(event("stoplogging_cli", trail="org-trail"))

    assert result["status"] == "drift"
    assert rules(result)[0] == ("logging-stopped", "critical")
    [text] = detector.slack_texts()
    assert "Blast radius: 3 of 4 accounts" in text
    for name in ("dev", "sandbox"):
        assert f"{org.account(name)} ({name})" in text
    assert f"{org.account('prod')} (prod)" not in text


def test_many_accounts_drifting_at_once_are_grouped_into_one_alert(
    detector: Detector, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = organization(monkeypatch, *(f"team-{n}" for n in range(8)))
    detector.run(scheduled())
    boto3.client("cloudtrail", region_name=REGION).stop_logging(Name="org-trail")

    swept = detector.run(scheduled())

    texts = detector.slack_texts()
    assert len(texts) == 2, texts  # the organization trail's own alert, and one for the nine accounts
    assert "Blast radius: 9 of 9 accounts" in texts[0]
    assert "changes in 9 accounts" in texts[1]
    assert len(swept["alerts"]) == 2
    assert detector.run(scheduled())["notified"] == []  # said once
    assert org.org_trail_arn


def _sqs_event(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:trailguard-sweep",
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }


@pytest.fixture
def sweep_queue(monkeypatch: pytest.MonkeyPatch, detector: Detector) -> Iterator[str]:
    url = str(boto3.client("sqs", region_name=REGION).create_queue(QueueName="trailguard-sweep")["QueueUrl"])
    monkeypatch.setenv("SWEEP_QUEUE_URL", url)
    yield url


def _received(url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=REGION)
    found: list[dict[str, Any]] = []
    while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        found += got
        for m in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return found


def test_the_sweep_fans_out_one_message_per_account_and_answers_a_partial_batch(
    detector: Detector, org: Organization, sweep_queue: str
) -> None:
    prod = org.account("prod")
    client_as(prod, "cloudtrail").stop_logging(Name="own")

    swept = detector.run(scheduled())
    messages = _received(sweep_queue)
    bogus = {"MessageId": str(uuid.uuid4()), "ReceiptHandle": "x", "Body": "not a sweep order"}
    answer = detector.run(_sqs_event([*messages, bogus]))

    assert swept["queued"] == 3 and len(messages) == 3
    assert {json.loads(m["Body"])["account"] for m in messages} == {org.account(n) for n in ("dev", "prod", "sandbox")}
    assert answer == {"batchItemFailures": []}  # the malformed message is logged and dropped, never retried
    [text] = detector.slack_texts()
    assert f"{prod} (prod)" in text and "own" in text and "logging-stopped" in text


def test_a_batch_whose_alert_a_channel_refused_is_retried_and_finished_once(
    detector: Detector, org: Organization, sweep_queue: str
) -> None:
    prod = org.account("prod")
    client_as(prod, "cloudtrail").stop_logging(Name="own")
    detector.run(scheduled())
    messages = _received(sweep_queue)
    detector.slack.fail_next(1, status=404, error="no_service")  # Slack refuses this attempt (not retried)

    first = detector.run(_sqs_event(messages))
    failed = [item["itemIdentifier"] for item in first["batchItemFailures"]]
    again = detector.run(_sqs_event([m for m in messages if m["MessageId"] in failed]))

    prod_message = next(m["MessageId"] for m in messages if json.loads(m["Body"])["account"] == prod)
    assert failed == [prod_message]
    assert again == {"batchItemFailures": []}
    assert len(detector.slack_texts()) == 1
    assert len(detector.inbox()) == 1  # email delivered the first time, not again


def test_audit_organization_reports_every_account_with_its_name(
    detector: Detector, org: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    client_as(org.account("dev"), "cloudtrail")  # (dev has no trail of its own)
    done = run_trailguard("audit", "--organization", "--region", REGION, "--json", env=dict(os.environ))

    assert done.code == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["organization"] == org.id and report["compliant"] is True
    assert sorted((a["account"], a["name"]) for a in report["accounts"]) == sorted(
        [(ACCOUNT, "master"), *((org.account(n), n) for n in ("dev", "prod", "sandbox"))]
    )
    prod = next(a for a in report["accounts"] if a["name"] == "prod")
    assert [t["name"] for t in prod["trails"]] == ["org-trail", "own"]
    assert report["errors"] == []

    only = run_trailguard("audit", "--organization", "--region", REGION, "--account", org.account("dev"), "--json",
                          env=dict(os.environ))  # fmt: skip
    assert [a["name"] for a in json.loads(only.stdout)["accounts"]] == ["dev"]


def test_audit_organization_exit_codes_follow_the_worst_account(
    detector: Detector, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    org = organization(monkeypatch, "dev", "locked", without_role=("locked",))
    env = dict(os.environ)

    unknown = run_trailguard("audit", "--organization", "--region", REGION, env=env)
    assert unknown.code == 2
    assert f"{org.account('locked')} (locked) could not be read" in unknown.stdout
    assert unknown.stdout.strip().splitlines()[-1].startswith(f"organization {org.id}: could not evaluate")

    boto3.client("cloudtrail", region_name=REGION).stop_logging(Name="org-trail")
    findings = run_trailguard("audit", "--organization", "--region", REGION, "--account", org.account("dev"), env=env)
    assert findings.code == 1
    assert "no-compliant-trail" in findings.stdout

    bad = run_trailguard("audit", "--organization", "--account", "12345", env=env)
    assert bad.code == 2 and "12345" in bad.stderr and "Traceback" not in bad.stderr
    outside = run_trailguard("audit", "--organization", "--account", "999999999999", env=env)
    assert outside.code == 2 and "not an active account" in outside.stderr


def test_a_member_trail_is_reverted_through_the_member_role_and_that_revert_is_not_judged_again(
    detector: Detector, org: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REMEDIATION_MODE", "on")
    monkeypatch.setattr(drift_handler, "_runtime", None)
    detector.run(scheduled())  # the sweep records prod's trail as its baseline
    prod = org.account("prod")
    member = client_as(prod, "cloudtrail")
    member.stop_logging(Name="own")

    result = detector.run(event("stoplogging_cli", trail="own", account=prod))

    assert [(a["action"], a["result"]) for a in result["actions"]] == [("StartLogging", "done")]
    assert member.get_trail_status(Name="own")["IsLogging"] is True
    role = f"arn:aws:sts::{prod}:assumed-role/{org.role_name}/trailguard"  # the detector's own session
    issued = {item["pk"]["S"].removeprefix("issued#") for item in scan_all(boto3.client("dynamodb", region_name=REGION),
              TABLE) if item["pk"]["S"].startswith("issued#")}  # fmt: skip
    assert drift_handler._runtime is not None and drift_handler._runtime.access is not None
    key = drift_handler._runtime.access.credentials(prod).access_key  # the session the revert was made with
    assert issued == {key}  # the session the revert was made with, recorded before it (the sweep's are not)
    own_revert = event(
        "updatetrail_single_region",
        trail="own",
        account=prod,
        userIdentity={"type": "AssumedRole", "accountId": prod, "arn": role, "accessKeyId": key},
    )
    ignored = detector.run(own_revert)
    assert ignored["status"] == "ignored" and "own revert" in ignored["reason"]
    # whoever controls prod may open a session of the same role with the same name: it is judged all the same
    look_alike = event(
        "updatetrail_single_region",
        trail="own",
        account=prod,
        userIdentity={"type": "AssumedRole", "accountId": prod, "arn": role, "accessKeyId": "ASIAFAKE"},
    )
    assert detector.run(look_alike)["status"] != "ignored"


# --- the sweep on a bad day ----------------------------------------------------------------------------------


@pytest.fixture
def faulty(detector: Detector) -> Iterator[FaultProxy]:
    """The emulator behind the fault proxy, with this process's boto3 (and a fresh container) pointed at it."""
    with FaultProxy(detector.emu.endpoint) as proxy, environment(proxy.environ()):
        drift_handler._runtime = None
        yield proxy


def test_a_retried_sweep_finishes_its_grouped_alert_and_does_not_group_those_accounts_again(
    detector: Detector, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = organization(monkeypatch, *(f"team-{n}" for n in range(7)))
    for name in org.members.values():
        own_trail(org.account(name))
    detector.run(scheduled())
    for name in list(org.members.values())[:6]:
        client_as(org.account(name), "cloudtrail").stop_logging(Name="own")
    detector.slack.fail_next(1, status=404, error="no_service")  # the group reaches email, not Slack
    sweep = scheduled()

    with pytest.raises(drift_handler.DeliveryFailed):
        detector.run(sweep)
    client_as(org.account("team-6"), "cloudtrail").stop_logging(Name="own")  # one more drifts meanwhile
    retried = detector.run(sweep)  # Lambda's retry of the same scheduled event

    texts, emails = detector.slack_texts(), detector.inbox()
    assert len(emails) == 2 and len(texts) == 2, (texts, [e["Subject"] for e in emails])
    assert "changes in 6 accounts" in texts[0] and "changes in 6 accounts" in emails[0]["Message"]
    assert org.account("team-6") in texts[1] and org.account("team-0") not in texts[1]
    assert retried["status"] == "drift" and sorted(retried["notified"]) == ["slack", "sns"]


def test_an_order_delivered_twice_sweeps_the_account_once(
    detector: Detector, org: Organization, sweep_queue: str
) -> None:
    client_as(org.account("prod"), "cloudtrail").stop_logging(Name="own")
    detector.run(scheduled())
    messages = _received(sweep_queue)
    prod = next(m for m in messages if json.loads(m["Body"])["account"] == org.account("prod"))
    twice = {**prod, "MessageId": str(uuid.uuid4())}  # SQS may deliver a message more than once

    first = detector.run(_sqs_event(messages))
    second = detector.run(_sqs_event([twice]))

    assert first == second == {"batchItemFailures": []}
    assert len(detector.slack_texts()) == 1 and len(detector.inbox()) == 1


def test_a_retried_scheduled_sweep_does_not_queue_its_orders_again(
    detector: Detector, org: Organization, sweep_queue: str
) -> None:
    sweep = scheduled()
    detector.run(sweep)
    detector.run(sweep)

    assert len(_received(sweep_queue)) == 3


def test_with_a_second_organization_trail_a_stopped_one_has_no_blast_radius(
    detector: Detector, org: Organization
) -> None:
    cloudtrail = boto3.client("cloudtrail", region_name=REGION)
    cloudtrail.create_trail(Name="security-org-trail", S3BucketName="trailguard-org-logs", IsMultiRegionTrail=True,
                            IsOrganizationTrail=True)  # fmt: skip
    cloudtrail.put_event_selectors(TrailName="security-org-trail", EventSelectors=ALL_MANAGEMENT_EVENTS)
    cloudtrail.start_logging(Name="security-org-trail")
    detector.run(scheduled())
    cloudtrail.stop_logging(Name="org-trail")

    result = detector.run(event("stoplogging_cli", trail="org-trail"))

    assert rules(result) == [("logging-stopped", "high")]
    [text] = detector.slack_texts()
    assert "CRITICAL" not in text
    assert "still covered by organization trail 'security-org-trail'" in text


def test_a_sweep_that_cannot_list_the_organization_sweeps_its_own_account_and_says_so_once(
    detector: Detector, org: Organization, faulty: FaultProxy
) -> None:
    boto3.client("cloudtrail", region_name=REGION).stop_logging(Name="org-trail")
    faulty.add(Fault("ListAccounts", status=400, code="AccessDeniedException", times=-1))

    swept = detector.run(scheduled())
    again = detector.run(scheduled())

    rules_found = [f["rule"] for f in swept["findings"]]
    assert "logging-stopped" in rules_found and "not-evaluable" in rules_found
    texts = detector.slack_texts()
    assert any("could not be listed" in t and "AccessDenied" in t for t in texts)
    assert again["notified"] == []  # said once
    faulty.clear()
    detector.run(scheduled())
    assert any("compliant again" in t and "(organization)" in t for t in detector.slack_texts()[len(texts) :])


def test_a_control_tower_member_audited_on_its_own_is_compliant_through_the_organization_trail(
    detector: Detector, org: Organization
) -> None:
    import os

    from trailguard_dev.organization import member_session

    credentials = member_session(org.account("dev")).get_credentials()
    assert credentials is not None
    env = {**os.environ, "AWS_ACCESS_KEY_ID": credentials.access_key, "AWS_SECRET_ACCESS_KEY": credentials.secret_key,
           "AWS_SESSION_TOKEN": str(credentials.token)}  # fmt: skip

    done = run_trailguard("audit", "--region", REGION, "--json", env=env)

    assert done.code == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["account"] == org.account("dev") and report["compliant"] is True
    [trail] = report["trails"]
    assert trail["organization_trail"] is True and trail["compliant"] is True
    assert [f["rule"] for f in report["findings"]] == ["organization-trail-elsewhere"]


def test_audit_organization_quiet_and_severity(detector: Detector, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    org = organization(monkeypatch, "dev", "prod")
    own_trail(org.account("prod"), logging=False)  # prod's own trail stopped: high, the organization trail covers it
    env = dict(os.environ)

    quiet = run_trailguard("audit", "--organization", "--region", REGION, "--quiet", env=env)
    critical = run_trailguard("audit", "--organization", "--region", REGION, "--severity", "critical", env=env)

    lines = quiet.stdout.strip().splitlines()
    assert quiet.code == 1 and lines[-1].startswith(f"organization {org.id}: not compliant")
    assert lines[:-1] and all(line.strip().startswith(f"{org.account('prod')} [high]") for line in lines[:-1])
    assert critical.code == 0 and "[high]" not in critical.stdout
    assert "below --severity critical are not shown" in critical.stderr
