"""Capability-aware request adjustments, shared by every framework class.

Where the catalogue knows a model rejects a parameter, sending it only earns a 400. We drop
it instead, with a warning naming it, once per (model, parameter) per process: never
silently. Today: ``temperature``/``top_p`` on models that refuse them (o-series and GPT-5
reasoning models); and with Anthropic extended thinking, a forced ``tool_choice`` (only
``auto``/``none`` are allowed) and ``temperature`` other than 1 (Anthropic's
extended-thinking docs: "Thinking isn't compatible with temperature or top_k
modifications")
"""

from __future__ import annotations

import dataclasses
import threading
import warnings

from juhe_core.catalogue import capabilities_for
from juhe_core.messages import ChatRequest, NamedToolChoice
from juhe_core.wire._reasoning import budget_for

__all__ = ["CapabilityWarning", "adapt_request"]

_warned: set[tuple[str, str]] = set()
_lock = threading.Lock()


class CapabilityWarning(UserWarning):
    """A parameter was dropped because the model is known to reject it."""


def _warn_once(model: str, param: str, why: str) -> None:
    with _lock:
        if (model, param) in _warned:
            return
        _warned.add((model, param))
    warnings.warn(f"{param} dropped for {model}: {why}", CapabilityWarning, stacklevel=4)


def adapt_request(request: ChatRequest, api_format: str) -> ChatRequest:
    """``request`` without the parameters its model is known to reject (warned once)."""
    caps = capabilities_for(request.model)
    changes: dict[str, object] = {}
    if not caps.temperature:
        for param in ("temperature", "top_p"):
            if getattr(request, param) is not None:
                changes[param] = None
                _warn_once(request.model, param, "the model only accepts the default")
    thinking = budget_for(request.reasoning_effort, request.thinking_budget)
    forced = request.tool_choice == "required" or isinstance(request.tool_choice, NamedToolChoice)
    if api_format == "anthropic" and thinking and forced:
        changes["tool_choice"] = "auto"
        _warn_once(
            request.model,
            "tool_choice",
            "Anthropic extended thinking allows only "
            "auto or none; the model is asked to use the tools instead",
        )
    if api_format == "anthropic" and thinking and request.temperature not in (None, 1, 1.0):
        changes["temperature"] = None
        _warn_once(
            request.model,
            "temperature",
            "Anthropic extended thinking requires the default temperature",
        )
    return dataclasses.replace(request, **changes) if changes else request  # type: ignore[arg-type]
