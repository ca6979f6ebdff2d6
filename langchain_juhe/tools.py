"""Agent tools over the Juhe media endpoints: ``JuheTool`` and ``JuheToolkit``.

Each tool is a thin LangChain wrapper of one ``juhe_core.tools.ToolSpec`` (image
generation and edits, text to speech, moderation, Midjourney imagine / action / describe /
blend): the spec's name and description, its JSON schema as the schema the model sees and
as a pydantic ``args_schema`` that validates the model's arguments, and its sync ``run``
and async ``arun``. Nothing about the endpoints is decided here.

Tools answer in LangChain's ``content_and_artifact`` convention:

- ``content`` (what the model reads): the spec's JSON result as text (file paths, URLs,
  Midjourney buttons, moderation categories). Every wire format can carry it. With
  ``media_in_content=True`` the images/audio follow as standard content blocks, for formats
  that carry media inside tool results (``api_format="anthropic"``).
- ``artifact`` (for your code, on ``ToolMessage.artifact``): ``{"result": <the JSON
  result>, "media": [<standard image/audio content blocks>]}``; saved files are read back
  as base64 blocks, URL-only images become URL blocks.

Failures the model can act on (a Midjourney task that failed or timed out, a refused
prompt, a bad file path) raise ``ToolException``; with the default ``handle_tool_error=True``
the agent sees the message as an error ``ToolMessage`` and can try again. Missing keys,
connection errors and the like are raised as they are.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, TypedDict

import httpx
from langchain_core.callbacks import AsyncCallbackManagerForToolRun, CallbackManagerForToolRun
from langchain_core.tools import ArgsSchema, BaseTool, BaseToolkit, ToolException
from langchain_core.utils import from_env, secret_from_env
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, create_model

from juhe_core.client import AsyncJuheClient
from juhe_core.errors import (
    APITimeoutError,
    BadRequestError,
    ConfigurationError,
    TaskFailedError,
)
from juhe_core.settings import DEFAULT_TIMEOUT
from juhe_core.tools import TOOL_NAMES, JuheTools, ToolSpec
from juhe_core.wire.midjourney import MidjourneyTask
from langchain_juhe._clients import ClientCache, connection_settings

__all__ = ["JuheTool", "JuheToolArtifact", "JuheToolkit"]

_SCALARS: Mapping[str, type] = {"string": str, "integer": int, "number": float, "boolean": bool}
# What the model can fix by calling again: task failures, timeouts, refused prompts, bad
# arguments (juhe_core raises ValueError / UnsupportedFeatureError for those).
_MODEL_FIXABLE = (TaskFailedError, APITimeoutError, BadRequestError, ValueError)


class JuheToolArtifact(TypedDict):
    """``ToolMessage.artifact`` of every Juhe tool."""

    result: dict[str, Any]
    """The tool's JSON result (also the text the model reads)."""
    media: list[dict[str, Any]]
    """Images and audio as LangChain standard ``image`` / ``audio`` content blocks."""


def _annotation(prop: Mapping[str, Any]) -> Any:
    if "enum" in prop:
        return Literal[tuple(prop["enum"])]
    kind = prop.get("type")
    if kind == "array" and isinstance(prop.get("items"), Mapping):
        return list[_annotation(prop["items"])]  # type: ignore[misc]
    if isinstance(kind, str) and kind in _SCALARS:
        return _SCALARS[kind]
    raise TypeError(f"unsupported JSON schema for a tool argument: {dict(prop)!r}")


def args_model(spec: ToolSpec) -> type[BaseModel]:
    """A pydantic model validating the arguments ``spec.parameters`` describes.

    Optional arguments default to None and are then left out of the call, so the spec's
    own defaults apply. A schema construct not handled here raises TypeError at once.
    """
    required = set(spec.parameters.get("required", ()))
    fields: dict[str, Any] = {}
    for name, prop in spec.parameters.get("properties", {}).items():
        annotation = _annotation(prop)
        constraints = {
            "description": prop.get("description"),
            "min_length": prop.get("minItems"),
            "max_length": prop.get("maxItems"),
        }
        if name in required:
            fields[name] = (annotation, Field(..., **constraints))
        else:
            fields[name] = (annotation | None, Field(None, **constraints))
    model_name = "".join(part.title() for part in spec.name.split("_")) + "Input"
    return create_model(model_name, __doc__=spec.description, **fields)


def _file_block(kind: str, path: str, mime_type: str) -> dict[str, Any]:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return {"type": kind, "base64": data, "mime_type": mime_type}


def media_blocks(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The images and audio of a tool result as standard content blocks.

    Reads the files the tool saved (under its ``output_dir``); images known only by URL
    (Midjourney, ``url`` answers) become URL blocks.
    """
    blocks: list[dict[str, Any]] = []
    for image in result.get("images", ()):
        if image.get("path"):
            blocks.append(_file_block("image", image["path"], image.get("mime_type", "image/png")))
        elif image.get("url"):
            blocks.append({"type": "image", "url": image["url"]})
    if result.get("image_url"):
        blocks.append({"type": "image", "url": result["image_url"]})
    mime = result.get("mime_type")
    if result.get("path") and isinstance(mime, str) and mime.startswith("audio/"):
        blocks.append(_file_block("audio", result["path"], mime))
    return blocks


class JuheTool(BaseTool):
    """One Juhe media tool (made by ``JuheToolkit.get_tools``), sync and async.

    The model sees the spec's JSON schema exactly (``tool_call_schema``); the arguments it
    sends are validated by ``args_schema`` before the call.
    """

    toolkit: JuheToolkit = Field(exclude=True)
    """The toolkit whose clients and settings this tool uses."""
    parameters: dict[str, Any]
    """The spec's JSON schema of the arguments."""
    media_in_content: bool = False
    """Also give the images/audio to the model as content blocks (formats that carry media
    in tool results only: ``api_format="anthropic"``)."""
    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"
    handle_tool_error: bool | str | Callable[[ToolException], str] | None = True

    @property
    def tool_call_schema(self) -> ArgsSchema:
        """The spec's JSON schema, as the model should see it (a fresh copy each time)."""
        return copy.deepcopy(self.parameters)

    def _output(self, result: dict[str, Any]) -> tuple[str | list[Any], JuheToolArtifact]:
        media = media_blocks(result)
        text = json.dumps(result, ensure_ascii=False)
        content: str | list[Any] = text
        if self.media_in_content and media:
            content = [{"type": "text", "text": text}, *media]
        return content, JuheToolArtifact(result=result, media=media)

    def _run(
        self, run_manager: CallbackManagerForToolRun | None = None, **kwargs: Any
    ) -> tuple[str | list[Any], JuheToolArtifact]:
        spec = self.toolkit.spec(self.name)
        with _as_tool_errors():
            result = spec.run(**_given(kwargs))
        return self._output(result)

    async def _arun(
        self, run_manager: AsyncCallbackManagerForToolRun | None = None, **kwargs: Any
    ) -> tuple[str | list[Any], JuheToolArtifact]:
        spec = self.toolkit.aspec(self.name)
        with _as_tool_errors():
            result = await spec.arun(**_given(kwargs))
        return self._output(result)


def _given(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if v is not None}


@contextmanager
def _as_tool_errors() -> Iterator[None]:
    """Turn the errors a model can act on into ``ToolException`` (the cause kept)."""
    try:
        yield
    except ConfigurationError:
        raise
    except _MODEL_FIXABLE as exc:
        raise ToolException(str(exc)) from exc


class JuheToolkit(BaseToolkit):
    """Image generation and edits, text to speech, moderation and Midjourney, as agent tools.

    Setup:
        ``JUHE_API_KEY`` (and ``JUHE_BASE_URL``) as for ``ChatJuhe``. Files are written
        under ``output_dir`` only.

    Instantiate:
        .. code-block:: python

            from langchain_juhe import ChatJuhe, JuheToolkit

            toolkit = JuheToolkit(output_dir="out", mj_timeout=600)
            tools = toolkit.get_tools()  # or JuheToolkit(tools=["generate_image"])

    Use with an agent:
        .. code-block:: python

            from langchain.agents import create_agent

            agent = create_agent(ChatJuhe(model="gpt-4o-mini"), tools=tools)
            state = agent.invoke({"messages": [("user", "Draw a red fox")]})
            state["messages"][-2].artifact["media"]  # the image as a content block

    Tools: ``generate_image``, ``edit_image``, ``text_to_speech``, ``moderate_text``,
    ``midjourney_imagine``, ``midjourney_action``, ``midjourney_modal``, ``midjourney_describe``,
    ``midjourney_blend`` (``juhe_core.tools.TOOL_NAMES``).
    """

    api_key: SecretStr | None = Field(default_factory=secret_from_env("JUHE_API_KEY", default=None))
    """API key; defaults to ``JUHE_API_KEY``."""
    base_url: str | None = Field(default_factory=from_env("JUHE_BASE_URL", default=None))
    """Root URL; defaults to ``JUHE_BASE_URL``, else ``https://api.juheai.top``."""
    timeout: float | None = DEFAULT_TIMEOUT
    """Seconds per request."""
    max_retries: int | None = None
    """Retries of failed requests (default 2)."""
    default_headers: dict[str, str] | None = None
    """Headers sent with every request."""
    allow_insecure_http: bool = False
    """Allow the key over plain ``http://`` to a host that is not loopback."""
    http_client: httpx.Client | None = Field(default=None, exclude=True)
    """Your own ``httpx.Client`` for sync calls, used as given."""
    http_async_client: httpx.AsyncClient | None = Field(default=None, exclude=True)
    """Your own ``httpx.AsyncClient`` for async calls, used as given."""
    tools: list[str] | None = None
    """The tools to offer (default: all of them), by name."""
    output_dir: Path = Path("juhe-output")
    """Where images and audio are saved."""
    image_model: str = "dall-e-3"
    """Model of ``generate_image``."""
    edit_model: str = "gpt-image-1"
    """Model of ``edit_image``."""
    speech_model: str = "tts-1"
    """Model of ``text_to_speech``."""
    voice: str = "alloy"
    """Default voice of ``text_to_speech``."""
    moderation_model: str = "omni-moderation-latest"
    """Model of ``moderate_text``."""
    mj_timeout: float = 900.0
    """Most seconds a Midjourney tool waits for its task."""
    mj_poll_interval: float = 2.0
    """First delay between Midjourney polls (it grows up to the relay's 15 s)."""
    on_progress: Callable[[MidjourneyTask], None] | None = Field(default=None, exclude=True)
    """Called with every fetched Midjourney task state (progress bars)."""
    media_in_content: bool = False
    """Give images/audio to the model too (see ``JuheTool.media_in_content``)."""

    model_config = ConfigDict(arbitrary_types_allowed=True, hide_input_in_errors=True)

    _clients: ClientCache = PrivateAttr(default_factory=ClientCache)
    _spare: AsyncJuheClient | None = PrivateAttr(default=None)

    def get_tools(self) -> list[BaseTool]:
        """The selected tools, in ``TOOL_NAMES`` order."""
        wanted = self.tools if self.tools is not None else list(TOOL_NAMES)
        unknown = sorted(set(wanted) - set(TOOL_NAMES))
        if unknown:
            raise ValueError(f"unknown Juhe tools {unknown}; choose from {list(TOOL_NAMES)}")
        return [
            JuheTool(
                name=spec.name,
                description=spec.description,
                args_schema=args_model(spec),
                parameters=dict(spec.parameters),
                toolkit=self,
                media_in_content=self.media_in_content,
            )
            for spec in self._juhe_tools(self._spare_async()).specs()
            if spec.name in wanted
        ]

    # --- the juhe_core tools, on this toolkit's clients ---

    def _spare_async(self) -> AsyncJuheClient:
        # JuheTools wants both clients; a sync run never touches the async one, so it gets
        # one made without an event loop (it opens no connection until used).
        if self._spare is None:
            self._spare = AsyncJuheClient(
                **connection_settings(self), http_client=self.http_async_client
            )
        return self._spare

    def _juhe_tools(self, aclient: AsyncJuheClient) -> JuheTools:
        return JuheTools(
            self._clients.sync(connection_settings(self), self.http_client),
            aclient,
            output_dir=Path(self.output_dir),
            image_model=self.image_model,
            edit_model=self.edit_model,
            speech_model=self.speech_model,
            voice=self.voice,
            moderation_model=self.moderation_model,
            mj_timeout=self.mj_timeout,
            mj_poll_interval=self.mj_poll_interval,
            on_progress=self.on_progress,
        )

    def spec(self, name: str) -> ToolSpec:
        """The spec named ``name``, bound to the sync client (for sync runs)."""
        return _named(self._juhe_tools(self._spare_async()), name)

    def aspec(self, name: str) -> ToolSpec:
        """The spec named ``name``, bound to the async client of the running loop."""
        aclient = self._clients.async_(connection_settings(self), self.http_async_client)
        return _named(self._juhe_tools(aclient), name)

    def close(self) -> None:
        """Close the sync client (your own ``http_client`` stays open)."""
        self._clients.close()

    async def aclose(self) -> None:
        """Close the async clients (your own ``http_async_client`` stays open)."""
        await self._clients.aclose()
        spare, self._spare = self._spare, None
        if spare is not None:
            await spare.aclose()


def _named(tools: JuheTools, name: str) -> ToolSpec:
    for spec in tools.specs():
        if spec.name == name:
            return spec
    raise ValueError(f"juhe_core.tools has no tool named {name!r}")


JuheTool.model_rebuild()
