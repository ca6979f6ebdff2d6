"""``JuheToolkit`` tools, each sync and async, and an agent that decides to draw.

JSON routes (images, edits, moderation, Midjourney) run over real sockets against the
emulator, which answers them from queued ``Reply(body=...)`` items while it does not
emulate those routes itself. Speech answers with audio bytes, which a queued reply cannot
carry, so the speech test uses an ``httpx.MockTransport`` given as the http client.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain.agents import create_agent
from langchain_core.messages import ToolMessage
from langchain_core.tools import ToolException
from pydantic import ValidationError

from juhe_core.errors import TaskFailedError
from juhe_core.testing import Emulator, Reply
from juhe_core.tools import TOOL_NAMES, JuheTools
from juhe_core.wire.midjourney import MidjourneyTask
from langchain_juhe import ChatJuhe, JuheToolkit

from .conftest import Both, png_bytes, wav_bytes

PNG = png_bytes()
PNG_B64 = base64.b64encode(PNG).decode()
IMAGES = "/v1/images/generations"


@pytest.fixture
def toolkit(emu: Emulator, tmp_path: Path) -> JuheToolkit:
    return JuheToolkit(
        base_url=emu.base_url,
        api_key=emu.api_key,
        output_dir=tmp_path,
        max_retries=0,
        mj_poll_interval=0.01,
        mj_timeout=5,
    )


def tool_call(name: str, **args: Any) -> dict[str, Any]:
    return {"type": "tool_call", "id": f"call_{name}", "name": name, "args": args}


def run(both: Both, toolkit: JuheToolkit, name: str, **args: Any) -> ToolMessage:
    """One tool call through the sync or the async API; the ``ToolMessage``."""
    tool = next(t for t in toolkit.get_tools() if t.name == name)
    call = tool_call(name, **args)
    message = both.run(toolkit, lambda: tool.invoke(call), lambda: tool.ainvoke(call))
    assert isinstance(message, ToolMessage)
    return message


# --- the tools as the model sees them ---


def test_every_spec_becomes_a_tool_with_its_description_and_schema(tmp_path: Path) -> None:
    tools = JuheToolkit(api_key="sk-test", output_dir=tmp_path).get_tools()
    specs = JuheTools(None, None).specs()  # type: ignore[arg-type]  # only names and schemas
    assert [t.name for t in tools] == list(TOOL_NAMES) == [s.name for s in specs]
    for tool, spec in zip(tools, specs, strict=True):
        assert tool.description == spec.description
        assert tool.tool_call_schema == spec.parameters
        assert tool.response_format == "content_and_artifact"
    assert not tmp_path.exists() or not any(tmp_path.iterdir())  # nothing written


def test_arguments_are_validated_against_the_spec_schema(tmp_path: Path) -> None:
    tools = {t.name: t for t in JuheToolkit(api_key="k", output_dir=tmp_path).get_tools()}
    with pytest.raises(ValidationError, match="prompt"):
        tools["generate_image"].invoke({})
    with pytest.raises(ValidationError, match="size"):
        tools["generate_image"].invoke({"prompt": "a fox", "size": "7x7"})
    with pytest.raises(ValidationError, match="at least 2"):
        tools["midjourney_blend"].invoke({"image_paths": ["one.png"]})


def test_a_subset_of_tools_and_unknown_names(tmp_path: Path) -> None:
    toolkit = JuheToolkit(api_key="k", tools=["moderate_text", "generate_image"])
    assert [t.name for t in toolkit.get_tools()] == ["generate_image", "moderate_text"]
    with pytest.raises(ValueError, match="draw_cat"):
        JuheToolkit(api_key="k", tools=["draw_cat"]).get_tools()


# --- images ---


def test_generate_image_saves_the_file_and_returns_it_as_a_block(
    both: Both, toolkit: JuheToolkit, emu: Emulator, tmp_path: Path
) -> None:
    emu.enqueue(Reply(body={"created": 1, "data": [{"b64_json": PNG_B64}]}), path=IMAGES)
    message = run(both, toolkit, "generate_image", prompt="a red fox", size="1792x1024")
    sent = emu.requests[-1].json
    assert sent == {
        "model": "dall-e-3",
        "prompt": "a red fox",
        "size": "1792x1024",
        "response_format": "b64_json",
    }
    result = json.loads(message.text)
    path = Path(result["images"][0]["path"])
    assert path.parent == tmp_path and path.read_bytes() == PNG
    assert message.artifact["result"] == result
    assert message.artifact["media"] == [
        {"type": "image", "base64": PNG_B64, "mime_type": "image/png"}
    ]
    assert message.status == "success"


def test_image_by_url_and_media_in_content(toolkit: JuheToolkit, emu: Emulator) -> None:
    url = "http://127.0.0.1:1/fox.png"
    emu.enqueue(Reply(body={"data": [{"url": url, "revised_prompt": "a fox"}]}), path=IMAGES)
    toolkit.media_in_content = True
    tool = toolkit.get_tools()[0]
    message = tool.invoke(tool_call("generate_image", prompt="a fox"))
    assert message.content[1] == {"type": "image", "url": url}
    assert json.loads(message.content[0]["text"])["images"][0]["revised_prompt"] == "a fox"


def test_edit_image_sends_a_multipart_form(
    both: Both, toolkit: JuheToolkit, emu: Emulator, tmp_path: Path
) -> None:
    source = tmp_path / "in.png"
    source.write_bytes(PNG)
    emu.enqueue(Reply(body={"data": [{"b64_json": PNG_B64}]}), path="/v1/images/edits")
    message = run(both, toolkit, "edit_image", prompt="make it blue", image_path=str(source))
    request = emu.requests[-1]
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b'name="prompt"\r\n\r\nmake it blue' in request.body
    assert b'name="model"\r\n\r\ngpt-image-1' in request.body
    assert b'name="image"; filename="image0.png"' in request.body and PNG in request.body
    assert message.artifact["media"][0]["base64"] == PNG_B64


def test_edit_of_a_missing_file_is_an_error_the_model_sees(
    both: Both, toolkit: JuheToolkit, emu: Emulator, tmp_path: Path
) -> None:
    message = run(both, toolkit, "edit_image", prompt="x", image_path=str(tmp_path / "no.png"))
    assert message.status == "error"
    assert "is not a readable file" in message.text
    assert emu.requests == []


# --- speech and moderation ---


def test_text_to_speech_writes_the_audio_file(both: Both, tmp_path: Path) -> None:
    audio = wav_bytes()
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, content=audio, headers={"content-type": "audio/wav"})

    toolkit = JuheToolkit(
        base_url="https://relay.test",
        api_key="sk-test",
        output_dir=tmp_path,
        http_client=httpx.Client(transport=httpx.MockTransport(answer)),
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(answer)),
    )
    message = run(both, toolkit, "text_to_speech", text="Hello there", voice="nova")
    assert json.loads(sent[0].content) == {
        "model": "tts-1",
        "input": "Hello there",
        "voice": "nova",
    }
    result = json.loads(message.text)
    assert result["mime_type"] == "audio/wav" and result["path"].endswith(".wav")
    assert Path(result["path"]).read_bytes() == audio
    block = message.artifact["media"][0]
    assert block["type"] == "audio" and base64.b64decode(block["base64"]) == audio


def test_moderate_text(both: Both, toolkit: JuheToolkit, emu: Emulator) -> None:
    verdict = {"flagged": True, "categories": {"violence": True, "hate": False}}
    emu.enqueue(Reply(body={"id": "m1", "results": [verdict]}), path="/v1/moderations")
    message = run(both, toolkit, "moderate_text", text="I will hurt you")
    assert json.loads(message.text) == {"flagged": True, "categories": ["violence"]}
    assert emu.requests[-1].json == {"model": "omni-moderation-latest", "input": "I will hurt you"}
    assert message.artifact["media"] == []


# --- Midjourney ---

GRID = "http://127.0.0.1:1/grid.png"
BUTTONS = [{"customId": "MJ::JOB::upsample::1::abc", "label": "U1"}]


def task(status: str, progress: str, **extra: Any) -> Reply:
    return Reply(body={"id": "task-1", "status": status, "progress": progress, **extra})


def script_task(emu: Emulator, action: str, *states: Reply) -> None:
    emu.enqueue(
        Reply(body={"code": 1, "description": "Submit success", "result": "task-1"}),
        path=f"/mj/submit/{action}",
    )
    emu.enqueue(*states, path="/mj/task/task-1/fetch")


def test_imagine_waits_for_the_task(both: Both, toolkit: JuheToolkit, emu: Emulator) -> None:
    seen: list[MidjourneyTask] = []
    toolkit.on_progress = seen.append
    script_task(
        emu,
        "imagine",
        task("", "0%"),
        task("IN_PROGRESS", "40%"),
        task("SUCCESS", "100%", imageUrl=GRID, buttons=BUTTONS, promptEn="a fox --ar 16:9"),
    )
    message = run(both, toolkit, "midjourney_imagine", prompt="a fox --ar 16:9")
    assert [t.progress for t in seen] == ["0%", "40%", "100%"]
    assert emu.requests[0].json["prompt"] == "a fox --ar 16:9"
    result = json.loads(message.text)
    assert result["image_url"] == GRID and result["status"] == "SUCCESS"
    assert result["buttons"] == [{"custom_id": "MJ::JOB::upsample::1::abc", "label": "U1"}]
    assert message.artifact["media"] == [{"type": "image", "url": GRID}]


def test_a_failed_task_is_an_error_the_model_sees(
    both: Both, toolkit: JuheToolkit, emu: Emulator
) -> None:
    script_task(emu, "imagine", task("FAILURE", "0%", failReason="banned word: gore"))
    message = run(both, toolkit, "midjourney_imagine", prompt="gore")
    assert message.status == "error"
    assert "FAILURE" in message.text and "banned word: gore" in message.text


def test_a_failed_task_raises_when_tool_errors_are_not_handled(
    toolkit: JuheToolkit, emu: Emulator
) -> None:
    script_task(emu, "imagine", task("FAILURE", "0%", failReason="nope"))
    tool = next(t for t in toolkit.get_tools() if t.name == "midjourney_imagine")
    tool.handle_tool_error = False
    with pytest.raises(ToolException, match="nope") as caught:
        tool.invoke({"prompt": "x"})
    assert isinstance(caught.value.__cause__, TaskFailedError)
    assert caught.value.__cause__.task_id == "task-1"


def test_a_task_that_does_not_finish_times_out(
    both: Both, toolkit: JuheToolkit, emu: Emulator
) -> None:
    toolkit.mj_timeout = 0.1
    script_task(emu, "imagine", *[task("IN_PROGRESS", "10%")] * 30)
    message = run(both, toolkit, "midjourney_imagine", prompt="slow")
    assert message.status == "error"
    assert "did not finish within 0.1 s" in message.text
    assert 2 <= len(emu.requests) - 1 < 30  # polled a few times, then gave up


def test_a_refused_submit_is_an_error_the_model_sees(
    both: Both, toolkit: JuheToolkit, emu: Emulator
) -> None:
    refusal = {"code": 24, "description": "banned prompt", "properties": {"bannedWord": "x"}}
    emu.enqueue(Reply(body=refusal), path="/mj/submit/imagine")
    message = run(both, toolkit, "midjourney_imagine", prompt="x")
    assert message.status == "error" and "banned prompt" in message.text
    assert len(emu.requests) == 1  # no polling after a refused submit


def test_action_presses_a_button(both: Both, toolkit: JuheToolkit, emu: Emulator) -> None:
    script_task(emu, "action", task("SUCCESS", "100%", imageUrl=GRID))
    message = run(
        both, toolkit, "midjourney_action", task_id="task-0", custom_id=BUTTONS[0]["customId"]
    )
    assert emu.requests[0].json == {"taskId": "task-0", "customId": BUTTONS[0]["customId"]}
    assert json.loads(message.text)["image_url"] == GRID


def test_describe_sends_the_image_and_returns_prompts(
    both: Both, toolkit: JuheToolkit, emu: Emulator, tmp_path: Path
) -> None:
    image = tmp_path / "photo.png"
    image.write_bytes(PNG)
    prompts = "1. a red square --ar 1:1\n2. minimalism"
    script_task(emu, "describe", task("SUCCESS", "100%", properties={"finalPrompt": prompts}))
    message = run(both, toolkit, "midjourney_describe", image_path=str(image))
    assert emu.requests[0].json["base64"] == f"data:image/png;base64,{PNG_B64}"
    assert json.loads(message.text)["description"] == prompts


def test_blend_sends_every_image(
    both: Both, toolkit: JuheToolkit, emu: Emulator, tmp_path: Path
) -> None:
    paths = []
    for name in ("a.png", "b.png"):
        (tmp_path / name).write_bytes(PNG)
        paths.append(str(tmp_path / name))
    script_task(emu, "blend", task("SUCCESS", "100%", imageUrl=GRID))
    message = run(both, toolkit, "midjourney_blend", image_paths=paths)
    body = emu.requests[0].json
    assert len(body["base64Array"]) == 2 and body["dimensions"] == "SQUARE"
    assert message.artifact["media"] == [{"type": "image", "url": GRID}]


# --- an agent ---


def test_an_agent_decides_to_call_the_image_tool(
    toolkit: JuheToolkit, emu: Emulator, tmp_path: Path
) -> None:
    emu.enqueue(Reply(body={"data": [{"b64_json": PNG_B64}]}), path=IMAGES)
    llm = ChatJuhe(model="gpt-4o-mini", base_url=emu.base_url, api_key=emu.api_key)
    agent = create_agent(llm, tools=toolkit.get_tools())
    state = agent.invoke({"messages": [("user", "Generate an image of a red fox")]})
    tool_messages = [m for m in state["messages"] if isinstance(m, ToolMessage)]
    assert [m.name for m in tool_messages] == ["generate_image"]
    assert tool_messages[0].artifact["media"][0]["base64"] == PNG_B64
    assert [p.suffix for p in tmp_path.iterdir()] == [".png"]
    chat_bodies = [r.json for r in emu.requests if r.path == "/v1/chat/completions"]
    assert len(chat_bodies) == 2  # decide, then answer with the tool's result
    offered = [t["function"]["name"] for t in chat_bodies[0]["tools"]]
    assert offered == list(TOOL_NAMES)
    assert chat_bodies[1]["messages"][-1]["role"] == "tool"
    assert state["messages"][-1].type == "ai" and state["messages"][-1].text
    llm.close()
