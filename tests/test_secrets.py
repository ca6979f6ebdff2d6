"""The key never escapes: not in logs at DEBUG (ours and httpx's), reprs, pickles,
serialised objects, exceptions, warnings or URLs, across every public class."""

from __future__ import annotations

import logging
import pickle
import warnings
from typing import Any

import pytest

from juhe_core import AsyncJuheClient, JuheClient
from juhe_core.errors import JuheError
from juhe_core.messages import ChatRequest, Message
from juhe_core.testing import Emulator, Fault


def models(emu: Emulator) -> list[Any]:
    from langchain_juhe import ChatJuhe, JuheEmbeddings
    from llama_index_juhe import Juhe, JuheEmbedding

    kw = {"api_key": emu.api_key, "base_url": emu.base_url}
    return [
        ChatJuhe(model="gpt-4o-mini", **kw),
        JuheEmbeddings(**kw),
        Juhe(model="gpt-4o-mini", api_key=emu.api_key, api_base=emu.base_url),
        JuheEmbedding(api_key=emu.api_key, api_base=emu.base_url),
    ]


def exercise(obj: Any) -> None:
    from llama_index.core.llms import ChatMessage

    name = type(obj).__name__
    if name == "ChatJuhe":
        obj.invoke("hi")
        list(obj.stream("hi"))
    elif name == "Juhe":
        obj.chat([ChatMessage(role="user", content="hi")])
    elif name == "JuheEmbeddings":
        obj.embed_query("hi")
    else:
        obj.get_text_embedding("hi")


def test_key_absent_from_debug_logs_reprs_pickles_and_dumps(
    juhe_emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    from langchain_core.load import dumps

    key = juhe_emulator.api_key
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "juhe_core", "langchain", "llama_index"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        objects = models(juhe_emulator)
        for obj in objects:
            exercise(obj)
        juhe_emulator.enqueue(
            Fault(401), Fault(503, code="model_not_found"), path="/v1/chat/completions"
        )
        for obj in objects[:1] + objects[2:3]:
            with pytest.raises(JuheError) as info:
                exercise(obj)
            assert key not in str(info.value) + repr(info.value) + repr(vars(info.value))
    assert caplog.records, "DEBUG logging produced nothing: the check would be empty"
    assert all(key not in r.getMessage() for r in caplog.records)
    assert all(key not in str(w.message) for w in caught)
    for obj in objects:
        assert key not in repr(obj) and key not in str(obj)
        assert key.encode() not in pickle.dumps(obj), type(obj).__name__
        if type(obj).__name__ in ("ChatJuhe", "JuheEmbeddings"):
            assert key not in dumps(obj)
        else:
            assert key not in obj.to_json() and key not in str(obj.to_dict())
    for req in juhe_emulator.requests:
        assert key not in req.path and key not in str(req.query)


def test_core_clients_and_settings(juhe_emulator: Emulator) -> None:
    key = juhe_emulator.api_key
    sync = JuheClient(api_key=key, base_url=juhe_emulator.base_url)
    sync.chat(ChatRequest("gpt-4o-mini", [Message.text("user", "hi")]))
    asynchronous = AsyncJuheClient(api_key=key, base_url=juhe_emulator.base_url)
    for obj in (sync, asynchronous, sync.settings):
        assert key not in repr(obj) and key not in str(obj)
    assert key.encode() not in pickle.dumps(sync.settings)
    sync.close()


def test_tls_verification_is_on_by_default() -> None:
    client = JuheClient(api_key="sk-x")
    # httpx verifies with a default SSL context unless a caller-supplied client says otherwise
    ctx = client.http_client._transport._pool._ssl_context  # type: ignore[attr-defined]
    import ssl

    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    client.close()


def _bad_constructions() -> list[tuple[str, Any]]:
    from langchain_juhe import ChatJuhe, JuheEmbeddings
    from llama_index_juhe import Juhe, JuheEmbedding, JuheUsageHandler

    key = "sk-validation-secret-42"
    return [
        ("ChatJuhe field", lambda: ChatJuhe(api_key=key, temperature="hot")),
        ("ChatJuhe model-level", lambda: ChatJuhe(api_key=key, model_kwargs={"seed": 1})),
        ("JuheEmbeddings", lambda: JuheEmbeddings(api_key=key, chunk_size="many")),
        ("Juhe", lambda: Juhe(api_key=key, temperature="hot")),
        ("JuheEmbedding", lambda: JuheEmbedding(api_key=key, embed_batch_size="x")),
        ("JuheUsageHandler", lambda: JuheUsageHandler(api_key=key, timeout="soon")),
    ]


@pytest.mark.parametrize("case", _bad_constructions(), ids=lambda c: c[0])
def test_validation_errors_never_echo_the_key(case: tuple[str, Any]) -> None:
    with pytest.raises(ValueError) as caught:
        case[1]()
    text = str(caught.value) + repr(caught.value)
    assert "sk-validation-secret-42" not in text
