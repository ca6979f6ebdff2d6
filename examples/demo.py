"""The demo: chat, stream and embed with juhe_core.

Runs offline against the built-in emulator, unless JUHE_API_KEY is set, in which case it
talks to the real service (JUHE_BASE_URL, default https://api.juheai.top).
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator

from juhe_core import ChatRequest, JuheClient, Message, TextDelta


@contextlib.contextmanager
def backend() -> Iterator[dict[str, str]]:
    """Connection settings: the real service with a key, else a fresh emulator."""
    if os.environ.get("JUHE_API_KEY"):
        print("Using the real Juhe API (JUHE_API_KEY is set).")
        yield {}
        return
    from juhe_core.testing import Emulator

    with Emulator() as emu:
        print(f"No JUHE_API_KEY: using the offline emulator at {emu.base_url}")
        print("(a scripted stand-in, not a language model)\n")
        yield {"api_key": emu.api_key, "base_url": emu.base_url}


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (
        math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)) or 1.0
    )


def core_demo(conn: dict[str, str]) -> None:
    with JuheClient(**conn) as client:
        print("== juhe_core: chat")
        question = ChatRequest("gpt-4o-mini", [Message.text("user", "What is Juhe?")])
        result = client.chat(question)
        print(f"{result.text}\n  usage: {result.usage}\n")

        print("== juhe_core: streaming")
        stream = client.chat_stream(question)
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
        query = vectors[-1]
        for doc, vec in sorted(
            zip(docs, vectors, strict=False), key=lambda dv: -cosine(query, dv[1])
        ):
            print(f"  {cosine(query, vec):.3f}  {doc}")
        print()


def main() -> None:
    with backend() as conn:
        core_demo(conn)


if __name__ == "__main__":
    main()
