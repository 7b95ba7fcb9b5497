"""An organization trail owned by another account is judged where it is owned, not here. Advisory."""

from __future__ import annotations

from .registry import Rule, register

ORGANIZATION_TRAIL_ELSEWHERE = register(
    Rule(
        id="organization-trail-elsewhere",
        severity="low",
        meaning="An organization trail owned by another account: it is judged in the account that owns it.",
        revert_order=94,
        exemptible=False,
        advisory=True,
    )
)
