"""Handlers of the media, moderation and billing routes, and of the emulator's file URLs.

Checks follow the relay (``relay/helper/valid_request.go``, ``middleware/distributor.go``):
the distributor's model defaults (``dall-e`` for generations, ``tts-1`` for speech,
``text-moderation-stable`` for moderations), then the handler's 500 ``invalid_request``
validation, then what the OpenAI upstream rejects (400, passed through with no request id).

- Images: ``n`` images of at most 56×56 pixels (the requested size divided by 32), colours
  from the prompt (and, for edits, the input image). ``url`` answers point at
  ``/emulator/files/<id>.png`` on the emulator (no key needed); dall-e models answer ``url``
  by default, gpt-image models always ``b64_json``. As OpenAI does, gpt-image models reject
  a ``response_format`` field (400 ``unknown_parameter``, generations and edits alike), and
  gpt-image-1 models any size but 1024x1024, 1536x1024, 1024x1536 and auto (400
  ``invalid_value``); the relay passes these errors through (relay-behavior.md §3, §7).
- Speech: see ``_media.speech`` for each format; the ``Content-Type`` is OpenAI's.
- Moderation: keyword rules per category (``MODERATION_RULES``); a category is flagged when
  one of its phrases occurs in the text (case-insensitive, at a word start). The relay adds
  ``usage`` (relay-behavior.md §7).
- Billing: ``hard_limit_usd`` is the emulator's quota, ``total_usage`` what the emulator has
  charged so far, in hundredths of a dollar (see ``_store.PRICES``).
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from ._handlers import Response, _explicit, _fault, _script_error, _take, _upstream_400
from ._media import SPEECH_TYPES, is_image, png, speech
from ._multipart import Form, UploadedFile, parse_form
from ._relay import INVALID_JSON, NO_CHANNEL, NO_MODEL, header_pairs, middleware_error, relay_error
from ._script import Fault, RecordedRequest, Reply, StreamFault
from ._state import State, Static, json_response, response_headers
from ._store import PRICES
from ._text import count_tokens

__all__ = [
    "MODERATION_RULES",
    "edit_images",
    "generate_images",
    "moderations",
    "serve_file",
    "speech_route",
    "subscription",
    "usage",
]

MAX_IMAGE_N = 10
"""The relay's ``dto.MaxImageN``."""
_DALLE3_SIZES = ("1024x1024", "1024x1792", "1792x1024")
_DALLE2_SIZES = ("256x256", "512x512", "1024x1024")
_GPT_IMAGE_1_SIZES = ("1024x1024", "1024x1536", "1536x1024", "auto")  # in OpenAI's message order
_SIZE = re.compile(r"^(\d{2,5})x(\d{2,5})$")

MODERATION_RULES: dict[str, tuple[str, ...]] = {
    "harassment": ("idiot", "stupid", "loser", "moron", "shut up"),
    "harassment/threatening": (
        "i will kill you",
        "i'll kill you",
        "you will die",
        "i will hurt you",
        "watch your back",
    ),
    "hate": ("subhuman", "vermin", "inferior race"),
    "hate/threatening": ("exterminate them", "wipe them out"),
    "illicit": ("buy drugs", "make meth", "counterfeit", "launder money", "hack into"),
    "illicit/violent": ("make a bomb", "build a bomb", "build a weapon", "make a gun"),
    "self-harm": ("suicide", "kill myself", "self-harm", "cut myself"),
    "self-harm/intent": ("i want to die", "kill myself", "end my life"),
    "self-harm/instructions": ("how to kill myself", "ways to commit suicide"),
    "sexual": ("sex", "nude", "naked", "porn", "explicit"),
    "sexual/minors": ("child porn", "underage sex", "minor nude"),
    "violence": ("kill", "murder", "shoot", "stab", "attack", "bomb", "assault", "hurt"),
    "violence/graphic": ("gore", "dismember", "decapitat", "mutilat", "blood-soaked"),
}
"""Moderation category → phrases that flag it (matched case-insensitively at word starts)."""
_LEGACY_SKIP = ("illicit", "illicit/violent")  # text-moderation-* models have no such category


# Field types of the relay's request DTOs: a JSON value of another type fails unmarshalling,
# which the relay answers with 500 invalid_request (as for chat, _openai_request._DTO_FIELDS).
_IMAGE_DTO = {"prompt": (str, "string"), "n": (int, "uint"), "size": (str, "string"),
              "response_format": (str, "string"), "quality": (str, "string")}  # fmt: skip
_SPEECH_DTO = {"input": (str, "string"), "voice": (str, "string"),
               "response_format": (str, "string"), "speed": (float, "float64")}  # fmt: skip


def _json_type(value: Any) -> str:
    for kind, name in ((bool, "bool"), (str, "string"), (list, "array"), (dict, "object")):
        if isinstance(value, kind):
            return name
    return "number"


def _bad_field(
    body: Mapping[str, Any], dto: str, fields: Mapping[str, tuple[type, str]], rid: str
) -> Static | None:
    """500 ``invalid_request`` for the first field whose JSON type the DTO cannot take."""
    for name, (kind, go_type) in fields.items():
        value = body.get(name)
        if value is None:
            continue
        ok = isinstance(value, (int, float) if kind is float else kind)
        if not ok or (isinstance(value, bool) and kind is not bool):
            message = (
                f"json: cannot unmarshal {_json_type(value)} into Go struct field "
                f"{dto}.{name} of type {go_type}"
            )
            return json_response(500, relay_error(message, rid, "invalid_request"), rid)
    return None


def _model_field(body: Mapping[str, Any], rid: str) -> str | Static:
    """``model`` as the distributor reads it: a string, or a 400 for any other JSON type."""
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        message = "Invalid request, field model must be a string"
        return json_response(400, middleware_error(message, rid), rid)
    return model or ""


def _is_dalle(model: str) -> bool:
    return model.startswith("dall-e")


def _dimensions(size: Any) -> tuple[int, int]:
    match = _SIZE.match(size) if isinstance(size, str) else None
    if match is None:
        return 32, 32
    width, height = int(match.group(1)), int(match.group(2))
    return max(1, min(width // 32, 56)), max(1, min(height // 32, 56))


def _image_checks(model: str, size: Any, n: Any) -> str | None:
    """The relay's own image validation (500 ``invalid_request``), or ``None``."""
    if not model:
        return "model is required"
    if isinstance(size, str) and "×" in size:
        return (
            "size an unexpected error occurred in the parameter, please use 'x' instead of "
            "the multiplication sign '×'"
        )
    if isinstance(n, int) and n > MAX_IMAGE_N:
        return f"n must be an integer between 1 and {MAX_IMAGE_N}"
    if model in ("dall-e-2", "dall-e") and size not in (None, "", *_DALLE2_SIZES):
        return "size must be one of 256x256, 512x512, or 1024x1024 for dall-e-2 or dall-e"
    if model == "dall-e-3" and size not in (None, "", *_DALLE3_SIZES):
        return "size must be one of 1024x1024, 1024x1792 or 1792x1024 for dall-e-3"
    return None


def _gpt_image_checks(model: str, size: Any, fmt: Any) -> tuple[str, str, str] | None:
    """What OpenAI rejects for gpt-image models: (message, param, code), or ``None``."""
    if not model.startswith("gpt-image"):
        return None
    if fmt is not None:
        return "Unknown parameter: 'response_format'.", "response_format", "unknown_parameter"
    if model.startswith("gpt-image-1") and size not in (None, *_GPT_IMAGE_1_SIZES):
        allowed = ", ".join(f"'{s}'" for s in _GPT_IMAGE_1_SIZES[:-1])
        message = f"Invalid value: '{size}'. Supported values are: {allowed}, and 'auto'."
        return message, "size", "invalid_value"
    return None


def _upstream_image_checks(
    model: str, prompt: Any, n: int, fmt: Any, size: Any
) -> tuple[str, str] | tuple[str, str, str] | None:
    """What OpenAI's image API rejects with 400: (message, param[, code]), or ``None``."""
    unknown = _gpt_image_checks(model, size, fmt)
    if unknown is not None:
        return unknown
    if not isinstance(prompt, str) or not prompt.strip():
        return "Missing required parameter: 'prompt'.", "prompt"
    if n < 1:
        return f"{n} is less than the minimum of 1 - 'n'", "n"
    if model == "dall-e-3" and n != 1:
        return "You must provide n=1 for this model.", "n"
    if fmt not in (None, "url", "b64_json"):
        return (
            f"Invalid value: '{fmt}'. Supported values are: 'url' and 'b64_json'.",
            "response_format",
        )
    return None


def _take_media(state: State, rec: RecordedRequest, model: str) -> Static | Reply | None:
    """A queued item (or profile draw) for a media route: a response, a ``Reply`` or nothing."""
    item = _take(state, rec, stream=False)
    if isinstance(item, Fault):
        return _fault(item, rec, model)
    if isinstance(item, StreamFault):
        return _script_error(rec, "StreamFault was queued but this route does not stream")
    if item is not None and item.body is not None:
        extra = header_pairs(item.headers)
        return json_response(item.status, item.body, rec.request_id, extra, item.delay)
    return item


def _base_url(rec: RecordedRequest) -> str:
    return f"http://{rec.headers.get('host', '127.0.0.1')}"


def _images(
    state: State,
    rec: RecordedRequest,
    seed: str,
    model: str,
    fields: tuple[str, int, Any, Any],
    reply: Reply | None,
) -> Response:
    prompt, n, size, fmt = fields
    fmt = fmt or ("url" if _is_dalle(model) else "b64_json")
    width, height = _dimensions(size)
    data: list[dict[str, Any]] = []
    for i in range(n):
        image = png(f"{seed}#{i}" if n > 1 else seed, width, height)
        item: dict[str, Any] = {}
        if fmt == "url":
            name = state.random_id("img-", 24) + ".png"
            state.store.files.put(name, image, "image/png")
            item["url"] = f"{_base_url(rec)}/emulator/files/{name}"
        else:
            item["b64_json"] = base64.b64encode(image).decode("ascii")
        if model == "dall-e-3":
            item["revised_prompt"] = f"{prompt.strip()}, shown as a soft two-colour gradient."
        data.append(item)
    state.store.ledger.charge(n * PRICES["image"])
    body: dict[str, Any] = {"created": int(time.time()), "data": data}
    if not _is_dalle(model):
        tokens = count_tokens(prompt)
        body["usage"] = {
            "total_tokens": tokens + 272 * n,
            "input_tokens": tokens,
            "output_tokens": 272 * n,
            "input_tokens_details": {"text_tokens": tokens, "image_tokens": 0},
        }
    status, extra, delay = 200, [], 0.0
    if reply is not None:
        status, extra, delay = reply.status, header_pairs(reply.headers), reply.delay
    return json_response(status, body, rec.request_id, extra, delay)


def generate_images(state: State, rec: RecordedRequest) -> Response:
    """``POST /v1/images/generations`` (JSON)."""
    rid, body = rec.request_id, rec.json
    if not isinstance(body, dict):
        return json_response(400, middleware_error(INVALID_JSON, rid), rid)
    model = _model_field(body, rid)
    if isinstance(model, Static):
        return model
    routed = model or "dall-e"  # the distributor's default for routing only
    if not state.serves(routed):
        message = NO_CHANNEL.format(model=routed)
        return json_response(503, middleware_error(message, rid, "model_not_found"), rid)
    bad = _bad_field(body, "ImageRequest", _IMAGE_DTO, rid)
    if bad is not None:
        return bad
    n = body.get("n") or 1
    if n < 0:
        message = (
            f"json: cannot unmarshal number {n} into Go struct field ImageRequest.n of type uint"
        )
        return json_response(500, relay_error(message, rid, "invalid_request"), rid)
    invalid = _image_checks(model, body.get("size"), n)
    if invalid is not None:
        return json_response(500, relay_error(invalid, rid, "invalid_request"), rid)
    prompt, fmt = body.get("prompt"), body.get("response_format")
    rejected = _upstream_image_checks(model, prompt, int(n), fmt, body.get("size"))
    if rejected is not None:
        return _upstream_400(rid, *rejected)
    taken = _take_media(state, rec, model)
    if isinstance(taken, Static):
        return taken
    fields = (str(prompt), int(n), body.get("size"), fmt)
    return _images(state, rec, f"{model}|{prompt}", model, fields, taken)


def _bad_image(upload_type: str, param: str) -> tuple[str, str]:
    return (
        "Invalid input image - format must be in ['image/jpeg', 'image/png', 'image/webp'], "
        f"got {upload_type}.",
        param,
    )


def _upstream_edit_checks(
    model: str, form: Form, images: Sequence[UploadedFile]
) -> tuple[str, str] | tuple[str, str, str] | None:
    """What OpenAI's edits endpoint rejects with 400: (message, param[, code]), or ``None``."""
    fields = form.fields
    unknown = _gpt_image_checks(model, fields.get("size"), fields.get("response_format"))
    if unknown is not None:
        return unknown
    if not images:
        return "Missing required parameter: 'image'.", "image"
    if not fields.get("prompt", "").strip():
        return "Missing required parameter: 'prompt'.", "prompt"
    if _is_dalle(model) and len(images) > 1:
        return "dall-e-2 edits take one image.", "image"
    for upload in images:
        if not is_image(upload.data):
            return _bad_image(upload.content_type, "image")
    for mask in form.files.get("mask", [])[:1]:
        if not mask.data.startswith(b"\x89PNG"):
            return "Invalid mask image format - mask image must be a PNG.", "mask"
    return None


def edit_images(state: State, rec: RecordedRequest) -> Response:
    """``POST /v1/images/edits`` (multipart: ``image`` or ``image[]``, ``mask``, ``prompt`` …)."""
    rid = rec.request_id
    form = parse_form(rec.headers.get("content-type", ""), rec.body)
    if form is None:
        message = (
            "failed to parse image edit form request: request Content-Type isn't "
            "multipart/form-data"
        )
        return json_response(500, relay_error(message, rid, "invalid_request"), rid)
    model = form.fields.get("model", "")
    if not model:
        return json_response(400, middleware_error(NO_MODEL, rid), rid)
    if not state.serves(model):
        message = NO_CHANNEL.format(model=model)
        return json_response(503, middleware_error(message, rid, "model_not_found"), rid)
    raw_n = form.fields.get("n", "").strip() or "1"
    if not raw_n.isdigit() or not 0 <= int(raw_n) <= MAX_IMAGE_N:
        message = f"n must be an integer between 1 and {MAX_IMAGE_N}"
        return json_response(500, relay_error(message, rid, "invalid_request"), rid)
    images = form.files.get("image", []) + form.files.get("image[]", [])
    prompt = form.fields.get("prompt", "")
    rejected = _upstream_edit_checks(model, form, images)
    if rejected is not None:
        return _upstream_400(rid, *rejected)
    taken = _take_media(state, rec, model)
    if isinstance(taken, Static):
        return taken
    digest = hashlib.blake2b(b"".join(u.data for u in images), digest_size=8).hexdigest()
    fields = (
        prompt,
        max(int(raw_n), 1),
        form.fields.get("size"),
        form.fields.get("response_format"),
    )
    return _images(state, rec, f"{model}|{prompt}|{digest}", model, fields, taken)


def speech_route(state: State, rec: RecordedRequest) -> Response:
    """``POST /v1/audio/speech``: the audio file as the body."""
    rid, body = rec.request_id, rec.json
    if not isinstance(body, dict):
        return json_response(400, middleware_error(INVALID_JSON, rid), rid)
    model = _model_field(body, rid)
    if isinstance(model, Static):
        return model
    if not state.serves(model or "tts-1"):
        message = NO_CHANNEL.format(model=model or "tts-1")
        return json_response(503, middleware_error(message, rid, "model_not_found"), rid)
    if not model:
        return json_response(500, relay_error("model is required", rid, "invalid_request"), rid)
    bad = _bad_field(body, "AudioRequest", _SPEECH_DTO, rid)
    if bad is not None:
        return bad
    text, voice, fmt = body.get("input"), body.get("voice"), body.get("response_format") or "mp3"
    rejected: tuple[str, str] | None = None
    if not isinstance(text, str) or not text:
        rejected = ("Missing required parameter: 'input'.", "input")
    elif len(text) > 4096:
        rejected = (
            "string too long. Expected a string with maximum length 4096, but got a string "
            f"with length {len(text)} instead.",
            "input",
        )
    elif not isinstance(voice, str) or not voice:
        rejected = ("Missing required parameter: 'voice'.", "voice")
    elif fmt not in SPEECH_TYPES:
        rejected = (
            f"Invalid value: '{fmt}'. Supported values are: 'mp3', 'opus', 'aac', 'flac', "
            "'wav', and 'pcm'.",
            "response_format",
        )
    if rejected is not None:
        return _upstream_400(rid, *rejected)
    taken = _take_media(state, rec, model)
    if isinstance(taken, Static):
        return taken
    assert isinstance(text, str)
    audio = taken.raw if taken is not None and taken.raw is not None else speech(text, fmt)
    state.store.ledger.charge(len(text) * PRICES["speech_char"])
    extra = header_pairs(taken.headers) if taken is not None else []
    headers = response_headers(rid, SPEECH_TYPES[fmt].encode("ascii"), extra)
    headers.append((b"content-length", str(len(audio)).encode("ascii")))
    status = taken.status if taken is not None else 200
    return Static(status, headers, audio, taken.delay if taken is not None else 0.0)


def _hits(text: str, phrases: Sequence[str]) -> int:
    lowered = text.lower()
    return sum(1 for p in phrases if re.search(rf"(?<!\w){re.escape(p)}", lowered))


def _verdict(text: str, images: int, model: str) -> dict[str, Any]:
    omni = model.startswith("omni")
    categories: dict[str, bool] = {}
    scores: dict[str, float] = {}
    for name, phrases in MODERATION_RULES.items():
        if not omni and name in _LEGACY_SKIP:
            continue
        hits = _hits(text, phrases)
        noise = int(hashlib.blake2b(f"{name}|{text}".encode(), digest_size=2).hexdigest(), 16)
        scores[name] = round(min(0.85 + 0.04 * (hits - 1), 0.99), 6) if hits else noise / 6.5e8
        categories[name] = hits > 0
    verdict: dict[str, Any] = {
        "flagged": any(categories.values()),
        "categories": categories,
        "category_scores": scores,
    }
    if omni:
        with_images = (
            "violence",
            "violence/graphic",
            "self-harm",
            "self-harm/intent",
            "self-harm/instructions",
            "sexual",
        )
        verdict["category_applied_input_types"] = {
            name: ["text", "image"] if images and name in with_images else ["text"]
            for name in categories
        }
    return verdict


def _moderation_inputs(raw: Any) -> list[tuple[str, int]] | None:
    """(text, image count) per result: strings, string lists or one multimodal list."""
    if isinstance(raw, str):
        return [(raw, 0)]
    if not isinstance(raw, list) or not raw:
        return None
    if all(isinstance(i, str) for i in raw):
        return [(i, 0) for i in raw]
    if all(isinstance(i, Mapping) for i in raw):
        texts = [str(i.get("text", "")) for i in raw if i.get("type") == "text"]
        images = sum(1 for i in raw if i.get("type") == "image_url")
        return [(" ".join(texts), images)]
    return None


def moderations(state: State, rec: RecordedRequest) -> Response:
    """``POST /v1/moderations`` (keyword rules; the relay adds ``usage``)."""
    rid, body = rec.request_id, rec.json
    if not isinstance(body, dict):
        return json_response(400, middleware_error(INVALID_JSON, rid), rid)
    model = _model_field(body, rid)
    if isinstance(model, Static):
        return model
    if not state.serves(model or "text-moderation-stable"):
        message = NO_CHANNEL.format(model=model or "text-moderation-stable")
        return json_response(503, middleware_error(message, rid, "model_not_found"), rid)
    model = model or "text-moderation-latest"
    if body.get("input") in (None, ""):
        return json_response(
            500, relay_error("field input is required", rid, "invalid_request"), rid
        )
    inputs = _moderation_inputs(body["input"])
    if inputs is None:
        return _upstream_400(rid, "Invalid type for 'input'.", "input")
    taken = _take_media(state, rec, model)
    if isinstance(taken, Static):
        return taken
    tokens = sum(count_tokens(text) for text, _ in inputs)
    out = {
        "id": state.random_id("modr-", 29),
        "model": model,
        "results": [_verdict(text, images, model) for text, images in inputs],
        "usage": {"prompt_tokens": tokens, "completion_tokens": 0, "total_tokens": tokens},
    }
    status, extra, delay = 200, [], 0.0
    if taken is not None:
        status, extra, delay = taken.status, header_pairs(taken.headers), taken.delay
    return json_response(status, out, rid, extra, delay)


def subscription(state: State, rec: RecordedRequest) -> Response:
    """``GET /v1/dashboard/billing/subscription`` (``controller/billing.go`` shape)."""
    scripted = _explicit(state, rec)
    if scripted is not None:
        return scripted
    quota = state.store.ledger.quota_usd
    body = {
        "object": "billing_subscription",
        "has_payment_method": True,
        "soft_limit_usd": quota,
        "hard_limit_usd": quota,
        "system_hard_limit_usd": quota,
        "access_until": 0,
    }
    return json_response(200, body, rec.request_id)


def usage(state: State, rec: RecordedRequest) -> Response:
    """``GET /v1/dashboard/billing/usage``: ``total_usage`` in hundredths of a dollar."""
    scripted = _explicit(state, rec)
    if scripted is not None:
        return scripted
    cents = round(state.store.ledger.used_usd * 100, 6)
    return json_response(200, {"object": "list", "total_usage": cents}, rec.request_id)


def serve_file(state: State, rec: RecordedRequest) -> Response:
    """``GET /emulator/files/<name>``: a generated file (no key needed)."""
    name = rec.path.rsplit("/", 1)[-1]
    found = state.store.files.get(name)
    if found is None:
        body = {"error": {"message": f"file {name} not found", "type": "invalid_request_error"}}
        return json_response(404, body, rec.request_id)
    data, content_type = found
    headers = response_headers(rec.request_id, content_type.encode("ascii"))
    headers.append((b"content-length", str(len(data)).encode("ascii")))
    return Static(200, headers, data)
