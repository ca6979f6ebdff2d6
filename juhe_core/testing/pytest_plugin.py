"""pytest plugin (entry point ``juhe_emulator``): the ``juhe_emulator`` fixture.

One emulator serves the whole session; each test gets it with an empty queue and no
recorded requests. Tests that need other settings (models, keys, fault profile) start their
own ``Emulator``. Importing this module imports only the light parts of the emulator.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from juhe_core.testing import Emulator

__all__ = ["juhe_emulator"]


@pytest.fixture(scope="session")
def _juhe_emulator_session() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def juhe_emulator(_juhe_emulator_session: Emulator) -> Iterator[Emulator]:
    """A started ``Emulator`` shared by the session, cleared before and after each test."""
    _juhe_emulator_session.clear()
    yield _juhe_emulator_session
    _juhe_emulator_session.clear()
