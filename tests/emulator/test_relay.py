"""Relay behaviour around every call: keys, error envelopes, request ids, routes (§1–§3, §15)."""

from __future__ import annotations

import re

import httpx
import pytest

from juhe_core.testing import EMULATOR_API_KEY, Emulator

pytestmark = pytest.mark.timeout(20)

CHAT = "/v1/chat/completions"
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
REQUEST_ID = re.compile(r"^\d{15,23}[A-Za-z0-9]{8}$")


def suffix_id(response: httpx.Response) -> str:
    match = re.search(r" \(request id: ([^)]+)\)$", response.json()["error"]["message"])
    assert match, response.text
    return match.group(1)


def test_key_format() -> None:
    assert re.fullmatch(r"sk-[A-Za-z0-9]{48}", EMULATOR_API_KEY)


@pytest.mark.parametrize("scheme", ["Bearer", "bearer"])
def test_bearer_works_everywhere(bare: httpx.Client, scheme: str) -> None:
    auth = {"Authorization": f"{scheme} {EMULATOR_API_KEY}"}
    assert bare.post(CHAT, json=BODY, headers=auth).status_code == 200
    assert bare.get("/v1/models", headers=auth).status_code == 200
    emb = {"model": "text-embedding-3-small", "input": "x"}
    assert bare.post("/v1/embeddings", json=emb, headers=auth).status_code == 200


def test_x_api_key_only_on_messages_and_models_paths(bare: httpx.Client) -> None:
    key = {"x-api-key": EMULATOR_API_KEY}
    assert bare.get("/v1/models", headers=key).status_code == 200
    assert bare.get("/v1/models/gpt-4o", headers=key).status_code == 200
    assert bare.post(CHAT, json=BODY, headers=key).status_code == 401
    # x-api-key replaces a wrong Bearer on /v1/models only.
    both = {**key, "Authorization": "Bearer sk-wrong"}
    assert bare.get("/v1/models", headers=both).status_code == 200
    assert bare.post(CHAT, json=BODY, headers=both).status_code == 401


def test_query_key_and_goog_header_only_on_gemini_paths(bare: httpx.Client) -> None:
    key = EMULATOR_API_KEY
    assert bare.get(f"/v1/models/gpt-4o?key={key}").status_code == 200
    assert bare.get("/v1/models/gpt-4o", headers={"x-goog-api-key": key}).status_code == 200
    assert bare.post(f"{CHAT}?key={key}", json=BODY).status_code == 401
    assert bare.post(CHAT, json=BODY, headers={"x-goog-api-key": key}).status_code == 401


def test_missing_and_unknown_keys_get_the_middleware_401(bare: httpx.Client) -> None:
    for headers in ({}, {"Authorization": "Bearer sk-unknown"}, {"Authorization": "Bearer"}):
        r = bare.post(CHAT, json=BODY, headers=headers)
        assert r.status_code == 401
        error = r.json()["error"]
        assert set(error) == {"message", "type", "code"}  # gin.H: no param
        assert error["type"] == "new_api_error" and error["code"] == ""
        assert error["message"].startswith("无效的令牌 (request id: ")
        assert suffix_id(r) == r.headers["x-oneapi-request-id"]
    assert list(r.json()["error"]) == ["code", "message", "type"]  # Go sorts map keys


def test_channel_pin_suffix_is_forbidden_for_a_valid_key(bare: httpx.Client) -> None:
    r = bare.post(CHAT, json=BODY, headers={"Authorization": f"Bearer {EMULATOR_API_KEY}-7"})
    assert r.status_code == 403
    assert r.json()["error"]["message"].startswith("普通用户不支持指定渠道")
    # An unknown key with a suffix is still a 401: the key is checked first.
    r = bare.post(CHAT, json=BODY, headers={"Authorization": "Bearer sk-nope-7"})
    assert r.status_code == 401


def test_sk_prefix_is_optional(bare: httpx.Client) -> None:
    bare_key = EMULATOR_API_KEY.removeprefix("sk-")
    assert (
        bare.post(CHAT, json=BODY, headers={"Authorization": f"Bearer {bare_key}"}).status_code
        == 200
    )


def test_other_accepted_keys() -> None:
    with (
        Emulator(api_keys=("sk-" + "a" * 48, "b" * 48)) as emu,
        httpx.Client(base_url=emu.base_url) as c,
    ):
        assert emu.api_key == "sk-" + "a" * 48
        for key in ("sk-" + "a" * 48, "sk-" + "b" * 48):
            assert (
                c.get("/v1/models", headers={"Authorization": f"Bearer {key}"}).status_code == 200
            )
        assert (
            c.get("/v1/models", headers={"Authorization": f"Bearer {EMULATOR_API_KEY}"}).status_code
            == 401
        )


def test_keys_with_a_dash_are_refused_up_front() -> None:
    with pytest.raises(ValueError, match="may not contain '-'"):
        Emulator(api_keys=("sk-abc-def",))
    with pytest.raises(ValueError):
        Emulator(api_keys=())


def test_every_response_has_a_fresh_request_id_and_version(client: httpx.Client) -> None:
    ids = set()
    for r in (client.post(CHAT, json=BODY), client.get("/v1/models"), client.get("/nope")):
        assert REQUEST_ID.match(r.headers["x-oneapi-request-id"]), r.headers["x-oneapi-request-id"]
        assert r.headers["x-new-api-version"]
        ids.add(r.headers["x-oneapi-request-id"])
    assert len(ids) == 3


def test_body_not_json_and_missing_model_are_router_400s(client: httpx.Client) -> None:
    r = client.post(CHAT, content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["message"].startswith("Invalid request")
    assert r.json()["error"]["code"] == "" and "param" not in r.json()["error"]
    r = client.post(CHAT, json={"messages": BODY["messages"]})
    assert r.status_code == 400
    assert r.json()["error"]["message"].startswith("未指定模型名称，模型名称不能为空 (request id: ")
    assert suffix_id(r) == r.headers["x-oneapi-request-id"]


def test_missing_messages_is_a_relay_local_500(client: httpx.Client) -> None:
    r = client.post(CHAT, json={"model": "gpt-4o"})
    assert r.status_code == 500
    error = r.json()["error"]
    assert list(error) == ["message", "type", "param", "code"]
    assert (
        error["code"] == "invalid_request"
        and error["type"] == "new_api_error"
        and error["param"] == ""
    )
    assert error["message"].startswith("field messages is required (request id: ")
    assert suffix_id(r) == r.headers["x-oneapi-request-id"]


def client_for(emu: Emulator) -> httpx.Client:
    headers = {"Authorization": f"Bearer {emu.api_key}"}
    return httpx.Client(base_url=emu.base_url, headers=headers, timeout=10)


def test_fields_of_the_wrong_type_fail_the_relays_unmarshalling(client: httpx.Client) -> None:
    r = client.post(CHAT, json={**BODY, "max_tokens": "10"})
    assert r.status_code == 500
    error = r.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["message"].startswith(
        "json: cannot unmarshal string into Go struct field GeneralOpenAIRequest.max_tokens"
    )
    assert client.post(CHAT, json={**BODY, "stream": 1}).status_code == 500
    assert client.post(CHAT, json={**BODY, "messages": "hi"}).status_code == 500


def test_unlisted_model_gets_503_model_not_found_when_not_served() -> None:
    models = ["gpt-4o", {"id": "my-model", "owned_by": "me"}]
    with Emulator(models=models, serve_unlisted=False) as emu, client_for(emu) as c:
        assert c.post(CHAT, json={**BODY, "model": "my-model"}).status_code == 200
        r = c.post(CHAT, json=BODY)
        assert r.status_code == 503
        error = r.json()["error"]
        assert error["code"] == "model_not_found"
        assert error["message"].startswith(
            "分组 default 下模型 gpt-4o-mini 无可用渠道（distributor） (request id: "
        )
        listed = c.get("/v1/models").json()["data"]
        assert [m["id"] for m in listed] == ["gpt-4o", "my-model"]
        assert listed[1]["owned_by"] == "me"


def test_unknown_path_is_404_before_auth(bare: httpx.Client) -> None:
    r = bare.post("/v1/x")
    assert r.status_code == 404
    assert r.json() == {
        "error": {
            "message": "Invalid URL (POST /v1/x)",
            "type": "invalid_request_error",
            "param": "",
            "code": "",
        }
    }
    assert bare.get(CHAT).json()["error"]["message"] == "Invalid URL (GET /v1/chat/completions)"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/images/variations"),
        ("GET", "/v1/files"),
        ("POST", "/v1/fine-tunes"),
        ("DELETE", "/v1/models/x"),
    ],
)
def test_stub_routes_are_501(client: httpx.Client, method: str, path: str) -> None:
    r = client.request(method, path)
    assert r.status_code == 501
    assert r.json() == {
        "error": {
            "message": "API not implemented",
            "type": "new_api_error",
            "param": "",
            "code": "api_not_implemented",
        }
    }


def test_stub_routes_check_the_key_first(bare: httpx.Client) -> None:
    assert bare.get("/v1/files").status_code == 401


def test_routes_not_emulated_yet_say_so_unless_scripted(
    client: httpx.Client, emu: Emulator
) -> None:
    rerank = {"model": "bge-reranker-v2-m3", "query": "q", "documents": ["a"]}
    r = client.post("/v1/rerank", json=rerank)
    assert r.status_code == 501 and r.json()["error"]["code"] == "not_emulated"
    from juhe_core.testing import Reply

    emu.enqueue(Reply(body={"results": []}), path="/v1/rerank")
    assert client.post("/v1/rerank", json={}).json() == {"results": []}


def test_models_list_shape(client: httpx.Client) -> None:
    body = client.get("/v1/models").json()
    assert body["success"] is True and body["object"] == "list"
    by_id = {m["id"]: m for m in body["data"]}
    for required in (
        "gpt-4o",
        "o3-pro",
        "deepseek-reasoner",
        "text-embedding-3-large",
        "gpt-image-1",
        "tts-1",
    ):
        assert required in by_id
    assert by_id["o3-pro"]["supported_endpoint_types"] == ["openai-response"]
    assert by_id["claude-sonnet-4-20250514"]["supported_endpoint_types"] == ["anthropic", "openai"]
    assert by_id["gemini-2.5-pro"]["supported_endpoint_types"] == ["gemini", "openai"]
    assert by_id["text-embedding-ada-002"]["supported_endpoint_types"] == ["embeddings"]
    assert by_id["dall-e-3"]["supported_endpoint_types"] == ["image-generation"]
    assert all(
        m["object"] == "model" and m["created"] == 1626777600 and m["owned_by"]
        for m in body["data"]
    )


def test_models_list_in_anthropic_shape(bare: httpx.Client) -> None:
    r = bare.get(
        "/v1/models", headers={"x-api-key": EMULATOR_API_KEY, "anthropic-version": "2023-06-01"}
    )
    body = r.json()
    assert body["has_more"] is False and body["first_id"] == body["data"][0]["id"]
    assert body["data"][0]["type"] == "model" and "created_at" in body["data"][0]


def test_model_by_id(client: httpx.Client) -> None:
    assert client.get("/v1/models/gpt-4o").json()["id"] == "gpt-4o"
    r = client.get("/v1/models/no-such-model")
    assert r.status_code == 200
    assert r.json() == {
        "error": {
            "message": "The model 'no-such-model' does not exist",
            "type": "invalid_request_error",
            "param": "model",
            "code": "model_not_found",
        }
    }


def test_error_bodies_are_compact_raw_utf8_json(client: httpx.Client) -> None:
    raw = client.post(CHAT, json={"messages": BODY["messages"]}).content
    assert "未指定模型名称".encode() in raw  # not \\u-escaped, as Go writes it
    assert b'{"error":{"code":"","message":' in raw
