"""Error parsing: every envelope shape in relay-behavior.md §3, pickling, no key."""

from __future__ import annotations

import json
import pickle

import httpx
import pytest

from juhe_core.errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    StreamError,
    error_from_response,
    split_request_id,
    stream_error_from_object,
)

RID = "20260808120000000000abcdefgh"


def parse(
    status: int, body: object | bytes, headers: dict[str, str] | None = None
) -> APIStatusError:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return error_from_response(status, httpx.Headers(headers or {}), content)


@pytest.mark.parametrize(
    ("status", "body", "cls", "message", "type_", "code", "rid"),
    [
        # relay-local, OpenAI-shaped, request-id suffix
        (
            401,
            {
                "error": {
                    "message": f"无效的令牌 (request id: {RID})",
                    "type": "new_api_error",
                    "code": "",
                }
            },
            AuthenticationError,
            "无效的令牌",
            "new_api_error",
            "",
            RID,
        ),
        (
            403,
            {
                "error": {
                    "message": f"用户额度不足, 剩余额度: ＄0.000000 (request id: {RID})",
                    "type": "new_api_error",
                    "param": "",
                    "code": "insufficient_user_quota",
                }
            },
            PermissionDeniedError,
            "用户额度不足, 剩余额度: ＄0.000000",
            "new_api_error",
            "insufficient_user_quota",
            RID,
        ),
        (
            503,
            {
                "error": {
                    "message": "分组 default 下模型 x 无可用渠道（distributor）"
                    f" (request id: {RID})",
                    "type": "new_api_error",
                    "param": "",
                    "code": "model_not_found",
                }
            },
            NotFoundError,
            "分组 default 下模型 x 无可用渠道（distributor）",
            "new_api_error",
            "model_not_found",
            RID,
        ),
        (
            500,
            {
                "error": {
                    "message": "field messages is required",
                    "type": "new_api_error",
                    "param": "",
                    "code": "invalid_request",
                }
            },
            InternalServerError,
            "field messages is required",
            "new_api_error",
            "invalid_request",
            None,
        ),
        # upstream error passed through, numeric code (Gemini), no suffix
        (
            400,
            {
                "error": {
                    "message": "API key not valid",
                    "type": "upstream_error",
                    "param": "",
                    "code": 400,
                }
            },
            BadRequestError,
            "API key not valid",
            "upstream_error",
            400,
            None,
        ),
        # bad_response_status_code (issue #2291)
        (
            400,
            {
                "error": {
                    "message": "oops",
                    "type": "bad_response_status_code",
                    "param": "",
                    "code": "bad_response_status_code",
                }
            },
            BadRequestError,
            "oops",
            "bad_response_status_code",
            "bad_response_status_code",
            None,
        ),
        # Anthropic shape from /v1/messages, "<nil>" type
        (
            429,
            {
                "type": "error",
                "error": {"type": "<nil>", "message": f"slow down (request id: {RID})"},
            },
            RateLimitError,
            "slow down",
            None,
            None,
            RID,
        ),
        (
            400,
            {"type": "error", "error": {"type": "invalid_request_error", "message": "bad"}},
            BadRequestError,
            "bad",
            "invalid_request_error",
            None,
            None,
        ),
        # Midjourney handler shape
        (
            400,
            {"description": "quota_not_enough ", "type": "upstream_error", "code": 4},
            BadRequestError,
            "quota_not_enough ",
            "upstream_error",
            4,
            None,
        ),
        # JSON body whose error is a string
        (502, {"error": "bad gateway"}, InternalServerError, "bad gateway", None, None, None),
        # panic
        (
            500,
            {"error": {"message": "Panic detected", "type": "new_api_panic"}},
            InternalServerError,
            "Panic detected",
            "new_api_panic",
            None,
            None,
        ),
        # 404 unknown path
        (
            404,
            {
                "error": {
                    "message": "Invalid URL (POST /v1/x)",
                    "type": "invalid_request_error",
                    "param": "",
                    "code": "",
                }
            },
            NotFoundError,
            "Invalid URL (POST /v1/x)",
            "invalid_request_error",
            "",
            None,
        ),
        # 200 carrying an error (GET /v1/models/{id})
        (
            200,
            {
                "error": {
                    "message": "The model 'x' does not exist",
                    "type": "invalid_request_error",
                    "param": "model",
                    "code": "model_not_found",
                }
            },
            NotFoundError,
            "The model 'x' does not exist",
            "invalid_request_error",
            "model_not_found",
            None,
        ),
    ],
)
def test_envelopes(
    status: int,
    body: object,
    cls: type[APIStatusError],
    message: str,
    type_: str | None,
    code: str | int | None,
    rid: str | None,
) -> None:
    err = parse(status, body)
    assert type(err) is cls
    assert (err.status, err.message, err.type, err.code, err.request_id) == (
        status,
        message,
        type_,
        code,
        rid,
    )


def test_empty_429_body() -> None:
    err = parse(429, b"", {"X-Oneapi-Request-Id": RID})
    assert isinstance(err, RateLimitError)
    assert err.request_id == RID
    assert "empty body" in err.message


def test_non_json_body_keeps_text() -> None:
    err = parse(502, b"<html>Bad Gateway</html>")
    assert isinstance(err, InternalServerError)
    assert err.message == "<html>Bad Gateway</html>"
    assert err.body == "<html>Bad Gateway</html>"


def test_header_request_id_wins_over_suffix() -> None:
    err = parse(
        401,
        {"error": {"message": "bad (request id: SUFFIX)", "code": ""}},
        {"x-oneapi-request-id": "HEADER"},
    )
    assert err.request_id == "HEADER"
    assert err.message == "bad"


def test_str_names_status_code_and_request_id() -> None:
    err = parse(
        503, {"error": {"message": f"no channel (request id: {RID})", "code": "model_not_found"}}
    )
    assert str(err) == f"HTTP 503, code 'model_not_found': no channel (request id: {RID})"
    assert err.status_code == 503


def test_errors_pickle() -> None:
    err = parse(429, {"error": {"message": "m", "type": "t", "code": "c"}})
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is RateLimitError
    assert (again.status, again.message, again.code, str(again)) == (429, "m", "c", str(err))
    stream = StreamError("cut", request_id="r", status=200, code="x")
    assert pickle.loads(pickle.dumps(stream)).code == "x"


def test_split_request_id() -> None:
    assert split_request_id(f"text (request id: {RID})") == ("text", RID)
    assert split_request_id("no id here") == ("no id here", None)


def test_stream_error_from_object_reads_any_shape() -> None:
    err = stream_error_from_object(
        {
            "error": {
                "message": f"upstream died (request id: {RID})",
                "type": "upstream_error",
                "code": "server_error",
            }
        },
        None,
    )
    assert (err.request_id, err.code, err.type) == (RID, "server_error", "upstream_error")
    assert "upstream died" in err.message
    anthropic = stream_error_from_object(
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, "r1"
    )
    assert anthropic.type == "overloaded_error" and anthropic.request_id == "r1"
