"""Bad input fails at construction or call time, before anything is sent, naming the
parameter, in every class (issue 9)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from juhe_core.errors import UnsupportedFeatureError
from juhe_core.testing import Emulator

NOT_AN_IMAGE = b"hello, I am text"


def lc(emu: Emulator, **kw: Any) -> Any:
    from langchain_juhe import ChatJuhe

    return ChatJuhe(
        model=kw.pop("model", "gpt-4o"), api_key=emu.api_key, base_url=emu.base_url, **kw
    )


def li(emu: Emulator, **kw: Any) -> Any:
    from llama_index_juhe import Juhe

    return Juhe(model=kw.pop("model", "gpt-4o"), api_key=emu.api_key, api_base=emu.base_url, **kw)


def lc_image(emu: Emulator) -> Any:
    from langchain_core.messages import HumanMessage

    block = {"type": "image", "base64": "aGVsbG8sIEkgYW0gdGV4dA==", "mime_type": "image/png"}
    return lc(emu).invoke([HumanMessage(content=[{"type": "text", "text": "x"}, block])])


def li_image(emu: Emulator) -> Any:
    from llama_index.core.llms import ChatMessage, ImageBlock, TextBlock

    blocks = [TextBlock(text="x"), ImageBlock(image=NOT_AN_IMAGE, image_mimetype="image/png")]
    return li(emu).chat([ChatMessage(role="user", blocks=blocks)])


def li_file(emu: Emulator) -> Any:
    from llama_index.core.llms import ChatMessage, ImageBlock

    return li(emu).chat([ChatMessage(role="user", blocks=[ImageBlock(path="/no/such.png")])])


BAD_TOOL = {
    "type": "function",
    "function": {"name": "f", "description": "d", "parameters": {"type": "strng"}},
}

CASES: list[tuple[str, Callable[[Emulator], Any], type[Exception], str]] = [
    ("lc unknown api_format", lambda e: lc(e, api_format="bogus"), ValueError, "api_format"),
    ("li unknown api_format", lambda e: li(e, api_format="bogus"), ValueError, "api_format"),
    ("lc negative max_tokens", lambda e: lc(e, max_tokens=-1), ValidationError, "max_tokens"),
    ("li negative max_tokens", lambda e: li(e, max_tokens=-1), ValidationError, "max_tokens"),
    (
        "lc non-schema tool",
        lambda e: lc(e).bind_tools([BAD_TOOL]).invoke("call f"),
        UnsupportedFeatureError,
        "unknown JSON schema type 'strng'",
    ),
    ("lc image that is not an image", lc_image, UnsupportedFeatureError, "not a PNG"),
    ("li image that is not an image", li_image, UnsupportedFeatureError, "not a PNG"),
    ("li unreadable file", li_file, ValidationError, "path"),
    (
        "lc temperature out of range",
        lambda e: lc(e, temperature=7).invoke("x"),
        UnsupportedFeatureError,
        "temperature",
    ),
]


@pytest.mark.parametrize(("name", "act", "error", "match"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_by_name(
    juhe_emulator: Emulator,
    name: str,
    act: Callable[[Emulator], Any],
    error: type[Exception],
    match: str,
) -> None:
    with pytest.raises(error, match=match):
        act(juhe_emulator)
    assert juhe_emulator.requests == []  # refused before anything was sent


def test_llama_index_non_schema_tool(juhe_emulator: Emulator) -> None:
    from llama_index.core.llms import ChatMessage
    from llama_index.core.tools import FunctionTool

    tool = FunctionTool.from_defaults(fn=lambda city: city, name="f", description="d")
    tool.metadata.fn_schema = None
    llm = li(juhe_emulator)
    bad = llm._prepare_chat_with_tools([tool], user_msg="call f")
    bad["tools"] = [BAD_TOOL]  # what a hand-written definition could look like
    with pytest.raises(UnsupportedFeatureError, match="strng"):
        llm.chat(
            [ChatMessage(role="user", content="call f")],
            **{k: v for k, v in bad.items() if k != "messages"},
        )
    assert juhe_emulator.requests == []
