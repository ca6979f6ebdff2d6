"""``Juhe`` with tools, reasoning, structured output and media, sync and async."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable

import pytest
from llama_index.core.base.llms.types import (
    AudioBlock,
    ChatMessage,
    DocumentBlock,
    ImageBlock,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool
from llama_index.core.types import PydanticProgramMode
from pydantic import BaseModel

from juhe_core.testing import Emulator, Reply
from llama_index_juhe import Juhe

from .conftest import Both, user

CHAT = "/v1/chat/completions"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def get_weather(city: str) -> str:
    """Get the current weather forecast for a city."""
    return f"Sunny in {city}"


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


TOOLS = [FunctionTool.from_defaults(get_weather), FunctionTool.from_defaults(multiply)]


class City(BaseModel):
    """A city and its country."""

    name: str
    country: str


# --- tools ---


def test_chat_with_tools_picks_the_fitting_tool_with_parsed_arguments(
    both: Both, emu: Emulator
) -> None:
    response = both.call("chat_with_tools", TOOLS, user_msg="What is the weather in Paris?")
    (selection,) = both.model.get_tool_calls_from_response(response)
    assert selection.tool_name == "get_weather"
    assert selection.tool_kwargs == {"city": "Paris"}
    assert selection.tool_id
    body = emu.requests[-1].json
    assert [t["function"]["name"] for t in body["tools"]] == ["get_weather", "multiply"]
    assert (body["tool_choice"], body["parallel_tool_calls"]) == ("auto", False)


def test_streamed_tool_calls_expose_partial_arguments_on_every_chunk(both: Both) -> None:
    chunks = both.stream("chat_with_tools", TOOLS, user_msg="Multiply 6 by 7")
    seen = [both.model.get_tool_calls_from_response(c, error_on_no_tool_call=False) for c in chunks]
    assert seen[0] and seen[0][0].tool_name == "multiply"  # known from the first fragment
    assert [s[0].tool_kwargs for s in seen[1:-1]] != [seen[-1][0].tool_kwargs] * (len(seen) - 2)
    assert seen[-1][0].tool_kwargs == {"a": 6, "b": 7}


def test_tool_required_and_a_named_choice_reach_the_wire(both: Both, emu: Emulator) -> None:
    both.call("chat_with_tools", TOOLS, user_msg="hello", tool_required=True)
    assert emu.requests[-1].json["tool_choice"] == "required"
    both.call("chat_with_tools", TOOLS, user_msg="hello", tool_choice="multiply")
    assert emu.requests[-1].json["tool_choice"] == {
        "type": "function",
        "function": {"name": "multiply"},
    }


def test_per_call_strict_parallel_and_none_choice_reach_the_wire(both: Both, emu: Emulator) -> None:
    both.call("chat_with_tools", TOOLS, user_msg="Multiply 6 by 7")
    loose = emu.requests[-1].json
    assert all("strict" not in t["function"] for t in loose["tools"])
    assert all("additionalProperties" not in t["function"]["parameters"] for t in loose["tools"])
    both.call(
        "chat_with_tools",
        TOOLS,
        user_msg="Multiply 6 by 7",
        strict=True,
        allow_parallel_tool_calls=True,
        tool_choice="none",
    )
    body = emu.requests[-1].json
    assert body["tool_choice"] == "none"
    assert body["parallel_tool_calls"] is True
    functions = {t["function"]["name"]: t["function"] for t in body["tools"]}
    assert set(functions) == {"get_weather", "multiply"}
    for function in functions.values():
        assert function["strict"] is True
        parameters = function["parameters"]
        assert parameters["additionalProperties"] is False
        assert sorted(parameters["required"]) == sorted(parameters["properties"])
    assert sorted(functions["multiply"]["parameters"]["properties"]) == ["a", "b"]


def test_prepare_chat_with_tools_output_sends_strict_schemas(emu: Emulator, llm: Juhe) -> None:
    prepared = llm._prepare_chat_with_tools(
        TOOLS, user_msg="Weather in Oslo?", strict=True, allow_parallel_tool_calls=True
    )
    llm.chat(**prepared)
    body = emu.requests[-1].json
    assert (body["tool_choice"], body["parallel_tool_calls"]) == ("auto", True)
    assert [t["function"]["strict"] for t in body["tools"]] == [True, True]
    assert [t["function"]["parameters"]["additionalProperties"] for t in body["tools"]] == [
        False,
        False,
    ]


def test_every_tool_call_is_kept_even_when_parallel_calls_were_not_allowed(
    both: Both, emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    calls = [
        {"name": "get_weather", "arguments": {"city": "Oslo"}},
        {"name": "multiply", "arguments": {"a": 2, "b": 3}},
    ]
    emu.enqueue(Reply(tool_calls=calls), path=CHAT)
    with caplog.at_level(logging.WARNING):
        response = both.call("chat_with_tools", TOOLS, user_msg="both please")
    names = [s.tool_name for s in both.model.get_tool_calls_from_response(response)]
    assert names == ["get_weather", "multiply"]
    assert "2 tool calls" in caplog.text


def test_error_on_no_tool_call_is_honoured(both: Both) -> None:
    response = both.chat(user("no tools here"))
    assert both.model.get_tool_calls_from_response(response, error_on_no_tool_call=False) == []
    with pytest.raises(ValueError, match="tool call"):
        both.model.get_tool_calls_from_response(response)


def test_tool_results_go_back_as_the_openai_integration_writes_them(
    both: Both, emu: Emulator
) -> None:
    first = both.call("chat_with_tools", TOOLS, user_msg="What is the weather in Rome?")
    (call,) = both.model.get_tool_calls_from_response(first)
    history = [
        *user("What is the weather in Rome?"),
        first.message,
        ChatMessage(
            role="tool",
            content=get_weather(**call.tool_kwargs),
            additional_kwargs={"tool_call_id": call.tool_id, "name": call.tool_name},
        ),
    ]
    answer = both.call("chat_with_tools", TOOLS, chat_history=history)
    assert "Sunny in Rome" in (answer.message.content or "")
    sent = emu.requests[-1].json["messages"]
    assert sent[1]["tool_calls"][0]["id"] == call.tool_id
    assert sent[2] == {"role": "tool", "tool_call_id": call.tool_id, "content": "Sunny in Rome"}


def test_predict_and_call_runs_the_tool(both: Both) -> None:
    output = both.call("predict_and_call", TOOLS, user_msg="Multiply 3 by 5")
    assert output.response == "15"


# --- reasoning ---


def test_reasoning_comes_back_as_a_thinking_block(both: Both) -> None:
    both.model.model = "deepseek-reasoner"
    response = both.chat(user("Why is the sky blue?"))
    thinking = [b for b in response.message.blocks if isinstance(b, ThinkingBlock)]
    assert thinking and "Why is the sky blue?" in (thinking[0].content or "")
    assert response.additional_kwargs["reasoning_tokens"] > 0
    assert "Why is the sky blue?" in (response.message.content or "")


def test_reasoning_streams_as_thinking_delta(both: Both) -> None:
    both.model.reasoning_effort = "low"
    chunks = both.stream("chat", user("Why is grass green?"))
    thinking = "".join(c.additional_kwargs.get("thinking_delta", "") for c in chunks)
    assert "Why is grass green?" in thinking
    final = chunks[-1].message.blocks[0]
    assert isinstance(final, ThinkingBlock)
    assert final.content == thinking


def test_reasoning_is_sent_back_in_history(both: Both, emu: Emulator) -> None:
    """Pitfall: other integrations drop reasoning from the history they send back."""
    both.model.model = "deepseek-reasoner"
    first = both.chat(user("Think about tides."))
    both.chat([*user("Think about tides."), first.message, *user("And now?")])
    assistant = emu.requests[-1].json["messages"][1]
    assert assistant["role"] == "assistant"
    assert assistant["reasoning_content"] == first.message.blocks[0].content  # type: ignore[union-attr]


# --- structured output ---


def test_structured_predict_uses_json_schema_where_supported(both: Both, emu: Emulator) -> None:
    both.model.model = "gpt-4o"
    prompt = PromptTemplate("Extract the city from: {text}")
    city = both.call("structured_predict", City, prompt, text="Lyon is in France.")
    assert isinstance(city, City)
    fmt = emu.requests[-1].json["response_format"]
    assert (fmt["type"], fmt["json_schema"]["name"]) == ("json_schema", "City")
    assert "tools" not in emu.requests[-1].json


def test_structured_predict_uses_a_forced_tool_call_elsewhere(both: Both, emu: Emulator) -> None:
    both.model.model = "deepseek-chat"  # no native structured output in the catalogue
    prompt = PromptTemplate("Extract the city from: {text}")
    city = both.call("structured_predict", City, prompt, text="Lyon is in France.")
    assert isinstance(city, City)
    body = emu.requests[-1].json
    assert body["tool_choice"] == "required"
    assert body["tools"][0]["function"]["name"] == "City"
    assert "response_format" not in body


def test_pydantic_program_mode_is_honoured(emu: Emulator, make_llm: Callable[..., Juhe]) -> None:
    llm = make_llm(model="gpt-4o", pydantic_program_mode=PydanticProgramMode.FUNCTION)
    llm.structured_predict(City, PromptTemplate("Extract: {t}"), t="Lyon, France")
    assert "tools" in emu.requests[-1].json


@pytest.mark.parametrize("model", ["gpt-4o", "deepseek-chat"])
def test_stream_structured_predict(both: Both, model: str) -> None:
    both.model.model = model
    prompt = PromptTemplate("Extract the city from: {text}")
    partials = both.stream("structured_predict", City, prompt, text="Lyon is in France.")
    assert partials
    final = City.model_validate(partials[-1].model_dump())
    assert final.name and final.country


def test_as_structured_llm(both: Both) -> None:
    both.model.model = "gpt-4o"
    structured = Both(both.kind, both.model.as_structured_llm(City), owner=both.model)
    response = structured.chat(user("Extract the city from: Kyoto is in Japan."))
    assert isinstance(response.raw, City)


# --- media ---


def test_image_pdf_and_audio_blocks_reach_the_wire(both: Both, emu: Emulator) -> None:
    message = ChatMessage(
        role="user",
        blocks=[
            TextBlock(text="What is in these?"),
            ImageBlock(image=PNG),
            ImageBlock(url="https://example.com/cat.png", detail="low"),
            DocumentBlock(data=PDF, title="report.pdf"),
            AudioBlock(audio=b"RIFF....WAVEfmt ", format="wav"),
        ],
    )
    both.model.model = "gpt-4o-audio-preview"
    response = both.chat([message])
    assert "2 images" in (response.message.content or "")
    parts = emu.requests[-1].json["messages"][0]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url", "image_url", "file", "input_audio"]
    assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert parts[2]["image_url"] == {"url": "https://example.com/cat.png", "detail": "low"}
    assert parts[3]["file"]["filename"] == "report.pdf"
    assert parts[4]["input_audio"]["format"] == "wav"


def test_tool_call_blocks_are_what_agents_store(both: Both) -> None:
    response = both.call("chat_with_tools", TOOLS, user_msg="Multiply 2 by 4")
    (block,) = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
    assert block.tool_kwargs == {"a": 2, "b": 4}
    assert response.message.additional_kwargs["tool_calls"][0]["function"]["name"] == "multiply"
