"""What the relay itself does around every call: request ids, key checks, error envelopes.

Everything here follows relay-behavior.md: §2 (where the key is read, ``sk-`` and the
``-suffix`` channel pin), §3 (the three error shapes and the status/code table), §5 (the
rate limiter's 429 bodies) and §15 (``X-Oneapi-Request-Id`` on every response).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Mapping
from typing import Any

from ._script import Fault

__all__ = [
    "INVALID_JSON",
    "NO_CHANNEL",
    "NO_MODEL",
    "RELAY_VERSION",
    "authenticate",
    "dumps",
    "fault_body",
    "fault_headers",
    "fault_shape",
    "header_pairs",
    "middleware_error",
    "new_request_id",
    "not_found",
    "not_implemented",
    "random_alnum",
    "relay_error",
]

RELAY_VERSION = "v0.9.16"
"""Value of ``X-New-Api-Version`` (§15): the newest tagged release relay-behavior.md read."""

_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_BYTE_TO_ALNUM = bytes(ord(_ALNUM[i % len(_ALNUM)]) for i in range(256))

INVALID_JSON = "Invalid request, invalid JSON request body"
"""The router's 400 message for a body that is not JSON (§3)."""
NO_MODEL = "未指定模型名称，模型名称不能为空"
"""The router's 400 message for a body without ``model`` (§3)."""
NO_CHANNEL = "分组 default 下模型 {model} 无可用渠道（distributor）"
"""The distributor's 503 ``model_not_found`` message (§3), to ``.format(model=…)``."""
_GEMINI_KEY_PREFIXES = ("/v1beta/models", "/v1beta/openai/models", "/v1/models/")


def dumps(value: Any) -> bytes:
    """Compact JSON with raw UTF-8, as Go's encoder writes it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def random_alnum(rng: random.Random, length: int) -> str:
    """``length`` random letters and digits (each random byte mapped onto the 62 of them)."""
    return rng.randbytes(length).translate(_BYTE_TO_ALNUM).decode("ascii")


def new_request_id(rng: random.Random) -> str:
    """A relay request id: ``YYYYMMDDhhmmss`` + nanoseconds (unpadded) + 8 random characters."""
    now = time.time_ns()
    stamp = time.strftime("%Y%m%d%H%M%S", time.localtime(now // 1_000_000_000))
    return f"{stamp}{now % 1_000_000_000}{random_alnum(rng, 8)}"


def _with_id(message: str, request_id: str) -> str:
    return f"{message} (request id: {request_id})"


def middleware_error(message: str, request_id: str, code: Any = "") -> bytes:
    """Body of an auth/routing/rate-limit error: ``gin.H``, so keys sorted, no ``param`` (§2)."""
    inner = {"code": code, "message": _with_id(message, request_id), "type": "new_api_error"}
    return dumps({"error": inner})


def relay_error(message: str, request_id: str, code: Any) -> bytes:
    """Body of a relay-local handler error: ``new_api_error`` with ``param`` (§3)."""
    inner = {
        "message": _with_id(message, request_id),
        "type": "new_api_error",
        "param": "",
        "code": code,
    }
    return dumps({"error": inner})


def not_found(method: str, path: str) -> bytes:
    """Body of the 404 for an unknown path (§1, ``RelayNotFound``); no request id."""
    inner = {"message": f"Invalid URL ({method} {path})", "type": "invalid_request_error"}
    return dumps({"error": {**inner, "param": "", "code": ""}})


def not_implemented() -> bytes:
    """Body of the 501 stub routes (§1)."""
    inner = {"message": "API not implemented", "type": "new_api_error"}
    return dumps({"error": {**inner, "param": "", "code": "api_not_implemented"}})


def authenticate(
    path: str, headers: Mapping[str, str], query: Mapping[str, str], keys: frozenset[str]
) -> tuple[int, str] | None:
    """``None`` when the request carries an accepted key, else ``(status, message)`` (§2)."""
    key = headers.get("authorization", "")
    if ("/v1/messages" in path or "/v1/models" in path) and headers.get("x-api-key"):
        key = headers["x-api-key"]
    if path.startswith(_GEMINI_KEY_PREFIXES):
        if query.get("key"):
            key = query["key"]
        if headers.get("x-goog-api-key"):
            key = headers["x-goog-api-key"]
    for prefix in ("Bearer ", "bearer "):
        if key.startswith(prefix):
            key = key[len(prefix) :]
    if key in ("", "midjourney-proxy") and headers.get("mj-api-secret"):
        key = headers["mj-api-secret"]  # step 5: the Midjourney proxy's own header
    if key.startswith("sk-"):
        key = key[3:]
    parts = key.split("-")
    if not parts[0] or parts[0] not in keys:
        return 401, "无效的令牌"
    if len(parts) > 1:
        # A '-suffix' pins a channel, which only admins may do (§2 step 6).
        return 403, "普通用户不支持指定渠道"
    return None


# Default envelope per status (§3 table): (shape, message, code). Shapes: "middleware" (sorted
# keys, no param, request id), "relay" (request id), "upstream" (passed through, no id).
_DEFAULTS: dict[int, tuple[str, str, Any]] = {
    400: ("middleware", INVALID_JSON, ""),
    401: ("middleware", "无效的令牌", ""),
    403: ("relay", "用户额度不足, 剩余额度: ＄0.000000", "insufficient_user_quota"),
    413: ("relay", "request body too large", "read_request_body_failed"),
    429: ("middleware", "您已达到请求数限制：1分钟内最多请求60次", ""),
    500: ("relay", 'do request failed: Post "https://***.com/***": EOF', "do_request_failed"),
    503: ("middleware", NO_CHANNEL, "model_not_found"),
}


def fault_shape(status: int) -> str:
    """Who writes a default ``Fault(status)`` envelope: "middleware", "relay" or "upstream"."""
    return _DEFAULTS.get(status, ("upstream", "", ""))[0]


def fault_body(fault: Fault, request_id: str, model: str, method: str, path: str) -> bytes:
    """The body a ``Fault`` is answered with (see ``Fault`` for the rules)."""
    if fault.empty_body:
        return b""
    if isinstance(fault.body, bytes):
        return fault.body
    if fault.body is not None:
        return dumps(fault.body)
    if fault.status == 404 and fault.message is None and fault.code is None:
        return not_found(method, path)
    if fault.status == 501 and fault.message is None and fault.code is None:
        return not_implemented()
    shape, message, code = _DEFAULTS.get(
        fault.status, ("upstream", "openai_error", "bad_response_status_code")
    )
    message = fault.message if fault.message is not None else message.format(model=model)
    code = fault.code if fault.code is not None else code
    if shape == "middleware":
        return middleware_error(message, request_id, code)
    if shape == "relay":
        return relay_error(message, request_id, code)
    # An upstream error body with no OpenAI error object (§3 "bad_response_status_code").
    inner = {"message": message, "type": "bad_response_status_code", "param": "", "code": code}
    return dumps({"error": inner})


def header_pairs(headers: Mapping[str, str] | None) -> list[tuple[bytes, bytes]]:
    """``headers`` as ASGI ``(name, value)`` pairs with lower-case names."""
    items = (headers or {}).items()
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in items]


def fault_headers(fault: Fault) -> list[tuple[bytes, bytes]]:
    """Extra headers of a ``Fault``: ``Retry-After``, ``retry-after-ms`` and its own."""
    retry = {"retry-after": fault.retry_after, "retry-after-ms": fault.retry_after_ms}
    present = {name: value for name, value in retry.items() if value is not None}
    return header_pairs(present) + header_pairs(fault.headers)
