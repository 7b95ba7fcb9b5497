"""Each rule unit's own tests, one file per unit (tests/unit/rules/test_<unit>.py)."""
