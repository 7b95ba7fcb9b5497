"""The policy's rules in one table: id, severity, meaning, how to keep it fixed, and what a revert needs.

The README's rule table and the Lambda role's IAM actions are checked against this table by tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["critical", "high", "medium", "low"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low")


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    scope: Literal["trail", "account"]
    meaning: str
    revert: str
    revert_actions: tuple[str, ...]
    cloudformation: str
    terraform: str


_SELECTOR_REVERT = "PutEventSelectors restoring management events, read and write, keeping every data-event selector"
_SELECTOR_CFN = (
    "AWS::CloudTrail::Trail EventSelectors: [{IncludeManagementEvents: true, ReadWriteType: All}], or "
    "AdvancedEventSelectors: [{FieldSelectors: [{Field: eventCategory, Equals: [Management]}]}]"
)
_SELECTOR_TF = (
    'aws_cloudtrail event_selector { include_management_events = true, read_write_type = "All" }, or '
    'advanced_event_selector { field_selector { field = "eventCategory", equals = ["Management"] } }'
)

RULES: dict[str, Rule] = {
    rule.id: rule
    for rule in (
        Rule(
            id="logging-stopped",
            severity="high",
            scope="trail",
            meaning="The trail is not logging (GetTrailStatus IsLogging is false).",
            revert="StartLogging",
            revert_actions=("cloudtrail:StartLogging",),
            cloudformation="AWS::CloudTrail::Trail IsLogging: true",
            terraform="aws_cloudtrail enable_logging = true",
        ),
        Rule(
            id="management-events-excluded",
            severity="high",
            scope="trail",
            meaning="No selector logs management events, or the trail has no selectors at all.",
            revert=_SELECTOR_REVERT,
            revert_actions=("cloudtrail:PutEventSelectors",),
            cloudformation=_SELECTOR_CFN,
            terraform=_SELECTOR_TF,
        ),
        Rule(
            id="management-events-partial",
            severity="high",
            scope="trail",
            meaning="Management events are logged for reads only or writes only.",
            revert=_SELECTOR_REVERT,
            revert_actions=("cloudtrail:PutEventSelectors",),
            cloudformation=_SELECTOR_CFN,
            terraform=_SELECTOR_TF,
        ),
        Rule(
            id="management-sources-excluded",
            severity="high",
            scope="trail",
            meaning="Management events from some event sources are dropped, beyond allowedExcludedSources.",
            revert=_SELECTOR_REVERT,
            revert_actions=("cloudtrail:PutEventSelectors",),
            cloudformation=_SELECTOR_CFN + "; exclude only allowed sources",
            terraform=_SELECTOR_TF + "; exclude only allowed sources",
        ),
        Rule(
            id="selectors-unrecognized",
            severity="medium",
            scope="trail",
            meaning="A management selector uses a field or operator the evaluator does not understand.",
            revert=_SELECTOR_REVERT,
            revert_actions=("cloudtrail:PutEventSelectors",),
            cloudformation=_SELECTOR_CFN,
            terraform=_SELECTOR_TF,
        ),
        Rule(
            id="not-multi-region",
            severity="high",
            scope="trail",
            meaning="The trail logs one region only (IsMultiRegionTrail is false).",
            revert="UpdateTrail IsMultiRegionTrail=true, IncludeGlobalServiceEvents=true",
            revert_actions=("cloudtrail:UpdateTrail",),
            cloudformation="AWS::CloudTrail::Trail IsMultiRegionTrail: true",
            terraform="aws_cloudtrail is_multi_region_trail = true",
        ),
        Rule(
            id="global-events-excluded",
            severity="medium",
            scope="trail",
            meaning="Global service events (IAM, STS, CloudFront) are not logged.",
            revert="UpdateTrail IncludeGlobalServiceEvents=true",
            revert_actions=("cloudtrail:UpdateTrail",),
            cloudformation="AWS::CloudTrail::Trail IncludeGlobalServiceEvents: true",
            terraform="aws_cloudtrail include_global_service_events = true",
        ),
        Rule(
            id="destination-changed",
            severity="high",
            scope="trail",
            meaning=(
                "The trail's S3 bucket, key prefix, KMS key, CloudWatch Logs or SNS target changed or was removed "
                "against its baseline."
            ),
            revert="UpdateTrail with the baseline's destinations",
            revert_actions=("cloudtrail:UpdateTrail", "iam:PassRole"),
            cloudformation=(
                "AWS::CloudTrail::Trail S3BucketName, S3KeyPrefix, KMSKeyId, CloudWatchLogsLogGroupArn, "
                "CloudWatchLogsRoleArn, SnsTopicName as in the baseline"
            ),
            terraform=(
                "aws_cloudtrail s3_bucket_name, s3_key_prefix, kms_key_id, cloud_watch_logs_group_arn, "
                "cloud_watch_logs_role_arn, sns_topic_name as in the baseline"
            ),
        ),
        Rule(
            id="log-validation-disabled",
            severity="medium",
            scope="trail",
            meaning="Log file integrity validation was switched off on a trail whose baseline had it on.",
            revert="UpdateTrail EnableLogFileValidation=true",
            revert_actions=("cloudtrail:UpdateTrail",),
            cloudformation="AWS::CloudTrail::Trail EnableLogFileValidation: true",
            terraform="aws_cloudtrail enable_log_file_validation = true",
        ),
        Rule(
            id="trail-deleted",
            severity="high",
            scope="trail",
            meaning="The trail named by a DeleteTrail (or another watched call) no longer exists.",
            revert=(
                "CreateTrail with the baseline's name and settings, then its selectors, insight selectors, "
                "tags and StartLogging; without a baseline, alert only"
            ),
            revert_actions=(
                "cloudtrail:AddTags",
                "cloudtrail:CreateTrail",
                "cloudtrail:PutEventSelectors",
                "cloudtrail:PutInsightSelectors",
                "cloudtrail:StartLogging",
                "iam:PassRole",
            ),
            cloudformation="AWS::CloudTrail::Trail with DeletionPolicy: Retain",
            terraform="aws_cloudtrail with lifecycle { prevent_destroy = true }",
        ),
        Rule(
            id="not-evaluable",
            severity="medium",
            scope="trail",
            meaning=(
                "The trail could not be judged from here: an organization trail owned by another account, "
                "or its status or selectors could not be read. Never reported as compliant."
            ),
            revert="none: a person must look",
            revert_actions=(),
            cloudformation="-",
            terraform="-",
        ),
        Rule(
            id="no-compliant-trail",
            severity="critical",
            scope="account",
            meaning="No trail in the account is compliant (CIS AWS 3.1).",
            revert="none: fix one trail, or create a multi-region trail logging all management events",
            revert_actions=(),
            cloudformation="AWS::CloudTrail::Trail with IsMultiRegionTrail: true, IsLogging: true",
            terraform="aws_cloudtrail with is_multi_region_trail = true, enable_logging = true",
        ),
    )
}

SELECTOR_RULES = frozenset(
    {"management-events-excluded", "management-events-partial", "management-sources-excluded", "selectors-unrecognized"}
)
