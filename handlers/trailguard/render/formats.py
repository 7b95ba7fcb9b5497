"""The audit in the formats other tools read: CSV, SARIF 2.1.0 (code-scanning dashboards), OCSF (a Compliance
Finding per finding, for Security Lake and SIEMs) and ASFF (Security Hub's ``BatchImportFindings``).

Each works from the JSON document (``audit.report`` or ``audit.organization_report``), so every format says
what the JSON says. ASFF is also what the Lambda imports into Security Hub (``asff_finding``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from .. import __version__
from ..alerts import PIPELINE
from ..arn import Arn, partition_of
from ..rules import REGISTRY

PROJECT_URL = "https://github.com/trailguard/trailguard"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}  # GitHub's 0-10 scale
ASFF_LABELS = {"critical": "CRITICAL", "high": "HIGH", "medium": "MEDIUM", "low": "LOW"}
CIS = "CIS AWS Foundations Benchmark v1.4.0/3.1"
ASFF_TYPE = "Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark"
CSV_COLUMNS = ("account", "account_name", "rule", "severity", "counted", "exempt", "trail_arn", "message", "fix")
# ASFF's documented limits (Security Hub User Guide, "ASFF attributes")
ASFF_TITLE, ASFF_DESCRIPTION, ASFF_RECOMMENDATION, ASFF_ID = 256, 1024, 512, 512


def findings(doc: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(account, account name, finding) of every finding in a single-account or organization document."""
    for account in doc.get("accounts", [doc]):
        for finding in account.get("findings", []):
            yield str(account.get("account", "")), str(account.get("name", "") or ""), finding


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fix(finding: Mapping[str, Any]) -> str:
    return str((finding.get("fix") or {}).get("cli") or finding.get("hint") or "")


def to_csv(doc: Mapping[str, Any]) -> str:
    """One row per finding (exempt and advisory ones too, marked), a header first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for account, name, f in findings(doc):
        exempt = (f.get("exempt") or {}).get("reason", "")
        writer.writerow([account, name, f["rule"], f["severity"], str(bool(f["counted"])).lower(), exempt,
                         f.get("trail_arn") or "", f["message"], _fix(f)])  # fmt: skip
    return out.getvalue()


def _subject(account: str, finding: Mapping[str, Any]) -> str:
    return str(finding.get("trail_arn") or f"arn:{partition_of(str(finding.get('region') or ''))}:::{account}")


def _sarif_path(account: str, finding: Mapping[str, Any]) -> str:
    """``aws/<account>/<region>/cloudtrail/<trail>`` (``.../account`` for the account): a stable relative path."""
    arn = Arn.parse(finding.get("trail_arn") or "")
    if arn is None:
        return f"aws/{account}/account"
    return f"aws/{account}/{arn.region}/cloudtrail/{arn.resource.split('/', 1)[-1]}"


def _sarif_rule(rule_id: str) -> dict[str, Any]:
    rule = REGISTRY[rule_id]
    return {
        "id": rule.id,
        "name": "".join(word.title() for word in rule.id.split("-")),
        "shortDescription": {"text": rule.meaning},
        "fullDescription": {"text": rule.meaning},
        "help": {"text": f"{rule.meaning} See {PROJECT_URL}#the-policy."},
        "helpUri": f"{PROJECT_URL}#the-policy",
        "defaultConfiguration": {"level": SARIF_LEVELS[rule.severity]},
        "properties": {"security-severity": SECURITY_SEVERITY[rule.severity], "tags": ["security", "cloudtrail"]},
    }


def to_sarif(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A SARIF 2.1.0 log: one run, the rule registry as the driver's rules, one result per finding (an exempt
    one carries an external suppression with its reason; an advisory one is a note)."""
    index = {rule_id: n for n, rule_id in enumerate(REGISTRY)}
    results = []
    for account, name, f in findings(doc):
        subject = _subject(account, f)
        fingerprint = hashlib.sha256(f"{subject}|{f['rule']}".encode()).hexdigest()
        result: dict[str, Any] = {
            "ruleId": f["rule"],
            "ruleIndex": index[f["rule"]],
            "level": "note" if f.get("advisory") else SARIF_LEVELS[f["severity"]],
            "message": {"text": f["message"]},
            # Code-scanning dashboards (GitHub's) want a relative path with a region: a path that names the
            # account and the trail, with the ARN itself as the logical location.
            "locations": [{
                "physicalLocation": {"artifactLocation": {"uri": _sarif_path(account, f)},
                                     "region": {"startLine": 1}},
                "logicalLocations": [{"fullyQualifiedName": subject, "kind": "resource"}],
            }],
            "partialFingerprints": {"primaryLocationLineHash": fingerprint, "trailguard/v1": fingerprint},
            "properties": {"account": account, "accountName": name, "severity": f["severity"], "fix": _fix(f)},
        }  # fmt: skip
        exempt = f.get("exempt")
        if exempt:
            result["suppressions"] = [{"kind": "external", "justification": exempt.get("reason", "")}]
        results.append(result)
    driver = {"name": "trailguard", "version": __version__, "informationUri": PROJECT_URL,
              "rules": [_sarif_rule(rule_id) for rule_id in REGISTRY]}  # fmt: skip
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [{"tool": {"driver": driver}, "results": results}]}


def to_ocsf(doc: Mapping[str, Any], now: datetime | None = None) -> list[dict[str, Any]]:
    """One OCSF Compliance Finding (class 2003) per finding, built with py-ocsf-models."""
    from py_ocsf_models.events.findings.compliance_finding import ComplianceFinding
    from py_ocsf_models.events.findings.compliance_finding_type_id import ComplianceFindingTypeID
    from py_ocsf_models.events.findings.severity_id import SeverityID
    from py_ocsf_models.events.findings.status_id import StatusID
    from py_ocsf_models.objects.compliance import Compliance
    from py_ocsf_models.objects.compliance_status import StatusID as ComplianceStatusID
    from py_ocsf_models.objects.finding_info import FindingInformation
    from py_ocsf_models.objects.metadata import Metadata
    from py_ocsf_models.objects.product import Product
    from py_ocsf_models.objects.remediation import Remediation
    from py_ocsf_models.objects.resource_details import ResourceDetails

    moment = now or datetime.now(UTC)
    severity = {"critical": SeverityID.Critical, "high": SeverityID.High, "medium": SeverityID.Medium,
                "low": SeverityID.Low}  # fmt: skip
    product = Product(name="trailguard", vendor_name="trailguard", version=__version__, url_string=PROJECT_URL)
    events = []
    for account, name, f in findings(doc):
        subject = _subject(account, f)
        arn = Arn.parse(f.get("trail_arn") or "")
        exempt = f.get("exempt")
        unknown = REGISTRY[f["rule"]].unknown
        uid = str(uuid.uuid4())  # this event's; the finding's own, stable across runs, is finding_info.uid
        labels = [f"account:{account}"] + ([f"account_name:{name}"] if name else [])
        info = FindingInformation(
            uid=f"trailguard/{account}/{subject}/{f['rule']}",
            title=f["rule"],
            desc=REGISTRY[f["rule"]].meaning,
            types=["CloudTrail"],
        )
        compliance = Compliance(
            control="3.1",
            standards=["CIS AWS Foundations Benchmark v1.4.0"],
            requirements=[CIS],
            status_id=ComplianceStatusID.Warning if unknown else ComplianceStatusID.Fail,
        )
        resource = ResourceDetails(
            uid=subject,
            name=arn.resource.split("/", 1)[-1] if arn else account,
            type="AwsCloudTrailTrail" if arn else "AwsAccount",
            region=arn.region if arn else None,
            cloud_partition=arn.partition if arn else None,
            data={"account": account},
        )
        finding = ComplianceFinding(
            activity_id=1,  # Create
            type_uid=ComplianceFindingTypeID.Create,
            time=int(moment.timestamp() * 1000),
            time_dt=moment,
            message=f["message"],
            severity_id=severity[f["severity"]],
            severity=f["severity"].title(),
            status_id=StatusID.Suppressed if exempt else StatusID.New,
            status="Suppressed" if exempt else "New",
            status_detail=(exempt or {}).get("reason"),
            metadata=Metadata(product=product, uid=uid, labels=labels),
            finding_info=info,
            compliance=compliance,
            remediation=Remediation(desc=_fix(f) or "See the finding's message."),
            resources=[resource],
        )
        events.append(json.loads(finding.model_dump_json(exclude_none=True)))
    return events


def asff_finding(
    finding: Mapping[str, Any], *, account: str, region: str, now: datetime | None = None, archived: bool = False,
    incident: str = "", exempt_now: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """One finding in the AWS Security Finding Format, for a product ARN of ``account`` in ``region`` (Security
    Hub's custom integrations: ``product/<account>/default``). Its ``Id`` names the account, the trail (or the
    account) and the rule, so importing it again updates the same finding; ``archived``: the trail is compliant
    again (RecordState ARCHIVED, workflow RESOLVED); ``incident``: an event of its own (a tamper with the
    detector), a finding of its own rather than an update of the last one."""
    when = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    partition = partition_of(region)
    trail = Arn.parse(finding.get("trail_arn") or "")
    rule = REGISTRY[finding["rule"]]
    exempt = finding.get("exempt")
    label = "INFORMATIONAL" if archived or rule.advisory else ASFF_LABELS[str(finding["severity"])]
    resource = (
        {"Type": "AwsCloudTrailTrail", "Id": str(finding["trail_arn"]), "Partition": trail.partition,
         "Region": trail.region}
        if trail
        else {"Type": "AwsAccount", "Id": f"AWS::::Account:{account}", "Partition": partition, "Region": region}
    )  # fmt: skip
    asff: dict[str, Any] = {
        "SchemaVersion": "2018-10-08",
        "Id": _cut(f"trailguard/{account}/{finding.get('trail_arn') or finding.get('subject') or 'account'}/"
                   f"{rule.id}" + (f"/{incident}" if incident else ""), ASFF_ID),
        "ProductArn": f"arn:{partition}:securityhub:{region}:{account}:product/{account}/default",
        "GeneratorId": f"trailguard/{rule.id}",
        "AwsAccountId": account,
        "Types": [ASFF_TYPE],
        "CreatedAt": when,
        "UpdatedAt": when,
        "Severity": {"Label": label},
        "Title": _cut(f"trailguard {rule.id}: {rule.meaning}", ASFF_TITLE),
        "Description": _cut(str(finding["message"]), ASFF_DESCRIPTION),
        "Remediation": {"Recommendation": {"Text": _cut(_fix(finding) or "See the finding's description.",
                                                        ASFF_RECOMMENDATION), "Url": f"{PROJECT_URL}#the-policy"}},
        "ProductFields": {"trailguard/rule": rule.id, "trailguard/severity": str(finding["severity"])},
        "Resources": [resource],
        "Compliance": {"Status": "NOT_AVAILABLE" if exempt_now or (exempt and not archived) else "PASSED" if archived
                       else "WARNING" if rule.unknown else "FAILED",
                       "RelatedRequirements": [CIS]},
        # An exempt finding is archived: Workflow and Note cannot be changed by a later import, RecordState can.
        "RecordState": "ARCHIVED" if archived or exempt else "ACTIVE",
        # what a provider may still change after the finding exists (BatchImportFindings ignores Severity and Types
        # on an update; Security Hub resolves the workflow itself when the record is archived)
        "FindingProviderFields": {"Severity": {"Label": label, "Original": str(finding["severity"])},
                                  "Types": [ASFF_TYPE]},
        "Workflow": {"Status": "RESOLVED" if archived else "NEW"},
    }  # fmt: skip
    if exempt:
        asff["ProductFields"]["trailguard/exempt"] = _cut(str(exempt.get("reason", "")), 1024)
    return asff


def to_asff(doc: Mapping[str, Any], region: str, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every finding as ASFF, ready for ``aws securityhub batch-import-findings --findings file://...`` in
    ``region`` (at most 100 per call)."""
    return [asff_finding(f, account=account, region=region, now=now) for account, _, f in findings(doc)]


IMPORTED_KINDS = ("drift", "sweep-drift", "sweep-compliant", "sweep-exempt", "tampered")


def alert_asff(alert: Any, region: str, now: datetime | None = None) -> list[dict[str, Any]]:
    """What an alert changes in Security Hub, as ASFF for ``alert.account`` in ``region``: its findings (archived
    when a verified revert put the trail right), and the rules a sweep no longer finds, archived. A failed attempt
    or an unjudged change is not a finding."""
    if alert.kind not in IMPORTED_KINDS:
        return []
    incident = alert.key if alert.kind == "tampered" else ""
    # the event pipeline is judged per region: each region's silence is a finding of its own
    where = f"pipeline/{alert.region}" if alert.trail_name == PIPELINE else ""
    moment = now or _observed(alert)
    out = []
    for finding in alert.findings:  # a verified revert's too: the call happened; the next sweep archives it
        scope = REGISTRY[finding.rule].scope if finding.rule in REGISTRY else "account"
        data = {"rule": finding.rule, "severity": finding.severity, "message": finding.message,
                "trail_arn": alert.trail_arn if scope == "trail" else None, "fix": {"cli": finding.fix},
                "hint": finding.hint, "subject": where}  # fmt: skip
        if finding.rule in REGISTRY:
            out.append(asff_finding(data, account=alert.account, region=region, now=moment, incident=incident))
    exempt = alert.kind == "sweep-exempt"
    for rule_id in alert.resolved:
        rule = REGISTRY.get(rule_id)
        if rule is not None:
            said = "Exempt now (see the exemptions file)" if exempt else "No longer found"
            data = {"rule": rule_id, "severity": rule.severity, "message": f"{said}: {rule.meaning}",
                    "trail_arn": alert.trail_arn if rule.scope == "trail" else None, "subject": where}  # fmt: skip
            out.append(asff_finding(data, account=alert.account, region=region, now=moment, archived=True,
                                    exempt_now=exempt))  # fmt: skip
    return out


def _observed(alert: Any) -> datetime | None:
    """When what the alert says was seen: the call's time, so that a late resend of a stored alert does not
    overwrite newer state in Security Hub (which keeps the finding with the latest UpdatedAt)."""
    when = getattr(alert.actor, "time", "") if alert.actor is not None else ""
    try:
        return datetime.fromisoformat(when.replace("Z", "+00:00")) if when else None
    except ValueError:
        return None
