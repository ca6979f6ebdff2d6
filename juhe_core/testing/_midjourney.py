"""Handlers of the Midjourney routes (``/mj/...`` and ``/{mode}/mj/...``), relay-behavior.md §9.

Submit (``imagine``, ``action``, ``describe``, ``blend``, ``modal``) answers as the upstream
proxy does, ``{"code": 1, "description": "提交成功", "properties": {}, "result": <id>}``, and
the task then moves on with the clock (``_mj_tasks``). Error layers, in the relay's order:

1. Middleware (OpenAI shape): key, the distributor's ``customId`` parsing for ``action``
   (``Invalid request, custom_id_is_required`` / ``unknown_action:<customId>``), model
   ``mj_<action>`` routing.
2. The relay's handler (HTTP 400, ``{"code", "description": "<text> ", "type":
   "upstream_error"}``): ``prompt_is_required``, ``task_not_found`` (action/modal on an
   unknown task), ``task_status_not_success`` (action on an unfinished task),
   ``task_no_found`` (fetch or seed of an unknown task), ``do_request_failed`` (a
   list-by-condition body that is not ``{"ids": [...]}``).
3. The proxy (HTTP 200 with a code): 24 for a banned word (``BANNED_WORDS``, whole words,
   any case: ``properties.bannedWord``), 4 for a blend without 2-5 images or a describe
   without an image.

Scripting: items must be queued with an explicit ``path`` (the path without any mode
prefix, e.g. ``/mj/submit/imagine``). A ``Fault`` of 400/401/429/503 keeps the OpenAI
middleware shape; any other status is written in the Midjourney shape with code 4.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Callable
from typing import Any

from ._handlers import Response, _fault, _script_error
from ._media import is_image
from ._mj_tasks import Task, button_action, result_image
from ._relay import INVALID_JSON, NO_CHANNEL, dumps, fault_shape, header_pairs, middleware_error
from ._script import Fault, RecordedRequest, StreamFault
from ._state import State, Static, json_response, response_headers
from ._store import PRICES

__all__ = ["BANNED_WORDS", "mj_image", "mj_path", "mj_route"]

BANNED_WORDS = ("nude", "naked", "nsfw", "gore", "blood")
"""Words the emulated proxy refuses in a prompt with code 24 (whole words, any case)."""
_SUBMIT_ACTIONS = frozenset({"imagine", "action", "describe", "blend", "modal"})
_SUBMITTED = "提交成功"
_DATA_URL = re.compile(r"^data:[\w/+.-]+;base64,")


def mj_path(path: str) -> str:
    """``path`` without a ``/{mode}`` prefix (``/mj-fast/mj/submit/imagine`` → ``/mj/...``)."""
    index = path.find("/mj/")
    return path[index:] if index > 0 else path


def mj_error(status: int, description: str, rid: str, code: int = 4) -> Static:
    """A relay-side Midjourney error: ``description`` ends with a space (§9)."""
    body = {"code": code, "description": f"{description} ", "type": "upstream_error"}
    return json_response(status, dumps(body), rid)


def _proxy(code: int, description: str, rid: str, **extra: Any) -> Static:
    """An answer of the upstream proxy, passed through with HTTP 200."""
    body: dict[str, Any] = {"code": code, "description": description, "properties": {}}
    body.update(extra)
    return json_response(200, body, rid)


def _scripted(state: State, rec: RecordedRequest) -> Response | None:
    item = state.take(mj_path(rec.path), scripted=False)
    if isinstance(item, Fault):
        plain = item.empty_body or item.body is not None
        if plain or fault_shape(item.status) == "middleware":
            return _fault(item, rec, "")
        return mj_error(item.status, item.message or "do_request_failed", rec.request_id)
    if isinstance(item, StreamFault):
        return _script_error(rec, "StreamFault was queued for a Midjourney route")
    if item is not None and item.body is not None:
        extra = header_pairs(item.headers)
        return json_response(item.status, item.body, rec.request_id, extra, item.delay)
    return None


def _decode_image(value: Any) -> bytes | None:
    if not isinstance(value, str):
        return None
    try:
        data = base64.b64decode(_DATA_URL.sub("", value), validate=True)
    except ValueError:
        return None
    return data if is_image(data) else None


def _banned(prompt: str) -> str | None:
    for word in BANNED_WORDS:
        if re.search(rf"\b{word}\b", prompt, re.IGNORECASE):
            return word
    return None


def _new_task(
    state: State, rec: RecordedRequest, action: str, prompt: str, image: bytes, **kw: Any
) -> Static:
    book = state.store.tasks
    body = rec.json
    task = Task(
        id=book.new_id(),
        action=action,
        prompt=prompt,
        submit_ms=int(time.time() * 1000),
        image=image,
        state=str(body.get("state") or ""),
        bot_type=str(body.get("botType") or ""),
        **kw,
    )
    book.add(task)
    price = PRICES["mj_imagine"] if action == "IMAGINE" else PRICES["mj_other"]
    state.store.ledger.charge(price)
    return _proxy(1, _SUBMITTED, rec.request_id, result=task.id)


def _imagine(state: State, rec: RecordedRequest, body: dict[str, Any]) -> Static:
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        return mj_error(400, "prompt_is_required", rec.request_id)
    word = _banned(prompt)
    if word is not None:
        properties = {"promptEn": prompt, "bannedWord": word}
        body_out = {"code": 24, "description": "可能包含敏感词", "properties": properties}
        return json_response(200, body_out, rec.request_id)
    image = result_image("IMAGINE", prompt, 0, None)
    return _new_task(state, rec, "IMAGINE", prompt, image)


def _action(state: State, rec: RecordedRequest, body: dict[str, Any]) -> Static:
    rid = rec.request_id
    parsed = button_action(str(body.get("customId") or ""))
    assert parsed is not None  # checked by the distributor step
    action, index = parsed
    parent = state.store.tasks.get(str(body.get("taskId") or ""))
    if parent is None:
        return mj_error(400, "task_not_found", rid)
    if state.store.tasks.status(parent) != "SUCCESS":
        return mj_error(400, "task_status_not_success", rid)
    image = result_image(action, parent.prompt, index, {"id": parent.id})
    return _new_task(state, rec, action, parent.prompt, image, index=index)


def _describe(state: State, rec: RecordedRequest, body: dict[str, Any]) -> Static:
    image = _decode_image(body.get("base64"))
    if image is None:
        return _proxy(
            4, "base64 must be a data URL of a PNG, JPEG, WebP or GIF image", rec.request_id
        )
    tag = hashlib.blake2b(image, digest_size=3).hexdigest()
    lines = [f"{n}️⃣ an abstract colour study, palette {tag}, variant {n} --ar 1:1" for n in "1234"]
    prompt = "\n\n".join(lines)
    return _new_task(state, rec, "DESCRIBE", prompt, image, properties={"finalPrompt": prompt})


def _blend(state: State, rec: RecordedRequest, body: dict[str, Any]) -> Static:
    raw = body.get("base64Array")
    images = [_decode_image(v) for v in raw] if isinstance(raw, list) else []
    if not 2 <= len(images) <= 5 or any(i is None for i in images):
        return _proxy(4, "base64Array must hold 2 to 5 images as data URLs", rec.request_id)
    seed = hashlib.blake2b(b"".join(i for i in images if i), digest_size=8).hexdigest()
    image = result_image("BLEND", seed, 0, None)
    return _new_task(state, rec, "BLEND", f"/blend {seed}", image)


def _modal(state: State, rec: RecordedRequest, body: dict[str, Any]) -> Static:
    parent = state.store.tasks.get(str(body.get("taskId") or ""))
    if parent is None:
        return mj_error(400, "task_not_found", rec.request_id)
    prompt = body.get("prompt") if isinstance(body.get("prompt"), str) else parent.prompt
    word = _banned(str(prompt))
    if word is not None:
        properties = {"promptEn": prompt, "bannedWord": word}
        return json_response(
            200,
            {"code": 24, "description": "可能包含敏感词", "properties": properties},
            rec.request_id,
        )
    image = result_image("MODAL", str(prompt), 0, {"id": parent.id})
    return _new_task(state, rec, "MODAL", str(prompt), image)


_SUBMITTERS: dict[str, Callable[[State, RecordedRequest, dict[str, Any]], Static]] = {
    "imagine": _imagine,
    "action": _action,
    "describe": _describe,
    "blend": _blend,
    "modal": _modal,
}


def _submit(state: State, rec: RecordedRequest, kind: str) -> Response:
    rid, body = rec.request_id, rec.json
    if not isinstance(body, dict):
        return json_response(400, middleware_error(INVALID_JSON, rid), rid)
    action = kind.upper()
    if kind == "action":  # the distributor parses the customId first (service/midjourney.go)
        custom_id = body.get("customId")
        if not custom_id:
            return json_response(
                400, middleware_error("Invalid request, custom_id_is_required", rid), rid
            )
        parsed = button_action(str(custom_id))
        if parsed is None:
            message = f"Invalid request, unknown_action:{custom_id}"
            return json_response(400, middleware_error(message, rid), rid)
        action = parsed[0]
    model = f"mj_{action.lower()}"
    if not state.serves(model):
        return json_response(
            503, middleware_error(NO_CHANNEL.format(model=model), rid, "model_not_found"), rid
        )
    scripted = _scripted(state, rec)
    if scripted is not None:
        return scripted
    return _SUBMITTERS[kind](state, rec, body)


def _fetch(state: State, rec: RecordedRequest, task_id: str) -> Response:
    task = state.store.tasks.get(task_id)
    if task is None:
        return mj_error(400, "task_no_found", rec.request_id)
    view = state.store.tasks.view(task, f"http://{rec.headers.get('host', '127.0.0.1')}")
    return json_response(200, view, rec.request_id)


def _list(state: State, rec: RecordedRequest) -> Response:
    body = rec.json
    ids = body.get("ids") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        return mj_error(400, "do_request_failed", rec.request_id)
    base = f"http://{rec.headers.get('host', '127.0.0.1')}"
    book = state.store.tasks
    tasks = [t for t in (book.get(i) for i in dict.fromkeys(ids)) if t is not None]
    tasks.sort(key=lambda t: (t.submit_ms, t.id))  # the database's order, not the request's
    return json_response(200, dumps([book.view(t, base) for t in tasks]), rec.request_id)


def _seed(state: State, rec: RecordedRequest, task_id: str) -> Response:
    book = state.store.tasks
    task = book.get(task_id)
    if task is None:
        return mj_error(400, "task_no_found", rec.request_id)
    if book.status(task) != "SUCCESS":
        return _proxy(4, "task has no image seed yet", rec.request_id)
    seed = int(hashlib.blake2b(task.id.encode(), digest_size=4).hexdigest(), 16) % 4_294_967_295
    return _proxy(1, "成功", rec.request_id, result=str(seed))


def mj_image(state: State, rec: RecordedRequest) -> Response:
    """``GET /mj/image/{id}``: the relay's image forwarding route (no key needed, §9)."""
    image = state.store.tasks.image(rec.path.rsplit("/", 1)[-1])
    if image is None:
        return json_response(400, {"error": "midjourney_task_not_found"}, rec.request_id)
    headers = response_headers(rec.request_id, b"image/png")
    headers.append((b"content-length", str(len(image)).encode("ascii")))
    return Static(200, headers, image)


def mj_route(method: str, path: str) -> Callable[[State, RecordedRequest], Response] | None:
    """The handler of a Midjourney path (any ``/{mode}`` prefix allowed), or ``None``."""
    parts = mj_path(path).strip("/").split("/")
    if method == "POST" and len(parts) == 3 and parts[1] == "submit":
        if parts[2] in _SUBMIT_ACTIONS:
            return lambda state, rec: _submit(state, rec, parts[2])
        return None
    if method == "POST" and parts[1:] == ["task", "list-by-condition"]:

        def scripted_list(state: State, rec: RecordedRequest) -> Response:
            return _scripted(state, rec) or _list(state, rec)

        return scripted_list
    if method == "GET" and len(parts) == 4 and parts[1] == "task":
        task_id = parts[2]
        if parts[3] == "fetch":
            return lambda state, rec: _scripted(state, rec) or _fetch(state, rec, task_id)
        if parts[3] == "image-seed":
            return lambda state, rec: _scripted(state, rec) or _seed(state, rec, task_id)
    return None
