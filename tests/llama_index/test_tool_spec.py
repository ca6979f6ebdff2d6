"""``JuheToolSpec``: juhe_core's media tools as LlamaIndex tools, sync and async, in agents.

Against the emulator, which serves the media routes as the relay does: images as small
PNGs, speech as audio bytes, moderation by keyword rules, multipart edits checked like the
upstream, and Midjourney tasks that move on every ``mj_step_seconds`` (0.05 s) to SUCCESS,
or to FAILURE for a prompt with ``--fail``, or never for one with ``--stall``.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from llama_index.core.agent.workflow import FunctionAgent, ToolCallResult
from llama_index.core.tools import FunctionTool

from juhe_core.client import AsyncJuheClient, JuheClient
from juhe_core.errors import APITimeoutError, TaskFailedError
from juhe_core.testing import Emulator, Reply
from juhe_core.tools import TOOL_NAMES, JuheTools
from juhe_core.wire.midjourney import MidjourneyTask
from llama_index_juhe import Juhe, JuheToolSpec

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
CHAT = "/v1/chat/completions"


@pytest.fixture
def make_spec(emu: Emulator, tmp_path: Path) -> Iterator[Any]:
    """Builds ``JuheToolSpec``s on the emulator writing under ``tmp_path/out``."""
    made: list[JuheToolSpec] = []

    def make(**options: Any) -> JuheToolSpec:
        options.setdefault("mj_poll_interval", 0.02)
        made.append(
            JuheToolSpec(
                api_key=emu.api_key, api_base=emu.base_url, output_dir=tmp_path / "out", **options
            )
        )
        return made[-1]

    yield make
    for spec in made:
        spec.close()


def tools_of(spec: JuheToolSpec) -> dict[str, FunctionTool]:
    return {t.metadata.get_name(): t for t in spec.to_tool_list()}


def run_tool(tool: FunctionTool, kind: str, **kwargs: Any) -> Any:
    """Call a tool as an agent does: ``call`` or ``acall``; its ToolOutput."""
    if kind == "sync":
        return tool.call(**kwargs)
    return asyncio.run(tool.acall(**kwargs))


def png_file(tmp_path: Path, name: str = "in.png") -> str:
    path = tmp_path / name
    path.write_bytes(PNG)
    return str(path)


# --- the spec itself ---


def test_every_juhe_core_tool_is_exposed_with_its_own_schema_and_description(
    make_spec: Any, emu: Emulator
) -> None:
    spec = make_spec()
    core = {name: spec.tool(name) for name in TOOL_NAMES}
    tools = spec.to_tool_list()
    assert [t.metadata.name for t in tools] == list(TOOL_NAMES)
    assert spec.spec_functions == [(n, f"a{n}") for n in TOOL_NAMES]
    for tool in tools:
        expected = core[tool.metadata.get_name()]
        assert tool.metadata.description == expected.description
        assert tool.metadata.get_parameters_dict() == dict(expected.parameters)
        assert inspect.iscoroutinefunction(tool.async_fn)  # real async, not a thread
        assert not inspect.iscoroutinefunction(tool.fn)
        assert tool.metadata.to_openai_tool()["function"]["parameters"] == dict(expected.parameters)
    schema = spec.get_fn_schema_from_fn_name("agenerate_image")  # the async name works too
    assert schema is not None and schema.model_json_schema() == dict(
        core["generate_image"].parameters
    )
    with pytest.raises(KeyError, match="no Juhe tool named 'paint'"):
        spec.tool("paint")
    assert not emu.requests  # describing the tools sends nothing


def test_fn_schemas_validate_arguments_as_the_json_schema_says(
    make_spec: Any,
) -> None:
    tools = tools_of(make_spec())
    image_schema = tools["generate_image"].metadata.fn_schema
    assert image_schema is not None
    assert image_schema.model_validate({"prompt": "a fox"}).model_dump() == {
        "prompt": "a fox",
        "size": None,
    }
    with pytest.raises(ValueError):
        image_schema.model_validate({"prompt": "a fox", "size": "5x5"})  # not in the enum
    blend_schema = tools["midjourney_blend"].metadata.fn_schema
    assert blend_schema is not None
    assert blend_schema.model_validate({"image_paths": ["a", "b"]}).image_paths == ["a", "b"]  # type: ignore[attr-defined]
    with pytest.raises(ValueError):
        blend_schema.model_validate({})  # required


def test_methods_carry_juhe_core_names_docs_and_signatures(make_spec: Any, emu: Emulator) -> None:
    spec = make_spec()
    assert spec.generate_image.__doc__ == JuheTools.generate_image.__doc__
    assert list(inspect.signature(spec.agenerate_image).parameters) == ["prompt", "size"]
    with pytest.raises(TypeError):
        JuheToolSpec(api_key="sk-test", image_modle="dall-e-3")  # a typo is not ignored


# --- every tool, sync and async ---


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_generate_image_saves_the_png_and_answers_in_json(
    make_spec: Any, emu: Emulator, tmp_path: Path, kind: str
) -> None:
    output = run_tool(tools_of(make_spec())["generate_image"], kind, prompt="A red fox")
    (image,) = output.raw_output["images"]
    saved = Path(image["path"])
    assert saved.parent == tmp_path / "out" and saved.read_bytes().startswith(b"\x89PNG")
    assert json.loads(output.content) == output.raw_output  # the agent sees JSON
    sent = emu.requests[-1].json
    assert (sent["prompt"], sent["response_format"], sent["size"]) == (
        "A red fox",
        "b64_json",
        "1024x1024",
    )


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_edit_image_sends_a_multipart_form_with_the_file(
    make_spec: Any, emu: Emulator, tmp_path: Path, kind: str
) -> None:
    tool = tools_of(make_spec())["edit_image"]
    output = run_tool(tool, kind, prompt="Add a hat", image_path=png_file(tmp_path))
    assert Path(output.raw_output["images"][0]["path"]).read_bytes().startswith(b"\x89PNG")
    request = emu.requests[-1]
    assert request.path == "/v1/images/edits"
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b'name="prompt"\r\n\r\nAdd a hat' in request.body
    assert b'name="model"\r\n\r\ngpt-image-1' in request.body
    assert b'filename="image0.png"' in request.body and PNG in request.body
    assert b'name="response_format"' not in request.body  # gpt-image-1 rejects it


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_gpt_image_model_is_offered_its_own_sizes_and_sent_no_response_format(
    make_spec: Any, emu: Emulator, kind: str
) -> None:
    tool = tools_of(make_spec(image_model="gpt-image-1"))["generate_image"]
    size = tool.metadata.get_parameters_dict()["properties"]["size"]
    assert size["enum"] == ["1024x1024", "1536x1024", "1024x1536", "auto"]
    output = run_tool(tool, kind, prompt="A red fox", size="auto")
    assert Path(output.raw_output["images"][0]["path"]).read_bytes().startswith(b"\x89PNG")
    assert emu.requests[-1].json == {"model": "gpt-image-1", "prompt": "A red fox", "size": "auto"}


def test_edit_image_of_a_missing_file_fails_before_sending(
    make_spec: Any, emu: Emulator, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="not a readable file"):
        make_spec().edit_image(prompt="x", image_path=str(tmp_path / "missing.png"))
    assert not emu.requests


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_text_to_speech_writes_the_audio_file(make_spec: Any, emu: Emulator, kind: str) -> None:
    output = run_tool(tools_of(make_spec(voice="nova"))["text_to_speech"], kind, text="Hello")
    assert output.raw_output["mime_type"] == "audio/mpeg"
    path = Path(output.raw_output["path"])
    assert path.suffix == ".mp3" and path.stat().st_size > 100
    assert emu.requests[-1].json["voice"] == "nova"


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize(("text", "flagged"), [("I will kill it", True), ("Nice day", False)])
def test_moderate_text(make_spec: Any, kind: str, text: str, flagged: bool) -> None:
    output = run_tool(tools_of(make_spec())["moderate_text"], kind, text=text)
    assert output.raw_output["flagged"] is flagged
    assert ("violence" in output.raw_output["categories"]) is flagged


# --- Midjourney ---


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_midjourney_imagine_waits_for_the_task_and_reports_progress(
    make_spec: Any, emu: Emulator, kind: str
) -> None:
    seen: list[MidjourneyTask] = []
    tool = tools_of(make_spec(on_progress=seen.append))["midjourney_imagine"]
    output = run_tool(tool, kind, prompt="a fox --ar 1:1")
    result = output.raw_output
    assert result["status"] == "SUCCESS" and result["image_url"].startswith("http://127.0.0.1")
    assert {b["label"] for b in result["buttons"]} >= {"U1", "V1"}
    assert len(seen) >= 2 and seen[-1].status == "SUCCESS"
    assert [t.percent for t in seen] == sorted(t.percent for t in seen)  # only ever forward
    fetches = [r.path for r in emu.requests if r.path.endswith("/fetch")]
    assert len(fetches) == len(seen) and fetches[0] == f"/mj/task/{result['task_id']}/fetch"


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_midjourney_action_presses_a_button_of_a_finished_task(make_spec: Any, kind: str) -> None:
    spec = make_spec()
    grid = spec.midjourney_imagine(prompt="a fox")
    upscale = next(b for b in grid["buttons"] if b["label"] == "U1")
    output = run_tool(
        tools_of(spec)["midjourney_action"],
        kind,
        task_id=grid["task_id"],
        custom_id=upscale["custom_id"],
    )
    assert output.raw_output["status"] == "SUCCESS"
    assert output.raw_output["task_id"] != grid["task_id"]


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_midjourney_modal_answers_a_task_waiting_for_input(make_spec: Any, kind: str) -> None:
    spec = make_spec()
    grid = spec.midjourney_imagine(prompt="a fox")
    output = run_tool(
        tools_of(spec)["midjourney_modal"], kind, task_id=grid["task_id"], prompt="a red fox"
    )
    assert output.raw_output["status"] == "SUCCESS"
    assert output.raw_output["task_id"] != grid["task_id"]


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize(("tool", "count"), [("midjourney_describe", 1), ("midjourney_blend", 2)])
def test_midjourney_describe_and_blend_send_the_images(
    make_spec: Any, emu: Emulator, tmp_path: Path, kind: str, tool: str, count: int
) -> None:
    paths = [png_file(tmp_path, f"in{i}.png") for i in range(count)]
    arguments = {"image_path": paths[0]} if count == 1 else {"image_paths": paths}
    output = run_tool(tools_of(make_spec())[tool], kind, **arguments)
    assert output.raw_output["status"] == "SUCCESS"
    submit = next(r for r in emu.requests if r.path.startswith("/mj/submit/"))
    images = [submit.json["base64"]] if count == 1 else submit.json["base64Array"]
    assert [base64.b64decode(i.split(",", 1)[1]) for i in images] == [PNG] * count
    if count == 1:
        assert output.raw_output["description"]  # the prompts Midjourney suggests


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_failed_midjourney_task_raises_the_typed_error(make_spec: Any, kind: str) -> None:
    spec = make_spec()
    with pytest.raises(TaskFailedError) as info:
        if kind == "sync":
            spec.midjourney_imagine(prompt="a fox --fail")
        else:
            asyncio.run(spec.amidjourney_imagine(prompt="a fox --fail"))
    assert info.value.status == "FAILURE" and info.value.fail_reason


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_midjourney_task_that_never_ends_times_out(
    make_spec: Any, emu: Emulator, kind: str
) -> None:
    spec = make_spec(mj_timeout=0.3, mj_poll_interval=0.02)
    with pytest.raises(APITimeoutError, match=r"did not finish within 0\.3 s"):
        if kind == "sync":
            spec.midjourney_imagine(prompt="a fox --stall")
        else:
            asyncio.run(spec.amidjourney_imagine(prompt="a fox --stall"))
    assert 2 <= sum(r.path.endswith("/fetch") for r in emu.requests) < 20


# --- in agents ---


def _agent_run(emu: Emulator, spec: JuheToolSpec, task: str) -> tuple[str, list[Any]]:
    llm = Juhe(api_key=emu.api_key, api_base=emu.base_url)

    async def run() -> tuple[str, list[Any]]:
        try:
            handler = FunctionAgent(tools=spec.to_tool_list(), llm=llm).run(task)
            events = [e async for e in handler.stream_events()]
            return str(await handler), events
        finally:
            await llm.aclose()
            await spec.aclose()

    return asyncio.run(run())


def test_a_function_agent_decides_to_call_the_image_tool(make_spec: Any, emu: Emulator) -> None:
    """The emulator's model picks the tool matching the request from the names and
    descriptions it was sent; the tool then runs (async) on the emulator too."""
    answer, events = _agent_run(emu, make_spec(), "Generate an image of a red fox in the snow.")
    (result,) = [e for e in events if isinstance(e, ToolCallResult)]
    assert result.tool_name == "generate_image"
    assert "fox" in result.tool_kwargs["prompt"]
    saved = Path(result.tool_output.raw_output["images"][0]["path"])
    assert saved.read_bytes().startswith(b"\x89PNG")
    chats = [r for r in emu.requests if r.path == CHAT]
    assert [t["function"]["name"] for t in chats[0].json["tools"]] == list(TOOL_NAMES)
    assert [r.path for r in emu.requests] == [CHAT, "/v1/images/generations", CHAT]
    tool_message = chats[-1].json["messages"][-1]
    assert tool_message["role"] == "tool" and str(saved) in tool_message["content"]
    assert answer.strip()


def test_a_failing_tool_is_reported_to_the_model_not_raised(make_spec: Any, emu: Emulator) -> None:
    call = {"name": "midjourney_imagine", "arguments": {"prompt": "a fox --fail"}}
    emu.enqueue(Reply(tool_calls=[call]), path=CHAT)
    _, events = _agent_run(emu, make_spec(), "Make a Midjourney grid of a fox.")
    (result,) = [e for e in events if isinstance(e, ToolCallResult)]
    assert result.tool_output.is_error
    last = [r for r in emu.requests if r.path == CHAT][-1]
    assert "FAILURE" in last.json["messages"][-1]["content"]


def test_one_spec_serves_several_event_loops(make_spec: Any) -> None:
    """Our own async client is rebuilt for a new loop (a second ``asyncio.run``)."""
    spec = make_spec()
    for text in ("hello", "a nice day"):
        assert asyncio.run(spec.amoderate_text(text=text))["flagged"] is False


def test_a_ready_juhe_tools_is_used_as_is(emu: Emulator, tmp_path: Path) -> None:
    seen: list[str] = []
    http = httpx.Client(event_hooks={"request": [lambda r: seen.append(r.url.path)]})
    tools = JuheTools(
        JuheClient(api_key=emu.api_key, base_url=emu.base_url, http_client=http),
        AsyncJuheClient(api_key=emu.api_key, base_url=emu.base_url),
        output_dir=tmp_path,
        moderation_model="text-moderation-stable",
    )
    assert JuheToolSpec(tools=tools).moderate_text(text="fine")["flagged"] is False
    assert seen == ["/v1/moderations"]
    assert emu.requests[-1].json["model"] == "text-moderation-stable"
    http.close()
