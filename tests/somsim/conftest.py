"""Fixtures of the somsim tests: a recording listener and the simulator sending to it."""

import pytest

from .support import Listener, Sim


@pytest.fixture
def listener():
    server = Listener()
    yield server
    server.close()


@pytest.fixture
def sim(tmp_path, listener):
    process = Sim(tmp_path / "somsim.sqlite3", listener.base)
    yield process
    assert process.stop() == 0


