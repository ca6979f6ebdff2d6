"""Typed errors raised by ``juhe_core`` and everything built on it.

One shallow tree (in the manner of ``httpx._exceptions``)::

    JuheError
    ├── ConfigurationError          bad or missing settings (e.g. no JUHE_API_KEY), or a
    │                               call on a closed client
    ├── UnsupportedFeatureError     content or an option the chosen wire format cannot carry
    └── APIError                    anything that went wrong talking to the service
        ├── APIConnectionError      could not connect, or the connection broke
        │   └── APITimeoutError     connect/read/write/pool timeout, idle stream
        ├── APIStatusError          the service answered with an error
        │   ├── BadRequestError         400 (and other 4xx not listed below)
        │   ├── AuthenticationError     401
        │   ├── PermissionDeniedError   403, including insufficient quota
        │   ├── NotFoundError           404, and 503 ``model_not_found``
        │   ├── RateLimitError          429
        │   └── InternalServerError     >= 500
        ├── StreamError             malformed event, error event, or a stream that
        │                           ended without its terminal event / finish reason
        └── TaskFailedError         a Midjourney task ended in FAILURE (or was cancelled)
            └── TaskNeedsModalError a Midjourney task stopped in MODAL: it waits for
                                    ``/mj/submit/modal`` and will not finish by itself

Errors are translated at exactly one boundary (``juhe_core._transport``): no httpx
exception leaves ``juhe_core``. Every error pickles, and none ever contains the API key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "InternalServerError",
    "JuheError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "StreamError",
    "TaskFailedError",
    "TaskNeedsModalError",
    "UnsupportedFeatureError",
    "error_from_body",
    "error_from_response",
    "find_error_object",
    "split_request_id",
    "stream_error_from_object",
]

# relay-behavior.md §3: relay-local messages end with " (request id: <id>)".
_REQUEST_ID_SUFFIX = re.compile(r"\s*\(request id: ([^)\s]+)\)\s*$")


class JuheError(Exception):
    """Base class of every error raised by juhe_core."""


class ConfigurationError(JuheError, ValueError):
    """A setting is missing or invalid (for example no API key, or a malformed base URL),
    or a client was used after it was closed."""


class UnsupportedFeatureError(JuheError, ValueError):
    """The chosen wire format (or model) cannot carry the requested content or option."""


class APIError(JuheError):
    """Something went wrong while talking to the Juhe API.

    Attributes:
        message: the server's (or our) human-readable message, request-id suffix removed.
        request_id: the relay's request id (``X-Oneapi-Request-Id`` or the message suffix).
    """

    def __init__(self, message: str, *, request_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.request_id = request_id

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.__dict__.copy()))

    def __str__(self) -> str:
        if self.request_id:
            return f"{self.message} (request id: {self.request_id})"
        return self.message


def _rebuild(cls: type[APIError], state: dict[str, Any]) -> APIError:
    err = cls.__new__(cls)
    Exception.__init__(err, state.get("message", ""))
    err.__dict__.update(state)
    return err


class APIConnectionError(APIError):
    """The connection could not be made, or broke before a full answer arrived."""


class APITimeoutError(APIConnectionError):
    """A timeout expired: connect, read, write, pool, or the idle-stream watchdog."""


class StreamError(APIError):
    """A stream was malformed, carried an error event, or ended without its proper end.

    Attributes:
        status: HTTP status of the stream response (200 for an error sent mid-stream).
        type: the ``type`` of an error object found in the stream, if any.
        code: the ``code`` of an error object found in the stream, if any.
        body: the decoded error object or chunk that ended the stream, if any (e.g. a
            Gemini chunk with ``safetyRatings``).
    """

    def __init__(
        self,
        message: str,
        *,
        request_id: str | None = None,
        status: int | None = None,
        type: str | None = None,
        code: str | int | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message, request_id=request_id)
        self.status = status
        self.type = type
        self.code = code
        self.body = body


class TaskFailedError(APIError):
    """A Midjourney task ended in FAILURE (or CANCEL).

    Attributes:
        task_id: the task's id.
        status: the task's final status.
        fail_reason: the relay's ``failReason`` text.
    """

    def __init__(
        self, message: str, *, task_id: str, status: str, fail_reason: str | None = None
    ) -> None:
        super().__init__(message)
        self.task_id = task_id
        self.status = status
        self.fail_reason = fail_reason


class TaskNeedsModalError(TaskFailedError):
    """A Midjourney task is in MODAL: it waits for more input (a remix prompt, an inpaint
    mask) sent with ``/mj/submit/modal`` (``client.modal(task_id, ...)``), and will not
    move on by itself (juhe-api.md §6.3, §6.4). ``status`` is ``"MODAL"``.

    A ``TaskFailedError`` because waiting will not bring a result; catch this class first
    to submit the modal and wait for the task that answers it.
    """


class APIStatusError(APIError):
    """The service answered with an error status, or with an error object in a 200 body.

    Attributes:
        status: the HTTP status code.
        type: the error ``type`` (``new_api_error`` for the relay's own errors).
        code: the error ``code`` (a string, a number, or None; see relay-behavior.md §3).
        param: the error ``param``, when given.
        body: the decoded error body (a dict), or the raw text when it was not JSON.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        type: str | None = None,
        code: str | int | None = None,
        param: str | None = None,
        request_id: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message, request_id=request_id)
        self.status = status
        self.type = type
        self.code = code
        self.param = param
        self.body = body

    @property
    def status_code(self) -> int:
        """Alias of ``status``, as in the openai and anthropic SDKs."""
        return self.status

    def __str__(self) -> str:
        code = f", code {self.code!r}" if self.code not in (None, "") else ""
        return f"HTTP {self.status}{code}: {APIError.__str__(self)}"


class BadRequestError(APIStatusError):
    """400, or another 4xx that has no class of its own (e.g. 413, 422)."""


class AuthenticationError(APIStatusError):
    """401: the key is invalid, expired or exhausted."""


class PermissionDeniedError(APIStatusError):
    """403: quota too low, model/IP/group not allowed for this key, or a channel pin."""


class NotFoundError(APIStatusError):
    """404, or the relay's 503 ``model_not_found`` (no channel serves this model)."""


class RateLimitError(APIStatusError):
    """429: rate limited (the relay may send an empty body and no Retry-After)."""


class InternalServerError(APIStatusError):
    """500 and above (except ``model_not_found``)."""


_STATUS_CLASSES: Mapping[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
}
# Codes that decide the class whatever the status (relay-behavior.md §3, §6, §8).
_CODE_CLASSES: Mapping[str, type[APIStatusError]] = {
    "model_not_found": NotFoundError,
    "insufficient_user_quota": PermissionDeniedError,
    "pre_consume_token_quota_failed": PermissionDeniedError,
    "insufficient_quota": PermissionDeniedError,
    "rate_limit_exceeded": RateLimitError,
}


def _class_for(status: int, code: str | int | None) -> type[APIStatusError]:
    if isinstance(code, str) and code in _CODE_CLASSES:
        return _CODE_CLASSES[code]
    if status in _STATUS_CLASSES:
        return _STATUS_CLASSES[status]
    if status >= 500:
        return InternalServerError
    if status >= 400:
        return BadRequestError
    return APIStatusError


def split_request_id(message: str) -> tuple[str, str | None]:
    """Split a relay message ``"text (request id: X)"`` into ``("text", "X")``."""
    match = _REQUEST_ID_SUFFIX.search(message)
    if match is None:
        return message, None
    return message[: match.start()], match.group(1)


def find_error_object(body: Any) -> Mapping[str, Any] | None:
    """Return the error object of a decoded body in any envelope the relay uses, else None.

    Shapes (relay-behavior.md §3): OpenAI ``{"error": {...}}``; Anthropic
    ``{"type": "error", "error": {...}}``; Midjourney ``{"description", "type", "code"}``;
    and a JSON body whose ``error`` is a string or whose text sits in ``message``.
    """
    if not isinstance(body, Mapping):
        return None
    err = body.get("error")
    if isinstance(err, Mapping):
        return err
    if isinstance(err, str) and err:
        return {"message": err}
    if body.get("type") == "upstream_error" and "description" in body:
        # Midjourney handler errors: {"description": "...", "type": "upstream_error", "code": 4}
        return {
            "message": body.get("description"),
            "type": "upstream_error",
            "code": body.get("code"),
        }
    return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _code(value: Any) -> str | int | None:
    if value is None or isinstance(value, (str, int)):
        return value
    return str(value)


def error_from_body(
    status: int,
    body: Any,
    *,
    request_id: str | None = None,
    raw_text: str = "",
) -> APIStatusError:
    """Build the typed error for an HTTP ``status`` and its decoded ``body``.

    ``body`` is the parsed JSON (or None when the body was empty or not JSON; then
    ``raw_text`` is shown). The request id comes from the header, else the message suffix.
    """
    err = find_error_object(body)
    if err is not None:
        message = _text(err.get("message")) or _text(err.get("type")) or "unknown error"
        type_ = _text(err.get("type"))
        code = _code(err.get("code"))
        param = _text(err.get("param")) or None
    else:
        type_, code, param = None, None, None
        if raw_text.strip():
            message = raw_text.strip()[:2000]
        else:
            message = f"HTTP {status} with an empty body"
    # Anthropic-shaped relay errors often carry the literal type "<nil>" (§5): use the status.
    if type_ == "<nil>":
        type_ = None
    message, suffix_id = split_request_id(message)
    cls = _class_for(status, code)
    return cls(
        message,
        status=status,
        type=type_,
        code=code,
        param=param,
        request_id=request_id or suffix_id,
        body=body if body is not None else (raw_text or None),
    )


def error_from_response(status: int, headers: Mapping[str, str], content: bytes) -> APIStatusError:
    """Build the typed error for a whole error response (status, headers, body bytes)."""
    raw_text = content.decode("utf-8", errors="replace")
    body: Any = None
    if content.strip():
        try:
            body = json.loads(raw_text)
        except ValueError:
            body = None
    return error_from_body(
        status, body, request_id=headers.get("x-oneapi-request-id"), raw_text=raw_text
    )


def stream_error_from_object(body: Mapping[str, Any], request_id: str | None) -> StreamError:
    """The StreamError for an error object found inside a stream (any envelope shape)."""
    # An envelope if there is one; else the event itself carries the fields (Responses
    # ``{"type": "error", "code", "message"}``).
    err = find_error_object(body) or body
    message, suffix_id = split_request_id(_text(err.get("message")) or "unknown error")
    code = err.get("code")
    type_ = err.get("type")
    return StreamError(
        f"error in stream: {message}",
        request_id=request_id or suffix_id,
        status=200,
        type=type_ if isinstance(type_, str) else None,
        code=code if isinstance(code, (str, int)) and not isinstance(code, bool) else None,
        body=dict(body),
    )
