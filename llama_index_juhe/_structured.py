"""Structured output by the best method the model and the wire format support.

LlamaIndex's default for a function-calling LLM is a forced tool call
(``FunctionCallingProgram``), and for any other LLM a prompt asking for JSON
(``LLMTextCompletionProgram``). Models with native structured output answer more reliably
when asked for JSON matching a schema, as llama-index-llms-openai does. ``structured_method``
picks, in order of preference (issue 5: "native JSON schema → tool calling → JSON mode"):

- ``json_schema``: a JSON-schema response format, when the model has native structured
  output and the format carries a response format;
- ``function_calling``: LlamaIndex's forced tool call, when the model calls tools;
- ``json_mode``: LlamaIndex's JSON prompt, with the ``json_object`` response format added;
- ``text``: LlamaIndex's JSON prompt alone.

The Anthropic format has no response format at all (the codec refuses one), so Claude
models get a tool call there. ``pydantic_program_mode`` other than DEFAULT is honoured as is.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator, Mapping
from typing import Any, Final, Literal, TypeAlias, TypeVar

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

from juhe_core.catalogue import ModelCapabilities
from juhe_core.messages import JsonObjectFormat
from llama_index_juhe._options import schema_format

__all__ = ["RESPONSE_FORMATS", "JsonSchemaLLM", "StructuredMethod", "structured_method"]

# core re-exports get_dispatcher without listing it in __all__, hence the ignore.
dispatcher = instrument.get_dispatcher(__name__)  # type: ignore[attr-defined]
Model = TypeVar("Model", bound=BaseModel)
StructuredMethod: TypeAlias = Literal["json_schema", "function_calling", "json_mode", "text"]

# Wire formats whose codec encodes ``ChatRequest.response_format`` (juhe_core.wire:
# openai ``response_format``, gemini ``responseMimeType``/``responseSchema``, responses
# ``text.format``); the anthropic codec raises UnsupportedFeatureError for it.
RESPONSE_FORMATS: Final = frozenset({"openai", "gemini", "responses"})


def structured_method(
    caps: ModelCapabilities, api_format: str, *, function_calling: bool
) -> StructuredMethod:
    """The best structured-output method for a model spoken to in ``api_format``.

    ``function_calling`` is the LLM's ``metadata.is_function_calling_model`` (catalogue
    fact or user override), which is also what LlamaIndex's program choice reads.
    """
    carries_format = api_format in RESPONSE_FORMATS
    if carries_format and caps.structured_output:
        return "json_schema"
    if function_calling:
        return "function_calling"
    if carries_format and caps.json_mode:
        return "json_mode"
    return "text"


class JsonSchemaLLM(FunctionCallingLLM):
    """``structured_predict`` and friends by the method ``structured_method`` picks."""

    strict: bool = Field(default=False, description="Strict tool and JSON schemas.")

    def _structured_method(self, llm_kwargs: Mapping[str, Any] | None = None) -> StructuredMethod:
        """The method for this model and the call's format: ``llm_kwargs["api_format"]``
        when given, else the model's (subclasses decide)."""
        raise NotImplementedError

    def _use_json_schema(self, llm_kwargs: Mapping[str, Any] | None) -> bool:
        return (
            self.pydantic_program_mode == PydanticProgramMode.DEFAULT
            and self._structured_method(llm_kwargs) == "json_schema"
        )

    def _program_kwargs(self, llm_kwargs: dict[str, Any] | None) -> dict[str, Any] | None:
        """``llm_kwargs`` for LlamaIndex's own programs: JSON mode added where it is best."""
        if (
            self.pydantic_program_mode != PydanticProgramMode.DEFAULT
            or self._structured_method(llm_kwargs) != "json_mode"
        ):
            return llm_kwargs
        return {"response_format": JsonObjectFormat(), **(llm_kwargs or {})}

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
        if not self._use_json_schema(llm_kwargs):
            fallback: Model = super().structured_predict(
                output_cls, prompt, self._program_kwargs(llm_kwargs), **prompt_args
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
        if not self._use_json_schema(llm_kwargs):
            fallback: Model = await super().astructured_predict(
                output_cls, prompt, self._program_kwargs(llm_kwargs), **prompt_args
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
        if not self._use_json_schema(llm_kwargs):
            yield from super()._structured_stream_call(
                output_cls, prompt, self._program_kwargs(llm_kwargs), **prompt_args
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
        if not self._use_json_schema(llm_kwargs):
            return await super()._structured_astream_call(
                output_cls, prompt, self._program_kwargs(llm_kwargs), **prompt_args
            )
        messages = self._schema_messages(prompt, prompt_args)
        kwargs = self._schema_kwargs(llm_kwargs, output_cls)

        async def gen() -> AsyncGenerator[Any, None]:
            current = None
            async for chunk in await self.astream_chat(messages, **kwargs):
                current = process_streaming_content_incremental(chunk, output_cls, current)
                yield current

        return gen()
