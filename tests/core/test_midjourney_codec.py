"""Midjourney wait decisions, pure: when to poll next, and which states end a wait."""

from __future__ import annotations

import pickle

import pytest

from juhe_core.errors import TaskFailedError, TaskNeedsModalError
from juhe_core.wire.midjourney import MidjourneyTask, task_outcome, wait_delay


@pytest.mark.parametrize(
    ("attempt", "remaining", "expected"),
    [
        (0, 100.0, 2.0),  # the backoff while there is time
        (1, 100.0, 3.0),
        (9, 100.0, 15.0),  # capped at the relay's refresh interval
        (9, 4.0, 4.0),  # cut short: the last poll happens at the deadline
        (0, 0.5, 0.5),
        (3, 0.0015, 0.0015),
        (3, 0.001, None),  # the deadline has come (a timer may wake a hair early)
        (0, 0.0, None),
        (0, -3.0, None),
    ],
)
def test_wait_delay(attempt: int, remaining: float, expected: float | None) -> None:
    assert wait_delay(attempt, remaining, initial=2.0) == expected


def task(status: str, progress: str = "0%") -> MidjourneyTask:
    return MidjourneyTask.model_validate({"id": "7", "status": status, "progress": progress})


@pytest.mark.parametrize("status", ["", "NOT_START", "SUBMITTED", "IN_PROGRESS"])
def test_running_states_keep_waiting(status: str) -> None:
    assert task_outcome(task(status, "45%")) is None


def test_success_is_the_outcome() -> None:
    done = task("SUCCESS", "100%")
    assert task_outcome(done) is done


def test_modal_stops_the_wait_with_its_own_error() -> None:
    with pytest.raises(TaskNeedsModalError, match=r"MODAL.*modal\(task_id") as caught:
        task_outcome(task("MODAL"))
    assert isinstance(caught.value, TaskFailedError)
    assert (caught.value.task_id, caught.value.status) == ("7", "MODAL")
    again = pickle.loads(pickle.dumps(caught.value))
    assert type(again) is TaskNeedsModalError and again.task_id == "7"


@pytest.mark.parametrize("status", ["FAILURE", "CANCEL"])
def test_failure_and_cancel_fail(status: str) -> None:
    with pytest.raises(TaskFailedError) as caught:
        task_outcome(task(status, "100%"))
    assert type(caught.value) is TaskFailedError and caught.value.status == status
