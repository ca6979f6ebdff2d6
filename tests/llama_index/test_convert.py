"""Pure mappings between LlamaIndex messages and the neutral model (no server involved)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from llama_index.core.base.llms.types import (
    AudioBlock,
    CacheControl,
    CachePoint,
    ChatMessage,
    CitableBlock,
    DocumentBlock,
    ImageBlock,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
    VideoBlock,
)

from juhe_core.errors import UnsupportedFeatureError
from juhe_core.messages import (
    AudioPart,
    ChatResult,
    FilePart,
    ImagePart,
    Message,
    Part,
    ProviderPart,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    Usage,
    VideoPart,
)
from llama_index_juhe._convert import (
    map_message,
    map_messages,
    map_parts,
    map_result,
    tool_selections,
    usage_counts,
)

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def one(block: Any, role: str = "user") -> Part:
    (part,) = map_message(ChatMessage(role=role, blocks=[block])).parts
    return part


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("system", "system"),
        ("developer", "system"),
        ("user", "user"),
        ("assistant", "assistant"),
        ("model", "assistant"),
        ("chatbot", "assistant"),
    ],
)
def test_roles(role: str, expected: str) -> None:
    assert map_message(ChatMessage(role=role, content="x")).role == expected


def test_function_role_is_refused_not_guessed() -> None:
    with pytest.raises(UnsupportedFeatureError, match="function"):
        map_message(ChatMessage(role=MessageRole.FUNCTION, content="42"))


def test_text_and_name() -> None:
    message = map_message(ChatMessage(role="user", content="hi", additional_kwargs={"name": "ann"}))
    assert message == Message("user", (TextPart("hi"),), name="ann")


def test_image_by_url_keeps_url_and_detail() -> None:
    part = one(ImageBlock(url="https://example.com/cat.png", detail="low"))
    assert part == ImagePart(url="https://example.com/cat.png", mime_type="image/png", detail="low")


def test_image_by_bytes_and_by_path_send_raw_bytes(tmp_path: Path) -> None:
    path = tmp_path / "dot.png"
    path.write_bytes(PNG)
    for block in (ImageBlock(image=PNG), ImageBlock(path=path)):
        assert one(block) == ImagePart(data=PNG, mime_type="image/png")


def test_document_pdf_bytes_and_path(tmp_path: Path) -> None:
    assert one(DocumentBlock(data=PDF, title="report.pdf")) == FilePart(
        data=PDF, mime_type="application/pdf", filename="report.pdf"
    )
    path = tmp_path / "paper.pdf"
    path.write_bytes(PDF)
    assert one(DocumentBlock(path=path)) == FilePart(
        data=PDF, mime_type="application/pdf", filename="paper.pdf"
    )


def test_document_by_url_is_passed_on_not_downloaded() -> None:
    part = one(DocumentBlock(url="https://example.com/a.pdf"))
    assert part == FilePart(url="https://example.com/a.pdf", mime_type="application/pdf")


def test_audio_bytes_with_format() -> None:
    assert one(AudioBlock(audio=b"ID3abc", format="mp3")) == AudioPart(b"ID3abc", "audio/mpeg")


def test_audio_by_url_is_an_explicit_error() -> None:
    with pytest.raises(UnsupportedFeatureError, match="audio input needs bytes"):
        one(AudioBlock(url="https://example.com/a.wav"))


def test_video_by_url() -> None:
    part = one(VideoBlock(url="https://example.com/v.mp4"))
    assert part == VideoPart(url="https://example.com/v.mp4", mime_type="video/mp4")


def test_thinking_block_keeps_signature_and_format_data() -> None:
    block = ThinkingBlock(
        content="hmm", additional_information={"signature": "sig", "format": "anthropic"}
    )
    part = one(block, role="assistant")
    assert part == ReasoningPart("hmm", "sig", {"format": "anthropic"})


def test_tool_call_block_arguments() -> None:
    parsed = one(
        ToolCallBlock(tool_call_id="c1", tool_name="add", tool_kwargs={"a": 1}), "assistant"
    )
    assert parsed == ToolCallPart("c1", "add", '{"a": 1}')
    raw = one(
        ToolCallBlock(tool_call_id="c2", tool_name="add", tool_kwargs='{"a": 1,'), "assistant"
    )
    assert raw == ToolCallPart("c2", "add", '{"a": 1,')  # unparsable text goes back as is


def test_cache_point_marks_the_text_before_it() -> None:
    control = CacheControl(type="ephemeral")
    message = ChatMessage(
        role="user", blocks=[TextBlock(text="long"), CachePoint(cache_control=control)]
    )
    (part,) = map_message(message).parts
    assert part == TextPart("long", {"cache_control": {"type": "ephemeral", "ttl": "5m"}})


def test_cache_point_marks_an_image_or_a_document_before_it() -> None:
    point = CachePoint(cache_control=CacheControl(type="ephemeral"))
    message = ChatMessage(
        role="user", blocks=[ImageBlock(image=PNG), point, DocumentBlock(data=PDF), point]
    )
    cached = {"cache_control": {"type": "ephemeral", "ttl": "5m"}}
    image, document = map_message(message).parts
    assert image == ImagePart(data=PNG, mime_type="image/png", provider_data=cached)
    assert isinstance(document, FilePart) and document.provider_data == cached


def test_cache_point_after_audio_has_nowhere_to_go() -> None:
    point = CachePoint(cache_control=CacheControl(type="ephemeral"))
    message = ChatMessage(role="user", blocks=[AudioBlock(audio=b"RIFF", format="wav"), point])
    (part,) = map_message(message).parts  # the mark is not moved onto anything else
    assert isinstance(part, AudioPart)


def test_cache_point_in_a_tool_message_marks_the_result() -> None:
    point = CachePoint(cache_control=CacheControl(type="ephemeral", ttl="1h"))
    message = ChatMessage(
        role="tool",
        blocks=[TextBlock(text="rain"), point],
        additional_kwargs={"tool_call_id": "c1"},
    )
    (part,) = map_message(message).parts
    cached = {"cache_control": {"type": "ephemeral", "ttl": "1h"}}
    assert part == ToolResultPart("c1", "rain", provider_data=cached)


def test_citable_block_is_refused() -> None:
    block = CitableBlock(title="t", source="s", content="text")
    with pytest.raises(UnsupportedFeatureError, match="CitableBlock"):
        one(block)


def test_tool_result_as_the_openai_integration_writes_it() -> None:
    message = ChatMessage(role="tool", content="5", additional_kwargs={"tool_call_id": "c1"})
    assert map_message(message) == Message("tool", (ToolResultPart("c1", "5"),))


def test_tool_result_with_an_image_keeps_the_parts() -> None:
    message = ChatMessage(
        role="tool",
        blocks=[TextBlock(text="see"), ImageBlock(image=PNG)],
        additional_kwargs={"tool_call_id": "c1", "name": "shot"},
    )
    (result,) = map_message(message).parts
    assert isinstance(result, ToolResultPart)
    assert result.content == (TextPart("see"), ImagePart(data=PNG, mime_type="image/png"))
    assert result.name == "shot"


def test_tool_result_without_call_id_is_an_error() -> None:
    with pytest.raises(UnsupportedFeatureError, match="tool_call_id"):
        map_message(ChatMessage(role="tool", content="5"))


def test_legacy_tool_calls_in_additional_kwargs() -> None:
    sdk_object = SimpleNamespace(
        model_dump=lambda: {"id": "c2", "function": {"name": "mul", "arguments": '{"a":2}'}}
    )
    message = ChatMessage(
        role="assistant",
        content="",
        additional_kwargs={
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "add", "arguments": "{}"}},
                sdk_object,
            ]
        },
    )
    assert map_message(message).parts == (
        ToolCallPart("c1", "add", "{}"),
        ToolCallPart("c2", "mul", '{"a":2}'),
    )


def test_blocks_win_over_the_mirrored_tool_calls() -> None:
    response = map_parts([ToolCallPart("c1", "add", '{"a": 1}')])
    assert map_message(response).parts == (ToolCallPart("c1", "add", '{"a": 1}'),)


def test_answer_as_llama_index_represents_it() -> None:
    message = map_parts(
        [
            ReasoningPart("think", "sig"),
            TextPart("hello"),
            ToolCallPart("c1", "add", '{"a": 1, "b": 2}'),
            ToolCallPart("c2", "add", '{"a": 3'),
        ]
    )
    assert message.role == MessageRole.ASSISTANT
    assert message.content == "hello"
    thinking, _, call, partial = message.blocks
    assert thinking == ThinkingBlock(content="think", additional_information={"signature": "sig"})
    assert call == ToolCallBlock(tool_call_id="c1", tool_name="add", tool_kwargs={"a": 1, "b": 2})
    assert partial.tool_kwargs == '{"a": 3'  # type: ignore[union-attr]
    assert [c["function"]["name"] for c in message.additional_kwargs["tool_calls"]] == [
        "add",
        "add",
    ]


def test_empty_answer_is_one_empty_text_block_and_is_not_sent_back() -> None:
    message = map_parts([])
    assert message.content == ""
    assert map_message(message).parts == ()


_text = st.text(min_size=1, max_size=8)
_data = st.dictionaries(st.sampled_from(["thought_signature", "k"]), _text, max_size=1)
_args = st.dictionaries(st.sampled_from(["a", "b"]), st.integers(), max_size=2).map(json.dumps)
_part: st.SearchStrategy[Part] = st.one_of(
    st.builds(TextPart, _text, _data),
    st.builds(ReasoningPart, st.text(max_size=8), st.none() | _text, st.just({"format": "gemini"})),
    st.builds(ToolCallPart, st.uuids().map(str), _text, _args, _data),
    st.builds(ProviderPart, st.just("anthropic"), st.dictionaries(_text, _text, max_size=2)),
)


@given(st.lists(_part, min_size=1, max_size=6))
def test_answers_round_trip_through_history_and_json(parts: list[Part]) -> None:
    """What an answer carries (signatures, provider blocks) is sent back unchanged, even
    after the message was stored as JSON (as LlamaIndex memory stores it)."""
    message = map_parts(parts)
    stored = ChatMessage.model_validate_json(message.model_dump_json())
    assert map_message(message).parts == tuple(parts)
    assert map_message(stored).parts == tuple(parts)


def test_map_messages_keeps_order() -> None:
    messages = [ChatMessage(role="system", content="s"), ChatMessage(role="user", content="u")]
    assert [m.role for m in map_messages(messages)] == ["system", "user"]


def test_result_usage_raw_and_logprobs() -> None:
    body = {"id": "x", "usage": {"prompt_tokens": 3, "completion_tokens": 4}}
    logprobs = {"content": [{"token": "a", "logprob": -0.5, "bytes": [97], "top_logprobs": []}]}
    usage = Usage(3, 4, 7, cache_read_tokens=1, reasoning_tokens=2)
    result = ChatResult((TextPart("a"),), "stop", usage=usage, raw=body, logprobs=logprobs)
    response = map_result(result)
    assert response.raw == body
    assert response.additional_kwargs == {
        "prompt_tokens": 3,
        "completion_tokens": 4,
        "total_tokens": 7,
        "cached_tokens": 1,
        "cache_write_tokens": 0,
        "reasoning_tokens": 2,
    }
    assert response.logprobs is not None
    assert response.logprobs[0][0].token == "a"


def test_raw_gets_a_usage_mapping_when_the_format_has_none() -> None:
    result = ChatResult((TextPart("a"),), "stop", usage=Usage(1, 2, 3), raw={"usageMetadata": {}})
    assert map_result(result).raw["usage"] == usage_counts(Usage(1, 2, 3))


def test_refusal_is_kept() -> None:
    result = ChatResult((), "content_filter", refusal="no")
    assert map_result(result).message.additional_kwargs["refusal"] == "no"


def test_tool_selections_parse_partial_arguments() -> None:
    message = map_parts([ToolCallPart("c1", "add", '{"a": 1, "b"'), ToolCallPart("c2", "mul", "")])
    response = map_result(ChatResult(tuple(), None))
    response.message = message
    selections = tool_selections(response, error_on_no_tool_call=True)
    assert [(s.tool_id, s.tool_name, s.tool_kwargs) for s in selections] == [
        ("c1", "add", {"a": 1}),
        ("c2", "mul", {}),
    ]


def test_tool_selections_without_calls() -> None:
    response = map_result(ChatResult((TextPart("no tools"),), "stop"))
    assert tool_selections(response, error_on_no_tool_call=False) == []
    with pytest.raises(ValueError, match="Expected at least one tool call"):
        tool_selections(response, error_on_no_tool_call=True)
