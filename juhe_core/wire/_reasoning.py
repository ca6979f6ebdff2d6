"""One reasoning setting across formats: an effort level or a token budget.

OpenAI takes ``reasoning_effort``; Anthropic a thinking ``budget_tokens`` (at least 1024);
Gemini a ``thinkingBudget``. Users give either; each codec converts with this one table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = ["EFFORT_BUDGETS", "budget_for", "effort_for"]

# "minimal" is as little thinking as the model allows: 0 here, which the gemini codec
# raises to the model's minimum where thinking cannot be turned off (2.5 Pro, catalogue).
EFFORT_BUDGETS: Final[Mapping[str, int]] = {
    "none": 0,
    "minimal": 0,
    "low": 1_024,
    "medium": 8_192,
    "high": 24_576,
    "xhigh": 32_768,
    "max": 32_768,
}


def budget_for(effort: str | None, budget: int | None) -> int | None:
    """The token budget asked for: an explicit budget wins, else the effort's."""
    if budget is not None:
        return budget
    if effort is None:
        return None
    return EFFORT_BUDGETS.get(effort.lower(), EFFORT_BUDGETS["medium"])


def effort_for(effort: str | None, budget: int | None) -> str | None:
    """The effort level asked for: an explicit effort wins, else the budget's nearest."""
    if effort is not None:
        return effort
    if budget is None:
        return None
    if budget <= 0:
        return "minimal"
    if budget <= 2_048:
        return "low"
    if budget <= 12_288:
        return "medium"
    return "high"
