"""The clients under test, each built the way its users build it, pointed at the fake.

Every chat client is wrapped in a ``ChatAdapter`` with the same three operations
(``invoke``, ``stream``, ``ainvoke``) and every embedder in an ``EmbedAdapter``
(``embed``, ``aembed``), so the scenarios time one loop for all of them. Framework and
peer imports happen inside the factories: a child process that builds one client (the
peak-RSS scenario) loads only that client's packages.

A ``Row`` names a client, the raw-httpx row doing the same job on the wire, and the
peer it is compared with.
"""

from __future__ import annotations

import array
import asyncio
import base64
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from juhe_core.client import AsyncJuheClient

SYSTEM = "Be brief."
USER = "Hello"
ANSWER = "Hello! How can I help you today?"  # what the fake answers, checked on every call
KEY = "sk-bench-dummy"
EMBED_MODEL = "text-embedding-3-small"
DIMENSIONS = 1536
RAW_EMBED_BATCH = 1000  # as OpenAIEmbeddings' default chunk_size
RAW_EMBED_CONCURRENCY = 4  # as JuheEmbeddings' default max_concurrency


class ChatAdapter(Protocol):
    """One chat client, driven the same way whatever it is."""

    def invoke(self) -> str:
        """One non-stream call; the answer's text."""
        ...

    def stream(self) -> Iterator[str]:
        """One streamed call; the text of each chunk."""
        ...

    async def ainvoke(self) -> str:
        """One async non-stream call; the answer's text."""
        ...


class EmbedAdapter(Protocol):
    """One embedder: texts in, vectors out, sync or async."""

    def embed(self, texts: list[str]) -> list[list[float]]:
        """All vectors, in order."""
        ...

    async def aembed(self, texts: list[str]) -> list[list[float]]:
        """All vectors, in order (async)."""
        ...


@dataclass(frozen=True)
class Row:
    """A client as it appears in the tables."""

    name: str
    """The row label."""
    make: Callable[[str, str], Any]
    """(fake base URL, model name) → an adapter."""
    raw: str | None = None
    """The raw-httpx row doing the same job on the same wire (None for raw rows)."""
    peer: str | None = None
    """The row this one is compared with (None for peers and raw rows)."""
    ours: bool = False
    """Whether the row is one of this project's clients."""
    quick: bool = True
    """Whether ``--quick`` runs it (illustrations that only explain a figure are skipped)."""


# --- raw httpx: the floor every figure is divided by ---


def _openai_body(model: str, stream: bool) -> bytes:
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}]
    body: dict[str, Any] = {"model": model, "messages": messages}
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    return json.dumps(body).encode()


def _anthropic_body(model: str, stream: bool) -> bytes:
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": 1024,
        "system": SYSTEM,
        "messages": [{"role": "user", "content": USER}],
    }
    if stream:
        body["stream"] = True
    return json.dumps(body).encode()


class RawChat:
    """httpx with no SDK: post the JSON, parse the answer (or the SSE lines) with json."""

    def __init__(
        self, url: str, model: str, wire: str, async_client: Callable[[], Any] | None = None
    ) -> None:
        import httpx

        self.anthropic = wire == "anthropic"
        path = "/v1/messages" if self.anthropic else "/v1/chat/completions"
        self.url = url + path
        self.model = model
        self.headers = {"authorization": f"Bearer {KEY}", "content-type": "application/json"}
        if self.anthropic:
            self.headers["anthropic-version"] = "2023-06-01"
        self.async_client = async_client or (lambda: httpx.AsyncClient(timeout=60))
        self.http = httpx.Client(timeout=60)
        self.ahttp: Any = None

    def _body(self, stream: bool) -> bytes:
        return (_anthropic_body if self.anthropic else _openai_body)(self.model, stream)

    def _text(self, body: dict[str, Any]) -> str:
        if self.anthropic:
            return str(body["content"][0]["text"])
        return str(body["choices"][0]["message"]["content"])

    def invoke(self) -> str:
        """One call."""
        response = self.http.post(self.url, content=self._body(False), headers=self.headers)
        response.raise_for_status()
        return self._text(json.loads(response.content))

    def stream(self) -> Iterator[str]:
        """One streamed call: ``data:`` lines, JSON-decoded, text pulled out."""
        body = self._body(True)
        with self.http.stream("POST", self.url, content=body, headers=self.headers) as response:
            response.raise_for_status()
            for line in response.iter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                event = json.loads(line[6:])
                if self.anthropic:
                    if event["type"] == "content_block_delta":
                        yield event["delta"]["text"]
                else:
                    for choice in event["choices"]:
                        yield choice["delta"].get("content") or ""

    async def ainvoke(self) -> str:
        """One async call (the async client is made in the running loop)."""
        if self.ahttp is None:
            self.ahttp = self.async_client()
        body = self._body(False)
        response = await self.ahttp.post(self.url, content=body, headers=self.headers)
        response.raise_for_status()
        return self._text(json.loads(response.content))


class RawEmbed:
    """httpx with no SDK: batches of 1,000 texts, base64 vectors decoded with ``array``."""

    def __init__(self, url: str, model: str) -> None:
        import httpx

        self.url = url + "/v1/embeddings"
        self.model = model
        self.headers = {"authorization": f"Bearer {KEY}", "content-type": "application/json"}
        self.http = httpx.Client(timeout=60)
        self.ahttp: Any = None

    def _body(self, batch: Sequence[str]) -> bytes:
        return json.dumps(
            {"model": self.model, "input": list(batch), "encoding_format": "base64"}
        ).encode()

    @staticmethod
    def _vectors(content: bytes) -> list[list[float]]:
        items = sorted(json.loads(content)["data"], key=lambda item: item["index"])
        return [array.array("f", base64.b64decode(i["embedding"])).tolist() for i in items]

    def embed(self, texts: list[str]) -> list[list[float]]:
        """All vectors, one request per batch."""
        vectors = []
        for i in range(0, len(texts), RAW_EMBED_BATCH):
            body = self._body(texts[i : i + RAW_EMBED_BATCH])
            response = self.http.post(self.url, content=body, headers=self.headers)
            response.raise_for_status()
            vectors += self._vectors(response.content)
        return vectors

    async def aembed(self, texts: list[str]) -> list[list[float]]:
        """All vectors, up to four requests in flight."""
        import httpx

        if self.ahttp is None:
            self.ahttp = httpx.AsyncClient(timeout=60)
        gate = asyncio.Semaphore(RAW_EMBED_CONCURRENCY)

        async def one(batch: Sequence[str]) -> list[list[float]]:
            async with gate:
                response = await self.ahttp.post(
                    self.url, content=self._body(batch), headers=self.headers
                )
            response.raise_for_status()
            return self._vectors(response.content)

        batches = [texts[i : i + RAW_EMBED_BATCH] for i in range(0, len(texts), RAW_EMBED_BATCH)]
        results = await asyncio.gather(*(one(b) for b in batches))
        return [v for vectors in results for v in vectors]


# --- juhe_core used directly: what the framework classes add on top of it ---


class CoreChat:
    """``JuheClient`` / ``AsyncJuheClient`` with a neutral ``ChatRequest``."""

    def __init__(self, url: str, model: str, wire: str) -> None:
        from juhe_core.client import AsyncJuheClient, JuheClient
        from juhe_core.messages import ChatRequest, Message

        self.wire = wire
        self.request = ChatRequest(
            model, [Message.text("system", SYSTEM), Message.text("user", USER)], max_tokens=1024
        )
        self.client = JuheClient(api_key=KEY, base_url=url)
        self.aclient_type = AsyncJuheClient
        self.url = url
        self.aclient: AsyncJuheClient | None = None

    def invoke(self) -> str:
        """One call."""
        return self.client.chat(self.request, api_format=self.wire).text

    def stream(self) -> Iterator[str]:
        """One streamed call."""
        from juhe_core.messages import TextDelta

        with self.client.chat_stream(self.request, api_format=self.wire) as stream:
            for delta in stream:
                if isinstance(delta, TextDelta):
                    yield delta.text

    async def ainvoke(self) -> str:
        """One async call."""
        if self.aclient is None:
            self.aclient = self.aclient_type(api_key=KEY, base_url=self.url)
        return (await self.aclient.chat(self.request, api_format=self.wire)).text


class CoreEmbed:
    """``JuheClient.embed`` / ``AsyncJuheClient.embed`` with their defaults."""

    def __init__(self, url: str, model: str) -> None:
        from juhe_core.client import AsyncJuheClient, JuheClient

        self.model = model
        self.client = JuheClient(api_key=KEY, base_url=url)
        self.aclient_type = AsyncJuheClient
        self.url = url
        self.aclient: AsyncJuheClient | None = None

    def embed(self, texts: list[str]) -> list[list[float]]:
        """All vectors."""
        return self.client.embed(texts, model=self.model).vectors

    async def aembed(self, texts: list[str]) -> list[list[float]]:
        """All vectors (async)."""
        if self.aclient is None:
            self.aclient = self.aclient_type(api_key=KEY, base_url=self.url)
        return (await self.aclient.embed(texts, model=self.model)).vectors


# --- framework classes ---


class LangChainChat:
    """A LangChain chat model: ``invoke`` / ``stream`` / ``ainvoke``."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.messages = [("system", SYSTEM), ("human", USER)]

    def invoke(self) -> str:
        """One call."""
        return str(self.model.invoke(self.messages).content)

    def stream(self) -> Iterator[str]:
        """One streamed call."""
        for chunk in self.model.stream(self.messages):
            yield chunk.text

    async def ainvoke(self) -> str:
        """One async call."""
        return str((await self.model.ainvoke(self.messages)).content)


class LlamaIndexChat:
    """A LlamaIndex LLM: ``chat`` / ``stream_chat`` / ``achat``."""

    def __init__(self, llm: Any) -> None:
        from llama_index.core.llms import ChatMessage

        self.llm = llm
        self.messages = [
            ChatMessage(role="system", content=SYSTEM),
            ChatMessage(role="user", content=USER),
        ]

    def invoke(self) -> str:
        """One call."""
        return str(self.llm.chat(self.messages).message.content)

    def stream(self) -> Iterator[str]:
        """One streamed call."""
        for response in self.llm.stream_chat(self.messages):
            yield response.delta or ""

    async def ainvoke(self) -> str:
        """One async call."""
        return str((await self.llm.achat(self.messages)).message.content)


class LangChainEmbed:
    """LangChain ``Embeddings``: ``embed_documents`` / ``aembed_documents``."""

    def __init__(self, embeddings: Any) -> None:
        self.embeddings = embeddings

    def embed(self, texts: list[str]) -> list[list[float]]:
        """All vectors."""
        return list(self.embeddings.embed_documents(texts))

    async def aembed(self, texts: list[str]) -> list[list[float]]:
        """All vectors (async)."""
        return list(await self.embeddings.aembed_documents(texts))


class LlamaIndexEmbed:
    """A LlamaIndex embedding: ``get_text_embedding_batch`` / ``aget_text_embedding_batch``."""

    def __init__(self, embedding: Any) -> None:
        self.embedding = embedding

    def embed(self, texts: list[str]) -> list[list[float]]:
        """All vectors."""
        return list(self.embedding.get_text_embedding_batch(texts))

    async def aembed(self, texts: list[str]) -> list[list[float]]:
        """All vectors (async)."""
        return list(await self.embedding.aget_text_embedding_batch(texts))


def chat_openai(url: str, model: str) -> LangChainChat:
    """``ChatOpenAI`` with ``base_url=<fake>/v1``."""
    from langchain_openai import ChatOpenAI

    return LangChainChat(ChatOpenAI(model=model, base_url=url + "/v1", api_key=KEY))


def chat_anthropic(url: str, model: str) -> LangChainChat:
    """``ChatAnthropic`` with ``base_url=<fake>``."""
    from langchain_anthropic import ChatAnthropic

    return LangChainChat(ChatAnthropic(model=model, base_url=url, api_key=KEY, max_tokens=1024))


def chat_juhe(wire: str, *, bounded: bool = False) -> Callable[[str, str], LangChainChat]:
    """``ChatJuhe`` speaking ``wire``; ``bounded``: on the bounded-pool prototype."""

    def make(url: str, model: str) -> LangChainChat:
        from pydantic import SecretStr

        from langchain_juhe import ChatJuhe

        kwargs: dict[str, Any] = {"max_tokens": 1024} if wire == "anthropic" else {}
        if bounded:
            kwargs["http_async_client"] = bounded_client(100)
        return LangChainChat(
            ChatJuhe(
                model_name=model,
                base_url=url,
                api_key=SecretStr(KEY),
                api_format=wire,
                **kwargs,
            )
        )

    return make


def openai_like(url: str, model: str) -> LlamaIndexChat:
    """LlamaIndex ``OpenAILike`` (``is_chat_model=True``) with ``api_base=<fake>/v1``."""
    from llama_index.llms.openai_like import OpenAILike

    return LlamaIndexChat(
        OpenAILike(model=model, api_base=url + "/v1", api_key=KEY, is_chat_model=True)
    )


def juhe_llm(wire: str, *, bounded: bool = False) -> Callable[[str, str], LlamaIndexChat]:
    """LlamaIndex ``Juhe`` speaking ``wire``; ``bounded``: on the bounded-pool prototype."""

    def make(url: str, model: str) -> LlamaIndexChat:
        from llama_index_juhe import Juhe

        kwargs: dict[str, Any] = {"max_tokens": 1024} if wire == "anthropic" else {}
        if bounded:
            kwargs["async_http_client"] = bounded_client(100)
        return LlamaIndexChat(
            Juhe(model=model, api_base=url, api_key=KEY, api_format=wire, **kwargs)
        )

    return make


def raw_chat(
    wire: str, limits: tuple[int, int] | None = None, *, pool: str = "httpcore"
) -> Callable[[str, str], RawChat]:
    """Raw httpx on ``wire``: (max connections, keep-alive) ``limits`` (None: httpx's
    defaults); ``pool="bounded"`` uses the prototype pool, ``"httpx2"`` httpx2's client."""

    def async_client() -> Any:
        if pool == "bounded":
            return bounded_client(limits[0] if limits else 100)
        import httpx
        import httpx2

        lib: Any = httpx2 if pool == "httpx2" else httpx
        if limits is None:
            return lib.AsyncClient(timeout=60)
        connections, keepalive = limits
        return lib.AsyncClient(
            timeout=60,
            limits=lib.Limits(max_connections=connections, max_keepalive_connections=keepalive),
        )

    return lambda url, model: RawChat(url, model, wire, async_client)


def bounded_client(max_connections: int) -> Any:
    """An ``httpx.AsyncClient`` on the bounded-pool prototype (``bounded_pool.py``)."""
    import httpx
    from bounded_pool import bounded_transport

    return httpx.AsyncClient(transport=bounded_transport(max_connections), timeout=60)


def core_chat(wire: str) -> Callable[[str, str], CoreChat]:
    """``juhe_core`` clients on ``wire``."""
    return lambda url, model: CoreChat(url, model, wire)


def openai_embeddings(url: str, model: str) -> LangChainEmbed:
    """``OpenAIEmbeddings(check_embedding_ctx_length=False)``: sends strings, not tokens."""
    from langchain_openai import OpenAIEmbeddings

    return LangChainEmbed(
        OpenAIEmbeddings(
            model=model, base_url=url + "/v1", api_key=KEY, check_embedding_ctx_length=False
        )
    )


def juhe_embeddings(url: str, model: str, **kwargs: Any) -> LangChainEmbed:
    """``JuheEmbeddings`` with its defaults (or ``kwargs``)."""
    from pydantic import SecretStr

    from langchain_juhe import JuheEmbeddings

    return LangChainEmbed(
        JuheEmbeddings(model_name=model, base_url=url, api_key=SecretStr(KEY), **kwargs)
    )


def openai_embedding(url: str, model: str) -> LlamaIndexEmbed:
    """LlamaIndex ``OpenAIEmbedding`` with its defaults."""
    from llama_index.embeddings.openai import OpenAIEmbedding

    return LlamaIndexEmbed(OpenAIEmbedding(model_name=model, api_base=url + "/v1", api_key=KEY))


def juhe_embedding(url: str, model: str, **kwargs: Any) -> LlamaIndexEmbed:
    """LlamaIndex ``JuheEmbedding`` with its defaults (or ``kwargs``)."""
    from llama_index_juhe import JuheEmbedding

    return LlamaIndexEmbed(JuheEmbedding(model_name=model, api_base=url, api_key=KEY, **kwargs))


def _floor_args(model: str) -> dict[str, Any]:
    from fake_upstream import WORDS, knobs

    chunks, _ = knobs(model, {})
    return {"answer": ANSWER, "pieces": [WORDS[i % len(WORDS)] for i in range(chunks)]}


def langchain_floor(url: str, model: str) -> LangChainChat:
    """LangChain's floor: a ``BaseChatModel`` answering from memory (``floors.py``)."""
    from floors import FloorChatModel

    return LangChainChat(FloorChatModel(**_floor_args(model)))


def llama_index_floor(url: str, model: str) -> LlamaIndexChat:
    """LlamaIndex's floor: an LLM answering from memory (``floors.py``)."""
    from floors import FloorLLM

    return LlamaIndexChat(FloorLLM(**_floor_args(model)))


RAW_O, RAW_A = "httpx raw [openai]", "httpx raw [anthropic]"
LANGCHAIN_FLOOR = "langchain-core floor (no I/O)"
LLAMA_INDEX_FLOOR = "llama-index-core floor (no I/O)"

CHAT_ROWS = (
    Row(RAW_O, raw_chat("openai")),
    Row(RAW_A, raw_chat("anthropic")),
    Row("juhe_core [openai]", core_chat("openai"), RAW_O, ours=True),
    Row("juhe_core [anthropic]", core_chat("anthropic"), RAW_A, ours=True),
    Row(LANGCHAIN_FLOOR, langchain_floor),
    Row("ChatOpenAI", chat_openai, RAW_O),
    Row("ChatJuhe [openai]", chat_juhe("openai"), RAW_O, "ChatOpenAI", ours=True),
    Row("ChatAnthropic", chat_anthropic, RAW_A),
    Row("ChatJuhe [anthropic]", chat_juhe("anthropic"), RAW_A, "ChatAnthropic", ours=True),
    Row(LLAMA_INDEX_FLOOR, llama_index_floor),
    Row("OpenAILike", openai_like, RAW_O),
    Row("Juhe [openai]", juhe_llm("openai"), RAW_O, "OpenAILike", ours=True),
    Row("Juhe [anthropic]", juhe_llm("anthropic"), RAW_A, "OpenAILike", ours=True),
)
"""Rows of scenarios (b) and (c); the floors show what each framework costs by itself."""

RAW_BOUNDED = "httpx raw, bounded pool of 100 (prototype)"
BURST_ROWS = (
    Row(RAW_BOUNDED, raw_chat("openai", (100, 100), pool="bounded")),
    Row(
        "httpx raw, one pool of 100/100 (juhe_core's total, unsharded)",
        raw_chat("openai", (100, 100)),
        RAW_BOUNDED,
        quick=False,
    ),
    Row("httpx raw, httpx's default limits (100/20)", raw_chat("openai"), RAW_BOUNDED, quick=False),
    Row(
        "httpx raw, pool 1000/100 (openai SDK's limits)",
        raw_chat("openai", (1000, 100)),
        RAW_BOUNDED,
        quick=False,
    ),
    Row(
        "httpx2 raw, pool 100/100",
        raw_chat("openai", (100, 100), pool="httpx2"),
        RAW_BOUNDED,
        quick=False,
    ),
    Row("juhe_core [openai]", core_chat("openai"), RAW_BOUNDED, ours=True),
    Row("ChatOpenAI", chat_openai, RAW_BOUNDED),
    Row("ChatJuhe [openai]", chat_juhe("openai"), RAW_BOUNDED, "ChatOpenAI", ours=True),
    Row("ChatAnthropic", chat_anthropic, RAW_BOUNDED),
    Row("ChatJuhe [anthropic]", chat_juhe("anthropic"), RAW_BOUNDED, "ChatAnthropic", ours=True),
    Row("OpenAILike", openai_like, RAW_BOUNDED),
    Row("Juhe [openai]", juhe_llm("openai"), RAW_BOUNDED, "OpenAILike", ours=True),
    Row("Juhe [anthropic]", juhe_llm("anthropic"), RAW_BOUNDED, "OpenAILike", ours=True),
    Row(
        "ChatJuhe [openai] on the bench's bounded pool (comparison)",
        chat_juhe("openai", bounded=True),
        RAW_BOUNDED,
        "ChatOpenAI",
        quick=False,
    ),
    Row(
        "Juhe [openai] on the bench's bounded pool (comparison)",
        juhe_llm("openai", bounded=True),
        RAW_BOUNDED,
        "OpenAILike",
        quick=False,
    ),
)
"""Rows of scenario (d). The baseline is the floor: raw httpx on a pool without
httpcore 1.0.9's per-event O(pool²) scan; the pool variants show why."""

RAW_E = "httpx raw (1,000/request, base64)"
JUHE_EMBEDDINGS_1000 = "JuheEmbeddings, chunk_size=1000 set explicitly (the default)"
EMBED_ROWS = (
    Row(RAW_E, lambda url, model: RawEmbed(url, model)),
    Row("juhe_core", lambda url, model: CoreEmbed(url, model), RAW_E, ours=True),
    Row("OpenAIEmbeddings †", openai_embeddings, RAW_E),
    Row("JuheEmbeddings", juhe_embeddings, RAW_E, "OpenAIEmbeddings †", ours=True),
    Row(
        JUHE_EMBEDDINGS_1000,
        lambda url, model: juhe_embeddings(url, model, chunk_size=1000),
        RAW_E,
        "OpenAIEmbeddings †",
    ),
    Row("OpenAIEmbedding (llama-index)", openai_embedding, RAW_E),
    Row("JuheEmbedding", juhe_embedding, RAW_E, "OpenAIEmbedding (llama-index)", ours=True),
    Row(
        "JuheEmbedding on the bench's bounded pool (comparison)",
        lambda url, model: juhe_embedding(url, model, async_http_client=bounded_client(100)),
        RAW_E,
        "OpenAIEmbedding (llama-index)",
    ),
)
"""Rows of scenario (e)."""


def langchain_bare(url: str, model: str) -> LangChainChat:
    """langchain-core alone: ``FakeListChatModel``, no HTTP (the bare framework)."""
    from langchain_core.language_models import FakeListChatModel

    return LangChainChat(FakeListChatModel(responses=[ANSWER]))


def llama_index_bare(url: str, model: str) -> LlamaIndexChat:
    """llama-index-core alone: ``MockLLM``, no HTTP (the bare framework)."""
    from llama_index.core.llms import MockLLM

    return LlamaIndexChat(MockLLM())


LANGCHAIN_BARE, LLAMA_INDEX_BARE = (
    "langchain-core alone (fake model)",
    "llama-index-core alone (MockLLM)",
)
RSS_ROWS = (
    Row(RAW_O, raw_chat("openai")),
    Row(LANGCHAIN_BARE, langchain_bare),
    Row("ChatOpenAI", chat_openai, RAW_O),
    Row("ChatAnthropic", chat_anthropic, RAW_O),
    Row("ChatJuhe [openai]", chat_juhe("openai"), RAW_O, LANGCHAIN_BARE, ours=True),
    Row("ChatJuhe [anthropic]", chat_juhe("anthropic"), RAW_O, LANGCHAIN_BARE, ours=True),
    Row(LLAMA_INDEX_BARE, llama_index_bare),
    Row("OpenAILike", openai_like, RAW_O),
    Row("Juhe [openai]", juhe_llm("openai"), RAW_O, LLAMA_INDEX_BARE, ours=True),
    Row("Juhe [anthropic]", juhe_llm("anthropic"), RAW_O, LLAMA_INDEX_BARE, ours=True),
)
"""Rows of scenario (f); ours are compared with their bare framework."""


def find(rows: Sequence[Row], name: str) -> Row:
    """The row called ``name``."""
    for row in rows:
        if row.name == name:
            return row
    raise KeyError(name)
