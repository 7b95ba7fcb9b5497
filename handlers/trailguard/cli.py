"""The ``trailguard`` command: ``audit`` judges every trail of an account against the policy.

Exit codes of ``audit``: 0 compliant, 1 findings, 2 could not evaluate (nothing to judge it by, or the
account's verdict depends on trails or regions that could not be read) or bad input. Other commands (the
offline ``demo``) come from installed plugins (the ``trailguard.commands`` entry points of the development
tools), so this package never imports them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__, exemptions
from .aws import CLIENT_CONFIG, AuditAborted, ClientCache
from .exemptions import ExemptionError
from .judge import AccountVerdict, Policy, evaluate_account
from .read import AccountState, enabled_regions, read_account
from .render import audit

EXIT_BAD_INPUT = 2
FORMATS = ("table", "json")
PLUGINS = "trailguard.commands"
BUILT_IN = frozenset({"audit"})  # a plugin never takes over a built-in command


def run_audit(regions: Sequence[str], policy: Policy) -> tuple[AccountState, AccountVerdict]:
    """Read and judge the account with the standard AWS environment (profile, endpoint, credentials). The
    account-level fix is made in the session's region."""
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
    clients = ClientCache(lambda region: session.client("cloudtrail", region_name=region, config=CLIENT_CONFIG))
    others = ClientCache(lambda key: session.client(key[0], region_name=key[1], config=CLIENT_CONFIG))
    state = read_account(
        clients, regions, lambda: str(sts.get_caller_identity()["Account"]), clients=lambda s, r: others((s, r))
    )
    verdict = evaluate_account(state.account, state.trails, policy, home, sorted(state.region_errors))
    return state, verdict


def _parser(plugins: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trailguard", description="Keeps an AWS account's CloudTrail honest.")
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
    command.add_argument("--format", choices=FORMATS, default="table", help="table (default) or json")
    command.add_argument("--json", action="store_const", const="json", dest="format", help="same as --format json")
    command.add_argument(
        "--allow-excluded-source",
        action="append",
        default=[],
        metavar="SOURCE",
        help="event source that may be excluded from management events (repeatable)",
    )
    command.add_argument("--exemptions", metavar="FILE", help="the exemptions file (JSON; see the README)")
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
    args = _parser(sorted(plugins)).parse_args(argv)
    try:
        policy = _policy(args)
        state, verdict = run_audit(args.region, policy)
    except (AuditAborted, ExemptionError) as error:
        print(f"trailguard: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.format == "json":
        json.dump(audit.report(verdict, state.regions, state.region_errors, policy.exemptions), sys.stdout, indent=2)
        print()
    else:
        audit.table(verdict, state.regions, state.region_errors, sys.stdout, policy.exemptions)
    return audit.EXIT_CODES[audit.verdict(verdict, state.region_errors)]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
