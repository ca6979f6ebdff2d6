"""``JuheToolSpec``: Juhe's image, speech, moderation and Midjourney tools for LlamaIndex agents.

A thin ``BaseToolSpec`` over ``juhe_core.tools``: each tool's name, description and
argument schema are juhe_core's ``ToolSpec`` unchanged, and a call runs its sync or async
function, so LangChain and LlamaIndex agents see the same tools. ``spec_functions`` pairs
each sync method with its async twin (``generate_image`` / ``agenerate_image``), so
``FunctionTool.acall`` is truly async rather than a thread running the sync method.

A tool returns a JSON-able dict (file paths, URLs, Midjourney buttons); the agent sees it
as JSON text and ``ToolOutput.raw_output`` keeps the dict. Images stay files (or URLs):
a tool message carrying an image block could not be sent in the openai format.
"""

from __future__ import annotations

import copy
import inspect
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

import httpx
from llama_index.core.bridge.pydantic import BaseModel, ConfigDict, SecretStr, create_model
from llama_index.core.tools import FunctionTool, ToolMetadata
from llama_index.core.tools.tool_spec.base import SPEC_FUNCTION_TYPE, BaseToolSpec

from juhe_core.settings import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, Settings
from juhe_core.tools import TOOL_NAMES, JuheTools, ToolSpec
from llama_index_juhe._clients import Clients

__all__ = ["JuheToolSpec", "fn_schema"]

Sync = Callable[..., dict[str, Any]]
Async = Callable[..., Awaitable[dict[str, Any]]]
F = TypeVar("F", bound=Callable[..., Any])
_SCALARS: dict[str, Any] = {"string": str, "integer": int, "number": float, "boolean": bool}


def _python_type(prop: Mapping[str, Any]) -> Any:
    """A Python type for one JSON-schema property (for validation; the schema is kept)."""
    if prop.get("enum"):
        return Literal[tuple(prop["enum"])]
    if prop.get("type") == "array":
        return list[_python_type(prop.get("items") or {})]  # type: ignore[misc]
    return _SCALARS.get(str(prop.get("type")), Any)


def fn_schema(spec: ToolSpec) -> type[BaseModel]:
    """A pydantic model of a tool's arguments whose JSON schema is the spec's, exactly.

    LlamaIndex reads a tool's parameters from ``fn_schema.model_json_schema()``; the
    fields make ``model_validate`` work, and ``json_schema_extra`` hands out juhe_core's
    schema unchanged, so no description or limit (``minItems``) is lost in translation.
    """
    required = set(spec.parameters.get("required", ()))
    fields: dict[str, Any] = {
        name: (_python_type(prop), ... if name in required else None)
        for name, prop in spec.parameters.get("properties", {}).items()
    }

    def exact(schema: dict[str, Any]) -> None:
        schema.clear()
        schema.update(copy.deepcopy(dict(spec.parameters)))

    title = "".join(word.title() for word in spec.name.split("_"))
    config = ConfigDict(json_schema_extra=exact)
    model: type[BaseModel] = create_model(title, __config__=config, **fields)
    return model


def _tool_name(fn_name: str) -> str:
    """The tool a method name belongs to (``agenerate_image`` -> ``generate_image``)."""
    return fn_name[1:] if fn_name not in TOOL_NAMES and fn_name[1:] in TOOL_NAMES else fn_name


def _as_json(output: Any) -> str:
    """A tool's dict as the text the agent shows the model."""
    return json.dumps(output, ensure_ascii=False)


def _sync_method(name: str) -> Sync:
    def method(self: JuheToolSpec, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return self.tool(name, in_loop=False).run(*args, **kwargs)

    return _named(method, name)


def _async_method(name: str) -> Async:
    async def method(self: JuheToolSpec, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return await self.tool(name, in_loop=True).arun(*args, **kwargs)

    return _named(method, f"a{name}")


def _named(method: F, name: str) -> F:
    # The name, docstring and signature of juhe_core's implementation, for help() and IDEs.
    source = getattr(JuheTools, name)
    method.__name__ = method.__qualname__ = name
    method.__doc__ = source.__doc__
    method.__signature__ = inspect.signature(source)  # type: ignore[attr-defined]
    return method


class JuheToolSpec(BaseToolSpec):
    """Images, image edits, speech, moderation and Midjourney as LlamaIndex tools.

    Example:
        >>> from llama_index.core.agent.workflow import FunctionAgent
        >>> from llama_index_juhe import Juhe, JuheToolSpec
        >>> tools = JuheToolSpec(output_dir="out").to_tool_list()  # doctest: +SKIP
        >>> agent = FunctionAgent(tools=tools, llm=Juhe(model="gpt-4o"))  # doctest: +SKIP

    Key arguments:
        api_key / api_base: default to ``JUHE_API_KEY`` / ``JUHE_BASE_URL``.
        allow_insecure_http: send the key over plain ``http://`` to a host that is not
            loopback (refused by default).
        output_dir: where images and audio are written (created when needed).
        **options: the other ``juhe_core.tools.JuheTools`` settings: ``image_model``,
            ``edit_model``, ``speech_model``, ``voice``, ``moderation_model``,
            ``mj_timeout``, ``mj_poll_interval``, ``on_progress``.
        http_client / async_http_client: your own ``httpx`` clients (left open for you).
        tools: a ready ``JuheTools`` to use as is (its clients are then yours to manage).
    """

    # A class-level list, as every LlamaIndex tool spec declares it.
    spec_functions: list[SPEC_FUNCTION_TYPE] = [(n, f"a{n}") for n in TOOL_NAMES]  # noqa: RUF012

    generate_image = _sync_method("generate_image")
    agenerate_image = _async_method("generate_image")
    edit_image = _sync_method("edit_image")
    aedit_image = _async_method("edit_image")
    text_to_speech = _sync_method("text_to_speech")
    atext_to_speech = _async_method("text_to_speech")
    moderate_text = _sync_method("moderate_text")
    amoderate_text = _async_method("moderate_text")
    midjourney_imagine = _sync_method("midjourney_imagine")
    amidjourney_imagine = _async_method("midjourney_imagine")
    midjourney_action = _sync_method("midjourney_action")
    amidjourney_action = _async_method("midjourney_action")
    midjourney_modal = _sync_method("midjourney_modal")
    amidjourney_modal = _async_method("midjourney_modal")
    midjourney_describe = _sync_method("midjourney_describe")
    amidjourney_describe = _async_method("midjourney_describe")
    midjourney_blend = _sync_method("midjourney_blend")
    amidjourney_blend = _async_method("midjourney_blend")

    def __init__(
        self,
        *,
        api_key: str | SecretStr | None = None,
        api_base: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: dict[str, str] | None = None,
        allow_insecure_http: bool = False,
        output_dir: str | Path = "juhe-output",
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        tools: JuheTools | None = None,
        **options: Any,
    ) -> None:
        self._settings = Settings.resolve(
            api_key=api_key,
            base_url=api_base,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
            allow_insecure_http=allow_insecure_http,
        )
        self._options = {"output_dir": Path(output_dir), **options}
        self._clients = Clients(http_client, async_http_client)
        self._given = tools
        self._tools: JuheTools | None = None
        self._bound(in_loop=False)  # unknown options fail here, as JuheTools' TypeError

    def _bound(self, *, in_loop: bool) -> JuheTools:
        """The ``JuheTools`` over this spec's clients (a new one when the loop changed)."""
        if self._given is not None:
            return self._given
        client = self._clients.sync(self._settings)
        aclient = (
            self._clients.async_(self._settings)
            if in_loop
            else self._clients.unbound_async(self._settings)
        )
        tools = self._tools
        if tools is None or tools.client is not client or tools.aclient is not aclient:
            tools = self._tools = JuheTools(client, aclient, **self._options)
        return tools

    def tool(self, name: str, *, in_loop: bool = False) -> ToolSpec:
        """juhe_core's ``ToolSpec`` called ``name`` (``in_loop``: for an async call)."""
        for spec in self._bound(in_loop=in_loop).specs():
            if spec.name == name:
                return spec
        raise KeyError(f"no Juhe tool named {name!r}; the tools are {', '.join(TOOL_NAMES)}")

    def get_fn_schema_from_fn_name(
        self, fn_name: str, spec_functions: list[SPEC_FUNCTION_TYPE] | None = None
    ) -> type[BaseModel] | None:
        """The arguments model of the tool ``fn_name`` (see ``fn_schema``)."""
        return fn_schema(self.tool(_tool_name(fn_name)))

    def get_metadata_from_fn_name(
        self, fn_name: str, spec_functions: list[SPEC_FUNCTION_TYPE] | None = None
    ) -> ToolMetadata | None:
        """Name, description and argument schema: juhe_core's, unchanged."""
        spec = self.tool(_tool_name(fn_name))
        return ToolMetadata(name=spec.name, description=spec.description, fn_schema=fn_schema(spec))

    def to_tool_list(
        self,
        spec_functions: Sequence[SPEC_FUNCTION_TYPE] | None = None,
        func_to_metadata_mapping: dict[str, ToolMetadata] | None = None,
    ) -> list[FunctionTool]:
        """One ``FunctionTool`` per tool, sync and async, answering the agent in JSON."""
        tools = super().to_tool_list(
            list(spec_functions) if spec_functions else None, func_to_metadata_mapping
        )
        return [
            FunctionTool(fn=t.fn, async_fn=t.async_fn, metadata=t.metadata, callback=_as_json)
            for t in tools
        ]

    def close(self) -> None:
        """Close the pooled sync connections (a caller's ``http_client`` stays open)."""
        self._clients.close()

    async def aclose(self) -> None:
        """Close the pooled async connections (a caller's client stays open)."""
        await self._clients.aclose()
