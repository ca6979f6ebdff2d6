"""The parameter names of the classes ChatJuhe and JuheEmbeddings replace.

Code moving from ``ChatOpenAI`` / ``ChatAnthropic`` / ``ChatGoogleGenerativeAI`` /
``OpenAIEmbeddings`` keeps working: their spellings of our parameters are accepted and
renamed. Anything else that looks like a credential is refused, never forwarded: an
unknown keyword would otherwise travel in ``model_kwargs``, i.e. in every request body,
every repr and every serialised copy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["rename_peer_names"]

PEER_NAMES: Final[Mapping[str, str]] = {
    "openai_api_key": "api_key",  # ChatOpenAI, OpenAIEmbeddings
    "anthropic_api_key": "api_key",  # ChatAnthropic
    "google_api_key": "api_key",  # ChatGoogleGenerativeAI
    "openai_api_base": "base_url",  # ChatOpenAI, OpenAIEmbeddings
    "anthropic_api_url": "base_url",  # ChatAnthropic
    "request_timeout": "timeout",  # ChatOpenAI, OpenAIEmbeddings
    "default_request_timeout": "timeout",  # ChatAnthropic
    "max_tokens_to_sample": "max_tokens",  # ChatAnthropic
    "max_output_tokens": "max_tokens",  # ChatGoogleGenerativeAI
}
# Not "_key" alone: OpenAI's prompt_cache_key is a real body field.
_SECRET_LIKE: Final = re.compile(
    r"(^|_)(api_?key|secret|secret_key|password|access_token|auth_token|bearer)$", re.I
)


def rename_peer_names(values: dict[str, Any], known: set[str], owner: str) -> dict[str, Any]:
    """``values`` with peer spellings renamed to ours (for the names in ``known``).

    Raises ValueError (naming the keywords, never their values) when a name is given in
    two spellings, or when an unknown keyword looks like a credential.
    """
    out = dict(values)
    for peer, ours in PEER_NAMES.items():
        if peer not in out or ours not in known:
            continue
        if ours in out or any(p in out for p, o in PEER_NAMES.items() if o == ours and p != peer):
            raise ValueError(f"{owner}: {ours} given twice (as {peer!r} and another spelling)")
        out[ours] = out.pop(peer)
    for name in out:
        if name not in known and _SECRET_LIKE.search(name):
            raise ValueError(
                f"{owner} has no parameter {name!r}; a credential is never sent in the request "
                "body: pass the key as api_key (or set JUHE_API_KEY)"
            )
    return out
