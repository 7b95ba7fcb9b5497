"""Every command in README.md is run by CI or by a test, or needs a real AWS account and says why.

The commands are the lines of the README's ```sh blocks (continuation lines joined, comments dropped).
Each must start with a key of ``COVERED`` (where it runs: a test, checked to exist, or a CI step) or of
``AWS_ONLY`` (with the reason it cannot run here). A new README command that is neither fails, and so
does a mapping entry that names a test or a README command that no longer exists.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"

# Command prefix -> where it is run: "path::name" names a test function in a test file, or a line of a
# non-Python file (CI's script, the Makefile) that must be there as it is.
COVERED: dict[str, tuple[str, ...]] = {
    "make test": (".ci/run::make test",),
    "make setup": (".ci/run::make test", "Makefile::test: setup lint"),  # make test depends on setup
    "make demo": (  # make demo runs `trailguard demo`, which the demo test runs
        "Makefile::$(BIN)/trailguard demo",
        "tests/integration/test_demo.py::test_demo_plays_every_scenario_and_each_comes_out_as_expected",
    ),
    "make synth": ("tests/stacks/test_synth.py::test_make_synth_runs_the_pinned_cli_offline_without_credentials",),
    ".venv/bin/trailguard audit --region us-east-1 --region eu-west-1 --json": (
        "tests/integration/test_audit_cli.py::test_multi_region_trail_seen_from_two_regions_is_one_compliant_trail",
    ),
    ".venv/bin/trailguard audit --format sarif": (
        "tests/integration/test_audit_formats.py::test_sarif_is_a_valid_sarif_2_1_0_log_of_the_registry_and_the_findings",
    ),
    ".venv/bin/trailguard audit --format asff": (
        "tests/integration/test_audit_formats.py::test_asff_is_accepted_by_botocores_model_of_batch_import_findings",
    ),
    "aws securityhub batch-import-findings": (  # the same call, with boto3, against the emulator
        "tests/integration/test_audit_formats.py::test_asff_imports_into_security_hub_as_is",
    ),
    ".venv/bin/trailguard audit --severity high --quiet": (
        "tests/integration/test_audit_formats.py::test_severity_keeps_worse_findings_and_sets_the_exit_code",
        "tests/integration/test_audit_formats.py::test_quiet_table_shows_the_counted_findings_and_the_verdict_only",
    ),
    ".venv/bin/trailguard audit": (  # no --region: every enabled region; no --json: the table
        "tests/integration/test_audit_cli.py::test_default_regions_are_every_region_enabled_for_the_account",
        "tests/integration/test_audit_cli.py::test_table_shows_trail_home_region_verdict_and_findings",
    ),
    ".venv/bin/python -m trailguard_dev.corpus": ("tests/unit/test_readme.py::test_corpus_commands_run_as_written",),
    ".venv/bin/trailguard audit --organization --region us-east-1 --region eu-west-1": (
        "tests/integration/test_organization.py::test_audit_organization_exit_codes_follow_the_worst_account",
    ),
    ".venv/bin/trailguard baseline show": (
        "tests/integration/test_answer_cli.py::test_baseline_show_says_what_would_be_restored_and_who_recorded_it",
    ),
    ".venv/bin/trailguard baseline accept": (
        "tests/integration/test_answer_cli.py::test_accept_records_the_trail_as_it_is_now_with_the_caller_and_reason",
    ),
    ".venv/bin/trailguard revert": (
        "tests/integration/test_answer_cli.py::test_revert_dry_run_prints_the_calls_and_revert_makes_them",
    ),
    ".venv/bin/trailguard snooze org-audit --for 2h": (
        "tests/integration/test_answer_cli.py::test_snooze_holds_the_trails_findings_for_the_time_given",
    ),
    ".venv/bin/trailguard snooze org-audit --for 30m --rule destination-changed": (
        "tests/integration/test_answer_cli.py::test_a_planned_change_snoozed_first_is_not_reverted_and_then_accepted",
    ),
    ".venv/bin/trailguard audit --organization --account": (
        "tests/integration/test_organization.py::test_audit_organization_reports_every_account_with_its_name",
    ),
}

# Command prefix -> why no test can run it: it needs a real AWS account (and, mostly, the deployed stacks).
AWS_ONLY: dict[str, str] = {
    "ACCOUNT=$(aws sts get-caller-identity": "asks AWS for the caller's account id, for the bootstrap",
    "npx cdk bootstrap": "creates the CDK bootstrap stack in a real account",
    "aws secretsmanager create-secret": "creates the Slack secret in a real account",
    "npx cdk deploy": "deploys to a real account (make synth runs the same app offline)",
    "aws cloudtrail stop-logging": "the test alert needs a deployed detector and a trail logging in AWS",
    "aws logs tail": "reads the deployed function's log group",
    "npx cdk destroy": "deletes the deployed stacks",
    "aws dynamodb delete-table": "deletes the deployed state table",
    "aws logs delete-log-group": "deletes the deployed log group",
    "aws cloudformation describe-stacks": "reads the deployed stack's outputs (the CLI's own lookup of StateTableName "
    "runs against the emulator in tests/integration/test_answer_cli.py)",
    "aws cloudformation activate-organizations-access": "changes a real organization's StackSets settings",
    "aws organizations register-delegated-administrator": "registers a delegated administrator in a real organization",
}


def sh_blocks(text: str) -> list[str]:
    return re.findall(r"^[ \t]*```sh\n(.*?)^[ \t]*```", text, flags=re.MULTILINE | re.DOTALL)


def commands(text: str) -> list[list[str]]:
    """Each command of the ```sh blocks as shell words, continuation lines joined and comments dropped."""
    found = []
    for block in sh_blocks(text):
        for line in re.sub(r"\\\n", " ", block).splitlines():
            words = shlex.split(line, comments=True)
            if words:
                found.append(words)
    return found


def readme_commands() -> list[list[str]]:
    return commands(README.read_text())


def key_for(words: list[str], keys: list[str]) -> str | None:
    """The longest key whose words begin the command."""
    matching = [k for k in keys if words[: len(shlex.split(k))] == shlex.split(k)]
    return max(matching, key=len, default=None)


def where(evidence: str) -> tuple[Path, str]:
    path, _, name = evidence.partition("::")
    return REPO / path, name


def make_rule(target: str) -> tuple[list[str], list[str]]:
    """A Makefile target's prerequisites and recipe lines."""
    lines = (REPO / "Makefile").read_text().splitlines()
    [start] = [i for i, line in enumerate(lines) if line.startswith(f"{target}:")]
    prerequisites = lines[start].split(":", 1)[1].split()
    recipe = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip().lstrip("@"))
    return prerequisites, recipe


def test_the_readme_opens_with_the_two_commands() -> None:
    first = sh_blocks(README.read_text())[0]

    assert commands(f"```sh\n{first}```") == [["make", "demo"], ["make", "test"]]


def test_every_readme_command_is_run_by_ci_or_a_test_or_needs_aws() -> None:
    keys = [*COVERED, *AWS_ONLY]

    unaccounted = [shlex.join(words) for words in readme_commands() if key_for(words, keys) is None]

    assert unaccounted == [], (
        "README commands that no test or CI step runs: run each in a test and add it to COVERED, "
        "or, if it needs a real AWS account, add it to AWS_ONLY with the reason"
    )


def test_every_mapping_entry_is_a_readme_command() -> None:
    keys = [*COVERED, *AWS_ONLY]
    used = {key_for(words, keys) for words in readme_commands()}

    assert sorted(set(keys) - used) == []


def test_covered_commands_name_tests_and_ci_steps_that_exist() -> None:
    missing = []
    for evidence in (e for evidences in COVERED.values() for e in evidences):
        path, name = where(evidence)
        if not path.is_file():
            missing.append(evidence)
        elif path.suffix == ".py":
            if not re.search(rf"^def {re.escape(name)}\(", path.read_text(), flags=re.MULTILINE):
                missing.append(evidence)
        elif name not in (line.strip().lstrip("@") for line in path.read_text().splitlines()):
            missing.append(evidence)

    assert missing == []


def test_aws_only_commands_really_call_aws() -> None:
    for key, reason in AWS_ONLY.items():
        words = shlex.split(key)
        assert words[0] == "aws" or words[:2] == ["npx", "cdk"] or "=$(aws" in words[0], key
        assert words[:3] != ["npx", "cdk", "synth"], "cdk synth runs offline: make synth"
        assert reason.strip(), key


def test_make_targets_the_readme_names_exist_and_run_what_their_tests_run() -> None:
    named = set(re.findall(r"`make ([a-z]+)`", README.read_text()))
    named |= {words[1] for words in readme_commands() if words[0] == "make"}

    for target in named:
        make_rule(target)  # exists, once
    assert {"demo", "test", "setup", "synth", "bench"} <= named
    assert make_rule("demo")[1] == ["$(BIN)/trailguard demo"]
    assert "setup" in make_rule("test")[0]
    assert any(line.startswith("$(BIN)/pytest") for line in make_rule("test")[1])
    assert make_rule("synth")[1] == ["node_modules/.bin/cdk synth --quiet"]
    assert "make test" in (REPO / ".ci" / "run").read_text().splitlines()


@pytest.mark.integration  # the --handler form starts moto's server on 127.0.0.1
def test_corpus_commands_run_as_written() -> None:
    from tests.integration.test_fixture_replay import EXPECTED

    corpus = [w for w in readme_commands() if key_for(w, list(COVERED)) == ".venv/bin/python -m trailguard_dev.corpus"]
    assert len(corpus) == 2 and any("--handler" in w for w in corpus)

    for words in corpus:
        done = subprocess.run(
            [sys.executable, *words[1:]], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
        )  # sys.executable: the .venv/bin/python that `make test` runs the tests with

        assert done.returncode == 0, done.stderr
        files = [Path(w) for w in words if w.endswith(".json")]
        rows = [line.split() for line in done.stdout.splitlines()]  # the handler's JSON log lines start with {
        lines = {row[0]: row[1] for row in rows if row and row[0].endswith(".json")}
        assert sorted(lines) == sorted(f.name for f in files), done.stdout
        for file in files:
            if "--handler" in words:
                assert lines[file.name] == EXPECTED[file.stem], done.stdout
            else:
                assert lines[file.name] in ("call", "ignored"), done.stdout
