"""The client's media, moderation, balance and Midjourney methods against the emulator.

Each test body runs on ``JuheClient`` and on ``AsyncJuheClient``.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from juhe_core import AsyncJuheClient, JuheClient
from juhe_core.errors import (
    APITimeoutError,
    BadRequestError,
    RateLimitError,
    TaskFailedError,
    TaskNeedsModalError,
    UnsupportedFeatureError,
)
from juhe_core.testing import Emulator, Fault, Reply
from juhe_core.testing._media import png
from juhe_core.wire.midjourney import MidjourneyTask

pytestmark = pytest.mark.timeout(30)

POLL = 0.05


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def run(kind: str, emu: Emulator, op: Callable[[Any], Any]) -> Any:
    kwargs = {"api_key": emu.api_key, "base_url": emu.base_url, "max_retries": 0}
    if kind == "sync":
        with JuheClient(**kwargs) as client:
            result = op(client)
            # A flow written once for both clients (``ready`` above) is a coroutine here
            # too; its sync calls simply block inside it.
            return asyncio.run(result) if asyncio.iscoroutine(result) else result

    async def main() -> Any:
        async with AsyncJuheClient(**kwargs) as client:
            result = op(client)
            while asyncio.iscoroutine(result):
                result = await result
            return result

    return asyncio.run(main())


def test_generate_images_url_and_bytes(juhe_emulator: Emulator, kind: str) -> None:
    by_url = run(kind, juhe_emulator, lambda c: c.generate_images("a red fox"))
    (image,) = by_url.images
    assert image.url and image.data is None and image.revised_prompt
    assert httpx.get(image.url).content.startswith(b"\x89PNG")
    inline = run(
        kind, juhe_emulator, lambda c: c.generate_images("a red fox", model="gpt-image-1", n=2)
    )
    assert [i.mime_type for i in inline.images] == ["image/png", "image/png"]
    assert inline.images[0].data != inline.images[1].data


def test_gpt_image_answers_bytes_without_response_format(
    juhe_emulator: Emulator, kind: str
) -> None:
    fmt = "b64_json"
    generated = run(
        kind,
        juhe_emulator,
        lambda c: c.generate_images("a fox", model="gpt-image-1", response_format=fmt),
    )
    assert "response_format" not in juhe_emulator.requests[-1].json
    edited = run(
        kind, juhe_emulator, lambda c: c.edit_images("a hat", [png("a")], response_format=fmt)
    )
    assert b'name="response_format"' not in juhe_emulator.requests[-1].body
    assert generated.images[0].data and edited.images[0].data


def test_generate_images_validation_is_typed(juhe_emulator: Emulator, kind: str) -> None:
    with pytest.raises(BadRequestError, match="n=1"):
        run(kind, juhe_emulator, lambda c: c.generate_images("x", n=2))


def test_edit_images_multipart(juhe_emulator: Emulator, kind: str) -> None:
    result = run(
        kind,
        juhe_emulator,
        lambda c: c.edit_images("make it blue", [png("a"), png("b")], mask=png("mask")),
    )
    assert result.images[0].data is not None and result.images[0].data.startswith(b"\x89PNG")
    sent = juhe_emulator.requests[-1]
    assert sent.headers["content-type"].startswith("multipart/form-data")
    assert sent.body.count(b'name="image[]"') == 2 and b'name="mask"' in sent.body
    with pytest.raises(UnsupportedFeatureError):  # the client refuses non-images itself
        run(kind, juhe_emulator, lambda c: c.edit_images("x", [b"not an image"]))


@pytest.mark.parametrize(
    ("fmt", "mime", "magic"),
    [
        (None, "audio/mpeg", b"\xff\xfb"),
        ("wav", "audio/wav", b"RIFF"),
        ("opus", "audio/opus", b"OggS"),
        ("aac", "audio/aac", b"\xff\xf1"),
        ("flac", "audio/flac", b"fLaC"),
        ("pcm", "audio/pcm", b""),
    ],
)
def test_speech_formats(
    juhe_emulator: Emulator, kind: str, fmt: str | None, mime: str, magic: bytes
) -> None:
    speech = run(kind, juhe_emulator, lambda c: c.speech("Hello there", response_format=fmt))
    assert speech.mime_type == mime and speech.audio.startswith(magic) and len(speech.audio) > 90


def test_moderation(juhe_emulator: Emulator, kind: str) -> None:
    result = run(kind, juhe_emulator, lambda c: c.moderate(["I will kill you", "Lovely day"]))
    threat, calm = result.results
    assert threat.flagged and {"violence", "harassment/threatening"} <= set(
        threat.flagged_categories
    )
    assert not calm.flagged and calm.flagged_categories == []
    assert result.model == "omni-moderation-latest"


def test_balance_grows_with_use(kind: str) -> None:
    with Emulator(quota_usd=20.0) as emu:
        before = run(kind, emu, lambda c: c.balance())
        run(kind, emu, lambda c: c.generate_images("x"))
        after = run(kind, emu, lambda c: c.balance())
    assert before.limit_usd == after.limit_usd == 20.0 and before.used_usd == 0
    assert after.used_usd == pytest.approx(0.04) and after.remaining_usd == pytest.approx(19.96)


def test_imagine_and_wait_with_progress(juhe_emulator: Emulator, kind: str) -> None:
    seen: list[tuple[str, str]] = []

    def op(c: Any) -> Any:
        async def go() -> Any:
            task_id = await c.imagine("a lighthouse at dusk")
            return await c.wait_task(task_id, poll_interval=POLL, on_progress=record)

        def record(task: Any) -> None:
            seen.append((task.status, task.progress))

        if isinstance(c, JuheClient):
            return c.wait_task(
                c.imagine("a lighthouse at dusk"), poll_interval=POLL, on_progress=record
            )
        return go()

    task = run(kind, juhe_emulator, op)
    assert task.status == "SUCCESS" and task.percent == 100 and task.done
    assert seen[0] == ("", "0%") and seen[-1] == ("SUCCESS", "100%")
    assert [b.label for b in task.buttons][:4] == ["U1", "U2", "U3", "U4"]
    assert httpx.get(task.image_url).content.startswith(b"\x89PNG")


async def ready(value: Any) -> Any:
    """``value``, awaited when the async client returned a coroutine."""
    return await value if inspect.isawaitable(value) else value


async def wait(c: Any, submitted: Any) -> Any:
    """The finished task of a submit (an id, or the async client's coroutine of one)."""
    return await ready(c.wait_task(await ready(submitted), poll_interval=POLL))


def test_fetch_list_seed_and_actions(juhe_emulator: Emulator, kind: str) -> None:
    async def flow(c: Any) -> None:
        parent = await wait(c, c.imagine("a fox"))
        assert (await ready(c.fetch_task(parent.id))).id == parent.id
        listed = await ready(c.list_tasks([parent.id, "missing"]))
        assert [t.id for t in listed] == [parent.id]
        assert (await ready(c.image_seed(parent.id))).isdigit()
        upscaled = await wait(c, c.mj_action(parent.id, parent.buttons[0].custom_id))
        assert upscaled.action == "UPSCALE" and upscaled.prompt == "a fox"
        described = await wait(c, c.describe(png("ref")))
        assert described.action == "DESCRIBE" and described.prompt.startswith("1️⃣")
        blended = await wait(c, c.blend([png("a"), png("b")]))
        assert blended.action == "BLEND"
        modal = await wait(c, c.modal(blended.id, prompt="more red", mask=png("mask")))
        assert modal.prompt == "more red"
        sent = next(r for r in juhe_emulator.requests if r.path == "/mj/submit/modal").json
        assert sent["taskId"] == blended.id and sent["maskBase64"].startswith("data:image/png")
        assert (await ready(c.imagine("x", mode="mj-fast"))).isdigit()
        assert juhe_emulator.requests[-1].path == "/mj-fast/mj/submit/imagine"
        await ready(c.mj_action(parent.id, parent.buttons[1].custom_id, mode="mj-relax"))
        assert juhe_emulator.requests[-1].path == "/mj-relax/mj/submit/action"
        await ready(c.describe(png("ref"), mode="mj-turbo"))
        assert juhe_emulator.requests[-1].path == "/mj-turbo/mj/submit/describe"
        await ready(c.blend([png("a"), png("b")], mode="mj-fast"))
        assert juhe_emulator.requests[-1].path == "/mj-fast/mj/submit/blend"
        await ready(c.modal(blended.id, prompt="blue", mode="mj-relax"))
        assert juhe_emulator.requests[-1].path == "/mj-relax/mj/submit/modal"

    run(kind, juhe_emulator, flow)


def _submit_body(action: str, parent: Any) -> dict[str, Any]:
    """A body for ``mj_submit(action, ...)``; ``parent``: a finished task (action, modal)."""
    if action == "action":
        return {"taskId": parent.id, "customId": parent.buttons[5].custom_id}  # V1
    if action == "modal":
        return {"taskId": parent.id, "prompt": "a fox, in red", "maskBase64": None}
    data_urls = [f"data:image/png;base64,{base64.b64encode(png(n)).decode()}" for n in "ab"]
    return {
        "imagine": {"prompt": "a fox", "botType": "NIJI_JOURNEY", "notifyHook": None},
        "describe": {"base64": data_urls[0], "botType": "MID_JOURNEY"},
        "blend": {"base64Array": data_urls, "dimensions": "PORTRAIT"},
    }[action]


@pytest.mark.parametrize(
    ("action", "task_action"),
    [
        ("imagine", "IMAGINE"),
        ("action", "VARIATION"),
        ("describe", "DESCRIBE"),
        ("blend", "BLEND"),
        ("modal", "MODAL"),
    ],
)
@pytest.mark.parametrize("mode", [None, "mj-fast"])
def test_mj_submit_every_kind(
    juhe_emulator: Emulator, kind: str, action: str, task_action: str, mode: str | None
) -> None:
    async def flow(c: Any) -> Any:
        parent = await wait(c, c.imagine("a fox")) if action in ("action", "modal") else None
        body = _submit_body(action, parent)
        task_id = await ready(c.mj_submit(action, body, mode=mode))
        sent = juhe_emulator.requests[-1]
        assert sent.path == (f"/{mode}" if mode else "") + f"/mj/submit/{action}"
        assert sent.json == {k: v for k, v in body.items() if v is not None}  # None left out
        return await wait(c, task_id)

    task = run(kind, juhe_emulator, flow)
    assert task.status == "SUCCESS" and task.action == task_action


def test_failure_timeout_and_codes(juhe_emulator: Emulator, kind: str) -> None:
    with pytest.raises(TaskFailedError) as failed:
        run(kind, juhe_emulator, lambda c: _wait(c, "a cat --fail", timeout=10))
    assert "--fail" in (failed.value.fail_reason or "")
    with pytest.raises(APITimeoutError):
        run(kind, juhe_emulator, lambda c: _wait(c, "a cat --stall", timeout=0.4))
    with pytest.raises(BadRequestError) as banned:
        run(kind, juhe_emulator, lambda c: c.imagine("a nude statue"))
    assert banned.value.code == 24
    with pytest.raises(BadRequestError) as missing:
        run(kind, juhe_emulator, lambda c: c.fetch_task("404"))
    assert missing.value.status == 400 and missing.value.code == 4


def _wait(c: Any, prompt: str, timeout: float) -> Any:
    if isinstance(c, JuheClient):
        return c.wait_task(c.imagine(prompt), timeout=timeout, poll_interval=POLL)

    async def go() -> Any:
        return await c.wait_task(await c.imagine(prompt), timeout=timeout, poll_interval=POLL)

    return go()


def _scripted_wait(
    kind: str, emu: Emulator, statuses: list[str], timeout: float, interval: float
) -> tuple[Any, float]:
    """Wait for task ``42`` whose fetches answer ``statuses`` in turn; (outcome, seconds)."""
    bodies = [{"id": "42", "status": s, "progress": "45%"} for s in statuses]
    emu.enqueue(*(Reply(body=b) for b in bodies), path="/mj/task/42/fetch")
    start = time.monotonic()
    try:
        outcome: Any = run(
            kind, emu, lambda c: c.wait_task("42", timeout=timeout, poll_interval=interval)
        )
    except (APITimeoutError, TaskNeedsModalError) as exc:
        outcome = exc
    return outcome, time.monotonic() - start


def _fetches(emu: Emulator) -> int:
    return sum(1 for r in emu.requests if r.path.endswith("/fetch"))


def test_wait_polls_once_more_at_the_deadline(juhe_emulator: Emulator, kind: str) -> None:
    # Polls at 0 and 0.2 s; the next backoff (0.3 s) would pass the 0.3 s deadline, so the
    # last sleep is cut to 0.1 s and the poll at the deadline sees the task finished.
    statuses = ["IN_PROGRESS", "IN_PROGRESS", "SUCCESS"]
    task, seconds = _scripted_wait(kind, juhe_emulator, statuses, timeout=0.3, interval=0.2)
    assert isinstance(task, MidjourneyTask) and task.status == "SUCCESS"
    assert _fetches(juhe_emulator) == 3 and 0.3 <= seconds < 2


def test_wait_gives_up_at_the_deadline_not_before(juhe_emulator: Emulator, kind: str) -> None:
    statuses = ["IN_PROGRESS"] * 3
    error, seconds = _scripted_wait(kind, juhe_emulator, statuses, timeout=0.3, interval=0.2)
    assert isinstance(error, APITimeoutError) and "within 0.3 s" in str(error)
    assert _fetches(juhe_emulator) == 3 and 0.3 <= seconds < 2
    assert juhe_emulator.pending == 0


def test_a_task_in_modal_stops_the_wait(juhe_emulator: Emulator, kind: str) -> None:
    error, seconds = _scripted_wait(kind, juhe_emulator, ["MODAL"], timeout=5, interval=0.05)
    assert isinstance(error, TaskNeedsModalError) and isinstance(error, TaskFailedError)
    assert (error.task_id, error.status) == ("42", "MODAL") and "modal(" in str(error)
    assert _fetches(juhe_emulator) == 1 and seconds < 2  # no polling until the timeout


def test_scripted_codes_and_faults(juhe_emulator: Emulator, kind: str) -> None:
    juhe_emulator.enqueue(
        Reply(body={"code": 23, "description": "队列已满"}), path="/mj/submit/imagine"
    )
    with pytest.raises(RateLimitError):  # code 23: queue full
        run(kind, juhe_emulator, lambda c: c.imagine("x"))
    juhe_emulator.enqueue(
        Reply(body={"code": 22, "description": "排队中", "result": "77"}), path="/mj/submit/imagine"
    )
    assert run(kind, juhe_emulator, lambda c: c.imagine("x")) == "77"
    juhe_emulator.enqueue(Fault(429), path="/v1/moderations")
    with pytest.raises(RateLimitError):
        run(kind, juhe_emulator, lambda c: c.moderate("x"))
