"""What we know about model families: context window, output cap, tools, vision, reasoning.

One catalogue, read by LangChain's ``profile``, LlamaIndex's ``metadata`` and (later)
``api_format="auto"``. Any model name works: a name we do not know gets safe defaults,
never an error. Facts are per family (matched by name prefix, longest first), from the
vendors' published model pages. Users correct or extend them with ``register`` (a house
model, a new family): the registration wins over the built-in facts everywhere, in both
frameworks and in the capability-aware request adjustments, because all of them read
``capabilities_for``. LlamaIndex's ``context_window`` / ``is_function_calling_model``
fields still override per object.

The relay may rename (``-thinking``, ``-nothinking``, ``-high`` ... suffixes, ``-rev`` /
``-all`` economy channels, relay-behavior.md §4): those suffixes are ignored for lookup.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, fields, replace
from typing import Any, Final

__all__ = [
    "DEFAULT_CAPABILITIES",
    "ModelCapabilities",
    "capabilities_for",
    "guess_format",
    "register",
    "unregister",
]


@dataclass(frozen=True, slots=True)
class ModelCapabilities:
    """What a model family can do. ``known`` is False for the defaults of unknown names."""

    context_window: int = 32_768
    """Input + output tokens the model accepts."""
    max_output_tokens: int = 4_096
    """The most tokens it generates in one answer."""
    tools: bool = True
    """Function/tool calling."""
    parallel_tools: bool = True
    """Several tool calls in one turn."""
    vision: bool = False
    """Image input."""
    pdf: bool = False
    """PDF input."""
    audio: bool = False
    """Audio input."""
    video: bool = False
    """Video input."""
    reasoning: bool = False
    """Produces reasoning ("thinking") output or takes a reasoning effort."""
    structured_output: bool = False
    """Native JSON-schema response format."""
    json_mode: bool = True
    """``json_object`` response format."""
    image_output: bool = False
    """Can answer with images."""
    audio_output: bool = False
    """Can answer with audio."""
    temperature: bool = True
    """Accepts ``temperature`` (o-series reasoning models do not)."""
    thinking_off: bool = True
    """Thinking can be turned off (Gemini ``thinkingBudget: 0``). Gemini 2.5 Pro cannot;
    2.5 Flash and Flash-Lite can."""
    min_thinking_budget: int = 0
    """The smallest thinking budget accepted when thinking is on (0: no known minimum).
    Gemini 2.5 Pro 128, 2.5 Flash-Lite 512 (Gemini thinking docs); Anthropic's 1024 holds
    for every Claude model and lives in its codec."""
    max_thinking_budget: int = 0
    """The largest thinking budget accepted (0: no known maximum). Gemini 2.5 Pro 32,768,
    2.5 Flash and Flash-Lite 24,576 (Gemini thinking docs)."""
    native_formats: tuple[str, ...] = ("openai",)
    """Wire formats that serve it natively, preferred first."""
    known: bool = True
    """False when the name matched no family and these are defaults."""

    def with_overrides(self, **overrides: Any) -> ModelCapabilities:
        """A copy with some facts replaced (unknown keys raise TypeError)."""
        return replace(self, **overrides)


DEFAULT_CAPABILITIES: Final = ModelCapabilities(known=False)

_GPT4O = ModelCapabilities(128_000, 16_384, vision=True, pdf=True, structured_output=True)
_O_SERIES = ModelCapabilities(
    200_000,
    100_000,
    vision=True,
    pdf=True,
    reasoning=True,
    structured_output=True,
    temperature=False,
)
_CLAUDE = ModelCapabilities(
    200_000,
    64_000,
    vision=True,
    pdf=True,
    reasoning=True,
    structured_output=False,
    json_mode=False,
    native_formats=("anthropic", "openai"),
)
_GEMINI = ModelCapabilities(
    1_048_576,
    65_536,
    vision=True,
    pdf=True,
    audio=True,
    video=True,
    reasoning=True,
    structured_output=True,
    native_formats=("gemini", "openai"),
)

# Longest prefix wins. Sources: each vendor's models page (OpenAI, Anthropic, Google,
# DeepSeek, Alibaba Qwen), as of 2026.
_FAMILIES: Final[dict[str, ModelCapabilities]] = {
    "gpt-3.5-turbo": ModelCapabilities(16_385, 4_096),
    "gpt-4": ModelCapabilities(8_192, 8_192),
    "gpt-4-turbo": ModelCapabilities(128_000, 4_096, vision=True),
    "gpt-4o": _GPT4O,
    "gpt-4o-mini": _GPT4O,
    "gpt-4o-audio": replace(_GPT4O, audio=True, audio_output=True),
    "chatgpt-4o": _GPT4O,
    "gpt-4.1": ModelCapabilities(1_047_576, 32_768, vision=True, pdf=True, structured_output=True),
    "gpt-4.5": ModelCapabilities(128_000, 16_384, vision=True, structured_output=True),
    "gpt-5": ModelCapabilities(
        400_000,
        128_000,
        vision=True,
        pdf=True,
        reasoning=True,
        structured_output=True,
        temperature=False,
    ),
    "gpt-5-chat": ModelCapabilities(128_000, 16_384, vision=True, pdf=True, structured_output=True),
    "gpt-image-1": ModelCapabilities(
        32_768, 4_096, tools=False, vision=True, image_output=True, json_mode=False
    ),
    "o1": _O_SERIES,
    "o1-mini": replace(
        _O_SERIES,
        context_window=128_000,
        max_output_tokens=65_536,
        vision=False,
        tools=False,
        structured_output=False,
    ),
    "o3": _O_SERIES,
    "o3-mini": replace(_O_SERIES, vision=False, pdf=False),
    "o3-pro": replace(_O_SERIES, native_formats=("responses",)),
    "o4-mini": _O_SERIES,
    "claude-3": replace(_CLAUDE, max_output_tokens=4_096, reasoning=False),
    "claude-3-5": replace(_CLAUDE, max_output_tokens=8_192, reasoning=False),
    "claude-3-7": _CLAUDE,
    "claude-sonnet-4": _CLAUDE,
    "claude-opus-4": replace(_CLAUDE, max_output_tokens=32_000),
    "claude-haiku-4": _CLAUDE,
    "claude": _CLAUDE,
    "gemini-1.5": replace(_GEMINI, max_output_tokens=8_192, reasoning=False),
    "gemini-2.0": replace(_GEMINI, max_output_tokens=8_192, reasoning=False),
    "gemini-2.0-flash-exp-image": replace(
        _GEMINI, max_output_tokens=8_192, reasoning=False, image_output=True
    ),
    "gemini-2.5": replace(_GEMINI, max_thinking_budget=24_576),
    # Gemini thinking docs: 2.5 Pro thinks always (budget 128-32768); 2.5 Flash (0-24576)
    # and Flash-Lite (512-24576) turn thinking off with 0. Gemini 3 takes thinking levels.
    "gemini-2.5-pro": replace(
        _GEMINI, thinking_off=False, min_thinking_budget=128, max_thinking_budget=32_768
    ),
    "gemini-2.5-flash-lite": replace(_GEMINI, min_thinking_budget=512, max_thinking_budget=24_576),
    "gemini-2.5-flash-image": replace(_GEMINI, image_output=True, reasoning=False),
    "gemini-2.5-flash-preview-tts": replace(_GEMINI, audio_output=True, tools=False),
    "gemini-3": _GEMINI,
    "gemini": _GEMINI,
    "deepseek-chat": ModelCapabilities(128_000, 8_192),
    "deepseek-v3": ModelCapabilities(128_000, 8_192),
    "deepseek-reasoner": ModelCapabilities(128_000, 64_000, reasoning=True),
    "deepseek-r1": ModelCapabilities(128_000, 64_000, reasoning=True, tools=False),
    "deepseek": ModelCapabilities(128_000, 8_192),
    "qwen": ModelCapabilities(131_072, 8_192),
    "qwen-vl": ModelCapabilities(131_072, 8_192, vision=True),
    "qwq": ModelCapabilities(131_072, 16_384, reasoning=True),
    "qwen3": ModelCapabilities(131_072, 16_384, reasoning=True),
    "grok": ModelCapabilities(131_072, 16_384, vision=True),
    "moonshot": ModelCapabilities(128_000, 8_192),
    "kimi": ModelCapabilities(128_000, 16_384),
    "glm-4": ModelCapabilities(128_000, 4_096),
    "doubao": ModelCapabilities(128_000, 4_096),
    "llama-3": ModelCapabilities(128_000, 4_096),
}
_PREFIXES: Final = sorted(_FAMILIES, key=len, reverse=True)
# Relay renames and economy-channel markers that do not change the family.
_SUFFIXES: Final = re.compile(
    r"(-thinking(-\d+)?|-nothinking|-(minimal|low|medium|high|xhigh|max)|-rev|-all)$"
)


def _family_key(model: str) -> str:
    name = model.strip().lower()
    if "/" in name:  # "openai/gpt-4o" style names
        name = name.rsplit("/", 1)[1]
    previous = None
    while previous != name:
        previous, name = name, _SUFFIXES.sub("", name)
    return name


_FACTS: Final = frozenset(f.name for f in fields(ModelCapabilities)) - {"known"}
_registered: dict[str, dict[str, Any]] = {}
_registered_prefixes: list[str] = []
_registry_lock = threading.Lock()


def register(name: str, **facts: Any) -> None:
    """Teach the catalogue facts about a model name or family prefix.

    ``name`` matches like a built-in family: by prefix of the model name, longest first,
    with relay suffixes (``-thinking``, ``-high`` ...) ignored, so ``register("gpt-5-house",
    temperature=True)`` covers ``gpt-5-house`` and ``gpt-5-house-2026``. Facts not given
    keep the built-in family's values (or the defaults); registering again replaces the
    name's earlier facts. An unknown fact or a wrongly typed value raises TypeError.

    Example:
        >>> from juhe_core.catalogue import register, capabilities_for
        >>> register("acme-large", context_window=256_000, vision=True)
        >>> capabilities_for("acme-large-v2").context_window
        256000
    """
    unknown = sorted(set(facts) - _FACTS)
    if unknown:
        raise TypeError(f"unknown model facts {unknown}; known: {sorted(_FACTS)}")
    for fact, value in facts.items():
        expected = type(getattr(DEFAULT_CAPABILITIES, fact))
        if expected is bool and not isinstance(value, bool):
            raise TypeError(f"{fact} must be True or False, got {value!r}")
        if expected is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise TypeError(f"{fact} must be an int, got {value!r}")
        if expected is tuple:
            if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                raise TypeError(f"{fact} must be a sequence of format names, got {value!r}")
            facts[fact] = tuple(value)
    key = _family_key(name)
    if not key:
        raise ValueError("register needs a non-empty model name or prefix")
    with _registry_lock:
        _registered[key] = dict(facts)
        _registered_prefixes[:] = sorted(_registered, key=len, reverse=True)


def unregister(name: str) -> None:
    """Forget what ``register`` was told about ``name`` (a no-op if nothing was)."""
    key = _family_key(name)
    with _registry_lock:
        _registered.pop(key, None)
        _registered_prefixes[:] = sorted(_registered, key=len, reverse=True)


def capabilities_for(model: str, **overrides: Any) -> ModelCapabilities:
    """The capabilities of ``model`` (defaults for unknown names), with ``overrides``.

    Precedence: ``overrides`` > facts from ``register`` > the built-in family > defaults.
    """
    key = _family_key(model)
    caps = next((_FAMILIES[p] for p in _PREFIXES if key.startswith(p)), DEFAULT_CAPABILITIES)
    if model.lower().endswith(("-thinking", "-reasoner")) or "-thinking-" in model.lower():
        caps = replace(caps, reasoning=True)
    if _registered_prefixes:
        user = next((p for p in _registered_prefixes if key.startswith(p)), None)
        if user is not None:
            caps = replace(caps, known=True, **_registered[user])
    return caps.with_overrides(**overrides) if overrides else caps


def guess_format(model: str) -> str:
    """The native wire format a model name suggests (gemini-*, claude-*, else openai)."""
    return capabilities_for(model).native_formats[0]
