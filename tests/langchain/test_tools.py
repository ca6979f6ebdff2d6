"""``JuheToolkit`` tools, each sync and async, and an agent that decides to draw.

Every tool runs over real sockets against the emulator's own media, moderation and
Midjourney routes (PNG images, real audio frames, keyword moderation, tasks that move on
every 0.05 s; ``--fail`` / ``--stall`` in a prompt make a task fail / never finish). Only
shapes the emulator does not choose by itself (an image answered by URL) are scripted.
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

from juhe_core.errors import TaskFailedError, UnsupportedFeatureError
from juhe_core.testing import Emulator, Reply
from juhe_core.tools import TOOL_NAMES, JuheTools
from juhe_core.wire.midjourney import MidjourneyTask
from langchain_juhe import ChatJuhe, JuheToolkit

from .conftest import Both, png_bytes

PNG = png_bytes()
PNG_B64 = base64.b64encode(PNG).decode()
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
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
    message = run(both, toolkit, "generate_image", prompt="a red fox", size="1792x1024")
    assert emu.requests[-1].json == {
        "model": "dall-e-3",
        "prompt": "a red fox",
        "size": "1792x1024",
        "response_format": "b64_json",
    }
    result = json.loads(message.text)
    path = Path(result["images"][0]["path"])
    assert path.parent == tmp_path and path.read_bytes().startswith(PNG_MAGIC)
    assert result["images"][0]["mime_type"] == "image/png"
    assert message.artifact["result"] == result
    block = message.artifact["media"][0]
    assert block["type"] == "image" and block["mime_type"] == "image/png"
    assert base64.b64decode(block["base64"]) == path.read_bytes()
    assert message.status == "success"


def test_an_image_answered_by_url_and_media_in_content(toolkit: JuheToolkit, emu: Emulator) -> None:
    url = emu.base_url + "/emulator/files/fox.png"
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
    message = run(both, toolkit, "edit_image", prompt="make it blue", image_path=str(source))
    request = emu.requests[-1]
    assert request.path == "/v1/images/edits"
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b'name="prompt"\r\n\r\nmake it blue' in request.body
    assert b'name="model"\r\n\r\ngpt-image-1' in request.body
    assert b'name="image"; filename="image0.png"' in request.body and PNG in request.body
    assert b'name="response_format"' not in request.body  # gpt-image-1 rejects it
    saved = Path(json.loads(message.text)["images"][0]["path"])
    assert saved.read_bytes().startswith(PNG_MAGIC) and saved != source
    assert base64.b64decode(message.artifact["media"][0]["base64"]) == saved.read_bytes()


@pytest.mark.parametrize(
    ("image_model", "sizes"),
    [
        ("dall-e-3", ["1024x1024", "1792x1024", "1024x1792"]),
        ("gpt-image-1", ["1024x1024", "1536x1024", "1024x1536", "auto"]),
        ("dall-e-2", ["256x256", "512x512", "1024x1024"]),
    ],
)
def test_generate_image_offers_only_the_sizes_its_model_takes(
    tmp_path: Path, image_model: str, sizes: list[str]
) -> None:
    toolkit = JuheToolkit(api_key="k", output_dir=tmp_path, image_model=image_model)
    tool = toolkit.get_tools()[0]
    assert tool.tool_call_schema["properties"]["size"]["enum"] == sizes  # type: ignore[index]
    with pytest.raises(ValidationError, match="size"):
        tool.invoke(
            {"prompt": "a fox", "size": "1536x1024" if "dall" in image_model else "512x512"}
        )


def test_a_gpt_image_model_gets_no_response_format(
    both: Both, toolkit: JuheToolkit, emu: Emulator
) -> None:
    toolkit.image_model = "gpt-image-1"
    message = run(both, toolkit, "generate_image", prompt="a red fox", size="1536x1024")
    assert emu.requests[-1].json == {
        "model": "gpt-image-1",
        "prompt": "a red fox",
        "size": "1536x1024",
    }
    assert Path(json.loads(message.text)["images"][0]["path"]).read_bytes().startswith(PNG_MAGIC)
    with pytest.raises(UnsupportedFeatureError, match="1792x1024"):  # called directly, unvalidated
        toolkit.spec("generate_image").run(prompt="a fox", size="1792x1024")
    assert len(emu.requests) == 1


def test_edit_of_a_missing_file_is_an_error_the_model_sees(
    both: Both, toolkit: JuheToolkit, emu: Emulator, tmp_path: Path
) -> None:
    message = run(both, toolkit, "edit_image", prompt="x", image_path=str(tmp_path / "no.png"))
    assert message.status == "error"
    assert "is not a readable file" in message.text
    assert emu.requests == []


# --- speech and moderation ---


def test_text_to_speech_writes_the_audio_file(
    both: Both, toolkit: JuheToolkit, emu: Emulator
) -> None:
    message = run(both, toolkit, "text_to_speech", text="Hello there", voice="nova")
    assert emu.requests[-1].json == {"model": "tts-1", "input": "Hello there", "voice": "nova"}
    result = json.loads(message.text)
    assert result["mime_type"] == "audio/mpeg" and result["path"].endswith(".mp3")
    audio = Path(result["path"]).read_bytes()
    assert audio[:3] == b"ID3" or (audio[0] == 0xFF and audio[1] & 0xE0 == 0xE0)  # MP3
    block = message.artifact["media"][0]
    assert block == {
        "type": "audio",
        "base64": base64.b64encode(audio).decode(),
        "mime_type": "audio/mpeg",
    }


def test_moderate_text(both: Both, toolkit: JuheToolkit, emu: Emulator) -> None:
    message = run(both, toolkit, "moderate_text", text="I will hurt you")
    verdict = json.loads(message.text)
    assert verdict["flagged"] is True and "violence" in verdict["categories"]
    assert emu.requests[-1].json == {"model": "omni-moderation-latest", "input": "I will hurt you"}
    assert message.artifact["media"] == []
    calm = json.loads(run(both, toolkit, "moderate_text", text="Lovely weather").text)
    assert calm == {"flagged": False, "categories": []}


# --- Midjourney ---


def test_imagine_waits_for_the_task(both: Both, toolkit: JuheToolkit, emu: Emulator) -> None:
    seen: list[MidjourneyTask] = []
    toolkit.on_progress = seen.append
    message = run(both, toolkit, "midjourney_imagine", prompt="a fox --ar 16:9")
    assert emu.requests[0].path == "/mj/submit/imagine"
    assert emu.requests[0].json["prompt"] == "a fox --ar 16:9"
    assert seen[-1].status == "SUCCESS" and len(seen) >= 2  # polled until done
    assert seen[0].status in ("", "SUBMITTED", "IN_PROGRESS")
    result = json.loads(message.text)
    assert result["status"] == "SUCCESS" and result["image_url"]
    labels = [b["label"] for b in result["buttons"]]
    assert {"U1", "V1"} <= set(labels)
    assert message.artifact["media"] == [{"type": "image", "url": result["image_url"]}]
    grid = httpx.get(result["image_url"])
    assert grid.content.startswith(PNG_MAGIC)


def test_a_failed_task_is_an_error_the_model_sees(
    both: Both, toolkit: JuheToolkit, emu: Emulator
) -> None:
    message = run(both, toolkit, "midjourney_imagine", prompt="a fox --fail")
    assert message.status == "error"
    assert "FAILURE" in message.text and "--fail" in message.text


def test_a_failed_task_raises_when_tool_errors_are_not_handled(toolkit: JuheToolkit) -> None:
    tool = next(t for t in toolkit.get_tools() if t.name == "midjourney_imagine")
    tool.handle_tool_error = False
    with pytest.raises(ToolException, match="FAILURE") as caught:
        tool.invoke({"prompt": "a fox --fail"})
    assert isinstance(caught.value.__cause__, TaskFailedError)
    assert caught.value.__cause__.status == "FAILURE"


def test_a_task_that_does_not_finish_times_out(
    both: Both, toolkit: JuheToolkit, emu: Emulator
) -> None:
    toolkit.mj_timeout = 0.2
    message = run(both, toolkit, "midjourney_imagine", prompt="a fox --stall")
    assert message.status == "error"
    assert "did not finish within 0.2 s" in message.text
    fetches = [r for r in emu.requests if r.path.endswith("/fetch")]
    assert len(fetches) >= 2  # polled, then gave up


def test_a_refused_prompt_is_an_error_the_model_sees(
    both: Both, toolkit: JuheToolkit, emu: Emulator
) -> None:
    message = run(both, toolkit, "midjourney_imagine", prompt="a gore scene")
    assert message.status == "error" and "midjourney" in message.text
    assert len(emu.requests) == 1  # no polling after a refused submit


def test_action_presses_a_button_of_a_finished_task(
    both: Both, toolkit: JuheToolkit, emu: Emulator
) -> None:
    grid = json.loads(run(both, toolkit, "midjourney_imagine", prompt="a lighthouse").text)
    upscale = next(b for b in grid["buttons"] if b["label"] == "U1")
    message = run(
        both,
        toolkit,
        "midjourney_action",
        task_id=grid["task_id"],
        custom_id=upscale["custom_id"],
    )
    submit = next(r for r in emu.requests if r.path == "/mj/submit/action")
    assert submit.json == {"taskId": grid["task_id"], "customId": upscale["custom_id"]}
    result = json.loads(message.text)
    assert result["status"] == "SUCCESS" and result["task_id"] != grid["task_id"]
    assert result["image_url"] and result["image_url"] != grid["image_url"]


def test_modal_answers_a_task_waiting_for_input(
    both: Both, toolkit: JuheToolkit, emu: Emulator
) -> None:
    grid = json.loads(run(both, toolkit, "midjourney_imagine", prompt="a lighthouse").text)
    message = run(
        both, toolkit, "midjourney_modal", task_id=grid["task_id"], prompt="a red lighthouse"
    )
    submit = next(r for r in emu.requests if r.path == "/mj/submit/modal")
    assert submit.json["taskId"] == grid["task_id"]
    assert submit.json["prompt"] == "a red lighthouse"
    result = json.loads(message.text)
    assert result["status"] == "SUCCESS" and result["task_id"] != grid["task_id"]
    assert result["image_url"]


def test_describe_sends_the_image_and_returns_prompts(
    both: Both, toolkit: JuheToolkit, emu: Emulator, tmp_path: Path
) -> None:
    image = tmp_path / "photo.png"
    image.write_bytes(PNG)
    message = run(both, toolkit, "midjourney_describe", image_path=str(image))
    assert emu.requests[0].json["base64"] == f"data:image/png;base64,{PNG_B64}"
    result = json.loads(message.text)
    assert result["status"] == "SUCCESS" and result["description"]


def test_blend_sends_every_image(
    both: Both, toolkit: JuheToolkit, emu: Emulator, tmp_path: Path
) -> None:
    paths = []
    for name in ("a.png", "b.png"):
        (tmp_path / name).write_bytes(PNG)
        paths.append(str(tmp_path / name))
    message = run(both, toolkit, "midjourney_blend", image_paths=paths)
    body = emu.requests[0].json
    assert len(body["base64Array"]) == 2 and body["dimensions"] == "SQUARE"
    result = json.loads(message.text)
    assert message.artifact["media"] == [{"type": "image", "url": result["image_url"]}]


# --- an agent ---


def test_an_agent_decides_to_call_the_image_tool(
    toolkit: JuheToolkit, emu: Emulator, tmp_path: Path
) -> None:
    llm = ChatJuhe(model="gpt-4o-mini", base_url=emu.base_url, api_key=emu.api_key)
    agent = create_agent(llm, tools=toolkit.get_tools())
    state = agent.invoke({"messages": [("user", "Generate an image of a red fox")]})
    tool_messages = [m for m in state["messages"] if isinstance(m, ToolMessage)]
    assert [m.name for m in tool_messages] == ["generate_image"]
    saved = [p for p in tmp_path.iterdir() if p.suffix == ".png"]
    assert len(saved) == 1
    block = tool_messages[0].artifact["media"][0]
    assert base64.b64decode(block["base64"]) == saved[0].read_bytes()
    chat_bodies = [r.json for r in emu.requests if r.path == "/v1/chat/completions"]
    assert len(chat_bodies) == 2  # decide, then answer with the tool's result
    offered = [t["function"]["name"] for t in chat_bodies[0]["tools"]]
    assert offered == list(TOOL_NAMES)
    assert chat_bodies[1]["messages"][-1]["role"] == "tool"
    assert str(saved[0]) in chat_bodies[1]["messages"][-1]["content"]
    assert state["messages"][-1].type == "ai" and state["messages"][-1].text
    llm.close()
