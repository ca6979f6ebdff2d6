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
host="127.0.0.1", seed=0, faults=None, record=True, quota_usd=100.0, mj_step_seconds=0.05)``:
``models`` lists what ``/v1/models`` shows (and, with ``serve_unlisted=False``, the only models
served; others get the relay's 503 ``model_not_found``); ``seed`` fixes ids and chunk splits;
``faults`` is a ``FaultProfile`` for soak tests; ``quota_usd`` is the key's quota the billing
routes report; Midjourney tasks move one stage every ``mj_step_seconds``.
``python -m juhe_core.testing --port N`` runs one in the foreground, and the pytest plugin
(``juhe_core.testing.pytest_plugin``) provides a ``juhe_emulator`` fixture.

Routes:

- OpenAI format: ``POST /v1/chat/completions``, ``POST /v1/embeddings``, ``GET /v1/models``
  and ``GET /v1/models/{id}``.
- Native chat formats: ``POST /v1/messages`` (Anthropic), ``POST
  /v1beta/models/{model}:generateContent`` and ``:streamGenerateContent?alt=sse`` (Gemini,
  also under ``/v1/models/``), ``GET /v1beta/models``, ``POST /v1/responses``.
- Media: ``POST /v1/images/generations``, multipart ``POST /v1/images/edits``, ``POST
  /v1/audio/speech``, ``POST /v1/moderations``, ``GET /v1/dashboard/billing/subscription``
  and ``/usage`` (also without ``/v1``).
- Midjourney: ``POST /mj/submit/imagine|action|describe|blend|modal``, ``GET
  /mj/task/{id}/fetch``, ``POST /mj/task/list-by-condition``, ``GET /mj/task/{id}/image-seed``
  (each also under ``/{mode}/mj/…``), ``GET /mj/image/{id}`` (no key).
- Generated files: ``GET /emulator/files/{name}`` (no key), for image ``url`` answers.
- The relay's 404 and 501 stubs. Other relay routes (rerank, transcription, completions …)
  answer 501 ``not_emulated`` unless an item is queued for their path.

The built-in model answers every chat format alike (see ``_model``); per-format behaviour
(thinking signatures, output modalities, reasoning summaries) is described in ``_anthropic``,
``_gemini`` and ``_responses``; media rules (image sizes, audio formats, moderation
keywords) in ``_media`` and ``_media_handlers``; Midjourney rules (banned words, ``--fail``,
``--stall``) in ``_midjourney`` and ``_mj_tasks``.

Layout: ``_script`` (scripting items), ``_relay`` (keys, request ids, error envelopes),
``_turn`` (format-neutral types), ``_model``/``_schema``/``_embed``/``_text`` (the built-in
model), ``_openai_request``/``_openai`` (the OpenAI wire format), ``_anthropic``,
``_gemini``, ``_responses`` (native formats), ``_stream``/``_events`` (SSE frames and stream
faults), ``_handlers``/``_native``/``_media_handlers``/``_midjourney`` (routes),
``_media``/``_multipart`` (files), ``_store``/``_mj_tasks`` (state kept between requests),
``_routes``/``_state``/``_app`` (ASGI app) and ``_protocol``/``_server`` (uvicorn). Importing
this package is cheap: uvicorn is imported only when a server starts.
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
