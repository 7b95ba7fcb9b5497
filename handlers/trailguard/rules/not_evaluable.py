"""The trail, or the account, could not be judged. Raised by the evaluator; never reported as compliant."""

from __future__ import annotations

from .registry import Rule, register

NOT_EVALUABLE = register(
    Rule(
        id="not-evaluable",
        severity="medium",
        meaning=(
            "The trail (or the account) could not be judged: its status or selectors, or a region, could not be "
            "read. Never reported as compliant."
        ),
        revert_order=95,
        exemptible=False,  # never reported as compliant, exemptions or not
        unknown=True,
    )
)
