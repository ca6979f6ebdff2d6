"""The demo: juhe_core, LangChain and LlamaIndex against Juhe, end to end.

Runs offline against the built-in emulator, unless JUHE_API_KEY is set, in which case it
talks to the real service (JUHE_BASE_URL, default https://api.juheai.top). Generated
images go to ./demo-output/.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
from collections.abc import Iterator
from pathlib import Path

import httpx

from juhe_core import ChatRequest, JuheClient, Message, TextDelta

OUT = Path("demo-output")


@contextlib.contextmanager
def backend() -> Iterator[dict[str, str]]:
    """Connection settings: the real service with a key, else a fresh emulator."""
    if os.environ.get("JUHE_API_KEY"):
        print("Using the real Juhe API (JUHE_API_KEY is set).\n")
        yield {}
        return
    from juhe_core.testing import Emulator

    with Emulator(mj_step_seconds=0.3) as emu:
        print(f"No JUHE_API_KEY: using the offline emulator at {emu.base_url}")
        print("(a scripted stand-in, not a language model)\n")
        yield {"api_key": emu.api_key, "base_url": emu.base_url}


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)) or 1.0)


def core_demo(conn: dict[str, str]) -> None:
    with JuheClient(**conn) as client:
        print("== juhe_core: chat")
        question = ChatRequest("gpt-4o-mini", [Message.text("user", "What is Juhe?")])
        result = client.chat(question)
        print(f"  {result.text}\n  usage: {result.usage}\n")

        print("== juhe_core: streaming")
        stream = client.chat_stream(question)
        print("  ", end="")
        for delta in stream:
            if isinstance(delta, TextDelta):
                print(delta.text, end="", flush=True)
        print(f"\n  finish: {stream.result.finish_reason if stream.result else None}\n")

        print("== juhe_core: embeddings")
        docs = [
            "Paris is the capital of France.",
            "Bananas are yellow fruit.",
            "The Eiffel Tower stands in Paris.",
        ]
        vectors = client.embed(
            [*docs, "Which city is the capital of France?"], model="text-embedding-3-small"
        ).vectors
        for doc, vec in sorted(
            zip(docs, vectors, strict=False), key=lambda dv: -cosine(vectors[-1], dv[1])
        ):
            print(f"  {cosine(vectors[-1], vec):.3f}  {doc}")
        print()


def langchain_demo(conn: dict[str, str]) -> None:
    from langchain.agents import create_agent
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.tools import tool

    from langchain_juhe import ChatJuhe

    llm = ChatJuhe(model="gpt-4o-mini", **conn)
    print("== LangChain: a chain (prompt | model | parser), streamed")
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Be brief."), ("human", "Explain {topic} in one line.")]
    )
    print("  ", end="")
    for piece in (prompt | llm | StrOutputParser()).stream({"topic": "an API relay"}):
        print(piece, end="", flush=True)
    print("\n")

    @tool
    def get_weather(city: str) -> str:
        """Get the current weather in a city."""
        return f"It is sunny and 21 degrees in {city}."

    print("== LangChain: a tool-calling agent")
    agent = create_agent(llm, tools=[get_weather])
    state = agent.invoke({"messages": [("user", "What is the weather in Paris?")]})
    for message in state["messages"][1:]:
        calls = getattr(message, "tool_calls", None)
        print(f"  {type(message).__name__}: {calls or message.text}")
    print()


def llama_index_demo(conn: dict[str, str]) -> None:
    from llama_index.core import Document, VectorStoreIndex
    from llama_index.core.agent.workflow import FunctionAgent

    from llama_index_juhe import Juhe, JuheEmbedding

    key, base = conn.get("api_key"), conn.get("base_url")
    llm = Juhe(model="gpt-4o-mini", api_key=key, api_base=base)
    embed = JuheEmbedding(api_key=key, api_base=base)
    print("== LlamaIndex: RAG query")
    docs = [
        "Paris is the capital of France.",
        "Bananas are yellow fruit.",
        "The Nile is the longest river in Africa.",
    ]
    index = VectorStoreIndex.from_documents([Document(text=d) for d in docs], embed_model=embed)
    answer = index.as_query_engine(llm=llm, similarity_top_k=1).query(
        "Which city is the capital of France?"
    )
    print(f"  top source: {answer.source_nodes[0].node.get_content()}\n  answer: {answer}\n")

    print("== LlamaIndex: an agent run")

    def multiply(a: int, b: int) -> int:
        """Multiply two integers and return the product."""
        return a * b

    async def run_agent() -> str:
        agent = FunctionAgent(tools=[multiply], llm=llm)
        return str(await agent.run("What is 6 multiplied by 7? Use multiply."))

    print(f"  {asyncio.run(run_agent())}\n")


def media_demo(conn: dict[str, str]) -> None:
    OUT.mkdir(exist_ok=True)
    with JuheClient(**conn) as client:
        print("== Images: generate and save")
        image = client.generate_images("A red fox in the snow", response_format="b64_json")
        first = image.images[0]
        path = OUT / "fox.png"
        path.write_bytes(first.data or httpx.get(first.url or "").content)
        print(f"  saved {path} ({path.stat().st_size} bytes)\n")

        print("== Midjourney: imagine a grid and wait for it")
        task_id = client.imagine("A lighthouse at dusk --ar 1:1")
        task = client.wait_task(
            task_id,
            poll_interval=0.3,
            on_progress=lambda t: print(f"  {t.status or 'queued'} {t.progress}"),
        )
        grid = OUT / f"midjourney-{task.id}.png"
        grid.write_bytes(httpx.get(task.image_url).content)
        labels = ", ".join(b.label or b.emoji for b in task.buttons)
        print(f"  saved {grid}; buttons: {labels}\n")


def main() -> None:
    with backend() as conn:
        core_demo(conn)
        langchain_demo(conn)
        llama_index_demo(conn)
        media_demo(conn)
    print("Done.")


if __name__ == "__main__":
    main()
