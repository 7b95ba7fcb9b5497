"""Bundle the Lambda's code without Docker: uv (or pip) installs the pinned ``handlers/requirements.txt`` for the
Lambda's platform and Python version into the asset, next to a copy of the handler sources."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import ILocalBundling

IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "requirements.txt")


@jsii.implements(ILocalBundling)
class LocalPythonBundling:
    def __init__(self, source: Path, python_version: str, platform: str, extra: dict[str, str] | None = None) -> None:
        """``extra``: files written beside the sources (name -> text), such as the exemptions file."""
        self.source, self.python_version, self.platform = source, python_version, platform
        self.extra = dict(extra or {})

    def try_bundle(self, output_dir: str, *_options: Any, **_named: Any) -> bool:  # jsii passes options either way
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
        for name, text in self.extra.items():
            (Path(output_dir) / name).write_text(text, encoding="utf-8")
        return True


def source_hash(source: Path, extra: dict[str, str]) -> str:
    """A hash of every source file (caches left out) and the extra files: what the asset holds."""
    digest = hashlib.sha256()
    skipped = ("__pycache__", ".egg-info")
    for path in sorted(p for p in source.rglob("*") if p.is_file() and not any(s in str(p) for s in skipped)):
        if path.suffix != ".pyc":
            digest.update(str(path.relative_to(source)).encode() + b"\0" + path.read_bytes() + b"\0")
    for name, text in sorted(extra.items()):
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    return digest.hexdigest()
