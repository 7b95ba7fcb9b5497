"""An organization trail owned by another account: judged here by its ARN, changed only where it is owned.

A member account reads an organization trail's status and selectors by ARN in its home region, so the trail is
judged like any other and covers the account when compliant; but only the account that owns it (the
management account, or CloudTrail's delegated administrator) can change it: the fix is made there. Advisory:
it says where, and never counts.
"""

from __future__ import annotations

from .registry import Rule, register

ORGANIZATION_TRAIL_ELSEWHERE = register(
    Rule(
        id="organization-trail-elsewhere",
        severity="low",
        meaning="An organization trail owned by another account: judged here, changed only in the account that "
        "owns it.",
        revert_order=94,
        exemptible=False,
        advisory=True,
    )
)
