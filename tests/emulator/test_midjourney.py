"""Midjourney routes over HTTP: submit codes, tasks moving on with the clock, errors, images."""

from __future__ import annotations

import base64
import time
from typing import Any

import httpx
import pytest

from juhe_core.testing import Emulator, Fault, Reply
from juhe_core.testing._media import png

pytestmark = pytest.mark.timeout(20)

STEP = 0.05


@pytest.fixture
def mj(client: httpx.Client) -> httpx.Client:
    """The session emulator's client; its tasks move one stage every 50 ms (the default)."""
    return client


def submit(client: httpx.Client, action: str, **body: Any) -> Any:
    return client.post(f"/mj/submit/{action}", json=body).json()


def wait(client: httpx.Client, task_id: str, until: str = "SUCCESS") -> dict[str, Any]:
    for _ in range(200):
        task: dict[str, Any] = client.get(f"/mj/task/{task_id}/fetch").json()
        if task["status"] == until or task["status"] == "FAILURE":
            return task
        time.sleep(STEP / 2)
    raise AssertionError(f"task {task_id} never reached {until}")


def test_imagine_moves_through_the_stages(mj: httpx.Client) -> None:
    answer = submit(mj, "imagine", prompt="a lighthouse at dusk", state="s1")
    assert answer["code"] == 1 and answer["description"] == "提交成功"
    task_id = answer["result"]
    assert task_id.isdigit()
    seen = []
    for _ in range(200):
        task = mj.get(f"/mj/task/{task_id}/fetch").json()
        if not seen or seen[-1] != (task["status"], task["progress"]):
            seen.append((task["status"], task["progress"]))
        if task["status"] == "SUCCESS":
            break
        time.sleep(STEP / 5)
    assert seen == [("", "0%"), ("SUBMITTED", "0%"), ("IN_PROGRESS", "45%"), ("SUCCESS", "100%")]
    assert task["state"] == "s1" and task["action"] == "IMAGINE"
    assert task["submitTime"] < task["startTime"] < task["finishTime"]
    labels = [b["label"] for b in task["buttons"]]
    assert labels == ["U1", "U2", "U3", "U4", "", "V1", "V2", "V3", "V4"]
    image = httpx.get(task["imageUrl"])  # the forwarding route needs no key
    assert image.headers["content-type"] == "image/png" and image.content.startswith(b"\x89PNG")


def test_fresh_task_shows_empty_status(mj: httpx.Client) -> None:
    task_id = submit(mj, "imagine", prompt="x")["result"]
    task = mj.get(f"/mj/task/{task_id}/fetch").json()
    assert (task["status"], task["progress"], task["startTime"], task["imageUrl"]) == (
        "",
        "0%",
        0,
        "",
    )


def test_failure_rule(mj: httpx.Client) -> None:
    task = wait(mj, submit(mj, "imagine", prompt="a cat --fail")["result"])
    assert task["status"] == "FAILURE" and task["progress"] == "100%"
    assert "--fail" in task["failReason"] and task["buttons"] == []


def test_banned_word_gets_code_24(mj: httpx.Client) -> None:
    r = mj.post("/mj/submit/imagine", json={"prompt": "a NUDE statue"})
    assert r.status_code == 200 and r.json()["code"] == 24
    assert r.json()["properties"]["bannedWord"] == "nude" and "result" not in r.json()


def test_actions_upscale_and_variation(mj: httpx.Client) -> None:
    parent = wait(mj, submit(mj, "imagine", prompt="a fox")["result"])
    u2 = next(b for b in parent["buttons"] if b["label"] == "U2")
    child = submit(mj, "action", taskId=parent["id"], customId=u2["customId"])
    upscaled = wait(mj, child["result"])
    assert upscaled["action"] == "UPSCALE" and upscaled["prompt"] == "a fox"
    assert [b["label"] for b in upscaled["buttons"]] == ["Vary (Strong)", "Vary (Subtle)"]
    v1 = next(b for b in parent["buttons"] if b["label"] == "V1")
    varied = wait(mj, submit(mj, "action", taskId=parent["id"], customId=v1["customId"])["result"])
    assert varied["action"] == "VARIATION" and len(varied["buttons"]) == 9


def test_relay_side_errors(mj: httpx.Client) -> None:
    def error(r: httpx.Response) -> tuple[int, Any]:
        return r.status_code, r.json()

    status, body = error(mj.post("/mj/submit/imagine", json={"prompt": ""}))
    assert (status, body) == (
        400,
        {"code": 4, "description": "prompt_is_required ", "type": "upstream_error"},
    )
    status, body = error(mj.get("/mj/task/404/fetch"))
    assert status == 400 and body["description"] == "task_no_found "
    status, body = error(
        mj.post("/mj/submit/action", json={"taskId": "1", "customId": "MJ::JOB::upsample::1::x"})
    )
    assert status == 400 and body["description"] == "task_not_found "
    fresh = submit(mj, "imagine", prompt="x")["result"]
    status, body = error(
        mj.post("/mj/submit/action", json={"taskId": fresh, "customId": "MJ::JOB::upsample::1::x"})
    )
    assert status == 400 and body["description"] == "task_status_not_success "
    status, body = error(mj.post("/mj/submit/action", json={"taskId": fresh}))
    assert status == 400 and body["error"]["message"].startswith(
        "Invalid request, custom_id_is_required"
    )
    status, body = error(mj.post("/mj/task/list-by-condition", json={"ids": "nope"}))
    assert status == 400 and body["description"] == "do_request_failed "


def test_describe_blend_and_modal(mj: httpx.Client) -> None:
    data_url = "data:image/png;base64," + base64.b64encode(png("ref")).decode()
    described = wait(mj, submit(mj, "describe", base64=data_url)["result"])
    assert described["action"] == "DESCRIBE" and described["prompt"].startswith("1️⃣")
    assert httpx.get(described["imageUrl"]).content == png("ref")
    assert submit(mj, "describe", base64="not an image")["code"] == 4
    blended = wait(mj, submit(mj, "blend", base64Array=[data_url, data_url])["result"])
    assert blended["action"] == "BLEND" and blended["buttons"]
    assert submit(mj, "blend", base64Array=[data_url])["code"] == 4
    modal = submit(mj, "modal", taskId=blended["id"], prompt="more red")
    assert wait(mj, modal["result"])["prompt"] == "more red"


def test_list_by_condition_and_seed(mj: httpx.Client) -> None:
    first = submit(mj, "imagine", prompt="one")["result"]
    second = submit(mj, "imagine", prompt="two")["result"]
    listed = mj.post("/mj/task/list-by-condition", json={"ids": [second, "missing", first]}).json()
    assert [t["id"] for t in listed] == [first, second]
    assert mj.post("/mj/task/list-by-condition", json={"ids": []}).json() == []
    assert mj.get(f"/mj/task/{first}/image-seed").json()["code"] == 4  # not finished yet
    wait(mj, first)
    seed = mj.get(f"/mj/task/{first}/image-seed").json()
    assert seed["code"] == 1 and seed["result"].isdigit()


def test_mode_prefix_and_mj_api_secret(mj: httpx.Client) -> None:
    key = mj.headers["Authorization"].removeprefix("Bearer ")
    with httpx.Client(base_url=mj.base_url) as bare:
        r = bare.post(
            "/mj-fast/mj/submit/imagine", json={"prompt": "x"}, headers={"mj-api-secret": key}
        )
        assert r.json()["code"] == 1
        assert bare.post("/mj/submit/imagine", json={"prompt": "x"}).status_code == 401


def test_scripted_items_reach_mj_routes() -> None:
    with (
        Emulator() as emu,
        httpx.Client(
            base_url=emu.base_url, headers={"Authorization": f"Bearer {emu.api_key}"}
        ) as c,
    ):
        emu.enqueue(
            Reply(body={"code": 23, "description": "队列已满"}),
            Fault(500),
            path="/mj/submit/imagine",
        )
        emu.enqueue(Fault(401), path="/mj/task/7/fetch")
        assert c.post("/mj-relax/mj/submit/imagine", json={"prompt": "x"}).json()["code"] == 23
        r = c.post("/mj/submit/imagine", json={"prompt": "x"})
        assert r.status_code == 500 and r.json()["type"] == "upstream_error"
        assert c.get("/mj/task/7/fetch").json()["error"]["type"] == "new_api_error"
