"""An offline emulator of the Juhe relay, for testing applications without network or key.

``Emulator`` is a real HTTP server on 127.0.0.1 that speaks the Juhe API the way the
new-api relay behind it does on the wire (relay-behavior.md): key checks, error
envelopes, request ids, stream endings, usage chunks. Behind it sits a **scripted stand-in,
not a language model**: a deterministic built-in model that restates the request, calls the
tool whose name and description match it, fills tool arguments and structured output from
values found in the request, and embeds text as hashed bags of words. Tests can script any
answer or failure per request::

    from juhe_core.testing import Emulator, Fault, Reply, StreamFault

    with Emulator() as emu:
        emu.enqueue(Fault(status=429), Reply(text="hi"), path="/v1/chat/completions")
        ...  # point the client at emu.base_url + "/v1" with emu.api_key
        assert emu.requests[-1].json["model"] == "gpt-4o-mini"

``Emulator(models=None, serve_unlisted=True, api_keys=(EMULATOR_API_KEY,), port=0,
host="127.0.0.1", seed=0, faults=None, record=True)``: ``models`` lists what ``/v1/models``
shows (and, with ``serve_unlisted=False``, the only models served; others get the relay's 503
``model_not_found``); ``seed`` fixes ids and chunk splits; ``faults`` is a ``FaultProfile``
for soak tests. ``python -m juhe_core.testing --port N`` runs one in the foreground, and the
pytest plugin (``juhe_core.testing.pytest_plugin``) provides a ``juhe_emulator`` fixture.

Routes: ``POST /v1/chat/completions``, ``POST /v1/embeddings``, ``GET /v1/models`` and
``GET /v1/models/{id}``, plus the relay's 404 and 501 stubs. Other relay routes (Anthropic,
Gemini, media, Midjourney) answer 501 ``not_emulated`` unless an item is queued for their path.

Layout: ``_script`` (scripting items), ``_relay`` (keys, request ids, error envelopes),
``_turn`` (format-neutral types), ``_model``/``_schema``/``_embed``/``_text`` (the built-in
model), ``_openai_request``/``_openai`` (the OpenAI wire format), ``_stream`` (SSE frames and
stream faults), ``_handlers`` (routes), ``_state``/``_app`` (ASGI app) and
``_protocol``/``_server`` (uvicorn). Importing this package is cheap: uvicorn is imported only
when a server starts.
"""

from __future__ import annotations

from ._script import Fault, FaultProfile, RecordedRequest, Reply, StreamFault
from ._server import EMULATOR_API_KEY, Emulator

__all__ = [
    "EMULATOR_API_KEY",
    "Emulator",
    "Fault",
    "FaultProfile",
    "RecordedRequest",
    "Reply",
    "StreamFault",
]
