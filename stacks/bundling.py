"""Bundle the Lambda's code without Docker: uv (or pip) installs the pinned ``handlers/requirements.txt`` for the
Lambda's platform and Python version into the asset, next to a copy of the handler sources."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import ILocalBundling

IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "requirements.txt")


@jsii.implements(ILocalBundling)
class LocalPythonBundling:
    def __init__(self, source: Path, python_version: str, platform: str) -> None:
        self.source, self.python_version, self.platform = source, python_version, platform

    def try_bundle(self, output_dir: str, *options: Any, **named: Any) -> bool:  # jsii passes options either way
        uv = Path(sys.executable).with_name("uv")
        if uv.exists():  # make setup installs it: faster than pip, and it ignores machine-wide pip settings
            command = [
                str(uv),
                "pip",
                "install",
                "--quiet",
                "--no-config",
                "--target",
                output_dir,
                "--python-platform",
                f"{self.platform.split('_', 1)[1]}-manylinux2014",
                "--python-version",
                self.python_version,
                "--only-binary",
                ":all:",
            ]
        else:
            command = [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-compile",
                "--target",
                output_dir,
                "--implementation",
                "cp",
                "--python-version",
                self.python_version,
                "--platform",
                self.platform,
                "--only-binary=:all:",
            ]
        subprocess.run([*command, "--requirement", str(self.source / "requirements.txt")], check=True)
        shutil.copytree(self.source, output_dir, ignore=IGNORED, dirs_exist_ok=True)
        return True
