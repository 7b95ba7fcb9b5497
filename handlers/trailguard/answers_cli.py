"""``trailguard baseline show|accept``, ``trailguard revert`` and ``trailguard snooze``: a person's answers to an
alert from the command line, with the standard AWS environment (see ``answers`` for what each does).

Exit codes: 0 done, 1 refused (the answer says why), 2 bad input or AWS that cannot be used (one sentence).
The state table is ``--state-table``, else ``STATE_TABLE`` (as the Lambda names it), else the
``StateTableName`` output of the detector's stack in the session's region; with ``--account`` (organization
mode) the trail is read and changed through that account's member role, as the detector does.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import uuid
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from . import answers, arguments, exemptions
from .arguments import DEFAULT_ROLE
from .arn import Arn
from .aws import CLIENT_CONFIG, AuditAborted, ClientCache, abort_reason, describe_error
from .config import HandlerConfig
from .exemptions import ExemptionError
from .organization import AccountUnreachable
from .rules import REGISTRY
from .snooze import DurationError, parse_duration, snoozable
from .state_table import StateTable, Unprocessed

COMMANDS = ("baseline", "revert", "snooze")
STACK = "Trailguard"  # the detector's stack, whose outputs name its state table
EXIT_DONE, EXIT_REFUSED, EXIT_BAD_INPUT = 0, 1, 2
_TABLE = re.compile(r"[A-Za-z0-9_.-]{3,255}", re.ASCII)


def add_commands(sub: Any) -> None:
    """The answer commands, on ``trailguard``'s subparsers."""
    baseline = sub.add_parser("baseline", help="show or accept a trail's baseline (what the detector restores)")
    which = baseline.add_subparsers(dest="baseline_command", required=True)
    _common(which.add_parser("show", help="what the detector would restore, and when and by what it was recorded"))
    accept = _common(which.add_parser("accept", help="record the trail as it is now (if compliant) as its baseline"))
    accept.add_argument("--reason", default="", metavar="TEXT", help="why (recorded with your ARN)")
    revert = _common(sub.add_parser("revert", help="put the trail back as its baseline has it, as the detector would"))
    revert.add_argument("--dry-run", action="store_true", help="only print the calls that would be made")
    revert.add_argument("--reason", default="", metavar="TEXT", help="why (recorded with your ARN)")
    snooze = _common(sub.add_parser("snooze", help="hold back the trail's findings for a while (at most 24h)"))
    snooze.add_argument("--for", dest="duration", required=True, metavar="DURATION", help="how long: 2h, 90m, 1h30m")
    snooze.add_argument("--reason", required=True, metavar="TEXT", help="why (recorded with your ARN)")
    snooze.add_argument("--rule", action="append", default=[], metavar="RULE",
                        help="a rule to hold back (repeatable; default: the rules firing on the trail now), such as "
                             "destination-changed before a planned change")  # fmt: skip


def _common(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("trail", metavar="TRAIL", help="the trail's ARN, or its name in --region")
    parser.add_argument("--state-table", metavar="NAME",
                        help=f"the detector's state table (default: the {STACK} stack's StateTableName "
                             "output)")  # fmt: skip
    parser.add_argument("--account", metavar="ID", help="organization mode: the member account the trail is in")
    parser.add_argument("--role-name", default=DEFAULT_ROLE, metavar="NAME",
                        help=f"with --account: the member role (default {DEFAULT_ROLE})")  # fmt: skip
    parser.add_argument("--region", metavar="R", help="where to look a trail name up (default: the session's)")
    parser.add_argument("--exemptions", metavar="FILE", help="the exemptions file the detector uses")
    parser.add_argument("--allow-excluded-source", action="append", default=[], metavar="SOURCE",
                        help="event source that may be excluded from management events (repeatable)")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="answer in JSON")
    return parser


def run(args: argparse.Namespace) -> int:
    """Carry out one answer command; the exit code."""
    problem = _arguments(args)
    if problem:
        return refuse(args, problem)
    try:
        seconds = parse_duration(args.duration) if args.command == "snooze" else 0
        rt, caller = _runtime(args)
        target = answers.locate(rt, args.trail.strip(), args.account or rt.account, args.region or rt.home)
        problem = _elsewhere(args, rt, target)
        if problem:
            return refuse(args, problem)
        return _carry_out(args, rt, target, caller, seconds)
    except (AuditAborted, ExemptionError, DurationError, answers.NotFound, answers.RecordFailed,
            AccountUnreachable) as error:  # fmt: skip
        return refuse(args, str(error))
    except (ClientError, BotoCoreError, Unprocessed) as error:
        return refuse(args, abort_reason(error) or f"AWS refused or failed a call: {describe_error(error)}")


def _elsewhere(args: argparse.Namespace, rt: Any, target: answers.Target) -> str:
    """Why the trail cannot be answered for where it is named, or "": a trail ARN of another account is read in
    that account (``--account``), never in the caller's by mistake; only an organization trail is read in an
    account that does not own it; a snooze needs the trail to be there."""
    owner = target.arn.split(":")[4]
    if not args.account and owner != rt.account:
        return (f"{args.trail.strip()} is a trail of account {owner}, not the caller's {rt.account}: add --account "
                f"{owner} (organization mode), or use that account's credentials")  # fmt: skip
    if owner == target.account and args.command != "snooze":
        return ""
    now = answers.read(rt, target)
    if now.error:
        return f"trail {target.arn} could not be read in account {target.account}: {now.error}"
    if now.state is None:
        return f"there is no trail {target.arn} in account {target.account}"
    if owner != target.account and not now.state.description.get("IsOrganizationTrail"):
        return f"{target.arn} belongs to account {owner}; only an organization trail is answered from another account"
    return ""


def _carry_out(args: argparse.Namespace, rt: Any, target: answers.Target, caller: str, seconds: int) -> int:
    action = args.baseline_command if args.command == "baseline" else args.command
    if action == "show":
        doc = answers.show(rt, target)
        if doc is None:
            return _answer(args, target, answers.Answer(False, f"No baseline is recorded for trail {target.arn} yet: "
                                                        "the sweep records one when it finds the trail compliant, or "
                                                        "`trailguard baseline accept` does."))  # fmt: skip
        print(json.dumps(doc, indent=2) if args.json else answers.as_text(doc))
        return EXIT_DONE
    if action == "accept":
        answer = answers.accept(rt, target, caller, args.reason)
    elif action == "revert":
        answer = answers.revert_now(rt, target, caller, dry_run=args.dry_run)
    else:
        answer = answers.snooze(rt, target, caller, args.reason, seconds=seconds, rules=tuple(args.rule) or None)
    if answer.changed:
        fields = {"action": action, "by": caller, "reason": args.reason or "", "trail": target.arn, "via": "cli"}
        answers.record(rt, f"cli:{uuid.uuid4()}", fields, answer)
    return _answer(args, target, answer, caller)


def _answer(args: argparse.Namespace, target: answers.Target, answer: answers.Answer, caller: str = "") -> int:
    if args.json:
        print(json.dumps({"done": answer.done, "said": answer.said, "trail_arn": target.arn,
                          "commands": list(answer.commands)}, indent=2))  # fmt: skip
    elif answer.done:
        print(answer.said + (f" Recorded as {caller}." if answer.changed else ""))
    else:
        print(f"trailguard: refused: {answer.said}", file=sys.stderr)
    if answer.commands and not args.json:
        print("\n".join(answer.commands))
    return EXIT_DONE if answer.done else EXIT_REFUSED


def _arguments(args: argparse.Namespace) -> str:
    """What is wrong with the arguments, or ""."""
    if not args.trail.strip():
        return "TRAIL must be a trail's ARN or name"
    if args.state_table is not None and not _TABLE.fullmatch(args.state_table):
        return f"--state-table must be a DynamoDB table name, not {args.state_table!r}"
    problem = (arguments.accounts([args.account] if args.account is not None else []) or arguments.role(args.role_name)
               or arguments.regions([args.region] if args.region is not None else [])
               or arguments.sources(args.allow_excluded_source))  # fmt: skip
    if problem:
        return problem
    reason = getattr(args, "reason", None)
    if reason is not None and len(reason) > 1000:
        return "--reason must be at most 1000 characters"
    if args.command == "snooze" and not (reason or "").strip():
        return "--reason must say why the trail is snoozed"
    return _rules(getattr(args, "rule", []))


def _rules(rules: Sequence[str]) -> str:
    """What is wrong with ``--rule``, or ""."""
    for rule in rules:
        if rule not in REGISTRY:
            return f"--rule {rule!r} is not a rule id (the README's policy table lists them)"
        if not snoozable([rule]):
            return f"--rule {rule} can never be snoozed"
    return ""


def _runtime(args: argparse.Namespace) -> tuple[Any, str]:
    """The detector's parts as the command uses them, with the caller's credentials; and the caller's ARN."""
    import boto3

    from .flow import Runtime
    from .organization import MemberAccess

    try:
        session = boto3.session.Session()
        home = session.region_name or "us-east-1"
        identity = session.client("sts", region_name=home, config=CLIENT_CONFIG).get_caller_identity()
    except (BotoCoreError, ClientError, ValueError) as error:
        reason = abort_reason(error) if isinstance(error, BotoCoreError | ClientError) else None
        raise AuditAborted(reason or f"The AWS configuration cannot be used: {error}.") from error
    caller, account = str(identity["Arn"]), str(identity["Account"])
    table = args.state_table or os.environ.get("STATE_TABLE", "").strip() or _stack_table(session, home)
    found: tuple[exemptions.Exemption, ...] = ()
    if args.exemptions is not None:
        from pathlib import Path

        found = exemptions.load(Path(args.exemptions), f"--exemptions {args.exemptions}")[1]
    config = HandlerConfig(state_table=table, allowed_excluded_sources=frozenset(args.allow_excluded_source),
                           exemptions=found, member_role_name=args.role_name if args.account else "")  # fmt: skip
    cloudtrail = ClientCache(lambda region: session.client("cloudtrail", region_name=region, config=CLIENT_CONFIG))
    others = ClientCache(lambda key: session.client(key[0], region_name=key[1], config=CLIENT_CONFIG))

    def own(service: str, region: str) -> Any:
        return cloudtrail(region) if service == "cloudtrail" else others((service, region))

    access = None
    if args.account and args.account != account:
        parsed = Arn.parse(caller)
        access = MemberAccess(session, own_account=account, own_clients=own, role_name=args.role_name,
                              partition=parsed.partition if parsed else "aws", home=home,
                              config=CLIENT_CONFIG)  # fmt: skip
    rt = Runtime(config=config, account=account, home=home, cloudtrail=cloudtrail,
                 table=StateTable(session.client("dynamodb", region_name=home, config=CLIENT_CONFIG), table),
                 senders={}, regions=lambda: [home], identity=lambda: caller, others=own, access=access,
                 apply_snoozes=False)  # fmt: skip
    return rt, caller


def _stack_table(session: Any, region: str) -> str:
    """The ``StateTableName`` output of the detector's stack in ``region``."""
    try:
        stacks = session.client("cloudformation", region_name=region, config=CLIENT_CONFIG).describe_stacks(
            StackName=STACK)["Stacks"]  # fmt: skip
    except (ClientError, BotoCoreError) as error:
        raise AuditAborted(f"--state-table is needed: the {STACK} stack's outputs could not be read in {region} "
                           f"({abort_reason(error) or describe_error(error)})") from error  # fmt: skip
    for output in stacks[0].get("Outputs", []) if stacks else []:
        if output.get("OutputKey") == "StateTableName":
            return str(output["OutputValue"])
    raise AuditAborted(f"--state-table is needed: the {STACK} stack in {region} has no StateTableName output")


def refuse(args: argparse.Namespace, problem: str) -> int:
    """Bad input, or AWS that cannot be used: one sentence on stderr (and a JSON error with --json), exit 2."""
    sentence = problem if problem.endswith(".") else f"{problem}."
    print(f"trailguard: {sentence}", file=sys.stderr)
    if getattr(args, "json", False):
        print(json.dumps({"done": False, "error": sentence}))
    return EXIT_BAD_INPUT


def wanted(argv: Sequence[str]) -> bool:
    """Whether the command line is one of the answer commands."""
    return bool(argv) and argv[0] in COMMANDS
