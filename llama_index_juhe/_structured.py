"""Structured output through a JSON-schema response format, where the model supports it.

LlamaIndex's default for a function-calling LLM is a forced tool call
(``FunctionCallingProgram``); models with native structured output answer more reliably
when asked for JSON matching a schema, as llama-index-llms-openai does. This base class of
``Juhe`` makes that choice per model (``_supports_json_schema``) and otherwise defers to
LlamaIndex's own programs. ``pydantic_program_mode`` other than DEFAULT is honoured as is.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from typing import Any, TypeVar

import llama_index.core.instrumentation as instrument
from llama_index.core.bridge.pydantic import BaseModel, Field
from llama_index.core.instrumentation.events.llm import (
    LLMStructuredPredictEndEvent,
    LLMStructuredPredictStartEvent,
)
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.program.streaming_utils import process_streaming_content_incremental
from llama_index.core.prompts import BasePromptTemplate, PromptTemplate
from llama_index.core.types import PydanticProgramMode

from llama_index_juhe._options import schema_format

__all__ = ["JsonSchemaLLM"]

# core re-exports get_dispatcher without listing it in __all__, hence the ignore.
dispatcher = instrument.get_dispatcher(__name__)  # type: ignore[attr-defined]
Model = TypeVar("Model", bound=BaseModel)


class JsonSchemaLLM(FunctionCallingLLM):
    """``structured_predict`` and friends on a JSON-schema response format when supported."""

    strict: bool = Field(default=False, description="Strict tool and JSON schemas.")

    def _supports_json_schema(self) -> bool:
        """Whether the model takes a JSON-schema response format (subclasses decide)."""
        raise NotImplementedError

    def _use_json_schema(self) -> bool:
        return (
            self.pydantic_program_mode == PydanticProgramMode.DEFAULT
            and self._supports_json_schema()
        )

    def _schema_kwargs(
        self, llm_kwargs: dict[str, Any] | None, output_cls: type[Model]
    ) -> dict[str, Any]:
        kwargs = dict(llm_kwargs or {})
        # A forced tool call and a schema answer exclude each other.
        for key in ("tool_choice", "tool_required", "allow_parallel_tool_calls"):
            kwargs.pop(key, None)
        kwargs["response_format"] = schema_format(output_cls, strict=self.strict)
        return kwargs

    def _schema_messages(self, prompt: BasePromptTemplate, prompt_args: dict[str, Any]) -> Any:
        return self._extend_messages(prompt.format_messages(llm=self, **prompt_args))

    @dispatcher.span
    def structured_predict(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Model:
        """An instance of ``output_cls`` predicted from ``prompt``."""
        if not self._use_json_schema():
            fallback: Model = super().structured_predict(
                output_cls, prompt, llm_kwargs, **prompt_args
            )
            return fallback
        dispatcher.event(
            LLMStructuredPredictStartEvent(
                output_cls=output_cls, template=prompt, template_args=prompt_args
            )
        )
        messages = self._schema_messages(prompt, prompt_args)
        response = self.chat(messages, **self._schema_kwargs(llm_kwargs, output_cls))
        result: Model = output_cls.model_validate_json(response.message.content or "")
        dispatcher.event(LLMStructuredPredictEndEvent(output=result))
        return result

    @dispatcher.span
    async def astructured_predict(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Model:
        """An instance of ``output_cls`` predicted from ``prompt``, async."""
        if not self._use_json_schema():
            fallback: Model = await super().astructured_predict(
                output_cls, prompt, llm_kwargs, **prompt_args
            )
            return fallback
        dispatcher.event(
            LLMStructuredPredictStartEvent(
                output_cls=output_cls, template=prompt, template_args=prompt_args
            )
        )
        messages = self._schema_messages(prompt, prompt_args)
        response = await self.achat(messages, **self._schema_kwargs(llm_kwargs, output_cls))
        result: Model = output_cls.model_validate_json(response.message.content or "")
        dispatcher.event(LLMStructuredPredictEndEvent(output=result))
        return result

    def _structured_stream_call(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Generator[Any, None, None]:
        if not self._use_json_schema():
            yield from super()._structured_stream_call(
                output_cls, prompt, llm_kwargs, **prompt_args
            )
            return
        messages = self._schema_messages(prompt, prompt_args)
        current = None
        for chunk in self.stream_chat(messages, **self._schema_kwargs(llm_kwargs, output_cls)):
            current = process_streaming_content_incremental(chunk, output_cls, current)
            yield current

    async def _structured_astream_call(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> AsyncGenerator[Any, None]:
        if not self._use_json_schema():
            return await super()._structured_astream_call(
                output_cls, prompt, llm_kwargs, **prompt_args
            )
        messages = self._schema_messages(prompt, prompt_args)
        kwargs = self._schema_kwargs(llm_kwargs, output_cls)

        async def gen() -> AsyncGenerator[Any, None]:
            current = None
            async for chunk in await self.astream_chat(messages, **kwargs):
                current = process_streaming_content_incremental(chunk, output_cls, current)
                yield current

        return gen()
