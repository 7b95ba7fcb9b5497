"""``trailguard audit --format csv|sarif|ocsf|asff``, ``--severity``, ``--quiet`` and the bad inputs a new user
types, run as a user would against moto's server: each format parsed and validated (SARIF by its object model,
ASFF by botocore's own model of BatchImportFindings, OCSF by py-ocsf-models)."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.validate import ParamValidator

from trailguard import __version__
from trailguard_dev.emulator import Emulator

from .conftest import run_trailguard

pytestmark = pytest.mark.integration

REGION = ("--region", "us-east-1")


@pytest.fixture
def drifted(aws: Emulator, trail: Callable[..., str]) -> str:
    """One compliant trail and one stopped (high, since the other still covers the account); the second
    single-region too (high)."""
    trail("us-east-1", "main")
    return trail("us-east-1", "side", logging=False, multi_region=False)


def run(*args: str) -> Any:
    return run_trailguard("audit", *REGION, *args)


def test_csv_has_a_row_per_finding_with_the_fix(drifted: str) -> None:
    done = run("--format", "csv")

    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert done.code == 1 and done.stderr == ""
    assert {(r["rule"], r["severity"], r["trail_arn"]) for r in rows} >= {
        ("logging-stopped", "high", drifted), ("not-multi-region", "high", drifted)
    }  # fmt: skip
    assert all(r["account"] == "123456789012" and r["counted"] == "true" for r in rows)
    assert any("aws cloudtrail start-logging" in r["fix"] for r in rows)


def test_sarif_is_a_valid_sarif_2_1_0_log_of_the_registry_and_the_findings(drifted: str) -> None:
    from sarif_pydantic import Sarif

    done = run("--format", "sarif")
    log = json.loads(done.stdout)
    parsed = Sarif.model_validate(log)

    assert done.code == 1 and log["version"] == "2.1.0" and parsed.runs
    driver = log["runs"][0]["tool"]["driver"]
    assert driver["name"] == "trailguard" and driver["version"] == __version__
    rule_ids = [r["id"] for r in driver["rules"]]
    results = log["runs"][0]["results"]
    assert {r["ruleId"] for r in results} >= {"logging-stopped", "not-multi-region"}
    for result in results:
        assert rule_ids[result["ruleIndex"]] == result["ruleId"] and result["level"] in ("error", "warning", "note")
        location = result["locations"][0]
        assert location["physicalLocation"]["artifactLocation"]["uri"] == "aws/123456789012/us-east-1/cloudtrail/side"
        assert location["physicalLocation"]["region"]["startLine"] == 1  # code scanning wants a region
        assert location["logicalLocations"][0]["fullyQualifiedName"] == drifted
        assert len(result["partialFingerprints"]["primaryLocationLineHash"]) == 64
    assert all(0 < float(r["properties"]["security-severity"]) <= 10 for r in driver["rules"])


def test_asff_is_accepted_by_botocores_model_of_batch_import_findings(drifted: str) -> None:
    done = run("--format", "asff")
    findings = json.loads(done.stdout)
    model = botocore.session.get_session().get_service_model("securityhub")
    shape = model.operation_model("BatchImportFindings").input_shape

    report = ParamValidator().validate({"Findings": findings}, shape)

    assert not report.has_errors(), report.generate_report()
    assert done.code == 1 and {f["GeneratorId"] for f in findings} >= {"trailguard/logging-stopped"}
    product = findings[0]["ProductArn"]
    assert product == "arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default"
    assert all(f["Resources"][0]["Id"] == drifted and f["Compliance"]["Status"] == "FAILED" for f in findings)
    assert all(f["RecordState"] == "ACTIVE" and f["FindingProviderFields"]["Severity"]["Label"] for f in findings)
    assert len({f["Id"] for f in findings}) == len(findings)  # one finding id per trail and rule


def test_asff_imports_into_security_hub_as_is(drifted: str) -> None:
    findings = json.loads(run("--format", "asff").stdout)
    hub = boto3.client("securityhub", region_name="us-east-1")

    answer = hub.batch_import_findings(Findings=findings)

    assert answer["FailedCount"] == 0 and answer["SuccessCount"] == len(findings)


def test_ocsf_is_one_compliance_finding_per_finding(drifted: str) -> None:
    from py_ocsf_models.events.findings.compliance_finding import ComplianceFinding

    done = run("--format", "ocsf")
    events = json.loads(done.stdout)

    assert done.code == 1 and events
    for event in events:
        ComplianceFinding.model_validate(event)
        assert event["class_uid"] == 2003 and event["category_uid"] == 2
        assert event["metadata"]["product"]["name"] == "trailguard"
        assert event["resources"][0]["uid"] == drifted


def test_severity_keeps_worse_findings_and_sets_the_exit_code(aws: Emulator, trail: Callable[..., str]) -> None:
    trail("us-east-1", "main")
    trail("us-east-1", "side")  # without global service events: medium, while main still covers the account
    boto3.client("cloudtrail", region_name="us-east-1").update_trail(Name="side", IncludeGlobalServiceEvents=False)

    everything = json.loads(run("--json").stdout)
    high = run("--json", "--severity", "high")

    assert {f["severity"] for f in everything["findings"] if f["counted"]} == {"medium"}
    assert json.loads(high.stdout)["findings"] == [] and high.code == 0
    assert run("--severity", "medium").code == 1
    table = run("--severity", "high")  # the table, judged on high and worse, agrees with the exit code
    assert table.code == 0 and table.stdout.strip().splitlines()[-1] == "compliant."
    assert "[medium" not in table.stdout and "NOT COMPLIANT" not in table.stdout
    assert "1 finding(s) below --severity high are not shown and do not count." in table.stderr


def test_severity_never_hides_what_could_not_be_evaluated() -> None:
    from trailguard.cli import at_least
    from trailguard.judge import AccountVerdict, TrailVerdict
    from trailguard.rules import Finding

    unread = Finding("not-evaluable", "medium", "the trail could not be read")
    medium = Finding("global-events-excluded", "medium", "no global events")
    verdict = AccountVerdict("123456789012", (), (unread, medium))

    kept = at_least(verdict, "critical")

    assert kept.findings == (unread,) and kept.outcome() == "unknown"
    assert at_least(verdict, None) is verdict and TrailVerdict


def test_quiet_table_shows_the_counted_findings_and_the_verdict_only(drifted: str) -> None:
    done = run("--quiet")
    lines = done.stdout.strip().splitlines()

    assert done.code == 1 and done.stderr == ""
    assert all("[high" in line or "[critical" in line for line in lines[:-1]) and len(lines) >= 3
    assert "not compliant" in lines[-1]
    assert "\033[" not in done.stdout  # no colour when stdout is not a terminal


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (("--region", "us-east-9"), {}, "--region 'us-east-9' is not an AWS region where CloudTrail is offered."),
        (("--region", "US_EAST_1"), {}, "--region 'US_EAST_1' is not an AWS region"),
        (("--allow-excluded-source", "bogus"), {}, "--allow-excluded-source must be an event source"),
        (("--format", "xml"), {}, "--format must be one of table, json, csv, sarif, ocsf, asff, not 'xml'."),
        (("--severity", "urgent"), {}, "--severity must be one of critical, high, medium, low"),
        (("--exemptions", "/nonexistent/exemptions.json"), {}, "cannot be read"),
        (("--timeout", "-3"), {}, "--timeout must be a number of seconds"),
        ((), {"AWS_PROFILE": "no-such-profile"}, "The config profile (no-such-profile) could not be found"),
        (("--timeout", "abc"), {}, "argument --timeout: invalid float value: 'abc'."),
        (("--bogus",), {}, "unrecognized arguments: --bogus."),
        (("--region",), {}, "argument --region: expected one argument."),
    ],
)
def test_each_bad_input_is_one_sentence_and_exit_2(aws: Emulator, args: tuple[str, ...], env: dict[str, str],
                                                   says: str) -> None:  # fmt: skip
    done = run_trailguard("audit", *args, env={**os.environ, **env})

    assert done.code == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and says in done.stderr and "Traceback" not in done.stderr


def test_an_aborted_audit_still_prints_a_json_error_document(aws: Emulator) -> None:
    done = run_trailguard("audit", "--format", "json", env={**os.environ, "AWS_PROFILE": "no-such-profile"})

    assert done.code == 2
    assert json.loads(done.stdout) == {"error": json.loads(done.stdout)["error"], "verdict": "unknown",
                                       "compliant": False}  # fmt: skip
    assert "no-such-profile" in json.loads(done.stdout)["error"]


def test_timeout_stops_an_endpoint_that_never_answers() -> None:
    import socket

    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        env = {**os.environ, "AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"}
        done = run_trailguard("audit", *REGION, "--timeout", "2", "--format", "json", env=env)

    assert done.code == 2 and "--timeout 2 seconds" in done.stderr
    assert json.loads(done.stdout)["verdict"] == "unknown"


def test_version() -> None:
    done = run_trailguard("--version")

    assert done.code == 0 and done.stdout.strip() == f"trailguard {__version__}"


def on_a_terminal(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run ``trailguard`` with stdout and stderr on a pseudo-terminal, as a person at a shell; what it showed."""
    import pty
    import subprocess

    from .conftest import TRAILGUARD

    leader, follower = pty.openpty()
    done = subprocess.run([str(TRAILGUARD), *args], stdout=follower, stderr=follower, env=env or dict(os.environ),
                          timeout=120, check=False)  # fmt: skip
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    return done.returncode, shown.decode(errors="replace")


def test_on_a_terminal_progress_per_region_and_colour_unless_no_color(drifted: str) -> None:
    code, shown = on_a_terminal("audit", "--region", "us-east-1", "--region", "eu-west-1")
    _, plain = on_a_terminal("audit", "--region", "us-east-1", env={**os.environ, "NO_COLOR": "1"})

    assert code == 1 and "2/2 regions listed" in shown
    assert "\033[31mhigh" in shown or "\033[1;31m" in shown
    assert "\033[" not in plain and "1/1 regions listed" in plain


def test_on_a_terminal_a_silent_endpoint_is_said_before_the_timeout_ends_it() -> None:
    import socket

    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        env = {**os.environ, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{silent.getsockname()[1]}",
               "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"}  # fmt: skip
        code, shown = on_a_terminal("audit", *REGION, "--timeout", "12", env=env)

    assert code == 2 and "no answer yet from the AWS endpoint" in shown and "--timeout 12 seconds" in shown


def test_a_machine_format_says_an_abort_in_its_own_format() -> None:
    from sarif_pydantic import Sarif

    env = {**os.environ, "AWS_PROFILE": "no-such-profile"}
    sarif = run_trailguard("audit", "--format", "sarif", env=env)
    asff = run_trailguard("audit", "--format", "asff", "--bogus", env=env)

    log = json.loads(sarif.stdout)
    Sarif.model_validate(log)
    [invocation] = log["runs"][0]["invocations"]
    assert sarif.code == 2 and invocation["executionSuccessful"] is False
    assert "no-such-profile" in invocation["toolExecutionNotifications"][0]["message"]["text"]
    assert asff.code == 2 and json.loads(asff.stdout) == [] and asff.stderr.count("\n") == 1
