"""``StreamFold``: deltas in, LlamaIndex's cumulative chunks out (no server involved)."""

from __future__ import annotations

from llama_index.core.base.llms.types import ImageBlock, ThinkingBlock, ToolCallBlock

from juhe_core.messages import (
    ChatResult,
    FinishDelta,
    ImagePart,
    MetadataDelta,
    PartDelta,
    ReasoningDelta,
    StreamDelta,
    TextDelta,
    TextPart,
    ToolCallDelta,
    ToolCallPart,
    Usage,
    UsageDelta,
)
from llama_index_juhe._convert import tool_selections
from llama_index_juhe._stream import StreamFold


def fold(*deltas: StreamDelta) -> tuple[StreamFold, list]:  # type: ignore[type-arg]
    f = StreamFold(request_id="rid")
    return f, [c for c in map(f.feed, deltas) if c is not None]


def test_text_chunks_are_cumulative_with_the_new_text_as_delta() -> None:
    _, chunks = fold(MetadataDelta("id1", "gpt-x"), TextDelta("Hel"), TextDelta("lo"))
    assert [c.delta for c in chunks] == ["Hel", "lo"]
    assert [c.message.content for c in chunks] == ["Hel", "Hello"]
    assert chunks[-1].raw["id"] == "id1"
    assert chunks[-1].raw["model"] == "gpt-x"
    assert chunks[-1].raw["request_id"] == "rid"


def test_metadata_alone_yields_nothing() -> None:
    assert StreamFold().feed(MetadataDelta("id")) is None


def test_reasoning_is_a_thinking_block_and_a_thinking_delta() -> None:
    _, chunks = fold(ReasoningDelta("Let me "), ReasoningDelta("think."), TextDelta("4"))
    assert [c.additional_kwargs.get("thinking_delta") for c in chunks] == [
        "Let me ",
        "think.",
        None,
    ]
    thinking = chunks[-1].message.blocks[0]
    assert isinstance(thinking, ThinkingBlock)
    assert thinking.content == "Let me think."
    assert chunks[-1].message.content == "4"


def test_tool_calls_are_readable_on_every_chunk_and_all_are_kept() -> None:
    # Claude upstreams number calls from 1 (relay-behavior.md §9).
    _, chunks = fold(
        ToolCallDelta(1, "c1", "add", ""),
        ToolCallDelta(1, None, None, '{"a": 1'),
        ToolCallDelta(2, "c2", "mul", '{"x"'),
        ToolCallDelta(1, None, None, ', "b": 2}'),
        ToolCallDelta(2, None, None, ": 3}"),
    )
    seen = [
        [(s.tool_name, s.tool_kwargs) for s in tool_selections(c, error_on_no_tool_call=False)]
        for c in chunks
    ]
    assert seen[0] == [("add", {})]
    assert seen[1] == [("add", {"a": 1})]
    assert seen[-1] == [("add", {"a": 1, "b": 2}), ("mul", {"x": 3})]
    last = chunks[-1].message
    assert [b.tool_call_id for b in last.blocks if isinstance(b, ToolCallBlock)] == ["c1", "c2"]
    assert len(last.additional_kwargs["tool_calls"]) == 2


def test_usage_arrives_on_the_last_chunks_for_token_counting() -> None:
    _, chunks = fold(
        TextDelta("hi"), FinishDelta("stop", "stop"), UsageDelta(Usage(5, 2, 7, reasoning_tokens=1))
    )
    assert chunks[0].raw["usage"] is None
    assert chunks[0].additional_kwargs == {}
    last = chunks[-1]
    assert last.raw["usage"]["prompt_tokens"] == 5
    assert last.raw["finish_reason"] == "stop"
    assert last.additional_kwargs["completion_tokens"] == 2
    assert last.additional_kwargs["reasoning_tokens"] == 1


def test_whole_parts_join_the_message() -> None:
    _, chunks = fold(TextDelta("look:"), PartDelta(ImagePart(url="https://example.com/i.png")))
    assert isinstance(chunks[-1].message.blocks[-1], ImageBlock)


def test_finish_takes_the_whole_result_which_keeps_what_deltas_cannot() -> None:
    f, _ = fold(TextDelta("ok"), ToolCallDelta(0, "c1", "f", "{}"))
    signed = ToolCallPart("c1", "f", "{}", {"thought_signature": "s1"})
    result = ChatResult((TextPart("ok"), signed), "tool_calls", usage=Usage(1, 1, 2))
    last = f.finish(result)
    assert last.delta == ""
    assert last.message.additional_kwargs["tool_calls"][0]["provider_data"] == {
        "thought_signature": "s1"
    }
    assert last.additional_kwargs["total_tokens"] == 2


def test_finish_after_an_early_close_keeps_what_arrived() -> None:
    f, _ = fold(TextDelta("partial"))
    assert f.finish(None).message.content == "partial"
