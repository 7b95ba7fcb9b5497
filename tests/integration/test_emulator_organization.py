"""The emulator treats organization trails and AssumeRole as AWS does (moto alone is lenient about both): these
tests pin each behaviour, citing the AWS documentation it reproduces."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.cloudtrail.responses import CloudTrailResponse

from trailguard_dev import faithful
from trailguard_dev.emulator import Emulator, pointed_at
from trailguard_dev.organization import (
    Organization,
    build_organization,
    client_as,
    create_org_trail,
    member_session,
    trust_policy,
)

pytestmark = pytest.mark.integration
ORG_BUCKET = "trailguard-org-logs"
OUTSIDER = "999999999999"  # an account no organization created


@pytest.fixture
def org(aws: Emulator) -> Organization:
    return build_organization(("dev", "prod"), without_role=("prod",))


def member_cloudtrail(org: Organization, region: str = "us-east-1") -> Any:
    return member_session(org.account("dev"), region=region).client("cloudtrail")


def management(region: str = "us-east-1") -> Any:
    return boto3.client("cloudtrail", region_name=region)


def error(call: Callable[[], object]) -> ClientError:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value


def code(call: Callable[[], object]) -> str:
    return str(error(call).response["Error"]["Code"])


def without_metadata(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k != "ResponseMetadata"}


def trail_state(arn: str) -> dict[str, Any]:
    """Everything a member might change about the trail, as the management account reads it."""
    ct = management()
    status = ct.get_trail_status(Name=arn)
    return {
        "trail": ct.describe_trails(trailNameList=[arn])["trailList"],
        "logging": status["IsLogging"],
        "selectors": without_metadata(ct.get_event_selectors(TrailName=arn)),
        "insights": without_metadata(ct.get_insight_selectors(TrailName=arn)),
        "tags": ct.list_tags(ResourceIdList=[arn])["ResourceTagList"],
    }


# --- what members see -----------------------------------------------------------------------------------------


def test_member_describe_trails_lists_the_organization_trail_in_every_region(org: Organization) -> None:
    """CloudTrail API reference, DescribeTrails ``includeShadowTrails``: the replication of an organization trail
    in member accounts is a shadow trail, listed by default; a multi-region trail is replicated to every
    region. The member sees it as the management account describes it."""
    owned = [t for t in management().describe_trails()["trailList"] if t["TrailARN"] == org.org_trail_arn]
    assert owned and owned[0]["IsOrganizationTrail"] and owned[0]["HomeRegion"] == "us-east-1"
    for region in ("us-east-1", "eu-west-1"):
        assert member_cloudtrail(org, region).describe_trails()["trailList"] == owned
    listed = member_cloudtrail(org).list_trails()["Trails"]
    assert listed == [{"Name": "org-trail", "TrailARN": org.org_trail_arn, "HomeRegion": "us-east-1"}]


def test_member_describe_trails_without_shadow_trails_omits_it(org: Organization) -> None:
    """CloudTrail API reference, DescribeTrails: ``includeShadowTrails`` false leaves out shadow trails, the
    organization trail among them."""
    assert member_cloudtrail(org).describe_trails(includeShadowTrails=False)["trailList"] == []


def test_single_region_organization_trail_shows_in_its_region_only(org: Organization) -> None:
    """CloudTrail API reference, DescribeTrails: only a multi-region trail is replicated to other regions."""
    arn = management("eu-west-1").create_trail(Name="eu-only", S3BucketName=ORG_BUCKET, IsOrganizationTrail=True)[
        "TrailARN"
    ]
    in_eu = [t["TrailARN"] for t in member_cloudtrail(org, "eu-west-1").describe_trails()["trailList"]]
    in_us = [t["TrailARN"] for t in member_cloudtrail(org, "us-east-1").describe_trails()["trailList"]]
    assert arn in in_eu and arn not in in_us


def test_member_reads_the_organization_trail_by_arn_in_its_home_region(org: Organization) -> None:
    """CloudTrail API reference, GetTrailStatus ``Name`` and GetEventSelectors ``TrailName``: a member account
    reads an organization trail by its ARN; the answers are the management account's trail's."""
    arn = org.org_trail_arn
    assert arn is not None
    management().add_tags(ResourceId=arn, TagsList=[{"Key": "owner", "Value": "security"}])
    member, owner = member_cloudtrail(org), management()
    status, owned = member.get_trail_status(Name=arn), owner.get_trail_status(Name=arn)
    assert status["IsLogging"] is True
    assert status["StartLoggingTime"] == owned["StartLoggingTime"]
    for read, parameter in (("get_event_selectors", "TrailName"), ("get_insight_selectors", "TrailName")):
        seen = without_metadata(getattr(member, read)(**{parameter: arn}))
        assert seen == without_metadata(getattr(owner, read)(**{parameter: arn}))
    assert without_metadata(member.get_event_selectors(TrailName=arn))["EventSelectors"][0]["ReadWriteType"] == "All"
    assert member.get_trail(Name=arn)["Trail"] == owner.get_trail(Name=arn)["Trail"]
    tags = member.list_tags(ResourceIdList=[arn])["ResourceTagList"]
    assert tags == [{"ResourceId": arn, "TagsList": [{"Key": "owner", "Value": "security"}]}]


def test_member_cannot_read_it_by_name_or_outside_its_home_region(org: Organization) -> None:
    """CloudTrail API reference, GetTrailStatus ``Name``: from a member account an organization trail must be
    named by ARN; a plain name is an unknown trail. Outside its home region it is unknown too."""
    member = member_cloudtrail(org)
    assert code(lambda: member.get_trail_status(Name="org-trail")) == "TrailNotFoundException"
    assert code(lambda: member.get_event_selectors(TrailName="org-trail")) == "TrailNotFoundException"
    elsewhere = member_cloudtrail(org, "eu-west-1")
    assert code(lambda: elsewhere.get_trail_status(Name=org.org_trail_arn)) == "TrailNotFoundException"
    assert code(lambda: elsewhere.get_event_selectors(TrailName=org.org_trail_arn)) == "TrailNotFoundException"


def test_an_account_outside_the_organization_does_not_see_it(org: Organization) -> None:
    """CloudTrail User Guide, "Creating a trail for an organization": the trail is replicated to the accounts
    of the organization only."""
    outsider = client_as(OUTSIDER, "cloudtrail")
    assert outsider.describe_trails()["trailList"] == []
    assert code(lambda: outsider.get_trail_status(Name=org.org_trail_arn)) == "TrailNotFoundException"
    assert code(lambda: outsider.stop_logging(Name=org.org_trail_arn)) == "TrailNotFoundException"


def test_a_member_keeps_its_own_trails(org: Organization) -> None:
    """CloudTrail User Guide, "Creating a trail for an organization": member accounts can still create and
    manage trails of their own, next to the organization trail."""
    own = client_as(org.account("dev"), "cloudtrail")
    client_as(org.account("dev"), "s3").create_bucket(Bucket="dev-logs")
    arn = own.create_trail(Name="dev-trail", S3BucketName="dev-logs")["TrailARN"]
    own.start_logging(Name=arn)
    own.stop_logging(Name=arn)
    assert own.get_trail_status(Name="dev-trail")["IsLogging"] is False
    assert {t["TrailARN"] for t in own.describe_trails()["trailList"]} == {arn, org.org_trail_arn}


# --- what members cannot do -----------------------------------------------------------------------------------

CHANGES: list[tuple[str, str, dict[str, Any], str]] = [  # operation, parameter naming the trail, others, verb
    ("stop_logging", "Name", {}, "stop"),
    ("start_logging", "Name", {}, "start"),
    ("update_trail", "Name", {"S3BucketName": "elsewhere"}, "update"),
    ("delete_trail", "Name", {}, "delete"),
    ("put_event_selectors", "TrailName", {"EventSelectors": [{"ReadWriteType": "ReadOnly"}]}, "put event selectors on"),
    ("put_insight_selectors", "TrailName", {"InsightSelectors": [{"InsightType": "ApiCallRateInsight"}]},
     "put insight selectors on"),
    ("add_tags", "ResourceId", {"TagsList": [{"Key": "k", "Value": "v"}]}, "add tags to"),
    ("remove_tags", "ResourceId", {"TagsList": [{"Key": "owner"}]}, "remove tags from"),
]  # fmt: skip


@pytest.mark.parametrize(("operation", "parameter", "others", "verb"), CHANGES, ids=[c[0] for c in CHANGES])
def test_member_cannot_change_the_organization_trail(
    org: Organization, operation: str, parameter: str, others: dict[str, Any], verb: str
) -> None:
    """CloudTrail User Guide, "Creating a trail for an organization": member accounts can see the organization
    trail but cannot modify or delete it. CloudTrail answers NotOrganizationMasterAccountException, recorded
    for StopLogging as "Cannot stop trail, not master trail.", and nothing changes."""
    arn = org.org_trail_arn
    assert arn is not None
    management().add_tags(ResourceId=arn, TagsList=[{"Key": "owner", "Value": "security"}])
    before = trail_state(arn)
    refused = error(lambda: getattr(member_cloudtrail(org), operation)(**{parameter: arn}, **others))
    assert refused.response["Error"]["Code"] == "NotOrganizationMasterAccountException"
    assert refused.response["Error"]["Message"] == f"Cannot {verb} trail, not master trail."
    assert refused.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert trail_state(arn) == before


def test_the_management_account_still_changes_it(org: Organization) -> None:
    """CloudTrail User Guide, "Creating a trail for an organization": the management account owns the trail;
    members see its changes."""
    arn = org.org_trail_arn
    management().stop_logging(Name=arn)
    assert member_cloudtrail(org).get_trail_status(Name=arn)["IsLogging"] is False
    management().put_event_selectors(TrailName=arn, EventSelectors=[{"ReadWriteType": "WriteOnly"}])
    assert member_cloudtrail(org).get_event_selectors(TrailName=arn)["EventSelectors"][0]["ReadWriteType"] == (
        "WriteOnly"
    )
    management().delete_trail(Name="org-trail")
    assert member_cloudtrail(org).describe_trails()["trailList"] == []


# --- AssumeRole -----------------------------------------------------------------------------------------------


def assume(role_arn: str, via: boto3.Session | None = None) -> Any:
    sts = (via or boto3.Session()).client("sts", region_name="us-east-1")
    return sts.assume_role(RoleArn=role_arn, RoleSessionName="trailguard-test")


def assert_denied(role_arn: str, via: boto3.Session | None = None) -> None:
    caller = (via or boto3.Session()).client("sts", region_name="us-east-1").get_caller_identity()["Arn"]
    denied = error(lambda: assume(role_arn, via))
    assert denied.response["Error"]["Code"] == "AccessDenied"
    assert denied.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert denied.response["Error"]["Message"] == (
        f"User: {caller} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
    )


def test_assume_role_of_a_missing_role_is_denied(org: Organization) -> None:
    """STS API reference, AssumeRole: a role that does not exist answers AccessDenied, "User: <caller> is not
    authorized to perform: sts:AssumeRole on resource: <role>"."""
    assert_denied(org.role_arn(org.account("prod")))  # built without the role
    assert_denied(f"arn:aws:iam::{org.account('dev')}:role/no-such-role")


def test_assume_role_whose_trust_does_not_name_the_caller_is_denied(org: Organization) -> None:
    """STS API reference, AssumeRole, and IAM User Guide on role trust policies: the role's trust policy must
    allow the caller sts:AssumeRole."""
    dev = org.account("dev")
    iam = client_as(dev, "iam")
    iam.create_role(RoleName="trusts-other", AssumeRolePolicyDocument=trust_policy("arn:aws:iam::111122223333:root"))
    assert_denied(f"arn:aws:iam::{dev}:role/trusts-other")
    deny = {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
    iam.create_role(RoleName="no-allow", AssumeRolePolicyDocument=json.dumps({"Statement": [deny]}))
    assert_denied(f"arn:aws:iam::{dev}:role/no-allow")
    service = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    iam.create_role(RoleName="for-lambda", AssumeRolePolicyDocument=json.dumps({"Statement": [service]}))
    assert_denied(f"arn:aws:iam::{dev}:role/for-lambda")


def test_assume_role_that_trusts_the_caller_acts_as_the_member(org: Organization) -> None:
    """STS API reference, AssumeRole: the credentials act as the role, in the role's account."""
    dev = org.account("dev")
    session = member_session(dev)
    identity = session.client("sts").get_caller_identity()
    assert identity["Account"] == dev
    assert identity["Arn"] == f"arn:aws:sts::{dev}:assumed-role/{org.role_name}/trailguard"
    assert boto3.client("sts").get_caller_identity()["Account"] == org.management  # unchanged for the caller


def test_a_role_trusting_a_hub_role_admits_that_role_only(aws: Emulator) -> None:
    """IAM User Guide on role trust policies: a principal naming a role admits sessions of that role, and not
    the account's other identities."""
    iam = boto3.client("iam")
    hub_arn = iam.create_role(RoleName="hub", AssumeRolePolicyDocument=trust_policy("123456789012"))["Role"]["Arn"]
    org = build_organization(("dev",), hub_role_arn=hub_arn, org_trail=None)
    assert org.org_trail_arn is None
    hub = assume(hub_arn)["Credentials"]
    via = boto3.Session(
        aws_access_key_id=hub["AccessKeyId"],
        aws_secret_access_key=hub["SecretAccessKey"],
        aws_session_token=hub["SessionToken"],
        region_name="us-east-1",
    )
    dev = org.account("dev")
    assert member_session(dev, via=via).client("sts").get_caller_identity()["Account"] == dev
    assert_denied(org.role_arn(dev))  # the management account's default identity is not the hub role


# --- lifecycle --------------------------------------------------------------------------------------------------


def test_a_reset_forgets_the_organization(aws: Emulator) -> None:
    """AWS Organizations User Guide: an account is a member of at most one organization. After the emulator's
    reset the accounts of the discarded organization belong to none, and do not see the new one's trail."""
    former = build_organization(("dev",), org_trail=None).account("dev")
    aws.reset()
    org = build_organization(("dev",))
    assert client_as(former, "cloudtrail").describe_trails()["trailList"] == []
    assert member_cloudtrail(org).describe_trails()["trailList"] != []


def test_the_in_process_emulator_has_the_same_behaviour_and_installing_twice_changes_nothing() -> None:
    """Both ways of running the emulator go through ``make_server``, which installs the same wrappers once."""
    with Emulator(in_process=True) as emu, pointed_at(emu):
        emu.reset()  # this process's moto may hold another test's organization
        wrapped = CloudTrailResponse.describe_trails
        faithful.install()
        assert CloudTrailResponse.describe_trails is wrapped
        org = build_organization(("dev",))
        assert [t["TrailARN"] for t in member_cloudtrail(org).describe_trails()["trailList"]] == [org.org_trail_arn]
        assert code(lambda: member_cloudtrail(org).stop_logging(Name=org.org_trail_arn)) == (
            "NotOrganizationMasterAccountException"
        )
        assert_denied(f"arn:aws:iam::{org.account('dev')}:role/missing")
        create_org_trail("second-org-trail", ORG_BUCKET)
        assert len(member_cloudtrail(org).describe_trails()["trailList"]) == 2
