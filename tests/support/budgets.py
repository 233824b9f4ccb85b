"""Hypothesis example budgets that follow the active profile (tests/conftest.py).

A property test states the budget it runs with in ``make test`` (the "ci" profile, whose
max_examples is Hypothesis' default of 100); ``examples(n)`` scales it by the active
profile's max_examples / 100, so ``HYPOTHESIS_PROFILE=dev`` (10) runs a tenth of it, at
least a few examples, and a more thorough profile runs more.
"""

from __future__ import annotations

from hypothesis import settings

CI_MAX_EXAMPLES = 100  # the "ci" profile: every budget as written
DEV_MINIMUM = 3


def examples(n: int) -> int:
    """The budget ``n`` (as run in CI) scaled to the active Hypothesis profile."""
    scaled = round(n * settings.default.max_examples / CI_MAX_EXAMPLES)
    return max(min(n, DEV_MINIMUM), scaled)
