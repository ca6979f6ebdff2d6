"""Fault soak: thousands of calls through ChatJuhe and Juhe against a faulty emulator.

Every call must either return exactly the emulator's intended answer or raise a typed
``juhe_core`` error; none may hang past its deadline or return a truncated answer as if it
were complete. Afterwards no client connection may be left open and no "unclosed" warning
may have been raised; RSS growth over the run is reported. Embeddings: every text embedded
exactly once and in order, or a typed error.

    python bench/soak.py            # 5,000 chat calls, 100,000 texts, 20,000-request RSS run
    python bench/soak.py --quick    # a smaller run (about a minute)

``run_soak`` is also used by ``tests/test_soak.py`` with small numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from juhe_core.errors import JuheError
from juhe_core.testing import Emulator, FaultProfile

PROMPTS = [f"Tell me fact number {i} about rivers and lakes" for i in range(40)]
FAULTS = FaultProfile(
    rate_429=0.10,
    rate_429_retry_after=0.5,
    rate_5xx=0.05,
    rate_cut=0.03,
    rate_error_mid_stream=0.02,
    latency=(0.0, 0.2),
    seed=7,
)
DEADLINE = 30.0  # seconds: a call still running after this counts as a hang


@dataclass
class SoakReport:
    """What happened, by outcome."""

    outcomes: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    open_connections: int = 0
    unclosed_warnings: int = 0
    rss_growth_mb: float = 0.0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """No wrong answer, no hang, no untyped error, nothing left open."""
        bad = self.outcomes["wrong"] + self.outcomes["hang"] + self.outcomes["untyped"]
        return bad == 0 and self.open_connections == 0 and self.unclosed_warnings == 0


def rss_mb() -> float:
    """Resident set size of this process in MiB (Linux)."""
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def client_connections(port: int) -> int:
    """Established TCP connections from this machine to ``port`` (client side)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as file:
                lines = file.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == port and fields[3] == "01":  # 01 = ESTABLISHED
                count += 1
    return count


def make_models(emu: Emulator) -> tuple[Any, Any]:
    """A ChatJuhe and a Juhe pointed at ``emu``."""
    from pydantic import SecretStr

    from langchain_juhe import ChatJuhe
    from llama_index_juhe import Juhe

    chat = ChatJuhe(model_name="gpt-4o-mini", api_key=SecretStr(emu.api_key), base_url=emu.base_url)
    llm = Juhe(model="gpt-4o-mini", api_key=emu.api_key, api_base=emu.base_url)
    return chat, llm


async def one_call(i: int, chat: Any, llm: Any) -> str:
    """Call number ``i``: even → LangChain, odd → LlamaIndex; every other pair streams."""
    from llama_index.core.llms import ChatMessage

    prompt = PROMPTS[i % len(PROMPTS)]
    stream = (i // 2) % 2 == 0
    if i % 2 == 0:
        if stream:
            return "".join([c.text async for c in chat.astream(prompt)])
        return str((await chat.ainvoke(prompt)).text)
    messages = [ChatMessage(role="user", content=prompt)]
    if stream:
        text = ""
        async for chunk in await llm.astream_chat(messages):
            text = str(chunk.message.content)  # each chunk carries the cumulative message
        return text
    return str((await llm.achat(messages)).message.content)


async def references(emu: Emulator) -> dict[str, str]:
    """The emulator's intended answer to each prompt, asked with no faults."""
    chat, _ = make_models(emu)
    answers = {p: str((await chat.ainvoke(p)).text) for p in PROMPTS}
    await chat.aclose()
    return answers


async def chat_soak(calls: int, concurrency: int, report: SoakReport) -> None:
    """``calls`` chat calls, at most ``concurrency`` in flight, against a faulty emulator."""
    with Emulator(record=False) as clean:
        expected = await references(clean)
    with Emulator(faults=FAULTS, record=False) as emu:
        chat, llm = make_models(emu)
        gate = asyncio.Semaphore(concurrency)

        async def run(i: int) -> None:
            async with gate:
                try:
                    text = await asyncio.wait_for(one_call(i, chat, llm), DEADLINE)
                except asyncio.TimeoutError:
                    report.outcomes["hang"] += 1
                except JuheError as exc:
                    report.outcomes["typed error"] += 1
                    report.errors[type(exc).__name__] += 1
                except Exception as exc:  # counting what escapes is the point
                    report.outcomes["untyped"] += 1
                    report.errors[f"UNTYPED {type(exc).__name__}: {exc}"[:120]] += 1
                else:
                    expect = expected[PROMPTS[i % len(PROMPTS)]]
                    report.outcomes["ok" if text == expect else "wrong"] += 1

        await asyncio.gather(*(run(i) for i in range(calls)))
        await chat.aclose()
        await llm.aclose()
        await asyncio.sleep(0.2)
        report.open_connections += client_connections(emu.port)


async def embed_soak(texts: int, report: SoakReport) -> None:
    """``texts`` texts embedded through JuheEmbeddings with faults; compared to a clean run."""
    from pydantic import SecretStr

    from langchain_juhe import JuheEmbeddings

    inputs = [f"text {i} about {PROMPTS[i % len(PROMPTS)]}" for i in range(texts)]

    async def embed(emu: Emulator) -> list[list[float]] | JuheError:
        emb = JuheEmbeddings(
            model_name="text-embedding-3-small",
            dimensions=8,
            chunk_size=500,
            api_key=SecretStr(emu.api_key),
            base_url=emu.base_url,
            max_retries=4,
        )
        try:
            return await emb.aembed_documents(inputs)
        except JuheError as exc:
            return exc
        finally:
            await emb.aclose()

    with Emulator(record=False) as clean:
        expected = await embed(clean)
    with Emulator(faults=FaultProfile(rate_429=0.1, rate_5xx=0.05, seed=3), record=False) as emu:
        got = await embed(emu)
        report.open_connections += client_connections(emu.port)
    if isinstance(got, JuheError):
        report.outcomes["embed typed error"] += 1
    else:
        report.outcomes["embed ok" if got == expected else "wrong"] += 1


async def rss_soak(requests: int, report: SoakReport) -> None:
    """RSS growth over ``requests`` chat calls (no faults), after a warm-up."""
    with Emulator(record=False) as emu:
        chat, llm = make_models(emu)
        warm = min(1_000, requests // 10)
        await asyncio.gather(*(one_call(i, chat, llm) for i in range(warm)))
        gc.collect()
        before = rss_mb()
        for start in range(warm, requests, 500):
            await asyncio.gather(*(one_call(i, chat, llm) for i in range(start, start + 500)))
        gc.collect()
        report.rss_growth_mb = rss_mb() - before
        await chat.aclose()
        await llm.aclose()


def run_soak(calls: int, texts: int, rss_requests: int, concurrency: int = 100) -> SoakReport:
    """Run the three soaks and return the report."""
    report = SoakReport()
    started = time.perf_counter()
    # Collect what earlier work left behind first, so that only this soak's own objects
    # can raise "unclosed" warnings while they are being recorded.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        asyncio.run(chat_soak(calls, concurrency, report))
        if texts:
            asyncio.run(embed_soak(texts, report))
        if rss_requests:
            asyncio.run(rss_soak(rss_requests, report))
        gc.collect()
    report.unclosed_warnings = sum("unclosed" in str(w.message) for w in caught)
    report.seconds = time.perf_counter() - started
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--calls", type=int, default=5_000)
    parser.add_argument("--texts", type=int, default=100_000)
    parser.add_argument("--rss-requests", type=int, default=20_000)
    args = parser.parse_args()
    if args.quick:
        args.calls, args.texts, args.rss_requests = 1_000, 20_000, 4_000
    report = run_soak(args.calls, args.texts, args.rss_requests)
    print(f"chat calls: {args.calls}  texts: {args.texts}  rss run: {args.rss_requests} requests")
    for outcome, n in sorted(report.outcomes.items()):
        print(f"  {outcome:>18}: {n}")
    for error, n in report.errors.most_common():
        print(f"  {'':>18}  {error}: {n}")
    print(f"  open connections after close: {report.open_connections}")
    print(f"  unclosed warnings: {report.unclosed_warnings}")
    print(f"  RSS growth: {report.rss_growth_mb:.1f} MiB")
    print(f"  wall time: {report.seconds:.1f} s")
    print("PASS" if report.ok and report.rss_growth_mb < 50 else "FAIL")


if __name__ == "__main__":
    main()
