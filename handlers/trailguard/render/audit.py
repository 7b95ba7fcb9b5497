"""The audit as a person or a program reads it: the table with its one verdict, and the JSON document.

The table's last line, the ``(account)`` row, the JSON's ``compliant`` and the exit code come from one place,
``verdict``: ``compliant`` (0), ``findings`` (1) or ``unknown`` (2).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from .. import exemptions
from ..exemptions import Exemption
from ..judge import AccountVerdict, Outcome, TrailVerdict
from ..rules import REGISTRY, Finding
from .fix import cli, cloudformation, terraform

EXIT_CODES: dict[Outcome, int] = {"compliant": 0, "findings": 1, "unknown": 2}


def verdict(account: AccountVerdict, region_errors: Mapping[str, str]) -> Outcome:
    """The one verdict (``region_errors`` the regions that could not be read, as the judgement was told)."""
    outcome = account.outcome()
    return "unknown" if region_errors and outcome == "compliant" else outcome


def finding_json(finding: Finding) -> dict[str, Any]:
    waiver = finding.waiver
    expired = {"reason": waiver.reason, "expired": waiver.expires} if waiver and waiver.expired else None
    return {
        "rule": finding.rule,
        "severity": finding.severity,
        "message": finding.message,
        "trail_arn": finding.trail_arn,
        "account": finding.account,
        "region": finding.region or None,
        "counted": finding.counted,
        "advisory": REGISTRY[finding.rule].advisory,
        "exempt": {"reason": waiver.reason, "expires": waiver.expires or None} if waiver and finding.exempt else None,
        "exemption_expired": expired,
        "hint": None if finding.exempt else finding.hint or None,
        "fix": {
            "cli": cli(finding.calls, finding.region),
            "cloudformation": cloudformation(finding.calls),
            "terraform": terraform(finding.calls),
        },
    }


def _exempt_json(trail: TrailVerdict) -> dict[str, Any] | None:
    waived = [f for f in trail.findings if f.exempt and f.waiver]
    if not waived:
        return None
    reasons = list(dict.fromkeys(f.waiver.reason for f in waived if f.waiver))
    return {"reason": "; ".join(reasons), "rules": [f.rule for f in waived]}


def _exemptions_json(account: AccountVerdict, entries: Sequence[Exemption]) -> list[dict[str, Any]]:
    idle = set(exemptions.unused(entries, account.all_findings, account.account))
    return [
        {"trail": e.trail, "account": e.account or None, "rules": list(e.rules), "reason": e.reason,
         "expires": e.expires.isoformat() if e.expires else None, "matched": n not in idle}
        for n, e in enumerate(entries, 1)
    ]  # fmt: skip


def report(
    account: AccountVerdict, regions: Sequence[str], region_errors: Mapping[str, str], entries: Sequence[Exemption] = ()
) -> dict[str, Any]:
    """The ``--json`` document: the account, its one verdict, every finding, every trail, every exemption."""
    said = verdict(account, region_errors)
    return {
        "account": account.account,
        "compliant": said == "compliant",
        "verdict": said,
        "covered": account.covered,
        "findings": [finding_json(f) for f in account.all_findings],
        "trails": [
            {
                "arn": t.trail.arn,
                "name": t.trail.name,
                "home_region": t.trail.home_region,
                "multi_region": t.trail.description.get("IsMultiRegionTrail") is True,
                "logging": (t.trail.status or {}).get("IsLogging") is True,
                "compliant": t.compliant,
                "organization_trail": t.trail.description.get("IsOrganizationTrail") is True,
                "evaluated": t.evaluated,
                "exempt": _exempt_json(t),
                "findings": [finding_json(f) for f in t.findings],
            }
            for t in account.trails
        ],
        "regions": list(regions),
        "errors": [{"region": r, "message": m} for r, m in sorted(region_errors.items())],
        "exemptions": _exemptions_json(account, entries),
    }


def _label(finding: Finding) -> str:
    marks: list[str] = [finding.severity]
    if REGISTRY[finding.rule].advisory:
        marks.append("advisory")
    if finding.exempt:
        marks.append("exempt")
    return f"{finding.rule} ({', '.join(marks)})"


def _summary(findings: Sequence[Finding]) -> str:
    return ", ".join(_label(f) for f in findings) or "-"


def _trail_label(trail: TrailVerdict) -> str:
    if not trail.evaluated:
        return "NOT EVALUATED"
    if trail.counted:
        return "DRIFT"
    return "exempt" if trail.exempt else "compliant"


def _account_row(account: AccountVerdict, said: Outcome) -> tuple[str, str, str, str]:
    label = {"compliant": "compliant", "findings": "NOT COMPLIANT", "unknown": "UNKNOWN"}[said]
    if account.findings:
        return ("(account)", "", label, _summary(account.findings))
    drifted = [t for t in account.trails if t.evaluated and t.counted]
    unjudged = [t for t in account.trails if not t.evaluated and t.counted]
    notes = [f"{len(drifted)} trail(s) with findings"] if drifted else []
    notes += [f"{len(unjudged)} trail(s) could not be judged"] if unjudged else []
    note = "; ".join(["covered by a compliant trail", *notes]) if notes else "covered"
    return ("(account)", "", label, note if account.covered else "-")


def _last_line(account: AccountVerdict, said: Outcome, region_errors: Mapping[str, str]) -> str:
    counted = len(account.counted)
    exempt = sum(f.exempt for f in account.all_findings)
    quiet = f" ({exempt} exempt finding(s) not counted)" if exempt else ""
    if said == "compliant":
        return f"compliant{quiet}."
    if said == "findings":
        return f"not compliant: {counted} finding(s) count{quiet}."
    unread = f"{len(region_errors)} region(s) could not be read" if region_errors else "some trails could not be judged"
    return f"could not evaluate: {unread}, so the verdict is unknown{quiet}."


def _finding_lines(finding: Finding) -> list[str]:
    lines = [f"\n  [{_label(finding).split(' (', 1)[1][:-1]}] {finding.rule}: {finding.message}"]
    waiver = finding.waiver
    if finding.exempt and waiver:
        until = f" (until {waiver.expires})" if waiver.expires else ""
        lines.append(f"    exempt:   {waiver.reason}{until}; not counted")
    elif waiver and waiver.expired:
        lines.append(f"    exemption expired: it applied through {waiver.expires} ({waiver.reason}); it counts again")
    if finding.calls:
        lines.append(f"    fix now:  {cli(finding.calls, finding.region)}")
        lines.append(f"    in code:  CloudFormation {cloudformation(finding.calls)}")
        lines.append(f"              Terraform {terraform(finding.calls)}")
    if finding.hint and not finding.exempt:
        lines.append(f"    hint:     {finding.hint}")
    return lines


def table(
    account: AccountVerdict,
    regions: Sequence[str],
    region_errors: Mapping[str, str],
    out: TextIO,
    entries: Sequence[Exemption] = (),
) -> None:
    said = verdict(account, region_errors)
    rows = [("TRAIL", "HOME REGION", "VERDICT", "FINDINGS")]
    rows += [(t.trail.name, t.trail.home_region, _trail_label(t), _summary(t.findings)) for t in account.trails]
    rows.append(_account_row(account, said))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    print(f"Account {account.account or '?'}: {len(account.trails)} trail(s) in {len(regions)} region(s)\n", file=out)
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[3], file=out)
    for region, message in sorted(region_errors.items()):
        print(f"\nregion {region} could not be read: {message}", file=out)
    findings = account.all_findings
    if findings:
        print("\nFindings and fixes:", file=out)
    for finding in findings:
        print("\n".join(_finding_lines(finding)), file=out)
    for n in exemptions.unused(entries, findings, account.account):
        entry = entries[n - 1]
        print(f"\nexemption {n} (trail {entry.trail!r}) matched no finding: check its trail and rules.", file=out)
    print(f"\n{_last_line(account, said, region_errors)}", file=out)


# --- an organization ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountAudit:
    """One account of an organization audit: its verdict as the single-account audit has it, or why it could
    not be read at all (``error``)."""

    account: AccountVerdict
    name: str
    regions: tuple[str, ...]
    region_errors: Mapping[str, str]
    error: str = ""

    @property
    def said(self) -> Outcome:
        return "unknown" if self.error else verdict(self.account, self.region_errors)


def organization_verdict(audits: Sequence[AccountAudit]) -> Outcome:
    """``unknown`` when some account could not be evaluated, else ``findings`` when some account has
    findings, else ``compliant`` (the contract's exit codes 2, 1, 0)."""
    said = {a.said for a in audits}
    return "unknown" if "unknown" in said else "findings" if "findings" in said else "compliant"


def organization_report(
    organization: str, audits: Sequence[AccountAudit], entries: Sequence[Exemption] = ()
) -> dict[str, Any]:
    """The ``--organization --json`` document: each account as the single-account audit has it, plus its name."""
    said = organization_verdict(audits)
    return {
        "organization": organization,
        "compliant": said == "compliant",
        "verdict": said,
        "accounts": [_account_json(a, entries) for a in audits],
        "errors": [{"account": a.account.account, "name": a.name, "message": a.error} for a in audits if a.error],
    }


def _account_json(audited: AccountAudit, entries: Sequence[Exemption]) -> dict[str, Any]:
    said = audited.said
    body = report(audited.account, audited.regions, audited.region_errors, entries)
    return {**body, "name": audited.name, "verdict": said, "compliant": said == "compliant"}


def organization_table(organization: str, audits: Sequence[AccountAudit], out: TextIO) -> None:
    """One row per account, each account's counted findings, and the organization's one verdict last."""
    label = {"compliant": "compliant", "findings": "NOT COMPLIANT", "unknown": "UNKNOWN"}
    rows = [("ACCOUNT", "NAME", "VERDICT", "TRAILS", "FINDINGS")]
    for a in audits:
        counted = a.account.counted
        rows.append((a.account.account, a.name, label[a.said], str(len(a.account.trails)),
                     _summary(counted) if counted else "-"))  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    print(f"Organization {organization}: {len(audits)} account(s)\n", file=out)
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[4], file=out)
    for a in audits:
        if a.error:
            print(f"\naccount {a.account.account} ({a.name}) could not be read: {a.error}", file=out)
        for region, message in sorted(a.region_errors.items()):
            print(f"\naccount {a.account.account}: region {region} could not be read: {message}", file=out)
        for finding in a.account.counted if not a.error else ():
            print(f"\n  {a.account.account} [{finding.severity}] {finding.rule}: {finding.message}", file=out)
    count = {s: sum(a.said == s for a in audits) for s in ("compliant", "findings", "unknown")}
    said = organization_verdict(audits)
    summary = (f"{count['compliant']} compliant, {count['findings']} with findings, {count['unknown']} could not be "
               "evaluated")  # fmt: skip
    ending = {"compliant": "compliant", "findings": "not compliant", "unknown": "could not evaluate every account"}
    print(f"\norganization {organization}: {ending[said]} ({summary}).", file=out)
