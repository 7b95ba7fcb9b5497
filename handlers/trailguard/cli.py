"""The ``trailguard`` command: ``audit`` judges every trail of an account, ``demo`` plays the offline demo.

Exit codes of ``audit``: 0 compliant, 1 findings, 2 could not evaluate (nothing to judge it by, or the
account's verdict depends on trails or regions that could not be read).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from .policy import AccountVerdict, Finding, Settings, evaluate_account
from .rules import RULES
from .state import CLIENT_CONFIG, AccountState, AuditAborted, ClientCache, enabled_regions, read_account

EXIT_COMPLIANT, EXIT_FINDINGS, EXIT_UNKNOWN = 0, 1, 2


def run_audit(regions: Sequence[str], settings: Settings) -> tuple[AccountState, AccountVerdict]:
    """Read and judge the account with the standard AWS environment (profile, endpoint, credentials)."""
    import boto3  # at the edge, so that `trailguard --help` stays fast

    session = boto3.session.Session()
    home = session.region_name or "us-east-1"
    if not regions:
        regions = enabled_regions(session.client("ec2", region_name=home, config=CLIENT_CONFIG))
    clients = ClientCache(lambda region: session.client("cloudtrail", region_name=region, config=CLIENT_CONFIG))
    sts = session.client("sts", region_name=home, config=CLIENT_CONFIG)
    state = read_account(clients, regions, lambda: str(sts.get_caller_identity()["Account"]))
    verdict = evaluate_account(state.account, state.trails, settings, regions[0], sorted(state.region_errors))
    return state, verdict


def exit_code(state: AccountState, verdict: AccountVerdict) -> int:
    findings = verdict.all_findings
    if any(f.rule != "not-evaluable" for f in findings):
        return EXIT_FINDINGS
    if state.region_errors or any(f.rule == "not-evaluable" and f.severity != "low" for f in findings):
        return EXIT_UNKNOWN
    return EXIT_COMPLIANT


def report(state: AccountState, verdict: AccountVerdict) -> dict[str, Any]:
    """The ``--json`` document of DESIGN.md's contract (plus ``regions`` and ``errors``)."""
    return {
        "account": verdict.account,
        "compliant": verdict.compliant,
        "findings": [f.to_dict() for f in verdict.all_findings],
        "trails": [
            {
                "arn": t.trail.arn,
                "name": t.trail.name,
                "home_region": t.trail.home_region,
                "multi_region": t.trail.description.get("IsMultiRegionTrail") is True,
                "logging": (t.trail.status or {}).get("IsLogging") is True,
                "compliant": t.compliant,
                "evaluated": t.evaluated,
                "findings": [f.to_dict() for f in t.findings],
            }
            for t in verdict.trails
        ],
        "regions": list(state.regions),
        "errors": [{"region": r, "message": m} for r, m in sorted(state.region_errors.items())],
    }


def _summary(findings: Sequence[Finding]) -> str:
    return ", ".join(f"{f.rule} ({f.severity})" for f in findings) or "-"


def render_table(state: AccountState, verdict: AccountVerdict, out: TextIO) -> None:
    rows = [("TRAIL", "HOME REGION", "VERDICT", "FINDINGS")]
    for t in verdict.trails:
        label = "compliant" if t.compliant else ("DRIFT" if t.evaluated else "NOT EVALUATED")
        rows.append((t.trail.name, t.trail.home_region, label, _summary(t.findings)))
    account_label = "compliant" if verdict.compliant else ("DRIFT" if verdict.findings else "-")
    rows.append(("(account)", "", account_label, _summary(verdict.findings)))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    print(
        f"Account {verdict.account or '?'}: {len(verdict.trails)} trail(s) in {len(state.regions)} region(s)\n",
        file=out,
    )
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[3], file=out)
    for region, message in sorted(state.region_errors.items()):
        print(f"\nregion {region} could not be read: {message}", file=out)
    findings = verdict.all_findings
    if findings:
        print("\nFindings and fixes:", file=out)
    for f in findings:
        rule = RULES[f.rule]
        print(f"\n  [{f.severity}] {f.rule}: {f.message}", file=out)
        if f.fix:
            print(f"    fix now:  {f.fix}", file=out)
        if rule.cloudformation != "-":
            print(f"    in code:  CloudFormation {rule.cloudformation}", file=out)
            print(f"              Terraform {rule.terraform}", file=out)
    print(f"\n{'compliant' if exit_code(state, verdict) == EXIT_COMPLIANT else 'not compliant'}.", file=out)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trailguard", description="Keeps an AWS account's CloudTrail honest.")
    sub = parser.add_subparsers(dest="command", required=True)
    audit = sub.add_parser("audit", help="judge every trail of the account against the policy")
    audit.add_argument(
        "--region",
        action="append",
        default=[],
        metavar="R",
        help="region to read (repeatable; default: every region enabled for the account)",
    )
    audit.add_argument("--json", action="store_true", help="print one JSON document instead of a table")
    audit.add_argument(
        "--allow-excluded-source",
        action="append",
        default=[],
        metavar="SOURCE",
        help="event source that may be excluded from management events (repeatable)",
    )
    demo = sub.add_parser("demo", help="run the offline demo against a local AWS emulator")
    demo.add_argument("--port", type=int, default=0, help="emulator port (default: any free port)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "demo":
        from trailguard_dev.demo import run_demo  # development tooling, not shipped in the Lambda

        return run_demo(port=args.port)
    settings = Settings(frozenset(args.allow_excluded_source))
    try:
        state, verdict = run_audit(args.region, settings)
    except AuditAborted as error:
        print(f"trailguard: {error}", file=sys.stderr)
        return EXIT_UNKNOWN
    if args.json:
        json.dump(report(state, verdict), sys.stdout, indent=2)
        print()
    else:
        render_table(state, verdict, sys.stdout)
    return exit_code(state, verdict)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
