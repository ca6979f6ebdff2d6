"""The frameworks' own floors: chat models that do no I/O and no parsing.

``FloorChatModel`` (LangChain) and ``FloorLLM`` (LlamaIndex) answer from memory through
the same framework paths a real integration uses (``BaseChatModel.stream`` with its
callbacks and chunk merging; ``@llm_chat_callback`` with its events). Whatever they
cost per call or per chunk, every integration on that framework pays too, so the gap
between an integration and its floor is what the integration itself adds.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.custom import CustomLLM


class FloorChatModel(BaseChatModel):
    """A LangChain chat model answering ``answer``, or streaming ``pieces``, from memory."""

    answer: str
    pieces: list[str]

    @property
    def _llm_type(self) -> str:
        return "bench-floor"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self.answer))])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return self._generate(messages, stop)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for piece in self.pieces:
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))


class FloorLLM(CustomLLM):
    """A LlamaIndex LLM answering ``answer``, or streaming ``pieces``, from memory."""

    answer: str
    pieces: list[str]

    @property
    def metadata(self) -> LLMMetadata:
        """A chat model."""
        return LLMMetadata(is_chat_model=True, model_name="bench-floor")

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """The answer."""
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=self.answer))

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """The answer (async)."""
        response: ChatResponse = self.chat(messages)
        return response

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        """The pieces, each response carrying the text so far (as LlamaIndex LLMs do)."""

        def gen() -> ChatResponseGen:
            text = ""
            for piece in self.pieces:
                text += piece
                message = ChatMessage(role=MessageRole.ASSISTANT, content=text)
                yield ChatResponse(message=message, delta=piece)

        return gen()

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """The answer as a completion."""
        return CompletionResponse(text=self.answer)

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        """Not used by the benchmark."""
        raise NotImplementedError
