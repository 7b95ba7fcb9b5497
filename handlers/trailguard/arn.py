"""ARNs, taken apart in one place: ``Arn`` for any resource, ``TrailArn`` for a CloudTrail trail. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass

_ARN = re.compile(r"arn:(aws[a-z-]*):([a-z0-9-]+):([a-z0-9-]*):([0-9]*|aws):(.+)", re.ASCII)


@dataclass(frozen=True)
class Arn:
    """``arn:<partition>:<service>:<region>:<account>:<resource>``."""

    partition: str
    service: str
    region: str
    account: str
    resource: str

    @classmethod
    def parse(cls, text: object) -> Arn | None:
        match = _ARN.fullmatch(text) if isinstance(text, str) else None
        return cls(*match.groups()) if match else None

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"


@dataclass(frozen=True)
class TrailArn(Arn):
    """A CloudTrail trail's ARN: ``arn:<partition>:cloudtrail:<home region>:<owner account>:trail/<name>``."""

    @classmethod
    def parse(cls, text: object) -> TrailArn | None:
        arn = Arn.parse(text)
        if arn is None or arn.service != "cloudtrail" or not arn.resource.startswith("trail/"):
            return None
        return cls(arn.partition, arn.service, arn.region, arn.account, arn.resource)

    @classmethod
    def of(cls, partition: str, region: str, account: str, name: str) -> TrailArn:
        return cls(partition, "cloudtrail", region, account, f"trail/{name}")

    @property
    def name(self) -> str:
        return self.resource.removeprefix("trail/")


def region_of(arn: object) -> str:
    """The region of any ARN, or "" when it is not one."""
    parsed = Arn.parse(arn)
    return parsed.region if parsed else ""


def account_of(arn: object) -> str:
    """The account of any ARN, or "" when it is not one."""
    parsed = Arn.parse(arn)
    return parsed.account if parsed else ""


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"
