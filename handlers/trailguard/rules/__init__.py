"""The policy's rules, one unit each. Importing this package registers every module beside this file.

Adding a rule is adding one module here that calls ``register`` (see the README's "Adding a rule").
"""

from __future__ import annotations

import importlib
import pkgutil

from .registry import (
    NAMING,
    REGISTRY,
    SEVERITIES,
    Call,
    Clients,
    Facts,
    Finding,
    Read,
    Rule,
    Severity,
    Waiver,
    example,
    in_order,
    read_actions,
    reads,
    register,
    revert_actions,
    service_of,
    worst,
)

for _unit in pkgutil.iter_modules(__path__):
    if _unit.name != "registry":
        importlib.import_module(f"{__name__}.{_unit.name}")

__all__ = [
    "NAMING",
    "REGISTRY",
    "SEVERITIES",
    "Call",
    "Clients",
    "Facts",
    "Finding",
    "Read",
    "Rule",
    "Severity",
    "Waiver",
    "example",
    "in_order",
    "read_actions",
    "reads",
    "register",
    "revert_actions",
    "service_of",
    "worst",
]
