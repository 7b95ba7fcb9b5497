"""The ``trailguard`` command: ``audit`` judges every trail of an account against the policy; ``baseline``,
``revert`` and ``snooze`` answer an alert (see ``answers_cli``).

Exit codes of ``audit``: 0 compliant, 1 findings, 2 could not evaluate (nothing to judge it by, or the
account's verdict depends on trails or regions that could not be read) or bad input. Other commands (the
offline ``demo``) come from installed plugins (the ``trailguard.commands`` entry points of the development
tools), so this package never imports them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NoReturn, TextIO

from botocore.config import Config

from . import __version__, answers_cli, arguments, exemptions
from .arguments import DEFAULT_ROLE
from .arn import Arn
from .aws import CLIENT_CONFIG, WORKERS, AuditAborted, ClientCache, abort_reason, explain
from .exemptions import ExemptionError
from .fleet import ACCOUNTS_AT_ONCE, READS_PER_ACCOUNT
from .judge import AccountVerdict, Policy, evaluate_account
from .organization import Account, AccountUnreachable, Directory, MemberAccess
from .read import AccountState, enabled_regions, read_account
from .render import audit
from .rules import REGISTRY, SEVERITIES, Finding
from .sweep import unreachable

EXIT_BAD_INPUT = 2
FORMATS = ("table", "json", "csv", "sarif", "ocsf", "asff")
COLOURS = {"critical": "\033[1;31m", "high": "\033[31m", "medium": "\033[33m", "low": "\033[2m",
           "compliant": "\033[32m"}  # fmt: skip
RESET = "\033[0m"
PLUGINS = "trailguard.commands"
BUILT_IN = frozenset({"audit", *answers_cli.COMMANDS})  # a plugin never takes over a built-in command
# Member accounts are read by clients shared between accounts (see ``organization``): standard retries, since
# adaptive mode's client-side rate limit would slow every account down when one is throttled.
AUDIT_MEMBER_READS = Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=WORKERS * 4,
                      connect_timeout=5, read_timeout=30)  # fmt: skip


def run_audit(
    regions: Sequence[str], policy: Policy, progress: TextIO | None = None
) -> tuple[AccountState, AccountVerdict]:
    """Read and judge the account with the standard AWS environment (profile, endpoint, credentials). The
    account-level fix is made in the session's region; ``progress`` hears of each region as it is listed."""
    import boto3  # at the edge, so that `trailguard --help` stays fast
    from botocore.exceptions import BotoCoreError

    try:  # a profile that does not exist or an endpoint that is not a URL fails here, before any call
        session = boto3.session.Session()
        home = session.region_name or "us-east-1"
        sts = session.client("sts", region_name=home, config=CLIENT_CONFIG)
    except (BotoCoreError, ValueError) as error:
        raise AuditAborted(f"The AWS configuration cannot be used: {error}.") from error
    if not regions:
        regions = enabled_regions(session.client("ec2", region_name=home, config=CLIENT_CONFIG))
    listed = Progress(progress, len(regions), "regions listed")

    def cloudtrail(region: str) -> Any:
        client = session.client("cloudtrail", region_name=region, config=CLIENT_CONFIG)
        client.meta.events.register("after-call.cloudtrail.DescribeTrails", listed.one)
        return client

    clients = ClientCache(cloudtrail)
    others = ClientCache(lambda key: session.client(key[0], region_name=key[1], config=CLIENT_CONFIG))
    state = read_account(
        clients, regions, lambda: str(sts.get_caller_identity()["Account"]), clients=lambda s, r: others((s, r))
    )
    listed.done()
    verdict = evaluate_account(state.account, state.trails, policy, home, sorted(state.region_errors))
    return state, verdict


class Progress:
    """A count on one line of ``out`` (a terminal), as things finish: ``3/17 regions listed``; nothing when
    ``out`` is None."""

    def __init__(self, out: TextIO | None, total: int, what: str, patience: float = 10.0) -> None:
        self.out, self.total, self.what, self.count = out, total, what, 0
        self.lock = threading.Lock()
        self.quiet = threading.Timer(patience, self.waiting)  # silence is not progress: say so
        self.quiet.daemon = True
        if out is not None:
            self.quiet.start()

    def waiting(self) -> None:
        with self.lock:
            if self.out is not None and not self.count:
                self.out.write("trailguard: no answer yet from the AWS endpoint; still trying (--timeout SECONDS "
                               "limits the wait)\n")  # fmt: skip
                self.out.flush()

    def one(self, **_: Any) -> None:
        if self.out is None:
            return
        with self.lock:
            self.count += 1
            self.out.write(f"\rtrailguard: {min(self.count, self.total)}/{self.total} {self.what}")
            self.out.flush()

    def done(self) -> None:
        self.quiet.cancel()
        if self.out is not None and self.count:
            self.out.write("\n")
            self.out.flush()


def _organization(only: Sequence[str]) -> tuple[Any, str, Arn, str, list[Account]]:
    """The session, its region, the caller, the organization and the accounts to audit (``only``, or all)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        session = boto3.session.Session()
        home = session.region_name or "us-east-1"
        sts = session.client("sts", region_name=home, config=CLIENT_CONFIG)
        directory = Directory(session.client("organizations", region_name=home, config=CLIENT_CONFIG))
    except (BotoCoreError, ValueError) as error:
        raise AuditAborted(f"The AWS configuration cannot be used: {error}.") from error
    try:
        caller = Arn.parse(str(sts.get_caller_identity()["Arn"]))
        organization, accounts = directory.organization(), directory.accounts()
    except (BotoCoreError, ClientError) as error:
        why = abort_reason(error) or f"The organization could not be listed: {explain(error, 'organizations')}"
        raise AuditAborted(f"{why} (run it from the management account or a delegated administrator).") from error
    if caller is None:
        raise AuditAborted("The caller's identity could not be read.")
    unknown = sorted(set(only) - {a.id for a in accounts})
    if unknown:
        raise AuditAborted(f"--account {unknown[0]} is not an active account of organization {organization}.")
    return session, home, caller, organization, [a for a in accounts if not only or a.id in only]


def run_organization_audit(
    regions: Sequence[str], policy: Policy, role_name: str, only: Sequence[str], progress: TextIO | None = None
) -> tuple[str, list[audit.AccountAudit]]:
    """Read and judge every active account of the caller's organization (or those in ``only``): the caller's
    own account with its own credentials, first, since its reads include the organization trails, which are
    then judged once for every account; every other through ``role_name``, concurrently."""
    session, home, caller, organization, chosen = _organization(only)
    if not regions:
        regions = enabled_regions(session.client("ec2", region_name=home, config=CLIENT_CONFIG))
    own_clients = ClientCache(lambda key: session.client(key[0], region_name=key[1], config=CLIENT_CONFIG))
    access = MemberAccess(session, own_account=caller.account, own_clients=lambda s, r: own_clients((s, r)),
                          role_name=role_name, partition=caller.partition, home=home,
                          config=AUDIT_MEMBER_READS)  # fmt: skip
    own = read_account(lambda r: own_clients(("cloudtrail", r)), regions, lambda: caller.account,
                       clients=lambda s, r: own_clients((s, r)))  # fmt: skip
    shared = tuple(t for t in own.trails if t.description.get("IsOrganizationTrail"))
    done = [0]

    def one(account: Account) -> audit.AccountAudit:
        try:
            state = own if account.id == caller.account else read_account(
                access.cloudtrail(account.id), regions, lambda: account.id, workers=READS_PER_ACCOUNT,
                clients=access.clients(account.id), shared=shared,
            )  # fmt: skip
            judged = evaluate_account(account.id, state.trails, policy, home, sorted(state.region_errors))
            result = audit.AccountAudit(judged, account.name, tuple(regions), state.region_errors)
        except (AccountUnreachable, AuditAborted) as error:
            result = audit.AccountAudit(unreachable(account.id, str(error), home), account.name, tuple(regions), {},
                                        str(error))  # fmt: skip
        done[0] += 1
        if progress is not None:
            progress.write(f"\r{done[0]}/{len(chosen)} accounts read")
            progress.flush()
        return result

    with ThreadPoolExecutor(max_workers=ACCOUNTS_AT_ONCE, thread_name_prefix="tg-audit") as pool:
        audits = list(pool.map(one, chosen))
    if progress is not None:
        progress.write("\n")
    return organization, audits


class BadInput(Exception):
    """A command line argparse refuses: one sentence, said the project's way."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one sentence on stderr and exit 2 (with a machine format's own error
    document), never its usage block: ``main`` says it."""

    def error(self, message: str) -> NoReturn:
        raise BadInput(message)


def _parser(plugins: Sequence[str]) -> argparse.ArgumentParser:
    parser = _Parser(prog="trailguard", description="Keeps an AWS account's CloudTrail honest.")
    parser.add_argument("--version", action="version", version=f"trailguard {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    command = sub.add_parser("audit", help="judge every trail of the account against the policy")
    command.add_argument(
        "--region",
        action="append",
        default=[],
        metavar="R",
        help="region to read (repeatable; default: every region enabled for the account)",
    )
    command.add_argument("--format", default="table", metavar="FORMAT",
                         help=f"output format: {', '.join(FORMATS)} (default table)")  # fmt: skip
    command.add_argument("--json", action="store_const", const="json", dest="format", help="same as --format json")
    command.add_argument("--severity", metavar="LEVEL",
                         help="report, and fail on, only findings of this severity or worse: critical, high, medium, "
                              "low (default low: all)")  # fmt: skip
    command.add_argument("--quiet", action="store_true",
                         help="the table shows only the findings that count and the verdict; no progress")  # fmt: skip
    command.add_argument("--timeout", type=float, metavar="SECONDS",
                         help="give up after this many seconds in all (exit 2), whatever the endpoints do")  # fmt: skip
    command.add_argument(
        "--allow-excluded-source",
        action="append",
        default=[],
        metavar="SOURCE",
        help="event source that may be excluded from management events (repeatable)",
    )
    command.add_argument("--exemptions", metavar="FILE", help="the exemptions file (JSON; see the README)")
    command.add_argument(
        "--organization",
        action="store_true",
        help="every active account of the caller's AWS Organization (from the management account or a delegated "
        "administrator)",
    )
    command.add_argument(
        "--role-name",
        default=DEFAULT_ROLE,
        metavar="NAME",
        help=f"with --organization: the role each member account is read through (default {DEFAULT_ROLE})",
    )
    command.add_argument(
        "--account",
        action="append",
        default=[],
        metavar="ID",
        help="with --organization: only this account (repeatable)",
    )
    answers_cli.add_commands(sub)
    for name in plugins:
        sub.add_parser(name, help=f"{name} (from the development tools)", add_help=False)
    return parser


def _plugins() -> dict[str, object]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=PLUGINS)}


def _policy(args: argparse.Namespace) -> Policy:
    found: tuple[exemptions.Exemption, ...] = ()
    if args.exemptions is not None:
        if not args.exemptions.strip():
            raise ExemptionError("--exemptions needs the name of an exemptions file.")
        found = exemptions.load(Path(args.exemptions), f"--exemptions {args.exemptions}")[1]
    return Policy(frozenset(args.allow_excluded_source), found, exemptions.today())


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    plugins = {name: ep for name, ep in _plugins().items() if name not in BUILT_IN}
    if argv and argv[0] in plugins:
        command = plugins[argv[0]].load()  # type: ignore[attr-defined]
        return int(command(argv[1:]))
    if argv and argv[0] == "demo":
        print("trailguard: the demo comes with the development tools: run `make demo` in a clone.", file=sys.stderr)
        return EXIT_BAD_INPUT
    parser = _parser(sorted(plugins))
    try:
        args = parser.parse_args(argv)
    except BadInput as error:
        if argv and argv[0] in answers_cli.COMMANDS:
            return answers_cli.refuse(argparse.Namespace(json="--json" in argv), str(error))
        wanted = next((argv[n + 1] for n, word in enumerate(argv[:-1]) if word == "--format"), "table")
        return _refuse(argparse.Namespace(format="json" if "--json" in argv else wanted), str(error))
    return answers_cli.run(args) if args.command in answers_cli.COMMANDS else _audit(args)


def _audit(args: argparse.Namespace) -> int:
    """``trailguard audit``: read, judge, print; the exit code."""
    problem = _organization_arguments(args) or _output_arguments(args) or _audit_arguments(args)
    if problem:
        return _refuse(args, problem)
    if args.timeout is not None:
        _deadline(args)
    try:
        policy = _policy(args)
        progress = sys.stderr if sys.stderr.isatty() and not args.quiet else None
        if args.organization:
            organization, found = run_organization_audit(args.region, policy, args.role_name, args.account, progress)
            audits = [dataclasses.replace(a, account=at_least(a.account, args.severity)) for a in found]
            doc = audit.organization_report(organization, audits, policy.exemptions)
            said = audit.organization_verdict(audits)
            hidden = sum(len(a.account.all_findings) for a in found) - sum(len(a.account.all_findings) for a in audits)
        else:
            state, judged = run_audit(args.region, policy, progress)
            verdict = at_least(judged, args.severity)
            doc = audit.report(verdict, state.regions, state.region_errors, policy.exemptions)
            said = audit.verdict(verdict, state.region_errors)
            hidden = len(judged.all_findings) - len(verdict.all_findings)
    except (AuditAborted, ExemptionError) as error:
        return _refuse(args, str(error))
    if hidden:
        print(f"trailguard: {hidden} finding(s) below --severity {args.severity} are not shown and do not count.",
              file=sys.stderr)  # fmt: skip
    try:
        _print(args, doc, lambda out: _table(args, out, state, verdict, policy) if not args.organization
               else _organization_table(args, out, organization, audits))  # fmt: skip
    except ImportError as error:  # only --format ocsf needs more than boto3
        return _refuse(args, f"--format ocsf needs py-ocsf-models ({error.name} is missing): pip install "
                             "'trailguard[ocsf]'")  # fmt: skip
    return audit.EXIT_CODES[said]


def at_least(verdict: AccountVerdict, threshold: str | None) -> AccountVerdict:
    """The verdict judged on the findings of ``threshold`` severity or worse only (all without one): the table,
    the JSON, every format and the exit code then agree. A finding that means "could not tell" is always kept:
    a threshold never turns an account that could not be evaluated into a compliant one."""
    if not threshold:
        return verdict
    keep = set(SEVERITIES[: SEVERITIES.index(threshold) + 1])

    def kept(findings: Sequence[Finding]) -> tuple[Finding, ...]:
        return tuple(f for f in findings if f.severity in keep or REGISTRY[f.rule].unknown)

    trails = tuple(dataclasses.replace(t, findings=kept(t.findings)) for t in verdict.trails)
    return dataclasses.replace(verdict, trails=trails, findings=kept(verdict.findings))


def _audit_arguments(args: argparse.Namespace) -> str:
    """What is wrong with the regions, sources or timeout, or ""."""
    if args.timeout is not None and not 0 < args.timeout <= 86_400:
        return f"--timeout must be a number of seconds between 0 and 86400, not {args.timeout:g}"
    return arguments.sources(args.allow_excluded_source) or arguments.regions(args.region)


def _output_arguments(args: argparse.Namespace) -> str:
    if args.format not in FORMATS:
        return f"--format must be one of {', '.join(FORMATS)}, not {args.format!r}"
    if args.severity is not None and args.severity not in SEVERITIES:
        return f"--severity must be one of {', '.join(SEVERITIES)}, not {args.severity!r}"
    return ""


def _refuse(args: argparse.Namespace, problem: str) -> int:
    """One sentence on stderr, exit 2; with a machine format, also its own way of saying so on stdout: a JSON
    error document, a SARIF log whose invocation failed, an empty list of findings (OCSF, ASFF)."""
    sentence = problem if problem.endswith(".") else f"{problem}."
    print(f"trailguard: {sentence}", file=sys.stderr)
    wanted = getattr(args, "format", "table")
    said: Any = None
    if wanted == "json":
        said = {"error": sentence, "verdict": "unknown", "compliant": False}
    elif wanted == "sarif":
        from .render import formats

        said = formats.to_sarif({"findings": []})
        notice = {"level": "error", "message": {"text": sentence}}
        said["runs"][0]["invocations"] = [
            {"executionSuccessful": False, "exitCode": EXIT_BAD_INPUT, "toolExecutionNotifications": [notice]}
        ]
    elif wanted in ("ocsf", "asff"):
        said = []
    if said is not None:
        json.dump(said, sys.stdout, indent=2)
        print()
    return EXIT_BAD_INPUT


def _deadline(args: argparse.Namespace) -> None:
    """``--timeout``: after that many seconds, say so and exit 2 whatever is still waiting on the network."""
    import os
    import threading

    def expire() -> None:
        _refuse(args, f"the audit did not finish within --timeout {args.timeout:g} seconds")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_BAD_INPUT)

    timer = threading.Timer(args.timeout, expire)
    timer.daemon = True
    timer.start()


def _print(args: argparse.Namespace, doc: dict[str, Any], table: Callable[[TextIO], None]) -> None:
    from .render import formats

    shown = doc
    if args.format == "table":
        table(sys.stdout)
        return
    if args.format == "csv":
        sys.stdout.write(formats.to_csv(shown))
        return
    out: Any = shown
    if args.format == "sarif":
        out = formats.to_sarif(shown)
    elif args.format == "ocsf":
        out = formats.to_ocsf(shown)
    elif args.format == "asff":
        out = formats.to_asff(shown, _session_region())
    json.dump(out, sys.stdout, indent=2)
    print()


def _session_region() -> str:
    import boto3

    return boto3.session.Session().region_name or "us-east-1"


def _table(args: argparse.Namespace, out: TextIO, state: AccountState, verdict: AccountVerdict, policy: Policy) -> None:
    """The table, in colour on a terminal unless NO_COLOR is set; --quiet keeps the findings that count."""
    import io

    buffer = io.StringIO()
    audit.table(verdict, state.regions, state.region_errors, buffer, policy.exemptions)
    lines = buffer.getvalue().splitlines()
    if args.quiet:
        lines = [line for line in lines if _counts(line)] + lines[-1:]
    _write(out, lines)


def _write(out: TextIO, lines: Sequence[str]) -> None:
    """A table's lines, in colour on a terminal unless NO_COLOR is set."""
    import os

    text = "\n".join(lines) + "\n"
    out.write(_coloured(text) if out.isatty() and not os.environ.get("NO_COLOR") else text)


def _organization_table(args: argparse.Namespace, out: TextIO, organization: str, audits: Sequence[Any]) -> None:
    """The organization's table; --quiet keeps each account's counted findings, the accounts that could not be
    read, and the verdict; colour as for one account."""
    import io

    buffer = io.StringIO()
    audit.organization_table(organization, audits, buffer)
    lines = buffer.getvalue().splitlines()
    if args.quiet:
        lines = [line for line in lines[:-1] if re.match(r"\s+\d{12} \[", line) or "could not be read" in line]
        lines += buffer.getvalue().splitlines()[-1:]
    _write(out, lines)


def _counts(line: str) -> bool:
    """A table line that states a counted finding."""
    match = re.search(r"\[(critical|high|medium|low)\]", line)
    return bool(match) and "exempt" not in line and "advisory" not in line


def _coloured(text: str) -> str:
    text = re.sub(r"\[(critical|high|medium|low)\b", lambda m: f"[{COLOURS[m.group(1)]}{m.group(1)}{RESET}", text)
    return re.sub(r"\b(NOT COMPLIANT|not compliant)\b", lambda m: f"{COLOURS['critical']}{m.group(1)}{RESET}", text)


def _organization_arguments(args: argparse.Namespace) -> str:
    """What is wrong with the organization arguments, or ""."""
    if not args.organization and (args.account or args.role_name != DEFAULT_ROLE):
        return "--account and --role-name need --organization"
    return arguments.accounts(args.account) or arguments.role(args.role_name)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
