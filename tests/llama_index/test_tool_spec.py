"""``JuheToolSpec``: juhe_core's media tools as LlamaIndex tools, sync and async, in agents.

The emulator serves no media or Midjourney routes yet, so ``MediaRelay`` (an
``httpx.MockTransport`` handler) answers them as relay-behavior.md describes: images as
base64 PNGs, speech as audio bytes, moderation verdicts, multipart edits, and Midjourney
tasks that go NOT_START → IN_PROGRESS → SUCCESS (or FAILURE) one fetch at a time. The
agent test runs ``Juhe`` on the emulator and the tools on ``MediaRelay``.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from llama_index.core.agent.workflow import FunctionAgent, ToolCallResult
from llama_index.core.tools import FunctionTool

from juhe_core.errors import APITimeoutError, TaskFailedError
from juhe_core.testing import Emulator, Reply
from juhe_core.tools import TOOL_NAMES, JuheTools
from juhe_core.wire.midjourney import MidjourneyTask
from llama_index_juhe import Juhe, JuheToolSpec

from .relay import BASE, KEY

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb\x90\x00"
GRID = "https://cdn.relay.test/mj/grid.png"


class MediaRelay:
    """Media and Midjourney routes; ``mj_outcome`` decides how tasks end."""

    def __init__(self, mj_outcome: str = "SUCCESS", mj_steps: int = 3) -> None:
        self.requests: list[httpx.Request] = []
        self.mj_outcome = mj_outcome
        self.mj_steps = mj_steps  # fetches until a task is done
        self._fetches: dict[str, int] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path in ("/v1/images/generations", "/v1/images/edits"):
            item = {"b64_json": base64.b64encode(PNG).decode(), "revised_prompt": "a fox"}
            return httpx.Response(200, json={"created": 1, "data": [item]})
        if path == "/v1/audio/speech":
            return httpx.Response(200, content=MP3, headers={"content-type": "audio/mpeg"})
        if path == "/v1/moderations":
            text = json.loads(request.content)["input"]
            flagged = "kill" in text
            result = {"flagged": flagged, "categories": {"violence": flagged, "hate": False}}
            return httpx.Response(200, json={"id": "m1", "model": "omni", "results": [result]})
        if path.startswith("/mj/submit/"):
            task = f"task-{len(self._fetches) + 1}"
            self._fetches[task] = 0
            return httpx.Response(200, json={"code": 1, "description": "ok", "result": task})
        if path.startswith("/mj/task/") and path.endswith("/fetch"):
            return httpx.Response(200, json=self._task(path.split("/")[3]))
        return httpx.Response(404, json={"error": {"message": f"no route {path}"}})

    def _task(self, task_id: str) -> dict[str, Any]:
        self._fetches[task_id] += 1
        step = self._fetches[task_id]
        task: dict[str, Any] = {"id": task_id, "action": "IMAGINE", "prompt": "a fox"}
        if step == 1:
            return {**task, "status": "NOT_START", "progress": "0%"}
        if step < self.mj_steps or self.mj_outcome == "NEVER":
            return {**task, "status": "IN_PROGRESS", "progress": "50%"}
        if self.mj_outcome == "FAILURE":
            return {**task, "status": "FAILURE", "progress": "", "failReason": "banned prompt"}
        buttons = [{"customId": "MJ::JOB::upsample::1::abc", "label": "U1"}]
        return {
            **task,
            "status": "SUCCESS",
            "progress": "100%",
            "imageUrl": GRID,
            "buttons": buttons,
            "properties": {"finalPrompt": "a fox in the snow"},
        }

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]


@pytest.fixture
def relay() -> MediaRelay:
    return MediaRelay()


def make_spec(relay: MediaRelay, tmp_path: Path, **options: Any) -> JuheToolSpec:
    transport = httpx.MockTransport(relay)
    options.setdefault("mj_poll_interval", 0.001)
    return JuheToolSpec(
        api_key=KEY,
        api_base=BASE,
        output_dir=tmp_path / "out",
        http_client=httpx.Client(transport=transport),
        async_http_client=httpx.AsyncClient(transport=transport),
        **options,
    )


def run_tool(tool: FunctionTool, kind: str, **kwargs: Any) -> Any:
    """Call a tool as an agent does: ``call`` or ``acall``; its ToolOutput."""
    if kind == "sync":
        return tool.call(**kwargs)
    return asyncio.run(tool.acall(**kwargs))


# --- the spec itself ---


def test_every_juhe_core_tool_is_exposed_with_its_own_schema_and_description(
    relay: MediaRelay, tmp_path: Path
) -> None:
    spec = make_spec(relay, tmp_path)
    core = {s.name: s for s in spec._bound(in_loop=False).specs()}
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
    assert not relay.requests  # describing the tools sends nothing


def test_fn_schemas_validate_arguments_as_the_json_schema_says(
    relay: MediaRelay, tmp_path: Path
) -> None:
    tools = {t.metadata.name: t for t in make_spec(relay, tmp_path).to_tool_list()}
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


def test_methods_carry_juhe_core_names_docs_and_signatures(
    relay: MediaRelay, tmp_path: Path
) -> None:
    spec = make_spec(relay, tmp_path)
    assert spec.generate_image.__doc__ == JuheTools.generate_image.__doc__
    assert list(inspect.signature(spec.agenerate_image).parameters) == ["prompt", "size"]
    with pytest.raises(TypeError):
        JuheToolSpec(api_key=KEY, image_modle="dall-e-3")  # a typo is not ignored


# --- every tool, sync and async ---


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_generate_image_saves_the_png_and_answers_in_json(
    relay: MediaRelay, tmp_path: Path, kind: str
) -> None:
    tools = {t.metadata.name: t for t in make_spec(relay, tmp_path).to_tool_list()}
    output = run_tool(tools["generate_image"], kind, prompt="A red fox", size="1024x1024")
    (image,) = output.raw_output["images"]
    assert Path(image["path"]).read_bytes() == PNG
    assert Path(image["path"]).parent == tmp_path / "out"
    assert json.loads(output.content) == output.raw_output  # the agent sees JSON
    sent = json.loads(relay.requests[-1].content)
    assert (sent["prompt"], sent["response_format"]) == ("A red fox", "b64_json")


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_edit_image_sends_a_multipart_form_with_the_file(
    relay: MediaRelay, tmp_path: Path, kind: str
) -> None:
    source = tmp_path / "in.png"
    source.write_bytes(PNG)
    tools = {t.metadata.name: t for t in make_spec(relay, tmp_path).to_tool_list()}
    output = run_tool(tools["edit_image"], kind, prompt="Add a hat", image_path=str(source))
    assert Path(output.raw_output["images"][0]["path"]).read_bytes() == PNG
    request = relay.requests[-1]
    assert request.url.path == "/v1/images/edits"
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    body = request.content
    assert b'name="prompt"\r\n\r\nAdd a hat' in body
    assert b'name="model"\r\n\r\ngpt-image-1' in body
    assert b'name="image"; filename="image0.png"' in body and PNG in body


def test_edit_image_of_a_missing_file_fails_before_sending(
    relay: MediaRelay, tmp_path: Path
) -> None:
    spec = make_spec(relay, tmp_path)
    with pytest.raises(ValueError, match="not a readable file"):
        spec.edit_image(prompt="x", image_path=str(tmp_path / "missing.png"))
    assert not relay.requests


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_text_to_speech_writes_the_audio_file(relay: MediaRelay, tmp_path: Path, kind: str) -> None:
    tools = {t.metadata.name: t for t in make_spec(relay, tmp_path, voice="nova").to_tool_list()}
    output = run_tool(tools["text_to_speech"], kind, text="Hello there")
    assert output.raw_output["mime_type"] == "audio/mpeg"
    path = Path(output.raw_output["path"])
    assert path.suffix == ".mp3" and path.read_bytes() == MP3
    assert json.loads(relay.requests[-1].content)["voice"] == "nova"


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize(("text", "flagged"), [("I will kill it", True), ("Nice day", False)])
def test_moderate_text(
    relay: MediaRelay, tmp_path: Path, kind: str, text: str, flagged: bool
) -> None:
    tools = {t.metadata.name: t for t in make_spec(relay, tmp_path).to_tool_list()}
    output = run_tool(tools["moderate_text"], kind, text=text)
    assert output.raw_output == {
        "flagged": flagged,
        "categories": ["violence"] if flagged else [],
    }


# --- Midjourney ---


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_midjourney_imagine_waits_for_the_task_and_reports_progress(
    relay: MediaRelay, tmp_path: Path, kind: str
) -> None:
    seen: list[MidjourneyTask] = []
    spec = make_spec(relay, tmp_path, on_progress=seen.append)
    tools = {t.metadata.name: t for t in spec.to_tool_list()}
    output = run_tool(tools["midjourney_imagine"], kind, prompt="a fox --ar 1:1")
    assert output.raw_output["status"] == "SUCCESS"
    assert output.raw_output["image_url"] == GRID
    assert output.raw_output["buttons"] == [
        {"custom_id": "MJ::JOB::upsample::1::abc", "label": "U1"}
    ]
    assert [t.status for t in seen] == ["NOT_START", "IN_PROGRESS", "SUCCESS"]
    assert relay.paths() == ["/mj/submit/imagine"] + ["/mj/task/task-1/fetch"] * 3


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize(
    ("tool", "arguments", "submit"),
    [
        (
            "midjourney_action",
            {"task_id": "t0", "custom_id": "MJ::JOB::upsample::1::abc"},
            "action",
        ),
        ("midjourney_describe", {"image_path": "{png}"}, "describe"),
        ("midjourney_blend", {"image_paths": ["{png}", "{png}"]}, "blend"),
    ],
)
def test_the_other_midjourney_tools_submit_and_wait(
    relay: MediaRelay, tmp_path: Path, kind: str, tool: str, arguments: Any, submit: str
) -> None:
    png = tmp_path / "in.png"
    png.write_bytes(PNG)
    arguments = json.loads(json.dumps(arguments).replace("{png}", str(png)))
    tools = {t.metadata.name: t for t in make_spec(relay, tmp_path).to_tool_list()}
    output = run_tool(tools[tool], kind, **arguments)
    assert output.raw_output["status"] == "SUCCESS"
    assert relay.paths()[0] == f"/mj/submit/{submit}"
    sent = json.loads(relay.requests[0].content)
    if submit == "describe":
        assert sent["base64"].startswith("data:image/png;base64,")
        assert output.raw_output["description"] == "a fox in the snow"
    if submit == "blend":
        assert len(sent["base64Array"]) == 2


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_failed_midjourney_task_raises_the_typed_error(tmp_path: Path, kind: str) -> None:
    spec = make_spec(MediaRelay(mj_outcome="FAILURE"), tmp_path)
    with pytest.raises(TaskFailedError) as info:
        if kind == "sync":
            spec.midjourney_imagine(prompt="forbidden")
        else:
            asyncio.run(spec.amidjourney_imagine(prompt="forbidden"))
    assert (info.value.status, info.value.fail_reason) == ("FAILURE", "banned prompt")


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_midjourney_task_that_never_ends_times_out(tmp_path: Path, kind: str) -> None:
    relay = MediaRelay(mj_outcome="NEVER")
    spec = make_spec(relay, tmp_path, mj_timeout=0.2, mj_poll_interval=0.02)
    with pytest.raises(APITimeoutError, match=r"did not finish within 0\.2 s"):
        if kind == "sync":
            spec.midjourney_imagine(prompt="slow")
        else:
            asyncio.run(spec.amidjourney_imagine(prompt="slow"))
    assert 2 <= relay.paths().count("/mj/task/task-1/fetch") < 20


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

    return asyncio.run(run())


def test_a_function_agent_decides_to_call_the_image_tool(
    emu: Emulator, relay: MediaRelay, tmp_path: Path
) -> None:
    """The emulator's model picks the tool matching the request from the names and
    descriptions it was sent; the tool then runs (async) against the media relay."""
    spec = make_spec(relay, tmp_path)
    answer, events = _agent_run(emu, spec, "Generate an image of a red fox in the snow.")
    (result,) = [e for e in events if isinstance(e, ToolCallResult)]
    assert result.tool_name == "generate_image"
    assert "fox" in result.tool_kwargs["prompt"]
    saved = Path(result.tool_output.raw_output["images"][0]["path"])
    assert saved.read_bytes() == PNG
    assert relay.paths() == ["/v1/images/generations"]
    sent_tools = [t["function"]["name"] for t in emu.requests[0].json["tools"]]
    assert sent_tools == list(TOOL_NAMES)
    tool_message = emu.requests[-1].json["messages"][-1]
    assert tool_message["role"] == "tool" and str(saved) in tool_message["content"]
    assert answer.strip()


def test_a_failing_tool_is_reported_to_the_model_not_raised(emu: Emulator, tmp_path: Path) -> None:
    spec = make_spec(MediaRelay(mj_outcome="FAILURE"), tmp_path)
    emu.enqueue(
        Reply(tool_calls=[{"name": "midjourney_imagine", "arguments": {"prompt": "bad"}}]),
        path="/v1/chat/completions",
    )
    _, events = _agent_run(emu, spec, "Make a Midjourney grid of something bad.")
    (result,) = [e for e in events if isinstance(e, ToolCallResult)]
    assert result.tool_output.is_error
    assert "banned prompt" in emu.requests[-1].json["messages"][-1]["content"]


def test_one_spec_serves_several_event_loops(emu: Emulator, tmp_path: Path) -> None:
    """Our own async client is rebuilt for a new loop (a second ``asyncio.run``)."""
    verdict = {"id": "m", "model": "omni", "results": [{"flagged": False, "categories": {}}]}
    emu.enqueue(Reply(body=verdict), Reply(body=verdict), path="/v1/moderations")
    spec = JuheToolSpec(api_key=emu.api_key, api_base=emu.base_url, output_dir=tmp_path)
    for _ in range(2):
        assert asyncio.run(spec.amoderate_text(text="hello")) == {
            "flagged": False,
            "categories": [],
        }
    assert spec.moderate_text  # the sync side is untouched
    spec.close()


def test_a_ready_juhe_tools_is_used_as_is(relay: MediaRelay, tmp_path: Path) -> None:
    from juhe_core.client import AsyncJuheClient, JuheClient

    transport = httpx.MockTransport(relay)
    tools = JuheTools(
        JuheClient(api_key=KEY, base_url=BASE, http_client=httpx.Client(transport=transport)),
        AsyncJuheClient(api_key=KEY, base_url=BASE),
        output_dir=tmp_path,
        moderation_model="text-moderation-stable",
    )
    spec = JuheToolSpec(tools=tools)
    assert spec.moderate_text(text="fine")["flagged"] is False
    assert json.loads(relay.requests[-1].content)["model"] == "text-moderation-stable"
