"""The trail, or the account, could not be judged. Raised by the evaluator; never reported as compliant."""

from __future__ import annotations

from .registry import Rule, register

NOT_EVALUABLE = register(
    Rule(
        id="not-evaluable",
        severity="medium",
        meaning=(
            "The trail could not be judged from here: an organization trail owned by another account, "
            "or its status or selectors could not be read. Never reported as compliant."
        ),
        revert_order=95,
        unknown=True,
    )
)
