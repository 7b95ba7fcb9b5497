"""What ships holds nothing from development: the trailguard package and the Lambda's entry module never
import the dev tools (trailguard_dev), in code or at run time."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

HANDLERS = Path(__file__).resolve().parents[2] / "handlers"

WALK = """
import importlib, pkgutil, sys
sys.path.insert(0, sys.argv[1])
import trailguard
for unit in pkgutil.walk_packages(trailguard.__path__, "trailguard."):
    importlib.import_module(unit.name)
import drift_handler
from trailguard import cli
cli._parser([])
print(sorted(name for name in sys.modules if name.split(".")[0] in ("trailguard_dev", "moto", "pytest")))
"""


def test_no_shipped_module_names_the_dev_tools() -> None:
    named = [p.relative_to(HANDLERS) for p in HANDLERS.rglob("*.py") if re.search(r"\btrailguard_dev\b", p.read_text())]
    assert named == []


def test_importing_every_shipped_module_loads_nothing_from_development() -> None:
    done = subprocess.run(
        [sys.executable, "-I", "-c", WALK, str(HANDLERS)], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]"


def test_the_judgement_imports_nothing_that_does_io_or_formats_text() -> None:
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import trailguard.judge; "
        "print(sorted({m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'slack_sdk', 'urllib3') "
        "or m in ('trailguard.read', 'trailguard.send', 'trailguard.state_table', 'trailguard.fix', "
        "'trailguard.render', 'trailguard.aws')}))"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", probe, str(HANDLERS)], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
