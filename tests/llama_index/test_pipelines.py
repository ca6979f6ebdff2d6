"""Acceptance: ``Juhe`` and ``JuheEmbedding`` inside LlamaIndex's own pipelines and agents.

RAG over ``corpus/`` (the emulator's hashed bag-of-words embeddings make retrieval
deterministic), the streaming query engine, a chat engine, and the workflow agents, each
in the three chat formats the emulator speaks: openai, anthropic (a claude-* model) and
gemini (a gemini-* model). Assertions read the request bodies format-blind (as text).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from llama_index.core import SimpleDirectoryReader, VectorStoreIndex
from llama_index.core.agent.workflow import (
    AgentStream,
    FunctionAgent,
    ReActAgent,
    ToolCallResult,
)
from llama_index.core.tools import FunctionTool

from juhe_core.testing import Emulator, Reply
from llama_index_juhe import Juhe

from .conftest import CORPUS

QUESTION = "Which city is the capital of France?"
FORMATS = {  # api_format: a model of that family
    "openai": "gpt-4o-mini",
    "anthropic": "claude-sonnet-4-5",
    "gemini": "gemini-2.5-flash",
}
PATHS = {
    "openai": "/v1/chat/completions",
    "anthropic": "/v1/messages",
    "gemini": "/v1beta/models/gemini-2.5-flash:",
}


@pytest.fixture(params=list(FORMATS))
def llm(request: pytest.FixtureRequest, emu: Emulator) -> Iterator[Juhe]:
    """A ``Juhe`` on the emulator, once per wire format (overrides conftest's)."""
    model = Juhe(
        FORMATS[request.param],
        api_key=emu.api_key,
        api_base=emu.base_url,
        api_format=request.param,
    )
    yield model
    model.close()


def sent(emu: Emulator, llm: Juhe, index: int = -1) -> str:
    """A chat request body as text, after checking it went to the format's route."""
    chats = [r for r in emu.requests if r.path.startswith(PATHS[llm.api_format])]
    assert chats, f"no {llm.api_format} chat request"
    return str(chats[index].json)


@pytest.fixture
def index(llama_settings: None) -> VectorStoreIndex:
    documents = SimpleDirectoryReader(str(CORPUS)).load_data()
    return VectorStoreIndex.from_documents(documents)


def source_files(response: Any) -> list[str]:
    return [Path(n.node.metadata["file_name"]).name for n in response.source_nodes]


def test_rag_query_finds_the_right_document(
    index: VectorStoreIndex, emu: Emulator, llm: Juhe
) -> None:
    response = index.as_query_engine(similarity_top_k=2).query(QUESTION)
    assert source_files(response)[0] == "paris.txt"
    assert str(response).strip()
    prompt = sent(emu, llm)
    assert "Eiffel Tower" in prompt  # the retrieved context reached the model
    assert QUESTION in prompt


@pytest.mark.parametrize(
    ("question", "document"),
    [
        ("How do green plants turn sunlight into glucose?", "photosynthesis.txt"),
        ("What makes the sea level rise and fall each day?", "tides.txt"),
        ("Which volcano in Sicily is active?", "volcanoes.txt"),
    ],
)
def test_retrieval_ranks_the_matching_document_first(
    index: VectorStoreIndex, question: str, document: str
) -> None:
    nodes = index.as_retriever(similarity_top_k=1).retrieve(question)
    assert Path(nodes[0].node.metadata["file_name"]).name == document


def test_async_rag_query(index: VectorStoreIndex, llm: Juhe) -> None:
    async def main() -> Any:
        try:
            return await index.as_query_engine().aquery(QUESTION)
        finally:
            await llm.aclose()
            await index._embed_model.aclose()  # type: ignore[attr-defined]

    response = asyncio.run(main())
    assert source_files(response)[0] == "paris.txt"
    assert str(response).strip()


def test_streaming_query_engine(index: VectorStoreIndex) -> None:
    response = index.as_query_engine(streaming=True).query(QUESTION)
    text = "".join(response.response_gen)  # type: ignore[attr-defined]
    assert len(text) > 10
    assert source_files(response)[0] == "paris.txt"


def test_chat_engine_keeps_the_conversation(
    index: VectorStoreIndex, emu: Emulator, llm: Juhe
) -> None:
    engine = index.as_chat_engine(chat_mode="condense_plus_context")
    first = engine.chat(QUESTION)
    assert source_files(first)[0] == "paris.txt"
    streamed = engine.stream_chat("And what river runs through it?")
    text = "".join(streamed.response_gen)
    assert text.strip()
    assert QUESTION in sent(emu, llm)  # the first turn is in the history of the second


def test_async_chat_engine(index: VectorStoreIndex, llm: Juhe) -> None:
    async def main() -> Any:
        engine = index.as_chat_engine(chat_mode="context")
        try:
            return await engine.achat(QUESTION)
        finally:
            await llm.aclose()
            await index._embed_model.aclose()  # type: ignore[attr-defined]

    response = asyncio.run(main())
    assert source_files(response)[0] == "paris.txt"


# --- agents ---


def get_weather(city: str) -> str:
    """Get the current weather forecast for a city."""
    return f"Sunny and 21 degrees in {city}"


def multiply(a: int, b: int) -> int:
    """Multiply two integers and return the product."""
    return a * b


TOOLS = [FunctionTool.from_defaults(get_weather), FunctionTool.from_defaults(multiply)]


async def run_agent(agent: Any, task: str, llm: Juhe) -> tuple[str, list[Any]]:
    try:
        handler = agent.run(task)
        events = [event async for event in handler.stream_events()]
        return str(await handler), events
    finally:
        await llm.aclose()


@pytest.mark.parametrize("streaming", [True, False])
def test_function_agent_completes_a_task_with_a_tool(llm: Juhe, streaming: bool) -> None:
    agent = FunctionAgent(
        tools=TOOLS, llm=llm, streaming=streaming, system_prompt="You are a helpful assistant."
    )
    answer, events = asyncio.run(run_agent(agent, "What is the weather in Madrid?", llm))
    (result,) = [e for e in events if isinstance(e, ToolCallResult)]
    assert (result.tool_name, result.tool_kwargs) == ("get_weather", {"city": "Madrid"})
    assert "Sunny and 21 degrees in Madrid" in answer
    if streaming:
        calls = [e.tool_calls for e in events if isinstance(e, AgentStream) and e.tool_calls]
        assert calls and calls[-1][0].tool_kwargs == {"city": "Madrid"}


def test_function_agent_runs_parallel_calls(llm: Juhe) -> None:
    agent = FunctionAgent(tools=TOOLS, llm=llm)
    task = "Use get_weather for Oslo and multiply 6 by 7"
    answer, events = asyncio.run(run_agent(agent, task, llm))
    results = sorted(
        (e.tool_name, str(e.tool_output)) for e in events if isinstance(e, ToolCallResult)
    )
    assert results == [("get_weather", "Sunny and 21 degrees in Oslo"), ("multiply", "42")]
    assert "42" in answer


def test_react_agent_completes_a_task_with_a_tool(llm: Juhe, emu: Emulator) -> None:
    """ReAct needs free-text "Thought / Action / Answer" turns, which the emulator's general
    rules do not write, so the two model turns are scripted; the agent, the tool call and
    the wire are real."""
    emu.enqueue(
        Reply(
            text="Thought: I need a tool to compute this.\nAction: multiply\n"
            'Action Input: {"a": 6, "b": 7}'
        ),
        Reply(text="Thought: I can answer without using any more tools.\nAnswer: 6 times 7 is 42."),
    )
    agent = ReActAgent(tools=TOOLS, llm=llm)
    answer, events = asyncio.run(run_agent(agent, "What is 6 times 7?", llm))
    (result,) = [e for e in events if isinstance(e, ToolCallResult)]
    assert (result.tool_name, result.tool_kwargs, str(result.tool_output)) == (
        "multiply",
        {"a": 6, "b": 7},
        "42",
    )
    assert "42" in answer
    assert "Observation: 42" in sent(emu, llm)
